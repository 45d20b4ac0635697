//! `COPY table [(cols)] FROM STDIN` in PostgreSQL's text and CSV formats. Rows are parsed as CopyData
//! arrives, straight into typed Arrow builders; the whole COPY commits at CopyDone in one transaction (or
//! joins the open one), so it is all or nothing.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use datafusion::sql::sqlparser::ast::{
    CopyLegacyOption, CopyOption, CopySource, CopyTarget, ObjectName, Statement,
};
use omendb_storage::DataType;

use crate::ddl;
use crate::error::{Error, Result, code};
use crate::zone::Zone;

const BATCH_ROWS: usize = 1 << 16;

mod binary;
#[cfg(test)]
mod fuzz;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Binary,
}

pub struct CopyIn {
    pub table: String,
    schema: SchemaRef,
    types: Vec<DataType>,
    /// For each table column, its position in the COPY column list.
    source: Vec<Option<usize>>,
    /// For each column the COPY leaves out, its DEFAULT as COPY text (constant defaults only).
    defaults: Vec<Option<Vec<u8>>>,
    ncols: usize,
    pub format: Format,
    delimiter: u8,
    null: Vec<u8>,
    quote: u8,
    escape: u8,
    skip_header: bool,
    /// COPY ... (FREEZE): allowed only into a table created or truncated in the same transaction.
    pub freeze: bool,
    pending: Vec<u8>,
    builders: Vec<Box<dyn ArrayBuilder>>,
    rows_in_builders: usize,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    /// 1-based line number, for error messages.
    line: usize,
    ended: bool,
    /// The session's zone: a timestamptz without an offset is a wall time there.
    pub zone: Zone,
    /// Binary format: the types of the COPY's columns in its order, and whether the header was read.
    field_types: Vec<DataType>,
    header_read: bool,
}

fn bad(line: usize, msg: impl std::fmt::Display) -> Error {
    Error::sql(code::BAD_COPY_FORMAT, format!("COPY line {line}: {msg}"))
}

