//! The server's one error type, and the SQLSTATE every error reaches the client with.

use datafusion::error::DataFusionError;
use pgwire::error::{ErrorInfo, PgWireError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Storage(#[from] omendb_storage::Error),
    #[error("{}", datafusion_message(.0))]
    DataFusion(#[from] DataFusionError),
    /// An error raised by the server itself, with its SQLSTATE.
    #[error("{message}")]
    Sql {
        code: &'static str,
        message: String,
        /// PostgreSQL's DETAIL line, when it gives one.
        detail: Option<String>,
        /// PostgreSQL's HINT line, when it gives one.
        hint: Option<String>,
    },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// SQLSTATE codes used by name (PostgreSQL appendix A).
pub mod code {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const IN_FAILED_TRANSACTION: &str = "25P02";
    pub const ACTIVE_TRANSACTION: &str = "25001";
    pub const NO_ACTIVE_TRANSACTION: &str = "25P01";
    pub const INVALID_CURSOR_NAME: &str = "34000";
    pub const DUPLICATE_CURSOR: &str = "42P03";
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    pub const QUERY_CANCELED: &str = "57014";
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const BAD_COPY_FORMAT: &str = "22P04";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const INVALID_TABLE_DEFINITION: &str = "42P16";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const INTERNAL: &str = "XX000";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const READ_ONLY_TRANSACTION: &str = "25006";
    pub const INVALID_SAVEPOINT: &str = "3B001";
    pub const INVALID_TRANSACTION_STATE: &str = "25000";
}

impl Error {
    pub fn sql(code: &'static str, message: impl Into<String>) -> Error {
        Error::Sql {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// `self` with PostgreSQL's HINT line (an error of the server's own; others are unchanged).
    pub fn with_hint(mut self, text: impl Into<String>) -> Error {
        if let Error::Sql { hint, .. } = &mut self {
            *hint = Some(text.into());
        }
        self
    }

    /// `self` with PostgreSQL's DETAIL line (an error of the server's own; others are unchanged).
    pub fn with_detail(mut self, text: impl Into<String>) -> Error {
        if let Error::Sql { detail, .. } = &mut self {
            *detail = Some(text.into());
        }
        self
    }

    pub fn unsupported(what: impl std::fmt::Display) -> Error {
        Error::sql(
            code::FEATURE_NOT_SUPPORTED,
            format!("{what} is not supported"),
        )
    }

    /// The message as the client gets it.
    pub fn message(&self) -> String {
        self.to_string()
    }

    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::Config(_) => "F0000",
            Error::Storage(e) => storage_state(e),
            Error::DataFusion(e) => datafusion_state(e),
            Error::Sql { code, .. } => code,
            Error::Io(_) => "58030",
        }
    }
}

fn storage_state(e: &omendb_storage::Error) -> &'static str {
    use omendb_storage::Error as S;
    match e {
        S::UnknownTable(_) => code::UNDEFINED_TABLE,
        S::TableExists(_) => code::DUPLICATE_TABLE,
        S::UnknownSchema(_) => "3F000",
        S::SchemaExists(_) => "42P06",
        S::SchemaNotEmpty(_) => "2BP01",
        S::InvalidDefinition(_) => code::INVALID_TABLE_DEFINITION,
        S::DuplicateKey { .. } | S::UniqueViolation { .. } => "23505",
        S::UnknownIndex(_) => code::UNDEFINED_OBJECT,
        S::ForeignKeyViolation { .. } => "23503",
        S::CheckViolation { .. } => "23514",
        S::NotNull { .. } => "23502",
        S::StringTooLong { .. } => "22001",
        S::InvalidText { .. } | S::InvalidEnum { .. } => "22P02",
        S::UnknownType(_) => code::UNDEFINED_OBJECT,
        S::TypeExists(_) => "42710",
        S::TypeInUse { .. } => "2BP01",
        S::InvalidJson { sqlstate, .. } => sqlstate,
        S::InvalidSequence(_) => code::INVALID_PARAMETER_VALUE,
        S::SequenceLimit { .. } => "2200H",
        S::SequenceBounds { .. } => code::NUMERIC_VALUE_OUT_OF_RANGE,
        S::WrongType { .. } | S::WrongKeyType { .. } => code::DATATYPE_MISMATCH,
        S::WrongArity { .. } => code::SYNTAX_ERROR,
        S::Conflict(_) => "40001",
        S::Corrupt { .. } => "XX001",
        S::AlreadyOpen(_) => "55006",
        S::DiskFull { .. } => "53100",
        S::Io { .. } => "58030",
        S::SerializationFailure { .. } => code::SERIALIZATION_FAILURE,
        S::LockNotAvailable { .. } => code::LOCK_NOT_AVAILABLE,
        S::ReadOnly => code::READ_ONLY_TRANSACTION,
        _ => code::INTERNAL,
    }
}

/// The innermost error: DataFusion wraps errors in context and shares them between partitions.
fn root(e: &DataFusionError) -> &DataFusionError {
    match e {
        DataFusionError::Context(_, inner) => root(inner),
        DataFusionError::Shared(inner) => root(inner),
        DataFusionError::Diagnostic(_, inner) => root(inner),
        DataFusionError::Collection(v) if !v.is_empty() => root(&v[0]),
        other => other,
    }
}

fn datafusion_state(e: &DataFusionError) -> &'static str {
    let e = root(e);
    if let DataFusionError::External(inner) = e {
        if let Some(s) = inner.downcast_ref::<omendb_storage::Error>() {
            return storage_state(s);
        }
        if let Some(s) = inner.downcast_ref::<Error>() {
            return s.sqlstate();
        }
    }
    let msg = e.to_string();
    let has = |s: &str| msg.contains(s);
    match e {
        DataFusionError::SQL(..) => code::SYNTAX_ERROR,
        // A type name that is no type here (built-in ones are planned; enum types are resolved first).
        DataFusionError::NotImplemented(m) if m.starts_with("Unsupported SQL type ") => {
            code::UNDEFINED_OBJECT
        }
        DataFusionError::NotImplemented(_) => code::FEATURE_NOT_SUPPORTED,
        DataFusionError::ResourcesExhausted(_) => code::OUT_OF_MEMORY,
        DataFusionError::SchemaError(..) if has("No field named") => code::UNDEFINED_COLUMN,
        DataFusionError::SchemaError(..) if has("Ambiguous reference") => "42702",
        DataFusionError::SchemaError(..) if has("Schema contains duplicate") => "42701",
        _ if has("Divide by zero") || has("Division by zero") => "22012",
        _ if has("not found") && (has("table") || has("Table")) => code::UNDEFINED_TABLE,
        _ if has("No field named") => code::UNDEFINED_COLUMN,
        _ if has("Invalid function")
            || has("No function matches")
            || has("Cannot coerce arithmetic expression") =>
        {
            "42883"
        }
        _ if has("more than one row") => "21000",
        _ if integer_out_of_range(&msg).is_some() || has("too large to store in a Decimal") => {
            "22003"
        }
        _ if (has("Cast error") || has("Cannot cast") || has("Can't cast"))
            && (has("Date32") || has("Timestamp") || has("Time64")) =>
        {
            "22007"
        }
        _ if has("Cannot cast")
            || has("Can't cast")
            || has("Cast error")
            || has("Unsupported CAST") =>
        {
            code::INVALID_TEXT_REPRESENTATION
        }
        _ if has("overflow") => "22003",
        _ if has("Cannot infer common") || has("no common type") || has("type coercion") => {
            code::DATATYPE_MISMATCH
        }
        DataFusionError::Plan(_) => "42000",
        _ => code::INTERNAL,
    }
}

/// DataFusion prefixes messages with its error kind ("Error during planning: ..."); clients want the reason.
fn datafusion_message(e: &DataFusionError) -> String {
    postgres_wording(raw_message(root(e)))
}

/// "function f(text) does not exist" for DataFusion's "No function matches the given name and argument
/// types 'f(Utf8)'. ..." (with its candidate list).
fn no_such_function(m: &str) -> Option<String> {
    let at = m.find("No function matches the given name and argument types '")?;
    let call = &m[at + "No function matches the given name and argument types '".len()..];
    let call = &call[..call.find("'.")?];
    let (name, args) = call.strip_suffix(')')?.split_once('(')?;
    // Split at the commas between arguments, not those inside one (`Decimal128(20, 0)`).
    let (mut parts, mut depth, mut from) = (vec![], 0, 0);
    for (i, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(args[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(args[from..].trim());
    let args: Vec<String> = parts
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|a| postgres_type_name(a).unwrap_or(a).to_string())
        .collect();
    Some(format!(
        "function {name}({}) does not exist",
        args.join(", ")
    ))
}

/// PostgreSQL's name for the type Arrow calls `arrow` (`Int32`, `Decimal128(20, 0)`), if it has one.
pub(crate) fn postgres_type_name(arrow: &str) -> Option<&'static str> {
    Some(match arrow {
        "Int16" => "smallint",
        "Int32" => "integer",
        "Int64" => "bigint",
        "Float32" => "real",
        "Float64" => "double precision",
        "Boolean" => "boolean",
        "Utf8" | "LargeUtf8" | "Utf8View" => "text",
        "Date32" => "date",
        "Binary" | "LargeBinary" | "BinaryView" => "bytea",
        t if t.starts_with("Decimal") => "numeric",
        t if t.starts_with("Timestamp") => "timestamp",
        t if t.starts_with("Interval") => "interval",
        _ => return None,
    })
}

/// PostgreSQL's wording for the errors clients see most, so messages read the same as on PostgreSQL.
fn postgres_wording(m: String) -> String {
    if let Some(name) = m.strip_prefix("Unsupported SQL type ")
        && !name.contains(['(', ' '])
    {
        return format!("type \"{name}\" does not exist");
    }
    if let Some(rest) = m.strip_prefix("table '")
        && let Some(name) = rest.strip_suffix("' not found")
    {
        // `omendb.$path.t`, `omendb.public.t`: the name as written (`t`, `s.t`).
        let name = name.strip_prefix("omendb.").unwrap_or(name);
        let name = name
            .strip_prefix("$path.")
            .or_else(|| name.strip_prefix("public."))
            .unwrap_or(name);
        return format!("relation \"{name}\" does not exist");
    }
    if m.contains("Divide by zero") || m.contains("Division by zero") {
        return "division by zero".into();
    }
    if let Some(call) = no_such_function(&m) {
        return call;
    }
    if let Some(at) = m.find("No field named ") {
        // "No field named t.nope. Did you mean 't.name'?. Valid fields are ..."
        let rest = &m[at + "No field named ".len()..];
        let end = rest
            .find(". ")
            .or_else(|| rest.find(".\n"))
            .unwrap_or(rest.trim_end_matches('.').len());
        let field = rest[..end].replace('"', "");
        return match field.rsplit_once('.') {
            Some(_) => format!("column {field} does not exist"),
            None => format!("column \"{field}\" does not exist"),
        };
    }
    if let Some(at) = m.find("Cannot cast string '") {
        // Arrow's "Cannot cast string 'x' to value of Int32 type".
        let rest = &m[at + "Cannot cast string '".len()..];
        if let Some((value, ty)) = rest.rsplit_once("' to value of ") {
            let ty = ty.trim_end_matches(" type");
            let pg = postgres_type_name(ty).unwrap_or_default();
            if !pg.is_empty() {
                return format!("invalid input syntax for type {pg}: \"{value}\"");
            }
        }
    }
    if m.contains("Scalar subquery returned more than one row") {
        return "more than one row returned by a subquery used as an expression".into();
    }
    if let Some(caps) = integer_out_of_range(&m) {
        return caps;
    }
    // A numeric past its precision ("1000.00 is too large to store in a Decimal128 of precision 5").
    if m.contains("too large to store in a Decimal") {
        return "numeric field overflow".into();
    }
    if let Some(at) = m.find(", found: ") {
        let rest = &m[at + ", found: ".len()..];
        let token = rest.split(" at Line").next().unwrap_or(rest);
        return format!("syntax error at or near \"{token}\"");
    }
    m
}

/// An integer that does not fit its column ("Can't cast value 3000000000 to type Int32") is PostgreSQL's
/// "integer out of range" (22003), not a text-representation error.
fn integer_out_of_range(m: &str) -> Option<String> {
    let at = m.find("Can't cast value ")?;
    let rest = &m[at..];
    let ty = rest.split(" to type ").nth(1)?;
    let name = match postgres_type_name(ty.trim_end_matches(|c: char| !c.is_alphanumeric()))? {
        name @ ("smallint" | "integer" | "bigint") => name,
        _ => return None,
    };
    Some(format!("{name} out of range"))
}

fn raw_message(e: &DataFusionError) -> String {
    match e {
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::SQL(inner, _) => inner.to_string(),
        DataFusionError::Plan(m)
        | DataFusionError::Execution(m)
        | DataFusionError::NotImplemented(m)
        | DataFusionError::Internal(m)
        | DataFusionError::ResourcesExhausted(m) => m.clone(),
        other => other.to_string(),
    }
}

impl From<Error> for PgWireError {
    fn from(e: Error) -> PgWireError {
        PgWireError::UserError(Box::new(e.into_info()))
    }
}

impl Error {
    pub fn into_info(self) -> ErrorInfo {
        let code = self.sqlstate();
        let storage = match &self {
            Error::Storage(s) => Some(s),
            Error::DataFusion(e) => match root(e) {
                DataFusionError::External(inner) => inner.downcast_ref::<omendb_storage::Error>(),
                _ => None,
            },
            _ => None,
        };
        // An error of ours raised inside DataFusion (a function's) keeps its DETAIL and HINT.
        let raised = match &self {
            Error::DataFusion(e) => match root(e) {
                DataFusionError::External(inner) => inner.downcast_ref::<Error>(),
                _ => None,
            },
            _ => None,
        };
        if let Some(Error::Sql {
            code,
            message,
            detail,
            hint,
        }) = raised
        {
            let mut info = ErrorInfo::new("ERROR".to_owned(), (*code).to_owned(), message.clone());
            info.detail = detail.clone();
            info.hint = hint.clone();
            return info;
        }
        // PostgreSQL's wording for constraint violations, which applications match on.
        let (message, detail) = match storage {
            Some(omendb_storage::Error::DuplicateKey { table, key }) => (
                format!(
                    "duplicate key value violates unique constraint \"{}_pkey\"",
                    crate::search_path::split(table).1
                ),
                Some(format!("Key {key} already exists.")),
            ),
            Some(omendb_storage::Error::UniqueViolation {
                index,
                key,
                building,
            }) => {
                let name = crate::search_path::split(index).1;
                if *building {
                    (
                        format!("could not create unique index \"{name}\""),
                        Some(format!("Key {key} is duplicated.")),
                    )
                } else {
                    (
                        format!("duplicate key value violates unique constraint \"{name}\""),
                        Some(format!("Key {key} already exists.")),
                    )
                }
            }
            Some(omendb_storage::Error::CheckViolation {
                table,
                constraint,
                row,
            }) => (
                format!(
                    "new row for relation \"{}\" violates check constraint \"{constraint}\"",
                    crate::search_path::split(table).1
                ),
                Some(format!("Failing row contains {row}.")),
            ),
            Some(omendb_storage::Error::ForeignKeyViolation { message, detail })
            | Some(omendb_storage::Error::InvalidJson {
                message, detail, ..
            }) => (
                message.clone(),
                (!detail.is_empty()).then(|| detail.clone()),
            ),
            Some(omendb_storage::Error::TypeInUse { detail, .. }) => {
                (self.to_string(), Some(detail.clone()))
            }
            Some(omendb_storage::Error::UnknownIndex(name)) => (
                format!(
                    "index \"{}\" does not exist",
                    crate::search_path::split(name).1
                ),
                None,
            ),
            Some(omendb_storage::Error::TypeExists(name)) => (
                format!(
                    "type \"{}\" already exists",
                    crate::search_path::split(name).1
                ),
                None,
            ),
            Some(omendb_storage::Error::TableExists(name)) => (
                format!(
                    "relation \"{}\" already exists",
                    crate::search_path::split(name).1
                ),
                None,
            ),
            Some(omendb_storage::Error::NotNull { table, column }) => (
                format!(
                    "null value in column \"{column}\" of relation \"{}\" violates not-null constraint",
                    crate::search_path::split(table).1
                ),
                None,
            ),
            _ => match &self {
                Error::Sql {
                    message, detail, ..
                } => (message.clone(), detail.clone()),
                _ => (self.to_string(), None),
            },
        };
        let mut info = ErrorInfo::new("ERROR".to_owned(), code.to_owned(), message);
        info.detail = detail;
        if let Some(omendb_storage::Error::InvalidJson { context, .. }) = storage {
            info.where_context = context.clone();
        }
        if let Error::Sql { hint, .. } = &self {
            info.hint = hint.clone();
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_nothing_matches_is_named_as_postgresql_names_it() {
        assert_eq!(
            no_such_function(
                "Execution error: Function 'sum' user-defined coercion failed with: External error: \
                 x. No function matches the given name and argument types 'sum(Utf8)'. You might \
                 need to add explicit type casts.\n\tCandidate functions:\n\tsum(UserDefined)"
            )
            .as_deref(),
            Some("function sum(text) does not exist")
        );
        assert_eq!(
            no_such_function(
                "No function matches the given name and argument types 'f(Decimal128(20, 0), \
                 Int32, Timestamp(Nanosecond, None))'. You might"
            )
            .as_deref(),
            Some("function f(numeric, integer, timestamp) does not exist")
        );
    }

    #[test]
    fn storage_errors_keep_their_sqlstate_through_datafusion() {
        let e = omendb_storage::Error::DuplicateKey {
            table: "t".into(),
            key: "(1)".into(),
        };
        let wrapped = Error::from(DataFusionError::Context(
            "insert".into(),
            Box::new(DataFusionError::External(Box::new(e))),
        ));
        assert_eq!(wrapped.sqlstate(), "23505");
        assert!(wrapped.to_string().contains("duplicate key"));
    }
}
