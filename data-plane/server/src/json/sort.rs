//! `ORDER BY` a jsonb value in jsonb's order (numbers by value, shorter arrays and objects first), not its
//! text's: each such sort expression sorts by the document's byte-ordered key (`Jsonb::sort_key`).

use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_schema::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::scalar::ScalarValue;
use omendb_json::Jsonb;

use super::{Kind, kind_of, parse_error};

#[derive(Debug, PartialEq, Eq, Hash)]
struct SortKey {
    signature: Signature,
}

impl ScalarUDFImpl for SortKey {
    fn name(&self) -> &str {
        "omendb_jsonb_sort_key"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let array = args.args[0].to_array(if scalar { 1 } else { args.number_rows })?;
        let mut out = BinaryBuilder::with_capacity(array.len(), array.len() * 16);
        for row in 0..array.len() {
            match super::udf::texts_at(&array, row) {
                Some(text) => out.append_value(Jsonb::parse(text).map_err(parse_error)?.sort_key()),
                None => out.append_null(),
            }
        }
        let out: arrow_array::ArrayRef = Arc::new(out.finish());
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// `plan` with every sort by a jsonb value sorting by its key instead.
pub fn jsonb_sorts(plan: LogicalPlan) -> Result<LogicalPlan> {
    let udf = Arc::new(ScalarUDF::from(SortKey {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::Sort(mut sort) = node else {
            return Ok(Transformed::no(node));
        };
        let schema = sort.input.schema().clone();
        let mut changed = false;
        for s in &mut sort.expr {
            let jsonb = s
                .expr
                .to_field(&schema)
                .is_ok_and(|(_, f)| kind_of(&f) == Some(Kind::Jsonb));
            if jsonb {
                let e = std::mem::replace(&mut s.expr, Expr::Literal(ScalarValue::Null, None));
                s.expr = Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), vec![e]));
                changed = true;
            }
        }
        let node = LogicalPlan::Sort(sort);
        Ok(if changed {
            Transformed::yes(node)
        } else {
            Transformed::no(node)
        })
    })
    .map(|t| t.data)
}
