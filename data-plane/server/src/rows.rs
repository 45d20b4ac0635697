//! Arrow batches to DataRow messages: arrow-pg's encoder, except where PostgreSQL's form differs: numeric
//! (any Decimal128, in `numeric_out`; arrow-pg's rust_decimal reaches 28 digits) and float text.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, Decimal128Array, Float32Array, Float64Array, RecordBatch};
use arrow_schema::DataType;
use bytes::BytesMut;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql, Type, to_sql_checked};

/// A numeric cell: the Decimal128's value and scale, in PostgreSQL's forms (`numeric_out`).
#[derive(Debug)]
struct Numeric(i128, i8);

impl ToSql for Numeric {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        crate::numeric_out::binary(self.0, self.1, out);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl ToSqlText for Numeric {
    fn to_sql_text(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
        _format_options: &FormatOptions,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        crate::numeric_out::text(self.0, self.1, out);
        Ok(IsNull::No)
    }
}

/// A float that prints the way PostgreSQL prints it: shortest round-trip digits, exponent form outside
/// 1e-4 .. 1e15 (1e6 for real), `Infinity`, `NaN`.
#[derive(Debug)]
enum Float {
    F32(f32),
    F64(f64),
}

impl ToSql for Float {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Float::F32(v) => v.to_sql(ty, out),
            Float::F64(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::FLOAT4 | Type::FLOAT8)
    }

    to_sql_checked!();
}

impl ToSqlText for Float {
    fn to_sql_text(
        &self,
        _: &Type,
        out: &mut BytesMut,
        _: &FormatOptions,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Float::F32(v) => crate::cells::put_float(out, *v, 6),
            Float::F64(v) => crate::cells::put_float(out, *v, 15),
        }
        Ok(IsNull::No)
    }
}

/// Field metadata naming a pg_catalog column's vector type.
const VECTOR: &str = "omendb.vector";

/// pg_catalog's `int2vector` and `oidvector` columns (`pg_index.indkey`, `pg_proc.proargtypes`): arrays in
/// Arrow, but with type OIDs of their own and a space-separated text form (`1 2`, not `{1,2}`), which is
/// what pg_dump and drivers parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vector {
    Int2,
    Oid,
}

impl Vector {
    /// The vector type PostgreSQL calls `t`, if it is one.
    pub fn named(t: &str) -> Option<Vector> {
        match t {
            "int2vector" => Some(Vector::Int2),
            "oidvector" => Some(Vector::Oid),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Vector::Int2 => "int2vector",
            Vector::Oid => "oidvector",
        }
    }

    /// `field` marked as this vector type.
    pub fn tag(self, field: &arrow_schema::Field) -> arrow_schema::Field {
        let mut meta = field.metadata().clone();
        meta.insert(VECTOR.into(), self.name().into());
        field.clone().with_metadata(meta)
    }

    /// The vector type `field` was marked with.
    pub fn of(field: &arrow_schema::Field) -> Option<Vector> {
        field.metadata().get(VECTOR).and_then(|t| Vector::named(t))
    }

    pub fn pg_type(self) -> Type {
        match self {
            Vector::Int2 => Type::INT2_VECTOR,
            Vector::Oid => Type::OID_VECTOR,
        }
    }
}

