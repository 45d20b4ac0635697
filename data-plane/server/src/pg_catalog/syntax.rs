//! The PostgreSQL syntax of catalog queries that DataFusion does not take, rewritten into what it plans:
//! `pg_catalog.`-qualified function and type names, the `regclass` / `regtype` / `oid` casts (OIDs are
//! `bigint` here), `name` and `"char"` (text), `COLLATE` (one collation), `generate_subscripts`, LIKE's
//! `ESCAPE` with another character than backslash, `OPERATOR(pg_catalog.op)`, and `ARRAY(subquery)`.

use std::ops::ControlFlow;

use super::array_text::{any_all_literal, array_from_text, array_literal, case_results};
use crate::ddl::call;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, DataType as SqlType, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArguments, ObjectName, ObjectNamePart,
    OrderByKind, Query, Select, SelectItem, SetExpr, Statement, Subscript, TableFactor, Value,
    VisitMut, VisitorMut, visit_expressions_mut,
};

/// Expression text (a column DEFAULT, a CHECK) with the rewrites of [`rewrite`] that apply to one
/// expression (`'{}'::jsonb`), ready for DataFusion's `parse_sql_expr`; as given if it does not parse.
pub fn expression_sql(sql: &str) -> String {
    use datafusion::sql::sqlparser::{dialect::PostgreSqlDialect, parser::Parser};
    match Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
    {
        Ok(mut e) => {
            let _ = visit_expressions_mut(&mut e, |e| {
                rewrite_expr(e);
                ControlFlow::<()>::Continue(())
            });
            e.to_string()
        }
        Err(_) => sql.to_string(),
    }
}

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut RegclassOutput);
    let _ = visit_expressions_mut(stmt, |e| {
        rewrite_expr(e);
        ControlFlow::<()>::Continue(())
    });
    let _ = stmt.visit(&mut super::from_functions::TableFunctions);
    let _ = stmt.visit(&mut TableOids);
}

/// A `::regclass` (`::regtype`) value a query returns prints as the relation's (type's) name, PostgreSQL's
/// output for them, not its OID: a select-list cast to either is read back through `::text`. Elsewhere
/// (comparisons, joins) it stays the OID.
struct RegclassOutput;

impl VisitorMut for RegclassOutput {
    type Break = ();

    fn post_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
        for item in &mut s.projection {
            // A set-returning generate_series keeps its name, PostgreSQL's column name, once it is
            // unnested (`rewrite_expr`).
            if let SelectItem::UnnamedExpr(e) = item
                && is_generate_series(e)
            {
                *item = SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: datafusion::sql::sqlparser::ast::Ident::new("generate_series"),
                };
                continue;
            }
            let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item
            else {
                continue;
            };
            let Expr::Cast {
                data_type, expr, ..
            } = e
            else {
                continue;
            };
            let kind = match catalog_type(data_type) {
                Some(Catalog::Regclass) => "regclass",
                Some(Catalog::Regtype) => "regtype",
                Some(Catalog::Regnamespace) => "regnamespace",
                _ => continue,
            };
            {
                let name = output_name(expr)
                    .or_else(|| Some(datafusion::sql::sqlparser::ast::Ident::new(kind)));
                let cast = Expr::Cast {
                    kind: CastKind::DoubleColon,
                    expr: Box::new(e.clone()),
                    data_type: SqlType::Text,
                    format: None,
                    array: false,
                };
                // The column keeps the name PostgreSQL gives it (the cast column's).
                *item = match (
                    std::mem::replace(item, SelectItem::Wildcard(Default::default())),
                    name,
                ) {
                    (SelectItem::ExprWithAlias { alias, .. }, _) => {
                        SelectItem::ExprWithAlias { expr: cast, alias }
                    }
                    (_, Some(alias)) => SelectItem::ExprWithAlias { expr: cast, alias },
                    (_, None) => SelectItem::UnnamedExpr(cast),
                };
            }
        }
        ControlFlow::Continue(())
    }
}

/// The name PostgreSQL gives a select-list column computed from `e`, when it is a column.
fn output_name(e: &Expr) -> Option<datafusion::sql::sqlparser::ast::Ident> {
    match e {
        Expr::Identifier(i) => Some(i.clone()),
        Expr::CompoundIdentifier(p) => p.last().cloned(),
        _ => None,
    }
}

