//! ALTER TABLE. Every action of the statement edits one new definition of the table and, for each of its
//! columns, the SQL expression that computes the column from an old row (the old column, a DEFAULT, a
//! `USING` conversion). The table is then rewritten once, in the transaction: the engine empties it under
//! its new definition (same table, same OID) and the old rows, converted, are written back, so constraints
//! (NOT NULL, a new primary key's uniqueness, varchar lengths) are checked as for any write, and the whole
//! statement commits or rolls back with the transaction. A statement that changes no stored value
//! (renames, defaults, DROP NOT NULL, a longer varchar, ADD COLUMN with a constant or no DEFAULT) is
//! only a new definition instead, as in PostgreSQL (`unrewritten`; docs/storage.md lists both kinds).

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use datafusion::common::DFSchema;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, ExprSchemable, cast, lit};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::prelude::Column;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation as Op, TableConstraint,
};
use omendb_storage::{ColumnDef, DataType, KeyRange, SequenceDef, TableDef};

use super::Session;
use crate::ddl;
use crate::error::{Error, Result, code};

/// A column of the new definition and how its values come from an old row.
struct NewColumn {
    def: ColumnDef,
    value: Expr,
    /// The old column it carries (its indexes follow it), if any.
    origin: Option<usize>,
}

/// What the actions of one ALTER TABLE add up to.
struct Plan {
    name: String,
    relname: String,
    columns: Vec<NewColumn>,
    primary_key: Option<String>,
    /// A primary key added here: duplicates are "could not create unique index".
    new_key: bool,
    sequences: Vec<SequenceDef>,
    /// The table's identity columns before this statement.
    identities: Vec<String>,
    /// Columns dropped here: the sequences they own go with them.
    dropped: Vec<String>,
    /// UNIQUE constraints added here: name (if given), column names, and whether it is the primary key
    /// (one that cannot be the learned key: several columns, or a type keys cannot have).
    add_unique: Vec<(Option<String>, Vec<String>, bool)>,
    /// The table has such a primary key (an index).
    indexed_key: bool,
    /// UNIQUE constraints dropped here: their index storage names.
    drop_unique: Vec<String>,
    /// FOREIGN KEYs added here (with the column of a column-form one); FOREIGN KEY and CHECK
    /// constraints dropped here (by name).
    add_fk: Vec<(Option<String>, ast::ForeignKeyConstraint)>,
    drop_fk: Vec<String>,
    /// CHECK constraints added here: name, expression, whether existing rows are validated.
    add_check: Vec<(Option<String>, ast::Expr, bool)>,
    /// Partial indexes made again (dropped first) with a WHERE that names renamed columns.
    remade_indexes: Vec<omendb_storage::IndexDef>,
    /// An action that changes the rows or the definition (not only constraints backed by indexes).
    rewrite: bool,
}

impl Plan {
    fn position(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.def.name == name)
            .ok_or_else(|| {
                Error::sql(
                    code::UNDEFINED_COLUMN,
                    format!(
                        "column \"{name}\" of relation \"{}\" does not exist",
                        self.relname
                    ),
                )
            })
    }

    fn column_exists(&self, name: &str) -> Error {
        Error::sql(
            "42701",
            format!(
                "column \"{name}\" of relation \"{}\" already exists",
                self.relname
            ),
        )
    }

    fn set_primary_key(&mut self, name: Option<String>, columns: &[String]) -> Result<()> {
        if self.primary_key.is_some() || self.indexed_key {
            return Err(Error::sql(
                code::INVALID_TABLE_DEFINITION,
                format!(
                    "multiple primary keys for table \"{}\" are not allowed",
                    self.relname
                ),
            ));
        }
        for column in columns {
            let i = self.position(column)?;
            self.columns[i].def.nullable = false;
        }
        match columns {
            [column]
                if self.columns[self.position(column)?]
                    .def
                    .data_type
                    .key_kind()
                    .is_some() =>
            {
                self.primary_key = Some(column.clone());
                self.new_key = true;
            }
            _ => {
                self.add_unique.push((name, columns.to_vec(), true));
                self.indexed_key = true;
            }
        }
        Ok(())
    }

    fn definition(&self) -> TableDef {
        TableDef {
            name: self.name.clone(),
            columns: self.columns.iter().map(|c| c.def.clone()).collect(),
            primary_key: self
                .primary_key
                .as_ref()
                .and_then(|k| self.columns.iter().position(|c| &c.def.name == k)),
        }
    }
}

