//! `COPY table [(cols)] TO STDOUT` and `COPY (query) TO STDOUT` in PostgreSQL's text, CSV and binary
//! formats: the rows of a planned SELECT, one CopyData per row. Text values are the same bytes a query
//! returns in text format (`rows.rs`), then escaped (text) or quoted (CSV) as PostgreSQL's COPY does.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Ident, ObjectName,
    Statement,
};
use pgwire::api::portal::Format as WireFormat;
use pgwire::api::results::CopyEncoder;

use crate::error::{Error, Result, code};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Binary,
}

/// A planned COPY TO STDOUT: the query whose rows it writes, and how.
pub struct CopyOut {
    pub query: Statement,
    pub format: Format,
    header: bool,
    delimiter: u8,
    null: Vec<u8>,
    quote: u8,
    escape: u8,
    /// Column names quoted whatever their value (CSV FORCE_QUOTE).
    force_quote: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::sql(code::INVALID_PARAMETER_VALUE, msg.into())
}

impl CopyOut {
    pub fn plan(stmt: &Statement) -> Result<CopyOut> {
        let Statement::Copy {
            source,
            target,
            options,
            legacy_options,
            ..
        } = stmt
        else {
            return Err(Error::sql(code::INTERNAL, "not a COPY"));
        };
        if !matches!(target, CopyTarget::Stdout) {
            return Err(Error::sql(
                code::INSUFFICIENT_PRIVILEGE,
                "must be superuser or have privileges of the pg_write_server_files role to COPY to a \
                 file (anyone can COPY to stdout; psql's \\copy also works)",
            ));
        }
        let query = match source {
            CopySource::Table {
                table_name,
                columns,
            } => select_of(table_name, columns)?,
            CopySource::Query(q) => Statement::Query(q.clone()),
        };
        let mut c = CopyOut {
            query,
            format: Format::Text,
            header: false,
            delimiter: b'\t',
            null: b"\\N".to_vec(),
            quote: b'"',
            escape: b'"',
            force_quote: vec![],
        };
        let (mut delimiter, mut null, mut escape) = (None, None, None);
        let mut csv_only = vec![];
        for o in options {
            match o {
                CopyOption::Format(f) => {
                    c.format = match f.value.to_lowercase().as_str() {
                        "text" => Format::Text,
                        "csv" => Format::Csv,
                        "binary" => Format::Binary,
                        other => {
                            return Err(invalid(format!("COPY format \"{other}\" not recognized")));
                        }
                    }
                }
                CopyOption::Delimiter(d) => delimiter = Some(*d),
                CopyOption::Null(n) => null = Some(n.clone()),
                CopyOption::Header(h) => c.header = *h,
                CopyOption::Quote(q) => {
                    csv_only.push("quote");
                    c.quote = one_byte(*q, "quote")?;
                }
                CopyOption::Escape(e) => {
                    csv_only.push("escape");
                    escape = Some(one_byte(*e, "escape")?);
                }
                CopyOption::ForceQuote(cols) => {
                    csv_only.push("force quote");
                    c.force_quote = cols.iter().map(crate::ddl::ident).collect();
                }
                CopyOption::Encoding(e)
                    if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                CopyOption::ForceNotNull(_) | CopyOption::ForceNull(_) => {
                    let which = if matches!(o, CopyOption::ForceNull(_)) {
                        "null"
                    } else {
                        "not null"
                    };
                    return Err(Error::sql(
                        code::FEATURE_NOT_SUPPORTED,
                        format!("COPY force {which} only available using COPY FROM"),
                    ));
                }
                // PostgreSQL 15 takes FREEZE with COPY TO and does nothing with it: so do we.
                CopyOption::Freeze(_) => {}
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        for o in legacy_options {
            match o {
                CopyLegacyOption::Binary => c.format = Format::Binary,
                CopyLegacyOption::Delimiter(d) => delimiter = Some(*d),
                CopyLegacyOption::Null(n) => null = Some(n.clone()),
                CopyLegacyOption::Header => c.header = true,
                CopyLegacyOption::Csv(opts) => {
                    c.format = Format::Csv;
                    for o in opts {
                        match o {
                            CopyLegacyCsvOption::Header => c.header = true,
                            CopyLegacyCsvOption::Quote(q) => c.quote = one_byte(*q, "quote")?,
                            CopyLegacyCsvOption::Escape(e) => {
                                escape = Some(one_byte(*e, "escape")?)
                            }
                            CopyLegacyCsvOption::ForceQuote(cols) => {
                                c.force_quote = cols.iter().map(crate::ddl::ident).collect()
                            }
                            CopyLegacyCsvOption::ForceNotNull(_) => {
                                return Err(Error::sql(
                                    code::FEATURE_NOT_SUPPORTED,
                                    "COPY force not null only available using COPY FROM",
                                ));
                            }
                        }
                    }
                }
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        if c.format != Format::Csv
            && let Some(option) = csv_only.first()
        {
            return Err(Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                format!("COPY {option} available only in CSV mode"),
            ));
        }
        if c.format == Format::Binary {
            if delimiter.is_some() {
                return Err(Error::sql(
                    code::SYNTAX_ERROR,
                    "cannot specify DELIMITER in BINARY mode",
                ));
            }
            if null.is_some() {
                return Err(Error::sql(
                    code::SYNTAX_ERROR,
                    "cannot specify NULL in BINARY mode",
                ));
            }
            if c.header {
                return Err(Error::sql(
                    code::FEATURE_NOT_SUPPORTED,
                    "cannot specify HEADER in BINARY mode",
                ));
            }
        }
        if c.format == Format::Csv {
            c.delimiter = b',';
            c.null = Vec::new();
        }
        if let Some(d) = delimiter {
            c.delimiter = one_byte(d, "delimiter")?;
            if d == '\n' || d == '\r' {
                return Err(invalid(
                    "COPY delimiter cannot be newline or carriage return",
                ));
            }
        }
        if let Some(n) = null {
            c.null = n.into_bytes();
        }
        c.escape = escape.unwrap_or(c.quote);
        if c.format == Format::Csv && c.delimiter == c.quote {
            return Err(invalid("COPY delimiter and quote must be different"));
        }
        Ok(c)
    }

    /// The wire format code of CopyOutResponse: 0 text (text and CSV), 1 binary.
    pub fn wire_format(&self) -> i8 {
        i8::from(self.format == Format::Binary)
    }

    /// One CopyData payload per row (the header, if any, travels with the first row, so the server's
    /// `COPY n` counts rows only).
    pub fn encode(
        &self,
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
        zone: &crate::zone::Zone,
    ) -> Result<Vec<Bytes>> {
        let binary = self.format == Format::Binary;
        let format = if binary {
            WireFormat::UnifiedBinary
        } else {
            WireFormat::UnifiedText
        };
        let fields = Arc::new(
            arrow_pg::datatypes::arrow_schema_to_pg_fields(schema, &format, None)
                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?,
        );
        let mut out = vec![];
        if binary {
            let mut encoder = CopyEncoder::new_binary(fields.clone());
            for b in batches {
                for row in 0..b.num_rows() {
                    for (col, array) in b.columns().iter().enumerate() {
                        let marked = crate::origins::marked_type(schema.field(col));
                        if let Some(t @ (pgwire::api::Type::JSON | pgwire::api::Type::JSONB)) =
                            &marked
                        {
                            let v = crate::json::binary_cell(
                                array,
                                row,
                                *t == pgwire::api::Type::JSONB,
                            );
                            encoder
                                .encode_field(&v)
                                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                            continue;
                        }
                        if marked == Some(pgwire::api::Type::UUID) {
                            let v = crate::uuids::binary_cell(array, row)?;
                            encoder
                                .encode_field(&v)
                                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                            continue;
                        }
                        arrow_pg::encoder::encode_value(
                            &mut encoder,
                            array,
                            row,
                            b.schema_ref().field(col),
                            &fields[col],
                        )
                        .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                    }
                    out.push(encoder.take_copy().data);
                }
            }
            if out.is_empty() {
                // An empty binary COPY still has its header.
                out.push(CopyEncoder::new_binary(fields).take_copy().data);
            }
            return Ok(out);
        }
        let force: Vec<bool> = schema
            .fields()
            .iter()
            .map(|f| self.force_quote.iter().any(|n| n == f.name()))
            .collect();
        let mut header = self.header.then(|| {
            let mut line = vec![];
            for (i, f) in schema.fields().iter().enumerate() {
                if i > 0 {
                    line.push(self.delimiter);
                }
                self.put(&mut line, Some(f.name().as_bytes()), false);
            }
            line.push(b'\n');
            line
        });
        for b in batches {
            for row in crate::rows::encode(fields.clone(), b, zone) {
                let row = row.map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                let mut line = header.take().unwrap_or_default();
                for (i, value) in cells(&row.data).enumerate() {
                    if i > 0 {
                        line.push(self.delimiter);
                    }
                    self.put(&mut line, value, force[i]);
                }
                line.push(b'\n');
                out.push(Bytes::from(line));
            }
        }
        if let Some(h) = header {
            out.push(Bytes::from(h));
        }
        Ok(out)
    }

    /// One value as COPY writes it: NULL as the null string; text escapes backslashes, control characters
    /// and the delimiter; CSV quotes what would be ambiguous (or everything forced).
    fn put(&self, out: &mut Vec<u8>, value: Option<&[u8]>, force: bool) {
        let Some(v) = value else {
            return out.extend_from_slice(&self.null);
        };
        match self.format {
            Format::Text | Format::Binary => {
                for &c in v {
                    match c {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        0x08 => out.extend_from_slice(b"\\b"),
                        0x0c => out.extend_from_slice(b"\\f"),
                        0x0b => out.extend_from_slice(b"\\v"),
                        c if c == self.delimiter => out.extend_from_slice(&[b'\\', c]),
                        c => out.push(c),
                    }
                }
            }
            Format::Csv => {
                let quote = force
                    || v == self.null.as_slice()
                    || v == b"\\."
                    || v.iter().any(|&c| {
                        c == self.delimiter
                            || c == self.quote
                            || c == self.escape
                            || c == b'\n'
                            || c == b'\r'
                    });
                if !quote {
                    return out.extend_from_slice(v);
                }
                out.push(self.quote);
                for &c in v {
                    if c == self.quote || c == self.escape {
                        out.push(self.escape);
                    }
                    out.push(c);
                }
                out.push(self.quote);
            }
        }
    }
}

fn one_byte(c: char, what: &str) -> Result<u8> {
    if c.is_ascii() {
        Ok(c as u8)
    } else {
        Err(invalid(format!(
            "COPY {what} must be a single one-byte character"
        )))
    }
}

/// `SELECT cols FROM table`, the query a table COPY reads (every column when none is listed).
fn select_of(table: &ObjectName, columns: &[Ident]) -> Result<Statement> {
    let cols = if columns.is_empty() {
        "*".to_string()
    } else {
        columns
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut stmts = crate::session::parse(&format!("SELECT {cols} FROM {table}"))?;
    match (stmts.pop(), stmts.is_empty()) {
        (Some(s), true) => Ok(s),
        _ => Err(Error::sql(code::INTERNAL, "COPY: could not form its query")),
    }
}

/// The values of a DataRow's body: a 4-byte length (-1 for NULL) and the bytes, per column.
fn cells(data: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?);
        at += 4;
        if len < 0 {
            return Some(None);
        }
        let v = &data[at..at + len as usize];
        at += len as usize;
        Some(Some(v))
    })
}