/// `x.tableoid` of a system catalog is that catalog's OID: pg_dump reads it to tag every object it finds.
/// The relations here have no system columns, so the column is resolved from the FROM clause's aliases.
struct TableOids;

impl VisitorMut for TableOids {
    type Break = ();

    fn post_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
        let mut by_alias: Vec<(String, i64)> = vec![];
        for t in &s.from {
            for f in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
                if let TableFactor::Table { name, alias, .. } = f
                    && let Some(ObjectNamePart::Identifier(rel)) = name.0.last()
                    && let Some((_, o, _)) =
                        super::system_relations().find(|(n, ..)| *n == rel.value)
                {
                    let key = alias.as_ref().map_or(&rel.value, |a| &a.name.value);
                    by_alias.push((key.to_lowercase(), o));
                }
            }
        }
        if by_alias.is_empty() {
            return ControlFlow::Continue(());
        }
        let only = (by_alias.len() == 1 && s.from.len() == 1).then(|| by_alias[0].1);
        let _ = visit_expressions_mut(s, |e| {
            let o = match e {
                Expr::CompoundIdentifier(p)
                    if p.len() == 2 && p[1].value.eq_ignore_ascii_case("tableoid") =>
                {
                    let q = p[0].value.to_lowercase();
                    by_alias.iter().find(|(a, _)| *a == q).map(|(_, o)| *o)
                }
                Expr::Identifier(i) if i.value.eq_ignore_ascii_case("tableoid") => only,
                _ => None,
            };
            if let Some(o) = o {
                *e = Expr::Cast {
                    kind: CastKind::DoubleColon,
                    expr: Box::new(Expr::Value(Value::Number(o.to_string(), false).into())),
                    data_type: SqlType::BigInt(None),
                    format: None,
                    array: false,
                };
            }
            ControlFlow::<()>::Continue(())
        });
        ControlFlow::Continue(())
    }
}

/// Catalog columns of type `name` that clients subscript.
fn is_name_column(e: &Expr) -> bool {
    let name = match e {
        Expr::Identifier(i) => &i.value,
        Expr::CompoundIdentifier(p) => match p.last() {
            Some(i) => &i.value,
            None => return false,
        },
        _ => return false,
    };
    matches!(
        name.to_lowercase().as_str(),
        "typname"
            | "relname"
            | "proname"
            | "nspname"
            | "attname"
            | "conname"
            | "rolname"
            | "datname"
    )
}

