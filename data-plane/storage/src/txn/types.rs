//! CREATE TYPE ... AS ENUM, ALTER TYPE and DROP TYPE in a transaction: like a view's, the definition is
//! visible to the transaction at once and to others at commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::WriteTxn;
use crate::commit::Ddl;
use crate::enum_type::EnumDef;
use crate::error::{Error, Result};
use crate::types::schema_of;

impl WriteTxn {
    /// `CREATE TYPE ... AS ENUM`. Returns the type's id.
    pub fn create_type(&mut self, mut def: EnumDef) -> Result<u64> {
        self.writable()?;
        if let Some(schema) = schema_of(&def.name)
            && !self.snapshot.schemas.contains_key(schema)
        {
            return Err(Error::UnknownSchema(schema.to_string()));
        }
        // A table's or view's row type has its name (PostgreSQL's pg_type namespace).
        if self.enum_type(&def.name).is_some()
            || self.snapshot.names.contains_key(&def.name)
            || self.snapshot.views.contains_key(&def.name)
        {
            return Err(Error::TypeExists(def.name));
        }
        def.id = self.inner.table_ids.fetch_add(1, Ordering::Relaxed);
        let id = def.id;
        self.writes.ddl.push(Ddl::CreateType {
            def,
            replaces: None,
        });
        self.refresh_view();
        Ok(id)
    }

    /// `ALTER TYPE`: `def` (same id) replaces the type this transaction sees.
    pub fn alter_type(&mut self, def: EnumDef) -> Result<()> {
        self.writable()?;
        let Some(old) = self.snapshot.types.get(&def.id).cloned() else {
            return Err(Error::UnknownType(def.name));
        };
        if def.name != old.name
            && (self.enum_type(&def.name).is_some()
                || self.snapshot.names.contains_key(&def.name)
                || self.snapshot.views.contains_key(&def.name))
        {
            return Err(Error::TypeExists(def.name));
        }
        // An earlier CREATE or ALTER of it in this transaction: this one supersedes it and keeps what it
        // replaced (nothing, for a type created here).
        let mut replaces = Some((*old).clone());
        self.writes.ddl.retain(|d| match d {
            Ddl::CreateType {
                def: d,
                replaces: r,
            } if d.id == def.id => {
                replaces = r.clone();
                false
            }
            _ => true,
        });
        self.writes.ddl.push(Ddl::CreateType { def, replaces });
        self.refresh_view();
        Ok(())
    }

    /// `DROP TYPE` (the SQL layer refuses it while a column has the type).
    pub fn drop_type(&mut self, id: u64) -> Result<()> {
        self.writable()?;
        let Some(def) = self.snapshot.types.get(&id).cloned() else {
            return Err(Error::UnknownType(format!("type {id}")));
        };
        if self
            .snapshot
            .tables
            .values()
            .any(|t| crate::enum_type::types_of(&t.shape.def).any(|t| t == id))
        {
            return Err(Error::TypeInUse {
                name: def.name.clone(),
                detail: String::new(),
            });
        }
        let mut created_here = false;
        self.writes.ddl.retain(|d| match d {
            Ddl::CreateType { def: d, replaces } if d.id == id => {
                created_here = replaces.is_none();
                false
            }
            _ => true,
        });
        if !created_here {
            self.writes.ddl.push(Ddl::DropType { id });
        }
        self.refresh_view();
        Ok(())
    }

    /// The enum types this transaction sees.
    pub fn types(&self) -> Vec<Arc<EnumDef>> {
        self.snapshot.types.values().cloned().collect()
    }

    /// The enum type named `name` (a storage name) as this transaction sees it.
    pub fn enum_type(&self, name: &str) -> Option<Arc<EnumDef>> {
        self.snapshot
            .types
            .values()
            .find(|t| t.name == name)
            .cloned()
    }
}
