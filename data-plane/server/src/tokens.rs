//! PostgreSQL forms the SQL parser lacks, rewritten at the token level before parsing (rules, not answers):
//!
//! - `FOR NO KEY UPDATE` and `FOR KEY SHARE` become `FOR UPDATE` / `FOR SHARE` with a marker as the first
//!   part of the `OF` name (`OF __omendb_no_key_update[.t]`), which the locking SELECT reads back
//!   ([`lock_strength`]) and removes; no other code sees a lock clause.
//! - `DEFERRABLE` / `NOT DEFERRABLE` in BEGIN, START TRANSACTION and SET TRANSACTION are dropped: they only
//!   let a SERIALIZABLE READ ONLY transaction wait for a snapshot that can never be cancelled, and OmenDB's
//!   read-only serializable transactions are never cancelled anyway (they serialize at their snapshot).
//! - `MOVE ...` is `FETCH ... INTO __omendb_move` (the cursor moves, no rows are returned), and FETCH's
//!   optional parts are written out: `FETCH c` is `FETCH NEXT FROM c`, `FETCH FORWARD FROM c` is
//!   `FETCH FORWARD 1 FROM c` (the parser takes only the full form).
//! - `x OPERATOR(pg_catalog.=) ANY (array)` (psql and pg_dump qualify every operator) becomes `x = ANY (...)`:
//!   the parser takes a qualified operator only between two operands (`syntax.rs` unqualifies those).
//! - VACUUM and ANALYZE in PostgreSQL's forms (option lists, several tables, column lists) become
//!   `VACUUM "__omendb_maintenance"."<verb>"."<options>"."<table>"...`, each part the source text, which
//!   `session/maintenance.rs` reads back; the parser takes one table and none of the options.
//! - ALTER SEQUENCE, and OWNER TO on sequences, views and types (`alter_forms.rs`); sequence options in
//!   any order, in CREATE SEQUENCE and identity columns (`sequence_options.rs`).
//! - COPY's boolean options (`FREEZE on`, `HEADER 1`) take every spelling of a boolean PostgreSQL takes; the
//!   parser knows only TRUE and FALSE.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName, ObjectNamePart};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use omendb_storage::LockMode;

const NO_KEY_UPDATE: &str = "__omendb_no_key_update";
const KEY_SHARE: &str = "__omendb_key_share";

/// `sql` with the forms above rewritten, or `None` when there is nothing to rewrite (the common case costs
/// one case-insensitive scan).
pub fn rewrite(sql: &str) -> Option<String> {
    match crate::lock_clauses::rewrite(sql) {
        Some(locks) => Some(rewrite_forms(&locks).unwrap_or(locks)),
        None => rewrite_forms(sql),
    }
}

