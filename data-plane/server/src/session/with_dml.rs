//! Data-modifying statements in WITH (`WITH d AS (DELETE ... RETURNING *) INSERT INTO log SELECT * FROM d`).
//! Each INSERT / UPDATE / DELETE in the WITH runs first, in order and in the statement's transaction, and
//! its RETURNING rows stand in for the CTE in the main statement (a VALUES list of typed constants; a later
//! data-modifying CTE that is an INSERT ... SELECT sees the earlier ones too), which is then planned and run.
//! The statement is described before it runs by the main statement planned over empty stand-ins of the same
//! columns. Unlike PostgreSQL's, the main statement sees what the sub-statements changed in their tables.

use std::sync::Arc;

use arrow_schema::{DataType, Field};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, Cte, Query, SetExpr, Statement};

use super::{Output, Prepared, Session, Tx};
use crate::error::{Error, Result, code};

/// A statement's data-modifying CTEs, taken out, and the rest of it.
#[derive(Debug)]
pub struct WithDml {
    /// Each CTE's name, its column list as written (may be empty) and its statement, in order.
    subs: Vec<(ast::TableAlias, Statement)>,
    /// The statement without them (its other CTEs kept).
    main: Statement,
    /// The other CTEs, which the data-modifying ones may read too.
    plain: Vec<Cte>,
    declared: Vec<Option<pgwire::api::Type>>,
}

/// The query whose WITH a statement's CTEs are in: a SELECT's own, an INSERT's source's.
fn with_query(stmt: &mut Statement) -> Option<&mut Query> {
    match stmt {
        Statement::Query(q) => Some(q),
        Statement::Insert(i) => i.source.as_deref_mut(),
        _ => None,
    }
}

/// `stmt` with `ctes` put first in its WITH (one is made if it has none); a WITH left empty goes. An
/// UPDATE or DELETE is put under a WITH of its own (`dml_ctes.rs` carries it in).
fn with_ctes(mut stmt: Statement, ctes: &[Cte]) -> Statement {
    if matches!(stmt, Statement::Update(_) | Statement::Delete(_)) {
        if ctes.is_empty() {
            return stmt;
        }
        let body = match stmt {
            Statement::Update(_) => SetExpr::Update(stmt),
            _ => SetExpr::Delete(stmt),
        };
        return Statement::Query(Box::new(Query {
            with: Some(ast::With {
                with_token: ast::helpers::attached_token::AttachedToken::empty(),
                recursive: false,
                cte_tables: ctes.to_vec(),
            }),
            body: Box::new(body),
            order_by: None,
            limit_clause: None,
            fetch: None,
            locks: vec![],
            for_clause: None,
            settings: None,
            format_clause: None,
            pipe_operators: vec![],
        }));
    }
    if let Some(q) = with_query(&mut stmt) {
        let with = q.with.get_or_insert_with(|| ast::With {
            with_token: ast::helpers::attached_token::AttachedToken::empty(),
            recursive: false,
            cte_tables: vec![],
        });
        let mut all = ctes.to_vec();
        all.append(&mut with.cte_tables);
        with.cte_tables = all;
        if with.cte_tables.is_empty() {
            q.with = None;
        }
    }
    stmt
}

/// `stmt` split into its data-modifying CTEs and the rest, if it has any.
pub fn split(stmt: &Statement, declared: &[Option<pgwire::api::Type>]) -> Option<WithDml> {
    let mut main = stmt.clone();
    let q = with_query(&mut main)?;
    let with = q.with.as_mut()?;
    let is_dml = |c: &Cte| {
        matches!(
            c.query.body.as_ref(),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_)
        )
    };
    if !with.cte_tables.iter().any(is_dml) {
        return None;
    }
    let mut subs = vec![];
    let mut kept = vec![];
    for c in std::mem::take(&mut with.cte_tables) {
        if is_dml(&c) {
            let stmt = match *c.query.body {
                SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => s,
                _ => unreachable!("checked above"),
            };
            subs.push((c.alias, stmt));
        } else {
            kept.push(c);
        }
    }
    let plain = kept.clone();
    with.cte_tables = kept;
    // `WITH ... INSERT INTO t SELECT ...`: the INSERT is the main statement, the CTEs its source's.
    if let Statement::Query(q) = &mut main
        && let SetExpr::Insert(Statement::Insert(ins)) = q.body.as_mut()
        && let Some(source) = ins.source.as_deref_mut()
        && source.with.is_none()
    {
        source.with = q.with.take();
        main = Statement::Insert(ins.clone());
    }
    Some(WithDml {
        subs,
        main,
        plain,
        declared: declared.to_vec(),
    })
}

