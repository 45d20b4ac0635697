//! CREATE TABLE into the engine's table definitions, and Arrow types back to column types (CREATE TABLE AS).

use arrow_schema::DataType as Arrow;
use datafusion::sql::sqlparser::ast::{
    self, ColumnOption, CreateTable, DataType as SqlType, ExactNumberInfo, Expr, Function,
    FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, TableConstraint, TimezoneInfo,
};
use omendb_storage::{ColumnDef, DataType, TableDef};

use crate::error::{Error, Result, code};

/// A constant as written in SQL.
pub enum Literal {
    Text(String),
    /// Digits as written, with a leading `-` when negated.
    Number(String),
    Bool(bool),
    Null,
}

/// `e` if it is a constant: a string, a number (possibly negated), a boolean or NULL.
pub fn literal(e: &ast::Expr) -> Option<Literal> {
    use ast::{Expr, UnaryOperator, Value};
    match e {
        Expr::Nested(e) => literal(e),
        Expr::Value(v) => Some(match &v.value {
            Value::SingleQuotedString(s) => Literal::Text(s.clone()),
            Value::Number(n, _) => Literal::Number(n.clone()),
            Value::Boolean(b) => Literal::Bool(*b),
            Value::Null => Literal::Null,
            _ => return None,
        }),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            Literal::Number(n) if !n.starts_with('-') => Some(Literal::Number(format!("-{n}"))),
            _ => None,
        },
        _ => None,
    }
}

/// PostgreSQL folds unquoted identifiers to lower case; quoted ones are kept as written.
pub fn ident(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// The position of column `name` in `def`, or PostgreSQL's 42703 naming the relation.
pub fn column_at(def: &TableDef, name: &str) -> Result<usize> {
    def.columns
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| {
            Error::sql(
                code::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    crate::search_path::split(&def.name).1
                ),
            )
        })
}

/// DEFAULT 10, DEFAULT 'x', DEFAULT now(): evaluated by DataFusion when an INSERT leaves the column out.
pub fn column_type(t: &SqlType) -> Result<DataType> {
    Ok(match t {
        SqlType::SmallInt(_) | SqlType::Int2(_) => DataType::SmallInt,
        SqlType::Int(_) | SqlType::Integer(_) | SqlType::Int4(_) => DataType::Integer,
        SqlType::BigInt(_) | SqlType::Int8(_) => DataType::BigInt,
        SqlType::Real | SqlType::Float4 => DataType::Real,
        SqlType::Float(ExactNumberInfo::Precision(p)) if *p <= 24 => DataType::Real,
        SqlType::Float(_) | SqlType::Double(_) | SqlType::DoublePrecision | SqlType::Float8 => {
            DataType::Double
        }
        SqlType::Bool | SqlType::Boolean => DataType::Boolean,
        SqlType::Text | SqlType::String(_) => DataType::Text,
        SqlType::Varchar(n) | SqlType::CharacterVarying(n) | SqlType::CharVarying(n) => {
            DataType::Varchar {
                max: char_length(n.as_ref(), "varchar")?,
            }
        }
        SqlType::Char(n) | SqlType::Character(n) => DataType::Char {
            len: char_length(n.as_ref(), "char")?.unwrap_or(1),
        },
        SqlType::Bytea => DataType::Bytea,
        SqlType::Array(
            ast::ArrayElemTypeDef::SquareBracket(elem, _)
            | ast::ArrayElemTypeDef::AngleBracket(elem),
        ) => {
            if matches!(elem.as_ref(), SqlType::Array(_)) {
                return Err(Error::unsupported("multidimensional array columns"));
            }
            let t = column_type(elem)?;
            DataType::Array(omendb_storage::ArrayElem::of(t).ok_or_else(|| {
                Error::unsupported(format!("arrays of type {} as columns", t.name()))
            })?)
        }
        SqlType::Uuid => DataType::Uuid,
        SqlType::Interval { .. } => DataType::Interval,
        SqlType::JSON => DataType::Json,
        SqlType::JSONB => DataType::Jsonb,
        SqlType::Date => DataType::Date,
        SqlType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
            DataType::TimestampTz
        }
        SqlType::Timestamp(_, _) => DataType::Timestamp,
        SqlType::Time(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
            return Err(Error::unsupported("the type time with time zone"));
        }
        SqlType::Time(_, _) => DataType::Time,
        SqlType::Numeric(info) | SqlType::Decimal(info) => {
            let (p, s) = match info {
                // Unconstrained numeric: the widest fixed-point type we have.
                ExactNumberInfo::None => (38, 10),
                ExactNumberInfo::Precision(p) => (*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
            };
            if !(1..=38).contains(&p) || s < 0 || s as u64 > p {
                return Err(Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    format!("NUMERIC precision {p} and scale {s} must be 1..=38 and 0..=precision"),
                ));
            }
            DataType::Numeric {
                precision: p as u8,
                scale: s as i8,
            }
        }
        SqlType::Custom(name, _) => match name.to_string().to_lowercase().as_str() {
            "timestamptz" => DataType::TimestampTz,
            "int2" => DataType::SmallInt,
            "int4" => DataType::Integer,
            "int8" => DataType::BigInt,
            "float4" => DataType::Real,
            "float8" => DataType::Double,
            other => match crate::enums::resolved_type(other) {
                Some(type_id) => DataType::Enum { type_id },
                None => return Err(unknown_type(other)),
            },
        },
        other => return Err(unknown_type(&other.to_string())),
    })
}