fn rewrite_expr(e: &mut Expr) {
    crate::json::rewrite_aggregate(e);
    crate::json::rewrite_set_returning(e);
    // generate_series outside FROM returns rows, as in PostgreSQL's select lists; DataFusion's function
    // of that name returns them as one array.
    if is_generate_series(e) {
        *e = call("unnest", vec![e.clone()]);
        return;
    }
    match e {
        // A numeric literal past what numeric holds here (38 digits: `1e300`) is read as double
        // precision, which holds it (PostgreSQL's numeric would; an error would stop the statement).
        Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if beyond_numeric(n)) => {
            if let Value::Number(n, _) = &v.value {
                *e = Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(Expr::Value(Value::SingleQuotedString(n.clone()).into())),
                    data_type: SqlType::DoublePrecision,
                    format: None,
                    array: false,
                };
            }
        }
        // `jsonb '{"a": 1}'`, as the cast.
        Expr::TypedString(ts) if matches!(ts.data_type, SqlType::JSON | SqlType::JSONB) => {
            let f = if matches!(ts.data_type, SqlType::JSON) {
                "omendb_json"
            } else {
                "omendb_jsonb"
            };
            *e = call(f, vec![Expr::Value(ts.value.clone())]);
        }
        Expr::BinaryOp { left, op, right } => {
            if matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
                array_literal(left, right);
                array_literal(right, left);
            }
            // `OPERATOR(pg_catalog.~)` is the operator `~`.
            if let BinaryOperator::PGCustomBinaryOperator(parts) = op
                && let [schema, name] = parts.as_slice()
                && schema.eq_ignore_ascii_case("pg_catalog")
                && let Some(plain) = builtin_operator(name)
            {
                *op = plain;
            }
            // `INTERVAL '1 hour' * 3`: Arrow has no interval-by-number arithmetic.
            let is_interval = |e: &Expr| matches!(unnested(e), Expr::Interval(_));
            if matches!(op, BinaryOperator::Multiply | BinaryOperator::Divide)
                && (is_interval(left) || (is_interval(right) && *op == BinaryOperator::Multiply))
            {
                let (interval, factor) = if is_interval(left) {
                    ((**left).clone(), (**right).clone())
                } else {
                    ((**right).clone(), (**left).clone())
                };
                let f = if *op == BinaryOperator::Multiply {
                    "omendb_interval_mul"
                } else {
                    "omendb_interval_div"
                };
                *e = call(f, vec![interval, factor]);
            }
        }
        Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } => any_all_literal(right),
        // PostgreSQL's meaning (timestamps.rs), where DataFusion's is a cast to a zone label.
        Expr::AtTimeZone {
            timestamp,
            time_zone,
        } => {
            let args = vec![
                std::mem::replace(time_zone.as_mut(), Expr::value(Value::Null)),
                std::mem::replace(timestamp.as_mut(), Expr::value(Value::Null)),
            ];
            *e = call("timezone", args);
        }
        // DataFusion plans the elements of `ARRAY[...]` without the enclosing queries' columns, so a
        // correlated subquery could not name an outer column in one; make_array(...) is the same array.
        Expr::Array(a) if !a.elem.is_empty() => {
            *e = call("make_array", std::mem::take(&mut a.elem));
        }
        Expr::Case {
            conditions,
            else_result,
            ..
        } => case_results(
            conditions
                .iter_mut()
                .map(|c| &mut c.result)
                .chain(else_result.as_deref_mut())
                .collect(),
        ),
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("array") => {
            if let FunctionArguments::Subquery(q) = &f.args {
                if let Some(mapped) = srf_array(q) {
                    *e = mapped;
                } else if let Some(q) = array_of(q) {
                    // ARRAY over no rows is an empty array, where array_agg is NULL.
                    *e = call(
                        "coalesce",
                        vec![Expr::Subquery(Box::new(q)), call("make_array", vec![])],
                    );
                }
            }
        }
        Expr::Function(f) if is_expandarray(&f.name) => {
            // information_schema._pg_expandarray(a): a set of (x, n), one row per element and its
            // position; as a set-returning call in a select list it is an unnest of those pairs.
            if let Some(array) = first_arg(f) {
                *e = call(
                    "unnest",
                    vec![call(super::table_functions::EXPANDARRAY, vec![array])],
                );
            }
        }
        Expr::Function(f) => {
            strip_catalog(&mut f.name);
            if f.name
                .to_string()
                .eq_ignore_ascii_case("generate_subscripts")
                && let Some(array) = first_arg(f)
            {
                // PostgreSQL's subscripts of a one-dimensional array, as a set: 1..cardinality.
                let series = call(
                    "generate_series",
                    vec![
                        Expr::Value(Value::Number("1".into(), false).into()),
                        call("cardinality", vec![array]),
                    ],
                );
                *e = call("unnest", vec![series]);
            }
        }
        Expr::Collate { expr, .. } => *e = (**expr).clone(),
        // `SUBSTRING(x FROM a FOR b)` through the function registry, where `bytea.rs` puts the
        // bytea-aware `substr` (DataFusion's planner would take its own text-only one).
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let one = || Expr::Value(Value::Number("1".into(), false).into());
            let mut args = vec![
                (**expr).clone(),
                substring_from.as_deref().cloned().unwrap_or_else(one),
            ];
            if let Some(n) = substring_for {
                args.push((**n).clone());
            }
            *e = call("substr", args);
        }
        // `(composite).field` is DataFusion's `composite['field']` (`t.col[1]` is a qualified column).
        Expr::CompoundFieldAccess { root, access_chain }
            if matches!(**root, Expr::Nested(_))
                && access_chain
                    .iter()
                    .any(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_)))) =>
        {
            for a in access_chain.iter_mut() {
                if let AccessExpr::Dot(Expr::Identifier(i)) = a {
                    let field = crate::ddl::ident(i);
                    *a = AccessExpr::Subscript(Subscript::Index {
                        index: Expr::Value(Value::SingleQuotedString(field).into()),
                    });
                }
            }
        }
        // A `name` is subscriptable as an array of its characters, from 0 (pg_dump's `typname[0] = '_'`).
        Expr::CompoundFieldAccess { root, access_chain }
            if is_name_column(root)
                && let [AccessExpr::Subscript(Subscript::Index { index })] =
                    access_chain.as_slice() =>
        {
            let from = Expr::BinaryOp {
                left: Box::new(index.clone()),
                op: BinaryOperator::Plus,
                right: Box::new(Expr::Value(Value::Number("1".into(), false).into())),
            };
            *e = call(
                "substr",
                vec![
                    (**root).clone(),
                    from,
                    Expr::Value(Value::Number("1".into(), false).into()),
                ],
            );
        }
        // DataFusion reads a SIMILAR TO pattern as a regular expression as is; PostgreSQL translates it.
        Expr::SimilarTo {
            negated,
            expr: inner,
            pattern,
            escape_char,
        } => {
            let mut args = vec![(**pattern).clone()];
            if let Some(v) = escape_char {
                args.push(Expr::Value(v.clone()));
            }
            let op = if *negated {
                BinaryOperator::PGRegexNotMatch
            } else {
                BinaryOperator::PGRegexMatch
            };
            *e = Expr::BinaryOp {
                left: inner.clone(),
                op,
                right: Box::new(call("similar_to_escape", args)),
            };
        }
        Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        } => {
            // DataFusion escapes with a backslash only: translate the pattern to that.
            let esc = match escape_char.as_ref().map(|v| &v.value) {
                Some(Value::SingleQuotedString(c)) if c != "\\" => c.clone(),
                _ => return,
            };
            let lit = Expr::Value(Value::SingleQuotedString(esc).into());
            **pattern = call("omendb_like_escape", vec![(**pattern).clone(), lit]);
            *escape_char = None;
        }
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            data_type,
            format: None,
            ..
        } => {
            // `'{a,b}'::text[]`: the literal is an array's text form (a plain cast would wrap the string).
            if matches!(data_type, SqlType::Array(_))
                && let Expr::Value(v) = expr.as_ref()
                && let Value::SingleQuotedString(text) = &v.value
                && let Some(array) = array_from_text(text)
            {
                **expr = array;
            }
            let inner = (**expr).clone();
            unqualify_type(data_type);
            // A uuid is its canonical text here: the cast checks and spells it (`uuid_in`).
            if matches!(data_type, SqlType::Uuid) {
                *e = call("omendb_uuid", vec![inner]);
                return;
            }
            // A jsonpath is its normalised text here.
            if matches!(data_type, SqlType::Custom(name, _) if name.to_string().eq_ignore_ascii_case("jsonpath"))
            {
                *e = call("omendb_jsonpath", vec![inner]);
                return;
            }
            // json and jsonb are text here, marked by the functions that check and shape it.
            if matches!(data_type, SqlType::JSON | SqlType::JSONB) {
                let f = if matches!(data_type, SqlType::JSON) {
                    "omendb_json"
                } else {
                    "omendb_jsonb"
                };
                *e = call(f, vec![inner]);
                return;
            }
            // `oid[]`, `regclass[]`, `name[]`: arrays of the types the catalogs hold as bigint or text.
            if let SqlType::Array(
                datafusion::sql::sqlparser::ast::ArrayElemTypeDef::SquareBracket(elem, _)
                | datafusion::sql::sqlparser::ast::ArrayElemTypeDef::AngleBracket(elem),
            ) = data_type
            {
                match catalog_type(elem) {
                    // `uuid[]` (Django's bulk_create unnests one): its elements are held as text, and
                    // storage spells each canonically as it goes in.
                    // json[] and jsonb[] likewise (storage checks or shapes each document).
                    _ if matches!(**elem, SqlType::Uuid | SqlType::JSON | SqlType::JSONB) => {
                        **elem = SqlType::Text
                    }
                    Some(Catalog::Text) => **elem = SqlType::Text,
                    Some(_) => **elem = SqlType::BigInt(None),
                    None => {}
                }
                return;
            }
            match catalog_type(data_type) {
                Some(Catalog::Regclass) => *e = call("omendb_regclass", vec![inner]),
                Some(Catalog::Regtype) => *e = call("omendb_regtype", vec![inner]),
                Some(Catalog::Oid) => *e = call("omendb_oid", vec![inner]),
                Some(Catalog::Regnamespace) => *e = call("omendb_regnamespace", vec![inner]),
                Some(Catalog::Text) => {
                    // The name behind a reg* value, as PostgreSQL prints it.
                    if let Expr::Function(f) = &inner {
                        let name = f.name.to_string();
                        if matches!(
                            name.as_str(),
                            "omendb_regclass" | "omendb_regtype" | "omendb_regnamespace"
                        ) {
                            *e = call(&format!("{name}_name"), vec![inner]);
                            return;
                        }
                    }
                    *data_type = SqlType::Text;
                }
                None => {}
            }
        }
        _ => {}
    }
}

