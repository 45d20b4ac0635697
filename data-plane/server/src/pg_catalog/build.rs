//! Building catalog relations: rows of scalars into a record batch, and PostgreSQL's own rows from the TSV
//! files in `data/` (COPY text format: `\N` is NULL, `\\` a backslash).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use datafusion::error::Result;
use datafusion::scalar::ScalarValue;

/// PostgreSQL column types as the catalogs use them, in Arrow. `oid` and the reg* types are `bigint` here;
/// `name` and `"char"` are text.
pub const OID: DataType = DataType::Int64;
pub const NAME: DataType = DataType::Utf8;
pub const TEXT: DataType = DataType::Utf8;
pub const CHAR: DataType = DataType::Utf8;
pub const BOOL: DataType = DataType::Boolean;
pub const INT2: DataType = DataType::Int16;
pub const INT4: DataType = DataType::Int32;
pub const INT8: DataType = DataType::Int64;
pub const FLOAT4: DataType = DataType::Float32;

/// `int2vector` / `int2[]`.
pub fn int2_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int16, true)))
}

/// `oidvector` / `oid[]`.
pub fn oid_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
}

/// `text[]` / `name[]`.
pub fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

pub fn oid(v: i64) -> ScalarValue {
    ScalarValue::Int64(Some(v))
}
pub fn text(v: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(v.into()))
}
pub fn opt_text(v: Option<impl Into<String>>) -> ScalarValue {
    ScalarValue::Utf8(v.map(Into::into))
}
pub fn bool(v: bool) -> ScalarValue {
    ScalarValue::Boolean(Some(v))
}
pub fn int2(v: i16) -> ScalarValue {
    ScalarValue::Int16(Some(v))
}
pub fn int4(v: i32) -> ScalarValue {
    ScalarValue::Int32(Some(v))
}
pub fn float4(v: f32) -> ScalarValue {
    ScalarValue::Float32(Some(v))
}
/// NULL of the column's type (filled in by [`batch`]).
pub fn null() -> ScalarValue {
    ScalarValue::Null
}
pub fn int2s(v: &[i16]) -> ScalarValue {
    list(v.iter().map(|x| int2(*x)), DataType::Int16)
}
pub fn oids(v: &[i64]) -> ScalarValue {
    list(v.iter().map(|x| oid(*x)), DataType::Int64)
}

fn list(items: impl Iterator<Item = ScalarValue>, ty: DataType) -> ScalarValue {
    let items: Vec<ScalarValue> = items.collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&items, &ty))
}

/// A relation of these columns and rows. A row's `ScalarValue::Null` becomes a NULL of its column's type.
pub fn batch(columns: &[(&str, DataType)], rows: Vec<Vec<ScalarValue>>) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let mut arrays = Vec::with_capacity(columns.len());
    for (i, (name, ty)) in columns.iter().enumerate() {
        let typed_null = ScalarValue::try_from(ty)?;
        let values = rows.iter().map(|r| match &r[i] {
            ScalarValue::Null => typed_null.clone(),
            v => v.clone(),
        });
        let array = if rows.is_empty() {
            arrow_array::new_empty_array(ty)
        } else {
            ScalarValue::iter_to_array(values).map_err(|e| {
                datafusion::error::DataFusionError::Internal(format!("catalog column {name}: {e}"))
            })?
        };
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(schema, arrays)?)
}

/// Rows of a TSV file of `data/` whose columns (in file order) have these types; text columns keep their
/// text, the others are parsed. `\N` is NULL.
pub fn tsv_rows(tsv: &str, columns: &[(&str, DataType)]) -> Vec<Vec<ScalarValue>> {
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let at: Vec<Option<usize>> = columns
        .iter()
        .map(|(n, _)| header.iter().position(|h| h == n))
        .collect();
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            columns
                .iter()
                .zip(&at)
                .map(|((_, ty), i)| match i.and_then(|i| f.get(i)) {
                    None | Some(&"\\N") => ScalarValue::Null,
                    Some(v) => parse(v, ty),
                })
                .collect()
        })
        .collect()
}

fn parse(v: &str, ty: &DataType) -> ScalarValue {
    match ty {
        DataType::Boolean => ScalarValue::Boolean(Some(v == "t")),
        DataType::Int16 => ScalarValue::Int16(v.parse().ok()),
        DataType::Int32 => ScalarValue::Int32(v.parse().ok()),
        DataType::Int64 => ScalarValue::Int64(v.parse().ok()),
        DataType::Float32 => ScalarValue::Float32(v.parse().ok()),
        _ => ScalarValue::Utf8(Some(v.replace("\\\\", "\\"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_and_nulls() {
        let rows = tsv_rows(
            "a\tb\tc\n1\tt\t\\N\n2\tf\tx\\\\y\n",
            &[("c", TEXT), ("a", INT4), ("b", BOOL), ("missing", TEXT)],
        );
        let b = batch(
            &[("c", TEXT), ("a", INT4), ("b", BOOL), ("missing", TEXT)],
            rows,
        )
        .unwrap();
        assert_eq!(b.num_rows(), 2);
        let c = b
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert!(arrow_array::Array::is_null(c, 0));
        assert_eq!(c.value(1), "x\\y");
        assert_eq!(b.column(3).null_count(), 2);
    }
}