/// A vector cell's text: its elements separated by spaces.
fn vector_text(array: &dyn Array, row: usize) -> Option<String> {
    use arrow_array::cast::AsArray;
    if array.is_null(row) {
        return None;
    }
    let list = array.as_list_opt::<i32>()?;
    let items = arrow_cast::cast(&list.value(row), &DataType::Utf8).ok()?;
    let items = items.as_string::<i32>();
    Some(
        (0..items.len())
            .map(|i| {
                if items.is_null(i) {
                    "0"
                } else {
                    items.value(i)
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A cell this module writes itself: text as text, a binary form as the bytes it is.
fn put<T: ToSql + ToSqlText>(
    encoder: &mut DataRowEncoder,
    value: &T,
    format: FieldFormat,
) -> PgWireResult<()> {
    let ty = match format {
        FieldFormat::Text => Type::TEXT,
        FieldFormat::Binary => Type::BYTEA,
    };
    encoder.encode_field_with_type_and_format(value, &ty, format, &FormatOptions::default())
}

/// The rows of one batch, encoded for `fields`: written directly when every column has a direct form
/// (`cells.rs`), else through arrow-pg's encoder with PostgreSQL's timestamp text.
pub fn encode(
    fields: Arc<Vec<FieldInfo>>,
    batch: RecordBatch,
    zone: &crate::zone::Zone,
) -> Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> {
    if let Some(rows) = crate::cells::direct_rows(&fields, &batch, zone) {
        return Box::new(rows.map(Ok));
    }
    let text_times: Vec<usize> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            matches!(f.data_type(), DataType::Timestamp(..))
                && fields
                    .get(*i)
                    .is_some_and(|f| f.format() == FieldFormat::Text)
        })
        .map(|(i, _)| i)
        .collect();
    let batch = if text_times.is_empty() {
        batch
    } else {
        crate::text::timestamps_as_text(batch, &text_times, zone)
    };
    Box::new(general(fields, batch, zone.clone()))
}

fn general(
    fields: Arc<Vec<FieldInfo>>,
    batch: RecordBatch,
    zone: crate::zone::Zone,
) -> impl Iterator<Item = PgWireResult<DataRow>> + Send {
    let mut encoder = DataRowEncoder::new(fields.clone());
    (0..batch.num_rows()).map(move |row| {
        let schema = batch.schema_ref();
        for (col, array) in batch.columns().iter().enumerate() {
            let field = schema.field(col);
            if let DataType::Decimal128(_, scale) = field.data_type() {
                let a = array
                    .as_any()
                    .downcast_ref::<Decimal128Array>()
                    .expect("Decimal128 column");
                let v = (!a.is_null(row)).then(|| Numeric(a.value(row), *scale));
                encoder.encode_field(&v)?;
            } else if let DataType::Float64 | DataType::Float32 = field.data_type() {
                let v = (!array.is_null(row)).then(|| {
                    if let Some(a) = array.as_any().downcast_ref::<Float64Array>() {
                        Float::F64(a.value(row))
                    } else {
                        Float::F32(
                            array
                                .as_any()
                                .downcast_ref::<Float32Array>()
                                .expect("float")
                                .value(row),
                        )
                    }
                });
                encoder.encode_field(&v)?;
            } else if matches!(
                *fields[col].datatype(),
                Type::JSON | Type::JSONB | Type::UUID
            ) && fields[col].format() == FieldFormat::Binary
            {
                // These are text here; their binary forms are not: a uuid's 16 bytes, jsonb's version
                // byte before the text.
                let v = match *fields[col].datatype() {
                    Type::UUID => crate::uuids::binary_cell(array, row)?,
                    ref t => crate::json::binary_cell(array, row, *t == Type::JSONB),
                };
                put(&mut encoder, &v, FieldFormat::Binary)?;
            } else if let DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) =
                field.data_type()
            {
                // arrow-pg writes a NULL interval as a zero one: interval_out's text, or the binary
                // form (microseconds, days, months).
                let a = array.as_primitive::<arrow_array::types::IntervalMonthDayNanoType>();
                let v = (!a.is_null(row)).then(|| a.value(row));
                if fields[col].format() == FieldFormat::Binary {
                    let bytes = v.map(|v| {
                        let mut b = Vec::with_capacity(16);
                        b.extend_from_slice(&(v.nanoseconds / 1000).to_be_bytes());
                        b.extend_from_slice(&v.days.to_be_bytes());
                        b.extend_from_slice(&v.months.to_be_bytes());
                        b
                    });
                    put(&mut encoder, &bytes, FieldFormat::Binary)?;
                } else {
                    let text =
                        v.map(|v| crate::array_out::interval_text(v.months, v.days, v.nanoseconds));
                    put(&mut encoder, &text, FieldFormat::Text)?;
                }
            } else if let DataType::Time64(arrow_schema::TimeUnit::Nanosecond) = field.data_type() {
                // time_out's text (arrow-pg prints six fractional digits, and no 24:00:00), or
                // microseconds.
                let a = array.as_primitive::<arrow_array::types::Time64NanosecondType>();
                let v = (!a.is_null(row)).then(|| a.value(row));
                if fields[col].format() == FieldFormat::Binary {
                    let bytes = v.map(|v| v.div_euclid(1000).to_be_bytes().to_vec());
                    put(&mut encoder, &bytes, FieldFormat::Binary)?;
                } else {
                    put(&mut encoder, &v.map(crate::times::text), FieldFormat::Text)?;
                }
            } else if Vector::of(field).is_some() && fields[col].format() == FieldFormat::Text {
                let v = vector_text(array, row);
                put(&mut encoder, &v, FieldFormat::Text)?;
            } else if crate::array_out::is_list(field.data_type())
                && fields[col].format() == FieldFormat::Text
            {
                // array_out's text: arrow-pg's writes its elements' own way (`1e30`, timestamps
                // unquoted with six fractional digits).
                let v = (!array.is_null(row))
                    .then(|| crate::array_out::list_text(array.as_ref(), row, &zone))
                    .transpose()
                    .map_err(|e| pgwire::error::PgWireError::ApiError(Box::new(e)))?;
                put(&mut encoder, &v, FieldFormat::Text)?;
            } else {
                arrow_pg::encoder::encode_value(&mut encoder, array, row, field, &fields[col])?;
            }
        }
        Ok(encoder.take_row())
    })
}

/// The general encoder's rows, collected (the direct writers are tested against it).
#[cfg(test)]
pub fn general_for_tests(fields: Arc<Vec<FieldInfo>>, batch: RecordBatch) -> Vec<DataRow> {
    general(fields, batch, crate::zone::Zone::default())
        .map(|r| r.unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: Float) -> String {
        let mut b = BytesMut::new();
        f.to_sql_text(&Type::FLOAT8, &mut b, &FormatOptions::default())
            .unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn floats_print_like_postgresql() {
        for (v, want) in [
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (-1e300, "-1e+300"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(text(Float::F64(v)), want, "{v}");
        }
        assert_eq!(text(Float::F32(1.5e20)), "1.5e+20");
        assert_eq!(text(Float::F32(100000.0)), "100000");
        assert_eq!(text(Float::F32(1e6)), "1e+06");
    }
}
