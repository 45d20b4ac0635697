//! Names of catalog objects: resolving `regclass` names to OIDs and back, `quote_ident`, and the SQL text
//! PostgreSQL prints for an index definition and a column DEFAULT.

use datafusion::error::Result;
use datafusion::sql::sqlparser::ast::{Expr, UnaryOperator, Value};
use omendb_storage::DataType as Col;

use super::oids;
use super::{Source, Table};

/// The OID of relation `name` (`t`, `public.t`, `"T"`, `pg_catalog.pg_class`, an index name), if any.
pub fn regclass(src: &Source, name: &str) -> Result<Option<i64>> {
    let parts = split_name(name);
    let (schema, rel) = match parts.as_slice() {
        [r] => (None, r.clone()),
        [s, r] => (Some(s.as_str()), r.clone()),
        [_, s, r] => (Some(s.as_str()), r.clone()),
        _ => return Ok(None),
    };
    if schema.is_none_or(|s| s == "pg_catalog")
        && let Some((_, o, _)) = super::system_relations().find(|(n, ..)| *n == rel)
    {
        return Ok(Some(o));
    }
    let tables = src.tables()?;
    let sequences = src.sequences()?;
    let in_schema = |s: &str| {
        tables
            .iter()
            .find_map(|t| {
                if t.schema != s {
                    None
                } else if t.relname == rel {
                    Some(t.oid)
                } else {
                    t.indexes()
                        .into_iter()
                        .find(|i| i.name == rel)
                        .map(|i| i.oid)
                }
            })
            .or_else(|| {
                sequences
                    .iter()
                    .find(|q| q.schema == s && q.relname == rel)
                    .map(|q| q.oid)
            })
    };
    Ok(match schema {
        Some(s) => in_schema(s),
        None => src.names().path().iter().find_map(|s| in_schema(s)),
    })
}

/// Whether the relation with OID `o` is found by its bare name (`pg_table_is_visible`): its schema is on the
/// search path and no schema before it has a relation of that name.
pub fn visible(src: &Source, o: i64) -> Result<bool> {
    if super::system_relations().any(|(_, r, _)| r == o) {
        return Ok(true);
    }
    let tables = src.tables()?;
    let Some((t, rel)) = tables.iter().find_map(|t| {
        if t.oid == o {
            Some((t, t.relname.clone()))
        } else {
            t.indexes()
                .into_iter()
                .find(|i| i.oid == o)
                .map(|i| (t, i.name))
        }
    }) else {
        // Not a relation of ours (a type, a function, a built-in): on the path.
        return Ok(true);
    };
    let first = src.names().path().iter().find_map(|s| {
        tables.iter().find(|x| {
            x.schema == *s && (x.relname == rel || x.indexes().iter().any(|i| i.name == rel))
        })
    });
    Ok(first.is_some_and(|x| x.id == t.id))
}

/// The name `::regclass` prints for OID `o`: qualified only when not on the search path.
pub(super) fn relation_name(src: &Source, o: i64) -> Result<Option<String>> {
    if let Some((n, ..)) = super::system_relations().find(|(_, r, _)| *r == o) {
        return Ok(Some(n.to_string()));
    }
    let tables = src.tables()?;
    let Some((t, name)) = tables.iter().find_map(|t| {
        if t.oid == o {
            Some((t, quote_ident(&t.relname)))
        } else {
            t.indexes()
                .into_iter()
                .find(|i| i.oid == o)
                .map(|i| (t, quote_ident(&i.name)))
        }
    }) else {
        return Ok(None);
    };
    Ok(Some(if visible(src, o)? {
        name
    } else {
        format!("{}.{name}", quote_ident(&t.schema))
    }))
}

