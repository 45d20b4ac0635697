//! Conversions between rows of `Value`s and Arrow record batches.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64NanosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Time64NanosecondType, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, SchemaRef};

use crate::types::{Key, KeyKind, Value};

/// Builds a batch of `schema` from physical rows. The rows were type-checked on entry, so a mismatch here is a
/// bug and becomes a null rather than a panic.
pub(crate) fn rows_to_batch<'a>(
    schema: &SchemaRef,
    rows: impl ExactSizeIterator<Item = &'a [Value]> + Clone,
) -> RecordBatch {
    let n = rows.len();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(c, field)| build_column(field.data_type(), n, rows.clone().map(move |r| &r[c])))
        .collect();
    RecordBatch::try_new(schema.clone(), columns)
        .expect("rows were checked against the schema on entry")
}

macro_rules! build_prim {
    ($builder:ty, $n:expr, $vals:expr, $pat:pat => $out:expr) => {{
        let mut b = <$builder>::with_capacity($n);
        for v in $vals {
            match v {
                $pat => b.append_value($out),
                _ => b.append_null(),
            }
        }
        Arc::new(b.finish()) as ArrayRef
    }};
}

/// An Arrow column of type `dt` holding `vals` (what `value_at` reads back).
pub fn values_array(dt: &ArrowType, vals: &[Value]) -> ArrayRef {
    build_column(dt, vals.len(), vals.iter())
}

