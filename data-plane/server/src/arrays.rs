//! Array columns (`integer[]`, `text[]`, ...): one-dimensional arrays of a scalar type, stored as Arrow
//! lists (storage `DataType::Array`). DataFusion plans the operators and functions on lists (`a[1]`,
//! `x = ANY(a)`, `@>`, `<@`, `&&`, `||`, `array_length`, `cardinality`, `unnest`, `array_agg`); this module
//! reads PostgreSQL's array text (`{1,2,NULL}`, `{"a b",c}`) where a value arrives as text: a string
//! literal written to or compared with an array column (`literal`), COPY's text and binary forms.

use datafusion::sql::sqlparser::ast::{Expr, Value as SqlValue};
use omendb_storage::{ArrayElem, DataType, Value};

use crate::error::{Error, Result, code};
use crate::zone::Zone;

/// The SQL name DataFusion plans an array of `elem` by (uuid and varchar elements are text there).
pub fn sql_type(elem: ArrayElem) -> String {
    let scalar = match elem {
        ArrayElem::Uuid | ArrayElem::Varchar { .. } | ArrayElem::Text => "text".to_string(),
        ArrayElem::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
        ArrayElem::TimestampTz => "timestamp with time zone".to_string(),
        other => other.scalar().name(),
    };
    format!("{scalar}[]")
}

/// PostgreSQL's error for array text it cannot read.
fn malformed(text: &str) -> Error {
    Error::sql(
        code::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{text}\""),
    )
}

/// The elements of array text, or PostgreSQL's errors: 22P02 for text that is no array, 0A000 for the
/// multidimensional arrays columns here do not hold.
pub fn elements(text: &str) -> Result<Vec<Option<String>>> {
    let t = text.trim();
    if t.starts_with("{{") || t.starts_with('[') {
        return Err(Error::unsupported("multidimensional arrays"));
    }
    crate::pg_catalog::array_text::parse(t).ok_or_else(|| malformed(text))
}

/// A string literal in array text, written to or compared with an array of `elem`: the array,
/// `CAST(make_array('1', '2') AS integer[])`, whose elements DataFusion casts as it casts text. A
/// parameter there is typed as that array (clients send arrays of text with no type).
pub fn literal(e: &mut Expr, elem: ArrayElem) -> Result<()> {
    let inner = match e {
        Expr::Nested(inner) => inner.as_mut(),
        other => other,
    };
    let Expr::Value(v) = inner else {
        return Ok(());
    };
    if let SqlValue::Placeholder(p) = &v.value {
        let sql = format!("CAST({p} AS {})", sql_type(elem));
        *inner = crate::ddl::parse_expr(&sql)
            .map_err(|err| Error::sql(code::INTERNAL, err.to_string()))?;
        return Ok(());
    }
    let SqlValue::SingleQuotedString(text) = &v.value else {
        return Ok(());
    };
    let items = elements(text)?;
    let args: Vec<String> = items
        .iter()
        .map(|i| match i {
            None => "NULL".to_string(),
            Some(s) => format!("'{}'", s.replace('\'', "''")),
        })
        .collect();
    let sql = format!(
        "CAST(make_array({}) AS {})",
        args.join(", "),
        sql_type(elem)
    );
    *inner =
        crate::ddl::parse_expr(&sql).map_err(|err| Error::sql(code::INTERNAL, err.to_string()))?;
    Ok(())
}

/// An array value from its text (COPY), each element read as its type reads text.
pub fn value_from_text(text: &str, elem: ArrayElem, zone: &Zone) -> Result<Value> {
    let t = elem.scalar();
    let mut out = Vec::new();
    for item in elements(text)? {
        out.push(match item {
            None => Value::Null,
            Some(s) => element(&s, t, zone).ok_or_else(|| {
                Error::sql(
                    code::INVALID_TEXT_REPRESENTATION,
                    format!("invalid input syntax for type {}: \"{s}\"", t.name()),
                )
            })?,
        });
    }
    Ok(Value::Array(out))
}