/// Whether PostgreSQL converts `from` to `to` without a USING clause (an assignment cast): within the
/// numbers, within the strings, anything to a string, and between the date/time types.
fn assignment_cast(from: DataType, to: DataType) -> bool {
    use DataType as T;
    let number = |t| {
        matches!(
            t,
            T::SmallInt | T::Integer | T::BigInt | T::Real | T::Double | T::Numeric { .. }
        )
    };
    let string = |t| matches!(t, T::Text | T::Varchar { .. } | T::Char { .. });
    let time = |t| matches!(t, T::Timestamp | T::TimestampTz | T::Date);
    from == to
        || (number(from) && number(to))
        || (string(to) && from != T::Bytea)
        || (time(from) && time(to))
}

/// The column names of a key's column list (expressions are refused).
fn column_names(columns: &[ast::IndexColumn], what: &str) -> Result<Vec<String>> {
    columns
        .iter()
        .map(|ic| match &ic.column.expr {
            ast::Expr::Identifier(i) => Ok(ddl::ident(i)),
            other => Err(Error::unsupported(format!(
                "{what} on the expression {other}"
            ))),
        })
        .collect()
}

/// An old column as an expression (by its exact name: no identifier folding).
fn old_column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

impl Session {
    /// ALTER TABLE, in the open transaction.
    /// An ALTER of relation `relname`, which does not exist: PostgreSQL's NOTICE and nothing done under IF
    /// EXISTS, 42P01 otherwise.
    pub(super) fn missing_relation(&mut self, relname: &str, if_exists: bool) -> Result<()> {
        if if_exists {
            self.notice(
                "00000",
                format!("relation \"{relname}\" does not exist, skipping"),
            );
            return Ok(());
        }
        Err(undefined_relation(relname))
    }