fn rewrite_forms(sql: &str) -> Option<String> {
    let upper = sql.to_ascii_uppercase();
    let first = upper.trim_start();
    if first.starts_with("FETCH") || first.starts_with("MOVE") {
        return fetch(sql);
    }
    if (upper.contains("VACUUM") || upper.contains("ANALY"))
        && let Some(rewritten) = maintenance(sql)
    {
        return Some(rewritten);
    }
    if first.starts_with("COPY") {
        return copy_booleans(sql);
    }
    if first.starts_with("ALTER")
        && (upper.contains("SEQUENCE")
            || upper.contains("OWNER")
            || upper.contains("VIEW")
            || upper.contains("SCHEMA"))
        && let Some(rewritten) = crate::alter_forms::rewrite(sql)
    {
        return Some(crate::sequence_options::rewrite(&rewritten).unwrap_or(rewritten));
    }
    if first.starts_with("CREATE")
        && upper.contains("SEQUENCE")
        && let Some(rewritten) = crate::sequence_options::rewrite(sql)
    {
        return Some(rewritten);
    }
    if upper.contains("IDENTITY")
        && (first.starts_with("CREATE") || first.starts_with("ALTER"))
        && let Some(rewritten) = crate::sequence_options::identity_options(sql)
    {
        // A SEQUENCE NAME other than the usual one is an ALTER SEQUENCE after the statement.
        return Some(crate::alter_forms::rewrite(&rewritten).unwrap_or(rewritten));
    }
    if upper.contains("DROP")
        && upper.contains("CONCURRENTLY")
        && let Some(rewritten) = drop_concurrently(sql)
    {
        return Some(rewritten);
    }
    if !upper.contains("KEY") && !upper.contains("DEFERRABLE") && !upper.contains("OPERATOR") {
        return None;
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let words: Vec<(usize, Keyword)> = keywords(&tokens).collect();
    let mut out: Vec<Token> = tokens.clone();
    let mut changed = qualified_quantified_operators(&mut out);
    let transaction_statement = matches!(
        words.first().map(|(_, k)| *k),
        Some(Keyword::BEGIN | Keyword::START | Keyword::SET)
    );
    let mut w = 0;
    while w < words.len() {
        let kw = |j: usize| words.get(w + j).map(|(_, k)| *k);
        let (at, _) = words[w];
        let lock = match (kw(0), kw(1), kw(2), kw(3)) {
            (Some(Keyword::FOR), Some(Keyword::NO), Some(Keyword::KEY), Some(Keyword::UPDATE)) => {
                Some((NO_KEY_UPDATE, "UPDATE", 4))
            }
            (Some(Keyword::FOR), Some(Keyword::KEY), Some(Keyword::SHARE), _) => {
                Some((KEY_SHARE, "SHARE", 3))
            }
            _ => None,
        };
        if let Some((marker, strength, n)) = lock {
            let last = words[w + n - 1].0;
            let explicit_of = kw(n) == Some(Keyword::OF);
            let mut text = format!("FOR {strength} OF {marker}");
            let mut end = last;
            if explicit_of {
                // `OF t` follows: the marker becomes the first part of its name.
                text.push('.');
                end = words[w + n].0;
                while matches!(out.get(end + 1), Some(Token::Whitespace(_))) {
                    end += 1;
                }
            }
            out[at] = Token::make_word(&text, None);
            for t in out.iter_mut().take(end + 1).skip(at + 1) {
                *t = Token::make_word("", None);
            }
            changed = true;
            w += n;
            continue;
        }
        if transaction_statement && kw(0) == Some(Keyword::DEFERRABLE) {
            out[at] = Token::make_word("", None);
            let mut first = at;
            if w > 0 && words[w - 1].1 == Keyword::NOT {
                first = words[w - 1].0;
                out[first] = Token::make_word("", None);
            }
            // The comma that separated it from the previous mode goes too.
            let mut j = first;
            while j > 0 {
                j -= 1;
                match out[j] {
                    Token::Whitespace(_) => continue,
                    Token::Comma => out[j] = Token::make_word("", None),
                    _ => {}
                }
                break;
            }
            changed = true;
        }
        w += 1;
    }
    changed.then(|| out.iter().map(ToString::to_string).collect())
}

/// FETCH and MOVE in the one form the parser takes: `FETCH <direction> FROM <name> [INTO marker]`.
fn fetch(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let sig: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let keyword = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k && w.quote_style.is_none());
    let is_move = matches!(sig.first()?, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("move"));
    let name = sig.last()?;
    if sig.len() < 2
        || !matches!(name, Token::Word(_))
        || sig.iter().any(|t| keyword(t, Keyword::INTO))
    {
        return None; // not a cursor name at the end, or already in the parser's form
    }
    let mut direction: Vec<String> = vec![];
    let mut minus = false;
    for t in &sig[1..sig.len() - 1] {
        if keyword(t, Keyword::FROM) || keyword(t, Keyword::IN) {
            continue;
        }
        if **t == Token::Minus {
            minus = true;
            continue;
        }
        let text = t.to_string();
        direction.push(if std::mem::take(&mut minus) {
            format!("-{text}")
        } else {
            text
        });
    }
    // A negative count is a step the other way (the parser takes counts without a sign).
    match direction.as_slice() {
        [n] if n.starts_with('-') => direction = vec!["BACKWARD".into(), n[1..].to_string()],
        [d, n] if n.starts_with('-') && d.eq_ignore_ascii_case("forward") => {
            direction = vec!["BACKWARD".into(), n[1..].to_string()]
        }
        [d, n] if n.starts_with('-') && d.eq_ignore_ascii_case("backward") => {
            direction = vec!["FORWARD".into(), n[1..].to_string()]
        }
        _ => {}
    }
    // ABSOLUTE -n and RELATIVE -n: the sign travels in the INTO marker.
    let mut markers = vec![];
    if is_move {
        markers.push(crate::session::MOVE_MARKER);
    }
    if let [_, n] = direction.as_mut_slice()
        && let Some(abs) = n.strip_prefix('-')
    {
        *n = abs.to_string();
        markers.push(crate::session::NEGATIVE_MARKER);
    }
    match direction.as_slice() {
        [] => direction.push("NEXT".into()),
        [d] if d.eq_ignore_ascii_case("forward") || d.eq_ignore_ascii_case("backward") => {
            direction.push("1".into())
        }
        _ => {}
    }
    let mut out = format!("FETCH {} FROM {name}", direction.join(" "));
    if !markers.is_empty() {
        out.push_str(" INTO ");
        out.push_str(&markers.join("."));
    }
    Some(out)
}

