//! PostgreSQL's advisory lock functions (`pg_advisory_lock` and friends): session-level locks counted per
//! acquisition, transaction-level ones released when the transaction ends, exclusive and shared, on a
//! `bigint` key or a pair of `int` keys (two key spaces, as in PostgreSQL).
//!
//! They are scalar functions DataFusion plans like any other. A function never blocks a thread of the
//! execution pool: when a lock is taken, it fails the statement with [`MustWait`]; the session gives back
//! what the statement took, awaits the lock on its own runtime (deadlock check and `lock_timeout`
//! included), and runs the statement again.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, StringArray};
use arrow_schema::DataType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use omendb_storage::{Acquire, Database, LockMode, Owner, Resource, WaitPolicy};
use parking_lot::Mutex;

use crate::catalog::SharedView;

/// A statement met an advisory lock held by someone else.
#[derive(Debug)]
pub struct MustWait {
    pub resource: Resource,
    pub mode: LockMode,
}

impl std::fmt::Display for MustWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "advisory lock {:?} is held by another session",
            self.resource
        )
    }
}

impl std::error::Error for MustWait {}

/// One session's advisory locks.
pub struct Advisory {
    db: Arc<Database>,
    session: u64,
    view: SharedView,
    /// Session-level holds, one entry per acquisition.
    held: Mutex<Vec<(Resource, LockMode)>>,
    /// What the running statement took, with the owner it took it for: given back if it must run again.
    this_statement: Mutex<Vec<(Owner, Resource, LockMode)>>,
    /// Warnings for the client (an unlock of a lock not held).
    notices: Mutex<Vec<super::Notice>>,
}

impl Advisory {
    pub fn new(db: Arc<Database>, session: u64, view: SharedView) -> Arc<Advisory> {
        Arc::new(Advisory {
            db,
            session,
            view,
            held: Mutex::new(Vec::new()),
            this_statement: Mutex::new(Vec::new()),
            notices: Mutex::new(Vec::new()),
        })
    }

    fn session_owner(&self) -> Owner {
        Owner {
            session: self.session,
            txn: None,
        }
    }

    /// A statement starts: nothing it takes needs giving back yet.
    pub fn statement_begins(&self) {
        self.this_statement.lock().clear();
    }

    /// The statement must wait and run again: give back what it took, so that running again takes each lock
    /// once.
    pub fn give_back(&self) {
        let taken = std::mem::take(&mut *self.this_statement.lock());
        let mut held = self.held.lock();
        for (owner, r, m) in taken {
            self.db.locks().release(owner, &r, Some(m));
            if owner.txn.is_none()
                && let Some(i) = held.iter().rposition(|(hr, hm)| *hr == r && *hm == m)
            {
                held.remove(i);
            }
        }
    }

    pub fn take_notices(&self) -> Vec<super::Notice> {
        std::mem::take(&mut *self.notices.lock())
    }

    /// Releases every session-level advisory lock (`pg_advisory_unlock_all`, disconnect).
    pub fn release_all(&self) {
        let owner = self.session_owner();
        for (r, m) in std::mem::take(&mut *self.held.lock()) {
            self.db.locks().release(owner, &r, Some(m));
        }
    }

    /// Takes `r` now if it is free. `xact`: for the open transaction (for the statement alone outside one,
    /// as PostgreSQL's implicit transaction would).
    fn take(&self, r: &Resource, mode: LockMode, xact: bool) -> bool {
        if xact {
            let mut v = self.view.lock();
            if let Some(t) = v.txn.as_mut() {
                let owner = t.owner();
                return match t.lock_advisory(r.clone(), mode, WaitPolicy::NoWait) {
                    Ok(true) => {
                        self.this_statement.lock().push((owner, r.clone(), mode));
                        true
                    }
                    _ => false,
                };
            }
            drop(v);
            // No transaction block: the lock would end with the statement, so only its availability matters.
            let owner = self.session_owner();
            return match self
                .db
                .locks()
                .acquire(owner, r.clone(), mode, WaitPolicy::NoWait)
            {
                Acquire::Granted => {
                    self.db.locks().release(owner, r, Some(mode));
                    true
                }
                _ => false,
            };
        }
        let owner = self.session_owner();
        match self
            .db
            .locks()
            .acquire(owner, r.clone(), mode, WaitPolicy::NoWait)
        {
            Acquire::Granted => {
                self.held.lock().push((r.clone(), mode));
                self.this_statement.lock().push((owner, r.clone(), mode));
                true
            }
            _ => false,
        }
    }

    fn unlock(&self, r: &Resource, mode: LockMode) -> bool {
        let mut held = self.held.lock();
        let Some(i) = held.iter().rposition(|(hr, hm)| hr == r && *hm == mode) else {
            self.notices.lock().push(super::Notice {
                severity: "WARNING",
                code: "01000",
                message: format!(
                    "you don't own a lock of type {}",
                    if mode == LockMode::Share {
                        "ShareLock"
                    } else {
                        "ExclusiveLock"
                    }
                ),
            });
            return false;
        };
        held.remove(i);
        self.db.locks().release(self.session_owner(), r, Some(mode))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    Lock,
    TryLock,
    Unlock,
    UnlockAll,
    XactLock,
    TryXactLock,
}

struct AdvisoryFn {
    name: &'static str,
    op: Op,
    mode: LockMode,
    signature: Signature,
    ctx: Arc<Advisory>,
}

impl std::fmt::Debug for AdvisoryFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for AdvisoryFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.ctx, &other.ctx)
    }
}

