//! Set-returning functions tools call: `pg_get_keywords()` (JDBC's keyword list), `generate_series` over
//! integer expressions of any width (DataFusion's takes `bigint` literals only), and the element-and-position
//! pairs behind `information_schema._pg_expandarray` (see `syntax.rs`).

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int32Array, ListArray, StructArray};
use arrow_schema::{DataType, Field, Fields};
use datafusion::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_table::generate_series::GenerateSeriesFunc;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::build::{BOOL, CHAR, TEXT, batch, tsv_rows};

/// The scalar function `_pg_expandarray` becomes: an array to the list of its `(x, n)` pairs.
pub const EXPANDARRAY: &str = "omendb_expandarray";

pub fn register(ctx: &SessionContext) {
    ctx.register_udtf("generate_series", Arc::new(GenerateSeries));
    ctx.register_udtf("pg_get_keywords", Arc::new(Keywords));
    ctx.register_udtf(
        "pg_partition_ancestors",
        Arc::new(PartitionAncestors(false)),
    );
    ctx.register_udtf(ANCESTORS_DEPTH, Arc::new(PartitionAncestors(true)));
    ctx.register_udf(ScalarUDF::from(ExpandArray::default()));
}

/// PostgreSQL's generate_series over `integer` and `smallint` too: an argument that folded to a narrower
/// integer literal (`array_upper(...)` is `integer`) is widened before DataFusion's own function sees it.
#[derive(Debug)]
struct GenerateSeries;

impl TableFunctionImpl for GenerateSeries {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let widened: Vec<Expr> = args
            .exprs()
            .iter()
            .map(|e| match e {
                Expr::Literal(v, meta) if v.data_type().is_integer() && !v.is_null() => {
                    match v.cast_to(&DataType::Int64) {
                        Ok(wide) => Expr::Literal(wide, meta.clone()),
                        Err(_) => e.clone(),
                    }
                }
                other => other.clone(),
            })
            .collect();
        GenerateSeriesFunc {}.call_with_args(TableFunctionArgs::new(&widened, args.session()))
    }
}

/// `pg_get_keywords()`: PostgreSQL 15's keyword list (data/pg_get_keywords.tsv).
#[derive(Debug)]
struct Keywords;

const KEYWORD_COLUMNS: &[(&str, DataType)] = &[
    ("word", TEXT),
    ("catcode", CHAR),
    ("barelabel", BOOL),
    ("catdesc", TEXT),
    ("baredesc", TEXT),
];

impl TableFunctionImpl for Keywords {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return Err(DataFusionError::Plan(
                "function pg_get_keywords takes no arguments".into(),
            ));
        }
        let rows = tsv_rows(include_str!("data/pg_get_keywords.tsv"), KEYWORD_COLUMNS);
        let b = batch(KEYWORD_COLUMNS, rows)?;
        Ok(Arc::new(MemTable::try_new(b.schema(), vec![vec![b]])?))
    }
}

/// `pg_partition_ancestors(rel)` in FROM: no table is partitioned, so a relation's one ancestor is itself
/// (column `relid`; psql's `\d` joins it with pg_constraint to list foreign keys).
/// `pg_partition_ancestors(rel) WITH ORDINALITY` (`from_functions.rs`): the depth is a second column.
pub const ANCESTORS_DEPTH: &str = "omendb_partition_ancestors_depth";

#[derive(Debug)]
struct PartitionAncestors(bool);

impl TableFunctionImpl for PartitionAncestors {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let relid = match args.exprs() {
            [Expr::Literal(v, _)] => match v {
                ScalarValue::Utf8(Some(s)) => s.trim().parse::<i64>().ok(),
                v => v.cast_to(&DataType::Int64).ok().and_then(|v| match v {
                    ScalarValue::Int64(o) => o,
                    _ => None,
                }),
            },
            // Correlated with an outer row (psql's trigger query, over pg_trigger, which is empty): no
            // row can reach it.
            [_] => None,
            _ => {
                return Err(DataFusionError::Plan(
                    "function pg_partition_ancestors takes one argument".into(),
                ));
            }
        };
        let b = if self.0 {
            batch(
                &[
                    ("relid", super::build::OID),
                    ("ordinality", DataType::Int64),
                ],
                relid
                    .map(|o| vec![ScalarValue::Int64(Some(o)), ScalarValue::Int64(Some(1))])
                    .into_iter()
                    .collect(),
            )?
        } else {
            batch(
                &[("relid", super::build::OID)],
                relid
                    .map(|o| vec![ScalarValue::Int64(Some(o))])
                    .into_iter()
                    .collect(),
            )?
        };
        Ok(Arc::new(MemTable::try_new(b.schema(), vec![vec![b]])?))
    }
}

/// `omendb_expandarray(a)`: for each row, the list of `{x: a[i], n: i}` (i from 1).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandArray {
    signature: Signature,
}

impl Default for ExpandArray {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

fn pair_fields(element: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("x", element.clone(), true),
        Field::new("n", DataType::Int32, false),
    ])
}

fn element_type(t: &DataType) -> Result<DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Ok(f.data_type().clone())
        }
        DataType::Null => Ok(DataType::Null),
        other => Err(DataFusionError::Plan(format!(
            "_pg_expandarray expects an array, got {other}"
        ))),
    }
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        EXPANDARRAY
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let element = element_type(&args[0])?;
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Struct(pair_fields(&element)),
            true,
        ))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let input = args.args[0].clone().into_array(rows)?;
        let element = element_type(input.data_type())?;
        let fields = pair_fields(&element);
        if element == DataType::Null {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(
                &self.return_type(&[DataType::Null])?,
            )?));
        }
        let Some(list) = input.as_any().downcast_ref::<ListArray>() else {
            return Err(DataFusionError::Plan(format!(
                "_pg_expandarray expects an array, got {}",
                input.data_type()
            )));
        };
        // Positions restart at 1 in every row; the elements are the list's own, unchanged.
        let offsets = list.value_offsets();
        let base = offsets[0];
        let values = list
            .values()
            .slice(base as usize, (offsets[list.len()] - base) as usize);
        let mut n = Vec::with_capacity(values.len());
        for w in offsets.windows(2) {
            n.extend(1..=(w[1] - w[0]));
        }
        let pairs = StructArray::try_new(
            fields.clone(),
            vec![values, Arc::new(Int32Array::from(n)) as ArrayRef],
            None,
        )?;
        let rebased: Vec<i32> = offsets.iter().map(|o| o - base).collect();
        let out = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Struct(fields), true)),
            OffsetBuffer::new(ScalarBuffer::from(rebased)),
            Arc::new(pairs),
            list.nulls().cloned(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
