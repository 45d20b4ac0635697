//! Foreign keys, enforced by the commit leader on the state a transaction leaves: every row it writes into
//! a referencing table must find its referenced row, and every referenced row it deletes or re-keys is
//! checked against its referencing rows, whose ON DELETE / ON UPDATE action (NO ACTION, RESTRICT, CASCADE,
//! SET NULL) is applied in the same commit (cascades written to the log with the transaction's own rows).
//! Because the check runs at commit on the final state, every foreign key behaves as PostgreSQL's
//! DEFERRABLE INITIALLY DEFERRED one does (a NOT DEFERRABLE violation inside a transaction block is reported
//! at COMMIT rather than at its statement).
//!
//! Lookups go through the referenced table's primary key or a unique index on the referenced columns, and
//! through an index on the referencing columns when there is one (a full scan of the referencing table
//! otherwise, as PostgreSQL without such an index).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::SortValue;
use crate::store::{WalOp, WalRecord, WalTable};
use crate::types::{Key, Row, Value};
use crate::version::{DbVersion, KeyRange, TableVersion};

/// What happens to referencing rows when their referenced row is deleted or its key changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
}

/// A FOREIGN KEY constraint of table `table_id` (the referencing table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Handed out like table ids (the constraint's catalog OID comes from it).
    pub id: u64,
    /// The constraint's name (unqualified, as PostgreSQL names constraints).
    pub name: String,
    pub table_id: u64,
    /// Positions of the referencing columns.
    pub columns: Vec<usize>,
    pub ref_table: u64,
    /// Positions of the referenced columns (its primary key or a UNIQUE constraint's columns).
    pub ref_columns: Vec<usize>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    pub deferrable: bool,
    pub initially_deferred: bool,
}

/// One row a transaction changed: the image before (if it existed) and after (if it exists).
pub(crate) struct Change {
    pub table: u64,
    pub old: Option<Row>,
    pub new: Option<Arc<Row>>,
}

fn values(row: &Row, columns: &[usize]) -> Vec<Value> {
    columns.iter().map(|&c| row[c].clone()).collect()
}

fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| SortValue(x.clone()) == SortValue(y.clone()))
}

fn relname(name: &str) -> &str {
    name.split_once('.').map_or(name, |(_, t)| t)
}

fn key_text(tv: &TableVersion, columns: &[usize], values: &[Value]) -> String {
    let names: Vec<&str> = columns
        .iter()
        .map(|&c| tv.shape.def.columns[c].name.as_str())
        .collect();
    let vals: Vec<String> = values.iter().map(crate::index::value_text).collect();
    format!("({})=({})", names.join(", "), vals.join(", "))
}

/// Whether `parent` has a row whose `columns` equal `vals`.
fn has_row(parent: &TableVersion, columns: &[usize], vals: &[Value]) -> Result<bool> {
    if columns == [parent.shape.key_col] && !parent.shape.has_rowid() {
        return match Key::from_value(&vals[0]) {
            Some(k) => parent.contains(&k),
            None => Ok(false),
        };
    }
    if let Some(index) = parent
        .indexes
        .iter()
        .find(|i| i.def.columns.starts_with(columns) && i.def.plain())
    {
        let prefix: Vec<SortValue> = vals.iter().cloned().map(SortValue).collect();
        return Ok(index.matching(&prefix).next().is_some());
    }
    Ok(!rows_where(parent, columns, vals)?.is_empty())
}

