//! CREATE SEQUENCE's options in any order, as PostgreSQL takes them: the SQL parser reads them only in one
//! (INCREMENT, MINVALUE, MAXVALUE, START, CACHE, CYCLE, OWNED BY), and pg_dump writes `START WITH` before
//! `INCREMENT BY`, so a restore stopped at every sequence. The options are put in the parser's order.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::token_walk::Tokens;

/// `sql` with its sequence options reordered, or `None` when it is not a CREATE SEQUENCE whose options
/// are out of the parser's order (or has options this does not know: the parser reports those).
pub fn rewrite(sql: &str) -> Option<String> {
    let t = Tokens::new(sql)?;
    let (tokens, sig) = (&t.all, &t.sig);
    let kw = |s: usize| t.kw(s);
    let mut s = 0;
    if kw(s) != Some(Keyword::CREATE) {
        return None;
    }
    s += 1;
    if matches!(
        kw(s),
        Some(Keyword::TEMP | Keyword::TEMPORARY | Keyword::UNLOGGED)
    ) {
        s += 1;
    }
    if kw(s) != Some(Keyword::SEQUENCE) {
        return None;
    }
    let first_option = |k: Option<Keyword>| {
        matches!(
            k,
            Some(
                Keyword::INCREMENT
                    | Keyword::MINVALUE
                    | Keyword::MAXVALUE
                    | Keyword::NO
                    | Keyword::START
                    | Keyword::CACHE
                    | Keyword::CYCLE
                    | Keyword::OWNED
            )
        )
    };
    // The name and `AS type` come first; the options start at the first option keyword.
    while s < sig.len() && !first_option(kw(s)) {
        if matches!(tokens[sig[s]], Token::SemiColon) {
            return None;
        }
        s += 1;
    }
    let start = s;
    // (rank in the parser's order, first and last significant token)
    let mut options: Vec<(u8, usize, usize)> = vec![];
    let number = |s: usize| -> Option<usize> {
        match t.get(s) {
            Some(Token::Minus | Token::Plus) => {
                matches!(t.get(s + 1), Some(Token::Number(..))).then_some(s + 1)
            }
            Some(Token::Number(..)) => Some(s),
            _ => None,
        }
    };
    while s < sig.len() && !matches!(tokens[sig[s]], Token::SemiColon | Token::EOF) {
        let (rank, last) = match kw(s) {
            Some(Keyword::INCREMENT) => {
                let n = if kw(s + 1) == Some(Keyword::BY) {
                    s + 2
                } else {
                    s + 1
                };
                (0, number(n)?)
            }
            Some(Keyword::MINVALUE) => (1, number(s + 1)?),
            Some(Keyword::MAXVALUE) => (2, number(s + 1)?),
            Some(Keyword::NO) => match kw(s + 1) {
                Some(Keyword::MINVALUE) => (1, s + 1),
                Some(Keyword::MAXVALUE) => (2, s + 1),
                Some(Keyword::CYCLE) => (5, s + 1),
                _ => return None,
            },
            Some(Keyword::START) => {
                let n = if kw(s + 1) == Some(Keyword::WITH) {
                    s + 2
                } else {
                    s + 1
                };
                (3, number(n)?)
            }
            Some(Keyword::CACHE) => (4, number(s + 1)?),
            Some(Keyword::CYCLE) => (5, s),
            Some(Keyword::OWNED) if kw(s + 1) == Some(Keyword::BY) => {
                // A (qualified) column name, or NONE: up to the next option or the end.
                let mut e = s + 2;
                while e + 1 < sig.len()
                    && !first_option(kw(e + 1))
                    && !matches!(tokens[sig[e + 1]], Token::SemiColon | Token::EOF)
                {
                    e += 1;
                }
                (6, e)
            }
            _ => return None,
        };
        options.push((rank, s, last));
        s = last + 1;
    }
    if options.windows(2).all(|w| w[0].0 <= w[1].0) {
        return None;
    }
    let text = |from: usize, to: usize| -> String {
        tokens[sig[from]..=sig[to]]
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    options.sort_by_key(|o| o.0);
    let mut out: String = tokens[..sig[start]]
        .iter()
        .map(ToString::to_string)
        .collect();
    out.push_str(
        &options
            .iter()
            .map(|&(_, from, to)| text(from, to))
            .collect::<Vec<_>>()
            .join(" "),
    );
    if let Some(&rest) = sig.get(s) {
        out.extend(tokens[rest..].iter().map(ToString::to_string));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn options_are_put_in_the_parsers_order() {
        assert_eq!(
            rewrite(
                "CREATE SEQUENCE s.customer_id_seq\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;"
            )
            .as_deref(),
            Some(
                "CREATE SEQUENCE s.customer_id_seq\n    AS integer\n    INCREMENT BY 1 NO MINVALUE NO MAXVALUE START WITH 1 CACHE 1;"
            )
        );
        assert_eq!(
            rewrite("create sequence q owned by t.id start 5 increment -1 minvalue -10 no cycle")
                .as_deref(),
            Some("create sequence q increment -1 minvalue -10 start 5 no cycle owned by t.id")
        );
        // Already in order, not a sequence, or an option the parser should report: left alone.
        assert_eq!(rewrite("CREATE SEQUENCE q INCREMENT BY 2 START 3"), None);
        assert_eq!(rewrite("CREATE TABLE t (id int)"), None);
        assert_eq!(rewrite("CREATE SEQUENCE q START 1 BOGUS 2"), None);
    }
}
