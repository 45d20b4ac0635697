//! Result values written straight into a DataRow buffer in PostgreSQL's text (or trivial binary) form.
//!
//! Why: a 100-row range answer spent most of its server time in formatting machinery (two shortest-digit
//! float conversions per value, a `String` per float and per timestamp, a rebuilt Arrow column for the
//! timestamps). These writers produce the same bytes as the general encoder with no allocation per value;
//! `rows.rs` uses them for every batch whose columns all have a direct form and falls back to arrow-pg
//! otherwise. The tests compare them with the general path.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int16Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::{BufMut, BytesMut};
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::messages::data::DataRow;

use crate::zone::Zone;

/// Shortest round-trip digits of a float as PostgreSQL prints it: exponent form outside 1e-4 .. 10^`digits`
/// (15 for double precision, 6 for real), `Infinity`, `-Infinity`, `NaN`.
pub fn put_float<F: Shortest>(out: &mut BytesMut, v: F, digits: i32) {
    let wide: f64 = v.into();
    if wide.is_nan() {
        return out.put_slice(b"NaN");
    }
    if wide.is_infinite() {
        return out.put_slice(if wide < 0.0 {
            b"-Infinity"
        } else {
            b"Infinity"
        });
    }
    if wide == 0.0 {
        return out.put_slice(if wide.is_sign_negative() { b"-0" } else { b"0" });
    }
    let (neg, ds, exp) = v.shortest();
    if neg {
        out.put_u8(b'-');
    }
    let n = ds.len();
    if exp < -4 || exp >= digits {
        out.put_u8(ds[0]);
        if n > 1 {
            out.put_u8(b'.');
            out.put_slice(&ds[1..]);
        }
        out.put_u8(b'e');
        out.put_u8(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.put_u8(b'0');
        }
        out.put_slice(itoa::Buffer::new().format(a).as_bytes());
    } else if exp >= 0 {
        let int = exp as usize + 1;
        if n <= int {
            out.put_slice(&ds);
            out.put_bytes(b'0', int - n);
        } else {
            out.put_slice(&ds[..int]);
            out.put_u8(b'.');
            out.put_slice(&ds[int..]);
        }
    } else {
        out.put_slice(b"0.");
        out.put_bytes(b'0', (-exp - 1) as usize);
        out.put_slice(&ds);
    }
}

/// The shortest decimal digits PostgreSQL prints for a finite non-zero float: sign, significant digits and
/// the decimal exponent of the first digit.
pub trait Shortest: Copy + Into<f64> {
    fn shortest(self) -> (bool, Digits, i32);
}

impl Shortest for f64 {
    /// Ryu, as PostgreSQL's `float8out` (a decimal exactly halfway to a neighbour counts when it rounds back).
    fn shortest(self) -> (bool, Digits, i32) {
        significant(ryu::Buffer::new().format_finite(self).as_bytes())
    }
}

impl Shortest for f32 {
    /// Ryu, except that PostgreSQL's `float4out` never prints a decimal lying exactly halfway between this
    /// float and a neighbour (its f2s does not accept the bounds): such a tie takes the next digit count
    /// whose correctly rounded decimal round-trips off the midpoints (`7.2158064e+07`, not `7.215806e+07`).
    fn shortest(self) -> (bool, Digits, i32) {
        let first = significant(ryu::Buffer::new().format_finite(self).as_bytes());
        if !on_midpoint(self, &first) {
            return first;
        }
        for precision in first.1.len()..9 {
            let text = format!("{:.*e}", precision, self);
            if text.parse::<f32>().ok() == Some(self) {
                let d = significant(text.as_bytes());
                if !on_midpoint(self, &d) {
                    return d;
                }
            }
        }
        significant(format!("{:.8e}", self).as_bytes())
    }
}

