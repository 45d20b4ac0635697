//! Two forms of PostgreSQL's locking clauses the SQL parser does not take, rewritten into ones it does:
//! a list after OF (`FOR UPDATE OF a, b NOWAIT` as `FOR UPDATE OF a NOWAIT FOR UPDATE OF b NOWAIT`), and
//! the clauses before LIMIT / OFFSET / FETCH (`... FOR UPDATE SKIP LOCKED LIMIT 1`, which PostgreSQL's
//! grammar allows in either order, moved after them).

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::token_walk::Tokens;

/// `sql` rewritten, or `None` when it has neither form.
pub fn rewrite(sql: &str) -> Option<String> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("FOR") || !(upper.contains("UPDATE") || upper.contains("SHARE")) {
        return None;
    }
    let t = Tokens::new(sql)?;
    let (tokens, sig) = (&t.all, &t.sig);
    let kw = |s: usize| t.kw(s);
    let text = |from: usize, to: usize| t.text(from, to);
    let mut out = String::new();
    // Where the text not yet copied to `out` starts (a token index).
    let mut copied = 0;
    let mut changed = false;
    let mut s = 0;
    while s < sig.len() {
        let Some((clauses, end, listed)) = clauses_at(s, &t) else {
            s += 1;
            continue;
        };
        // LIMIT / OFFSET / FETCH after the clauses: up to the end of this query.
        let limit_end = matches!(
            kw(end),
            Some(Keyword::LIMIT | Keyword::OFFSET | Keyword::FETCH)
        )
        .then(|| {
            let mut d = 0usize;
            let mut e = end;
            while e < sig.len() {
                match tokens[sig[e]] {
                    Token::LParen => d += 1,
                    Token::RParen if d == 0 => break,
                    Token::RParen => d -= 1,
                    Token::SemiColon if d == 0 => break,
                    _ if d == 0 && kw(e) == Some(Keyword::FOR) => break,
                    _ => {}
                }
                e += 1;
            }
            e
        });
        if !listed && limit_end.is_none() {
            s = end;
            continue;
        }
        out.push_str(&text(copied, sig[s]));
        if let Some(e) = limit_end {
            let to = sig.get(e).copied().unwrap_or(tokens.len());
            out.push_str(text(sig[end], to).trim_end());
            out.push(' ');
            copied = to;
            s = e;
        } else {
            copied = sig.get(end).copied().unwrap_or(tokens.len());
            s = end;
        }
        out.push_str(&clauses.join(" "));
        out.push(' ');
        changed = true;
    }
    if !changed {
        return None;
    }
    out.push_str(&text(copied, tokens.len()));
    Some(out)
}

/// The locking clauses starting at significant token `s`, if a FOR there starts one: each clause's text
/// with one relation after OF, the significant token after the last clause, and whether an OF list was
/// split.
fn clauses_at(mut s: usize, t: &Tokens) -> Option<(Vec<String>, usize, bool)> {
    let kw = |s: usize| t.kw(s);
    let mut clauses = vec![];
    let mut listed = false;
    while kw(s) == Some(Keyword::FOR) {
        let (strength, n) = match (kw(s + 1), kw(s + 2), kw(s + 3)) {
            (Some(Keyword::UPDATE), ..) => ("UPDATE", 1),
            (Some(Keyword::SHARE), ..) => ("SHARE", 1),
            (Some(Keyword::NO), Some(Keyword::KEY), Some(Keyword::UPDATE)) => ("NO KEY UPDATE", 3),
            (Some(Keyword::KEY), Some(Keyword::SHARE), _) => ("KEY SHARE", 2),
            _ => break,
        };
        s += 1 + n;
        let mut names = vec![];
        if kw(s) == Some(Keyword::OF) {
            s += 1;
            loop {
                // A name: words joined by periods.
                let mut name = String::new();
                while let Some(word @ Token::Word(_)) = t.get(s) {
                    name.push_str(&word.to_string());
                    s += 1;
                    if matches!(t.get(s), Some(Token::Period)) {
                        name.push('.');
                        s += 1;
                    } else {
                        break;
                    }
                }
                if name.is_empty() {
                    return None;
                }
                names.push(name);
                if matches!(t.get(s), Some(Token::Comma)) {
                    s += 1;
                    listed = true;
                } else {
                    break;
                }
            }
        }
        let wait = match (kw(s), kw(s + 1)) {
            (Some(Keyword::NOWAIT), _) => {
                s += 1;
                " NOWAIT"
            }
            (Some(Keyword::SKIP), Some(Keyword::LOCKED)) => {
                s += 2;
                " SKIP LOCKED"
            }
            _ => "",
        };
        if names.is_empty() {
            clauses.push(format!("FOR {strength}{wait}"));
        }
        for n in names {
            clauses.push(format!("FOR {strength} OF {n}{wait}"));
        }
    }
    (!clauses.is_empty()).then_some((clauses, s, listed))
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn of_lists_split_and_limits_move_before_the_clauses() {
        assert_eq!(
            rewrite("SELECT * FROM a, b FOR UPDATE OF a, s.b NOWAIT").as_deref(),
            Some("SELECT * FROM a, b FOR UPDATE OF a NOWAIT FOR UPDATE OF s.b NOWAIT ")
        );
        assert_eq!(
            rewrite("SELECT * FROM q ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1").as_deref(),
            Some("SELECT * FROM q ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED ")
        );
        assert_eq!(
            rewrite("UPDATE q SET n = 1 WHERE id = (SELECT id FROM q FOR NO KEY UPDATE OFFSET $1 LIMIT 1); SELECT 1")
                .as_deref(),
            Some("UPDATE q SET n = 1 WHERE id = (SELECT id FROM q OFFSET $1 LIMIT 1 FOR NO KEY UPDATE ); SELECT 1")
        );
        assert_eq!(
            rewrite("SELECT * FROM q FOR UPDATE OF q LIMIT 2 "),
            Some("SELECT * FROM q LIMIT 2 FOR UPDATE OF q ".into())
        );
        // Nothing to do: the parser's own forms, and words that only look alike.
        assert_eq!(
            rewrite("SELECT * FROM q LIMIT 1 FOR UPDATE OF q NOWAIT"),
            None
        );
        assert_eq!(rewrite("SELECT 'for update of a, b' AS \"for\""), None);
        assert_eq!(rewrite("UPDATE t SET share = 1"), None);
    }
}