/// A possibly qualified, possibly quoted name split into its parts, folded as PostgreSQL folds them.
pub(crate) fn split_name(name: &str) -> Vec<String> {
    let mut parts = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = name.trim().chars().peekable();
    let mut was_quoted = false;
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                parts.push(if was_quoted {
                    cur.clone()
                } else {
                    cur.to_lowercase()
                });
                cur.clear();
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    parts.push(if was_quoted { cur } else { cur.to_lowercase() });
    parts
}

/// `quote_ident`: double quotes unless the name is a lower-case identifier that is not a keyword.
pub fn quote_ident(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let keyword = datafusion::sql::sqlparser::keywords::ALL_KEYWORDS
        .binary_search(&s.to_uppercase().as_str())
        .is_ok()
        && RESERVED.contains(&s);
    if plain && !keyword {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// PostgreSQL's reserved keywords that plain identifiers collide with (quote_ident quotes them).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// `pg_get_indexdef` of one of a table's indexes.
pub fn index_def(t: &Table, ix: &super::Index) -> String {
    let columns: Vec<String> = ix
        .columns
        .iter()
        .zip(&ix.options)
        .enumerate()
        .map(|(i, (&c, &o))| {
            let order = match (o & 1 != 0, o & 2 != 0) {
                (false, false) | (true, true) => "",
                (false, true) => " NULLS FIRST",
                (true, false) => " NULLS LAST",
            };
            let desc = if o & 1 != 0 { " DESC" } else { "" };
            let key = match ix.expressions.get(i).and_then(|e| e.as_deref()) {
                // PostgreSQL's own parentheses around an operator expression, then the deparse's.
                Some(e) => match super::expression_text(e) {
                    t if t.starts_with('(') => format!("({t})"),
                    t => t,
                },
                None => quote_ident(&t.def.columns[c].name),
            };
            format!("{key}{desc}{order}")
        })
        .collect();
    let predicate = ix
        .predicate
        .as_deref()
        .map(|p| format!(" WHERE {}", super::expression_text(p)))
        .unwrap_or_default();
    format!(
        "CREATE {}INDEX {} ON {}.{} USING btree ({}){predicate}",
        if ix.unique { "UNIQUE " } else { "" },
        quote_ident(&ix.name),
        quote_ident(&t.schema),
        quote_ident(&t.relname),
        columns.join(", ")
    )
}

/// `schema.name` as PostgreSQL prints an object's name: bare when its schema is on the search `path`
/// (or is pg_catalog), qualified otherwise; each part quoted as needed.
pub fn qualified_name(schema: &str, name: &str, path: &[String]) -> String {
    if schema == "pg_catalog" || path.iter().any(|p| p == schema) {
        quote_ident(name)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(name))
    }
}

/// A column type as `format_type` names it (an enum type by its name).
pub fn column_type_name(ty: Col, enums: &[super::EnumType]) -> String {
    if let Col::Enum { type_id } = ty
        && let Some(e) = enums.iter().find(|e| e.def.id == type_id)
    {
        return e.shown.clone();
    }
    let t = oids::type_info(ty);
    oids::format_type(t.oid, Some(t.typmod)).unwrap_or_else(|| ty.name())
}

/// A column DEFAULT as PostgreSQL prints it back (`pg_get_expr`, `information_schema.columns`): a string
/// literal carries its cast (`'x'::text`), as does a negative number; anything else prints as written.
pub fn deparse_default(sql: &str, ty: Col, enums: &[super::EnumType], path: &[String]) -> String {
    let Ok(expr) = crate::ddl::parse_expr(sql) else {
        return sql.to_string();
    };
    let type_name = || column_type_name(ty, enums);
    match &expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => {
                format!("'{}'::{}", s.replace('\'', "''"), type_name())
            }
            Value::Boolean(b) => b.to_string(),
            _ => expr.to_string(),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } if matches!(inner.as_ref(), Expr::Value(_)) => {
            format!("'-{inner}'::{}", type_name())
        }
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("current_timestamp") => {
            "CURRENT_TIMESTAMP".to_string()
        }
        // A SERIAL column's `nextval('t_id_seq')`: PostgreSQL's argument is a regclass.
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("nextval") => {
            match sequence_argument(f) {
                Some(name) => {
                    // A bare name is the public schema's (how SERIAL writes it there).
                    let (schema, rel) = crate::search_path::split(name);
                    let name = qualified_name(schema, rel, path);
                    format!("nextval('{}'::regclass)", name.replace('\'', "''"))
                }
                None => expr.to_string(),
            }
        }
        _ => expr.to_string(),
    }
}