/// The rows of `tv` whose `columns` equal `vals` (through an index leading with them, or a scan).
fn rows_where(tv: &TableVersion, columns: &[usize], vals: &[Value]) -> Result<Vec<(Key, Row)>> {
    if let Some(index) = tv
        .indexes
        .iter()
        .find(|i| i.def.columns.starts_with(columns) && i.def.plain())
    {
        let prefix: Vec<SortValue> = vals.iter().cloned().map(SortValue).collect();
        let keys: Vec<Key> = index.matching(&prefix).map(|(_, k)| k.clone()).collect();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(r) = tv.get(&k)? {
                out.push((k, r));
            }
        }
        return Ok(out);
    }
    let mut out = vec![];
    for b in crate::version::ScanIter::new(Arc::new(tv.clone()), KeyRange::all()) {
        let b = b?;
        for i in 0..b.num_rows() {
            let row = crate::columnar::row_at(&b, i);
            if same(&values(&row, columns), vals) {
                out.push((tv.shape.key_of(&row), row));
            }
        }
    }
    Ok(out)
}

/// Every foreign key of the database.
fn all(head: &DbVersion) -> Vec<Arc<ForeignKey>> {
    head.tables
        .values()
        .flat_map(|t| t.foreign_keys.iter().cloned())
        .collect()
}

/// Checks and applies the foreign keys over a transaction's `changes` (already applied to `head`):
/// referenced rows deleted or re-keyed first (their actions may change more rows, whose changes are
/// judged in turn), then every row written into a referencing table. Cascaded writes join `record`.
pub(crate) fn enforce(
    head: &mut DbVersion,
    mut changes: Vec<Change>,
    lsn: u64,
    record: &mut WalRecord,
) -> Result<()> {
    let fks = all(head);
    if fks.is_empty() {
        return Ok(());
    }
    let mut i = 0;
    while i < changes.len() {
        let Change {
            table, old, new, ..
        } = &changes[i];
        let (table, old, new) = (*table, old.clone(), new.clone());
        i += 1;
        let Some(old) = old else { continue };
        for fk in fks.iter().filter(|f| f.ref_table == table) {
            let before = values(&old, &fk.ref_columns);
            if before.iter().any(|v| matches!(v, Value::Null)) {
                continue;
            }
            let after = new.as_ref().map(|n| values(n, &fk.ref_columns));
            if after.as_ref().is_some_and(|a| same(a, &before)) {
                continue;
            }
            let child = head
                .tables
                .get(&fk.table_id)
                .cloned()
                .ok_or_else(|| Error::Conflict(fk.name.clone()))?;
            let referencing = rows_where(&child, &fk.columns, &before)?;
            if referencing.is_empty() {
                continue;
            }
            let action = if after.is_some() {
                fk.on_update
            } else {
                fk.on_delete
            };
            let parent = &head.tables[&table];
            match action {
                FkAction::NoAction | FkAction::Restrict => {
                    return Err(Error::ForeignKeyViolation {
                        message: format!(
                            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                            relname(&parent.shape.def.name),
                            fk.name,
                            relname(&child.shape.def.name)
                        ),
                        detail: format!(
                            "Key {} is still referenced from table \"{}\".",
                            key_text(parent, &fk.ref_columns, &before),
                            relname(&child.shape.def.name)
                        ),
                    });
                }
                FkAction::Cascade | FkAction::SetNull => {
                    let mut tv = (*child).clone();
                    let mut ops = vec![];
                    for (k, row) in referencing {
                        let replacement = match (action, &after) {
                            (FkAction::Cascade, None) => None,
                            (FkAction::Cascade, Some(a)) => {
                                let mut r = row.clone();
                                for (&c, v) in fk.columns.iter().zip(a) {
                                    r[c] = v.clone();
                                }
                                Some(r)
                            }
                            _ => {
                                let mut r = row.clone();
                                for &c in &fk.columns {
                                    if !tv.shape.def.columns[c].nullable {
                                        return Err(Error::NotNull {
                                            table: tv.shape.def.name.clone(),
                                            column: tv.shape.def.columns[c].name.clone(),
                                        });
                                    }
                                    r[c] = Value::Null;
                                }
                                Some(r)
                            }
                        };
                        match replacement {
                            None => {
                                ops.push(WalOp::Delete(k.clone()));
                                crate::commit::apply_delete(&mut tv, k.clone(), true, lsn)?;
                                changes.push(Change {
                                    table: fk.table_id,
                                    old: Some(row),
                                    new: None,
                                });
                            }
                            Some(r) => {
                                ops.push(WalOp::Put(r.clone()));
                                let r = Arc::new(r);
                                crate::commit::apply_put(&mut tv, k, r.clone(), true, lsn)?;
                                changes.push(Change {
                                    table: fk.table_id,
                                    old: Some(row),
                                    new: Some(r),
                                });
                            }
                        }
                    }
                    record.tables.push(WalTable {
                        table_id: fk.table_id,
                        ops,
                    });
                    head.tables.insert(fk.table_id, Arc::new(tv));
                }
            }
        }
    }
    for c in &changes {
        let Some(new) = &c.new else { continue };
        for fk in fks.iter().filter(|f| f.table_id == c.table) {
            check_row(head, fk, new)?;
        }
    }
    Ok(())
}