/// The `n` of `varchar(n)` / `char(n)`, within PostgreSQL's bounds.
fn char_length(
    n: Option<&datafusion::sql::sqlparser::ast::CharacterLength>,
    what: &str,
) -> Result<Option<u32>> {
    use datafusion::sql::sqlparser::ast::CharacterLength;
    match n {
        None | Some(CharacterLength::Max) => Ok(None),
        Some(CharacterLength::IntegerLength { length, .. }) => {
            if *length < 1 {
                return Err(Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    format!("length for type {what} must be at least 1"),
                ));
            }
            if *length > 10_485_760 {
                return Err(Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    format!("length for type {what} cannot exceed 10485760"),
                ));
            }
            Ok(Some(*length as u32))
        }
    }
}

fn unknown_type(name: &str) -> Error {
    Error::sql(
        code::UNDEFINED_OBJECT,
        format!("type \"{name}\" does not exist"),
    )
}

/// The column type of `serial`, `bigserial`, `smallserial` (and `serial4` etc.).
fn serial_type(t: &SqlType) -> Option<DataType> {
    let SqlType::Custom(name, _) = t else {
        return None;
    };
    match name.to_string().to_lowercase().as_str() {
        "serial" | "serial4" => Some(DataType::Integer),
        "bigserial" | "serial8" => Some(DataType::BigInt),
        "smallserial" | "serial2" => Some(DataType::SmallInt),
        _ => None,
    }
}

/// The storage name of the sequence a SERIAL or identity column of `table` owns: PostgreSQL's
/// `<table>_<column>_seq`, in the table's schema.
pub fn owned_sequence_name(table: &str, column: &str) -> String {
    let (schema, relname) = crate::search_path::split(table);
    crate::search_path::storage_name(schema, &format!("{relname}_{column}_seq"))
}

/// The DEFAULT of a SERIAL or identity column: `nextval` of the sequence it owns.
pub fn nextval_default(table: &str, column: &str) -> String {
    let seq = owned_sequence_name(table, column).replace('\'', "''");
    format!("nextval('{seq}')")
}

/// The sequences a CREATE TABLE's SERIAL and identity columns own (their `owned_by` names the column;
/// the table id is set once the table exists).
pub fn owned_sequences(ct: &CreateTable, table: &str) -> Result<Vec<omendb_storage::SequenceDef>> {
    let mut out = vec![];
    for c in &ct.columns {
        out.extend(owned_sequence(c, table)?);
    }
    Ok(out)
}

