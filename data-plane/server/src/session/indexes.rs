//! CREATE INDEX, DROP INDEX and UNIQUE constraints (which are unique indexes named for the constraint, as
//! in PostgreSQL). The engine keeps and maintains the index (`storage/src/index.rs`); a UNIQUE one is
//! checked at commit.

use datafusion::sql::sqlparser::ast::{self, ObjectName};
use omendb_storage::{IndexDef, TableDef};

use super::Session;
use crate::ddl;
use crate::error::{Error, Result, code};

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
const MAX_NAME: usize = 63;

/// PostgreSQL's generated name: `<table>_<col>[_<col>...]_<suffix>`, cut to 63 bytes.
pub fn generated_name(relname: &str, def: &TableDef, columns: &[usize], suffix: &str) -> String {
    let mut name = relname.to_string();
    for &c in columns {
        name.push('_');
        name.push_str(&def.columns[c].name);
    }
    let mut cut = MAX_NAME - suffix.len() - 1;
    while !name.is_char_boundary(cut.min(name.len())) {
        cut -= 1;
    }
    name.truncate(cut.min(name.len()));
    format!("{name}_{suffix}")
}

/// An index's keys: per position the column it holds (for an expression, the first column it names), the
/// options (DESC, NULLS FIRST) and, where the key is an expression (`lower(email)`, `(a + b)`), its SQL,
/// checked to plan over the table's columns and to have a type columns can have.
fn index_keys(
    reader: &omendb_storage::TableReader,
    keys: &[ast::IndexColumn],
) -> Result<IndexKeys> {
    let def = reader.def();
    let mut plain = vec![];
    let mut exprs: Vec<Option<String>> = vec![];
    let mut columns = vec![];
    for k in keys {
        let mut e = &k.column.expr;
        while let ast::Expr::Nested(inner) = e {
            e = inner;
        }
        if let ast::Expr::Identifier(_) = e {
            let mut one = k.clone();
            one.column.expr = e.clone();
            let (c, _) = ddl::sorted_index_columns(def, std::slice::from_ref(&one))?;
            columns.push(c[0]);
            exprs.push(None);
        } else {
            let sql = super::checks::normalized(e);
            let t = crate::checks::expression_type(&reader.schema(), &sql)?;
            ddl::from_arrow(&t)?;
            let first = super::checks::mentioned(def, e)
                .first()
                .and_then(|n| def.columns.iter().position(|c| c.name == *n))
                .ok_or_else(|| {
                    Error::unsupported(format!("an index on {sql}, which names no column"))
                })?;
            columns.push(first);
            exprs.push(Some(sql));
        }
        let mut bare = k.clone();
        let column = &def.columns[columns[columns.len() - 1]].name;
        bare.column.expr = ast::Expr::Identifier(ast::Ident::with_quote('"', column));
        plain.push(bare);
    }
    // The options, as for plain columns.
    let (_, options) = ddl::sorted_index_columns(def, &plain)?;
    if exprs.iter().all(Option::is_none) {
        exprs.clear();
    }
    Ok(IndexKeys {
        columns,
        options,
        expressions: exprs,
    })
}

/// What `index_keys` reads: `IndexDef`'s fields of the same names.
struct IndexKeys {
    columns: Vec<usize>,
    options: Vec<i16>,
    expressions: Vec<Option<String>>,
}

