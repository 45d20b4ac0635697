//! CREATE TYPE ... AS ENUM, ALTER TYPE (ADD VALUE, RENAME VALUE, RENAME TO) and DROP TYPE: transactional
//! DDL like a view's, with PostgreSQL's messages.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    self, AlterType, AlterTypeAddValuePosition, AlterTypeOperation, ObjectName,
    UserDefinedTypeRepresentation,
};
use omendb_storage::EnumDef;

use super::Session;
use crate::error::{Error, Result, code};

/// PostgreSQL's longest label (NAMEDATALEN - 1 bytes).
const MAX_LABEL: usize = 63;

impl Session {
    /// The enum types this session sees now.
    pub(crate) fn enum_types(&self) -> Vec<Arc<EnumDef>> {
        crate::enums::visible(&self.engine.db, &self.view.lock())
    }

    /// The enum type `name` names through the search path.
    pub(crate) fn enum_type(&self, name: &ObjectName) -> Option<Arc<EnumDef>> {
        let (_, candidates) = self.candidates(name).ok()?;
        let types = self.enum_types();
        candidates
            .iter()
            .find_map(|c| types.iter().find(|t| t.name == *c).cloned())
    }

    /// `stmt` with its enum type names resolved (`enums::resolve_statement`).
    pub(super) fn resolve_enum_types(&self, stmt: &mut ast::Statement) -> Result<()> {
        if self.enum_types().is_empty() {
            return Ok(());
        }
        crate::enums::resolve_statement(stmt, &|n| self.enum_type(n))
    }

    pub(super) async fn create_type(
        &mut self,
        name: &ObjectName,
        representation: Option<&UserDefinedTypeRepresentation>,
    ) -> Result<()> {
        let labels = match representation {
            Some(UserDefinedTypeRepresentation::Enum { labels }) => labels,
            Some(_) => {
                return Err(Error::unsupported(
                    "CREATE TYPE other than AS ENUM (composite, range and base types)",
                ));
            }
            None => return Err(Error::unsupported("CREATE TYPE without a definition")),
        };
        let storage = self.names().create(name)?;
        let mut seen: Vec<&str> = vec![];
        for l in labels {
            check_label(&l.value)?;
            if seen.contains(&l.value.as_str()) {
                return Err(Error::sql(
                    code::UNIQUE_VIOLATION,
                    "duplicate key value violates unique constraint \"pg_enum_typid_label_index\"",
                )
                .with_detail(format!(
                    "Key (enumtypid, enumlabel)=(0, {}) already exists.",
                    l.value
                )));
            }
            seen.push(&l.value);
        }
        let def = EnumDef::new(storage, labels.iter().map(|l| l.value.clone()));
        self.with_locks(|t| t.create_type(def.clone()).map(drop))
            .await
    }

    pub(super) async fn alter_type(&mut self, at: &AlterType) -> Result<()> {
        let Some(old) = self.enum_type(&at.name) else {
            return Err(undefined(&at.name));
        };
        let mut def = (*old).clone();
        match &at.operation {
            AlterTypeOperation::AddValue(add) => {
                let label = &add.value.value;
                check_label(label)?;
                if def.position(label).is_some() {
                    if add.if_not_exists {
                        self.notice(
                            "00000",
                            format!("enum label \"{label}\" already exists, skipping"),
                        );
                        return Ok(());
                    }
                    return Err(label_exists(label));
                }
                let at = match &add.position {
                    None => def.labels.len(),
                    Some(
                        AlterTypeAddValuePosition::Before(n) | AlterTypeAddValuePosition::After(n),
                    ) => {
                        let p = def
                            .position(&n.value)
                            .ok_or_else(|| not_a_label(&n.value))?;
                        match add.position {
                            Some(AlterTypeAddValuePosition::After(_)) => p + 1,
                            _ => p,
                        }
                    }
                };
                def.insert_label(at, label.clone());
            }
            AlterTypeOperation::RenameValue(r) => {
                let p = def
                    .position(&r.from.value)
                    .ok_or_else(|| not_a_label(&r.from.value))?;
                if def.position(&r.to.value).is_some() {
                    return Err(label_exists(&r.to.value));
                }
                check_label(&r.to.value)?;
                if !self.enum_columns(def.id).is_empty() {
                    return Err(Error::unsupported(
                        "ALTER TYPE ... RENAME VALUE of a type a table column has",
                    ));
                }
                def.labels[p].name = r.to.value.clone();
            }
            AlterTypeOperation::Rename(r) => {
                let (schema, _) = crate::search_path::split(&def.name);
                def.name =
                    crate::search_path::storage_name(schema, &crate::ddl::ident(&r.new_name));
            }
        }
        self.with_locks(|t| t.alter_type(def.clone())).await
    }

