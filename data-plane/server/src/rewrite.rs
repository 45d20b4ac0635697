//! Statement rewrites before DataFusion plans: PostgreSQL forms DataFusion does not take itself.
//! `DEFAULT` in VALUES and SET, VALUES rows shorter than the table, and result columns whose DataFusion
//! names collide (`SELECT 1 + 1, 2 + 2` or `SELECT id, id`), which PostgreSQL allows.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, DataType as SqlType, Expr, FromTable, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, SelectItem, SetExpr, Statement, TableFactor, TableObject, Value,
    visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use omendb_storage::TableDef;
use pgwire::api::Type;

use crate::ddl::ident;
use crate::error::Result;

/// Who is asking: what `current_user` and `current_database()` answer.
pub struct Login<'a> {
    pub user: &'a str,
    pub database: &'a str,
    /// The first schema of the search path that exists (`current_schema()`).
    pub schema: Option<&'a str>,
}

pub fn rewrite(
    stmt: &mut Statement,
    login: &Login<'_>,
    def: impl Fn(&ObjectName) -> Result<Option<TableDef>>,
) -> Result<()> {
    crate::names::distinct_output_names(stmt);
    crate::pg_catalog::syntax::rewrite(stmt);
    crate::subquery::rewrite(stmt);
    bytea_literals(stmt);
    length_casts(stmt);
    array_literal_casts(stmt);
    session_functions(stmt, login);
    crate::column_literals::rewrite(stmt, &def)?;
    overlap_operator(stmt);
    crate::intervals::rewrite_literals(stmt)?;
    crate::call_names::distinguish(stmt);
    match stmt {
        Statement::Insert(ins) => {
            let TableObject::TableName(name) = &ins.table else {
                return Ok(());
            };
            let Some(def) = def(name)? else {
                return Ok(());
            };
            if ins.source.is_none() && ins.columns.is_empty() {
                // DEFAULT VALUES: a row of DEFAULTs, which the code below fills in.
                let row = vec!["DEFAULT"; def.columns.len()].join(", ");
                let parsed = Parser::parse_sql(&PostgreSqlDialect {}, &format!("VALUES ({row})"));
                if let Ok(Some(Statement::Query(q))) = parsed.map(|mut s| s.pop()) {
                    ins.source = Some(q);
                }
            }
            let Some(SetExpr::Values(values)) = ins.source.as_mut().map(|q| q.body.as_mut()) else {
                return Ok(());
            };
            let width = values
                .rows
                .iter()
                .map(|r| r.content.len())
                .max()
                .unwrap_or(0);
            if ins.columns.is_empty() && width < def.columns.len() {
                // PostgreSQL fills the trailing columns with their defaults.
                ins.columns = def.columns[..width]
                    .iter()
                    .map(|c| {
                        ObjectName(vec![ObjectNamePart::Identifier(Ident::with_quote(
                            '"', &c.name,
                        ))])
                    })
                    .collect();
            }
            let targets: Vec<String> = if ins.columns.is_empty() {
                def.columns.iter().map(|c| c.name.clone()).collect()
            } else {
                ins.columns
                    .iter()
                    .map(|c| match c.0.last() {
                        Some(ObjectNamePart::Identifier(i)) => ident(i),
                        _ => String::new(),
                    })
                    .collect()
            };
            for row in &mut values.rows {
                for (e, target) in row.content.iter_mut().zip(&targets) {
                    if is_default(e) {
                        *e = default_of(&def, target)?;
                    } else if is_bytea(&def, target) {
                        hex_literal(e);
                    } else if let Some(elem) = array_column(&def, target) {
                        crate::arrays::literal(e, elem)?;
                    } else if is_interval(&def, target) {
                        crate::intervals::literal(e)?;
                    }
                }
            }
        }
        Statement::Update(u) => {
            let TableFactor::Table { name, alias, .. } = &mut u.table.relation else {
                return Ok(());
            };
            // UPDATE ... FROM keeps its alias: its SELECT (session/joined.rs) names the target by it.
            if u.from.is_none()
                && let Some(a) = alias.take()
            {
                let (from, to) = (a.name, name.0.last().and_then(|p| p.as_ident()).cloned());
                for a in &mut u.assignments {
                    requalify(&mut a.value, &from, to.as_ref());
                }
                if let Some(w) = &mut u.selection {
                    requalify(w, &from, to.as_ref());
                }
            }
            let Some(def) = def(name)? else {
                return Ok(());
            };
            split_tuple_assignments(&mut u.assignments);
            for a in &mut u.assignments {
                if is_default(&a.value) {
                    let AssignmentTarget::ColumnName(c) = &a.target else {
                        continue;
                    };
                    let Some(ObjectNamePart::Identifier(i)) = c.0.last() else {
                        continue;
                    };
                    a.value = default_of(&def, &ident(i))?;
                } else if let AssignmentTarget::ColumnName(c) = &a.target
                    && let Some(ObjectNamePart::Identifier(i)) = c.0.last()
                {
                    let column = ident(i);
                    if is_bytea(&def, &column) {
                        hex_literal(&mut a.value);
                    } else if let Some(elem) = array_column(&def, &column) {
                        crate::arrays::literal(&mut a.value, elem)?;
                    } else if is_interval(&def, &column) {
                        crate::intervals::literal(&mut a.value)?;
                    }
                }
            }
        }
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t)) = &mut d.from;
            if let Some(TableFactor::Table { name, alias, .. }) =
                t.first_mut().map(|t| &mut t.relation)
                && let Some(a) = alias.take()
            {
                // DataFusion's DELETE planner loses the target's alias, so correlated subqueries
                // (`WHERE NOT EXISTS (... o.x)`) could not see it: name the table instead.
                let to = name.0.last().and_then(|p| p.as_ident()).cloned();
                if let Some(w) = &mut d.selection {
                    requalify(w, &a.name, to.as_ref());
                }
            }
        }
        Statement::Query(q) => unique_names_in(q.body.as_mut()),
        _ => {}
    }
    Ok(())
}