fn builder(t: DataType) -> Box<dyn ArrayBuilder> {
    match t {
        DataType::SmallInt => Box::new(Int16Builder::new()),
        DataType::Integer => Box::new(Int32Builder::new()),
        DataType::BigInt => Box::new(Int64Builder::new()),
        DataType::Real => Box::new(Float32Builder::new()),
        DataType::Double => Box::new(Float64Builder::new()),
        DataType::Boolean => Box::new(BooleanBuilder::new()),
        DataType::Text
        | DataType::Varchar { .. }
        | DataType::Char { .. }
        | DataType::Uuid
        | DataType::Json
        | DataType::Jsonb
        | DataType::Enum { .. }
        // An array's text, read into a list when the batch is made (`flush`).
        | DataType::Array(_) => Box::new(StringBuilder::new()),
        DataType::Bytea => Box::new(BinaryBuilder::new()),
        DataType::Interval => Box::new(arrow_array::builder::IntervalMonthDayNanoBuilder::new()),
        DataType::Date => Box::new(Date32Builder::new()),
        DataType::Time => Box::new(arrow_array::builder::Time64NanosecondBuilder::new()),
        DataType::Timestamp => Box::new(TimestampMicrosecondBuilder::new()),
        DataType::TimestampTz => Box::new(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
        DataType::Numeric { precision, scale } => Box::new(
            Decimal128Builder::new()
                .with_precision_and_scale(precision, scale)
                .expect("precision validated at CREATE TABLE"),
        ),
    }
}

macro_rules! push {
    ($b:expr, $ty:ty, $v:expr) => {
        $b.as_any_mut()
            .downcast_mut::<$ty>()
            .expect("builder matches column type")
            .append_option($v)
    };
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// A date in ISO form (`2024-01-31`), as days since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .map(|d| (d - EPOCH).num_days() as i32)
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_iso_timestamp(s.as_bytes()) {
        return Some(t);
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
        if f == "%Y-%m-%d"
            && let Ok(d) = NaiveDate::parse_from_str(s, f)
        {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
        }
    }
    None
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`), the shape nearly every COPY carries, without chrono's
/// format interpreter (a quarter of a COPY's CPU went there). `None` means "not this shape": the caller
/// falls back to the general formats, so only validity, never acceptance, is decided here.
fn parse_iso_timestamp(b: &[u8]) -> Option<i64> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let mut nanos = 0u32;
    if b.len() > 19 {
        let frac = &b[20..];
        if b[19] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        nanos = num(20..b.len())? * 10u32.pow(9 - frac.len() as u32);
    }
    let time =
        chrono::NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
    Some(date.and_time(time).and_utc().timestamp_micros())
}

/// PostgreSQL's timestamptz input: an offset (`+00`, `-04:00`, `Z`) or zone name after the time names the
/// zone; without one the time is a wall time in the session's `zone`.
pub fn parse_timestamptz(s: &str, zone: &Zone) -> Option<i64> {
    let s = s.trim();
    let fixed = if let Some(x) = s.strip_suffix('Z') {
        format!("{x}+00:00")
    } else if s.len() > 3
        && (s.as_bytes()[s.len() - 3] == b'+' || s.as_bytes()[s.len() - 3] == b'-')
    {
        // "+00" as PostgreSQL prints it.
        format!("{s}:00")
    } else {
        s.to_string()
    };
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&fixed, f) {
            return Some(t.timestamp_micros());
        }
    }
    if let Some(local) = parse_timestamp(s) {
        return Some(zone.utc_of_local(local));
    }
    // An offset or a zone name after a space: `12:00 +05:30`, `12:00:00 America/New_York`.
    let (time, name) = s.rsplit_once(' ')?;
    if name.starts_with(['+', '-']) && !time.ends_with(['+', '-']) {
        return parse_timestamptz(&format!("{}{name}", time.trim_end()), zone);
    }
    let named = Zone::named(name)?;
    Some(named.utc_of_local(parse_timestamp(time)?))
}

pub(crate) fn parse_decimal(s: &str, scale: i8) -> Option<i128> {
    let d: rust_decimal::Decimal = s.trim().parse().ok()?;
    let mut d = d;
    d.rescale(scale as u32);
    (d.scale() == scale as u32).then(|| d.mantissa())
}

fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    let hex = s.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// A constant DEFAULT (`'text'`, `42`, `-1.5`, `true`) as the text COPY would carry for it.
fn constant_text(sql: &str) -> Option<Vec<u8>> {
    let e = crate::ddl::parse_expr(sql).ok()?;
    let text = match crate::ddl::literal(&e)? {
        crate::ddl::Literal::Text(s) | crate::ddl::Literal::Number(s) => s,
        crate::ddl::Literal::Bool(b) => b.to_string(),
        crate::ddl::Literal::Null => return None,
    };
    Some(text.into_bytes())
}

impl CopyIn {
    /// Plans COPY FROM STDIN; `reader_of` gives the target table as the session sees it.
    pub fn plan(
        stmt: &Statement,
        reader_of: impl FnOnce(&ObjectName) -> Result<omendb_storage::TableReader>,
    ) -> Result<CopyIn> {
        let Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } = stmt
        else {
            return Err(Error::sql(code::INTERNAL, "not a COPY"));
        };
        if *to || !matches!(target, CopyTarget::Stdin) {
            return Err(Error::unsupported(
                "COPY other than FROM STDIN (use SELECT for reading; server files are not reachable)",
            ));
        }
        let CopySource::Table {
            table_name,
            columns,
        } = source
        else {
            return Err(Error::unsupported("COPY (query) FROM"));
        };
        let reader = reader_of(table_name)?;
        let table = reader.def().name.clone();
        let def = reader.def().clone();
        let listed: Vec<String> = columns.iter().map(ddl::ident).collect();
        let mut source = vec![None; def.columns.len()];
        if listed.is_empty() {
            for (i, s) in source.iter_mut().enumerate() {
                *s = Some(i);
            }
        } else {
            for (pos, name) in listed.iter().enumerate() {
                let i = ddl::column_at(&def, name)?;
                source[i] = Some(pos);
            }
        }
        let mut defaults = vec![None; def.columns.len()];
        for (i, c) in def.columns.iter().enumerate() {
            if let (None, Some(sql)) = (source[i], &c.default) {
                defaults[i] = Some(constant_text(sql).ok_or_else(|| {
                    Error::unsupported(format!(
                        "COPY leaving out column \"{}\", whose DEFAULT {sql} is not a constant",
                        c.name
                    ))
                })?);
            }
        }
        let mut c = CopyIn {
            ncols: if listed.is_empty() {
                def.columns.len()
            } else {
                listed.len()
            },
            schema: reader.schema(),
            types: def.columns.iter().map(|c| c.data_type).collect(),
            builders: def.columns.iter().map(|c| builder(c.data_type)).collect(),
            source,
            defaults,
            table,
            format: Format::Text,
            delimiter: b'\t',
            null: b"\\N".to_vec(),
            quote: b'"',
            escape: b'"',
            skip_header: false,
            freeze: false,
            pending: Vec::new(),
            rows_in_builders: 0,
            batches: Vec::new(),
            rows: 0,
            line: 0,
            ended: false,
            zone: Zone::default(),
            field_types: Vec::new(),
            header_read: false,
        };
        let mut escape = None;
        let mut delimiter = None;
        let mut null = None;
        for o in options {
            match o {
                CopyOption::Format(f) => match f.value.to_lowercase().as_str() {
                    "text" => c.format = Format::Text,
                    "csv" => c.format = Format::Csv,
                    "binary" => c.format = Format::Binary,
                    other => return Err(Error::unsupported(format!("COPY format {other}"))),
                },
                CopyOption::Delimiter(d) => delimiter = Some(*d),
                CopyOption::Null(n) => null = Some(n.clone()),
                CopyOption::Header(h) => c.skip_header = *h,
                CopyOption::Freeze(f) => c.freeze = *f,
                CopyOption::Quote(q) => c.quote = *q as u8,
                CopyOption::Escape(e) => escape = Some(*e as u8),
                CopyOption::Encoding(e)
                    if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        for o in legacy_options {
            match o {
                CopyLegacyOption::Csv(_) => c.format = Format::Csv,
                CopyLegacyOption::Binary => c.format = Format::Binary,
                CopyLegacyOption::Delimiter(d) => delimiter = Some(*d),
                CopyLegacyOption::Null(n) => null = Some(n.clone()),
                CopyLegacyOption::Header => c.skip_header = true,
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        if c.format == Format::Csv {
            c.delimiter = b',';
            c.null = Vec::new();
        }
        if let Some(d) = delimiter {
            if !d.is_ascii() || d == '\n' || d == '\r' {
                return Err(Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    "COPY delimiter must be a single one-byte character",
                ));
            }
            c.delimiter = d as u8;
        }
        if let Some(n) = null {
            c.null = n.into_bytes();
        }
        c.escape = escape.unwrap_or(c.quote);
        if c.format == Format::Text && c.skip_header {
            return Err(Error::unsupported("COPY HEADER in text format (use CSV)"));
        }
        if c.format == Format::Binary {
            if delimiter.is_some() || c.skip_header {
                return Err(Error::sql(
                    code::SYNTAX_ERROR,
                    "cannot specify DELIMITER or HEADER in BINARY mode",
                ));
            }
            c.field_types = (0..c.ncols)
                .map(|pos| {
                    let col = c.source.iter().position(|s| *s == Some(pos));
                    col.map_or(DataType::Text, |i| c.types[i])
                })
                .collect();
        }
        Ok(c)
    }

    pub fn columns(&self) -> usize {
        self.ncols
    }

    /// Feeds a CopyData payload.
    pub fn data(&mut self, bytes: &[u8]) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.pending.extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.pending);
        let consumed = self.records(&buf, false)?;
        self.pending = buf[consumed..].to_vec();
        Ok(())
    }

    /// CopyDone: the last record may lack its newline.
    pub fn finish(&mut self) -> Result<()> {
        let buf = std::mem::take(&mut self.pending);
        if !buf.is_empty() && !self.ended {
            let consumed = self.records(&buf, true)?;
            if consumed < buf.len() {
                let what = match self.format {
                    Format::Binary => "unexpected EOF in COPY data",
                    _ => "unterminated CSV quoted field",
                };
                return Err(bad(self.line + 1, what));
            }
        }
        self.flush()
    }

    /// Parses the complete records at the start of `buf`; returns the bytes consumed.
    fn records(&mut self, buf: &[u8], at_end: bool) -> Result<usize> {
        let mut pos = 0;
        let mut fields: Vec<Option<Vec<u8>>> = Vec::with_capacity(self.ncols);
        while pos < buf.len() && !self.ended {
            fields.clear();
            let end = match self.format {
                Format::Text => self.text_record(&buf[pos..], at_end, &mut fields)?,
                Format::Csv => self.csv_record(&buf[pos..], at_end, &mut fields)?,
                Format::Binary => self.binary_record(&buf[pos..], &mut fields)?,
            };
            let Some(len) = end else { break };
            pos += len;
            self.line += 1;
            if self.ended {
                break;
            }
            if self.skip_header {
                self.skip_header = false;
                continue;
            }
            self.row(&fields)?;
        }
        Ok(pos)
    }

    /// One binary-format tuple (after the header, the first time): `Some(bytes consumed)` or `None` if
    /// incomplete; the trailer ends the data.
    fn binary_record(
        &mut self,
        buf: &[u8],
        fields: &mut Vec<Option<Vec<u8>>>,
    ) -> Result<Option<usize>> {
        let mut start = 0;
        if !self.header_read {
            let Some(n) = binary::header(buf)? else {
                return Ok(None);
            };
            start = n;
        }
        let Some((n, tuple)) = binary::tuple(&buf[start..], &self.field_types)? else {
            return Ok(None);
        };
        self.header_read = true;
        match tuple {
            Some(t) => fields.extend(t),
            None => self.ended = true,
        }
        Ok(Some(start + n))
    }

    /// One text-format record: `Some(bytes consumed)` or `None` if incomplete.
    fn text_record(
        &mut self,
        buf: &[u8],
        at_end: bool,
        fields: &mut Vec<Option<Vec<u8>>>,
    ) -> Result<Option<usize>> {
        let (line, used) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None if at_end => (buf, buf.len()),
            None => return Ok(None),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"\\." {
            self.ended = true;
            return Ok(Some(used));
        }
        for raw in line.split(|&b| b == self.delimiter) {
            if raw == self.null.as_slice() {
                fields.push(None);
                continue;
            }
            let mut out = Vec::with_capacity(raw.len());
            let mut i = 0;
            while i < raw.len() {
                let b = raw[i];
                if b != b'\\' || i + 1 == raw.len() {
                    out.push(b);
                    i += 1;
                    continue;
                }
                let n = raw[i + 1];
                i += 2;
                match n {
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(11),
                    b'0'..=b'7' => {
                        let mut v = u32::from(n - b'0');
                        for _ in 0..2 {
                            if i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                                v = v * 8 + u32::from(raw[i] - b'0');
                                i += 1;
                            }
                        }
                        out.push(v as u8);
                    }
                    b'x' => {
                        let mut v = 0u32;
                        let mut digits = 0;
                        while digits < 2 && i < raw.len() && raw[i].is_ascii_hexdigit() {
                            v = v * 16 + (raw[i] as char).to_digit(16).expect("hex digit");
                            i += 1;
                            digits += 1;
                        }
                        if digits == 0 {
                            out.push(b'x');
                        } else {
                            out.push(v as u8);
                        }
                    }
                    other => out.push(other),
                }
            }
            fields.push(Some(out));
        }
        Ok(Some(used))
    }

    /// One CSV record (quoted fields may span lines).
    fn csv_record(
        &mut self,
        buf: &[u8],
        at_end: bool,
        fields: &mut Vec<Option<Vec<u8>>>,
    ) -> Result<Option<usize>> {
        let mut i = 0;
        let mut field = Vec::new();
        let mut quoted_field = false;
        let mut in_quotes = false;
        loop {
            if i >= buf.len() {
                if !at_end || in_quotes {
                    return Ok(None);
                }
                break;
            }
            let b = buf[i];
            if in_quotes {
                if b == self.escape
                    && self.escape != self.quote
                    && i + 1 < buf.len()
                    && buf[i + 1] == self.quote
                {
                    field.push(self.quote);
                    i += 2;
                } else if b == self.quote {
                    if i + 1 < buf.len() && buf[i + 1] == self.quote && self.escape == self.quote {
                        field.push(self.quote);
                        i += 2;
                    } else if i + 1 >= buf.len() && !at_end {
                        return Ok(None);
                    } else {
                        in_quotes = false;
                        i += 1;
                    }
                } else {
                    // Copy the run up to the next quote or escape at once, not byte by byte.
                    let run = buf[i..]
                        .iter()
                        .position(|&c| c == self.quote || c == self.escape)
                        .unwrap_or(buf.len() - i);
                    field.extend_from_slice(&buf[i..i + run.max(1)]);
                    i += run.max(1);
                }
                continue;
            }
            if b == self.quote {
                in_quotes = true;
                quoted_field = true;
                i += 1;
            } else if b == self.delimiter {
                fields.push(self.csv_value(std::mem::take(&mut field), quoted_field));
                quoted_field = false;
                i += 1;
            } else if b == b'\n' {
                i += 1;
                break;
            } else if b == b'\r' && buf.get(i + 1) == Some(&b'\n') {
                i += 2;
                break;
            } else {
                let run = buf[i..]
                    .iter()
                    .position(|&c| {
                        c == self.quote || c == self.delimiter || c == b'\n' || c == b'\r'
                    })
                    .unwrap_or(buf.len() - i);
                field.extend_from_slice(&buf[i..i + run.max(1)]);
                i += run.max(1);
            }
        }
        if fields.is_empty() && !quoted_field && field == b"\\." {
            self.ended = true;
            return Ok(Some(i));
        }
        fields.push(self.csv_value(field, quoted_field));
        Ok(Some(i))
    }

    fn csv_value(&self, field: Vec<u8>, quoted: bool) -> Option<Vec<u8>> {
        // An unquoted value equal to the NULL string is NULL; a quoted empty string is an empty string.
        (quoted || field != self.null).then_some(field)
    }

    fn row(&mut self, fields: &[Option<Vec<u8>>]) -> Result<()> {
        if fields.len() != self.ncols {
            return Err(bad(
                self.line,
                format!("{} columns, expected {}", fields.len(), self.ncols),
            ));
        }
        for col in 0..self.types.len() {
            let v = match self.source[col] {
                Some(p) => fields[p].as_deref(),
                None => self.defaults[col].as_deref(),
            };
            let s = match v {
                None => None,
                Some(b) => {
                    Some(std::str::from_utf8(b).map_err(|_| bad(self.line, "invalid UTF-8"))?)
                }
            };
            let line = self.line;
            let name = || self.schema.field(col).name().clone();
            // A value the column's type cannot read is PostgreSQL's invalid_text_representation.
            let invalid = |s: &str, t: &str| {
                Error::sql(
                    code::INVALID_TEXT_REPRESENTATION,
                    format!(
                        "invalid input syntax for type {t}: {s:?} (COPY line {line}, column \"{}\")",
                        name()
                    ),
                )
            };
            let b = &mut self.builders[col];
            match self.types[col] {
                DataType::SmallInt => push!(
                    b,
                    Int16Builder,
                    s.map(|s| s.trim().parse().map_err(|_| invalid(s, "smallint")))
                        .transpose()?
                ),
                DataType::Integer => push!(
                    b,
                    Int32Builder,
                    s.map(|s| s.trim().parse().map_err(|_| invalid(s, "integer")))
                        .transpose()?
                ),
                DataType::BigInt => push!(
                    b,
                    Int64Builder,
                    s.map(|s| s.trim().parse().map_err(|_| invalid(s, "bigint")))
                        .transpose()?
                ),
                DataType::Real => push!(
                    b,
                    Float32Builder,
                    s.map(|s| parse_float(s)
                        .map(|f| f as f32)
                        .ok_or_else(|| invalid(s, "real")))
                        .transpose()?
                ),
                DataType::Double => push!(
                    b,
                    Float64Builder,
                    s.map(|s| parse_float(s).ok_or_else(|| invalid(s, "double precision")))
                        .transpose()?
                ),
                DataType::Boolean => push!(
                    b,
                    BooleanBuilder,
                    s.map(|s| parse_bool(s).ok_or_else(|| invalid(s, "boolean")))
                        .transpose()?
                ),
                DataType::Text
                | DataType::Varchar { .. }
                | DataType::Char { .. }
                | DataType::Uuid
                | DataType::Json
                | DataType::Jsonb
                | DataType::Enum { .. }
                | DataType::Array(_) => {
                    push!(b, StringBuilder, s)
                }
                DataType::Interval => push!(
                    b,
                    arrow_array::builder::IntervalMonthDayNanoBuilder,
                    s.map(|s| crate::intervals::parse(s)
                        .map(|v| arrow_array::types::IntervalMonthDayNano::new(
                            v.months,
                            v.days,
                            v.micros * 1000
                        ))
                        .map_err(|_| invalid(s, "interval")))
                        .transpose()?
                ),
                DataType::Bytea => push!(
                    b,
                    BinaryBuilder,
                    s.map(|s| parse_bytea(s).ok_or_else(|| invalid(s, "bytea")))
                        .transpose()?
                ),
                DataType::Date => push!(
                    b,
                    Date32Builder,
                    s.map(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                        .map(|d| (d - EPOCH).num_days() as i32)
                        .map_err(|_| invalid(s, "date")))
                        .transpose()?
                ),
                DataType::Time => push!(
                    b,
                    arrow_array::builder::Time64NanosecondBuilder,
                    s.map(|s| crate::times::parse(s).map_err(|_| invalid(s, "time")))
                        .transpose()?
                ),
                DataType::Timestamp => push!(
                    b,
                    TimestampMicrosecondBuilder,
                    s.map(|s| parse_timestamp(s).ok_or_else(|| invalid(s, "timestamp")))
                        .transpose()?
                ),
                DataType::TimestampTz => push!(
                    b,
                    TimestampMicrosecondBuilder,
                    s.map(|s| parse_timestamptz(s, &self.zone)
                        .ok_or_else(|| invalid(s, "timestamptz")))
                        .transpose()?
                ),
                DataType::Numeric { scale, .. } => push!(
                    b,
                    Decimal128Builder,
                    s.map(|s| parse_decimal(s, scale).ok_or_else(|| invalid(s, "numeric")))
                        .transpose()?
                ),
            }
        }
        self.rows_in_builders += 1;
        self.rows += 1;
        if self.rows_in_builders >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// An array column's texts as the list column it is.
    fn lists(&self, texts: &ArrayRef, elem: omendb_storage::ArrayElem) -> Result<ArrayRef> {
        use arrow_array::Array;
        let texts = texts
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .expect("array columns are read as text");
        let mut values = Vec::with_capacity(texts.len());
        for i in 0..texts.len() {
            values.push(if texts.is_null(i) {
                omendb_storage::Value::Null
            } else {
                crate::arrays::value_from_text(texts.value(i), elem, &self.zone)?
            });
        }
        Ok(omendb_storage::values_array(
            &DataType::Array(elem).arrow(),
            &values,
        ))
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows_in_builders == 0 {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish()).collect();
        for (col, t) in self.types.iter().enumerate() {
            if let DataType::Array(elem) = t {
                cols[col] = self.lists(&cols[col], *elem)?;
            }
        }
        let schema = Arc::new(arrow_schema::Schema::new(
            self.schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema, cols).map_err(|e| bad(self.line, e))?;
        self.batches.push(batch);
        self.rows_in_builders = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{NaiveDateTime, parse_iso_timestamp, parse_timestamp};

    fn chrono_only(s: &str) -> Option<i64> {
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .map(|t| t.and_utc().timestamp_micros())
    }

    #[test]
    fn fast_timestamps_agree_with_chrono() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % m
        };
        let mut fast = 0;
        for i in 0..20_000 {
            // Mostly valid values, with out-of-range fields (month 13, day 31 in short months, hour 24,
            // second 60) mixed in, and fractions of every length.
            let frac = match next(4) {
                0 => String::new(),
                _ => {
                    let digits = 1 + next(10) as usize;
                    format!(
                        ".{}",
                        (0..digits)
                            .map(|_| char::from(b'0' + next(10) as u8))
                            .collect::<String>()
                    )
                }
            };
            let sep = if i % 2 == 0 { ' ' } else { 'T' };
            let s = format!(
                "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}{frac}",
                next(3000),
                next(14),
                next(32),
                next(25),
                next(61),
                next(61)
            );
            let got = parse_iso_timestamp(s.as_bytes());
            if got.is_some() {
                fast += 1;
                assert_eq!(got, chrono_only(&s), "{s}");
            }
            assert_eq!(parse_timestamp(&s), chrono_only(&s), "{s}");
        }
        assert!(fast > 10_000, "the fast path took only {fast} of 20000");
        for s in [
            "2021-06-01 12:00:00",
            "1999-12-31T23:59:59.999999",
            "2024-02-29 00:00:00.5",
        ] {
            assert!(parse_iso_timestamp(s.as_bytes()).is_some(), "{s}");
        }
        for s in [
            "2021-6-01 12:00:00",
            "2021-06-01 12:00:00.",
            "2021-06-01 12:00:00+02",
            "2023-02-29 00:00:00",
        ] {
            assert_eq!(parse_iso_timestamp(s.as_bytes()), None, "{s}");
        }
        assert_eq!(parse_timestamp("2021-06-01"), Some(1_622_505_600_000_000));
    }
}
