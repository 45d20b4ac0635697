//! The single-row upsert on the fast path: `INSERT ... VALUES (...) ON CONFLICT (pk) DO NOTHING | DO UPDATE
//! SET c = EXCLUDED.c | $n | constant, ...` with no WHERE, the form ORMs and key-value workloads send. It
//! does what `session/upsert.rs` does for one row, without planning: DO UPDATE locks the key first and
//! judges the newest version under the lock; an insert that meets a key a concurrent transaction committed
//! meanwhile looks again, so two sessions upserting one key never see 23505. Anything else (another
//! arbiter, a WHERE, expressions) goes through DataFusion.

use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{ConflictTarget, Expr, OnConflictAction, OnInsert};
use omendb_storage::{IndexDef, Key, LockMode, Row, TableDef, Value, WaitPolicy, WriteTxn};

use super::{Fast, Operand, ident, operand};
use crate::error::Result;
use crate::zone::Zone;

/// What a fast upsert does with a proposed row whose key exists.
#[derive(Clone, Debug)]
pub enum Conflict {
    Nothing,
    /// `SET column = ...` for these columns.
    Update(Vec<(usize, Set)>),
}

#[derive(Clone, Debug)]
pub enum Set {
    /// `EXCLUDED.c`: column `c` of the proposed row (of the same type).
    Excluded(usize),
    Value(Operand),
}

/// The fast form of an INSERT's ON clause: `Some(None)` for none, `None` when it needs DataFusion.
pub fn detect(
    on: Option<&OnInsert>,
    def: &TableDef,
    indexes: &[std::sync::Arc<IndexDef>],
    column: &dyn Fn(&Expr) -> Option<usize>,
) -> Option<Option<Conflict>> {
    let Some(on) = on else { return Some(None) };
    let OnInsert::OnConflict(oc) = on else {
        return None;
    };
    let pk = def.primary_key?;
    let on_pk = match &oc.conflict_target {
        Some(ConflictTarget::Columns(cols)) => {
            cols.len() == 1 && def.columns[pk].name == ident(&cols[0])
        }
        // No target: any unique constraint arbitrates, which is the key's alone without UNIQUE indexes.
        // (DO UPDATE needs a target: DataFusion's path gives PostgreSQL's 42601.)
        None => {
            matches!(oc.action, OnConflictAction::DoNothing) && indexes.iter().all(|i| !i.unique)
        }
        Some(ConflictTarget::OnConstraint(_)) => false,
    };
    // A key the storage keeps under the hidden row id (several columns, a type keys cannot have) is a
    // unique index: DataFusion's path.
    if !on_pk || def.columns[pk].data_type.key_kind().is_none() {
        return None;
    }
    Some(Some(match &oc.action {
        OnConflictAction::DoNothing => Conflict::Nothing,
        OnConflictAction::DoUpdate(u) => {
            if u.selection.is_some() {
                return None;
            }
            let mut sets: Vec<(usize, Set)> = vec![];
            for a in &u.assignments {
                let c = super::assigned_column(a, def)?;
                if c == pk || sets.iter().any(|(s, _)| *s == c) {
                    return None;
                }
                let set = match excluded(&a.value, def) {
                    Some(from) if def.columns[from].data_type == def.columns[c].data_type => {
                        Set::Excluded(from)
                    }
                    Some(_) => return None,
                    // A column of the existing row is the planner's (`SET n = t.n + 1`).
                    None if column(&a.value).is_some() => return None,
                    None => Set::Value(operand(&a.value)?),
                };
                sets.push((c, set));
            }
            Conflict::Update(sets)
        }
    }))
}

/// The column `EXCLUDED.c` names.
fn excluded(e: &Expr, def: &TableDef) -> Option<usize> {
    let Expr::CompoundIdentifier(p) = e else {
        return None;
    };
    let [table, name] = p.as_slice() else {
        return None;
    };
    if ident(table) != "excluded" {
        return None;
    }
    def.columns.iter().position(|d| d.name == ident(name))
}

impl Fast {
    /// Writes the proposed `row` under `conflict`: the rows written (0 when DO NOTHING met the key), or
    /// `None` when DataFusion must do it (a value only its casts can make; RETURNING with no row to return).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn upsert(
        &self,
        txn: &mut WriteTxn,
        row: Row,
        conflict: &Conflict,
        returning: bool,
        params: &[ScalarValue],
        now: i64,
        zone: &Zone,
        written: &mut Option<Row>,
    ) -> Result<Option<usize>> {
        let pk = self.def.primary_key.expect("a fast upsert has a key");
        // The key as storage spells it (a uuid in any spelling, char(n)'s padding).
        let mut key_value = row[pk].clone();
        if let Value::Text(s) = &mut key_value
            && let Some(fitted) = self.def.columns[pk].data_type.fit_text(s)?
        {
            *s = fitted;
        }
        let Some(key) = Key::from_value(&key_value) else {
            // A NULL key: the insert fails as PostgreSQL's does (23502).
            txn.insert(&self.table, row)?;
            return Ok(Some(1));
        };
        let sets = match conflict {
            Conflict::Nothing => {
                return match txn.insert(&self.table, row.clone()) {
                    Ok(()) => {
                        if returning {
                            *written = Some(row);
                        }
                        Ok(Some(1))
                    }
                    Err(e) if self.is_key_conflict(&e) => {
                        Ok(if returning { None } else { Some(0) })
                    }
                    Err(e) => Err(e.into()),
                };
            }
            Conflict::Update(sets) => sets,
        };
        loop {
            // Lock first, then judge the newest version: a concurrent upsert of the key waits here.
            txn.lock_row(&self.table, &key, LockMode::NoKeyUpdate, WaitPolicy::Wait)?;
            if let Some(old) = txn.get_latest(&self.table, &key)? {
                let mut new = old;
                for (c, set) in sets {
                    new[*c] = match set {
                        Set::Excluded(from) => row[*from].clone(),
                        Set::Value(o) => match self.cell(*c, o, params, now, zone) {
                            Some(v) => v,
                            None => return Ok(None),
                        },
                    };
                }
                if returning {
                    *written = Some(new.clone());
                }
                return Ok(Some(usize::from(txn.update(&self.table, &key, new)?)));
            }
            match txn.insert(&self.table, row.clone()) {
                Ok(()) => {
                    if returning {
                        *written = Some(row);
                    }
                    return Ok(Some(1));
                }
                // Committed by another transaction since we looked: look again.
                Err(e) if self.is_key_conflict(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether `e` is this table's primary-key violation (what the arbiter catches).
    fn is_key_conflict(&self, e: &omendb_storage::Error) -> bool {
        matches!(e, omendb_storage::Error::DuplicateKey { table, .. } if *table == self.table)
    }
}