/// A CTE standing in for a data-modifying one: its rows as typed constants (none: an empty relation of
/// the same columns).
fn stand_in(alias: &ast::TableAlias, fields: &[Arc<Field>], rows: &[Vec<String>]) -> Result<Cte> {
    let names: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| match alias.columns.get(i) {
            Some(c) => crate::ddl::ident(&c.name),
            None => f.name().clone(),
        })
        .collect();
    let quoted = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
    let sql = if rows.is_empty() {
        let cols: Vec<String> = fields
            .iter()
            .zip(&names)
            .map(|(f, n)| Ok(format!("CAST(NULL AS {}) AS {}", sql_type(f)?, quoted(n))))
            .collect::<Result<_>>()?;
        format!("SELECT {} WHERE false", cols.join(", "))
    } else {
        // One SELECT per row: DataFusion plans a VALUES list inside an INSERT's source against the
        // INSERT's table.
        let selects: Vec<String> = rows
            .iter()
            .map(|r| {
                let cols: Vec<String> = r
                    .iter()
                    .zip(&names)
                    .map(|(v, n)| format!("{v} AS {}", quoted(n)))
                    .collect();
                format!("SELECT {}", cols.join(", "))
            })
            .collect();
        selects.join(" UNION ALL ")
    };
    let Some(Statement::Query(query)) = super::parse(&sql)?.pop() else {
        return Err(Error::sql(code::INTERNAL, "a CTE stand-in did not parse"));
    };
    Ok(Cte {
        alias: ast::TableAlias {
            name: alias.name.clone(),
            columns: vec![],
            explicit: false,
            at: None,
        },
        query,
        from: None,
        materialized: None,
        closing_paren_token: ast::helpers::attached_token::AttachedToken::empty(),
    })
}

/// The SQL type a stand-in's column is cast to.
fn sql_type(f: &Field) -> Result<String> {
    if let Some(t) = crate::origins::marked_type(f) {
        match t {
            pgwire::api::Type::UUID => return Ok("uuid".into()),
            pgwire::api::Type::JSON => return Ok("json".into()),
            pgwire::api::Type::JSONB => return Ok("jsonb".into()),
            _ => {}
        }
    }
    Ok(match f.data_type() {
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Binary | DataType::LargeBinary => "bytea".into(),
        DataType::Date32 => "date".into(),
        DataType::Time64(_) => "time".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Decimal128(p, s) => format!("numeric({p},{s})"),
        DataType::Interval(_) => "interval".into(),
        DataType::List(item) => format!("{}[]", sql_type(item)?),
        other => {
            return Err(Error::unsupported(format!(
                "RETURNING a value of type {other} from a data-modifying statement in WITH"
            )));
        }
    })
}