/// The sequence column `c` of `table` owns, if it is SERIAL or an identity column.
pub fn owned_sequence(
    c: &ast::ColumnDef,
    table: &str,
) -> Result<Option<omendb_storage::SequenceDef>> {
    let cname = ident(&c.name);
    let identity = c.options.iter().find_map(|o| match &o.option {
        ColumnOption::Generated {
            generated_as,
            sequence_options,
            generation_expr: None,
            ..
        } => Some((generated_as, sequence_options)),
        _ => None,
    });
    let (data_type, options, identity) = match (serial_type(&c.data_type), identity) {
        (Some(t), None) => (t, vec![], None),
        (None, Some((ast::GeneratedAs::ByDefault, options))) => (
            column_type(&c.data_type)?,
            options.clone().unwrap_or_default(),
            Some(false),
        ),
        (None, Some((ast::GeneratedAs::Always, _))) => {
            return Err(Error::unsupported(
                "GENERATED ALWAYS AS IDENTITY (GENERATED BY DEFAULT AS IDENTITY is supported)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                format!(
                    "both default and identity specified for column \"{cname}\" of table \"{}\"",
                    crate::search_path::split(table).1
                ),
            ));
        }
        _ => return Ok(None),
    };
    if !matches!(
        data_type,
        DataType::SmallInt | DataType::Integer | DataType::BigInt
    ) {
        return Err(Error::sql(
            code::INVALID_PARAMETER_VALUE,
            format!(
                "identity column type must be smallint, integer, or bigint (\"{cname}\" is {})",
                data_type.name()
            ),
        ));
    }
    let mut def =
        crate::sequences::definition(owned_sequence_name(table, &cname), data_type, &options)?;
    def.owned_by = Some((0, cname));
    def.identity = identity;
    Ok(Some(def))
}

/// One SQL expression in PostgreSQL's dialect (a stored DEFAULT, a rewrite's output).
pub fn parse_expr(
    sql: &str,
) -> std::result::Result<ast::Expr, datafusion::sql::sqlparser::parser::ParserError> {
    datafusion::sql::sqlparser::parser::Parser::new(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
    )
    .try_with_sql(sql)
    .and_then(|mut p| p.parse_expr())
    .map(|mut e| {
        crate::precedence::fix_expr(&mut e);
        e
    })
}

/// One column of a CREATE TABLE or ALTER TABLE ADD COLUMN of `table`, and whether it says PRIMARY KEY.
pub fn column_def(c: &ast::ColumnDef, table: &str) -> Result<(ColumnDef, bool)> {
    let cname = ident(&c.name);
    let serial = serial_type(&c.data_type);
    let mut col = ColumnDef::new(
        cname.clone(),
        match serial {
            Some(t) => t,
            None => column_type(&c.data_type)?,
        },
    );
    if serial.is_some() {
        col = col.not_null().with_default(nextval_default(table, &cname));
    }
    let mut primary = false;
    for o in &c.options {
        match &o.option {
            ColumnOption::Null => {}
            ColumnOption::NotNull => col = col.not_null(),
            ColumnOption::Default(e) => col = col.with_default(e.to_string()),
            ColumnOption::PrimaryKey(_) => primary = true,
            // A UNIQUE index and a FOREIGN KEY, made once the table exists.
            ColumnOption::Unique(_) | ColumnOption::ForeignKey(_) | ColumnOption::Check(_) => {}
            ColumnOption::Generated {
                generated_as: ast::GeneratedAs::ByDefault,
                generation_expr: None,
                ..
            } => {
                col = col.not_null().with_default(nextval_default(table, &cname));
            }
            other => {
                return Err(Error::unsupported(format!(
                    "column constraint {other} (only PRIMARY KEY, NOT NULL, NULL and DEFAULT are)"
                )));
            }
        }
    }
    Ok((col, primary))
}

/// The positions of an index's columns (plain column names; expressions are refused).
pub fn index_columns(def: &TableDef, columns: &[ast::IndexColumn]) -> Result<Vec<usize>> {
    for c in columns {
        if c.column.options.asc.is_some() || c.column.options.nulls_first.is_some() {
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                "syntax error: a constraint's columns take no ASC / DESC or NULLS FIRST / LAST",
            ));
        }
    }
    Ok(sorted_index_columns(def, columns)?.0)
}