/// Marks a VACUUM / ANALYZE rewritten by [`maintenance`].
pub const MAINTENANCE: &str = "__omendb_maintenance";

/// VACUUM / ANALYZE as one name of source-text parts: the verb, the options (space-separated, lowercase,
/// values kept), then each table item (`name [(col, ...)]`). Only the first statement is rewritten; the
/// rest of the text follows unchanged.
fn maintenance(sql: &str) -> Option<String> {
    per_statement(sql, |statement| {
        let first = statement
            .iter()
            .find(|t| !matches!(t, Token::Whitespace(_)));
        let verb = matches!(first, Some(Token::Word(w)) if w.quote_style.is_none()
            && ["vacuum", "analyze", "analyse"].contains(&w.value.to_ascii_lowercase().as_str()));
        verb.then(|| maintenance_statement(statement))
    })
}

/// `sql` with each statement (up to and with its semicolon) that `rewrite` rewrites replaced; `None` when
/// none was.
fn per_statement(sql: &str, rewrite: impl Fn(&[Token]) -> Option<String>) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let mut out = String::new();
    let mut changed = false;
    for statement in tokens.split_inclusive(|t| *t == Token::SemiColon) {
        match rewrite(statement) {
            Some(s) => {
                out.push_str(&s);
                changed = true;
            }
            None => out.extend(statement.iter().map(ToString::to_string)),
        }
    }
    changed.then_some(out)
}

