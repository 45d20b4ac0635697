//! `pg_typeof(x)`: its argument's type as format_type names it. The Arrow type alone does not say it for
//! the types held as text (uuid, json, jsonb, varchar): those are read from the argument's field marks.

use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PgTypeof {
    signature: Signature,
}

pub fn udf() -> ScalarUDF {
    ScalarUDF::from(PgTypeof {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

impl ScalarUDFImpl for PgTypeof {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let field = &args.arg_fields[0];
        let oid = match (crate::origins::marked_type(field), field.data_type()) {
            (Some(t), _) => Some(t.oid()),
            (None, DataType::Null) => None,
            (None, t) => arrow_pg::datatypes::into_pg_type(t).ok().map(|t| t.oid()),
        };
        // regtype's name: no modifier (`numeric`, `character varying`).
        let name = oid
            .and_then(|o| super::oids::format_type(i64::from(o), None))
            .unwrap_or_else(|| "unknown".into());
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))
    }
}

pub fn register(ctx: &datafusion::prelude::SessionContext) {
    ctx.register_udf(udf());
}
