//! The jsonpath lexer (`jsonpath_scan.l`), and the error texts built from its tokens.
//!
//! Syntax errors name the token bison failed on as flex left `yytext`, quirks included: an unquoted
//! word is only known to have ended when the lexer sees what follows it, so a word followed by
//! blanks reports the blanks (`at or near " "`) and one followed by anything else, or by the end,
//! reports `at end of jsonpath input`; a quoted string reports its closing `"`.

use crate::error::ParseError;

const SYNTAX_ERROR: &str = "42601";

fn is_special(c: char) -> bool {
    "?%$.[]{}()|&!=<>@#,*:-+/\\\"".contains(c) || is_blank(c)
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Word(String),
    Str(String),
    Var(String),
    Num(String, bool),
    Punct(&'static str),
    End,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    /// What an error at this token quotes; `None` is "at end of jsonpath input".
    pub(crate) near: Option<String>,
}

pub(crate) fn error(message: &str, near: Option<&str>) -> ParseError {
    let message = match near {
        None => format!("{message} at end of jsonpath input"),
        Some(near) => format!("{message} at or near \"{near}\" of jsonpath input"),
    };
    ParseError {
        sqlstate: SYNTAX_ERROR,
        message,
        detail: String::new(),
        context: None,
    }
}

pub(crate) struct Lexer<'a> {
    pub(crate) text: &'a str,
    pub(crate) pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_blanks_and_comments(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches(is_blank);
            self.pos += rest.len() - trimmed.len();
            if let Some(body) = trimmed.strip_prefix("/*") {
                let Some(end) = body.find("*/") else {
                    return Err(error("unexpected end of comment", None));
                };
                self.pos += 2 + end + 2;
            } else {
                return Ok(());
            }
        }
    }

    pub(crate) fn next(&mut self) -> Result<Token, ParseError> {
        self.skip_blanks_and_comments()?;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(Token {
                tok: Tok::End,
                near: None,
            });
        };
        if c == '"' {
            let s = self.string()?;
            return Ok(Token {
                tok: Tok::Str(s),
                near: Some("\"".into()),
            });
        }
        if c == '$' {
            let after = &rest[1..];
            if after.starts_with('"') {
                self.pos += 1;
                let s = self.string()?;
                return Ok(Token {
                    tok: Tok::Var(s),
                    near: Some("\"".into()),
                });
            }
            let len = after.find(is_special).unwrap_or(after.len());
            if len > 0 {
                self.pos += 1 + len;
                return Ok(Token {
                    tok: Tok::Var(after[..len].to_owned()),
                    near: Some(rest[..=len].to_owned()),
                });
            }
        }
        if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            return self.number();
        }
        for p in ["==", "!=", "<>", "<=", ">=", "&&", "||", "**"] {
            if rest.starts_with(p) {
                self.pos += 2;
                return Ok(punct(p));
            }
        }
        if is_special(c) {
            self.pos += c.len_utf8();
            let p = [
                "?", "%", "$", ".", "[", "]", "{", "}", "(", ")", "|", "&", "!", "=", "<", ">",
                "@", "#", ",", "*", ":", "-", "+", "/", "\\",
            ]
            .into_iter()
            .find(|p| p.starts_with(c))
            .unwrap_or("\\");
            return Ok(punct(p));
        }
        Ok(self.word())
    }

    fn word(&mut self) -> Token {
        let rest = self.rest();
        let len = rest.find(is_special).unwrap_or(rest.len());
        let word = rest[..len].to_owned();
        self.pos += len;
        let after = self.rest();
        let blanks = after.len() - after.trim_start_matches(is_blank).len();
        Token {
            tok: Tok::Word(word),
            near: (blanks > 0).then(|| after[..blanks].to_owned()),
        }
    }

    /// flex takes the longest match, the earlier rule on a tie: number, then "trailing junk" (a
    /// number and one more word character), then a plain word (`12ab` is a word, `1a` junk).
    fn number(&mut self) -> Result<Token, ParseError> {
        let b = self.rest().as_bytes();
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut n = if b[0] == b'0' {
            1
        } else if b[0] == b'.' {
            0
        } else {
            digits(0)
        };
        let mut int = true;
        if b.get(n) == Some(&b'.') {
            int = false;
            n = digits(n + 1);
        }
        if matches!(b.get(n), Some(b'e' | b'E')) {
            let mut e = n + 1;
            if matches!(b.get(e), Some(b'+' | b'-')) {
                e += 1;
            }
            let end = digits(e);
            if end > e {
                int = false;
                n = end;
            }
        }
        let rest = self.rest();
        let word_len = rest.find(is_special).unwrap_or(rest.len());
        let junk_len = rest[n..]
            .chars()
            .next()
            .filter(|&c| !is_special(c))
            .map(|c| n + c.len_utf8());
        if word_len > junk_len.unwrap_or(n) {
            return Ok(self.word());
        }
        if let Some(junk) = junk_len {
            return Err(error(
                "trailing junk after numeric literal",
                Some(&rest[..junk]),
            ));
        }
        let text = rest[..n].to_owned();
        self.pos += n;
        Ok(Token {
            tok: Tok::Num(text.clone(), int),
            near: Some(text),
        })
    }

    /// A quoted string from its opening quote: JSON's escapes plus `\v`, `\xXX`, `\u{X...}`, and
    /// any other escaped character standing for itself.
    fn string(&mut self) -> Result<String, ParseError> {
        let mut out = String::new();
        let mut chars = self.text[self.pos + 1..].char_indices();
        let start = self.pos + 1;
        let bad_escape = || error("invalid Unicode escape sequence", None);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match e {
                        'b' => out.push('\x08'),
                        'f' => out.push('\x0C'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'v' => out.push('\x0B'),
                        'x' | 'u' => {
                            let rest = chars.as_str();
                            let (hex, used) = if e == 'x' {
                                let l = rest
                                    .bytes()
                                    .take(2)
                                    .take_while(u8::is_ascii_hexdigit)
                                    .count();
                                (&rest[..l], l)
                            } else if let Some(inner) = rest.strip_prefix('{') {
                                let l = inner.find('}').ok_or_else(bad_escape)?;
                                (&inner[..l], l + 2)
                            } else {
                                (rest.get(..4).ok_or_else(bad_escape)?, 4)
                            };
                            let code = u32::from_str_radix(hex, 16).map_err(|_| bad_escape())?;
                            let ch = char::from_u32(code)
                                .filter(|&c| c != '\0')
                                .ok_or_else(bad_escape)?;
                            out.push(ch);
                            for _ in 0..rest[..used].chars().count() {
                                chars.next();
                            }
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        Err(error("unexpected end of quoted string", None))
    }
}

fn punct(p: &'static str) -> Token {
    Token {
        tok: Tok::Punct(p),
        near: Some(p.to_owned()),
    }
}
