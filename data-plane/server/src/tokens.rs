//! PostgreSQL forms the SQL parser lacks, rewritten at the token level before parsing (rules, not answers):
//!
//! - `FOR NO KEY UPDATE` and `FOR KEY SHARE` become `FOR UPDATE` / `FOR SHARE` with a marker as the first
//!   part of the `OF` name (`OF __omendb_no_key_update[.t]`), which the locking SELECT reads back
//!   ([`lock_strength`]) and removes; no other code sees a lock clause.
//! - `DEFERRABLE` / `NOT DEFERRABLE` in BEGIN, START TRANSACTION and SET TRANSACTION are dropped: they only
//!   let a SERIALIZABLE READ ONLY transaction wait for a snapshot that can never be cancelled, and OmenDB's
//!   read-only serializable transactions are never cancelled anyway (they serialize at their snapshot).
//! - `x OPERATOR(pg_catalog.=) ANY (array)` (psql and pg_dump qualify every operator) becomes `x = ANY (...)`:
//!   the parser takes a qualified operator only between two operands (`syntax.rs` unqualifies those).

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
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("KEY") && !upper.contains("DEFERRABLE") && !upper.contains("OPERATOR") {
        return None;
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let words: Vec<(usize, Keyword)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Token::Word(w) if w.quote_style.is_none() => Some((i, w.keyword)),
            _ => None,
        })
        .collect();
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