impl Session {
    /// CREATE [UNIQUE] INDEX, in the open transaction.
    pub(super) async fn create_index(&mut self, ci: &ast::CreateIndex) -> Result<()> {
        if let Some(using) = &ci.using {
            let method = using.to_string().to_lowercase();
            // Every index is a learned one; `learned` names it so, and dumps of servers before the
            // catalog said btree carry it.
            if !matches!(method.as_str(), "btree" | "hash" | "learned") {
                return Err(Error::unsupported(format!("index access method {method}")));
            }
        }
        if ci.nulls_distinct == Some(false) {
            return Err(Error::unsupported("NULLS NOT DISTINCT"));
        }
        let table = self.names().lookup(&ci.table_name)?;
        let (schema, relname) = crate::search_path::split(&table);
        let (schema, relname) = (schema.to_string(), relname.to_string());
        let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &table)?
            .ok_or_else(|| {
                Error::sql(
                    code::UNDEFINED_TABLE,
                    format!("relation \"{relname}\" does not exist"),
                )
            })?;
        let IndexKeys {
            columns,
            options,
            expressions,
        } = index_keys(&reader, &ci.columns)?;
        let predicate = match &ci.predicate {
            Some(p) => Some(self.index_predicate(&reader, p)?),
            None => None,
        };
        for i in &ci.include {
            ddl::column_at(reader.def(), &ddl::ident(i))?;
        }
        let name = match &ci.name {
            Some(n) => {
                let Some(ast::ObjectNamePart::Identifier(last)) = n.0.last() else {
                    return Err(Error::sql(code::SYNTAX_ERROR, "invalid index name"));
                };
                ddl::ident(last)
            }
            None => self.free_name(
                &schema,
                &generated_name(&relname, reader.def(), &columns, "idx"),
            ),
        };
        let def = IndexDef {
            id: 0,
            name: crate::search_path::storage_name(&schema, &name),
            table_id: 0,
            columns,
            unique: ci.unique,
            constraint: None,
            primary: false,
            options,
            predicate,
            expressions,
        };
        let r = self
            .with_locks(|t| t.create_index(&table, def.clone()))
            .await;
        match r {
            Err(Error::Storage(omendb_storage::Error::TableExists(_))) if ci.if_not_exists => {
                self.notice(
                    "42P07",
                    format!("relation \"{name}\" already exists, skipping"),
                );
                Ok(())
            }
            r => r,
        }
    }

    /// A partial index's WHERE as stored: checked to be a boolean over the table's columns that PostgreSQL
    /// would take (no subquery, aggregate or window, 0A000 / 42P17 as it words them).
    fn index_predicate(
        &self,
        reader: &omendb_storage::TableReader,
        p: &ast::Expr,
    ) -> Result<String> {
        let sql = super::checks::normalized(p);
        let mut bad = None;
        let _ = ast::visit_expressions(p, |e| {
            match e {
                ast::Expr::Subquery(_)
                | ast::Expr::Exists { .. }
                | ast::Expr::InSubquery { .. } => {
                    bad = Some(Error::sql(
                        code::FEATURE_NOT_SUPPORTED,
                        "cannot use subquery in index predicate",
                    ));
                }
                _ => {}
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        if let Some(e) = bad {
            return Err(e);
        }
        crate::checks::predicate_type(&reader.schema(), &sql)?;
        Ok(sql)
    }

    /// A UNIQUE constraint on `columns` of `table` (storage name): its index, named `name` or
    /// PostgreSQL's `<table>_<cols>_key`. With `primary`, the table's PRIMARY KEY where the learned key
    /// cannot be (several columns, or a type keys cannot have), named `<table>_pkey` by default.
    pub(super) async fn add_unique(
        &mut self,
        table: &str,
        def: &TableDef,
        columns: Vec<usize>,
        name: Option<String>,
        primary: bool,
    ) -> Result<()> {
        let (schema, relname) = crate::search_path::split(table);
        let (schema, relname) = (schema.to_string(), relname.to_string());
        let name = match name {
            Some(n) => n,
            None if primary => self.free_name(&schema, &format!("{relname}_pkey")),
            None => self.free_name(&schema, &generated_name(&relname, def, &columns, "key")),
        };
        let index = IndexDef {
            id: 0,
            name: crate::search_path::storage_name(&schema, &name),
            table_id: 0,
            columns,
            unique: true,
            constraint: Some(name),
            primary,
            options: vec![],
            predicate: None,
            expressions: vec![],
        };
        self.with_locks(|t| t.create_index(table, index.clone()))
            .await
    }

    /// DROP INDEX name [, ...].
    pub(super) async fn drop_indexes(
        &mut self,
        names: &[ObjectName],
        if_exists: bool,
    ) -> Result<()> {
        for n in names {
            let (relname, candidates) = self.candidates(n)?;
            let found = {
                let v = self.view.lock();
                let txn = v.txn.as_ref().expect("DDL runs in a transaction");
                let all = txn.indexes();
                candidates.into_iter().find_map(|c| {
                    all.iter()
                        .find(|(_, i)| i.name == c)
                        .map(|(_, i)| i.clone())
                })
            };
            match found {
                Some(i) if i.constraint.is_some() => {
                    let table = self.table_of_index(&i);
                    return Err(Error::sql(
                        "2BP01",
                        format!(
                            "cannot drop index {relname} because constraint {} on table {table} requires it",
                            i.constraint.as_deref().unwrap_or_default()
                        ),
                    )
                    .with_hint(format!(
                        "You can drop constraint {} on table {table} instead.",
                        i.constraint.as_deref().unwrap_or_default()
                    )));
                }
                Some(i) => self.with_locks(|t| t.drop_index(&i.name)).await?,
                None if if_exists => self.notice(
                    "00000",
                    format!("index \"{relname}\" does not exist, skipping"),
                ),
                None => {
                    return Err(Error::sql(
                        code::UNDEFINED_OBJECT,
                        format!("index \"{relname}\" does not exist"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The relation name of `n` and the storage names it may stand for: its schema's, or each of the
    /// search path's in order.
    pub(super) fn candidates(&self, n: &ObjectName) -> Result<(String, Vec<String>)> {
        let (schema, relname) = crate::search_path::parts(n)?;
        let candidates = match schema {
            Some(s) => vec![crate::search_path::storage_name(&s, &relname)],
            None => self
                .names()
                .path()
                .iter()
                .map(|s| crate::search_path::storage_name(s, &relname))
                .collect(),
        };
        Ok((relname, candidates))
    }

    /// The relation name of the table an index is on.
    fn table_of_index(&self, index: &IndexDef) -> String {
        let v = self.view.lock();
        let txn = v.txn.as_ref().expect("DDL runs in a transaction");
        txn.indexes()
            .into_iter()
            .find(|(_, i)| i.name == index.name)
            .map(|(t, _)| crate::search_path::split(&t).1.to_string())
            .unwrap_or_default()
    }

    /// `name`, or `name1`, `name2`, ... : the first no relation of `schema` has (PostgreSQL's rule for
    /// generated index names).
    fn free_name(&self, schema: &str, name: &str) -> String {
        let v = self.view.lock();
        let Some(txn) = v.txn.as_ref() else {
            return name.to_string();
        };
        let indexes = txn.indexes();
        let taken = |n: &str| {
            let storage = crate::search_path::storage_name(schema, n);
            txn.table_names().contains(&storage)
                || txn.sequence(&storage).is_some()
                || indexes.iter().any(|(_, i)| i.name == storage)
        };
        if !taken(name) {
            return name.to_string();
        }
        (1..)
            .map(|i| format!("{name}{i}"))
            .find(|n| !taken(n))
            .expect("some suffix is free")
    }
}
