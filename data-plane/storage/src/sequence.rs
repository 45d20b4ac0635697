//! Sequences. A sequence's definition is a catalog object, created and dropped by transactional DDL like a
//! table; its value is not transactional (PostgreSQL's): `nextval` hands out values under a mutex, and a
//! rolled-back transaction's values are gone, never handed out twice. Durability is PostgreSQL's too: a
//! value is handed out only once a value at least as far along is logged (fsync'd), and the log runs
//! `LOG_AHEAD` values ahead, so most calls write nothing; after a crash the sequence resumes after the
//! logged value (a gap, never a repeat). A sequence in heavy use logs further ahead (doubling while logs
//! come less than `BUSY` apart, up to `MAX_LOG_AHEAD`), so that 32 sessions inserting do not queue behind an
//! fsync every 32 values; the gap a crash leaves is then at most about a tenth of a second's values.

use std::time::{Duration, Instant};

use std::collections::HashMap;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::DataType;

/// How many values past the one handed out are logged at once (PostgreSQL's SEQ_LOG_VALS), at least.
pub const LOG_AHEAD: i64 = 32;
/// The most values logged ahead at once.
pub const MAX_LOG_AHEAD: i64 = 65_536;
/// Logs closer together than this double the next batch; further apart than ten times this, halve it.
const BUSY: Duration = Duration::from_millis(100);

/// CREATE SEQUENCE's parameters (PostgreSQL's defaults filled in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceDef {
    pub id: u64,
    /// The storage name (`s.name` outside `public`), in the same namespace as tables.
    pub name: String,
    /// smallint, integer or bigint.
    pub data_type: DataType,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub start: i64,
    pub cache: i64,
    pub cycle: bool,
    /// OWNED BY: the table id and column the sequence belongs to (dropped with the table).
    pub owned_by: Option<(u64, String)>,
    /// The identity column it serves: `Some(true)` GENERATED ALWAYS, `Some(false)` BY DEFAULT.
    pub identity: Option<bool>,
}

impl SequenceDef {
    /// PostgreSQL's defaults for a sequence of `data_type` counting by `increment`.
    pub fn new(name: impl Into<String>, data_type: DataType, increment: i64) -> SequenceDef {
        let top = match data_type {
            DataType::SmallInt => i64::from(i16::MAX),
            DataType::Integer => i64::from(i32::MAX),
            _ => i64::MAX,
        };
        let (min, max) = if increment > 0 {
            (1, top)
        } else {
            (-top - 1, -1)
        };
        SequenceDef {
            id: 0,
            name: name.into(),
            data_type,
            increment,
            min,
            max,
            start: if increment > 0 { min } else { max },
            cache: 1,
            cycle: false,
            owned_by: None,
            identity: None,
        }
    }

    /// The checks CREATE / ALTER SEQUENCE make (PostgreSQL's messages, 22023).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSequence(m));
        if self.increment == 0 {
            return bad("INCREMENT must not be zero".into());
        }
        if self.min >= self.max {
            return bad(format!(
                "MINVALUE ({}) must be less than MAXVALUE ({})",
                self.min, self.max
            ));
        }
        if self.start < self.min {
            return bad(format!(
                "START value ({}) cannot be less than MINVALUE ({})",
                self.start, self.min
            ));
        }
        if self.start > self.max {
            return bad(format!(
                "START value ({}) cannot be greater than MAXVALUE ({})",
                self.start, self.max
            ));
        }
        if self.cache < 1 {
            return bad(format!("CACHE ({}) must be greater than zero", self.cache));
        }
        Ok(())
    }
}

/// A sequence's value: the last one handed out (or, before the first `nextval`, the next), and the last
/// value that may be handed out without logging (a restart resumes past it); `None`: log first.
#[derive(Clone, Copy, Debug)]
struct State {
    last: i64,
    called: bool,
    logged: Option<i64>,
    /// How many values the next log covers, and when the last log was written.
    batch: i64,
    logged_at: Option<Instant>,
}

