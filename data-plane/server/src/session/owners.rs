//! OWNER TO, for relations (ALTER TABLE, and ALTER SEQUENCE / VIEW rewritten to it), types and schemas.
//! A tenant database has one role, which owns everything: handing an object to that role is what
//! PostgreSQL would do (nothing changes), and naming any other role is PostgreSQL's error for a role that
//! does not exist (42704). pg_dump writes an OWNER TO after every object it creates.

use datafusion::sql::sqlparser::ast::{self, AlterSchemaOperation, ObjectName, Owner};

use super::Session;
use crate::ddl;
use crate::error::{Error, Result, code};

impl Session {
    /// `ALTER TABLE name OWNER TO role`, where `name` is any relation, or a type under the marker
    /// `alter_forms.rs` puts first.
    pub(super) fn alter_owner(&mut self, at: &ast::AlterTable, owner: &Owner) -> Result<()> {
        let parts = &at.name.0;
        let marker = parts
            .first()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.as_str());
        if marker == Some(crate::alter_forms::TYPE_OWNER) {
            let name = ObjectName(parts[1..].to_vec());
            if self.enum_type(&name).is_none() {
                return Err(Error::sql(
                    code::UNDEFINED_OBJECT,
                    format!("type \"{name}\" does not exist"),
                ));
            }
            return self.check_role(owner);
        }
        let (relname, candidates) = self.candidates(&at.name)?;
        let exists = {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            candidates.iter().any(|c| {
                txn.table(c).is_ok()
                    || txn.sequence(c).is_some()
                    || txn.views().iter().any(|v| v.name == *c)
            })
        };
        if !exists {
            return self.missing_relation(&relname, at.if_exists);
        }
        self.check_role(owner)
    }

    /// `ALTER SCHEMA name OWNER TO role`; RENAME and the other forms are not supported.
    pub(super) fn alter_schema(&mut self, a: &ast::AlterSchema) -> Result<()> {
        let name = ddl::ident(
            a.name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .ok_or_else(|| Error::sql(code::SYNTAX_ERROR, "invalid schema name"))?,
        );
        if !self.schema_exists(&name) {
            if a.if_exists {
                self.notice(
                    "00000",
                    format!("schema \"{name}\" does not exist, skipping"),
                );
                return Ok(());
            }
            return Err(omendb_storage::Error::UnknownSchema(name).into());
        }
        for op in &a.operations {
            match op {
                AlterSchemaOperation::OwnerTo { owner } => self.check_role(owner)?,
                other => {
                    return Err(Error::unsupported(format!(
                        "ALTER SCHEMA ... {}",
                        super::first_words(&other.to_string())
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether schema `name` exists for this transaction.
    pub(super) fn schema_exists(&self, name: &str) -> bool {
        let v = self.view.lock();
        crate::search_path::schemas(&self.engine.db, &v)
            .iter()
            .any(|(n, _)| n == name)
    }

    /// The role an OWNER TO or AUTHORIZATION names must be this database's (the session's) role.
    pub(super) fn check_role(&self, owner: &Owner) -> Result<()> {
        match owner {
            Owner::CurrentRole | Owner::CurrentUser | Owner::SessionUser => Ok(()),
            Owner::Ident(i) => {
                let role = ddl::ident(i);
                if role == self.user {
                    Ok(())
                } else {
                    Err(Error::sql(
                        code::UNDEFINED_OBJECT,
                        format!("role \"{role}\" does not exist"),
                    ))
                }
            }
        }
    }
}