    /// The columns of enum type `id`: (table storage name, column name).
    fn enum_columns(&self, id: u64) -> Vec<(String, String)> {
        let mut v = self.view.lock();
        let Some(txn) = v.txn.as_mut() else {
            return vec![];
        };
        let mut out = vec![];
        for name in txn.table_names() {
            let Ok(reader) = txn.table(&name) else {
                continue;
            };
            for c in &reader.def().columns {
                if c.data_type == (omendb_storage::DataType::Enum { type_id: id }) {
                    out.push((name.clone(), c.name.clone()));
                }
            }
        }
        out
    }

    pub(super) async fn drop_types(
        &mut self,
        names: &[ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> Result<()> {
        for n in names {
            let Some(def) = self.enum_type(n) else {
                if if_exists {
                    let (_, relname) = crate::search_path::parts(n)?;
                    self.notice(
                        "00000",
                        format!("type \"{relname}\" does not exist, skipping"),
                    );
                    continue;
                }
                return Err(undefined(n));
            };
            let columns = self.enum_columns(def.id);
            let shown = crate::enums::display_name(&def);
            let depends = |(t, c): &(String, String)| {
                format!(
                    "column {c} of table {} depends on type {shown}",
                    crate::search_path::split(t).1
                )
            };
            if !columns.is_empty() && !cascade {
                let detail: Vec<String> = columns.iter().map(depends).collect();
                return Err(Error::sql(
                    "2BP01",
                    format!("cannot drop type {shown} because other objects depend on it"),
                )
                .with_detail(detail.join("\n"))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
            for (table, column) in &columns {
                self.notice(
                    "00000",
                    format!(
                        "drop cascades to column {column} of table {}",
                        crate::search_path::split(table).1
                    ),
                );
                let (schema, relname) = crate::search_path::split(table);
                let sql = format!(
                    "ALTER TABLE {}.{} DROP COLUMN {}",
                    crate::pg_catalog::names::quote_ident(schema),
                    crate::pg_catalog::names::quote_ident(relname),
                    crate::pg_catalog::names::quote_ident(column)
                );
                let stmt = super::parse(&sql)?
                    .pop()
                    .ok_or_else(|| Error::sql(code::INTERNAL, "ALTER TABLE did not parse"))?;
                let ast::Statement::AlterTable(at) = stmt else {
                    return Err(Error::sql(code::INTERNAL, "not ALTER TABLE"));
                };
                Box::pin(self.alter_table(&at)).await?;
            }
            self.with_locks(|t| t.drop_type(def.id)).await?;
        }
        Ok(())
    }
}

fn check_label(label: &str) -> Result<()> {
    if label.is_empty() || label.len() > MAX_LABEL {
        return Err(
            Error::sql("42602", format!("invalid enum label \"{label}\""))
                .with_detail(format!("Labels must be {MAX_LABEL} bytes or less.")),
        );
    }
    Ok(())
}

fn label_exists(label: &str) -> Error {
    Error::sql("42710", format!("enum label \"{label}\" already exists"))
}

fn not_a_label(label: &str) -> Error {
    Error::sql(
        code::INVALID_PARAMETER_VALUE,
        format!("\"{label}\" is not an existing enum label"),
    )
}

fn undefined(name: &ObjectName) -> Error {
    let shown = crate::search_path::parts(name)
        .map(|(_, r)| r)
        .unwrap_or_else(|_| name.to_string());
    Error::sql(
        code::UNDEFINED_OBJECT,
        format!("type \"{shown}\" does not exist"),
    )
}
