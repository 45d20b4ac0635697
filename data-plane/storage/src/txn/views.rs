//! CREATE [OR REPLACE] VIEW and DROP VIEW in a transaction: the definition is visible to the transaction at
//! once and to others at commit, like a table's.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::WriteTxn;
use crate::commit::Ddl;
use crate::error::{Error, Result};
use crate::types::schema_of;
use crate::view::ViewDef;

impl WriteTxn {
    /// `CREATE VIEW` (with `replace`, OR REPLACE: an existing view keeps its id). Returns the view's id.
    pub fn create_view(&mut self, mut def: ViewDef, replace: bool) -> Result<u64> {
        self.writable()?;
        if let Some(schema) = schema_of(&def.name)
            && !self.snapshot.schemas.contains_key(schema)
        {
            return Err(Error::UnknownSchema(schema.to_string()));
        }
        match self.snapshot.views.get(&def.name) {
            Some(old) if replace => def.id = old.id,
            Some(_) => return Err(Error::TableExists(def.name)),
            None if self.relation_exists(&def.name) => return Err(Error::TableExists(def.name)),
            None => def.id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed),
        }
        let id = def.id;
        // A view created (or replaced) earlier in this transaction: this definition supersedes it.
        self.writes
            .ddl
            .retain(|d| !matches!(d, Ddl::CreateView(v) if v.name == def.name));
        self.writes.ddl.push(Ddl::CreateView(def));
        self.refresh_view();
        Ok(id)
    }

    /// `def` in place of the view named `from`, keeping its id (and so its OID and comments): ALTER VIEW
    /// ... RENAME TO / SET SCHEMA, and a query rewritten because a relation it reads was renamed.
    pub fn replace_view(&mut self, from: &str, mut def: ViewDef) -> Result<()> {
        self.writable()?;
        let Some(old) = self.snapshot.views.get(from).cloned() else {
            return Err(Error::UnknownTable(from.to_string()));
        };
        if def.name != from {
            if let Some(schema) = schema_of(&def.name)
                && !self.snapshot.schemas.contains_key(schema)
            {
                return Err(Error::UnknownSchema(schema.to_string()));
            }
            if self.relation_exists(&def.name) {
                return Err(Error::TableExists(def.name));
            }
        }
        def.id = old.id;
        self.writes
            .ddl
            .retain(|d| !matches!(d, Ddl::CreateView(v) if v.id == def.id));
        self.writes.ddl.push(Ddl::CreateView(def));
        self.refresh_view();
        Ok(())
    }

    /// `DROP VIEW` (the SQL layer drops or refuses the views that depend on it first).
    pub fn drop_view(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        let Some(view) = self.snapshot.views.get(name).cloned() else {
            return Err(Error::UnknownTable(name.to_string()));
        };
        let dropped = self
            .writes
            .ddl
            .iter()
            .any(|d| matches!(d, Ddl::DropView { name: n } if n == name));
        let committed = self.inner.current.load().views.contains_key(name) && !dropped;
        self.writes
            .ddl
            .retain(|d| !matches!(d, Ddl::CreateView(v) if v.name == name));
        if committed {
            self.writes.ddl.push(Ddl::DropView {
                name: view.name.clone(),
            });
        }
        self.refresh_view();
        Ok(())
    }

    /// The views this transaction sees.
    pub fn views(&self) -> Vec<Arc<ViewDef>> {
        self.snapshot.views.values().cloned().collect()
    }
}
