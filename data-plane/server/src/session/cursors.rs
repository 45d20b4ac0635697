//! SQL cursors: DECLARE [BINARY] [[NO] SCROLL] CURSOR [WITH | WITHOUT HOLD] FOR query, FETCH and MOVE in
//! every direction, CLOSE [ALL]. psycopg's named cursors, SQLAlchemy's `stream_results` and JDBC tools read
//! big results with them. The query runs when it is declared, under that statement's snapshot (what
//! PostgreSQL's cursor sees); its rows are kept here and handed out as the cursor moves. A cursor without
//! HOLD ends with its transaction; one WITH HOLD outlives the COMMIT (not a ROLLBACK of its own transaction).

use std::collections::HashMap;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    CloseCursor, DeclareType, FetchDirection, ObjectName, Statement, Value,
};
use pgwire::api::results::Tag;

use super::{Output, Prepared, Session, Tx};
use crate::error::{Error, Result, code};

/// The markers `tokens.rs` writes into FETCH's INTO (which PostgreSQL's FETCH does not have): `MOVE ...` is
/// `FETCH ... INTO __omendb_move`, and a negative ABSOLUTE / RELATIVE count (the parser takes no sign)
/// adds `__omendb_negative`.
pub const MOVE_MARKER: &str = "__omendb_move";
pub const NEGATIVE_MARKER: &str = "__omendb_negative";

pub struct Cursor {
    rows: RecordBatch,
    /// The DECLARE statement as written, its creation time (µs since the epoch), BINARY (pg_cursors).
    statement: String,
    created: i64,
    binary: bool,
    /// 0 before the first row, `n + 1` after the last, else the current row (from 1).
    position: usize,
    scroll: bool,
    hold: bool,
    /// Declared in the transaction still open: a ROLLBACK removes it even WITH HOLD.
    this_transaction: bool,
    /// How many savepoints were open at DECLARE: ROLLBACK TO one of them closes the cursor.
    depth: usize,
}

impl Cursor {
    pub fn schema(&self) -> SchemaRef {
        self.rows.schema()
    }
}

#[derive(Default)]
pub struct Cursors(HashMap<String, Cursor>);

/// One row of `pg_cursors`.
pub struct CursorRow {
    pub name: String,
    pub statement: String,
    pub is_holdable: bool,
    pub is_binary: bool,
    pub is_scrollable: bool,
    pub creation_time: i64,
}

impl Cursors {
    pub fn schema(&self, name: &str) -> Option<SchemaRef> {
        self.0.get(name).map(Cursor::schema)
    }

