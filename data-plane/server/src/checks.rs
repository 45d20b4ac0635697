//! The engine's CHECK evaluator: each constraint's SQL compiled once (per table definition) into a
//! DataFusion physical expression and evaluated over the rows every write hands the engine; and the
//! predicates of partial indexes, compiled the same way and evaluated row by row as the engine maintains
//! the index.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use datafusion::common::DFSchema;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use omendb_storage::{
    CheckDef, CheckHook, Error, Result, Row, RowPredicate, RowValue, TableShape, Value,
};
use parking_lot::Mutex;

/// A compiled constraint and the schema it was compiled for (held, so the pointer it is keyed by stays
/// that schema's).
type Compiled = (SchemaRef, Arc<dyn PhysicalExpr>);

pub struct Checks {
    ctx: SessionContext,
    compiled: Mutex<HashMap<(u64, usize), Compiled>>,
}

impl Default for Checks {
    fn default() -> Checks {
        let mut ctx = SessionContext::new();
        // A CHECK may use the json operators and functions (`CHECK (doc ? 'id')`).
        let _ = crate::json::register(&mut ctx);
        ctx.register_udf(crate::uuids::UuidCast::udf());
        Checks {
            ctx,
            compiled: Mutex::default(),
        }
    }
}

impl Checks {
    fn compile(&self, schema: &SchemaRef, check: &CheckDef) -> Result<Arc<dyn PhysicalExpr>> {
        let key = (check.id, Arc::as_ptr(schema) as *const u8 as usize);
        if let Some((s, e)) = self.compiled.lock().get(&key)
            && Arc::ptr_eq(s, schema)
        {
            return Ok(e.clone());
        }
        let what = format!("check constraint \"{}\"", check.name);
        let physical = self.physical(schema, &check.sql, &what)?;
        self.compiled
            .lock()
            .insert(key, (schema.clone(), physical.clone()));
        Ok(physical)
    }

    /// `sql` over the columns of `schema`, planned into a physical expression (`what` names it in errors).
    fn physical(&self, schema: &SchemaRef, sql: &str, what: &str) -> Result<Arc<dyn PhysicalExpr>> {
        let invalid = |e: datafusion::error::DataFusionError| {
            Error::InvalidDefinition(format!("{what}: {e}"))
        };
        let df = DFSchema::try_from(schema.as_ref().clone()).map_err(invalid)?;
        let sql = crate::pg_catalog::syntax::expression_sql(sql);
        let expr = self.ctx.parse_sql_expr(&sql, &df).map_err(invalid)?;
        let state = self.ctx.state();
        let simplifier = ExprSimplifier::new(
            SimplifyContext::builder()
                .with_schema(Arc::new(df.clone()))
                .with_config_options(Arc::clone(state.config_options()))
                .with_query_execution_start_time(Some(chrono::Utc::now()))
                .build(),
        );
        let expr = simplifier
            .simplify(simplifier.coerce(expr, &df).map_err(invalid)?)
            .map_err(invalid)?;
        state.create_physical_expr(expr, &df).map_err(invalid)
    }
}

/// Checks a partial index's WHERE: a boolean over `schema`'s columns (42804 as PostgreSQL words it
/// otherwise; 42703 for an unknown column).
pub fn predicate_type(schema: &SchemaRef, sql: &str) -> crate::error::Result<()> {
    let t = expression_type(schema, sql)?;
    if t != arrow_schema::DataType::Boolean {
        let name = crate::error::postgres_type_name(&t.to_string()).unwrap_or("unknown");
        return Err(crate::error::Error::sql(
            "42804",
            format!("argument of WHERE must be type boolean, not type {name}"),
        ));
    }
    Ok(())
}

/// The type of an expression over `schema`'s columns (an index's), planned as the engine will evaluate
/// it (42703 for an unknown column).
pub fn expression_type(
    schema: &SchemaRef,
    sql: &str,
) -> crate::error::Result<arrow_schema::DataType> {
    let checks = Checks::default();
    let physical = checks
        .physical(schema, sql, "index expression")
        .map_err(|e| {
            let text = e.to_string();
            match text.find("No field named ") {
                Some(at) => {
                    let name = text[at + 15..]
                        .split(['.', ' '])
                        .next()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_string();
                    crate::error::Error::sql(
                        crate::error::code::UNDEFINED_COLUMN,
                        format!("column \"{name}\" does not exist"),
                    )
                }
                None => crate::error::Error::from(e),
            }
        })?;
    Ok(physical.data_type(schema)?)
}