    /// ALTER TABLE's actions on the table's definition (`rename.rs` routes here).
    pub(super) async fn alter_table_definition(&mut self, at: &ast::AlterTable) -> Result<()> {
        if at.location.is_some() || at.on_cluster.is_some() || at.table_type.is_some() {
            return Err(Error::unsupported(format!(
                "ALTER TABLE form {}",
                super::first_words(&at.to_string())
            )));
        }
        if let [Op::OwnerTo { new_owner }] = at.operations.as_slice() {
            return self.alter_owner(at, new_owner);
        }
        let renames = at.operations.iter().any(|op| {
            matches!(
                op,
                Op::RenameColumn { .. } | Op::RenameTable { .. } | Op::RenameConstraint { .. }
            )
        });
        if renames && at.operations.len() > 1 {
            // PostgreSQL's grammar takes RENAME only as the one action of its statement.
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                "syntax error at or near \",\"",
            ));
        }
        let storage = self.names().lookup(&at.name)?;
        let relname = crate::search_path::split(&storage).1.to_string();
        let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &storage)?;
        let Some(reader) = reader else {
            return self.missing_relation(&relname, at.if_exists);
        };
        let old = reader.def().clone();
        let table_id = reader.id();
        let mut plan = Plan {
            name: storage.clone(),
            relname: relname.clone(),
            columns: old
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| NewColumn {
                    def: c.clone(),
                    value: old_column(&c.name),
                    origin: Some(i),
                })
                .collect(),
            primary_key: old.primary_key.map(|i| old.columns[i].name.clone()),
            new_key: false,
            sequences: vec![],
            identities: {
                let v = self.view.lock();
                let txn = v.txn.as_ref().expect("DDL runs in a transaction");
                txn.sequences()
                    .iter()
                    .filter(|s| s.identity.is_some())
                    .filter_map(|s| match &s.owned_by {
                        Some((t, c)) if *t == table_id => Some(c.clone()),
                        _ => None,
                    })
                    .collect()
            },
            dropped: vec![],
            add_unique: vec![],
            indexed_key: reader.indexes().iter().any(|i| i.primary),
            drop_unique: vec![],
            add_fk: vec![],
            drop_fk: vec![],
            add_check: vec![],
            remade_indexes: vec![],
            rewrite: false,
        };
        let named_constraints: Vec<String> = reader
            .foreign_keys()
            .iter()
            .map(|f| f.name.clone())
            .chain(reader.checks().iter().map(|c| c.name.clone()))
            .collect();
        let unique_indexes: Vec<omendb_storage::IndexDef> = reader
            .indexes()
            .iter()
            .filter(|i| i.constraint.is_some())
            .map(|i| (**i).clone())
            .collect();
        let old_schema = DFSchema::try_from(reader.schema().as_ref().clone())?;
        for op in &at.operations {
            let constraint_only = matches!(
                op,
                Op::AddConstraint {
                    constraint: TableConstraint::Unique(_)
                        | TableConstraint::ForeignKey(_)
                        | TableConstraint::Check(_),
                    ..
                }
            ) || matches!(op, Op::DropConstraint { name, .. }
                if unique_indexes.iter().any(|i| i.constraint.as_deref() == Some(ddl::ident(name).as_str()))
                    || named_constraints.contains(&ddl::ident(name)));
            plan.rewrite |= !constraint_only;
            self.alter_action(
                &mut plan,
                op,
                &old_schema,
                &unique_indexes,
                &named_constraints,
            )?;
        }
        let renamed: Vec<(String, String)> = plan
            .columns
            .iter()
            .filter_map(|c| {
                let from = &old.columns[c.origin?].name;
                (*from != c.def.name).then(|| (from.clone(), c.def.name.clone()))
            })
            .collect();
        use super::checks::{Follow, follow};
        for c in reader.checks().iter() {
            match follow(&old, &c.sql, &renamed, &plan.dropped) {
                Follow::Keep => {}
                Follow::Drop => plan.drop_fk.push(c.name.clone()),
                Follow::Renamed(e) => {
                    plan.drop_fk.push(c.name.clone());
                    plan.add_check.push((Some(c.name.clone()), *e, false));
                }
            }
        }
        // Partial indexes' WHERE and indexed expressions follow their columns the same way: the index
        // goes, or is made again with the new names.
        for ix in reader.indexes().iter().filter(|i| !i.plain()) {
            let mut def = (**ix).clone();
            let (mut gone, mut changed) = (false, false);
            for sql in def
                .predicate
                .iter_mut()
                .chain(def.expressions.iter_mut().flatten())
            {
                match follow(&old, sql, &renamed, &plan.dropped) {
                    Follow::Keep => {}
                    Follow::Drop => gone = true,
                    Follow::Renamed(e) => {
                        *sql = e.to_string();
                        changed = true;
                    }
                }
            }
            if gone || changed {
                plan.drop_unique.push(ix.name.clone());
            }
            if changed && !gone {
                plan.remade_indexes.push(omendb_storage::IndexDef {
                    id: 0,
                    table_id: 0,
                    ..def
                });
            }
        }
        for name in &plan.drop_unique {
            self.with_locks(|t| t.drop_index(name)).await?;
        }
        for name in &plan.drop_fk {
            if !self.drop_check(&storage, name).await? {
                self.with_locks(|t| t.drop_foreign_key(&storage, name))
                    .await?;
            }
        }
        if !plan.rewrite {
            return self.add_uniques(&plan).await;
        }
        if let Some(def) = self.unrewritten(&plan, &old, &old_schema)?
            && self
                .with_locks(|t| t.redefine_table(&storage, def.clone()))
                .await?
        {
            return self.add_uniques(&plan).await;
        }
        let def = plan.definition();
        let origins: Vec<Option<usize>> = plan.columns.iter().map(|c| c.origin).collect();
        let old_rows = self
            .with_locks(|t| t.reshape_table(&storage, def.clone(), &origins))
            .await?;
        {
            // A new SERIAL column's sequence numbers the existing rows.
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            for s in &plan.sequences {
                let mut s = s.clone();
                if let Some((_, c)) = s.owned_by.take() {
                    s.owned_by = Some((table_id, c));
                }
                txn.create_sequence(s)?;
            }
        }
        self.rewrite(&plan, &old_rows, &old_schema).await?;
        {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            for s in txn.sequences() {
                if matches!(&s.owned_by, Some((id, c)) if *id == table_id && plan.dropped.contains(c))
                {
                    txn.drop_sequence(&s.name)?;
                }
            }
        }
        self.add_uniques(&plan).await
    }

    /// The UNIQUE and FOREIGN KEY constraints the statement adds, over the table's new definition.
    async fn add_uniques(&mut self, plan: &Plan) -> Result<()> {
        let def = plan.definition();
        for (name, columns, primary) in &plan.add_unique {
            let positions = columns
                .iter()
                .map(|c| ddl::column_at(&def, c))
                .collect::<Result<Vec<_>>>()?;
            self.add_unique(&plan.name, &def, positions, name.clone(), *primary)
                .await?;
        }
        for (column, fk) in &plan.add_fk {
            self.add_foreign_key(&plan.name, &def, fk, column.as_deref())
                .await?;
        }
        for (name, expr, validate) in &plan.add_check {
            self.add_check(&plan.name, &def, name.clone(), expr, *validate)
                .await?;
        }
        for index in &plan.remade_indexes {
            self.with_locks(|t| t.create_index(&plan.name, index.clone()))
                .await?;
        }
        Ok(())
    }

    fn alter_action(
        &mut self,
        plan: &mut Plan,
        op: &Op,
        old: &DFSchema,
        unique_indexes: &[omendb_storage::IndexDef],
        named_constraints: &[String],
    ) -> Result<()> {
        match op {
            Op::AddColumn {
                if_not_exists,
                column_def,
                column_position: None,
                ..
            } => {
                let (def, primary) = ddl::column_def(column_def, &plan.name)?;
                if plan.columns.iter().any(|c| c.def.name == def.name) {
                    if *if_not_exists {
                        let e = plan.column_exists(&def.name);
                        self.notice("42701", format!("{}, skipping", e.message()));
                        return Ok(());
                    }
                    return Err(plan.column_exists(&def.name));
                }
                plan.sequences
                    .extend(ddl::owned_sequence(column_def, &plan.name)?);
                let value = match &def.default {
                    Some(sql) => self.ctx.parse_sql_expr(
                        &crate::pg_catalog::syntax::expression_sql(sql),
                        &DFSchema::empty(),
                    )?,
                    None => lit(ScalarValue::Null),
                };
                let name = def.name.clone();
                for o in &column_def.options {
                    match &o.option {
                        ast::ColumnOption::Unique(_) => {
                            plan.add_unique.push((None, vec![name.clone()], false));
                        }
                        ast::ColumnOption::ForeignKey(f) => {
                            plan.add_fk.push((Some(name.clone()), f.clone()));
                        }
                        ast::ColumnOption::Check(c) => {
                            let cname = o.name.as_ref().or(c.name.as_ref()).map(ddl::ident);
                            plan.add_check.push((cname, (*c.expr).clone(), true));
                        }
                        _ => {}
                    }
                }
                plan.columns.push(NewColumn {
                    def,
                    value,
                    origin: None,
                });
                if primary {
                    plan.set_primary_key(None, &[name])?;
                }
            }
            Op::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for c in column_names {
                    let name = ddl::ident(c);
                    let i = match plan.position(&name) {
                        Ok(i) => i,
                        Err(e) if *if_exists => {
                            self.notice("00000", format!("{}, skipping", e.message()));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    if plan.columns.len() == 1 {
                        return Err(Error::unsupported(
                            "dropping a table's last column (a table needs at least one column)",
                        ));
                    }
                    plan.columns.remove(i);
                    if plan.primary_key.as_deref() == Some(name.as_str()) {
                        plan.primary_key = None;
                    }
                    plan.dropped.push(name);
                }
            }
            Op::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let (from, to) = (ddl::ident(old_column_name), ddl::ident(new_column_name));
                let i = plan.position(&from)?;
                if plan.columns.iter().any(|c| c.def.name == to) {
                    return Err(plan.column_exists(&to));
                }
                plan.columns[i].def.name = to.clone();
                if plan.primary_key.as_deref() == Some(from.as_str()) {
                    plan.primary_key = Some(to);
                }
            }
            Op::RenameTable { table_name } => {
                let (schema, relname) = crate::search_path::split(&plan.name);
                let (schema, relname) = match super::rename::target(table_name)? {
                    super::rename::Target::Name(n) => (schema.to_string(), n),
                    super::rename::Target::Schema(s) => (s, relname.to_string()),
                };
                plan.name = crate::search_path::storage_name(&schema, &relname);
                plan.relname = relname;
            }
            Op::AlterColumn { column_name, op } => {
                let name = ddl::ident(column_name);
                let i = plan.position(&name)?;
                let is_key = plan.primary_key.as_deref() == Some(name.as_str());
                let c = &mut plan.columns[i];
                match op {
                    AlterColumnOperation::SetNotNull => c.def.nullable = false,
                    AlterColumnOperation::DropNotNull if is_key => {
                        return Err(Error::sql(
                            code::INVALID_TABLE_DEFINITION,
                            format!("column \"{name}\" is in a primary key"),
                        ));
                    }
                    AlterColumnOperation::DropNotNull => c.def.nullable = true,
                    AlterColumnOperation::SetDefault { value } => {
                        c.def.default = Some(value.to_string())
                    }
                    AlterColumnOperation::DropDefault => c.def.default = None,
                    AlterColumnOperation::SetDataType {
                        data_type, using, ..
                    } => {
                        let ty = ddl::column_type(data_type)?;
                        if is_key && ty.key_kind().is_none() {
                            return Err(Error::sql(
                                code::INVALID_TABLE_DEFINITION,
                                format!(
                                    "a primary key must be an integer, date, timestamp, text or bytea column; \"{name}\" would be {}",
                                    ty.name()
                                ),
                            ));
                        }
                        match using {
                            Some(u) => {
                                c.value = self.ctx.parse_sql_expr(
                                    &crate::pg_catalog::syntax::expression_sql(&u.to_string()),
                                    old,
                                )?
                            }
                            None if !assignment_cast(c.def.data_type, ty) => {
                                return Err(Error::sql(
                                    code::DATATYPE_MISMATCH,
                                    format!(
                                        "column \"{name}\" cannot be cast automatically to type {}",
                                        ty.name()
                                    ),
                                )
                                .with_hint(format!(
                                    "You might need to specify \"USING {name}::{}\".",
                                    ty.name()
                                )));
                            }
                            None => {}
                        }
                        c.def.data_type = ty;
                    }
                    AlterColumnOperation::AddGenerated {
                        generated_as,
                        sequence_options,
                    } => {
                        if matches!(generated_as, Some(ast::GeneratedAs::Always)) {
                            return Err(Error::unsupported(
                                "GENERATED ALWAYS AS IDENTITY (GENERATED BY DEFAULT AS IDENTITY is supported)",
                            ));
                        }
                        let relname = plan.relname.clone();
                        let not_yet = |m: String| Err(Error::sql("55000", m));
                        if plan.identities.contains(&name) {
                            return not_yet(format!(
                                "column \"{name}\" of relation \"{relname}\" is already an identity column"
                            ));
                        }
                        if c.def.nullable && !is_key {
                            return not_yet(format!(
                                "column \"{name}\" of relation \"{relname}\" must be declared NOT NULL before identity can be added"
                            ));
                        }
                        if c.def.default.is_some() {
                            return not_yet(format!(
                                "column \"{name}\" of relation \"{relname}\" already has a default value"
                            ));
                        }
                        if !matches!(
                            c.def.data_type,
                            DataType::SmallInt | DataType::Integer | DataType::BigInt
                        ) {
                            return Err(Error::sql(
                                code::INVALID_PARAMETER_VALUE,
                                "identity column type must be smallint, integer, or bigint",
                            ));
                        }
                        let mut def = crate::sequences::definition(
                            ddl::owned_sequence_name(&plan.name, &name),
                            c.def.data_type,
                            sequence_options.as_deref().unwrap_or_default(),
                        )?;
                        def.owned_by = Some((0, name.clone()));
                        def.identity = Some(false);
                        c.def.default = Some(ddl::nextval_default(&plan.name, &name));
                        plan.sequences.push(def);
                    }
                }
            }
            Op::AddConstraint {
                constraint: TableConstraint::PrimaryKey(p),
                ..
            } => {
                let columns = column_names(&p.columns, "a primary key")?;
                plan.set_primary_key(p.name.as_ref().map(ddl::ident), &columns)?;
            }
            Op::AddConstraint {
                constraint: TableConstraint::Unique(u),
                ..
            } => {
                let columns = column_names(&u.columns, "a unique constraint")?;
                for c in &columns {
                    plan.position(c)?;
                }
                plan.add_unique
                    .push((u.name.as_ref().map(ddl::ident), columns, false));
            }
            Op::AddConstraint {
                constraint: TableConstraint::ForeignKey(f),
                ..
            } => plan.add_fk.push((None, f.clone())),
            Op::AddConstraint {
                constraint: TableConstraint::Check(c),
                not_valid,
            } => plan.add_check.push((
                c.name.as_ref().map(ddl::ident),
                (*c.expr).clone(),
                !*not_valid,
            )),
            Op::DropConstraint {
                if_exists, name, ..
            } => {
                let name = ddl::ident(name);
                if named_constraints.contains(&name) {
                    plan.drop_fk.push(name);
                } else if let Some(i) = unique_indexes
                    .iter()
                    .find(|i| i.constraint.as_deref() == Some(name.as_str()))
                {
                    plan.indexed_key &= !i.primary;
                    plan.drop_unique.push(i.name.clone());
                } else if plan.primary_key.is_some() && name == format!("{}_pkey", plan.relname) {
                    plan.primary_key = None;
                } else {
                    let e = Error::sql(
                        code::UNDEFINED_OBJECT,
                        format!(
                            "constraint \"{name}\" of relation \"{}\" does not exist",
                            plan.relname
                        ),
                    );
                    if !*if_exists {
                        return Err(e);
                    }
                    self.notice("00000", format!("{}, skipping", e.message()));
                }
            }
            other => {
                return Err(Error::unsupported(format!(
                    "ALTER TABLE ... {}",
                    super::first_words(&other.to_string())
                )));
            }
        }
        Ok(())
    }

    /// The new definition when no stored value changes, so the engine can take it without a rewrite
    /// (`WriteTxn::redefine_table`, which may still refuse): every old column stays in place with its
    /// values, and every added column's DEFAULT folds to a constant, which becomes the value the existing
    /// rows read (`ColumnDef::missing`). `now()` folds to the transaction's start, as in PostgreSQL;
    /// a volatile default (`random()`, `nextval`) does not fold and so rewrites.
    fn unrewritten(
        &self,
        plan: &Plan,
        old: &TableDef,
        old_schema: &DFSchema,
    ) -> Result<Option<TableDef>> {
        if !plan.sequences.is_empty() || !plan.dropped.is_empty() || plan.new_key {
            return Ok(None);
        }
        let simplifier = self.simplifier(old_schema);
        let mut def = plan.definition();
        for (i, c) in plan.columns.iter().enumerate() {
            match c.origin {
                Some(o) if o == i && c.value == old_column(&old.columns[o].name) => {}
                Some(_) => return Ok(None),
                None => {
                    let to = c.def.data_type.arrow();
                    let value = simplifier
                        .simplify(simplifier.coerce(cast(c.value.clone(), to), old_schema)?)?;
                    let Expr::Literal(scalar, _) = value else {
                        return Ok(None);
                    };
                    let mut v = omendb_storage::value_at(scalar.to_array()?.as_ref(), 0);
                    if let omendb_storage::Value::Text(s) = &mut v
                        && let Some(fitted) = c.def.data_type.fit_text(s)?
                    {
                        *s = fitted;
                    }
                    def.columns[i].missing = (v != omendb_storage::Value::Null).then_some(v);
                }
            }
        }
        Ok(Some(def))
    }

    /// Folds constant expressions over the old rows' schema; `now()` is the transaction's start, as
    /// everywhere else (DataFusion folds it while simplifying: its physical form cannot run).
    fn simplifier(&self, old: &DFSchema) -> ExprSimplifier {
        let state = self.ctx.state();
        let start = self
            .xact_start()
            .and_then(chrono::DateTime::from_timestamp_micros)
            .unwrap_or_else(chrono::Utc::now);
        ExprSimplifier::new(
            SimplifyContext::builder()
                .with_schema(Arc::new(old.clone()))
                .with_config_options(Arc::clone(state.config_options()))
                .with_query_execution_start_time(Some(start))
                .build(),
        )
    }

    /// Writes `old_rows`, converted, into the reshaped table.
    async fn rewrite(
        &mut self,
        plan: &Plan,
        old_rows: &omendb_storage::TableReader,
        old: &DFSchema,
    ) -> Result<()> {
        let state = self.ctx.state();
        let simplifier = self.simplifier(old);
        let mut exprs = Vec::with_capacity(plan.columns.len());
        for c in &plan.columns {
            let to = c.def.data_type.arrow();
            let value = if c.value.get_type(old)? == to {
                c.value.clone()
            } else {
                cast(c.value.clone(), to)
            };
            let value = simplifier.simplify(simplifier.coerce(value, old)?)?;
            exprs.push(state.create_physical_expr(value, old)?);
        }
        let schema = {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            txn.table(&plan.name)?.schema()
        };
        for batch in old_rows.scan(KeyRange::all())? {
            let batch = batch?;
            let n = batch.num_rows();
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(exprs.len());
            for (e, c) in exprs.iter().zip(&plan.columns) {
                let a = e.evaluate(&batch)?.into_array(n)?;
                if !c.def.nullable && a.null_count() > 0 {
                    return Err(Error::sql(
                        code::NOT_NULL_VIOLATION,
                        format!(
                            "column \"{}\" of relation \"{}\" contains null values",
                            c.def.name, plan.relname
                        ),
                    ));
                }
                columns.push(a);
            }
            let converted = RecordBatch::try_new(Arc::clone(&schema), columns)
                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
            match self
                .with_locks(|t| t.insert_batch(&plan.name, &converted))
                .await
            {
                Err(Error::Storage(omendb_storage::Error::DuplicateKey { key, .. }))
                    if plan.new_key =>
                {
                    return Err(Error::sql(
                        code::UNIQUE_VIOLATION,
                        format!("could not create unique index \"{}_pkey\"", plan.relname),
                    )
                    .with_detail(format!("Key {key} is duplicated.")));
                }
                r => r?,
            }
        }
        Ok(())
    }
}

/// PostgreSQL's error for a relation that does not exist.
pub(super) fn undefined_relation(relname: &str) -> Error {
    Error::sql(
        code::UNDEFINED_TABLE,
        format!("relation \"{relname}\" does not exist"),
    )
}
