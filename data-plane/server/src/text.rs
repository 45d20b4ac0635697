//! PostgreSQL's text form where pgwire's differs: timestamps print only the fractional digits they need
//! (`10:00:00`, `10:00:00.5`), and `timestamptz` ends in the session zone's offset (`+00`).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

/// `micros` since the epoch as PostgreSQL prints a timestamp (with `+00` when `tz`).
pub fn format_timestamp(micros: i64, tz: bool) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let t = chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc());
    let Some(t) = t else {
        return micros.to_string();
    };
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    if tz {
        s.push_str("+00");
    }
    s
}

fn micros(a: &dyn Array, unit: TimeUnit, i: usize) -> i64 {
    match unit {
        TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i) * 1_000_000,
        TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i) * 1000,
        TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
        TimeUnit::Nanosecond => a
            .as_primitive::<TimestampNanosecondType>()
            .value(i)
            .div_euclid(1000),
    }
}

/// The batch with the given timestamp columns replaced by their PostgreSQL text. The row description keeps
/// the timestamp type: only the text encoding of the values changes.
pub fn timestamps_as_text(b: RecordBatch, cols: &[usize]) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = b.columns().to_vec();
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for &c in cols {
        let a = b.column(c);
        let DataType::Timestamp(unit, tz) = a.data_type() else {
            continue;
        };
        let strings: StringArray = (0..a.len())
            .map(|i| {
                (!a.is_null(i))
                    .then(|| format_timestamp(micros(a.as_ref(), *unit, i), tz.is_some()))
            })
            .collect();
        columns[c] = Arc::new(strings);
        fields[c] = Field::new(fields[c].name(), DataType::Utf8, true);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_timestamp_text() {
        assert_eq!(format_timestamp(0, false), "1970-01-01 00:00:00");
        assert_eq!(
            format_timestamp(1_500_000, true),
            "1970-01-01 00:00:01.5+00"
        );
        assert_eq!(format_timestamp(-1, false), "1969-12-31 23:59:59.999999");
    }
}