/// The values of every sequence, loaded lazily from what the store logged.
#[derive(Default)]
pub(crate) struct Values {
    state: Mutex<HashMap<u64, State>>,
}

/// Writes a sequence's (value, is_called) durably.
pub(crate) type Log<'a> = &'a dyn Fn(u64, i64, bool) -> Result<()>;

impl Values {
    fn state(
        &self,
        map: &mut HashMap<u64, State>,
        def: &SequenceDef,
        logged: impl FnOnce() -> Result<Option<(i64, bool)>>,
    ) -> Result<State> {
        if let Some(s) = map.get(&def.id) {
            return Ok(*s);
        }
        let s = match logged()? {
            Some((last, called)) => State {
                last,
                called,
                logged: called.then_some(last),
                batch: LOG_AHEAD,
                logged_at: None,
            },
            None => State {
                last: def.start,
                called: false,
                logged: None,
                batch: LOG_AHEAD,
                logged_at: None,
            },
        };
        map.insert(def.id, s);
        Ok(s)
    }

    /// `nextval`: the next value, logged ahead when the log does not reach it.
    pub fn next(
        &self,
        def: &SequenceDef,
        logged: impl FnOnce() -> Result<Option<(i64, bool)>>,
        log: Log<'_>,
    ) -> Result<i64> {
        let mut map = self.state.lock();
        let s = self.state(&mut map, def, logged)?;
        let next = if !s.called {
            s.last
        } else {
            match s.last.checked_add(def.increment) {
                Some(v) if v >= def.min && v <= def.max => v,
                _ if def.cycle => {
                    if def.increment > 0 {
                        def.min
                    } else {
                        def.max
                    }
                }
                _ => {
                    return Err(Error::SequenceLimit {
                        name: def.name.clone(),
                        limit: if def.increment > 0 { def.max } else { def.min },
                        max: def.increment > 0,
                    });
                }
            }
        };
        let covered = s.logged.is_some_and(|l| {
            if def.increment > 0 {
                next <= l && next >= s.last
            } else {
                next >= l && next <= s.last
            }
        });
        let mut s = State {
            last: next,
            called: true,
            ..s
        };
        if !covered {
            let now = Instant::now();
            s.batch = match s.logged_at.map(|at| now.duration_since(at)) {
                Some(d) if d < BUSY => (s.batch * 2).min(MAX_LOG_AHEAD),
                Some(d) if d > BUSY * 10 => (s.batch / 2).max(LOG_AHEAD),
                _ => s.batch,
            };
            // Log a batch of values past this one (within the bounds): after a crash the sequence resumes
            // past them.
            let ahead = def
                .increment
                .saturating_mul(s.batch)
                .saturating_add(next)
                .clamp(def.min, def.max);
            log(def.id, ahead, true)?;
            s.logged = Some(ahead);
            s.logged_at = Some(now);
        }
        map.insert(def.id, s);
        Ok(next)
    }

    /// `setval`: the sequence's value from now on (logged at once).
    pub fn set(&self, def: &SequenceDef, value: i64, called: bool, log: Log<'_>) -> Result<()> {
        if value < def.min || value > def.max {
            return Err(Error::SequenceBounds {
                name: def.name.clone(),
                value,
                min: def.min,
                max: def.max,
            });
        }
        let mut map = self.state.lock();
        log(def.id, value, called)?;
        map.insert(
            def.id,
            State {
                last: value,
                called,
                logged: called.then_some(value),
                batch: LOG_AHEAD,
                logged_at: None,
            },
        );
        Ok(())
    }

    /// The sequence's (last_value, is_called), as selecting from the sequence shows them.
    pub fn current(
        &self,
        def: &SequenceDef,
        logged: impl FnOnce() -> Result<Option<(i64, bool)>>,
    ) -> Result<(i64, bool)> {
        let mut map = self.state.lock();
        let s = self.state(&mut map, def, logged)?;
        Ok((s.last, s.called))
    }
}