/// Whether the decimal `(neg, digits, exp)` is exactly halfway between `v` and one of its neighbours. The
/// midpoints of two floats are exact in f64, and a decimal of at most 9 digits never rounds onto one in
/// f64 without being it.
fn on_midpoint(v: f32, (_, digits, exp): &(bool, Digits, i32)) -> bool {
    let a = v.abs();
    let bits = a.to_bits();
    let here = f64::from(a);
    let below = (bits > 0).then(|| (here + f64::from(f32::from_bits(bits - 1))) / 2.0);
    let above = (here + f64::from(f32::from_bits(bits + 1))) / 2.0;
    // Almost every decimal is nowhere near a midpoint: rule that out in arithmetic (relative error of this
    // estimate ~1e-15, the window 1e-9) and parse text only for the few that are close.
    let m = digits
        .iter()
        .fold(0u64, |m, d| m * 10 + u64::from(d.wrapping_sub(b'0')));
    let approx = m as f64 * 10f64.powi(exp + 1 - digits.len() as i32);
    let near = |mid: f64| (approx - mid).abs() <= mid * 1e-9;
    if !(below.is_some_and(near) || near(above)) {
        return false;
    }
    let text = format!(
        "0.{}e{}",
        std::str::from_utf8(digits).unwrap_or("0"),
        exp + 1
    );
    let Ok(decimal) = text.parse::<f64>() else {
        return false;
    };
    below == Some(decimal) || above == decimal
}