/// CREATE INDEX's columns: their positions and PostgreSQL's `indoption` of each (1: DESC, 2: NULLS FIRST;
/// DESC puts NULLs first unless NULLS LAST says otherwise).
pub fn sorted_index_columns(
    def: &TableDef,
    columns: &[ast::IndexColumn],
) -> Result<(Vec<usize>, Vec<i16>)> {
    let mut out = vec![];
    let mut options = vec![];
    for c in columns {
        let ast::Expr::Identifier(i) = &c.column.expr else {
            return Err(Error::unsupported(format!(
                "an index on the expression {}",
                c.column.expr
            )));
        };
        let desc = c.column.options.asc == Some(false);
        let nulls_first = c.column.options.nulls_first.unwrap_or(desc);
        options.push(i16::from(desc) | (i16::from(nulls_first) << 1));
        let name = ident(i);
        let at = def
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                Error::sql(
                    code::UNDEFINED_COLUMN,
                    format!("column \"{name}\" does not exist"),
                )
            })?;
        out.push(at);
    }
    if options.iter().all(|o| *o == 0) {
        options.clear();
    }
    Ok((out, options))
}

/// A CREATE TABLE's PRIMARY KEY when it is not `def`'s learned key (several columns, or a column of a type
/// keys cannot have): the name its constraint was given (if any) and its column positions, in key order.
pub fn primary_key_index(
    ct: &CreateTable,
    def: &TableDef,
) -> Result<Option<(Option<String>, Vec<usize>)>> {
    if def.primary_key.is_some() {
        return Ok(None);
    }
    let mut name = None;
    let mut columns = vec![];
    for c in &ct.columns {
        for o in &c.options {
            if let ColumnOption::PrimaryKey(_) = &o.option {
                name = o.name.as_ref().map(ident);
                columns.push(column_at(def, &ident(&c.name))?);
            }
        }
    }
    for c in &ct.constraints {
        if let TableConstraint::PrimaryKey(p) = c {
            name = p.name.as_ref().map(ident);
            columns.extend(index_columns(def, &p.columns)?);
        }
    }
    Ok((!columns.is_empty()).then_some((name, columns)))
}

/// The UNIQUE constraints of a CREATE TABLE: each one's name (if given) and column positions in `def`.
pub fn unique_constraints(
    ct: &CreateTable,
    def: &TableDef,
) -> Result<Vec<(Option<String>, Vec<usize>)>> {
    let mut out = vec![];
    for c in &ct.columns {
        for o in &c.options {
            if let ColumnOption::Unique(u) = &o.option {
                let name = o.name.as_ref().or(u.name.as_ref()).map(ident);
                out.push((name, vec![column_at(def, &ident(&c.name))?]));
            }
        }
    }
    for c in &ct.constraints {
        if let TableConstraint::Unique(u) = c {
            let columns = index_columns(def, &u.columns)?;
            out.push((u.name.as_ref().map(ident), columns));
        }
    }
    Ok(out)
}

/// The FOREIGN KEY constraints of a CREATE TABLE: each with the column it was written on (column form).
pub fn foreign_keys(ct: &CreateTable) -> Vec<(Option<String>, ast::ForeignKeyConstraint)> {
    let mut out = vec![];
    for c in &ct.columns {
        for o in &c.options {
            if let ColumnOption::ForeignKey(f) = &o.option {
                let mut f = f.clone();
                if f.name.is_none() {
                    f.name = o.name.clone();
                }
                out.push((Some(ident(&c.name)), f));
            }
        }
    }
    for c in &ct.constraints {
        if let TableConstraint::ForeignKey(f) = c {
            out.push((None, f.clone()));
        }
    }
    out
}