fn build_column<'a>(dt: &ArrowType, n: usize, vals: impl Iterator<Item = &'a Value>) -> ArrayRef {
    match dt {
        ArrowType::Int16 => build_prim!(Int16Builder, n, vals, Value::Int16(x) => *x),
        ArrowType::Int32 => build_prim!(Int32Builder, n, vals, Value::Int32(x) => *x),
        ArrowType::Int64 => build_prim!(Int64Builder, n, vals, Value::Int64(x) => *x),
        ArrowType::Float32 => build_prim!(Float32Builder, n, vals, Value::Float32(x) => *x),
        ArrowType::Float64 => build_prim!(Float64Builder, n, vals, Value::Float64(x) => *x),
        ArrowType::Boolean => build_prim!(BooleanBuilder, n, vals, Value::Bool(x) => *x),
        ArrowType::Date32 => build_prim!(Date32Builder, n, vals, Value::Date(x) => *x),
        ArrowType::Time64(_) => build_prim!(Time64NanosecondBuilder, n, vals, Value::Time(x) => *x),
        ArrowType::Utf8 => {
            let mut b = StringBuilder::with_capacity(n, n * 16);
            for v in vals {
                match v {
                    Value::Text(s) => b.append_value(s),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        ArrowType::Binary => {
            let mut b = BinaryBuilder::with_capacity(n, n * 16);
            for v in vals {
                match v {
                    Value::Bytes(s) => b.append_value(s),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        ArrowType::Timestamp(_, tz) => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(n);
            for v in vals {
                match v {
                    Value::Timestamp(x) => b.append_value(*x),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish().with_timezone_opt(tz.clone()))
        }
        ArrowType::Decimal128(p, s) => {
            let mut b = Decimal128Builder::with_capacity(n);
            for v in vals {
                match v {
                    Value::Decimal(x) => b.append_value(*x),
                    _ => b.append_null(),
                }
            }
            Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .expect("precision validated at CREATE TABLE"),
            )
        }
        ArrowType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => {
            let mut b = arrow_array::builder::IntervalMonthDayNanoBuilder::with_capacity(n);
            for v in vals {
                match v {
                    Value::Interval(m, d, us) => b.append_value(
                        arrow_array::types::IntervalMonthDayNano::new(*m, *d, us * 1000),
                    ),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        ArrowType::List(item) => {
            // Each element list as an array of the item type, then one list over their concatenation.
            let mut lengths = Vec::with_capacity(n);
            let mut items: Vec<Value> = vec![];
            let mut valid = Vec::with_capacity(n);
            for v in vals {
                match v {
                    Value::Array(xs) => {
                        lengths.push(xs.len());
                        items.extend(xs.iter().cloned());
                        valid.push(true);
                    }
                    _ => {
                        lengths.push(0);
                        valid.push(false);
                    }
                }
            }
            let values = build_column(item.data_type(), items.len(), items.iter());
            Arc::new(arrow_array::ListArray::new(
                item.clone(),
                arrow_buffer::OffsetBuffer::from_lengths(lengths),
                values,
                Some(arrow_buffer::NullBuffer::from(valid)),
            ))
        }
        other => unreachable!("type {other} is never part of a table schema"),
    }
}

/// The value at `row` of an array built by `rows_to_batch`.
pub fn value_at(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        ArrowType::Int16 => Value::Int16(array.as_primitive::<Int16Type>().value(row)),
        ArrowType::Int32 => Value::Int32(array.as_primitive::<Int32Type>().value(row)),
        ArrowType::Int64 => Value::Int64(array.as_primitive::<Int64Type>().value(row)),
        ArrowType::Float32 => Value::Float32(array.as_primitive::<Float32Type>().value(row)),
        ArrowType::Float64 => Value::Float64(array.as_primitive::<Float64Type>().value(row)),
        ArrowType::Boolean => Value::Bool(array.as_boolean().value(row)),
        ArrowType::Date32 => Value::Date(array.as_primitive::<Date32Type>().value(row)),
        ArrowType::Time64(_) => {
            Value::Time(array.as_primitive::<Time64NanosecondType>().value(row))
        }
        ArrowType::Utf8 => Value::Text(array.as_string::<i32>().value(row).to_owned()),
        ArrowType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        ArrowType::Timestamp(_, _) => {
            Value::Timestamp(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        ArrowType::Decimal128(_, _) => {
            Value::Decimal(array.as_primitive::<Decimal128Type>().value(row))
        }
        ArrowType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => {
            let v = array
                .as_primitive::<arrow_array::types::IntervalMonthDayNanoType>()
                .value(row);
            Value::Interval(v.months, v.days, v.nanoseconds / 1000)
        }
        ArrowType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            Value::Array((0..items.len()).map(|i| value_at(&items, i)).collect())
        }
        _ => Value::Null,
    }
}

/// One physical row of a batch.
pub fn row_at(batch: &RecordBatch, row: usize) -> Vec<Value> {
    batch
        .columns()
        .iter()
        .map(|c| value_at(c.as_ref(), row))
        .collect()
}

/// The learned-index keys (u64 images) of a key column.
pub(crate) fn learned_keys(col: &dyn Array, kind: KeyKind) -> Vec<u64> {
    match kind {
        KeyKind::Int => int_key_values(col)
            .map(omendb_learned::key_from_i64)
            .collect(),
        KeyKind::Bytes => (0..col.len())
            .map(|i| omendb_learned::key_from_bytes_prefix(bytes_at(col, i)))
            .collect(),
    }
}

/// Integer key values of a key column of any integer-like type, widened to i64.
pub(crate) fn int_key_values(col: &dyn Array) -> Box<dyn Iterator<Item = i64> + '_> {
    match col.data_type() {
        ArrowType::Int16 => Box::new(
            col.as_primitive::<Int16Type>()
                .values()
                .iter()
                .map(|v| i64::from(*v)),
        ),
        ArrowType::Int32 => Box::new(
            col.as_primitive::<Int32Type>()
                .values()
                .iter()
                .map(|v| i64::from(*v)),
        ),
        ArrowType::Date32 => Box::new(
            col.as_primitive::<Date32Type>()
                .values()
                .iter()
                .map(|v| i64::from(*v)),
        ),
        ArrowType::Timestamp(_, _) => Box::new(
            col.as_primitive::<TimestampMicrosecondType>()
                .values()
                .iter()
                .copied(),
        ),
        ArrowType::Time64(_) => Box::new(
            col.as_primitive::<Time64NanosecondType>()
                .values()
                .iter()
                .copied(),
        ),
        _ => Box::new(col.as_primitive::<Int64Type>().values().iter().copied()),
    }
}

/// The bytes of a text or bytea key column at `i`.
#[inline]
pub(crate) fn bytes_at(col: &dyn Array, i: usize) -> &[u8] {
    match col.data_type() {
        ArrowType::Utf8 => col.as_string::<i32>().value(i).as_bytes(),
        _ => col.as_binary::<i32>().value(i),
    }
}

/// The key at row `i` of a key column.
pub(crate) fn key_at(col: &dyn Array, kind: KeyKind, lkeys: &[u64], i: usize) -> Key {
    match kind {
        KeyKind::Int => Key::Int(omendb_learned::key_to_i64(lkeys[i])),
        KeyKind::Bytes => Key::Bytes(bytes_at(col, i).to_vec()),
    }
}

/// The key at row `i` of a key column, read from the column itself.
pub fn column_key_at(col: &dyn Array, kind: KeyKind, i: usize) -> Key {
    match kind {
        KeyKind::Bytes => Key::Bytes(bytes_at(col, i).to_vec()),
        KeyKind::Int => Key::Int(match col.data_type() {
            ArrowType::Int16 => i64::from(col.as_primitive::<Int16Type>().value(i)),
            ArrowType::Int32 => i64::from(col.as_primitive::<Int32Type>().value(i)),
            ArrowType::Date32 => i64::from(col.as_primitive::<Date32Type>().value(i)),
            ArrowType::Timestamp(_, _) => col.as_primitive::<TimestampMicrosecondType>().value(i),
            ArrowType::Time64(_) => col.as_primitive::<Time64NanosecondType>().value(i),
            _ => col.as_primitive::<Int64Type>().value(i),
        }),
    }
}

/// Whether the keys of a key column increase strictly (no duplicates, sorted).
pub(crate) fn strictly_increasing(col: &dyn Array, kind: KeyKind) -> bool {
    match kind {
        KeyKind::Int => {
            let mut prev: Option<i64> = None;
            int_key_values(col).all(|v| {
                let ok = prev.is_none_or(|p| v > p);
                prev = Some(v);
                ok
            })
        }
        KeyKind::Bytes => (1..col.len()).all(|i| bytes_at(col, i - 1) < bytes_at(col, i)),
    }
}
