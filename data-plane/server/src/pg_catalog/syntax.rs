//! The PostgreSQL syntax of catalog queries that DataFusion does not take, rewritten into what it plans:
//! `pg_catalog.`-qualified function and type names, the `regclass` / `regtype` / `oid` casts (OIDs are
//! `bigint` here), `name` and `"char"` (text), `COLLATE` (one collation), `generate_subscripts`, and LIKE's
//! `ESCAPE` with another character than backslash.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement, Value,
    visit_expressions_mut,
};

pub fn rewrite(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e| {
        rewrite_expr(e);
        ControlFlow::<()>::Continue(())
    });
}

fn rewrite_expr(e: &mut Expr) {
    match e {
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
            let inner = (**expr).clone();
            match catalog_type(data_type) {
                Some(Catalog::Regclass) => *e = call("omendb_regclass", vec![inner]),
                Some(Catalog::Regtype) => *e = call("omendb_regtype", vec![inner]),
                Some(Catalog::Oid) => *data_type = SqlType::BigInt(None),
                Some(Catalog::Text) => {
                    // The name behind a reg* value, as PostgreSQL prints it.
                    if let Expr::Function(f) = &inner {
                        let name = f.name.to_string();
                        if name == "omendb_regclass" || name == "omendb_regtype" {
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

enum Catalog {
    Regclass,
    Regtype,
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
        "oid" | "regproc" | "regprocedure" | "regnamespace" | "regrole" | "regoper" | "xid"
        | "cid" | "regconfig" => Catalog::Oid,
        "name" | "text" | "char" | "bpchar" | "varchar" => Catalog::Text,
        _ => return None,
    })
}

/// `pg_catalog.f(...)` is `f(...)`: every function lives in pg_catalog.
fn strip_catalog(name: &mut ObjectName) {
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

fn call(name: &str, args: Vec<Expr>) -> Expr {
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

    fn rw(sql: &str) -> String {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut s);
        s.to_string()
    }

    #[test]
    fn catalog_syntax() {
        assert_eq!(
            rw("SELECT pg_catalog.format_type(a.atttypid, NULL) FROM t"),
            "SELECT format_type(a.atttypid, NULL) FROM t"
        );
        assert_eq!(
            rw("SELECT 't'::regclass, CAST(CAST(c.oid AS REGCLASS) AS TEXT), x::oid, n::name"),
            "SELECT omendb_regclass('t'), omendb_regclass_name(omendb_regclass(c.oid)), x::BIGINT, n::TEXT"
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
            rw("SELECT generate_subscripts(i.indkey, 1) FROM i"),
            "SELECT unnest(generate_series(1, cardinality(i.indkey))) FROM i"
        );
    }
}
