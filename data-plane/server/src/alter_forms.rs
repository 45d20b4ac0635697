//! ALTER forms the SQL parser lacks, rewritten at the token level into ones it takes (rules, not answers):
//!
//! - `ALTER SEQUENCE [IF EXISTS] name option ...` becomes `CREATE SEQUENCE "__omendb_alter_sequence"."flags".name
//!   option ...`: the options are CREATE SEQUENCE's, parsed as such. `RESTART [[WITH] n]`, which CREATE
//!   SEQUENCE lacks, moves into the flags (`if_exists`, `restart`, `restart=n`), and a form this does not take
//!   (SET LOGGED, ...) into `unsupported=...`; `session/alter_sequence.rs` reads them back.
//! - `ALTER SEQUENCE | VIEW | MATERIALIZED VIEW name OWNER TO role` is `ALTER TABLE name OWNER TO role`
//!   (PostgreSQL takes ALTER TABLE for every kind of relation there), and `ALTER TYPE name OWNER TO role` is
//!   `ALTER TABLE "__omendb_type".name OWNER TO role`. pg_dump writes one such statement per object.
//! - `ALTER SEQUENCE | VIEW name RENAME TO new` is `ALTER TABLE "__omendb_relkind_sequence".name RENAME TO
//!   new` (`..._view`): PostgreSQL renames any relation through ALTER TABLE, but ALTER SEQUENCE / VIEW
//!   insist on their kind. `ALTER TABLE | SEQUENCE | VIEW name SET SCHEMA s`, which the parser lacks, is the
//!   same rename to `"__omendb_set_schema".s` (a qualified new name is no PostgreSQL syntax, so the marker
//!   cannot be a user's).

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::token_walk::Tokens;

/// The first part of the name an ALTER SEQUENCE is rewritten to; its second part holds the flags.
pub const ALTER_SEQUENCE: &str = "__omendb_alter_sequence";
/// The first part of the name an `ALTER TYPE ... OWNER TO` is rewritten to.
pub const TYPE_OWNER: &str = "__omendb_type";
/// The first part of the relation's name in a rewritten `ALTER SEQUENCE` / `ALTER VIEW` rename.
pub const RELKIND_SEQUENCE: &str = "__omendb_relkind_sequence";
pub const RELKIND_VIEW: &str = "__omendb_relkind_view";
/// The first part of the new name in a rewritten `SET SCHEMA`.
pub const SET_SCHEMA: &str = "__omendb_set_schema";

/// `sql` with each statement of the forms above rewritten, or `None` when none is.
pub fn rewrite(sql: &str) -> Option<String> {
    let all = Tokens::new(sql)?.all;
    let mut out = String::new();
    let mut changed = false;
    for statement in all.split_inclusive(|t| *t == Token::SemiColon) {
        match rewrite_one(&Tokens::from(statement.to_vec())) {
            Some(s) => {
                out.push_str(&s);
                changed = true;
            }
            None => out.extend(statement.iter().map(ToString::to_string)),
        }
    }
    changed.then_some(out)
}