/// The engine's definition of a `CREATE TABLE` (without `AS`), stored as `name`.
pub fn table_def(ct: &CreateTable, name: String) -> Result<TableDef> {
    if ct.temporary || ct.external {
        return Err(Error::unsupported("CREATE TEMPORARY/EXTERNAL TABLE"));
    }
    if ct.like.is_some() || ct.clone.is_some() {
        return Err(Error::unsupported("CREATE TABLE LIKE/CLONE"));
    }
    let mut columns: Vec<ColumnDef> = Vec::new();
    let mut pk: Vec<String> = Vec::new();
    let mut declared = 0;
    for c in &ct.columns {
        let (col, primary) = column_def(c, &name)?;
        declared += primary as usize;
        if columns.iter().any(|x| x.name == col.name) {
            return Err(Error::sql(
                "42701",
                format!("column \"{}\" specified more than once", col.name),
            ));
        }
        if primary {
            pk.push(col.name.clone());
        }
        columns.push(col);
    }
    for c in &ct.constraints {
        match c {
            TableConstraint::PrimaryKey(p) => {
                declared += 1;
                for ic in &p.columns {
                    match &ic.column.expr {
                        ast::Expr::Identifier(i) => pk.push(ident(i)),
                        other => {
                            return Err(Error::unsupported(format!(
                                "primary key on expression {other}"
                            )));
                        }
                    }
                }
            }
            TableConstraint::Unique(_)
            | TableConstraint::ForeignKey(_)
            | TableConstraint::Check(_) => {}
            other => {
                return Err(Error::unsupported(format!(
                    "table constraint {other} (only PRIMARY KEY and UNIQUE are)"
                )));
            }
        }
    }
    if declared > 1 {
        let relname = crate::search_path::split(&name).1;
        return Err(Error::sql(
            code::INVALID_TABLE_DEFINITION,
            format!("multiple primary keys for table \"{relname}\" are not allowed"),
        ));
    }
    let mut at = Vec::with_capacity(pk.len());
    for k in &pk {
        let i = columns.iter().position(|c| &c.name == k).ok_or_else(|| {
            Error::sql(
                code::UNDEFINED_COLUMN,
                format!("column \"{k}\" named in key does not exist"),
            )
        })?;
        if at.contains(&i) {
            return Err(Error::sql(
                "42701",
                format!("column \"{k}\" appears twice in primary key constraint"),
            ));
        }
        // Primary keys are NOT NULL in PostgreSQL whether or not the column says so.
        columns[i].nullable = false;
        at.push(i);
    }
    // One column of a key type is the learned key; any other primary key is a unique index over rows keyed
    // by the hidden row id (`primary_key_index`).
    let primary_key = match at.as_slice() {
        [i] if columns[*i].data_type.key_kind().is_some() => Some(*i),
        _ => None,
    };
    if columns.is_empty() {
        return Err(Error::sql(
            code::INVALID_TABLE_DEFINITION,
            "a table needs at least one column",
        ));
    }
    Ok(TableDef {
        name,
        columns,
        primary_key,
    })
}

/// The column type an Arrow result column is stored as (CREATE TABLE AS, casts for COPY).
/// The column type of a query's output column: its marks (varchar(n), char(n), uuid, json, jsonb, an
/// enum) first, else its Arrow type's.
pub fn from_field(f: &arrow_schema::Field) -> Result<DataType> {
    if let Some(type_id) = crate::enums::type_of(f) {
        return Ok(DataType::Enum { type_id });
    }
    let typmod = crate::origins::type_modifier(f);
    let len = (typmod >= 4).then(|| (typmod - 4) as u32);
    Ok(match crate::origins::marked_type(f) {
        Some(t) if t == pgwire::api::Type::VARCHAR => DataType::Varchar { max: len },
        Some(t) if t == pgwire::api::Type::BPCHAR => DataType::Char {
            len: len.unwrap_or(1),
        },
        Some(t) if t == pgwire::api::Type::UUID => DataType::Uuid,
        Some(t) if t == pgwire::api::Type::JSON => DataType::Json,
        Some(t) if t == pgwire::api::Type::JSONB => DataType::Jsonb,
        _ => from_arrow(f.data_type())?,
    })
}