/// Sign, significant digits (no leading or trailing zeros) and decimal exponent of the first digit, read
/// from ryu's text of a finite non-zero float (`123.45`, `0.00012`, `1.5e20`, `1e-7`).
fn significant(text: &[u8]) -> (bool, Digits, i32) {
    let (neg, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let exp: i32 = std::str::from_utf8(&text[(e_at + 1).min(text.len())..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mantissa = &text[..e_at];
    let int_len = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    let mut ds = Digits::default();
    let mut leading = 0i32;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        if ds.len == 0 && b == b'0' {
            leading += 1;
        } else {
            ds.push(b);
        }
    }
    while ds.len > 1 && ds.buf[ds.len - 1] == b'0' {
        ds.len -= 1;
    }
    (neg, ds, int_len as i32 - 1 - leading + exp)
}

/// Up to 32 decimal digits on the stack (a shortest float has at most 17).
#[derive(Default)]
pub struct Digits {
    buf: [u8; 32],
    len: usize,
}

impl Digits {
    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }
}

impl std::ops::Deref for Digits {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// One column of a batch with a direct form.
enum Cells {
    Bool(arrow_array::BooleanArray),
    I16(arrow_array::Int16Array),
    I32(arrow_array::Int32Array),
    I64(arrow_array::Int64Array),
    F32(arrow_array::Float32Array),
    F64(arrow_array::Float64Array),
    Str(arrow_array::StringArray),
    LargeStr(arrow_array::LargeStringArray),
    View(arrow_array::StringViewArray),
    /// Text form only (binary timestamps go through arrow-pg).
    /// A timestamptz carries the zone it prints in.
    Timestamp(ArrayRef, TimeUnit, Option<Zone>),
    /// PostgreSQL's interval_out, or its binary form (microseconds, days, months); arrow-pg's sends a
    /// NULL interval as a zero one.
    Interval(arrow_array::IntervalMonthDayNanoArray),
    /// PostgreSQL's time_out (arrow-pg's prints six fractional digits always), or microseconds.
    Time(arrow_array::Time64NanosecondArray),
}

impl Cells {
    fn of(a: &ArrayRef, binary: bool, zone: &Zone) -> Option<Cells> {
        Some(match a.data_type() {
            DataType::Boolean => Cells::Bool(a.as_boolean().clone()),
            DataType::Int16 => Cells::I16(a.as_primitive::<Int16Type>().clone()),
            DataType::Int32 => Cells::I32(a.as_primitive::<Int32Type>().clone()),
            DataType::Int64 => Cells::I64(a.as_primitive::<Int64Type>().clone()),
            DataType::Float32 => Cells::F32(a.as_primitive::<Float32Type>().clone()),
            DataType::Float64 => Cells::F64(a.as_primitive::<Float64Type>().clone()),
            DataType::Utf8 => Cells::Str(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Cells::LargeStr(a.as_string::<i64>().clone()),
            DataType::Utf8View => Cells::View(a.as_string_view().clone()),
            DataType::Timestamp(unit, tz) if !binary => {
                Cells::Timestamp(a.clone(), *unit, tz.is_some().then(|| zone.clone()))
            }
            DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => Cells::Interval(
                a.as_primitive::<arrow_array::types::IntervalMonthDayNanoType>()
                    .clone(),
            ),
            DataType::Time64(TimeUnit::Nanosecond) => Cells::Time(
                a.as_primitive::<arrow_array::types::Time64NanosecondType>()
                    .clone(),
            ),
            _ => return None,
        })
    }

    /// Writes row `i` (its length word, then its bytes) to `out`.
    fn put(&self, i: usize, binary: bool, out: &mut BytesMut) {
        let a: &dyn Array = match self {
            Cells::Bool(a) => a,
            Cells::I16(a) => a,
            Cells::I32(a) => a,
            Cells::I64(a) => a,
            Cells::F32(a) => a,
            Cells::F64(a) => a,
            Cells::Str(a) => a,
            Cells::LargeStr(a) => a,
            Cells::View(a) => a,
            Cells::Timestamp(a, ..) => a.as_ref(),
            Cells::Interval(a) => a,
            Cells::Time(a) => a,
        };
        if a.is_null(i) {
            return out.put_i32(-1);
        }
        let at = out.len();
        out.put_i32(0);
        let mut int = itoa::Buffer::new();
        match self {
            Cells::Bool(a) if binary => out.put_u8(a.value(i) as u8),
            Cells::Bool(a) => out.put_u8(if a.value(i) { b't' } else { b'f' }),
            Cells::I16(a) if binary => out.put_i16(a.value(i)),
            Cells::I16(a) => out.put_slice(int.format(a.value(i)).as_bytes()),
            Cells::I32(a) if binary => out.put_i32(a.value(i)),
            Cells::I32(a) => out.put_slice(int.format(a.value(i)).as_bytes()),
            Cells::I64(a) if binary => out.put_i64(a.value(i)),
            Cells::I64(a) => out.put_slice(int.format(a.value(i)).as_bytes()),
            Cells::F32(a) if binary => out.put_f32(a.value(i)),
            Cells::F32(a) => put_float(out, a.value(i), 6),
            Cells::F64(a) if binary => out.put_f64(a.value(i)),
            Cells::F64(a) => put_float(out, a.value(i), 15),
            Cells::Str(a) => out.put_slice(a.value(i).as_bytes()),
            Cells::LargeStr(a) => out.put_slice(a.value(i).as_bytes()),
            Cells::View(a) => out.put_slice(a.value(i).as_bytes()),
            Cells::Timestamp(a, unit, zone) => crate::text::put_timestamp(
                out,
                crate::text::micros(a.as_ref(), *unit, i),
                zone.as_ref(),
            ),
            Cells::Interval(a) if binary => {
                let v = a.value(i);
                out.put_i64(v.nanoseconds / 1000);
                out.put_i32(v.days);
                out.put_i32(v.months);
            }
            Cells::Interval(a) => {
                let v = a.value(i);
                out.put_slice(
                    crate::array_out::interval_text(v.months, v.days, v.nanoseconds).as_bytes(),
                )
            }
            Cells::Time(a) if binary => out.put_i64(a.value(i).div_euclid(1000)),
            Cells::Time(a) => out.put_slice(crate::times::text(a.value(i)).as_bytes()),
        }
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// Whether a field's marks leave its encoding Arrow's: a table column's origin (OID, number, typmod), and
/// varchar / char(n), which are text on the wire.
fn plain(field: &arrow_schema::Field) -> bool {
    field.metadata().iter().all(|(k, v)| match k.as_str() {
        crate::origins::TABLE_OID | crate::origins::ATTNUM | crate::origins::TYPMOD => true,
        // char(n) is text on the wire.
        omendb_storage::BPCHAR_LEN_KEY => true,
        omendb_storage::EXTENSION_KEY => v == omendb_storage::BPCHAR_EXTENSION,
        crate::origins::TYPE_OID => matches!(v.as_str(), "1043" | "1042"),
        _ => false,
    })
}

/// The rows of `batch` written directly, when every column has a direct form for its format (and no mark
/// of a type with an encoding of its own: pg_catalog's `"char"` and `oid` columns, uuid, json; a column's
/// origin, which fast-path results carry, changes nothing).
pub fn direct_rows(
    fields: &[FieldInfo],
    batch: &RecordBatch,
    zone: &Zone,
) -> Option<impl Iterator<Item = DataRow> + Send + use<>> {
    let schema = batch.schema();
    let mut cols = Vec::with_capacity(batch.num_columns());
    for (c, a) in batch.columns().iter().enumerate() {
        let binary = fields.get(c)?.format() == FieldFormat::Binary;
        // A uuid's binary form is not its text (see rows.rs).
        if !plain(schema.field(c)) || (binary && *fields[c].datatype() == pgwire::api::Type::UUID) {
            return None;
        }
        cols.push((Cells::of(a, binary, zone)?, binary));
    }
    let rows = batch.num_rows();
    let ncols = cols.len() as i16;
    let mut buf = BytesMut::new();
    Some((0..rows).map(move |i| {
        for (cells, binary) in &cols {
            cells.put(i, *binary, &mut buf);
        }
        let row = buf.split();
        if i == 0 {
            // Room for the rest, sized from the first row: later rows split off one allocation.
            buf.reserve((row.len() + 8) * (rows - 1));
        }
        DataRow::new(row, ncols)
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
        LargeStringArray, StringArray, StringViewArray, TimestampMicrosecondArray,
        TimestampSecondArray,
    };
    use arrow_schema::{Field, Schema};
    use pgwire::api::portal::Format;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The float text the server printed before these writers: two conversions and two strings.
    fn reference(
        nan: bool,
        inf: bool,
        neg: bool,
        sci: String,
        plain: String,
        digits: i32,
    ) -> String {
        if nan {
            return "NaN".into();
        }
        if inf {
            return if neg { "-Infinity" } else { "Infinity" }.into();
        }
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if plain.trim_start_matches('-') != "0" && (exp < -4 || exp >= digits) {
            let sign = if exp < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exp.abs())
        } else {
            plain
        }
    }

    fn written<F: Shortest>(v: F, digits: i32) -> String {
        let mut b = BytesMut::new();
        put_float(&mut b, v, digits);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn floats_match_the_two_string_form() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut f64s = vec![
            0.0,
            -0.0,
            1e15,
            1e14,
            999_999_999_999_999.9,
            1e-4,
            9.99e-5,
            5e-324,
            f64::MAX,
        ];
        let mut f32s = vec![0.0f32, -0.0, 1e6, 999_999.9, 1e-4, 1e-45, f32::MAX];
        for _ in 0..200_000 {
            f64s.push(f64::from_bits(rng.random()));
            f64s.push(rng.random_range(-1e7..1e7));
            f64s.push(rng.random_range(-1e6..1e6f64).round() / 1000.0);
            f32s.push(f32::from_bits(rng.random()));
            f32s.push(rng.random_range(-1e7f32..1e7));
        }
        // Every value: the text reads back as the same float; where it differs from the two-string form it
        // is only in which of two equally short decimals was chosen (f64) or by PostgreSQL's rule for real
        // (one digit more off a midpoint). `tests/float_text.rs` compares digit for digit with PostgreSQL.
        let sig = |t: &str| {
            let m = t
                .trim_start_matches('-')
                .split('e')
                .next()
                .unwrap_or("")
                .to_string();
            m.replace('.', "")
                .trim_start_matches('0')
                .trim_end_matches('0')
                .len()
        };
        for v in f64s {
            let want = reference(
                v.is_nan(),
                v.is_infinite(),
                v < 0.0,
                format!("{v:e}"),
                v.to_string(),
                15,
            );
            let got = written(v, 15);
            if !v.is_finite() {
                assert_eq!(got, want);
                continue;
            }
            assert_eq!(
                got.parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{v:?} -> {got}"
            );
            if got != want {
                assert_eq!(sig(&got), sig(&want), "{v:?}: {got} vs {want}");
                assert_eq!(
                    got.contains('e'),
                    want.contains('e'),
                    "{v:?}: {got} vs {want}"
                );
            }
        }
        for v in f32s {
            let want = reference(
                v.is_nan(),
                v.is_infinite(),
                v < 0.0,
                format!("{v:e}"),
                v.to_string(),
                6,
            );
            let got = written(v, 6);
            if !v.is_finite() {
                assert_eq!(got, want);
                continue;
            }
            assert_eq!(
                got.parse::<f32>().unwrap().to_bits(),
                v.to_bits(),
                "{v:?} -> {got}"
            );
            if got != want {
                assert!(sig(&got) >= sig(&want), "{v:?}: {got} vs {want}");
            }
        }
        // Checked against PostgreSQL 15: a double tie goes to the even digit, a real never ends on a midpoint.
        let tie: f64 = "651982641986335.25".parse().unwrap();
        assert_eq!(written(tie, 15), "651982641986335.2");
        assert_eq!(written(7.215806e7f32, 6), "7.2158064e+07");
    }

    fn random_batch(rng: &mut StdRng, rows: usize) -> RecordBatch {
        let null = |rng: &mut StdRng| rng.random_bool(0.15);
        let text = |rng: &mut StdRng| -> String {
            let n = rng.random_range(0..12);
            (0..n)
                .map(|_| ['a', 'é', ' ', '"', '{', '\\', '7', '😀'][rng.random_range(0..8)])
                .collect()
        };
        let b: BooleanArray = (0..rows)
            .map(|_| (!null(rng)).then(|| rng.random_bool(0.5)))
            .collect();
        let i16s: Int16Array = (0..rows)
            .map(|_| (!null(rng)).then(|| rng.random()))
            .collect();
        let i32s: Int32Array = (0..rows)
            .map(|_| (!null(rng)).then(|| rng.random()))
            .collect();
        let i64s: Int64Array = (0..rows)
            .map(|_| (!null(rng)).then(|| rng.random()))
            .collect();
        let f32s: Float32Array = (0..rows)
            .map(|_| (!null(rng)).then(|| f32::from_bits(rng.random())))
            .collect();
        let f64s: Float64Array = (0..rows)
            .map(|_| (!null(rng)).then(|| rng.random_range(-1e17..1e17)))
            .collect();
        let s: StringArray = (0..rows).map(|_| (!null(rng)).then(|| text(rng))).collect();
        let ls: LargeStringArray = (0..rows).map(|_| (!null(rng)).then(|| text(rng))).collect();
        let vs: StringViewArray = (0..rows).map(|_| (!null(rng)).then(|| text(rng))).collect();
        let span = 400 * 366 * 86_400_000_000i64;
        let ts: TimestampMicrosecondArray = (0..rows)
            .map(|_| (!null(rng)).then(|| rng.random_range(-span..span)))
            .collect();
        let tz = TimestampSecondArray::from(
            (0..rows)
                .map(|_| (!null(rng)).then(|| rng.random_range(-1i64 << 33..1 << 33)))
                .collect::<Vec<_>>(),
        )
        .with_timezone("+00:00");
        let cols: Vec<ArrayRef> = vec![
            Arc::new(b),
            Arc::new(i16s),
            Arc::new(i32s),
            Arc::new(i64s),
            Arc::new(f32s),
            Arc::new(f64s),
            Arc::new(s),
            Arc::new(ls),
            Arc::new(vs),
            Arc::new(ts),
            Arc::new(tz),
        ];
        let fields: Vec<Field> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    /// Every direct row equals what arrow-pg's encoder (with our timestamp and float text) writes, for
    /// text results and binary ones, nulls included.
    #[test]
    fn direct_rows_equal_the_general_encoder() {
        let mut rng = StdRng::seed_from_u64(5);
        for round in 0..40 {
            let rows = rng.random_range(1..60);
            let batch = random_batch(&mut rng, rows);
            let format = if round % 2 == 0 {
                Format::UnifiedText
            } else {
                // Binary where the direct form has one, text for the timestamps.
                let n = batch.num_columns();
                Format::Individual((0..n).map(|i| if i >= n - 2 { 0 } else { 1 }).collect())
            };
            let fields = Arc::new(
                arrow_pg::datatypes::arrow_schema_to_pg_fields(batch.schema_ref(), &format, None)
                    .unwrap(),
            );
            let direct: Vec<DataRow> = direct_rows(&fields, &batch, &Zone::default())
                .expect("direct form")
                .collect();
            let timestamps: Vec<usize> = (0..batch.num_columns())
                .filter(|&i| matches!(batch.column(i).data_type(), DataType::Timestamp(..)))
                .collect();
            let general: Vec<DataRow> = crate::rows::general_for_tests(
                fields.clone(),
                crate::text::timestamps_as_text(batch.clone(), &timestamps, &Zone::default()),
            );
            assert_eq!(direct.len(), batch.num_rows());
            assert_eq!(direct, general, "round {round}");
        }
    }

    /// Whether a one-column batch of `array` in `format` has a direct form.
    fn direct(array: ArrayRef, format: Format) -> bool {
        let field = Field::new("c", array.data_type().clone(), true);
        let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![array]).unwrap();
        let fields =
            arrow_pg::datatypes::arrow_schema_to_pg_fields(batch.schema_ref(), &format, None)
                .unwrap();
        direct_rows(&fields, &batch, &Zone::default()).is_some()
    }

    #[test]
    fn table_columns_origins_keep_the_direct_path() {
        let field = crate::origins::with_origin(&Field::new("c", DataType::Int64, true), 16384, 1);
        let field =
            crate::origins::with_type(&field, omendb_storage::DataType::Varchar { max: Some(5) });
        let array: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![Some(1)]));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![array]).unwrap();
        let fields = arrow_pg::datatypes::arrow_schema_to_pg_fields(
            batch.schema_ref(),
            &Format::UnifiedText,
            None,
        )
        .unwrap();
        assert!(direct_rows(&fields, &batch, &Zone::default()).is_some());
        let json = Field::new("j", DataType::Utf8, true).with_metadata(
            [(
                omendb_storage::EXTENSION_KEY.to_string(),
                omendb_storage::JSONB_EXTENSION.to_string(),
            )]
            .into(),
        );
        let array: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![Some("{}")]));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![json])), vec![array]).unwrap();
        let fields = arrow_pg::datatypes::arrow_schema_to_pg_fields(
            batch.schema_ref(),
            &Format::UnifiedBinary,
            None,
        )
        .unwrap();
        assert!(direct_rows(&fields, &batch, &Zone::default()).is_none());
    }

    #[test]
    fn other_types_and_binary_timestamps_take_the_general_path() {
        let ts = || -> ArrayRef { Arc::new(TimestampMicrosecondArray::from(vec![Some(1)])) };
        assert!(direct(ts(), Format::UnifiedText));
        assert!(!direct(ts(), Format::UnifiedBinary));
        let dec: ArrayRef = Arc::new(
            arrow_array::Decimal128Array::from(vec![Some(1)])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        assert!(!direct(dec, Format::UnifiedText));
    }

    /// The midpoint check as it was before its arithmetic pre-filter: text for every value.
    fn on_midpoint_by_text(v: f32, (_, digits, exp): &(bool, Digits, i32)) -> bool {
        let text = format!(
            "0.{}e{}",
            std::str::from_utf8(digits).unwrap_or("0"),
            exp + 1
        );
        let Ok(decimal) = text.parse::<f64>() else {
            return false;
        };
        let (a, bits) = (v.abs(), v.abs().to_bits());
        let here = f64::from(a);
        let below = (bits > 0).then(|| (here + f64::from(f32::from_bits(bits - 1))) / 2.0);
        let above = (here + f64::from(f32::from_bits(bits + 1))) / 2.0;
        below == Some(decimal) || above == decimal
    }

    #[test]
    fn midpoint_filter_never_changes_the_answer() {
        let mut rng = StdRng::seed_from_u64(32);
        let mut hits = 0;
        let floats = (0..300_000)
            .map(|_| f32::from_bits(rng.random::<u32>()))
            .chain([
                7.215806e7f32,
                0.0,
                f32::MAX,
                f32::MIN_POSITIVE,
                1.0,
                16777216.0,
            ]);
        for v in floats.filter(|v| v.is_finite()) {
            let first = significant(ryu::Buffer::new().format_finite(v).as_bytes());
            // Also the candidates `shortest` tries past a midpoint.
            let mut candidates = vec![first];
            for precision in 1..9 {
                candidates.push(significant(format!("{:.*e}", precision, v).as_bytes()));
            }
            for d in &candidates {
                let exact = on_midpoint_by_text(v, d);
                assert_eq!(
                    on_midpoint(v, d),
                    exact,
                    "{v:e} as {:?}",
                    std::str::from_utf8(&d.1)
                );
                hits += usize::from(exact);
            }
        }
        assert!(
            hits > 0,
            "no midpoint among the samples: the comparison proved nothing"
        );
    }
}