/// A call of generate_series (not a window function).
fn is_generate_series(e: &Expr) -> bool {
    matches!(e, Expr::Function(f) if f.over.is_none()
        && f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case("generate_series"))
        && f.name.0.len() <= 2)
}

/// Whether number literal `n` (`1e300`, `1.5e-200`) needs more than numeric(38)'s digits and scale.
fn beyond_numeric(n: &str) -> bool {
    let Some((mantissa, exponent)) = n.split_once(['e', 'E']) else {
        return false;
    };
    let Ok(exponent) = exponent.parse::<i64>() else {
        return false;
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let whole = whole.trim_start_matches('0');
    // Digits left of the point once the exponent is applied, and right of it.
    let left = whole.len() as i64 + exponent;
    let right = fraction.len() as i64 - exponent;
    left > 38 || right > 38
}

fn builtin_operator(name: &str) -> Option<BinaryOperator> {
    Some(match name {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "=" => BinaryOperator::Eq,
        "<>" | "!=" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        "||" => BinaryOperator::StringConcat,
        _ => return None,
    })
}

/// `ARRAY(SELECT x FROM ... ORDER BY k)` as `(SELECT array_agg(x ORDER BY k) FROM ...)`. PostgreSQL gives
/// an empty array for no rows where array_agg gives NULL.
/// `ARRAY(SELECT e FROM unnest(a) AS t(x) [ORDER BY x])` and the same over `pg_options_to_table(a)` (its
/// `name=value` strings as `option_name`, `option_value`): the subquery reads only the elements of one
/// array, usually an outer row's (pg_dump's option lists), which DataFusion cannot plan as a correlated
/// table function; it is `array_transform(a, x -> e)`, with `a` sorted for the ORDER BY.
fn srf_array(q: &Query) -> Option<Expr> {
    if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    if s.selection.is_some()
        || s.having.is_some()
        || s.distinct.is_some()
        || !matches!(&s.group_by, datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(g, _) if g.is_empty())
    {
        return None;
    }
    let [from] = s.from.as_slice() else {
        return None;
    };
    let [item] = s.projection.as_slice() else {
        return None;
    };
    let (SelectItem::UnnamedExpr(body) | SelectItem::ExprWithAlias { expr: body, .. }) = item
    else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let (function, array, alias) = match &from.relation {
        TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } => {
            let mut name = name.clone();
            strip_catalog(&mut name);
            let [FunctionArg::Unnamed(FunctionArgExpr::Expr(array))] = args.args.as_slice() else {
                return None;
            };
            (name.to_string().to_lowercase(), array, alias)
        }
        TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset: false,
            with_ordinality: false,
            ..
        } => {
            let [array] = array_exprs.as_slice() else {
                return None;
            };
            ("unnest".to_string(), array, alias)
        }
        _ => return None,
    };
    let el = Expr::Identifier(datafusion::sql::sqlparser::ast::Ident::new("__omendb_el"));
    let lit = |v: &str| Expr::Value(Value::SingleQuotedString(v.into()).into());
    let number = |v: &str| Expr::Value(Value::Number(v.into(), false).into());
    // What each column of the function's rows is, in terms of one element.
    let columns: Vec<(String, Expr)> = match function.as_str() {
        "unnest" => {
            let column = alias
                .as_ref()
                .map(|a| a.columns.first().map_or(&a.name, |c| &c.name))
                .map_or("unnest".to_string(), crate::ddl::ident);
            vec![(column, el.clone())]
        }
        "pg_options_to_table" => {
            let eq = call("strpos", vec![el.clone(), lit("=")]);
            vec![
                (
                    "option_name".into(),
                    call("split_part", vec![el.clone(), lit("="), number("1")]),
                ),
                (
                    "option_value".into(),
                    call(
                        "substr",
                        vec![
                            el.clone(),
                            Expr::BinaryOp {
                                left: Box::new(eq),
                                op: BinaryOperator::Plus,
                                right: Box::new(number("1")),
                            },
                        ],
                    ),
                ),
            ]
        }
        _ => return None,
    };
    let relation = alias.as_ref().map(|a| crate::ddl::ident(&a.name));
    let column_of = |e: &Expr| -> Option<usize> {
        let n = match e {
            Expr::Identifier(i) => crate::ddl::ident(i),
            Expr::CompoundIdentifier(p)
                if p.len() == 2
                    && relation.as_deref() == Some(crate::ddl::ident(&p[0]).as_str()) =>
            {
                crate::ddl::ident(&p[1])
            }
            _ => return None,
        };
        columns.iter().position(|(c, _)| *c == n)
    };
    // ORDER BY the element (or the option's name, which leads it): sort the array first.
    let mut source = array.clone();
    if let Some(o) = &q.order_by {
        let OrderByKind::Expressions(keys) = &o.kind else {
            return None;
        };
        let [key] = keys.as_slice() else { return None };
        if column_of(&key.expr) != Some(0) || key.options.nulls_first.is_some() {
            return None;
        }
        let dir = if key.options.asc == Some(false) {
            "DESC"
        } else {
            "ASC"
        };
        source = call("array_sort", vec![source, lit(dir)]);
    }
    let mut mapped = body.clone();
    let mut outside = false;
    let _ = visit_expressions_mut(&mut mapped, |e| {
        if let Some(i) = column_of(e) {
            *e = columns[i].1.clone();
        } else if matches!(
            e,
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
        ) {
            outside = true;
        }
        ControlFlow::<()>::Continue(())
    });
    if outside {
        return None;
    }
    let lambda = Expr::Lambda(datafusion::sql::sqlparser::ast::LambdaFunction {
        params: datafusion::sql::sqlparser::ast::OneOrManyWithParens::One(
            datafusion::sql::sqlparser::ast::LambdaFunctionParameter {
                name: datafusion::sql::sqlparser::ast::Ident::new("__omendb_el"),
                data_type: None,
            },
        ),
        body: Box::new(mapped),
        syntax: datafusion::sql::sqlparser::ast::LambdaSyntax::Arrow,
    });
    Some(call("array_transform", vec![source, lambda]))
}