impl Eq for AdvisoryFn {}

impl Hash for AdvisoryFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The key of row `i`: one `bigint`, or two `int`s.
fn key(args: &[ArrayRef], i: usize) -> datafusion::error::Result<Option<Resource>> {
    let int = |a: &ArrayRef| -> datafusion::error::Result<Option<i64>> {
        let v = datafusion::scalar::ScalarValue::try_from_array(a, i)?;
        if v.is_null() {
            return Ok(None);
        }
        match v.cast_to(&DataType::Int64)? {
            datafusion::scalar::ScalarValue::Int64(x) => Ok(x),
            _ => Ok(None),
        }
    };
    Ok(match args {
        [k] => int(k)?.map(Resource::Advisory),
        [a, b] => match (int(a)?, int(b)?) {
            (Some(a), Some(b)) => {
                let fit = |x: i64| {
                    i32::try_from(x).map_err(|_| {
                        DataFusionError::Execution(format!("integer out of range: {x}"))
                    })
                };
                Some(Resource::AdvisoryPair(fit(a)?, fit(b)?))
            }
            _ => None,
        },
        _ => None,
    })
}

impl ScalarUDFImpl for AdvisoryFn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(match self.op {
            Op::TryLock | Op::Unlock | Op::TryXactLock => DataType::Boolean,
            // PostgreSQL's `void`, which prints as an empty string.
            Op::Lock | Op::UnlockAll | Op::XactLock => DataType::Utf8,
        })
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let ctx = &self.ctx;
        let mut bools = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            if self.op == Op::UnlockAll {
                ctx.release_all();
                continue;
            }
            // PostgreSQL's functions are strict: a NULL key gives NULL and takes nothing.
            let Some(r) = key(&arrays, i)? else {
                bools.push(None);
                continue;
            };
            let ok = match self.op {
                Op::Lock | Op::TryLock => ctx.take(&r, self.mode, false),
                Op::XactLock | Op::TryXactLock => ctx.take(&r, self.mode, true),
                Op::Unlock => ctx.unlock(&r, self.mode),
                Op::UnlockAll => unreachable!("handled above"),
            };
            if !ok && matches!(self.op, Op::Lock | Op::XactLock) {
                return Err(DataFusionError::External(Box::new(MustWait {
                    resource: r,
                    mode: self.mode,
                })));
            }
            bools.push(Some(ok));
        }
        let out: ArrayRef = match self.op {
            Op::TryLock | Op::Unlock | Op::TryXactLock => Arc::new(BooleanArray::from(bools)),
            _ => Arc::new(StringArray::from(vec![Some(""); n.max(1)])),
        };
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        Ok(if scalar && out.len() == 1 {
            ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// Registers the advisory lock functions on a session's context.
pub fn register(ctx: &SessionContext, advisory: &Arc<Advisory>) {
    let keyed = || {
        Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Int64]),
                TypeSignature::Exact(vec![DataType::Int64, DataType::Int64]),
                TypeSignature::Exact(vec![DataType::Int32, DataType::Int32]),
            ],
            Volatility::Volatile,
        )
    };
    use LockMode::{Share, Update};
    let fns: [(&'static str, Op, LockMode); 11] = [
        ("pg_advisory_lock", Op::Lock, Update),
        ("pg_advisory_lock_shared", Op::Lock, Share),
        ("pg_try_advisory_lock", Op::TryLock, Update),
        ("pg_try_advisory_lock_shared", Op::TryLock, Share),
        ("pg_advisory_unlock", Op::Unlock, Update),
        ("pg_advisory_unlock_shared", Op::Unlock, Share),
        ("pg_advisory_unlock_all", Op::UnlockAll, Update),
        ("pg_advisory_xact_lock", Op::XactLock, Update),
        ("pg_advisory_xact_lock_shared", Op::XactLock, Share),
        ("pg_try_advisory_xact_lock", Op::TryXactLock, Update),
        ("pg_try_advisory_xact_lock_shared", Op::TryXactLock, Share),
    ];
    for (name, op, mode) in fns {
        let signature = if op == Op::UnlockAll {
            Signature::nullary(Volatility::Volatile)
        } else {
            keyed()
        };
        ctx.register_udf(ScalarUDF::from(AdvisoryFn {
            name,
            op,
            mode,
            signature,
            ctx: advisory.clone(),
        }));
    }
}

/// The advisory lock a failed statement must wait for, if that is why it failed.
pub fn must_wait(e: &crate::error::Error) -> Option<(&Resource, LockMode)> {
    let crate::error::Error::DataFusion(e) = e else {
        return None;
    };
    let mut e: &DataFusionError = e;
    loop {
        match e {
            DataFusionError::Context(_, inner) => e = inner,
            DataFusionError::Shared(inner) => e = inner,
            DataFusionError::External(x) => {
                return x.downcast_ref::<MustWait>().map(|m| (&m.resource, m.mode));
            }
            _ => return None,
        }
    }
}