fn rewrite_one(t: &Tokens) -> Option<String> {
    if t.kw(0) != Some(Keyword::ALTER) {
        return None;
    }
    let (kind, mut s) = match (t.kw(1), t.kw(2)) {
        (Some(Keyword::SEQUENCE), _) => (Keyword::SEQUENCE, 2),
        (Some(Keyword::VIEW), _) => (Keyword::VIEW, 2),
        (Some(Keyword::MATERIALIZED), Some(Keyword::VIEW)) => (Keyword::VIEW, 3),
        (Some(Keyword::TYPE), _) => (Keyword::TYPE, 2),
        (Some(Keyword::TABLE), _) => (Keyword::TABLE, 2),
        _ => return None,
    };
    let if_exists = t.kw(s) == Some(Keyword::IF) && t.kw(s + 1) == Some(Keyword::EXISTS);
    if if_exists {
        s += 2;
    }
    // The name: words joined by periods.
    let name_from = s;
    while matches!(t.get(s), Some(Token::Word(_))) {
        s += 1;
        if matches!(t.get(s), Some(Token::Period)) {
            s += 1;
        } else {
            break;
        }
    }
    if s == name_from {
        return None;
    }
    let name = t.text(t.sig[name_from], t.sig[s - 1] + 1);
    // Where the statement's own tokens end (its semicolon, or the end).
    let end = (s..t.sig.len())
        .find(|&i| matches!(t.all[t.sig[i]], Token::SemiColon | Token::EOF))
        .unwrap_or(t.sig.len());
    let stop = t.sig.get(end).copied().unwrap_or(t.all.len());
    let tail = t.text(stop, t.all.len());
    let exists = if if_exists { "IF EXISTS " } else { "" };
    let renames = t.kw(s) == Some(Keyword::RENAME) && t.kw(s + 1) == Some(Keyword::TO);
    let moves = t.kw(s) == Some(Keyword::SET) && t.kw(s + 1) == Some(Keyword::SCHEMA);
    if kind == Keyword::TABLE && !moves {
        return None;
    }
    if t.kw(s) == Some(Keyword::OWNER) && t.kw(s + 1) == Some(Keyword::TO) {
        let from = t.sig.get(s + 2).copied().unwrap_or(stop).min(stop);
        let role = t.text(from, stop);
        return Some(match kind {
            Keyword::TYPE => {
                format!("ALTER TABLE {exists}\"{TYPE_OWNER}\".{name} OWNER TO {role}{tail}")
            }
            _ => format!("ALTER TABLE {exists}{name} OWNER TO {role}{tail}"),
        });
    }
    // `ALTER VIEW v RENAME [COLUMN] a TO b`: the ALTER TABLE form, marked as the view's.
    if kind == Keyword::VIEW && t.kw(s) == Some(Keyword::RENAME) && !renames {
        let from = t.sig.get(s).copied().unwrap_or(stop).min(stop);
        return Some(format!(
            "ALTER TABLE {exists}\"{RELKIND_VIEW}\".{name} {}{tail}",
            t.text(from, stop)
        ));
    }
    if (renames || moves) && kind != Keyword::TYPE {
        let relation = match kind {
            Keyword::SEQUENCE => format!("\"{RELKIND_SEQUENCE}\".{name}"),
            Keyword::VIEW => format!("\"{RELKIND_VIEW}\".{name}"),
            _ => name,
        };
        let from = t.sig.get(s + 2).copied().unwrap_or(stop).min(stop);
        let target = t.text(from, stop);
        let target = if moves {
            format!("\"{SET_SCHEMA}\".{}", target.trim())
        } else {
            target
        };
        return Some(format!(
            "ALTER TABLE {exists}{relation} RENAME TO {target}{tail}"
        ));
    }
    if kind != Keyword::SEQUENCE {
        return None;
    }
    let mut flags: Vec<String> = vec![];
    if if_exists {
        flags.push("if_exists".into());
    }
    let mut options = String::new();
    let mut copied = t.sig.get(s).copied().unwrap_or(t.all.len());
    if matches!(
        t.kw(s),
        Some(Keyword::RENAME | Keyword::SET | Keyword::OWNER)
    ) {
        let words: Vec<String> = (s..(s + 2).min(end))
            .map(|i| t.all[t.sig[i]].to_string().to_uppercase())
            .collect();
        flags.push(format!("unsupported={}", words.join(" ")));
        copied = stop;
    }
    let mut i = s;
    while i < end {
        if t.kw(i) != Some(Keyword::RESTART) {
            i += 1;
            continue;
        }
        options.push_str(&t.text(copied, t.sig[i]));
        let mut j = i + 1;
        if t.kw(j) == Some(Keyword::WITH) {
            j += 1;
        }
        let minus = matches!(t.get(j), Some(Token::Minus));
        let number = match t.get(j + usize::from(minus)) {
            Some(Token::Number(n, _)) => Some(n.clone()),
            _ => None,
        };
        match number {
            Some(n) => {
                flags.push(format!("restart={}{n}", if minus { "-" } else { "" }));
                j += 1 + usize::from(minus);
            }
            None => flags.push("restart".into()),
        }
        copied = t.sig.get(j).copied().unwrap_or(t.all.len());
        i = j;
    }
    if copied < stop {
        options.push_str(&t.text(copied, stop));
    }
    Some(format!(
        "CREATE SEQUENCE \"{ALTER_SEQUENCE}\".\"{}\".{name} {}{tail}",
        flags.join(","),
        options.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn alter_sequence_and_owner_forms() {
        assert_eq!(
            rewrite("ALTER SEQUENCE public.s OWNED BY public.t.id;").as_deref(),
            Some("CREATE SEQUENCE \"__omendb_alter_sequence\".\"\".public.s OWNED BY public.t.id;")
        );
        assert_eq!(
            rewrite("alter sequence if exists s restart with -5 increment by 2").as_deref(),
            Some(
                "CREATE SEQUENCE \"__omendb_alter_sequence\".\"if_exists,restart=-5\".s increment by 2"
            )
        );
        assert_eq!(
            rewrite("ALTER SEQUENCE s RESTART").as_deref(),
            Some("CREATE SEQUENCE \"__omendb_alter_sequence\".\"restart\".s ")
        );
        assert_eq!(
            rewrite("ALTER SEQUENCE s RENAME TO t").as_deref(),
            Some("ALTER TABLE \"__omendb_relkind_sequence\".s RENAME TO t")
        );
        assert_eq!(
            rewrite("ALTER VIEW IF EXISTS a.v SET SCHEMA \"B\";").as_deref(),
            Some(
                "ALTER TABLE IF EXISTS \"__omendb_relkind_view\".a.v RENAME TO \"__omendb_set_schema\".\"B\";"
            )
        );
        assert_eq!(
            rewrite("ALTER TABLE t SET SCHEMA s").as_deref(),
            Some("ALTER TABLE t RENAME TO \"__omendb_set_schema\".s")
        );
        assert_eq!(rewrite("ALTER TABLE t RENAME TO u"), None);
        assert_eq!(
            rewrite("ALTER VIEW v RENAME COLUMN a TO b").as_deref(),
            Some("ALTER TABLE \"__omendb_relkind_view\".v RENAME COLUMN a TO b")
        );
        assert_eq!(rewrite("ALTER TABLE t RENAME COLUMN a TO b"), None);
        assert_eq!(
            rewrite("ALTER TYPE public.mood OWNER TO postgres;\nSELECT 1").as_deref(),
            Some("ALTER TABLE \"__omendb_type\".public.mood OWNER TO postgres;\nSELECT 1")
        );
        assert_eq!(
            rewrite("ALTER VIEW v OWNER TO CURRENT_USER").as_deref(),
            Some("ALTER TABLE v OWNER TO CURRENT_USER")
        );
        // The parser's own forms stay.
        assert_eq!(rewrite("ALTER TYPE mood ADD VALUE 'x'"), None);
        assert_eq!(rewrite("ALTER TABLE t OWNER TO me"), None);
        assert_eq!(rewrite("SELECT 'alter sequence s'"), None);
    }
}