fn maintenance_statement(statement: &[Token]) -> String {
    let end = statement
        .iter()
        .position(|t| *t == Token::SemiColon)
        .unwrap_or(statement.len());
    let mut it = statement[..end]
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .peekable();
    let verb = it.next().map(|t| t.to_string().to_ascii_lowercase());
    let verb = if verb.as_deref() == Some("vacuum") {
        "vacuum"
    } else {
        "analyze"
    };
    let mut options: Vec<String> = vec![];
    if it.peek() == Some(&&Token::LParen) {
        it.next();
        let mut current = String::new();
        for t in it.by_ref() {
            match t {
                Token::RParen => break,
                Token::Comma => options.push(std::mem::take(&mut current)),
                t => {
                    if !current.is_empty() {
                        current.push(' ');
                    }
                    current.push_str(&t.to_string().to_ascii_lowercase());
                }
            }
        }
        options.push(current);
    } else {
        let legacy = ["full", "freeze", "verbose", "analyze", "analyse"];
        while let Some(Token::Word(w)) = it.peek() {
            let word = w.value.to_ascii_lowercase();
            if w.quote_style.is_some() || !legacy.contains(&word.as_str()) {
                break;
            }
            options.push(word);
            it.next();
        }
    }
    let mut items: Vec<String> = vec![];
    let mut current = String::new();
    let mut depth = 0;
    for t in it {
        match t {
            Token::Comma if depth == 0 => items.push(std::mem::take(&mut current)),
            t => {
                depth += match t {
                    Token::LParen => 1,
                    Token::RParen => -1,
                    _ => 0,
                };
                current.push_str(&t.to_string());
                current.push(' ');
            }
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    let mut parts = vec![MAINTENANCE.to_string(), verb.to_string(), options.join(",")];
    parts.extend(items.iter().map(|i| i.trim().to_string()));
    let name: Vec<String> = parts
        .iter()
        .map(|p| Ident::with_quote('"', p).to_string())
        .collect();
    let rest: String = statement[end..].iter().map(ToString::to_string).collect();
    format!("VACUUM {}{rest}", name.join("."))
}

/// `on` / `off` / `1` / `0` after FREEZE or HEADER written as TRUE / FALSE.
fn copy_booleans(sql: &str) -> Option<String> {
    let mut tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let mut changed = false;
    for i in 0..tokens.len() {
        let option = matches!(&tokens[i], Token::Word(w)
            if w.quote_style.is_none() && matches!(w.keyword, Keyword::FREEZE | Keyword::HEADER));
        if !option {
            continue;
        }
        let Some(j) = (i + 1..tokens.len()).find(|&j| !matches!(tokens[j], Token::Whitespace(_)))
        else {
            continue;
        };
        let value = match &tokens[j] {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
            Token::Number(n, _) => n.clone(),
            _ => continue,
        };
        let spelled = match value.as_str() {
            "on" | "1" => "TRUE",
            "off" | "0" => "FALSE",
            _ => continue,
        };
        tokens[j] = Token::make_keyword(spelled);
        changed = true;
    }
    changed.then(|| tokens.iter().map(ToString::to_string).collect())
}

/// `OPERATOR(pg_catalog.op)` right before ANY / ALL / SOME, as the bare operator. True if any changed.
fn qualified_quantified_operators(tokens: &mut [Token]) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i + 5 < tokens.len() {
        let is = |j: usize, k: Keyword| matches!(&tokens[j], Token::Word(w) if w.keyword == k && w.quote_style.is_none());
        let qualified = is(i, Keyword::OPERATOR)
            && tokens[i + 1] == Token::LParen
            && matches!(&tokens[i + 2], Token::Word(w) if w.value.eq_ignore_ascii_case("pg_catalog"))
            && tokens[i + 3] == Token::Period
            && tokens[i + 5] == Token::RParen;
        if qualified {
            let mut next = i + 6;
            while matches!(tokens.get(next), Some(Token::Whitespace(_))) {
                next += 1;
            }
            if next < tokens.len()
                && (is(next, Keyword::ANY) || is(next, Keyword::ALL) || is(next, Keyword::SOME))
            {
                let op = tokens[i + 4].clone();
                tokens[i] = op;
                for t in &mut tokens[i + 1..i + 6] {
                    *t = Token::make_word("", None);
                }
                changed = true;
                i += 6;
                continue;
            }
        }
        i += 1;
    }
    changed
}

/// The strength a lock clause asks for, with its `OF` name as written (the marker removed).
pub fn lock_strength(update: bool, of: Option<&ObjectName>) -> (LockMode, Option<ObjectName>) {
    let default = if update {
        LockMode::Update
    } else {
        LockMode::Share
    };
    let Some(of) = of else {
        return (default, None);
    };
    let first = match of.0.first() {
        Some(ObjectNamePart::Identifier(Ident { value, .. })) => value.as_str(),
        _ => return (default, Some(of.clone())),
    };
    let mode = match first {
        NO_KEY_UPDATE => LockMode::NoKeyUpdate,
        KEY_SHARE => LockMode::KeyShare,
        _ => return (default, Some(of.clone())),
    };
    let rest: Vec<ObjectNamePart> = of.0[1..].to_vec();
    (mode, (!rest.is_empty()).then_some(ObjectName(rest)))
}

/// The first name of `DROP INDEX CONCURRENTLY`'s rewrite (the parser has no CONCURRENTLY for DROP): the
/// session checks what PostgreSQL checks of it (no transaction block, one index, no CASCADE) and drops the
/// rest.
pub const CONCURRENTLY: &str = "__omendb_concurrently";

/// `DROP INDEX CONCURRENTLY [IF EXISTS] names...` as `DROP INDEX [IF EXISTS] __omendb_concurrently, names...`,
/// in every statement of `sql`.
fn drop_concurrently(sql: &str) -> Option<String> {
    per_statement(sql, drop_concurrently_statement)
}

/// The unquoted words of `tokens`: (position, keyword).
fn keywords(tokens: &[Token]) -> impl Iterator<Item = (usize, Keyword)> + '_ {
    tokens.iter().enumerate().filter_map(|(i, t)| match t {
        Token::Word(w) if w.quote_style.is_none() => Some((i, w.keyword)),
        _ => None,
    })
}

