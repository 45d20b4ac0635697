//! FOREIGN KEY constraints: checked against the two tables' definitions here, then kept and enforced by the
//! engine at commit (`storage/src/foreign_key.rs`), which also applies ON DELETE / ON UPDATE actions.

use datafusion::sql::sqlparser::ast::{self, ReferentialAction};
use omendb_storage::{DataType, FkAction, ForeignKey, TableDef};

use super::Session;
use crate::ddl;
use crate::error::{Error, Result, code};

fn action(a: Option<ReferentialAction>) -> Result<FkAction> {
    Ok(match a {
        None | Some(ReferentialAction::NoAction) => FkAction::NoAction,
        Some(ReferentialAction::Restrict) => FkAction::Restrict,
        Some(ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ReferentialAction::SetDefault) => {
            return Err(Error::unsupported("ON DELETE / ON UPDATE SET DEFAULT"));
        }
    })
}

/// Whether values of `a` can reference values of `b` (PostgreSQL wants an equality operator between them).
fn comparable(a: DataType, b: DataType) -> bool {
    class(a) == class(b)
}

/// Types whose values compare with each other share a class.
fn class(t: DataType) -> u64 {
    use DataType as T;
    match t {
        T::SmallInt | T::Integer | T::BigInt | T::Real | T::Double | T::Numeric { .. } => 0,
        T::Text | T::Varchar { .. } | T::Char { .. } => 1,
        T::Timestamp | T::TimestampTz | T::Date => 2,
        T::Boolean => 3,
        T::Bytea => 4,
        T::Uuid => 5,
        T::Json => 6,
        T::Jsonb => 7,
        // Only the same enum type compares with itself.
        T::Enum { type_id } => 8 + type_id,
        // Arrays compare with arrays of the same element class.
        T::Array(e) => (1 << 40) | class(e.scalar()),
        T::Interval => 1 << 41,
        T::Time => 1 << 42,
    }
}

fn undefined_column(name: &str) -> Error {
    Error::sql(
        code::UNDEFINED_COLUMN,
        format!("column \"{name}\" referenced in foreign key constraint does not exist"),
    )
}

impl Session {
    /// A FOREIGN KEY of `table` (storage name, definition `def`); `column` is the column it was written on
    /// in column form (`a int REFERENCES p`).
    pub(super) async fn add_foreign_key(
        &mut self,
        table: &str,
        def: &TableDef,
        fk: &ast::ForeignKeyConstraint,
        column: Option<&str>,
    ) -> Result<()> {
        let relname = crate::search_path::split(table).1.to_string();
        let names: Vec<String> = match column {
            Some(c) if fk.columns.is_empty() => vec![c.to_string()],
            _ => fk.columns.iter().map(ddl::ident).collect(),
        };
        let columns = names
            .iter()
            .map(|n| {
                def.columns
                    .iter()
                    .position(|c| &c.name == n)
                    .ok_or_else(|| undefined_column(n))
            })
            .collect::<Result<Vec<_>>>()?;
        let parent = self.names().lookup(&fk.foreign_table)?;
        let parent_relname = crate::search_path::split(&parent).1.to_string();
        let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &parent)?
            .ok_or_else(|| {
                Error::sql(
                    code::UNDEFINED_TABLE,
                    format!("relation \"{parent_relname}\" does not exist"),
                )
            })?;
        let parent_def = if parent == table {
            def.clone()
        } else {
            reader.def().clone()
        };
        let ref_columns: Vec<usize> = if fk.referred_columns.is_empty() {
            let composite = reader
                .indexes()
                .iter()
                .find(|i| i.primary)
                .map(|i| i.columns.clone());
            match (parent_def.primary_key, composite) {
                (Some(pk), _) => vec![pk],
                (None, Some(columns)) => columns,
                (None, None) => {
                    return Err(Error::sql(
                        "42830",
                        format!(
                            "there is no primary key for referenced table \"{parent_relname}\""
                        ),
                    ));
                }
            }
        } else {
            fk.referred_columns
                .iter()
                .map(|i| {
                    let n = ddl::ident(i);
                    parent_def
                        .columns
                        .iter()
                        .position(|c| c.name == n)
                        .ok_or_else(|| undefined_column(&n))
                })
                .collect::<Result<Vec<_>>>()?
        };
        if ref_columns.len() != columns.len() {
            return Err(Error::sql(
                "42830",
                "number of referencing and referenced columns for foreign key disagree",
            ));
        }
        let mut sorted = ref_columns.clone();
        sorted.sort();
        let unique = parent_def.primary_key.is_some_and(|pk| sorted == [pk])
            || reader.indexes().iter().any(|i| {
                let mut cols = i.columns.clone();
                cols.sort();
                i.unique && i.plain() && cols == sorted
            });
        if !unique {
            return Err(Error::sql(
                "42830",
                format!(
                    "there is no unique constraint matching given keys for referenced table \"{parent_relname}\""
                ),
            ));
        }
        for (&c, &r) in columns.iter().zip(&ref_columns) {
            let (a, b) = (&def.columns[c], &parent_def.columns[r]);
            if !comparable(a.data_type, b.data_type) {
                return Err(Error::sql(
                    code::DATATYPE_MISMATCH,
                    "foreign key constraint cannot be implemented",
                )
                .with_detail(format!(
                    "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                    a.name,
                    b.name,
                    a.data_type.name(),
                    b.data_type.name()
                )));
            }
        }
        let name = match &fk.name {
            Some(n) => ddl::ident(n),
            None => {
                let mut n = relname.clone();
                for c in &names {
                    n.push('_');
                    n.push_str(c);
                }
                n.truncate(63 - "_fkey".len());
                format!("{n}_fkey")
            }
        };
        let characteristics = fk.characteristics.unwrap_or_default();
        let initially_deferred = matches!(
            characteristics.initially,
            Some(ast::DeferrableInitial::Deferred)
        );
        let constraint = ForeignKey {
            id: 0,
            name,
            table_id: 0,
            columns,
            ref_table: reader.id(),
            ref_columns,
            on_delete: action(fk.on_delete)?,
            on_update: action(fk.on_update)?,
            deferrable: characteristics.deferrable.unwrap_or(initially_deferred),
            initially_deferred,
        };
        self.with_locks(|t| t.add_foreign_key(table, constraint.clone()))
            .await
    }

    /// The foreign keys that reference table `id` from another table, with the referencing tables' names.
    pub(super) fn referencing(&self, id: u64) -> Vec<(String, std::sync::Arc<ForeignKey>)> {
        let v = self.view.lock();
        let Some(txn) = v.txn.as_ref() else {
            return vec![];
        };
        txn.foreign_keys()
            .into_iter()
            .filter(|(_, _, f)| f.ref_table == id && f.table_id != id)
            .map(|(child, _, f)| (child, f))
            .collect()
    }
}