/// A physical row's user columns (`schema`'s) as a batch of one row, what an index's expression is
/// evaluated over.
fn one_row(schema: &SchemaRef, row: &Row) -> Option<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .zip(row.iter())
        .map(|(f, v)| omendb_storage::values_array(f.data_type(), std::slice::from_ref(v)))
        .collect();
    RecordBatch::try_new(schema.clone(), columns).ok()
}

/// A row as PostgreSQL prints it in "Failing row contains (...)".
fn row_text(rows: &RecordBatch, i: usize) -> String {
    let values: Vec<String> = rows
        .columns()
        .iter()
        .map(|a| {
            if a.is_null(i) {
                "null".to_string()
            } else {
                arrow_cast::display::array_value_to_string(a, i).unwrap_or_default()
            }
        })
        .collect();
    format!("({})", values.join(", "))
}

impl CheckHook for Checks {
    fn check(
        &self,
        table: &TableShape,
        checks: &[Arc<CheckDef>],
        rows: &RecordBatch,
    ) -> Result<()> {
        for c in checks {
            let expr = self.compile(&table.user, c)?;
            let result = expr
                .evaluate(rows)
                .and_then(|v| v.into_array(rows.num_rows()))
                .map_err(|e| {
                    Error::InvalidDefinition(format!("check constraint \"{}\": {e}", c.name))
                })?;
            let Some(result) = result.as_any().downcast_ref::<BooleanArray>() else {
                return Err(Error::InvalidDefinition(format!(
                    "check constraint \"{}\" is not boolean",
                    c.name
                )));
            };
            // NULL passes: only false violates.
            if let Some(i) = (0..result.len()).find(|&i| result.is_valid(i) && !result.value(i)) {
                return Err(Error::CheckViolation {
                    table: table.def.name.clone(),
                    constraint: c.name.clone(),
                    row: row_text(rows, i),
                });
            }
        }
        Ok(())
    }

    fn index_predicate(&self, table: &TableShape, sql: &str) -> Result<RowPredicate> {
        let schema = table.user.clone();
        let expr = self.physical(&schema, sql, &format!("index predicate ({sql})"))?;
        Ok(Arc::new(move |row: &Row| {
            let Some(batch) = one_row(&schema, row) else {
                return false;
            };
            // An error evaluating it (PostgreSQL's predicates are immutable, so it would be one on
            // every write of the row) leaves the row out.
            expr.evaluate(&batch)
                .and_then(|v| v.into_array(1))
                .ok()
                .and_then(|a| {
                    a.as_any()
                        .downcast_ref::<BooleanArray>()
                        .map(|b| b.is_valid(0) && b.value(0))
                })
                .unwrap_or(false)
        }))
    }

    fn index_expression(&self, table: &TableShape, sql: &str) -> Result<RowValue> {
        let schema = table.user.clone();
        let expr = self.physical(&schema, sql, &format!("index expression ({sql})"))?;
        // Held in the type a column of it would have, so that entries compare as stored values do.
        let stored = expr
            .data_type(&schema)
            .ok()
            .and_then(|t| crate::ddl::from_arrow(&t).ok())
            .map(|t| t.arrow());
        Ok(Arc::new(move |row: &Row| {
            let Some(batch) = one_row(&schema, row) else {
                return Value::Null;
            };
            let value = expr.evaluate(&batch).and_then(|v| v.into_array(1));
            let value = match (value, &stored) {
                (Ok(a), Some(t)) => arrow_cast::cast(&a, t).ok(),
                _ => None,
            };
            // An error evaluating it (an immutable expression's error would come on every write of the
            // row) indexes NULL, which never conflicts.
            value.map_or(Value::Null, |a| omendb_storage::value_at(a.as_ref(), 0))
        }))
    }
}