/// The names of the common table expressions anywhere in `stmt`: a one-part relation name that is one of
/// them is the CTE's (a view of the same name is shadowed; resolved per statement, not per scope).
pub fn statement_ctes(
    stmt: &datafusion::sql::sqlparser::ast::Statement,
) -> std::collections::HashSet<String> {
    struct Ctes(std::collections::HashSet<String>);
    impl datafusion::sql::sqlparser::ast::Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(
            &mut self,
            q: &datafusion::sql::sqlparser::ast::Query,
        ) -> std::ops::ControlFlow<()> {
            if let Some(w) = &q.with {
                for c in &w.cte_tables {
                    self.0.insert(crate::ddl::ident(&c.alias.name));
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(std::collections::HashSet::new());
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(stmt, &mut ctes);
    ctes.0
}

/// The (schema, name) of the sequence a `nextval(...)` DEFAULT draws from, if it is one.
pub fn default_sequence(sql: &str) -> Option<(String, String)> {
    let Ok(Expr::Function(f)) = crate::ddl::parse_expr(sql) else {
        return None;
    };
    if !f.name.to_string().eq_ignore_ascii_case("nextval") {
        return None;
    }
    let (schema, rel) = crate::search_path::split(sequence_argument(&f)?);
    Some((schema.to_string(), rel.to_string()))
}

/// The sequence name a one-argument call takes: a string literal, maybe cast to regclass.
fn sequence_argument(f: &datafusion::sql::sqlparser::ast::Function) -> Option<&str> {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice() else {
        return None;
    };
    let arg = match arg {
        Expr::Cast {
            expr, data_type, ..
        } if data_type.to_string().eq_ignore_ascii_case("regclass") => expr.as_ref(),
        other => other,
    };
    match arg {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_print_like_postgres() {
        assert_eq!(
            deparse_default("'x'", Col::Text, &[], &["public".to_string()]),
            "'x'::text"
        );
        assert_eq!(
            deparse_default("10", Col::Integer, &[], &["public".to_string()]),
            "10"
        );
        assert_eq!(
            deparse_default("-1", Col::Integer, &[], &["public".to_string()]),
            "'-1'::integer"
        );
        assert_eq!(
            deparse_default("now()", Col::TimestampTz, &[], &["public".to_string()]),
            "now()"
        );
        assert_eq!(
            deparse_default("true", Col::Boolean, &[], &["public".to_string()]),
            "true"
        );
        assert_eq!(
            deparse_default(
                "nextval('t_id_seq')",
                Col::Integer,
                &[],
                &["public".to_string()]
            ),
            "nextval('t_id_seq'::regclass)"
        );
        assert_eq!(
            deparse_default(
                "nextval('t_id_seq'::regclass)",
                Col::Integer,
                &[],
                &["public".to_string()]
            ),
            "nextval('t_id_seq'::regclass)"
        );
        assert_eq!(
            deparse_default("'2020-01-01'", Col::Timestamp, &[], &["public".to_string()]),
            "'2020-01-01'::timestamp without time zone"
        );
    }

    #[test]
    fn names_and_quoting() {
        assert_eq!(split_name("public.\"My T\""), vec!["public", "My T"]);
        assert_eq!(split_name("T"), vec!["t"]);
        assert_eq!(quote_ident("items"), "items");
        assert_eq!(quote_ident("My T"), "\"My T\"");
        assert_eq!(quote_ident("select"), "\"select\"");
    }
}