fn array_of(q: &Query) -> Option<Query> {
    let mut q = q.clone();
    let order = q.order_by.take();
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(s) = q.body.as_mut() else {
        return None;
    };
    let [item] = s.projection.as_mut_slice() else {
        return None;
    };
    let (SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. }) = item else {
        return None;
    };
    let mut by = vec![];
    if let Some(o) = order {
        let OrderByKind::Expressions(es) = o.kind else {
            return None;
        };
        for mut k in es {
            // `ORDER BY 1` is the one output column.
            if matches!(&k.expr, Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if n == "1"))
            {
                k.expr = x.clone();
            }
            by.push(k);
        }
    }
    let mut agg = call("array_agg", vec![x.clone()]);
    if let Expr::Function(f) = &mut agg
        && let FunctionArguments::List(l) = &mut f.args
        && !by.is_empty()
    {
        l.clauses.push(FunctionArgumentClause::OrderBy(by));
    }
    *x = agg;
    Some(q)
}

/// `pg_catalog.int2` is `int2`: every built-in type lives in pg_catalog.
fn unqualify_type(t: &mut SqlType) {
    if let SqlType::Array(
        datafusion::sql::sqlparser::ast::ArrayElemTypeDef::SquareBracket(inner, _)
        | datafusion::sql::sqlparser::ast::ArrayElemTypeDef::AngleBracket(inner),
    ) = t
    {
        return unqualify_type(inner);
    }
    let SqlType::Custom(name, mods) = t else {
        return;
    };
    let [ObjectNamePart::Identifier(s), ObjectNamePart::Identifier(n)] = name.0.as_slice() else {
        return;
    };
    if !s.value.eq_ignore_ascii_case("pg_catalog") {
        return;
    }
    let text = if mods.is_empty() {
        n.to_string()
    } else {
        format!("{}({})", n, mods.join(", "))
    };
    if let Ok(parsed) = datafusion::sql::sqlparser::parser::Parser::new(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
    )
    .try_with_sql(&text)
    .and_then(|mut p| p.parse_data_type())
    {
        *t = parsed;
    }
}