fn drop_concurrently_statement(tokens: &[Token]) -> Option<String> {
    let words: Vec<(usize, Keyword)> = keywords(tokens).take(5).collect();
    // The statement must start with DROP (only whitespace before it).
    let first = tokens
        .iter()
        .position(|t| !matches!(t, Token::Whitespace(_)))?;
    let [
        (d, Keyword::DROP),
        (_, Keyword::INDEX),
        (at, Keyword::CONCURRENTLY),
        ..,
    ] = words.as_slice()
    else {
        return None;
    };
    if *d != first {
        return None;
    }
    // The names start after CONCURRENTLY, or after IF EXISTS when it follows.
    let names_at = match words.get(3..5) {
        Some([(_, Keyword::IF), (exists, Keyword::EXISTS)]) => exists + 1,
        _ => at + 1,
    };
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i == *at {
            continue;
        }
        if i == names_at {
            out.push_str(&format!(" {CONCURRENTLY},"));
        }
        out.push_str(&t.to_string());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_of(sql: &str) -> (LockMode, Option<String>) {
        let sql = rewrite(sql).unwrap_or_else(|| sql.to_string());
        let stmts = crate::session::parse(&sql).unwrap();
        let datafusion::sql::sqlparser::ast::Statement::Query(q) = &stmts[0] else {
            panic!("{sql}")
        };
        let l = &q.locks[0];
        let (m, of) = lock_strength(
            l.lock_type == datafusion::sql::sqlparser::ast::LockType::Update,
            l.of.as_ref(),
        );
        (m, of.map(|o| o.to_string()))
    }

    #[test]
    fn maintenance_forms() {
        assert_eq!(
            rewrite("vacuum analyze a, s.\"B\" ; select 1").as_deref(),
            Some(r#"VACUUM "__omendb_maintenance"."vacuum"."analyze"."a"."s . ""B"""; select 1"#)
        );
        assert_eq!(
            rewrite("VACUUM (VERBOSE, INDEX_CLEANUP off) t (a, b)").as_deref(),
            Some(
                r#"VACUUM "__omendb_maintenance"."vacuum"."verbose,index_cleanup off"."t ( a , b )""#
            )
        );
        assert_eq!(
            rewrite("begin; vacuum").as_deref(),
            Some(r#"begin;VACUUM "__omendb_maintenance"."vacuum"."""#)
        );
        assert_eq!(rewrite("EXPLAIN ANALYZE SELECT 1"), None);
        assert_eq!(
            rewrite("ANALYZE").as_deref(),
            Some(r#"VACUUM "__omendb_maintenance"."analyze"."""#)
        );
    }

    #[test]
    fn copy_boolean_spellings() {
        assert_eq!(
            rewrite("copy t from stdin with (freeze on, header off)").as_deref(),
            Some("copy t from stdin with (freeze TRUE, header FALSE)")
        );
        assert_eq!(rewrite("COPY t FROM STDIN (FREEZE)"), None);
        // A column named "on" in the list is not an option value.
        assert_eq!(rewrite("COPY t (freeze, \"on\") FROM STDIN"), None);
    }

    #[test]
    fn fetch_and_move_forms() {
        for (sql, want) in [
            ("FETCH c", "FETCH NEXT FROM c"),
            ("fetch forward from \"C\";", "FETCH forward 1 FROM \"C\""),
            (
                "FETCH FORWARD 100 FROM \"x\"",
                "FETCH FORWARD 100 FROM \"x\"",
            ),
            (
                "MOVE ABSOLUTE 5 FROM c",
                "FETCH ABSOLUTE 5 FROM c INTO __omendb_move",
            ),
            ("MOVE -2 IN c", "FETCH BACKWARD 2 FROM c INTO __omendb_move"),
            (
                "FETCH ABSOLUTE -1 FROM c",
                "FETCH ABSOLUTE 1 FROM c INTO __omendb_negative",
            ),
            (
                "MOVE RELATIVE -3 c",
                "FETCH RELATIVE 3 FROM c INTO __omendb_move.__omendb_negative",
            ),
            ("FETCH ALL c", "FETCH ALL FROM c"),
        ] {
            assert_eq!(rewrite(sql).as_deref(), Some(want));
            crate::session::parse(want).unwrap();
        }
    }

    #[test]
    fn qualified_operator_before_any() {
        let sql = "SELECT 1 FROM c WHERE c.relkind OPERATOR(pg_catalog.=) ANY (array['r', 'S']) AND x OPERATOR(pg_catalog.~) 'a'";
        let out = rewrite(sql).expect("rewritten");
        assert!(out.contains("c.relkind = ANY (array['r', 'S'])"), "{out}");
        assert!(out.contains("x OPERATOR(pg_catalog.~) 'a'"), "{out}");
        crate::session::parse(&out).unwrap();
    }

    #[test]
    fn lock_strengths_survive_parsing() {
        assert_eq!(
            lock_of("SELECT * FROM t FOR NO KEY UPDATE"),
            (LockMode::NoKeyUpdate, None)
        );
        assert_eq!(
            lock_of("select * from t for key share of t nowait"),
            (LockMode::KeyShare, Some("t".into()))
        );
        assert_eq!(
            lock_of("SELECT * FROM t FOR UPDATE SKIP LOCKED"),
            (LockMode::Update, None)
        );
        assert_eq!(
            lock_of("SELECT * FROM t FOR SHARE"),
            (LockMode::Share, None)
        );
        // A column named key is not a lock clause.
        assert_eq!(rewrite("SELECT key FROM t WHERE key = 1"), None);
    }

    #[test]
    fn deferrable_is_dropped_only_from_transaction_statements() {
        let b = rewrite("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE").unwrap();
        assert!(crate::session::parse(&b).is_ok(), "{b}");
        let b = rewrite("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE NOT DEFERRABLE").unwrap();
        assert!(crate::session::parse(&b).is_ok(), "{b}");
        assert_eq!(rewrite("CREATE TABLE t (a int UNIQUE DEFERRABLE)"), None);
    }
}
