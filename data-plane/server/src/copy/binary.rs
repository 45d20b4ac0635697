//! COPY FROM STDIN (FORMAT binary): PostgreSQL's binary copy format (a signature, then per row a field
//! count and each field's length and bytes in the type's binary send form), read into the text form of
//! each value so the rest of COPY treats every format alike. asyncpg's `copy_records_to_table`, Npgsql's
//! binary import and `psql \copy ... binary` send this.

use omendb_storage::DataType;

use crate::error::{Error, Result, code};
use crate::zone::Zone;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const EPOCH_DAYS: i64 = 10_957;
const EPOCH_MICROS: i64 = EPOCH_DAYS * 86_400_000_000;

fn bad(msg: impl Into<String>) -> Error {
    Error::sql(code::BAD_COPY_FORMAT, msg)
}

/// The header's length if `buf` holds all of it, `None` if more bytes are needed.
pub fn header(buf: &[u8]) -> Result<Option<usize>> {
    if buf.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if &buf[..SIGNATURE.len()] != SIGNATURE {
        return Err(bad("COPY file signature not recognized"));
    }
    let at = SIGNATURE.len();
    let flags = u32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"));
    if flags & (1 << 16) != 0 {
        return Err(bad("COPY with OIDs is not supported"));
    }
    let extension = u32::from_be_bytes(buf[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
    let total = at + 8 + extension;
    Ok((buf.len() >= total).then_some(total))
}

/// One tuple at the start of `buf`: `Some((bytes consumed, fields as text))`, `Some((2, None))` for the
/// trailer, `None` if incomplete. `types` are the types of the COPY's columns, in its order.
pub fn tuple(buf: &[u8], types: &[DataType]) -> Result<Option<Record>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let count = i16::from_be_bytes([buf[0], buf[1]]);
    if count == -1 {
        return Ok(Some((2, None)));
    }
    if count as usize != types.len() {
        return Err(bad(format!(
            "row field count is {count}, expected {}",
            types.len()
        )));
    }
    let mut at = 2;
    let mut fields = Vec::with_capacity(types.len());
    for ty in types {
        let Some(len) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(len.try_into().expect("4 bytes"));
        at += 4;
        if len == -1 {
            fields.push(None);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| bad("invalid field size"))?;
        let Some(value) = buf.get(at..at + len) else {
            return Ok(None);
        };
        at += len;
        fields.push(Some(text_of(value, *ty)?));
    }
    Ok(Some((at, Some(fields))))
}

/// Bytes consumed, and the fields (`None`: the trailer).
pub type Record = (usize, Option<Vec<Option<Vec<u8>>>>);

fn fixed<const N: usize>(v: &[u8], ty: &str) -> Result<[u8; N]> {
    v.try_into()
        .map_err(|_| bad(format!("incorrect binary data format for type {ty}")))
}

/// A value in binary send form, as COPY's text form.
fn text_of(v: &[u8], ty: DataType) -> Result<Vec<u8>> {
    Ok(match ty {
        DataType::Boolean => match fixed::<1>(v, "boolean")? {
            [0] => b"f".to_vec(),
            _ => b"t".to_vec(),
        },
        DataType::SmallInt => i16::from_be_bytes(fixed(v, "smallint")?)
            .to_string()
            .into_bytes(),
        DataType::Integer => i32::from_be_bytes(fixed(v, "integer")?)
            .to_string()
            .into_bytes(),
        DataType::BigInt => i64::from_be_bytes(fixed(v, "bigint")?)
            .to_string()
            .into_bytes(),
        DataType::Real => f32::from_be_bytes(fixed(v, "real")?)
            .to_string()
            .into_bytes(),
        DataType::Double => f64::from_be_bytes(fixed(v, "double precision")?)
            .to_string()
            .into_bytes(),
        // jsonb's binary form is a version byte (1) and the text.
        DataType::Jsonb => match v.split_first() {
            Some((1, text)) => {
                std::str::from_utf8(text).map_err(|_| {
                    Error::sql("22021", "invalid byte sequence for encoding \"UTF8\"")
                })?;
                text.to_vec()
            }
            _ => return Err(Error::sql("22P03", "unsupported jsonb version number")),
        },
        DataType::Text
        | DataType::Varchar { .. }
        | DataType::Char { .. }
        | DataType::Json
        | DataType::Enum { .. } => {
            std::str::from_utf8(v)
                .map_err(|_| Error::sql("22021", "invalid byte sequence for encoding \"UTF8\""))?;
            v.to_vec()
        }
        DataType::Uuid => {
            let b: [u8; 16] = fixed(v, "uuid")?;
            crate::uuids::text(&b).into_bytes()
        }
        DataType::Array(elem) => crate::arrays::text_from_binary(v, elem, text_of)?,
        DataType::Interval => {
            let b: [u8; 16] = fixed(v, "interval")?;
            crate::intervals::Interval {
                micros: i64::from_be_bytes(b[0..8].try_into().expect("8 bytes")),
                days: i32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
                months: i32::from_be_bytes(b[12..16].try_into().expect("4 bytes")),
            }
            .text()
            .into_bytes()
        }
        DataType::Bytea => {
            let mut out = Vec::with_capacity(2 + 2 * v.len());
            out.extend_from_slice(b"\\x");
            for b in v {
                out.extend_from_slice(format!("{b:02x}").as_bytes());
            }
            out
        }
        DataType::Date => {
            let days = i64::from(i32::from_be_bytes(fixed(v, "date")?)) + EPOCH_DAYS;
            let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|e| e.checked_add_signed(chrono::Duration::days(days)))
                .ok_or_else(|| Error::sql("22008", "date out of range"))?;
            date.format("%Y-%m-%d").to_string().into_bytes()
        }
        DataType::Time => {
            let micros = i64::from_be_bytes(fixed(v, "time")?);
            if !(0..=crate::times::DAY / 1000).contains(&micros) {
                return Err(Error::sql("22008", "time out of range"));
            }
            crate::times::text(micros * 1000).into_bytes()
        }
        DataType::Timestamp | DataType::TimestampTz => {
            let micros = i64::from_be_bytes(fixed(v, "timestamp")?)
                .checked_add(EPOCH_MICROS)
                .ok_or_else(|| Error::sql("22008", "timestamp out of range"))?;
            // An instant: written with its offset, so no session zone reads it again.
            let zone = (ty == DataType::TimestampTz).then(Zone::default);
            crate::text::format_timestamp(micros, zone.as_ref()).into_bytes()
        }
        DataType::Numeric { .. } => numeric_text(v)?.into_bytes(),
    })
}