enum Catalog {
    Regclass,
    Regtype,
    Regnamespace,
    Oid,
    Text,
}

fn catalog_type(t: &SqlType) -> Option<Catalog> {
    let name = match t {
        SqlType::Regclass => return Some(Catalog::Regclass),
        SqlType::Text | SqlType::Varchar(None) | SqlType::CharacterVarying(None) => {
            return Some(Catalog::Text);
        }
        SqlType::Custom(name, mods) if mods.is_empty() => name,
        _ => return None,
    };
    let last = match name.0.as_slice() {
        [ObjectNamePart::Identifier(i)] => i,
        [ObjectNamePart::Identifier(s), ObjectNamePart::Identifier(i)]
            if s.value.eq_ignore_ascii_case("pg_catalog") =>
        {
            i
        }
        _ => return None,
    };
    // `"char"` is quoted: PostgreSQL's one-byte type, text here.
    Some(match last.value.to_lowercase().as_str() {
        "regclass" => Catalog::Regclass,
        "regtype" => Catalog::Regtype,
        "regnamespace" => Catalog::Regnamespace,
        "oid" | "regrole" | "xid" | "cid" | "regconfig" => Catalog::Oid,
        // The built-in catalogs hold functions and operators by name, which is how a reg* prints.
        "name" | "text" | "char" | "bpchar" | "varchar" | "regproc" | "regprocedure"
        | "regoper" | "regoperator" => Catalog::Text,
        _ => return None,
    })
}