/// A referencing row's referenced row must exist (a NULL in its columns exempts it, MATCH SIMPLE).
fn check_row(head: &DbVersion, fk: &ForeignKey, row: &Row) -> Result<()> {
    let vals = values(row, &fk.columns);
    if vals.iter().any(|v| matches!(v, Value::Null)) {
        return Ok(());
    }
    let parent = head
        .tables
        .get(&fk.ref_table)
        .ok_or_else(|| Error::Conflict(fk.name.clone()))?;
    if has_row(parent, &fk.ref_columns, &vals)? {
        return Ok(());
    }
    let child = &head.tables[&fk.table_id];
    Err(Error::ForeignKeyViolation {
        message: format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            relname(&child.shape.def.name),
            fk.name
        ),
        detail: format!(
            "Key {} is not present in table \"{}\".",
            key_text(child, &fk.columns, &vals),
            relname(&parent.shape.def.name)
        ),
    })
}

/// Every existing row of the referencing table against a new foreign key (ALTER TABLE ADD CONSTRAINT).
pub(crate) fn validate(head: &DbVersion, fk: &ForeignKey) -> Result<()> {
    let child = head
        .tables
        .get(&fk.table_id)
        .cloned()
        .ok_or_else(|| Error::Conflict(fk.name.clone()))?;
    for b in crate::version::ScanIter::new(child, KeyRange::all()) {
        let b = b?;
        for i in 0..b.num_rows() {
            check_row(head, fk, &crate::columnar::row_at(&b, i))?;
        }
    }
    Ok(())
}

/// After ALTER TABLE rewrote table `id` (`origin[i]`: the old position of new column `i`), the foreign keys
/// on either side of it with their columns renumbered; one over a dropped column is gone. Returns the ids of
/// the tables whose list changed.
pub(crate) fn remap(
    tables: &mut imbl::OrdMap<u64, Arc<TableVersion>>,
    id: u64,
    origin: &[Option<usize>],
) -> Vec<u64> {
    let renumber = |cols: &[usize]| -> Option<Vec<usize>> {
        cols.iter()
            .map(|c| origin.iter().position(|o| *o == Some(*c)))
            .collect()
    };
    let mut changed = vec![];
    let ids: Vec<u64> = tables.keys().copied().collect();
    for t in ids {
        let tv = &tables[&t];
        if !tv
            .foreign_keys
            .iter()
            .any(|f| f.table_id == id || f.ref_table == id)
        {
            continue;
        }
        let mut tv = (**tv).clone();
        tv.foreign_keys = tv
            .foreign_keys
            .iter()
            .filter_map(|f| {
                let mut f = (**f).clone();
                if f.table_id == id {
                    f.columns = renumber(&f.columns)?;
                }
                if f.ref_table == id {
                    f.ref_columns = renumber(&f.ref_columns)?;
                }
                Some(Arc::new(f))
            })
            .collect();
        tables.insert(t, Arc::new(tv));
        changed.push(t);
    }
    changed
}
