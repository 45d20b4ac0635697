//! DDL inside a transaction: CREATE, DROP and TRUNCATE are writes of the transaction like any other, seen by
//! its own statements at once and by everyone else at commit, or never (ROLLBACK, a savepoint, a crash).
//! The commit leader applies them first, in order, then the rows (see `commit.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::WriteTxn;
use crate::commit::Ddl;
use crate::error::{Error, Result};
use crate::foreign_key::ForeignKey;
use crate::index::{IndexDef, SecondaryIndex};
use crate::locks::LockMode;
use crate::reader::TableReader;
use crate::types::{DataType, PUBLIC, TableDef, TableShape, schema_of};
use crate::version::{DbVersion, TableVersion};

impl WriteTxn {
    /// `CREATE TABLE`: a new empty table, visible to this transaction now.
    pub fn create_table(&mut self, def: TableDef) -> Result<()> {
        self.writable()?;
        if let Some(schema) = schema_of(&def.name)
            && !self.snapshot.schemas.contains_key(schema)
        {
            return Err(Error::UnknownSchema(schema.to_string()));
        }
        let taken = self.snapshot.names.contains_key(&def.name)
            || self.snapshot.views.contains_key(&def.name)
            || self.snapshot.sequences.contains_key(&def.name)
            || (self.inner.current.load().names.contains_key(&def.name)
                && !self.dropped_here(&def.name));
        if taken {
            return Err(Error::TableExists(def.name));
        }
        if self.enum_type(&def.name).is_some() {
            return Err(Error::TypeExists(def.name));
        }
        if let Some(id) =
            crate::enum_type::types_of(&def).find(|id| !self.snapshot.types.contains_key(id))
        {
            return Err(Error::UnknownType(format!("type {id}")));
        }
        let id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed);
        let shape = Arc::new(TableShape::new(id, def)?);
        self.writes.ddl.push(Ddl::Create(shape));
        self.refresh_view();
        Ok(())
    }

    /// `DROP TABLE`: waits for the table's writers (its lock), then the table is gone for this transaction.
    pub fn drop_table(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        let base = self.base(name)?;
        self.lock_table(&base, LockMode::Update)?;
        let id = base.shape.id;
        self.writes.tables.remove(&id);
        if self.created_here(id) {
            // Never committed: forgetting it is dropping it.
            self.writes.ddl.retain(|d| d.table() != Some(id));
        } else {
            self.writes.ddl.push(Ddl::Drop {
                id,
                epoch: base.epoch,
                name: name.to_string(),
            });
        }
        self.refresh_view();
        Ok(())
    }

    /// `TRUNCATE`: waits for the table's writers, then the table is empty for this transaction.
    pub fn truncate_table(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        let base = self.base(name)?;
        self.lock_table(&base, LockMode::Update)?;
        let id = base.shape.id;
        self.writes.tables.remove(&id);
        if !self.created_here(id) {
            self.writes.ddl.push(Ddl::Truncate {
                id,
                epoch: base.epoch,
            });
        }
        self.refresh_view();
        Ok(())
    }

    /// ALTER TABLE's rewrite: waits for the table's writers, then the table is empty for this transaction,
    /// with definition `def` (its new name, if renamed). Returns the rows it had (the newest committed
    /// version with this transaction's writes), which the caller converts and writes back.
    ///
    /// `origin[i]` is the old position of new column `i` when it carries an old column (renamed, retyped or
    /// unchanged): indexes over carried columns follow them; an index over a dropped column goes with it.
    pub fn reshape_table(
        &mut self,
        name: &str,
        def: TableDef,
        origin: &[Option<usize>],
    ) -> Result<TableReader> {
        self.writable()?;
        let base = self.base(name)?;
        self.lock_table(&base, LockMode::Update)?;
        let id = base.shape.id;
        if def.name != name && self.name_taken(&def.name) {
            return Err(Error::TableExists(def.name));
        }
        // Every row is written again in full: none needs a missing value any more.
        let mut def = def;
        for c in &mut def.columns {
            c.missing = None;
        }
        let old = self.table_latest(name)?;
        let renumber = |cols: &[usize]| -> Option<Vec<usize>> {
            cols.iter()
                .map(|c| origin.iter().position(|o| *o == Some(*c)))
                .collect()
        };
        let remapped = |i: &IndexDef| {
            Some(Arc::new(IndexDef {
                columns: renumber(&i.columns)?,
                ..i.clone()
            }))
        };
        let indexes: Vec<Arc<IndexDef>> = base
            .indexes
            .iter()
            .filter_map(|i| remapped(&i.def))
            .collect();
        let shape = Arc::new(TableShape::new(id, def)?);
        self.writes.tables.remove(&id);
        if self.created_here(id) {
            // No Reshape follows the CREATE: this transaction's own index and foreign-key definitions on
            // the table are renumbered here (one over a dropped column goes).
            let mut kept = Vec::with_capacity(self.writes.ddl.len());
            for d in std::mem::take(&mut self.writes.ddl) {
                kept.extend(match d {
                    Ddl::Create(s) if s.id == id => Some(Ddl::Create(shape.clone())),
                    Ddl::CreateIndex(i) if i.table_id == id => remapped(&i).map(Ddl::CreateIndex),
                    Ddl::AddForeignKey(f) if f.table_id == id || f.ref_table == id => {
                        let mut f = (*f).clone();
                        let ok = (f.table_id != id
                            || renumber(&f.columns).map(|c| f.columns = c).is_some())
                            && (f.ref_table != id
                                || renumber(&f.ref_columns)
                                    .map(|c| f.ref_columns = c)
                                    .is_some());
                        ok.then(|| Ddl::AddForeignKey(Arc::new(f)))
                    }
                    d => Some(d),
                });
            }
            self.writes.ddl = kept;
        } else {
            self.writes.ddl.push(Ddl::Reshape {
                id,
                epoch: base.epoch,
                old_name: name.to_string(),
                shape,
                indexes,
                origin: origin.to_vec(),
                keep_rows: false,
            });
        }
        self.refresh_view();
        Ok(old)
    }

    /// ALTER TABLE without a rewrite, as PostgreSQL does it: `def` keeps the table's columns in place
    /// (renamed, other defaults, NOT NULL dropped, a longer varchar) and may add columns after them, which
    /// the existing rows read as their `missing` value. Returns `false`, having changed nothing, when the
    /// change needs the rewrite (`reshape_table`): the key or a stored type changes, a NOT NULL is added
    /// that existing rows must be checked against, or this transaction created or wrote the table.
    pub fn redefine_table(&mut self, name: &str, def: TableDef) -> Result<bool> {
        self.writable()?;
        let base = self.base(name)?;
        let id = base.shape.id;
        let old = &base.shape.def;
        let written = self.writes.tables.get(&id).is_some_and(|w| !w.is_empty());
        let kept = |(o, n): (&crate::ColumnDef, &crate::ColumnDef)| {
            // What PostgreSQL also changes without a rewrite: a longer or unbounded varchar, text.
            let same_type = o.data_type == n.data_type
                || matches!(
                    (o.data_type, n.data_type),
                    (DataType::Varchar { max: Some(a) }, DataType::Varchar { max: Some(b) }) if b >= a
                )
                || matches!(
                    (o.data_type, n.data_type),
                    (
                        DataType::Varchar { .. } | DataType::Text,
                        DataType::Varchar { max: None } | DataType::Text
                    )
                );
            same_type && (n.nullable || !o.nullable) && n.missing == o.missing
        };
        let added_fit =
            def.columns.iter().skip(old.columns.len()).all(|c| {
                c.nullable || c.missing.as_ref().is_some_and(|v| *v != crate::Value::Null)
            });
        let fits = def.columns.len() >= old.columns.len()
            && def.primary_key == old.primary_key
            && old.columns.iter().zip(&def.columns).all(kept)
            && added_fit;
        if !fits || written || self.created_here(id) {
            return Ok(false);
        }
        self.lock_table(&base, LockMode::Update)?;
        if def.name != name && self.name_taken(&def.name) {
            return Err(Error::TableExists(def.name));
        }
        let origin = (0..def.columns.len())
            .map(|i| (i < old.columns.len()).then_some(i))
            .collect();
        let indexes = base.indexes.iter().map(|i| i.def.clone()).collect();
        let shape = Arc::new(TableShape::new(id, def)?);
        self.writes.ddl.push(Ddl::Reshape {
            id,
            epoch: base.epoch,
            old_name: name.to_string(),
            shape,
            indexes,
            origin,
            keep_rows: true,
        });
        self.refresh_view();
        Ok(true)
    }

    /// Whether another table, view or sequence this transaction sees is named `name`.
    fn name_taken(&self, name: &str) -> bool {
        self.snapshot.names.contains_key(name)
            || self.snapshot.sequences.contains_key(name)
            || self.snapshot.views.contains_key(name)
            || (self.inner.current.load().names.contains_key(name) && !self.dropped_here(name))
    }

    /// CREATE INDEX: waits for the table's writers; the index is built at commit (a UNIQUE index whose
    /// table has two equal rows then fails the commit).
    pub fn create_index(&mut self, table: &str, mut def: IndexDef) -> Result<()> {
        self.writable()?;
        let base = self.base(table)?;
        self.lock_table(&base, LockMode::Update)?;
        if self.relation_exists(&def.name) {
            return Err(Error::TableExists(def.name));
        }
        def.table_id = base.shape.id;
        def.id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed);
        self.writes.ddl.push(Ddl::CreateIndex(Arc::new(def)));
        self.refresh_view();
        Ok(())
    }

    /// DROP INDEX.
    pub fn drop_index(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        let table_id = self.table_of_index(name)?;
        let base = self.snapshot.tables[&table_id].clone();
        self.lock_table(&base, LockMode::Update)?;
        let created_here = self
            .writes
            .ddl
            .iter()
            .any(|d| matches!(d, Ddl::CreateIndex(i) if i.name == name));
        if created_here {
            self.writes
                .ddl
                .retain(|d| !matches!(d, Ddl::CreateIndex(i) if i.name == name));
        } else {
            self.writes.ddl.push(Ddl::DropIndex {
                table_id,
                name: name.to_string(),
            });
        }
        self.refresh_view();
        Ok(())
    }

    /// The id of the table the index `name` is on.
    fn table_of_index(&self, name: &str) -> Result<u64> {
        self.snapshot
            .tables
            .values()
            .find(|t| t.indexes.iter().any(|i| i.def.name == name))
            .map(|t| t.shape.id)
            .ok_or_else(|| Error::UnknownIndex(name.to_string()))
    }

    /// `ALTER INDEX from RENAME TO to` (storage names): the index, and the constraint it implements.
    pub fn rename_index(&mut self, from: &str, to: &str) -> Result<()> {
        self.writable()?;
        let table_id = self.table_of_index(from)?;
        if let Some(schema) = crate::types::schema_of(to)
            && !self.snapshot.schemas.contains_key(schema)
        {
            return Err(Error::UnknownSchema(schema.to_string()));
        }
        if self.relation_exists(to) {
            return Err(Error::TableExists(to.to_string()));
        }
        self.rename_in(table_id, from, to)
    }

    /// `ALTER TABLE table RENAME CONSTRAINT from TO to`: a UNIQUE constraint (with its index), a CHECK or a
    /// foreign key. Whether the table had one named `from`.
    pub fn rename_constraint(&mut self, table: &str, from: &str, to: &str) -> Result<bool> {
        self.writable()?;
        let base = self.base(table)?;
        if !base.has_object(from) {
            return Ok(false);
        }
        if base.has_object(to) {
            return Err(Error::TableExists(to.to_string()));
        }
        let index_name = match crate::types::schema_of(table) {
            Some(schema) => format!("{schema}.{to}"),
            None => to.to_string(),
        };
        let renames_index = base
            .indexes
            .iter()
            .any(|i| i.def.constraint.as_deref() == Some(from));
        if renames_index && self.relation_exists(&index_name) {
            return Err(Error::TableExists(index_name));
        }
        self.rename_in(base.shape.id, from, to)?;
        Ok(true)
    }

    fn rename_in(&mut self, table_id: u64, from: &str, to: &str) -> Result<()> {
        let base = self.snapshot.tables[&table_id].clone();
        self.lock_table(&base, LockMode::Update)?;
        self.writes.ddl.push(Ddl::Rename {
            table_id,
            from: from.to_string(),
            to: to.to_string(),
        });
        self.refresh_view();
        Ok(())
    }

    /// ALTER TABLE ... ADD FOREIGN KEY: the referencing table's existing rows are checked at commit.
    pub fn add_foreign_key(&mut self, table: &str, mut fk: ForeignKey) -> Result<()> {
        self.writable()?;
        let base = self.base(table)?;
        self.lock_table(&base, LockMode::Update)?;
        fk.table_id = base.shape.id;
        fk.id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed);
        self.writes.ddl.push(Ddl::AddForeignKey(Arc::new(fk)));
        self.refresh_view();
        Ok(())
    }

    /// A CHECK constraint: every later write of the table is checked (existing rows are the caller's to
    /// validate, under the table lock this takes).
    pub fn add_check(&mut self, table: &str, mut check: crate::check::CheckDef) -> Result<()> {
        self.writable()?;
        let base = self.base(table)?;
        self.lock_table(&base, LockMode::Update)?;
        check.id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed);
        self.writes.ddl.push(Ddl::AddCheck {
            table_id: base.shape.id,
            check: Arc::new(check),
        });
        self.refresh_view();
        Ok(())
    }

    /// ALTER TABLE ... DROP CONSTRAINT of a CHECK.
    pub fn drop_check(&mut self, table: &str, name: &str) -> Result<()> {
        self.writable()?;
        let base = self.base(table)?;
        self.lock_table(&base, LockMode::Update)?;
        self.writes.ddl.push(Ddl::DropCheck {
            table_id: base.shape.id,
            name: name.to_string(),
        });
        self.refresh_view();
        Ok(())
    }

    /// ALTER TABLE ... DROP CONSTRAINT of a foreign key.
    pub fn drop_foreign_key(&mut self, table: &str, name: &str) -> Result<()> {
        self.writable()?;
        let base = self.base(table)?;
        self.lock_table(&base, LockMode::Update)?;
        let id = base.shape.id;
        let added_here = self
            .writes
            .ddl
            .iter()
            .any(|d| matches!(d, Ddl::AddForeignKey(f) if f.table_id == id && f.name == name));
        if added_here {
            self.writes.ddl.retain(
                |d| !matches!(d, Ddl::AddForeignKey(f) if f.table_id == id && f.name == name),
            );
        } else {
            self.writes.ddl.push(Ddl::DropForeignKey {
                table_id: id,
                name: name.to_string(),
            });
        }
        self.refresh_view();
        Ok(())
    }

    /// Every foreign key this transaction sees, with its referencing and referenced tables' names.
    pub fn foreign_keys(&self) -> Vec<(String, String, Arc<ForeignKey>)> {
        let v = &self.snapshot;
        let name = |id: u64| {
            v.tables
                .get(&id)
                .map(|t| t.shape.def.name.clone())
                .unwrap_or_default()
        };
        v.tables
            .values()
            .flat_map(|t| t.foreign_keys.iter())
            .map(|f| (name(f.table_id), name(f.ref_table), f.clone()))
            .collect()
    }

    /// The indexes this transaction sees, with their tables' storage names.
    pub fn indexes(&self) -> Vec<(String, Arc<IndexDef>)> {
        let mut out = vec![];
        for t in self.snapshot.tables.values() {
            for i in &t.indexes {
                out.push((t.shape.def.name.clone(), i.def.clone()));
            }
        }
        out
    }

    /// Whether a table, sequence or index of this name exists for this transaction.
    pub(super) fn relation_exists(&self, name: &str) -> bool {
        self.snapshot.names.contains_key(name)
            || self.snapshot.sequences.contains_key(name)
            || self.snapshot.views.contains_key(name)
            || self
                .snapshot
                .tables
                .values()
                .any(|t| t.indexes.iter().any(|i| i.def.name == name))
            || (self.inner.current.load().names.contains_key(name) && !self.dropped_here(name))
    }

    /// `CREATE SCHEMA`: visible to this transaction now, to others at commit.
    pub fn create_schema(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        let taken = name == PUBLIC
            || self.snapshot.schemas.contains_key(name)
            || (self.inner.current.load().schemas.contains_key(name)
                && !self.schema_dropped_here(name));
        if taken {
            return Err(Error::SchemaExists(name.to_string()));
        }
        let id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed);
        self.writes.ddl.push(Ddl::CreateSchema {
            name: name.to_string(),
            id,
        });
        self.refresh_view();
        Ok(())
    }

    /// `DROP SCHEMA` of an empty schema (CASCADE drops its tables first).
    pub fn drop_schema(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        if !self.snapshot.schemas.contains_key(name) {
            return Err(Error::UnknownSchema(name.to_string()));
        }
        if self
            .table_names()
            .iter()
            .any(|t| schema_of(t) == Some(name))
        {
            return Err(Error::SchemaNotEmpty(name.to_string()));
        }
        let created_here = self
            .writes
            .ddl
            .iter()
            .any(|d| matches!(d, Ddl::CreateSchema { name: n, .. } if n == name));
        if created_here {
            self.writes
                .ddl
                .retain(|d| !matches!(d, Ddl::CreateSchema { name: n, .. } if n == name));
        } else {
            self.writes.ddl.push(Ddl::DropSchema {
                name: name.to_string(),
            });
        }
        self.refresh_view();
        Ok(())
    }

    /// COMMENT ON: object `key.0` (a table's or a schema's id), column `key.1` (0: the object itself).
    pub fn comment(&mut self, key: (u64, u32), text: Option<String>) -> Result<()> {
        self.writable()?;
        self.writes.ddl.push(Ddl::Comment { key, text });
        self.refresh_view();
        Ok(())
    }

    /// `CREATE SEQUENCE`: visible to this transaction now, to others at commit; its id is handed out here.
    pub fn create_sequence(&mut self, mut def: crate::SequenceDef) -> Result<u64> {
        self.writable()?;
        def.validate()?;
        if self.snapshot.sequences.contains_key(&def.name)
            || self.snapshot.names.contains_key(&def.name)
        {
            return Err(Error::TableExists(def.name));
        }
        def.id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed);
        let id = def.id;
        self.writes.ddl.push(Ddl::CreateSequence(def));
        self.refresh_view();
        Ok(id)
    }

    /// `ALTER SEQUENCE`: `def` (the sequence's name and id, changed parameters) replaces the definition
    /// this transaction sees. A concurrent ALTER or DROP committed first fails this commit.
    pub fn alter_sequence(&mut self, def: crate::SequenceDef) -> Result<()> {
        self.writable()?;
        def.validate()?;
        let Some(old) = self.snapshot.sequences.get(&def.name).cloned() else {
            return Err(Error::UnknownTable(def.name));
        };
        if old.id != def.id {
            return Err(Error::UnknownTable(def.name));
        }
        // The newest write naming it: an earlier one may have renamed the sequence, or a created one have
        // been renamed away before another took its name.
        let earlier = self.writes.ddl.iter_mut().rev().find_map(|d| match d {
            Ddl::CreateSequence(s) | Ddl::AlterSequence { def: s, .. } if s.name == def.name => {
                Some(s)
            }
            _ => None,
        });
        match earlier {
            Some(s) => *s = def,
            None => self.writes.ddl.push(Ddl::AlterSequence {
                def,
                replaces: (*old).clone(),
            }),
        }
        self.refresh_view();
        Ok(())
    }

    /// `ALTER SEQUENCE ... RENAME TO` and `SET SCHEMA`: the sequence `from` takes the storage name `to`; its
    /// id, and so its value, stay. A concurrent ALTER or DROP committed first fails this commit.
    pub fn rename_sequence(&mut self, from: &str, to: &str) -> Result<()> {
        self.writable()?;
        let Some(old) = self.snapshot.sequences.get(from).cloned() else {
            return Err(Error::UnknownTable(from.to_string()));
        };
        if let Some(schema) = crate::types::schema_of(to)
            && !self.snapshot.schemas.contains_key(schema)
        {
            return Err(Error::UnknownSchema(schema.to_string()));
        }
        if self.relation_exists(to) {
            return Err(Error::TableExists(to.to_string()));
        }
        let mut def = (*old).clone();
        def.name = to.to_string();
        self.writes.ddl.push(Ddl::AlterSequence {
            def,
            replaces: (*old).clone(),
        });
        self.refresh_view();
        Ok(())
    }

    /// `DROP SEQUENCE`.
    pub fn drop_sequence(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        if !self.snapshot.sequences.contains_key(name) {
            return Err(Error::UnknownTable(name.to_string()));
        }
        let created_here = self
            .writes
            .ddl
            .iter()
            .any(|d| matches!(d, Ddl::CreateSequence(s) if s.name == name));
        if created_here {
            self.writes
                .ddl
                .retain(|d| !matches!(d, Ddl::CreateSequence(s) if s.name == name));
        } else {
            self.writes.ddl.push(Ddl::DropSequence {
                name: name.to_string(),
            });
        }
        self.refresh_view();
        Ok(())
    }

    /// The index named `name` (its storage name) as this transaction sees it.
    pub fn index(&self, name: &str) -> Option<Arc<crate::index::IndexDef>> {
        self.snapshot
            .tables
            .values()
            .flat_map(|t| t.indexes.iter())
            .find(|i| i.def.name == name)
            .map(|i| i.def.clone())
    }

    /// The sequences this transaction sees.
    pub fn sequences(&self) -> Vec<Arc<crate::SequenceDef>> {
        self.snapshot.sequences.values().cloned().collect()
    }

    /// The sequence named `name` as this transaction sees it.
    pub fn sequence(&self, name: &str) -> Option<Arc<crate::SequenceDef>> {
        self.snapshot.sequences.get(name).cloned()
    }

    /// The comments this transaction sees.
    pub fn comments(&self) -> Vec<((u64, u32), String)> {
        self.snapshot
            .comments
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// The schemas this transaction sees besides `public`, with their ids.
    pub fn schemas(&self) -> Vec<(String, u64)> {
        self.snapshot
            .schemas
            .iter()
            .map(|(n, id)| (n.clone(), *id))
            .collect()
    }

    fn schema_dropped_here(&self, name: &str) -> bool {
        self.writes
            .ddl
            .iter()
            .any(|d| matches!(d, Ddl::DropSchema { name: n } if n == name))
    }

    /// The tables this transaction sees.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.snapshot.names.keys().cloned().collect();
        for n in self.inner.current.load().names.keys() {
            if !self.snapshot.names.contains_key(n) && !self.dropped_here(n) {
                names.push(n.clone());
            }
        }
        names.sort();
        names
    }

    pub(super) fn created_here(&self, id: u64) -> bool {
        self.writes
            .ddl
            .iter()
            .any(|d| matches!(d, Ddl::Create(s) if s.id == id))
    }

    /// Created or truncated here: this transaction's version of the table is the only one.
    pub(super) fn ddl_owned(&self, id: u64) -> bool {
        !self.writes.ddl.is_empty()
            && self.writes.ddl.iter().any(|d| match d {
                Ddl::Create(s) => s.id == id,
                Ddl::Truncate { id: t, .. } | Ddl::Reshape { id: t, .. } => *t == id,
                Ddl::CreateIndex(_)
                | Ddl::DropIndex { .. }
                | Ddl::Rename { .. }
                | Ddl::AddForeignKey(_)
                | Ddl::DropForeignKey { .. }
                | Ddl::AddCheck { .. }
                | Ddl::DropCheck { .. } => false,
                Ddl::Drop { .. }
                | Ddl::CreateSchema { .. }
                | Ddl::DropSchema { .. }
                | Ddl::Comment { .. }
                | Ddl::CreateSequence(_)
                | Ddl::AlterSequence { .. }
                | Ddl::DropSequence { .. }
                | Ddl::CreateView(_)
                | Ddl::DropView { .. }
                | Ddl::CreateType { .. }
                | Ddl::DropType { .. } => false,
            })
    }

    /// Whether `name` was created or truncated by this transaction (what COPY FREEZE requires).
    pub fn created_or_truncated_here(&self, name: &str) -> bool {
        self.base(name).is_ok_and(|b| self.ddl_owned(b.shape.id))
    }

    pub(super) fn dropped_here(&self, name: &str) -> bool {
        self.writes.ddl.iter().any(|d| match d {
            Ddl::Drop { name: n, .. } => n == name,
            // Renamed away by ALTER TABLE ... RENAME TO.
            Ddl::Reshape {
                old_name, shape, ..
            } => old_name == name && shape.def.name != name,
            _ => false,
        })
    }

    /// The view the transaction reads: its snapshot with its own DDL laid over it.
    pub(super) fn refresh_view(&mut self) {
        self.overlays.clear();
        if self.writes.ddl.is_empty() {
            self.snapshot = self.raw.clone();
            return;
        }
        let mut v: DbVersion = (*self.raw).clone();
        let eps = self.inner.opts.epsilon;
        for d in &self.writes.ddl {
            match d {
                Ddl::Create(shape) => {
                    v.names.insert(shape.def.name.clone(), shape.id);
                    v.tables.insert(
                        shape.id,
                        Arc::new(TableVersion::empty(shape.clone(), eps, 0)),
                    );
                }
                Ddl::Drop { id, name, .. } => {
                    v.names.remove(name);
                    v.tables.remove(id);
                    v.drop_comments(*id, &mut Vec::new());
                }
                Ddl::Truncate { id, .. } => {
                    let cur = self.inner.current.load();
                    let Some(t) = v.tables.get(id).or_else(|| cur.tables.get(id)).cloned() else {
                        continue;
                    };
                    v.names.insert(t.shape.def.name.clone(), *id);
                    v.tables.insert(*id, Arc::new(t.truncated(eps)));
                }
                Ddl::Reshape {
                    id,
                    shape,
                    indexes,
                    origin,
                    keep_rows,
                    ..
                } => {
                    let cur = self.inner.current.load();
                    let Some(t) = v.tables.get(id).or_else(|| cur.tables.get(id)).cloned() else {
                        continue;
                    };
                    v.names.remove(&t.shape.def.name);
                    v.names.insert(shape.def.name.clone(), *id);
                    let next = if *keep_rows {
                        t.redefined(shape.clone())
                    } else {
                        let hook = self.inner.check_hook.as_ref();
                        let indexes = indexes
                            .iter()
                            .map(|d| SecondaryIndex::in_view(d.clone(), shape, hook))
                            .collect();
                        t.reshaped(shape.clone(), indexes, eps)
                    };
                    v.tables.insert(*id, Arc::new(next));
                    crate::foreign_key::remap(&mut v.tables, *id, origin);
                }
                Ddl::AddCheck { table_id, check } => {
                    let Some(t) = v.tables.get(table_id).cloned() else {
                        continue;
                    };
                    let mut t = (*t).clone();
                    t.checks.push(check.clone());
                    v.tables.insert(*table_id, Arc::new(t));
                }
                Ddl::DropCheck { table_id, name } => {
                    let Some(t) = v.tables.get(table_id).cloned() else {
                        continue;
                    };
                    let mut t = (*t).clone();
                    t.checks.retain(|c| c.name != *name);
                    v.tables.insert(*table_id, Arc::new(t));
                }
                Ddl::AddForeignKey(fk) => {
                    let Some(t) = v.tables.get(&fk.table_id).cloned() else {
                        continue;
                    };
                    let mut t = (*t).clone();
                    t.foreign_keys.push(fk.clone());
                    v.tables.insert(fk.table_id, Arc::new(t));
                }
                Ddl::DropForeignKey { table_id, name } => {
                    let Some(t) = v.tables.get(table_id).cloned() else {
                        continue;
                    };
                    let mut t = (*t).clone();
                    t.foreign_keys.retain(|f| f.name != *name);
                    v.tables.insert(*table_id, Arc::new(t));
                }
                Ddl::CreateIndex(def) => {
                    let cur = self.inner.current.load();
                    let id = def.table_id;
                    let Some(t) = v.tables.get(&id).or_else(|| cur.tables.get(&id)).cloned() else {
                        continue;
                    };
                    let mut t = (*t).clone();
                    let hook = self.inner.check_hook.as_ref();
                    let mut index = SecondaryIndex::in_view(def.clone(), &t.shape, hook);
                    // Its entries are made at commit; until then this transaction's reads do not use it.
                    index.complete = false;
                    t.indexes.push(index);
                    v.tables.insert(id, Arc::new(t));
                }
                Ddl::Rename { table_id, from, to } => {
                    let Some(t) = v.tables.get(table_id).cloned() else {
                        continue;
                    };
                    let mut t = (*t).clone();
                    t.rename_object(from, to);
                    v.tables.insert(*table_id, Arc::new(t));
                }
                Ddl::DropIndex { table_id, name } => {
                    let Some(t) = v.tables.get(table_id).cloned() else {
                        continue;
                    };
                    let mut t = (*t).clone();
                    if let Some(i) = t.indexes.iter().find(|i| i.def.name == *name) {
                        let id = i.def.id;
                        v.drop_comments(id, &mut Vec::new());
                    }
                    t.indexes.retain(|i| i.def.name != *name);
                    v.tables.insert(*table_id, Arc::new(t));
                }
                Ddl::CreateSchema { name, id } => {
                    v.schemas.insert(name.clone(), *id);
                }
                Ddl::DropSchema { name } => {
                    if let Some(id) = v.schemas.remove(name) {
                        v.drop_comments(id, &mut Vec::new());
                    }
                }
                Ddl::Comment { key, text } => {
                    match text {
                        Some(t) => v.comments.insert(*key, t.clone()),
                        None => v.comments.remove(key),
                    };
                }
                Ddl::CreateSequence(def) => {
                    v.sequences.insert(def.name.clone(), Arc::new(def.clone()));
                }
                Ddl::AlterSequence { def, replaces } => {
                    v.sequences.remove(&replaces.name);
                    v.sequences.insert(def.name.clone(), Arc::new(def.clone()));
                }
                Ddl::DropSequence { name } => {
                    if let Some(def) = v.sequences.remove(name) {
                        v.drop_comments(def.id, &mut Vec::new());
                    }
                }
                Ddl::CreateView(def) => {
                    v.take_renamed_view(def);
                    v.views.insert(def.name.clone(), Arc::new(def.clone()));
                }
                Ddl::DropView { name } => {
                    if let Some(def) = v.views.remove(name) {
                        v.drop_comments(def.id, &mut Vec::new());
                    }
                }
                Ddl::CreateType { def, .. } => {
                    v.types.insert(def.id, Arc::new(def.clone()));
                }
                Ddl::DropType { id } => {
                    v.types.remove(id);
                    v.drop_comments(*id, &mut Vec::new());
                }
            }
        }
        self.snapshot = Arc::new(v);
    }
}

