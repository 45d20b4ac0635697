//! Array literals in PostgreSQL's text form (`'{a,"b c",NULL}'`) where PostgreSQL reads them as arrays:
//! compared with a catalog array column, on the right of `= ANY` / `<> ALL`, and cast to an array type.

use datafusion::sql::sqlparser::ast::{Expr, Value};

use crate::ddl::call;

/// Catalog columns of array type: a string literal compared with one is an array literal (`'{0}'`).
const ARRAY_COLUMNS: &[&str] = &[
    "polroles",
    "conkey",
    "confkey",
    "indkey",
    "indclass",
    "indoption",
    "indcollation",
    "stxkind",
    "stxkeys",
    "proargtypes",
    "reloptions",
    "relacl",
    "datacl",
    "nspacl",
    "attoptions",
];

pub(super) fn array_literal(column: &Expr, lit: &mut Expr) {
    let name = match column {
        Expr::Identifier(i) => &i.value,
        Expr::CompoundIdentifier(p) => match p.last() {
            Some(i) => &i.value,
            None => return,
        },
        _ => return,
    };
    if !ARRAY_COLUMNS.contains(&name.to_lowercase().as_str()) {
        return;
    }
    let Expr::Value(v) = lit else { return };
    let Value::SingleQuotedString(s) = &v.value else {
        return;
    };
    if let Some(array) = array_from_text(s) {
        *lit = array;
    }
}

/// PostgreSQL's text form of a one-dimensional array (`{a,"b c",NULL,3}`) as `make_array(...)`; elements
/// that are all integers become numbers, the rest strings (an untyped literal takes the other side's type).
pub fn array_from_text(text: &str) -> Option<Expr> {
    let items = parse(text)?;
    let numbers = items.iter().flatten().all(|i| i.parse::<i64>().is_ok());
    let elem = items
        .into_iter()
        .map(|i| match i {
            None => Expr::Value(Value::Null.into()),
            Some(i) if numbers => Expr::Value(Value::Number(i, false).into()),
            Some(i) => Expr::Value(Value::SingleQuotedString(i).into()),
        })
        .collect();
    Some(call("make_array", elem))
}

/// The elements of a one-dimensional array in PostgreSQL's text form (`NULL` unquoted is a NULL); `None`
/// for anything else (nested arrays, stray quotes).
pub fn parse(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut items: Vec<Option<String>> = vec![];
    let mut chars = inner.chars().peekable();
    while chars.peek().is_some() {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut item = String::new();
        let mut quoted = false;
        if chars.next_if_eq(&'"').is_some() {
            quoted = true;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => item.extend(chars.next()),
                    '"' => break,
                    c => item.push(c),
                }
            }
        }
        while let Some(c) = chars.next_if(|c| *c != ',') {
            match c {
                '{' | '"' => return None, // nested arrays and stray quotes: leave the literal to DataFusion
                // A backslash takes the next character as it is, quoted or not (`array_in`).
                '\\' => {
                    quoted = true;
                    item.extend(chars.next());
                }
                c => item.push(c),
            }
        }
        chars.next();
        let item = if quoted {
            item
        } else {
            item.trim().to_string()
        };
        items.push((quoted || !item.eq_ignore_ascii_case("null")).then_some(item));
    }
    Some(items)
}

/// The right side of `x op ANY('{...}')` / `ALL('{...}')`: a string literal there is an array.
pub(super) fn any_all_literal(right: &mut Expr) {
    let inner = match right {
        Expr::Nested(inner) => inner.as_mut(),
        other => other,
    };
    if let Expr::Value(v) = inner
        && let Value::SingleQuotedString(s) = &v.value
        && let Some(array) = array_from_text(s)
    {
        *inner = array;
    }
}

/// The results of a CASE: where one is visibly an array (an array column, `ARRAY[...]`, an array function),
/// a text literal in array form among the others is that array (`ELSE '{}'` in pg_dump's default ACLs).
pub(super) fn case_results(results: Vec<&mut Expr>) {
    let arrayish = |e: &Expr| match e {
        Expr::Array(_) => true,
        Expr::Identifier(i) => ARRAY_COLUMNS.contains(&i.value.to_lowercase().as_str()),
        Expr::CompoundIdentifier(p) => p
            .last()
            .is_some_and(|i| ARRAY_COLUMNS.contains(&i.value.to_lowercase().as_str())),
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
            name == "acldefault" || name == "make_array" || name.starts_with("array_append")
        }
        _ => false,
    };
    if !results.iter().any(|e| arrayish(e)) {
        return;
    }
    for e in results {
        if let Expr::Value(v) = e
            && let Value::SingleQuotedString(text) = &v.value
            && let Some(array) = array_from_text(text)
        {
            *e = array;
        }
    }
}