    /// The open cursors, by name (`pg_cursors`).
    pub fn rows(&self) -> Vec<CursorRow> {
        let mut v: Vec<CursorRow> = self
            .0
            .iter()
            .map(|(name, c)| CursorRow {
                name: name.clone(),
                statement: c.statement.clone(),
                is_holdable: c.hold,
                is_binary: c.binary,
                is_scrollable: c.scroll,
                creation_time: c.created,
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// ROLLBACK TO the savepoint at index `at`: the cursors declared since it was made close, as in
    /// PostgreSQL (positions of the others are not restored).
    pub fn rollback_to(&mut self, at: usize) {
        self.0.retain(|_, c| !(c.this_transaction && c.depth > at));
    }

    /// RELEASE of the savepoint at index `at`: its cursors now belong to the savepoint around it.
    pub fn release(&mut self, at: usize) {
        for c in self.0.values_mut() {
            if c.this_transaction && c.depth > at {
                c.depth = at;
            }
        }
    }

    /// The transaction ended: cursors without HOLD close; on ROLLBACK also those it declared.
    pub fn transaction_end(&mut self, committed: bool) {
        self.0
            .retain(|_, c| c.hold && (committed || !c.this_transaction));
        for c in self.0.values_mut() {
            c.this_transaction = false;
        }
    }
}

fn missing(name: &str) -> Error {
    Error::sql(
        code::INVALID_CURSOR_NAME,
        format!("cursor \"{name}\" does not exist"),
    )
}

/// A count in a FETCH direction (`FETCH 5`, `ABSOLUTE -1`).
fn count(v: &datafusion::sql::sqlparser::ast::ValueWithSpan) -> Result<i64> {
    match &v.value {
        Value::Number(n, _) => n
            .parse()
            .map_err(|_| Error::sql(code::SYNTAX_ERROR, format!("invalid FETCH count {n}"))),
        other => Err(Error::sql(
            code::SYNTAX_ERROR,
            format!("syntax error at or near \"{other}\""),
        )),
    }
}

/// What a FETCH or MOVE asks for: a step of `n` rows forward or backward, or one row at an absolute or
/// relative position.
enum Motion {
    Forward(usize),
    Backward(usize),
    Absolute(i64),
    Relative(i64),
}

fn motion(d: &FetchDirection) -> Result<Motion> {
    const ALL: usize = usize::MAX;
    let step = |n: i64| {
        if n >= 0 {
            Motion::Forward(n as usize)
        } else {
            Motion::Backward(n.unsigned_abs() as usize)
        }
    };
    Ok(match d {
        FetchDirection::Count { limit } => step(count(limit)?),
        FetchDirection::Forward { limit } => match limit {
            Some(l) => step(count(l)?),
            None => Motion::Forward(1),
        },
        FetchDirection::Backward { limit } => match limit {
            Some(l) => {
                let n = count(l)?;
                if n >= 0 {
                    Motion::Backward(n as usize)
                } else {
                    Motion::Forward(n.unsigned_abs() as usize)
                }
            }
            None => Motion::Backward(1),
        },
        FetchDirection::Next => Motion::Forward(1),
        FetchDirection::Prior => Motion::Backward(1),
        FetchDirection::First => Motion::Absolute(1),
        FetchDirection::Last => Motion::Absolute(-1),
        FetchDirection::Absolute { limit } => Motion::Absolute(count(limit)?),
        FetchDirection::Relative { limit } => Motion::Relative(count(limit)?),
        FetchDirection::All | FetchDirection::ForwardAll => Motion::Forward(ALL),
        FetchDirection::BackwardAll => Motion::Backward(ALL),
    })
}

impl Cursor {
    /// Moves as asked; the rows passed over that a FETCH returns, in the order it returns them.
    fn advance(&mut self, m: Motion, name: &str) -> Result<Vec<u32>> {
        let n = self.rows.num_rows();
        let backward = match m {
            Motion::Backward(k) => k > 0,
            Motion::Absolute(_) | Motion::Relative(_) => true, // may move back: PostgreSQL asks SCROLL
            Motion::Forward(_) => false,
        };
        let goes_back = match m {
            Motion::Absolute(k) => {
                let target = if k >= 0 {
                    k as usize
                } else {
                    (n + 1).saturating_sub(k.unsigned_abs() as usize)
                };
                target < self.position
            }
            Motion::Relative(k) => k < 0,
            _ => backward,
        };
        if goes_back && !self.scroll {
            return Err(Error::sql(
                code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "cursor \"{name}\" can only scan forward (declare it with SCROLL to scan backward)"
                ),
            ));
        }
        let mut out = vec![];
        match m {
            Motion::Forward(k) => {
                let mut left = k;
                while left > 0 && self.position <= n {
                    self.position += 1;
                    if self.position <= n {
                        out.push((self.position - 1) as u32);
                        left -= 1;
                    }
                }
            }
            Motion::Backward(k) => {
                let mut left = k;
                while left > 0 && self.position > 0 {
                    self.position -= 1;
                    if self.position >= 1 {
                        out.push((self.position - 1) as u32);
                        left -= 1;
                    }
                }
            }
            Motion::Absolute(_) | Motion::Relative(_) => {
                let target: i64 = match m {
                    Motion::Absolute(k) if k >= 0 => k,
                    Motion::Absolute(k) => n as i64 + 1 + k,
                    Motion::Relative(k) => self.position as i64 + k,
                    _ => unreachable!(),
                };
                self.position = target.clamp(0, n as i64 + 1) as usize;
                if (1..=n).contains(&self.position) {
                    out.push((self.position - 1) as u32);
                }
            }
        }
        Ok(out)
    }
}

impl Session {
    /// The columns of open cursor `name` (a Describe of the portal of that name).
    pub fn cursor_schema(&self, name: &str) -> Option<SchemaRef> {
        self.cursors.lock().schema(name)
    }

    /// The result shape of a FETCH (for Describe): the cursor's, if it is open now.
    pub(super) fn fetch_schema(&self, stmt: &Statement) -> Option<SchemaRef> {
        match stmt {
            Statement::Fetch { name, into, .. } if !is_move(into.as_ref()) => {
                self.cursors.lock().schema(&crate::ddl::ident(name))
            }
            _ => None,
        }
    }

    pub(super) async fn cursor_statement(
        &mut self,
        p: &Prepared,
        stmt: &Statement,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        match stmt {
            Statement::Declare { stmts } => {
                let [d] = stmts.as_slice() else {
                    return Err(Error::unsupported("DECLARE of several cursors"));
                };
                let [name] = d.names.as_slice() else {
                    return Err(Error::unsupported("DECLARE of several cursors"));
                };
                let name = crate::ddl::ident(name);
                let hold = d.hold.unwrap_or(false);
                if self.tx == Tx::Idle && !hold {
                    return Err(Error::sql(
                        code::NO_ACTIVE_TRANSACTION,
                        "DECLARE CURSOR can only be used in transaction blocks",
                    ));
                }
                if self.cursors.lock().0.contains_key(&name) {
                    return Err(Error::sql(
                        code::DUPLICATE_CURSOR,
                        format!("cursor \"{name}\" already exists"),
                    ));
                }
                let query = p
                    .cursor_query
                    .clone()
                    .ok_or_else(|| Error::sql(code::INTERNAL, "DECLARE without its query"))?;
                let Output::Rows(schema, batches) = Box::pin(self.execute_inner(&query, params))
                    .await?
                    .collected()
                    .await?
                else {
                    return Err(Error::sql(
                        code::INTERNAL,
                        "a cursor's query returned no rows",
                    ));
                };
                let rows = arrow_select::concat::concat_batches(&schema, &batches)
                    .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                self.cursors.lock().0.insert(
                    name,
                    Cursor {
                        rows,
                        statement: stmt.to_string(),
                        created: crate::activity::now_micros(),
                        binary: d.binary == Some(true),
                        position: 0,
                        // Without SCROLL PostgreSQL allows backward moves where the plan can run
                        // backward (simple scans); the rows here are kept, so only NO SCROLL refuses.
                        scroll: d.scroll != Some(false),
                        hold,
                        this_transaction: self.tx != Tx::Idle,
                        depth: self.savepoints.len(),
                    },
                );
                Ok(Output::Command(Tag::new("DECLARE CURSOR")))
            }
            Statement::Fetch {
                name,
                direction,
                into,
                ..
            } => {
                let name = crate::ddl::ident(name);
                let mut cursors = self.cursors.lock();
                let cursor = cursors.0.get_mut(&name).ok_or_else(|| missing(&name))?;
                let mut m = motion(direction)?;
                if has_marker(into.as_ref(), NEGATIVE_MARKER) {
                    m = match m {
                        Motion::Absolute(k) => Motion::Absolute(-k),
                        Motion::Relative(k) => Motion::Relative(-k),
                        other => other,
                    };
                }
                let picked = cursor.advance(m, &name)?;
                if is_move(into.as_ref()) {
                    return Ok(Output::Command(Tag::new("MOVE").with_rows(picked.len())));
                }
                let indices = UInt32Array::from(picked);
                let columns = cursor
                    .rows
                    .columns()
                    .iter()
                    .map(|c| arrow_select::take::take(c, &indices, None))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                let schema = cursor.schema();
                let batch = RecordBatch::try_new(schema.clone(), columns)
                    .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                Ok(Output::Rows(schema, vec![batch]))
            }
            Statement::Close { cursor } => {
                match cursor {
                    CloseCursor::All => self.cursors.lock().0.clear(),
                    CloseCursor::Specific { name } => {
                        let name = crate::ddl::ident(name);
                        self.cursors
                            .lock()
                            .0
                            .remove(&name)
                            .ok_or_else(|| missing(&name))?;
                    }
                }
                Ok(Output::Command(Tag::new("CLOSE CURSOR")))
            }
            _ => Err(Error::sql(code::INTERNAL, "not a cursor statement")),
        }
    }

    /// DECLARE's query, prepared as any query (its parameters are the DECLARE's).
    pub(super) async fn prepare_cursor_query(
        &mut self,
        stmt: &Statement,
        declared: &[Option<pgwire::api::Type>],
    ) -> Result<Option<Prepared>> {
        let Statement::Declare { stmts } = stmt else {
            return Ok(None);
        };
        let Some(query) = stmts.first().and_then(|d| {
            (d.declare_type == Some(DeclareType::Cursor))
                .then_some(d.for_query.clone())
                .flatten()
        }) else {
            return Err(Error::unsupported("DECLARE other than a cursor"));
        };
        let query = Statement::Query(query);
        Ok(Some(Box::pin(self.prepare_stmt(query, declared)).await?))
    }
}

fn has_marker(into: Option<&ObjectName>, marker: &str) -> bool {
    into.is_some_and(|o| o.0.iter().any(|p| p.to_string() == marker))
}

fn is_move(into: Option<&ObjectName>) -> bool {
    has_marker(into, MOVE_MARKER)
}