/// One element's value from its text.
fn element(s: &str, t: DataType, zone: &Zone) -> Option<Value> {
    use crate::copy::{parse_bool, parse_decimal, parse_float, parse_timestamp, parse_timestamptz};
    Some(match t {
        DataType::SmallInt => Value::Int16(s.trim().parse().ok()?),
        DataType::Integer => Value::Int32(s.trim().parse().ok()?),
        DataType::BigInt => Value::Int64(s.trim().parse().ok()?),
        DataType::Real => Value::Float32(parse_float(s)? as f32),
        DataType::Double => Value::Float64(parse_float(s)?),
        DataType::Boolean => Value::Bool(parse_bool(s)?),
        DataType::Uuid => Value::Text(omendb_storage::canonical_uuid(s)?),
        DataType::Date => Value::Date(crate::copy::parse_date(s)?),
        DataType::Time => Value::Time(crate::times::parse(s).ok()?),
        DataType::Timestamp => Value::Timestamp(parse_timestamp(s)?),
        DataType::TimestampTz => Value::Timestamp(parse_timestamptz(s, zone)?),
        DataType::Numeric { scale, .. } => Value::Decimal(parse_decimal(s, scale)?),
        _ => Value::Text(s.to_string()),
    })
}

/// An array's binary send form (COPY BINARY) as its text form: `ndim | flags | element type | (size,
/// lower bound) per dimension | (length, bytes) per element`, each element through `element_text`.
pub fn text_from_binary(
    v: &[u8],
    elem: ArrayElem,
    element_text: impl Fn(&[u8], DataType) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut r = Reader { v, at: 0 };
    let ndim = r.int()?;
    let _flags = r.int()?;
    let _elem_oid = r.int()?;
    if ndim == 0 {
        return Ok(b"{}".to_vec());
    }
    if ndim != 1 {
        return Err(Error::unsupported("multidimensional arrays"));
    }
    let n = r.int()?;
    let _lower = r.int()?;
    let mut items = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let len = r.int()?;
        if len < 0 {
            items.push("NULL".to_string());
            continue;
        }
        let text = element_text(r.bytes(len as usize)?, elem.scalar())?;
        let text = String::from_utf8(text).map_err(|_| bad_binary())?;
        let mut quoted = String::new();
        crate::array_out::put_element(&mut quoted, &text);
        items.push(quoted);
    }
    Ok(format!("{{{}}}", items.join(",")).into_bytes())
}

fn bad_binary() -> Error {
    Error::sql("22P03", "invalid array in binary COPY data")
}

/// Reads a binary array's big-endian fields in order.
struct Reader<'a> {
    v: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let b = self.v.get(self.at..self.at + n).ok_or_else(bad_binary)?;
        self.at += n;
        Ok(b)
    }

    fn int(&mut self) -> Result<i32> {
        let b: [u8; 4] = self.bytes(4)?.try_into().map_err(|_| bad_binary())?;
        Ok(i32::from_be_bytes(b))
    }
}

/// The element type of an array column, if `t` is one.
pub fn elem_of(t: DataType) -> Option<ArrayElem> {
    match t {
        DataType::Array(e) => Some(e),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_as_postgresql_reads_it() {
        let zone = Zone::setting("UTC").unwrap();
        assert_eq!(
            value_from_text("{1, 2,NULL}", ArrayElem::Integer, &zone).unwrap(),
            Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Null])
        );
        assert_eq!(
            value_from_text(r#"{"a b","NULL",c}"#, ArrayElem::Text, &zone).unwrap(),
            Value::Array(vec![
                Value::Text("a b".into()),
                Value::Text("NULL".into()),
                Value::Text("c".into())
            ])
        );
        assert_eq!(
            value_from_text("{}", ArrayElem::Integer, &zone).unwrap(),
            Value::Array(vec![])
        );
        let e = value_from_text("{1,x}", ArrayElem::Integer, &zone).unwrap_err();
        assert_eq!(e.sqlstate(), "22P02");
        assert_eq!(
            value_from_text("{1,2", ArrayElem::Integer, &zone)
                .unwrap_err()
                .sqlstate(),
            "22P02"
        );
        assert_eq!(
            value_from_text("{{1},{2}}", ArrayElem::Integer, &zone)
                .unwrap_err()
                .sqlstate(),
            "0A000"
        );
    }
}