pub fn from_arrow(t: &Arrow) -> Result<DataType> {
    Ok(match t {
        Arrow::Int8 | Arrow::Int16 | Arrow::UInt8 => DataType::SmallInt,
        Arrow::Int32 | Arrow::UInt16 => DataType::Integer,
        Arrow::Int64 | Arrow::UInt32 | Arrow::UInt64 => DataType::BigInt,
        Arrow::Float16 | Arrow::Float32 => DataType::Real,
        Arrow::Float64 => DataType::Double,
        Arrow::Boolean => DataType::Boolean,
        Arrow::Utf8 | Arrow::LargeUtf8 | Arrow::Utf8View | Arrow::Null => DataType::Text,
        Arrow::Binary | Arrow::LargeBinary | Arrow::BinaryView => DataType::Bytea,
        Arrow::Date32 | Arrow::Date64 => DataType::Date,
        Arrow::Interval(_) => DataType::Interval,
        Arrow::Time32(_) | Arrow::Time64(_) => DataType::Time,
        Arrow::Timestamp(_, None) => DataType::Timestamp,
        Arrow::Timestamp(_, Some(_)) => DataType::TimestampTz,
        Arrow::Decimal128(p, s) if *s >= 0 => DataType::Numeric {
            precision: *p,
            scale: *s,
        },
        // A view's or CREATE TABLE AS's array column (`text[]`).
        Arrow::List(item) | Arrow::LargeList(item)
            if let Some(elem) = from_field(item)
                .ok()
                .and_then(omendb_storage::ArrayElem::of) =>
        {
            DataType::Array(elem)
        }
        other => {
            return Err(Error::unsupported(format!(
                "storing a column of type {other}"
            )));
        }
    })
}

/// `name(args...)`: a plain call, as the rewrites build them.
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn def(sql: &str) -> Result<TableDef> {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        match stmt {
            ast::Statement::CreateTable(ct) => table_def(&ct, ct.name.to_string().to_lowercase()),
            _ => panic!("not a create table"),
        }
    }

    #[test]
    fn columns_keys_and_defaults() {
        let d = def("CREATE TABLE Users (id BIGINT PRIMARY KEY, \"Name\" TEXT NOT NULL, score DOUBLE PRECISION DEFAULT 1.5, at TIMESTAMPTZ, amount NUMERIC(12,2))").unwrap();
        assert_eq!(d.name, "users");
        assert_eq!(d.primary_key, Some(0));
        assert!(!d.columns[0].nullable);
        assert_eq!(d.columns[1].name, "Name");
        assert!(!d.columns[1].nullable);
        assert_eq!(d.columns[2].default.as_deref(), Some("1.5"));
        assert_eq!(d.columns[3].data_type, DataType::TimestampTz);
        assert_eq!(
            d.columns[4].data_type,
            DataType::Numeric {
                precision: 12,
                scale: 2
            }
        );
        let d = def("CREATE TABLE t (a int, b text, PRIMARY KEY (b))").unwrap();
        assert_eq!(d.primary_key, Some(1));
        assert_eq!(def("CREATE TABLE t (a int)").unwrap().primary_key, None);
        // Other primary keys are unique indexes over rows keyed by the row id; their columns are NOT NULL.
        for sql in [
            "CREATE TABLE t (a int, b text, PRIMARY KEY (a, b))",
            "CREATE TABLE t (a double precision PRIMARY KEY, b text NOT NULL)",
        ] {
            let d = def(sql).unwrap();
            assert_eq!(d.primary_key, None, "{sql}");
            assert!(d.columns.iter().all(|c| !c.nullable), "{sql}");
        }
    }

    #[test]
    fn unsupported_definitions_say_why() {
        for (sql, state) in [
            (
                "CREATE TABLE t (a int PRIMARY KEY, b int PRIMARY KEY)",
                "42P16",
            ),
            ("CREATE TABLE t (a int, a int)", "42701"),
            ("CREATE TABLE t (a geometry)", "42704"),
            ("CREATE TABLE t (a int, PRIMARY KEY (b))", "42703"),
        ] {
            assert_eq!(def(sql).unwrap_err().sqlstate(), state, "{sql}");
        }
    }
}