impl TableVersion {
    /// The same table, empty, under the next epoch (TRUNCATE).
    pub(crate) fn truncated(&self, epsilon: usize) -> TableVersion {
        let mut fresh = TableVersion::empty(self.shape.clone(), epsilon, self.checkpoint_lsn);
        fresh.epoch = self.epoch + 1;
        fresh.counters = self.counters.clone();
        fresh.indexes = self.indexes.iter().map(SecondaryIndex::emptied).collect();
        fresh.foreign_keys = self.foreign_keys.clone();
        fresh.checks = self.checks.clone();
        fresh
    }

    /// The same rows under the next epoch and a definition ALTER TABLE changed without a rewrite (see
    /// `TableShape::widen_row`): chunks are re-read through it lazily, the tail and delta are widened now.
    /// Secondary indexes, constraints and the checkpoint stay: no column moved.
    pub(crate) fn redefined(&self, shape: Arc<TableShape>) -> TableVersion {
        let mut next = self.clone();
        next.epoch = self.epoch + 1;
        next.chunks = Arc::new(
            self.chunks
                .iter()
                .map(|c| c.reshaped(shape.clone()))
                .collect(),
        );
        next.tail = self.tail.widened(self.tail_len, shape.clone());
        next.delta = self
            .delta
            .iter()
            .map(|(k, e)| {
                let row = e
                    .row
                    .as_ref()
                    .map(|r| Arc::new(shape.widen_row((**r).clone())));
                (k.clone(), crate::version::DeltaEntry { lsn: e.lsn, row })
            })
            .collect();
        // Row ids continue where the old definition's left off.
        shape.next_rowid.fetch_max(
            self.shape.next_rowid.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        next.shape = shape;
        next
    }

    /// The same table, empty, under the next epoch, with a new definition (ALTER TABLE).
    pub(crate) fn reshaped(
        &self,
        shape: Arc<TableShape>,
        indexes: Vec<SecondaryIndex>,
        epsilon: usize,
    ) -> TableVersion {
        let mut fresh = TableVersion::empty(shape, epsilon, self.checkpoint_lsn);
        fresh.epoch = self.epoch + 1;
        fresh.counters = self.counters.clone();
        fresh.indexes = indexes;
        fresh.foreign_keys = self.foreign_keys.clone();
        fresh.checks = self.checks.clone();
        fresh
    }
}
