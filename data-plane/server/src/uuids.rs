//! The uuid type's two wire forms. Columns hold the canonical text (storage's `canonical_uuid`); the binary
//! protocol, binary COPY and the clients that ask for binary results (JDBC, tokio-postgres) use 16 bytes.

use std::sync::Arc;

use arrow_array::{Array, StringArray};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::scalar::ScalarValue;

/// The canonical text of 16 uuid bytes.
pub fn text(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from_digit(u32::from(byte >> 4), 16).expect("hex digit"));
        s.push(char::from_digit(u32::from(byte & 0xf), 16).expect("hex digit"));
    }
    s
}

/// The 16 bytes of a uuid in any of PostgreSQL's input spellings; `None` when `s` is not one.
pub fn bytes(s: &str) -> Option<[u8; 16]> {
    let canonical = omendb_storage::canonical_uuid(s)?;
    let digits: Vec<u8> = canonical.bytes().filter(|c| *c != b'-').collect();
    let mut out = [0u8; 16];
    for (i, pair) in digits.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// Row `row` of a uuid column (its text) in the binary form.
pub fn binary_cell(
    array: &dyn arrow_array::Array,
    row: usize,
) -> crate::error::Result<Option<Vec<u8>>> {
    if array.is_null(row) {
        return Ok(None);
    }
    let s = arrow_cast::display::array_value_to_string(array, row)
        .map_err(|e| crate::error::Error::sql(crate::error::code::INTERNAL, e.to_string()))?;
    bytes(&s).map(|b| Some(b.to_vec())).ok_or_else(|| {
        crate::error::Error::sql(
            crate::error::code::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type uuid: \"{s}\""),
        )
    })
}

/// A random (version 4) uuid's text, as `gen_random_uuid()` gives it.
pub fn random() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    text(&b)
}

/// `gen_random_uuid()`: a new value for every row (a column DEFAULT uses it too, see `catalog.rs`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GenRandomUuid {
    signature: Signature,
}

impl GenRandomUuid {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(GenRandomUuid {
            signature: Signature::nullary(Volatility::Volatile),
        })
    }
}

impl ScalarUDFImpl for GenRandomUuid {
    fn name(&self) -> &str {
        "gen_random_uuid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> datafusion::error::Result<FieldRef> {
        Ok(marked(self.name()))
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let values: StringArray = (0..args.number_rows).map(|_| Some(random())).collect();
        Ok(ColumnarValue::Array(Arc::new(values)))
    }
}

/// A uuid result field: text marked with the uuid extension name, so it is described as uuid (2950) and
/// sent as 16 bytes in binary, as a uuid column is.
fn marked(name: &str) -> FieldRef {
    Arc::new(
        Field::new(name, DataType::Utf8, true).with_metadata(
            [(
                omendb_storage::EXTENSION_KEY.to_string(),
                omendb_storage::UUID_EXTENSION.to_string(),
            )]
            .into(),
        ),
    )
}

/// `x::uuid` (`omendb_uuid`): checks text as `uuid_in` does and spells it canonically.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UuidCast {
    signature: Signature,
}

impl UuidCast {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(UuidCast {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for UuidCast {
    fn name(&self) -> &str {
        "omendb_uuid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> datafusion::error::Result<FieldRef> {
        Ok(marked(self.name()))
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let cast = |s: Option<&str>| -> datafusion::error::Result<Option<String>> {
            let Some(s) = s else { return Ok(None) };
            omendb_storage::canonical_uuid(s).map(Some).ok_or_else(|| {
                datafusion::error::DataFusionError::External(Box::new(crate::error::Error::sql(
                    crate::error::code::INVALID_TEXT_REPRESENTATION,
                    format!("invalid input syntax for type uuid: \"{s}\""),
                )))
            })
        };
        match &args.args[0] {
            ColumnarValue::Scalar(v) => {
                let s = match v {
                    ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => {
                        s.as_deref()
                    }
                    _ => None,
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(cast(s)?)))
            }
            ColumnarValue::Array(a) => {
                let a = arrow_cast::cast(a, &DataType::Utf8)?;
                let strings = a
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8");
                let out: StringArray = strings
                    .iter()
                    .map(cast)
                    .collect::<datafusion::error::Result<_>>()?;
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip() {
        let s = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        let b = bytes("{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}").unwrap();
        assert_eq!(b[0], 0xa0);
        assert_eq!(b[15], 0x11);
        assert_eq!(text(&b), s);
        let r = random();
        assert_eq!(
            omendb_storage::canonical_uuid(&r).as_deref(),
            Some(r.as_str())
        );
        assert_eq!(&r[14..15], "4", "version 4");
        assert!("89ab".contains(&r[19..20]), "RFC 4122 variant: {r}");
    }
}
