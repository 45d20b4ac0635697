//! UNIQUE indexes judged as each row is written, as PostgreSQL judges a NOT DEFERRABLE unique constraint:
//! a value that another live row holds (in the newest committed state, as this transaction changed it)
//! fails the write now with 23505, not at COMMIT. ORMs depend on it: Django's `get_or_create` catches the
//! violation inside a savepoint and reads the existing row instead, in the same transaction.
//!
//! The commit leader still checks the final state: a value a concurrent transaction has written but not
//! committed is only met there (PostgreSQL waits for that transaction instead).

use super::WriteTxn;
use crate::error::{Error, Result};
use crate::index::{SecondaryIndex, SortValue};
use crate::isolation::Isolation;
use crate::types::{Key, Row};
use crate::version::TableVersion;

impl WriteTxn {
    /// Fails with `UniqueViolation` when a UNIQUE index of the table already holds `row`'s values under
    /// another key than `old` (the row being rewritten, or the key inserted); otherwise remembers them as
    /// this transaction's, under `new` (where the row goes). `row` is physical.
    pub(super) fn check_unique(
        &mut self,
        base: &TableVersion,
        latest: &TableVersion,
        old: &Key,
        new: &Key,
        row: &Row,
    ) -> Result<()> {
        // An index this transaction created is incomplete in its own view: its rows are judged at commit.
        let unique = |i: &&SecondaryIndex| i.def.unique && i.complete;
        if !latest.indexes.iter().any(|i| unique(&i)) {
            return Ok(());
        }
        for index in latest.indexes.iter().filter(unique) {
            let values = index.values(row);
            if values.iter().any(SortValue::is_null) || !index.holds(row) {
                continue;
            }
            if let Some(other) = self.unique_holder(latest, index, &values, Some(old))? {
                if self.isolation == Isolation::Serializable && self.lookup(base, &other)?.is_none()
                {
                    // As for a primary key: a conflicting row this snapshot cannot see is a serialization
                    // failure (PostgreSQL 9.6+), not a unique violation.
                    return Err(Error::SerializationFailure {
                        reason: "read/write dependencies among transactions",
                    });
                }
                return Err(index.violation(&base.shape, row, false));
            }
        }
        let tw = self.writes_for(base);
        for index in latest.indexes.iter().filter(unique) {
            let values = index.values(row);
            if !values.iter().any(SortValue::is_null) && index.holds(row) {
                tw.unique.insert((index.def.id, values), new.clone());
            }
        }
        Ok(())
    }

    /// `check_unique` for each row of a batch this transaction has just added (physical schema).
    pub(super) fn check_batch_unique(
        &mut self,
        base: &TableVersion,
        batch: &arrow_array::RecordBatch,
    ) -> Result<()> {
        let latest = self.latest(base)?;
        for i in 0..batch.num_rows() {
            let row = crate::columnar::row_at(batch, i);
            let key = base.shape.key_of(&row);
            self.check_unique(base, &latest, &key, &key, &row)?;
        }
        Ok(())
    }

    /// The key of the live row other than `except` whose values in `index` are `values`: among the
    /// committed entries (a row this transaction changed is judged by its new image) and this
    /// transaction's own writes.
    fn unique_holder(
        &self,
        latest: &TableVersion,
        index: &SecondaryIndex,
        values: &[SortValue],
        except: Option<&Key>,
    ) -> Result<Option<Key>> {
        let holds = |k: &Key| -> Result<bool> {
            Ok(Some(k) != except
                && self
                    .lookup(latest, k)?
                    .is_some_and(|r| index.holds(&r) && *index.values(&r) == *values))
        };
        for (_, k) in index.matching(values) {
            if holds(k)? {
                return Ok(Some(k.clone()));
            }
        }
        // Own writes are remembered by value; an entry may be stale (the row changed or went since), so it
        // is judged by the row as it is now.
        let own = self
            .writes
            .tables
            .get(&latest.shape.id)
            .and_then(|tw| tw.unique.get(&(index.def.id, values.into())));
        match own {
            Some(k) if holds(k)? => Ok(Some(k.clone())),
            _ => Ok(None),
        }
    }

    /// The key of the row that holds `row`'s values (the table's user columns) in the UNIQUE index `index`,
    /// as this transaction sees the newest committed state: the row an `INSERT ... ON CONFLICT` on that
    /// index meets. `None` when no row does, or `row` has a NULL there (NULLs never conflict).
    pub fn unique_conflict(&mut self, table: &str, index: &str, row: &Row) -> Result<Option<Key>> {
        let base = self.base(table)?;
        let latest = self.latest(&base)?;
        let Some(ix) = latest
            .indexes
            .iter()
            .find(|i| i.def.name == index && i.def.unique)
        else {
            return Err(Error::UnknownIndex(index.to_string()));
        };
        let values = ix.values(row);
        if values.iter().any(SortValue::is_null) || !ix.holds(row) {
            return Ok(None);
        }
        if !ix.complete {
            // Created by this transaction: no entries to look through yet, so look at every row.
            let reader = self.table_latest(table)?;
            for (k, r) in reader.rows(crate::version::KeyRange::all())? {
                if ix.holds(&r) && *ix.values(&r) == *values {
                    return Ok(Some(k));
                }
            }
            return Ok(None);
        }
        self.unique_holder(&latest, ix, &values, None)
    }
}