/// `pg_catalog.f(...)` is `f(...)`: every function lives in pg_catalog.
fn is_expandarray(name: &ObjectName) -> bool {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(f)] => f.value.eq_ignore_ascii_case("_pg_expandarray"),
        [ObjectNamePart::Identifier(s), ObjectNamePart::Identifier(f)] => {
            s.value.eq_ignore_ascii_case("information_schema")
                && f.value.eq_ignore_ascii_case("_pg_expandarray")
        }
        _ => false,
    }
}

pub(super) fn strip_catalog(name: &mut ObjectName) {
    if let [ObjectNamePart::Identifier(s), ObjectNamePart::Identifier(f)] = name.0.as_slice()
        && s.value.eq_ignore_ascii_case("pg_catalog")
    {
        *name = ObjectName(vec![ObjectNamePart::Identifier(f.clone())]);
    }
}

fn first_arg(f: &Function) -> Option<Expr> {
    let FunctionArguments::List(l) = &f.args else {
        return None;
    };
    match l.args.first()? {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::rw;

    #[test]
    fn catalog_syntax() {
        assert_eq!(
            rw("SELECT pg_catalog.format_type(a.atttypid, NULL) FROM t"),
            "SELECT format_type(a.atttypid, NULL) FROM t"
        );
        assert_eq!(
            rw("SELECT 't'::regclass, CAST(CAST(c.oid AS REGCLASS) AS TEXT), x::oid, n::name"),
            "SELECT omendb_regclass_name(omendb_regclass('t')) AS regclass, omendb_regclass_name(omendb_regclass(c.oid)), omendb_oid(x), n::TEXT"
        );
        // Compared, a regclass stays an OID; returned, it prints as the name.
        assert_eq!(
            rw("SELECT c.conrelid::regclass FROM pg_constraint c WHERE c.conrelid = 't'::regclass"),
            "SELECT omendb_regclass_name(omendb_regclass(c.conrelid)) AS conrelid FROM pg_constraint c WHERE c.conrelid = omendb_regclass('t')"
        );
        assert_eq!(
            rw("SELECT relname COLLATE \"C\", 'int4'::pg_catalog.regtype::text"),
            "SELECT relname, omendb_regtype_name(omendb_regtype('int4'))"
        );
        assert_eq!(
            rw("SELECT 1 WHERE n NOT LIKE $1 || '%' ESCAPE '/'"),
            "SELECT 1 WHERE n NOT LIKE omendb_like_escape($1 || '%', '/')"
        );
        assert_eq!(
            rw("SELECT c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default"),
            "SELECT c.relname ~ '^(t)$'"
        );
        assert_eq!(
            rw("SELECT ARRAY(SELECT b.rolname FROM r b WHERE b.x = 1 ORDER BY 1)"),
            "SELECT coalesce((SELECT array_agg(b.rolname ORDER BY b.rolname) FROM r b WHERE b.x = 1), make_array())"
        );
        assert_eq!(
            rw(
                "SELECT x FROM pg_catalog.unnest(r.a) x, generate_series(1, 3) AS g(i) WHERE p.polroles = '{0}'"
            ),
            "SELECT x FROM UNNEST(r.a) x (x), generate_series(1, 3) AS g (i) WHERE p.polroles = make_array(0)"
        );
        assert_eq!(
            rw("SELECT 1::pg_catalog.int2, 'x'::pg_catalog.varchar(3), a::pg_catalog.int2[]"),
            "SELECT 1::INT2, 'x'::VARCHAR(3), a::INT2[]"
        );
        assert_eq!(
            rw(
                "SELECT x.tableoid, x.oid FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"
            ),
            "SELECT 3079::BIGINT, x.oid FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"
        );
        assert_eq!(
            rw("SELECT generate_subscripts(i.indkey, 1) FROM i"),
            "SELECT unnest(generate_series(1, cardinality(i.indkey))) FROM i"
        );
        assert_eq!(
            rw(
                "SELECT (SELECT sum(x) FROM generate_series(1, t.g) AS q(x)), \
                (SELECT count(*) FROM pg_catalog.generate_series(0, 3) s) FROM t"
            ),
            "SELECT (SELECT sum(x) FROM UNNEST(generate_series(1, t.g)) AS q (x)), \
             (SELECT count(*) FROM generate_series(0, 3) s (s)) FROM t"
        );
    }
}

#[cfg(test)]
mod tests_support {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    pub fn rw(sql: &str) -> String {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        super::rewrite(&mut s);
        s.to_string()
    }
}

#[cfg(test)]
mod jdbc_tests {
    use super::tests_support::rw;

    #[test]
    fn array_literals_on_the_right_of_any_and_all() {
        assert_eq!(
            rw("SELECT 1 FROM k WHERE word <> ALL ('{a,\"b,c\",NULL,\"null\"}')"),
            "SELECT 1 FROM k WHERE word <> ALL(make_array('a', 'b,c', NULL, 'null'))"
        );
        assert_eq!(
            rw("SELECT 1 FROM k WHERE w <> ALL ('{x,y}'::text[])"),
            "SELECT 1 FROM k WHERE w <> ALL(make_array('x', 'y')::TEXT[])"
        );
        assert_eq!(
            rw("SELECT 1 FROM k WHERE n = ANY('{1, 2}')"),
            "SELECT 1 FROM k WHERE n = ANY(make_array(1, 2))"
        );
        let long = format!(
            "SELECT 1 FROM k WHERE w <> ALL ('{{{}}}')",
            include_str!("data/pg_get_keywords.tsv")
                .lines()
                .skip(1)
                .map(|l| l.split('\t').next().unwrap())
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(
            rw(&long).contains("make_array('abort', "),
            "{}",
            &rw(&long)[..200]
        );
    }

    #[test]
    fn expandarray_and_composite_fields() {
        assert_eq!(
            rw(
                "SELECT (information_schema._pg_expandarray(i.indkey)).n, t.a[1], (r.keys).x FROM i"
            ),
            "SELECT (unnest(omendb_expandarray(i.indkey)))['n'], t.a[1], (r.keys)['x'] FROM i"
        );
    }
}

/// `e` without the parentheses around it.
fn unnested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unnested(inner),
        e => e,
    }
}
