//! The DDL of a committing transaction applied to the newest version: CREATE / DROP / TRUNCATE, ALTER
//! TABLE's reshape, indexes, foreign keys, CHECK constraints, schemas, comments and sequences, each change
//! also recorded for the catalog in the same store batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Ddl, TableWrites};
use crate::chunk::Chunk;
use crate::error::{Error, Result};
use crate::index::SecondaryIndex;
use crate::shared::Inner;
use crate::store::{CatalogEntry, Manifest, StoreBatch};
use crate::version::{DbVersion, TableVersion};

impl Inner {
    /// Applies CREATE, DROP and TRUNCATE to `head`, recording catalog and manifest changes in `catalog`
    /// and the chunks that become garbage once the commit is published in `dropped`.
    pub(super) fn apply_ddl(
        &self,
        head: &mut DbVersion,
        ddl: &[Ddl],
        rows: &BTreeMap<u64, TableWrites>,
        lsn: u64,
        catalog: &mut StoreBatch,
        dropped: &mut Vec<Arc<Chunk>>,
    ) -> Result<()> {
        // The commit's own rows replay after these changes: the checkpoint is just below its LSN.
        let checkpoint = lsn - 1;
        let empty = || Manifest {
            checkpoint_lsn: checkpoint,
            chunks: Vec::new(),
        };
        for d in ddl {
            match d {
                Ddl::Create(shape) => {
                    if head.names.contains_key(&shape.def.name)
                        || head.views.contains_key(&shape.def.name)
                    {
                        return Err(Error::TableExists(shape.def.name.clone()));
                    }
                    if head.types.values().any(|t| t.name == shape.def.name) {
                        return Err(Error::TypeExists(shape.def.name.clone()));
                    }
                    // A type of its columns was dropped by a commit after this transaction saw it.
                    if crate::enum_type::types_of(&shape.def)
                        .any(|id| !head.types.contains_key(&id))
                    {
                        return Err(Error::Conflict(shape.def.name.clone()));
                    }
                    // A concurrent DROP SCHEMA committed first.
                    if let Some(schema) = crate::types::schema_of(&shape.def.name)
                        && !head.schemas.contains_key(schema)
                    {
                        return Err(Error::UnknownSchema(schema.to_string()));
                    }
                    let id = shape.id;
                    head.names.insert(shape.def.name.clone(), id);
                    head.tables.insert(
                        id,
                        Arc::new(TableVersion::empty(
                            shape.clone(),
                            self.opts.epsilon,
                            checkpoint,
                        )),
                    );
                    catalog.catalog.push((
                        id,
                        Some(CatalogEntry {
                            id,
                            def: shape.def.clone(),
                        }),
                    ));
                    catalog.manifests.push((id, Some(empty())));
                }
                Ddl::Drop { id, epoch, name } => {
                    let old = head
                        .tables
                        .get(id)
                        .filter(|t| t.epoch == *epoch)
                        .cloned()
                        .ok_or_else(|| Error::Conflict(name.clone()))?;
                    // A view on it committed since this transaction looked (the SQL layer drops the
                    // ones it saw, or refuses).
                    if head.views.values().any(|v| v.depends.contains(id)) {
                        return Err(Error::Conflict(name.clone()));
                    }
                    head.names.remove(&old.shape.def.name);
                    head.tables.remove(id);
                    head.drop_comments(*id, &mut catalog.comments);
                    catalog.catalog.push((*id, None));
                    catalog.manifests.push((*id, None));
                    if !old.indexes.is_empty() {
                        catalog.indexes.push((*id, None));
                    }
                    if !old.foreign_keys.is_empty() {
                        catalog.foreign_keys.push((*id, None));
                    }
                    if !old.checks.is_empty() {
                        catalog.checks.push((*id, None));
                    }
                    dropped.extend(old.chunks.iter().cloned());
                }
                Ddl::Truncate { id, epoch } => {
                    let old = head
                        .tables
                        .get(id)
                        .filter(|t| t.epoch == *epoch)
                        .cloned()
                        .ok_or_else(|| Error::Conflict(format!("table {id}")))?;
                    let mut fresh = old.truncated(self.opts.epsilon);
                    fresh.checkpoint_lsn = checkpoint;
                    head.tables.insert(*id, Arc::new(fresh));
                    catalog.manifests.push((*id, Some(empty())));
                    dropped.extend(old.chunks.iter().cloned());
                }
                Ddl::Reshape {
                    id,
                    epoch,
                    old_name,
                    shape,
                    indexes,
                    origin,
                    keep_rows,
                } => {
                    let old = head
                        .tables
                        .get(id)
                        .filter(|t| t.epoch == *epoch)
                        .cloned()
                        .ok_or_else(|| Error::Conflict(old_name.clone()))?;
                    let name = &shape.def.name;
                    if *name != old.shape.def.name {
                        if head.names.contains_key(name)
                            || head.sequences.contains_key(name)
                            || head.views.contains_key(name)
                        {
                            return Err(Error::TableExists(name.clone()));
                        }
                        head.names.remove(&old.shape.def.name);
                        head.names.insert(name.clone(), *id);
                    }
                    let fresh = if *keep_rows {
                        old.redefined(shape.clone())
                    } else {
                        let hook = self.check_hook.as_ref();
                        let indexes = indexes
                            .iter()
                            .map(|d| SecondaryIndex::empty(d.clone(), shape, hook))
                            .collect::<Result<Vec<_>>>()?;
                        let mut fresh = old.reshaped(shape.clone(), indexes, self.opts.epsilon);
                        fresh.checkpoint_lsn = checkpoint;
                        fresh
                    };
                    if !old.indexes.is_empty() || !fresh.indexes.is_empty() {
                        catalog.indexes.push((*id, Some(index_defs(&fresh))));
                    }
                    head.tables.insert(*id, Arc::new(fresh));
                    for t in crate::foreign_key::remap(&mut head.tables, *id, origin) {
                        catalog
                            .foreign_keys
                            .push((t, Some(fk_defs(&head.tables[&t]))));
                    }
                    if crate::enum_type::types_of(&shape.def).any(|t| !head.types.contains_key(&t))
                    {
                        return Err(Error::Conflict(old_name.clone()));
                    }
                    catalog.catalog.push((
                        *id,
                        Some(CatalogEntry {
                            id: *id,
                            def: shape.def.clone(),
                        }),
                    ));
                    if !*keep_rows {
                        catalog.manifests.push((*id, Some(empty())));
                        dropped.extend(old.chunks.iter().cloned());
                    }
                }
                Ddl::CreateIndex(def) => {
                    let taken = head.names.contains_key(&def.name)
                        || head.sequences.contains_key(&def.name)
                        || head.views.contains_key(&def.name)
                        || head
                            .tables
                            .values()
                            .any(|t| t.indexes.iter().any(|i| i.def.name == def.name));
                    if taken {
                        return Err(Error::TableExists(def.name.clone()));
                    }
                    let tv = head
                        .tables
                        .get(&def.table_id)
                        .cloned()
                        .ok_or_else(|| Error::Conflict(def.name.clone()))?;
                    // Rows this transaction rewrites are judged after its writes (`check_unique`).
                    let written = rows.get(&def.table_id).map(|w| &w.map);
                    let hook = self.check_hook.as_ref();
                    let empty = SecondaryIndex::empty(def.clone(), &tv.shape, hook)?;
                    let index = SecondaryIndex::build(empty, &tv, |k| {
                        written.is_some_and(|m| m.contains_key(k))
                    })?;
                    let mut tv = (*tv).clone();
                    tv.indexes.push(index);
                    catalog.indexes.push((def.table_id, Some(index_defs(&tv))));
                    head.tables.insert(def.table_id, Arc::new(tv));
                }
                Ddl::AddForeignKey(fk) => {
                    if !head.tables.contains_key(&fk.ref_table) {
                        return Err(Error::Conflict(fk.name.clone()));
                    }
                    edit_table(head, fk.table_id, &fk.name, |tv| {
                        tv.foreign_keys.push(fk.clone());
                        catalog.foreign_keys.push((fk.table_id, Some(fk_defs(tv))));
                    })?;
                }
                Ddl::DropForeignKey { table_id, name } => {
                    edit_table(head, *table_id, name, |tv| {
                        tv.foreign_keys.retain(|f| f.name != *name);
                        catalog.foreign_keys.push((*table_id, Some(fk_defs(tv))));
                    })?;
                }
                Ddl::AddCheck { table_id, check } => {
                    edit_table(head, *table_id, &check.name, |tv| {
                        tv.checks.push(check.clone());
                        catalog.checks.push((*table_id, Some(check_defs(tv))));
                    })?;
                }
                Ddl::DropCheck { table_id, name } => {
                    edit_table(head, *table_id, name, |tv| {
                        tv.checks.retain(|c| c.name != *name);
                        catalog.checks.push((*table_id, Some(check_defs(tv))));
                    })?;
                }
                Ddl::Rename { table_id, from, to } => {
                    let taken = head.names.contains_key(to)
                        || head.sequences.contains_key(to)
                        || head.views.contains_key(to)
                        || head.tables.values().any(|t| {
                            t.indexes.iter().any(|i| i.def.name == *to)
                                || (t.shape.id == *table_id && t.has_object(to))
                        });
                    if taken {
                        return Err(Error::TableExists(to.clone()));
                    }
                    let mut renamed = None;
                    edit_table(head, *table_id, from, |tv| {
                        renamed = Some(tv.rename_object(from, to));
                        catalog.indexes.push((*table_id, Some(index_defs(tv))));
                        catalog.checks.push((*table_id, Some(check_defs(tv))));
                        catalog.foreign_keys.push((*table_id, Some(fk_defs(tv))));
                    })?;
                    if renamed != Some(true) {
                        return Err(Error::Conflict(from.clone()));
                    }
                }
                Ddl::DropIndex { table_id, name } => {
                    let known = head
                        .tables
                        .get(table_id)
                        .is_some_and(|t| t.indexes.iter().any(|i| i.def.name == *name));
                    if !known {
                        return Err(Error::UnknownIndex(name.clone()));
                    }
                    let id = head.tables.get(table_id).and_then(|t| {
                        t.indexes
                            .iter()
                            .find(|i| i.def.name == *name)
                            .map(|i| i.def.id)
                    });
                    edit_table(head, *table_id, name, |tv| {
                        tv.indexes.retain(|i| i.def.name != *name);
                        catalog.indexes.push((*table_id, Some(index_defs(tv))));
                    })?;
                    if let Some(id) = id {
                        head.drop_comments(id, &mut catalog.comments);
                    }
                }
                Ddl::CreateSequence(def) => {
                    if head.sequences.contains_key(&def.name)
                        || head.names.contains_key(&def.name)
                        || head.views.contains_key(&def.name)
                    {
                        return Err(Error::TableExists(def.name.clone()));
                    }
                    head.sequences
                        .insert(def.name.clone(), Arc::new(def.clone()));
                    catalog
                        .sequences
                        .push((def.name.clone(), Some(def.clone())));
                }
                Ddl::AlterSequence { def, replaces } => {
                    let current = head.sequences.get(&replaces.name);
                    if current.map(|c| c.as_ref()) != Some(replaces) {
                        return Err(Error::Conflict(replaces.name.clone()));
                    }
                    if def.name != replaces.name {
                        if head.sequences.contains_key(&def.name)
                            || head.names.contains_key(&def.name)
                            || head.views.contains_key(&def.name)
                        {
                            return Err(Error::TableExists(def.name.clone()));
                        }
                        head.sequences.remove(&replaces.name);
                        catalog.sequences.push((replaces.name.clone(), None));
                    }
                    head.sequences
                        .insert(def.name.clone(), Arc::new(def.clone()));
                    catalog
                        .sequences
                        .push((def.name.clone(), Some(def.clone())));
                }
                Ddl::DropSequence { name } => {
                    let Some(def) = head.sequences.remove(name) else {
                        return Err(Error::UnknownTable(name.clone()));
                    };
                    head.drop_comments(def.id, &mut catalog.comments);
                    catalog.sequences.push((name.clone(), None));
                }
                Ddl::CreateView(def) => {
                    let replaces = head.views.get(&def.name).is_some_and(|v| v.id == def.id);
                    let taken = head.names.contains_key(&def.name)
                        || head.sequences.contains_key(&def.name)
                        || (head.views.contains_key(&def.name) && !replaces);
                    // A relation it reads was dropped by a commit after this transaction saw it.
                    let gone = def.depends.iter().any(|id| {
                        !head.tables.contains_key(id) && !head.views.values().any(|v| v.id == *id)
                    });
                    if taken {
                        return Err(Error::TableExists(def.name.clone()));
                    }
                    if gone {
                        return Err(Error::Conflict(def.name.clone()));
                    }
                    if let Some(old) = head.take_renamed_view(def) {
                        catalog.views.push((old, None));
                    }
                    head.views.insert(def.name.clone(), Arc::new(def.clone()));
                    catalog.views.push((def.name.clone(), Some(def.clone())));
                }
                Ddl::CreateType { def, replaces } => {
                    let current = head.types.get(&def.id);
                    if current.map(|c| c.as_ref()) != replaces.as_ref() {
                        return Err(Error::Conflict(def.name.clone()));
                    }
                    let taken = head
                        .types
                        .values()
                        .any(|t| t.name == def.name && t.id != def.id)
                        || head.names.contains_key(&def.name)
                        || head.views.contains_key(&def.name);
                    if taken {
                        return Err(Error::TypeExists(def.name.clone()));
                    }
                    if let Some(schema) = crate::types::schema_of(&def.name)
                        && !head.schemas.contains_key(schema)
                    {
                        return Err(Error::UnknownSchema(schema.to_string()));
                    }
                    head.types.insert(def.id, Arc::new(def.clone()));
                    catalog.types.push((def.id, Some(def.clone())));
                }
                Ddl::DropType { id } => {
                    let Some(def) = head.types.remove(id) else {
                        return Err(Error::Conflict(format!("type {id}")));
                    };
                    // A column of it committed since this transaction looked.
                    if head
                        .tables
                        .values()
                        .any(|t| crate::enum_type::types_of(&t.shape.def).any(|t| t == *id))
                    {
                        return Err(Error::Conflict(def.name.clone()));
                    }
                    head.drop_comments(*id, &mut catalog.comments);
                    catalog.types.push((*id, None));
                }
                Ddl::DropView { name } => {
                    let Some(view) = head.views.remove(name) else {
                        return Err(Error::UnknownTable(name.clone()));
                    };
                    head.drop_comments(view.id, &mut catalog.comments);
                    catalog.views.push((name.clone(), None));
                }
                Ddl::CreateSchema { name, id } => {
                    if head.schemas.contains_key(name) {
                        return Err(Error::SchemaExists(name.clone()));
                    }
                    head.schemas.insert(name.clone(), *id);
                    catalog.schemas.push((name.clone(), Some(*id)));
                }
                Ddl::DropSchema { name } => {
                    let Some(id) = head.schemas.remove(name) else {
                        return Err(Error::UnknownSchema(name.clone()));
                    };
                    head.drop_comments(id, &mut catalog.comments);
                    // A concurrent CREATE TABLE in it committed first.
                    if head
                        .names
                        .keys()
                        .any(|t| crate::types::schema_of(t) == Some(name.as_str()))
                    {
                        return Err(Error::SchemaNotEmpty(name.clone()));
                    }
                    catalog.schemas.push((name.clone(), None));
                }
                Ddl::Comment { key, text } => {
                    // The object may have been dropped by a commit after this transaction saw it.
                    let id = key.0;
                    let live = head.tables.contains_key(&id)
                        || head.schemas.values().any(|s| *s == id)
                        || head.views.values().any(|v| v.id == id)
                        || head.sequences.values().any(|s| s.id == id)
                        || head.types.contains_key(&id)
                        || head
                            .tables
                            .values()
                            .any(|t| t.indexes.iter().any(|i| i.def.id == id));
                    if !live {
                        return Err(Error::Conflict(format!("object {} of a comment", key.0)));
                    }
                    match text {
                        Some(t) => head.comments.insert(*key, t.clone()),
                        None => head.comments.remove(key),
                    };
                    catalog.comments.push((*key, text.clone()));
                }
            }
        }
        Ok(())
    }
}

/// Changes table `id` of `head` with `f`; the table gone (a concurrent DROP committed first) conflicts.
fn edit_table(
    head: &mut DbVersion,
    id: u64,
    what: &str,
    f: impl FnOnce(&mut TableVersion),
) -> Result<()> {
    let tv = head
        .tables
        .get(&id)
        .ok_or_else(|| Error::Conflict(what.to_string()))?;
    let mut tv = (**tv).clone();
    f(&mut tv);
    head.tables.insert(id, Arc::new(tv));
    Ok(())
}

/// A table version's CHECK constraints, as the catalog stores them.
fn check_defs(tv: &TableVersion) -> Vec<crate::check::CheckDef> {
    tv.checks.iter().map(|c| (**c).clone()).collect()
}

/// A table version's foreign keys, as the catalog stores them.
fn fk_defs(tv: &TableVersion) -> Vec<crate::foreign_key::ForeignKey> {
    tv.foreign_keys.iter().map(|f| (**f).clone()).collect()
}

/// The definitions of a table version's indexes, as the catalog stores them.
fn index_defs(tv: &TableVersion) -> Vec<crate::index::IndexDef> {
    tv.indexes.iter().map(|i| (*i.def).clone()).collect()
}