/// Every SELECT whose columns make the result: the query's, or each branch of a UNION / INTERSECT / EXCEPT.
fn unique_names_in(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => unique_output_names(&mut select.projection),
        SetExpr::SetOperation { left, right, .. } => {
            unique_names_in(left);
            unique_names_in(right);
        }
        SetExpr::Query(q) => unique_names_in(q.body.as_mut()),
        _ => {}
    }
}

/// Replaces `alias.column` with `table.column` throughout `e`, subqueries included.
fn requalify(e: &mut Expr, alias: &Ident, table: Option<&Ident>) {
    let Some(table) = table else { return };
    let _ = visit_expressions_mut(e, |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && parts.len() == 2
            && ident(&parts[0]) == ident(alias)
        {
            parts[0] = table.clone();
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `a && b` (arrays that share an element) as `arrays_overlap(a, b)`: DataFusion has the function only.
/// And `array_length` of an empty array is NULL in PostgreSQL (DataFusion's is 0; no other array has 0).
fn overlap_operator(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Function(f) = e
            && f.name.to_string().eq_ignore_ascii_case("array_length")
            && !matches!(
                f.parameters,
                datafusion::sql::sqlparser::ast::FunctionArguments::List(_)
            )
        {
            let call = e.clone();
            *e = crate::ddl::call(
                "nullif",
                vec![call, Expr::Value(Value::Number("0".into(), false).into())],
            );
            return ControlFlow::<()>::Continue(());
        }
        if let Expr::BinaryOp {
            left,
            op: datafusion::sql::sqlparser::ast::BinaryOperator::PGOverlap,
            right,
        } = e
        {
            let (l, r) = (left.as_ref().clone(), right.as_ref().clone());
            *e = crate::ddl::call("arrays_overlap", vec![l, r]);
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The element type of `column` if it is an array column.
fn array_column(def: &TableDef, column: &str) -> Option<omendb_storage::ArrayElem> {
    def.columns
        .iter()
        .find(|c| c.name == column)
        .and_then(|c| crate::arrays::elem_of(c.data_type))
}

fn is_interval(def: &TableDef, column: &str) -> bool {
    def.columns
        .iter()
        .any(|c| c.name == column && c.data_type == omendb_storage::DataType::Interval)
}

fn is_bytea(def: &TableDef, column: &str) -> bool {
    def.columns
        .iter()
        .any(|c| c.name == column && c.data_type == omendb_storage::DataType::Bytea)
}

/// A `'\x0102'` string in bytea position is PostgreSQL's hex input form, not the bytes of the text.
fn hex_literal(e: &mut Expr) {
    if let Expr::Value(v) = e
        && let Value::SingleQuotedString(s) = &v.value
        && let Some(hex) = s.strip_prefix("\\x")
    {
        v.value = Value::HexStringLiteral(hex.to_string());
    }
}

fn bytea_literals(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Cast {
            expr,
            data_type: SqlType::Bytea,
            ..
        } = e
        {
            hex_literal(expr);
        }
        ControlFlow::<()>::Continue(())
    });
}

/// An explicit cast to `varchar(n)` cuts the text to n characters and one to `char(n)` also pads it, as
/// PostgreSQL's do (only storing into such a column fails on a value too long).
/// `'{a,b}'::text[]`: a string cast to an array type is PostgreSQL's array input (psycopg's client-side
/// binding sends lists this way), not a one-element array of that string.
fn array_literal_casts(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Cast {
            expr,
            data_type: SqlType::Array(_),
            ..
        } = e
        {
            let mut inner = expr.as_mut();
            while let Expr::Nested(n) = inner {
                inner = n.as_mut();
            }
            if let Expr::Value(v) = inner
                && let Value::SingleQuotedString(s) = &v.value
                && let Some(array) = crate::pg_catalog::array_text::array_from_text(s)
            {
                *inner = array;
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

fn length_casts(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::CharacterLength;
    let _ = visit_expressions_mut(stmt, |e| {
        let Expr::Cast {
            expr, data_type, ..
        } = e
        else {
            return ControlFlow::<()>::Continue(());
        };
        let (n, pad) = match data_type {
            SqlType::Varchar(Some(CharacterLength::IntegerLength { length, .. }))
            | SqlType::CharacterVarying(Some(CharacterLength::IntegerLength { length, .. }))
            | SqlType::CharVarying(Some(CharacterLength::IntegerLength { length, .. })) => {
                (*length, false)
            }
            SqlType::Char(n) | SqlType::Character(n) => match n {
                Some(CharacterLength::IntegerLength { length, .. }) => (*length, true),
                None => (1, true),
                Some(CharacterLength::Max) => return ControlFlow::Continue(()),
            },
            _ => return ControlFlow::Continue(()),
        };
        let f = if pad { "rpad" } else { "left" };
        let sql = format!("{f}(CAST(({expr}) AS TEXT), {n})");
        if let Ok(parsed) = crate::ddl::parse_expr(&sql) {
            *e = parsed;
        }
        ControlFlow::Continue(())
    });
}

/// `current_user`, `session_user`, `current_database()`, `current_schema()` and `version()` are constants
/// of the connection: fold them into literals (DataFusion has none of them).
fn session_functions(stmt: &mut Statement, login: &Login<'_>) {
    let _ = visit_expressions_mut(stmt, |e| {
        let name = match e {
            Expr::Identifier(i) if i.quote_style.is_none() => i.value.to_lowercase(),
            Expr::Function(f) => f.name.to_string().to_lowercase(),
            _ => return ControlFlow::<()>::Continue(()),
        };
        let value = match name.as_str() {
            "current_user" | "session_user" | "user" | "current_role" => login.user.to_string(),
            "current_database" | "current_catalog" => login.database.to_string(),
            "current_schema" => match login.schema {
                Some(s) => s.to_string(),
                None => {
                    *e = Expr::Value(Value::Null.into());
                    return ControlFlow::Continue(());
                }
            },
            // The wall clock in the session's zone (the analyzer's cast from now()).
            "localtime" | "localtimestamp"
                if matches!(e, Expr::Identifier(_))
                    || matches!(e, Expr::Function(f) if f.args == FunctionArguments::None) =>
            {
                let t = if name == "localtime" {
                    "TIME"
                } else {
                    "TIMESTAMP"
                };
                if let Ok(parsed) = crate::ddl::parse_expr(&format!("CAST(now() AS {t})")) {
                    *e = parsed;
                }
                return ControlFlow::Continue(());
            }
            "version" if matches!(e, Expr::Function(_)) => format!(
                "PostgreSQL {} on x86_64-pc-linux-gnu, compiled by rustc, 64-bit",
                crate::SERVER_VERSION
            ),
            _ => return ControlFlow::Continue(()),
        };
        *e = Expr::Value(Value::SingleQuotedString(value).into());
        ControlFlow::Continue(())
    });
}

fn is_default(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

/// The column's DEFAULT expression, or NULL when it has none (PostgreSQL's rule).
fn default_of(def: &TableDef, column: &str) -> Result<Expr> {
    let text = def
        .columns
        .iter()
        .find(|c| c.name == column)
        .and_then(|c| c.default.as_deref());
    Ok(match text {
        Some(sql) => crate::ddl::parse_expr(sql)
            .map_err(|e| crate::error::Error::sql(crate::error::code::INTERNAL, e.to_string()))?,
        None => Expr::Value(Value::Null.into()),
    })
}

/// DataFusion refuses two result columns with the same name; PostgreSQL allows them. Unnamed expressions
/// get unique aliases when any two would collide (the client still sees PostgreSQL's names: see names.rs).
fn unique_output_names(projection: &mut [SelectItem]) {
    fn key(e: &Expr) -> String {
        match e {
            Expr::Identifier(i) => ident(i),
            Expr::CompoundIdentifier(parts) => parts.last().map(ident).unwrap_or_default(),
            // A scalar subquery is named after its one column.
            Expr::Subquery(q) => match q.body.as_ref() {
                SetExpr::Select(s) => match s.projection.first() {
                    Some(SelectItem::UnnamedExpr(e)) => key(e),
                    Some(SelectItem::ExprWithAlias { alias, .. }) => ident(alias),
                    _ => e.to_string(),
                },
                _ => e.to_string(),
            },
            // DataFusion names a cast after what it casts: `now()::time` and `now()::date` collide.
            Expr::Cast { expr, .. } => key(expr),
            // DataFusion's names drop parentheses (`2 + 3 * 4` and `(2 + 3) * 4` collide) and casts
            // within (`max(id)` and `max(id::bigint)`).
            other => {
                let mut bare = other.clone();
                let _ = visit_expressions_mut(&mut bare, |e| {
                    while let Expr::Cast { expr, .. } = e {
                        *e = std::mem::replace(expr.as_mut(), Expr::Value(Value::Null.into()));
                    }
                    ControlFlow::<()>::Continue(())
                });
                bare.to_string().replace(['(', ')'], "")
            }
        }
    }
    let keys: Vec<Option<(String, bool)>> = projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some((key(e), false)),
            SelectItem::ExprWithAlias { alias, .. } => Some((ident(alias), true)),
            _ => None,
        })
        .collect();
    let mut count = std::collections::HashMap::<&str, usize>::new();
    for (k, _) in keys.iter().flatten() {
        *count.entry(k.as_str()).or_default() += 1;
    }
    // Only what collides is renamed, and a name the query gave (`AS procedure_schem`) is kept where it is
    // the only one given: ORDER BY and outer queries refer to it.
    let mut named = HashSet::new();
    for (i, (item, key)) in projection.iter_mut().zip(&keys).enumerate() {
        let Some((k, explicit)) = key else { continue };
        if count[k.as_str()] < 2 || (*explicit && named.insert(k.clone())) {
            continue;
        }
        let alias = Ident::with_quote('"', format!("__omendb_col{i}"));
        match item {
            SelectItem::UnnamedExpr(e) => {
                *item = SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias,
                }
            }
            SelectItem::ExprWithAlias { alias: a, .. } => *a = alias,
            _ => {}
        }
    }
}

/// The SQL type of each parameter `$1..$n` where it is known before planning: declared by the client in
/// Parse (`declared`), or written as a cast (`$1::timestamptz`). PostgreSQL types parameters this way;
/// DataFusion alone would leave `SELECT $1::int8` or `SELECT $1` untyped.
pub fn parameter_types(stmt: &Statement, declared: &[Option<Type>]) -> Vec<Option<SqlType>> {
    let mut n = 0;
    let mut casts: Vec<Option<SqlType>> = vec![];
    let placeholder = |e: &Expr| match unnested(e) {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('$')?.parse::<usize>().ok(),
            _ => None,
        },
        _ => None,
    };
    let _ = visit_expressions(stmt, |e| {
        if let Some(i) = placeholder(e) {
            n = n.max(i);
        }
        if let Expr::Cast {
            expr, data_type, ..
        } = e
            && let Some(i) = placeholder(expr)
            && i >= 1
        {
            if casts.len() < i {
                casts.resize(i, None);
            }
            casts[i - 1].get_or_insert_with(|| data_type.clone());
        }
        ControlFlow::<()>::Continue(())
    });
    (0..n)
        .map(|i| {
            declared
                .get(i)
                .cloned()
                .flatten()
                .and_then(|t| sql_type(&t))
                .or_else(|| casts.get(i).cloned().flatten())
        })
        .collect()
}

/// For each parameter `$1..$n` cast to an array type (`$1::varchar(255)[]`), that list type.
pub fn array_parameters(stmt: &Statement) -> Vec<Option<arrow_schema::DataType>> {
    use datafusion::sql::sqlparser::ast::ArrayElemTypeDef;
    let mut out: Vec<Option<arrow_schema::DataType>> = vec![];
    let _ = visit_expressions(stmt, |e| {
        if let Expr::Cast {
            expr,
            data_type:
                SqlType::Array(
                    ArrayElemTypeDef::SquareBracket(elem, _)
                    | ArrayElemTypeDef::AngleBracket(elem)
                    | ArrayElemTypeDef::Parenthesis(elem),
                ),
            ..
        } = e
            && let Expr::Value(v) = unnested(expr)
            && let Value::Placeholder(p) = &v.value
            && let Some(i) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
            && i >= 1
            && let Ok(t) = crate::ddl::column_type(elem)
        {
            if out.len() < i {
                out.resize(i, None);
            }
            out[i - 1] = Some(arrow_schema::DataType::List(std::sync::Arc::new(
                arrow_schema::Field::new_list_field(t.arrow(), true),
            )));
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// `e` without the parentheses around it (`($1)` is `$1`).
fn unnested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unnested(inner),
        e => e,
    }
}

fn sql_type(t: &Type) -> Option<SqlType> {
    use datafusion::sql::sqlparser::ast::{ExactNumberInfo, TimezoneInfo};
    Some(match *t {
        Type::BOOL => SqlType::Boolean,
        Type::INT2 => SqlType::SmallInt(None),
        Type::INT4 => SqlType::Integer(None),
        Type::INT8 => SqlType::BigInt(None),
        Type::FLOAT4 => SqlType::Real,
        Type::FLOAT8 => SqlType::DoublePrecision,
        Type::NUMERIC => SqlType::Numeric(ExactNumberInfo::None),
        // json and jsonb are text marked by what reads them (`json/`).
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::JSONB => {
            SqlType::Text
        }
        Type::BYTEA => SqlType::Bytea,
        Type::DATE => SqlType::Date,
        Type::TIME => SqlType::Time(None, TimezoneInfo::None),
        Type::TIMESTAMP => SqlType::Timestamp(None, TimezoneInfo::None),
        Type::TIMESTAMPTZ => SqlType::Timestamp(None, TimezoneInfo::WithTimeZone),
        _ => match t.kind() {
            // A one-dimensional array of a type above (`text[]`, `int4[]`).
            postgres_types::Kind::Array(elem) => SqlType::Array(
                datafusion::sql::sqlparser::ast::ArrayElemTypeDef::SquareBracket(
                    Box::new(sql_type(elem)?),
                    None,
                ),
            ),
            _ => return None,
        },
    })
}

/// `SET (a, b) = (x, y)` (or `= ROW(x, y)`) is `SET a = x, b = y`; DataFusion takes only the latter.
fn split_tuple_assignments(assignments: &mut Vec<datafusion::sql::sqlparser::ast::Assignment>) {
    use datafusion::sql::sqlparser::ast::Assignment;
    let mut out = Vec::with_capacity(assignments.len());
    for a in assignments.drain(..) {
        let values = match (&a.target, &a.value) {
            (AssignmentTarget::Tuple(cols), Expr::Tuple(values)) if cols.len() == values.len() => {
                Some(values.clone())
            }
            (AssignmentTarget::Tuple(cols), Expr::Function(f))
                if f.name.to_string().eq_ignore_ascii_case("row") =>
            {
                match &f.args {
                    datafusion::sql::sqlparser::ast::FunctionArguments::List(l)
                        if l.args.len() == cols.len() =>
                    {
                        l.args
                            .iter()
                            .map(|arg| match arg {
                                datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                                    datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(e),
                                ) => Some(e.clone()),
                                _ => None,
                            })
                            .collect::<Option<Vec<_>>>()
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match (values, &a.target) {
            (Some(values), AssignmentTarget::Tuple(cols)) => {
                for (c, v) in cols.iter().zip(values) {
                    out.push(Assignment {
                        target: AssignmentTarget::ColumnName(c.clone()),
                        value: v,
                    });
                }
            }
            _ => out.push(a),
        }
    }
    *assignments = out;
}