/// PostgreSQL's binary numeric: digit count, weight, sign and display scale, then base-10000 digits.
fn numeric_text(v: &[u8]) -> Result<String> {
    let word = |i: usize| -> Result<i16> {
        v.get(2 * i..2 * i + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| bad("incorrect binary data format for type numeric"))
    };
    let ndigits = word(0)?;
    let weight = i32::from(word(1)?);
    let sign = word(2)? as u16;
    let dscale = word(3)?.max(0) as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        0 | 0x4000 => {}
        _ => return Err(bad("invalid sign in external \"numeric\" value")),
    }
    let digits: Vec<i16> = (0..ndigits.max(0) as usize)
        .map(|i| word(4 + i))
        .collect::<Result<_>>()?;
    if digits.iter().any(|d| !(0..10_000).contains(d)) {
        return Err(bad("invalid digit in external \"numeric\" value"));
    }
    // The integer part: digit groups with weights weight..=0; the fraction: the groups after.
    let mut int = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int.is_empty() {
            if d != 0 {
                int = d.to_string();
            }
        } else {
            int.push_str(&format!("{d:04}"));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let first_frac = weight + 1;
    let mut i = 0;
    while frac.len() < dscale {
        let idx = first_frac + i;
        let d = if idx < 0 {
            0
        } else {
            digits.get(idx as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        i += 1;
    }
    frac.truncate(dscale);
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    out.push_str(&int);
    if dscale > 0 {
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(words: &[i16]) -> String {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        numeric_text(&bytes).unwrap()
    }

    #[test]
    fn numerics_read_as_postgresql_sends_them() {
        // 12345.678: digits [1, 2345, 6780], weight 1, scale 3.
        assert_eq!(numeric(&[3, 1, 0, 3, 1, 2345, 6780]), "12345.678");
        // -0.05: digits [500], weight -1, scale 2.
        assert_eq!(numeric(&[1, -1, 0x4000, 2, 500]), "-0.05");
        assert_eq!(numeric(&[0, 0, 0, 0]), "0");
        assert_eq!(numeric(&[0, 0, 0, 2]), "0.00");
        // 10000: digits [1], weight 1.
        assert_eq!(numeric(&[1, 1, 0, 0, 1]), "10000");
        // 0.00012 = 1 * 10000^-1 + 2000 * 10000^-2: digits [1, 2000], weight -1, scale 5.
        assert_eq!(numeric(&[2, -1, 0, 5, 1, 2000]), "0.00012");
        // 0.00000005 = 5 * 10000^-2: digits [5], weight -2, scale 8.
        assert_eq!(numeric(&[1, -2, 0, 8, 5]), "0.00000005");
    }

    #[test]
    fn tuples_need_all_their_bytes() {
        let types = [DataType::Integer, DataType::Text];
        let mut row = vec![0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 2, b'h', b'i'];
        let (used, fields) = tuple(&row, &types).unwrap().unwrap();
        assert_eq!(used, row.len());
        assert_eq!(
            fields.unwrap(),
            vec![Some(b"7".to_vec()), Some(b"hi".to_vec())]
        );
        row.pop();
        assert!(tuple(&row, &types).unwrap().is_none());
        assert_eq!(tuple(&[0xff, 0xff], &types).unwrap().unwrap().0, 2);
        let mut header = SIGNATURE.to_vec();
        header.extend_from_slice(&[0; 8]);
        assert_eq!(super::header(&header).unwrap(), Some(19));
        assert!(super::header(b"PGCOPY\nxx\0\0\0\0\0\0\0\0\0\0").is_err());
    }
}