/// One value as a typed SQL constant.
fn constant(v: &ScalarValue, f: &Field) -> Result<String> {
    let ty = sql_type(f)?;
    if v.is_null() {
        return Ok(format!("CAST(NULL AS {ty})"));
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    Ok(match v {
        ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b)) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("decode('{hex}', 'hex')")
        }
        ScalarValue::IntervalMonthDayNano(Some(i)) => format!(
            "CAST({} AS interval)",
            quote(
                &crate::intervals::Interval {
                    months: i.months,
                    days: i.days,
                    micros: i.nanoseconds / 1000,
                }
                .canonical()
            )
        ),
        ScalarValue::List(l) => {
            let items = l.value(0);
            let DataType::List(item) = f.data_type() else {
                return Err(Error::sql(
                    code::INTERNAL,
                    "a list value of a non-list field",
                ));
            };
            let elems: Vec<String> = (0..items.len())
                .map(|i| constant(&ScalarValue::try_from_array(&items, i)?, item))
                .collect::<Result<_>>()?;
            format!("CAST(make_array({}) AS {ty})", elems.join(", "))
        }
        v => format!("CAST({} AS {ty})", quote(&v.to_string())),
    })
}

impl Session {
    /// Prepares a statement with data-modifying CTEs: described by its main statement over empty
    /// stand-ins (each sub-statement is prepared to learn its columns).
    pub(super) async fn prepare_with_dml(&mut self, w: WithDml) -> Result<Prepared> {
        let mut stand_ins = vec![];
        // The statement's parameters: each one's type from whichever part uses it.
        let mut params: Vec<Option<DataType>> = vec![];
        let mut merge =
            |more: &[Option<DataType>]| super::locked_subqueries::merge_params(&mut params, more);
        for (alias, stmt) in &w.subs {
            let stmt = with_ctes(stmt.clone(), &[&stand_ins[..], &w.plain[..]].concat());
            let p = Box::pin(self.prepare_stmt(stmt, &w.declared)).await?;
            merge(&p.params);
            if let Some(schema) = &p.result {
                stand_ins.push(stand_in(alias, schema.fields(), &[])?);
            }
        }
        let main = with_ctes(w.main.clone(), &stand_ins);
        let p = Box::pin(self.prepare_stmt(main, &w.declared)).await?;
        merge(&p.params);
        Ok(p.with_dml(Arc::new(w), params))
    }

    /// Runs the sub-statements, then the main statement over their rows, all in one transaction.
    pub(super) async fn execute_with_dml(
        &mut self,
        w: Arc<WithDml>,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        let autocommit = self.tx == Tx::Idle;
        if autocommit {
            self.begin();
        }
        let r = self.run_with_dml(&w, params).await;
        self.finish_statement(r, autocommit).await
    }

    async fn run_with_dml(&mut self, w: &WithDml, params: Vec<ScalarValue>) -> Result<Output> {
        let mut done: Vec<Cte> = vec![];
        for (alias, stmt) in &w.subs {
            // A sub-statement may read the other CTEs and the data-modifying ones before it.
            let stmt = with_ctes(stmt.clone(), &[&done[..], &w.plain[..]].concat());
            let p = Box::pin(self.prepare_stmt(stmt, &w.declared)).await?;
            let n = p.params.len().min(params.len());
            let out = Box::pin(self.execute_inner_statement(&p, params[..n].to_vec()))
                .await?
                .collected()
                .await?;
            if let Output::Rows(schema, batches) = out {
                let mut rows = vec![];
                for b in &batches {
                    for i in 0..b.num_rows() {
                        let row = b
                            .columns()
                            .iter()
                            .zip(schema.fields())
                            .map(|(c, f)| constant(&ScalarValue::try_from_array(c, i)?, f))
                            .collect::<Result<Vec<_>>>()?;
                        rows.push(row);
                    }
                }
                done.push(stand_in(alias, schema.fields(), &rows)?);
            }
        }
        let main = with_ctes(w.main.clone(), &done);
        let p = Box::pin(self.prepare_stmt(main, &w.declared)).await?;
        let n = p.params.len().min(params.len());
        Box::pin(self.execute_inner_statement(&p, params[..n].to_vec())).await
    }

    /// A sub-statement run inside the statement's transaction (not through `execute`, which would end
    /// an autocommit transaction's bookkeeping on its own).
    async fn execute_inner_statement(
        &mut self,
        p: &Prepared,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        self.run_prepared(p, params).await
    }
}
