//! A statement's tokens as the token-level rewrites walk them: by significant token (whitespace
//! skipped), asking for unquoted keywords, copying source text back out.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

pub struct Tokens {
    pub all: Vec<Token>,
    /// Indexes into `all` of the tokens that are not whitespace.
    pub sig: Vec<usize>,
}

impl Tokens {
    /// `sql`'s tokens, or `None` if it does not tokenize (the parser reports that).
    pub fn new(sql: &str) -> Option<Tokens> {
        let all = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
        Some(Tokens::from(all))
    }

    pub fn from(all: Vec<Token>) -> Tokens {
        let sig = (0..all.len())
            .filter(|&i| !matches!(all[i], Token::Whitespace(_)))
            .collect();
        Tokens { all, sig }
    }

    /// Significant token `s`.
    pub fn get(&self, s: usize) -> Option<&Token> {
        self.sig.get(s).map(|&i| &self.all[i])
    }

    /// The keyword significant token `s` is, unless quoted (`"for"` is a name).
    pub fn kw(&self, s: usize) -> Option<Keyword> {
        match self.get(s) {
            Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.keyword),
            _ => None,
        }
    }

    /// The source text of tokens `from..to` (indexes into `all`).
    pub fn text(&self, from: usize, to: usize) -> String {
        self.all[from..to].iter().map(ToString::to_string).collect()
    }
}
