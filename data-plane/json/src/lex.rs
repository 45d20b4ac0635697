//! The json lexer, a transcription of PostgreSQL's `json_lex` (src/common/jsonapi.c).
//!
//! Error texts depend on where the lexer stands when it gives up (the DETAIL quotes the current token,
//! the CONTEXT shows the line up to the token's end), so the token boundaries follow PostgreSQL's
//! byte for byte, including its quirks: a bad word is reported whole (`Token "truex" is invalid.`), a
//! number swallows trailing letters (`Token "1e5x" is invalid.`), a control character is left out of
//! the context.

use crate::error::{INVALID_TEXT_REPRESENTATION, ParseError, UNTRANSLATABLE_CHARACTER};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Before the first token: never reported, only distinguishes "not at the end".
    Start,
    ObjectStart,
    ObjectEnd,
    ArrayStart,
    ArrayEnd,
    Comma,
    Colon,
    String,
    Number,
    True,
    False,
    Null,
    End,
}

/// How string escapes are handled: the three ways PostgreSQL runs its lexer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// `json_in`: escapes are checked for shape only, nothing is decoded.
    Check,
    /// Decoded, but with `json_in`'s tolerance: a lone surrogate becomes U+FFFD and `\u0000` a NUL,
    /// where PostgreSQL would keep the escape in the stored text.
    Lenient,
    /// `jsonb_in` and the json operators: lone surrogates and `\u0000` are errors.
    Strict,
}

/// Where the parser was when the current token did not fit (PostgreSQL's `JsonParseContext`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expected {
    Value,
    /// A key after a comma.
    String,
    ArrayNext,
    /// A key or `}` right after `{`.
    ObjectFirst,
    Colon,
    ObjectNext,
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    InvalidToken,
    EscapingInvalid,
    EscapingRequired,
    UnicodeEscapeFormat,
    HighSurrogate,
    LowSurrogate,
    CodePointZero,
    Grammar(Expected),
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    escapes: Escapes,
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
    line: usize,
    line_start: usize,
    /// The decoded string when the last string token had escapes; otherwise the token's inside is used.
    decoded: String,
    had_escape: bool,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

fn hex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str, escapes: Escapes) -> Lexer<'a> {
        Lexer {
            input,
            escapes,
            tok: Tok::Start,
            start: 0,
            end: 0,
            line: 1,
            line_start: 0,
            decoded: String::new(),
            had_escape: false,
        }
    }

    /// The current token's source text.
    pub(crate) fn token(&self) -> &'a str {
        &self.input[self.start..self.end]
    }

    /// The current string token's value (empty under [`Escapes::Check`], which decodes nothing).
    pub(crate) fn take_string(&mut self) -> String {
        if self.escapes == Escapes::Check {
            String::new()
        } else if self.had_escape {
            std::mem::take(&mut self.decoded)
        } else {
            self.input[self.start + 1..self.end - 1].to_owned()
        }
    }

    /// Lexes the next token.
    pub(crate) fn next(&mut self) -> Result<(), ParseError> {
        let bytes = self.input.as_bytes();
        let mut s = self.end;
        while let Some(&b) = bytes.get(s) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            s += 1;
            if b == b'\n' {
                self.line += 1;
                self.line_start = s;
            }
        }
        self.start = s;
        let Some(&first) = bytes.get(s) else {
            self.end = s;
            self.tok = Tok::End;
            return Ok(());
        };
        let punctuation = match first {
            b'{' => Some(Tok::ObjectStart),
            b'}' => Some(Tok::ObjectEnd),
            b'[' => Some(Tok::ArrayStart),
            b']' => Some(Tok::ArrayEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = punctuation {
            self.end = s + 1;
            self.tok = tok;
            return Ok(());
        }
        match first {
            b'"' => self.string(s),
            b'-' => self.number(s + 1),
            b'0'..=b'9' => self.number(s),
            _ => self.word(s),
        }
    }

    /// Checks the current token is `tok` and moves past it (PostgreSQL's `lex_expect`).
    pub(crate) fn expect(&mut self, tok: Tok, expected: Expected) -> Result<(), ParseError> {
        if self.tok == tok {
            self.next()
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// The error for a current token that does not fit the grammar.
    pub(crate) fn unexpected(&self, expected: Expected) -> ParseError {
        self.error(Fault::Grammar(expected))
    }

    fn word(&mut self, s: usize) -> Result<(), ParseError> {
        let bytes = self.input.as_bytes();
        let mut p = s;
        while p < bytes.len() && is_word_byte(bytes[p]) {
            p += 1;
        }
        if p == s {
            // Lone punctuation: only that character is the (invalid) token.
            self.end = s + 1;
            return Err(self.error(Fault::InvalidToken));
        }
        self.end = p;
        self.tok = match &bytes[s..p] {
            b"true" => Tok::True,
            b"false" => Tok::False,
            b"null" => Tok::Null,
            _ => return Err(self.error(Fault::InvalidToken)),
        };
        Ok(())
    }

    /// `s` is just past the optional minus sign.
    fn number(&mut self, mut s: usize) -> Result<(), ParseError> {
        let bytes = self.input.as_bytes();
        let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
        let mut error = false;
        match bytes.get(s) {
            Some(b'0') => s += 1,
            Some(b'1'..=b'9') => {
                while digit(s) {
                    s += 1;
                }
            }
            _ => error = true,
        }
        if bytes.get(s) == Some(&b'.') {
            s += 1;
            if !digit(s) {
                error = true;
            }
            while digit(s) {
                s += 1;
            }
        }
        if matches!(bytes.get(s), Some(b'e' | b'E')) {
            s += 1;
            if matches!(bytes.get(s), Some(b'+' | b'-')) {
                s += 1;
            }
            if !digit(s) {
                error = true;
            }
            while digit(s) {
                s += 1;
            }
        }
        while bytes.get(s).is_some_and(|&b| is_word_byte(b)) {
            error = true;
            s += 1;
        }
        self.end = s;
        if error {
            return Err(self.error(Fault::InvalidToken));
        }
        self.tok = Tok::Number;
        Ok(())
    }

    fn string(&mut self, open: usize) -> Result<(), ParseError> {
        let bytes = self.input.as_bytes();
        let decode = self.escapes != Escapes::Check;
        let strict = self.escapes == Escapes::Strict;
        self.decoded.clear();
        self.had_escape = false;
        // A high surrogate waiting for its low half.
        let mut high: Option<u32> = None;
        // Start of the literal run not yet copied into `decoded`.
        let mut run = open + 1;
        let mut s = open;
        loop {
            s += 1;
            let Some(&b) = bytes.get(s) else {
                return Err(self.fail_at(s, Fault::InvalidToken));
            };
            if b == b'"' {
                break;
            }
            if b < 0x20 {
                return Err(self.fail_at(s, Fault::EscapingRequired));
            }
            if b != b'\\' {
                if decode && high.is_some() {
                    if strict {
                        return Err(self.fail_after(s, Fault::LowSurrogate));
                    }
                    high = None;
                    self.decoded.push('\u{FFFD}');
                }
                continue;
            }
            if decode {
                self.had_escape = true;
                self.decoded.push_str(&self.input[run..s]);
            }
            s += 1;
            let Some(&escaped) = bytes.get(s) else {
                return Err(self.fail_at(s, Fault::InvalidToken));
            };
            if escaped == b'u' {
                let mut ch = 0;
                for _ in 0..4 {
                    s += 1;
                    let Some(&h) = bytes.get(s) else {
                        return Err(self.fail_at(s, Fault::InvalidToken));
                    };
                    match hex(h) {
                        Some(d) => ch = ch * 16 + d,
                        None => return Err(self.fail_after(s, Fault::UnicodeEscapeFormat)),
                    }
                }
                if decode {
                    high = self
                        .push_code_unit(ch, high, strict)
                        .map_err(|fault| self.fail_after(s, fault))?;
                }
            } else if decode {
                if high.take().is_some() {
                    if strict {
                        return Err(self.fail_after(s, Fault::LowSurrogate));
                    }
                    self.decoded.push('\u{FFFD}');
                }
                let c = match escaped {
                    b'"' | b'\\' | b'/' => escaped as char,
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    _ => {
                        self.start = s;
                        return Err(self.fail_after(s, Fault::EscapingInvalid));
                    }
                };
                self.decoded.push(c);
            } else if !b"\"\\/bfnrt".contains(&escaped) {
                self.start = s;
                return Err(self.fail_after(s, Fault::EscapingInvalid));
            }
            run = s + 1;
        }
        if high.is_some() {
            if strict {
                return Err(self.fail_at(s + 1, Fault::LowSurrogate));
            }
            self.decoded.push('\u{FFFD}');
        }
        if self.had_escape {
            self.decoded.push_str(&self.input[run..s]);
        }
        self.end = s + 1;
        self.tok = Tok::String;
        Ok(())
    }

    /// Appends one `\uXXXX` code unit, pairing surrogates; returns the pending high surrogate.
    fn push_code_unit(
        &mut self,
        ch: u32,
        high: Option<u32>,
        strict: bool,
    ) -> Result<Option<u32>, Fault> {
        let lenient_fffd = |decoded: &mut String| decoded.push('\u{FFFD}');
        if (0xD800..0xDC00).contains(&ch) {
            if high.is_some() {
                if strict {
                    return Err(Fault::HighSurrogate);
                }
                lenient_fffd(&mut self.decoded);
            }
            return Ok(Some(ch));
        }
        let ch = if (0xDC00..0xE000).contains(&ch) {
            match high {
                Some(h) => 0x10000 + ((h - 0xD800) << 10) + (ch - 0xDC00),
                None if strict => return Err(Fault::LowSurrogate),
                None => 0xFFFD,
            }
        } else {
            if high.is_some() {
                if strict {
                    return Err(Fault::LowSurrogate);
                }
                lenient_fffd(&mut self.decoded);
            }
            if ch == 0 && strict {
                return Err(Fault::CodePointZero);
            }
            ch
        };
        self.decoded.push(char::from_u32(ch).unwrap_or('\u{FFFD}'));
        Ok(None)
    }

    /// PostgreSQL's FAIL_AT_CHAR_START: the offending character is left out of the context.
    fn fail_at(&mut self, s: usize, fault: Fault) -> ParseError {
        self.end = s;
        self.error(fault)
    }

    /// PostgreSQL's FAIL_AT_CHAR_END: the offending character is the last one shown.
    fn fail_after(&mut self, s: usize, fault: Fault) -> ParseError {
        let bytes = self.input.as_bytes();
        self.end = (s + bytes.get(s).map_or(1, |&b| utf8_len(b))).min(bytes.len());
        self.error(fault)
    }

    fn error(&self, fault: Fault) -> ParseError {
        let token = || self.input.get(self.start..self.end).unwrap_or("");
        let detail = match fault {
            Fault::InvalidToken => format!("Token \"{}\" is invalid.", token()),
            Fault::EscapingInvalid => format!("Escape sequence \"\\{}\" is invalid.", token()),
            Fault::EscapingRequired => format!(
                "Character with value 0x{:02x} must be escaped.",
                self.input.as_bytes().get(self.end).copied().unwrap_or(0)
            ),
            Fault::UnicodeEscapeFormat => {
                "\"\\u\" must be followed by four hexadecimal digits.".to_owned()
            }
            Fault::HighSurrogate => {
                "Unicode high surrogate must not follow a high surrogate.".to_owned()
            }
            Fault::LowSurrogate => "Unicode low surrogate must follow a high surrogate.".to_owned(),
            Fault::CodePointZero => "\\u0000 cannot be converted to text.".to_owned(),
            Fault::Grammar(_) if self.tok == Tok::End => {
                "The input string ended unexpectedly.".to_owned()
            }
            Fault::Grammar(expected) => {
                let wanted = match expected {
                    Expected::Value => "JSON value",
                    Expected::String => "string",
                    Expected::ArrayNext => "\",\" or \"]\"",
                    Expected::ObjectFirst => "string or \"}\"",
                    Expected::Colon => "\":\"",
                    Expected::ObjectNext => "\",\" or \"}\"",
                    Expected::End => "end of input",
                };
                format!("Expected {wanted}, but found \"{}\".", token())
            }
        };
        let (sqlstate, message) = if fault == Fault::CodePointZero {
            (
                UNTRANSLATABLE_CHARACTER,
                "unsupported Unicode escape sequence",
            )
        } else {
            (
                INVALID_TEXT_REPRESENTATION,
                "invalid input syntax for type json",
            )
        };
        ParseError {
            sqlstate,
            message: message.to_owned(),
            detail,
            context: Some(self.context()),
        }
    }

    /// PostgreSQL's `report_json_context`: the current line up to the end of the bad token, cut to
    /// under 50 bytes from the left (whole characters), with "..." marking what was cut.
    fn context(&self) -> String {
        let input = self.input;
        let end = self.end.min(input.len());
        let line_start = self.line_start.min(end);
        let mut start = line_start;
        while end - start >= 50 {
            start += input[start..].chars().next().map_or(1, char::len_utf8);
        }
        if start - line_start <= 3 {
            start = line_start;
        }
        let prefix = if start > line_start { "..." } else { "" };
        let more = self.tok != Tok::End
            && end < input.len()
            && !matches!(input.as_bytes()[end], b'\n' | b'\r');
        let suffix = if more { "..." } else { "" };
        let excerpt = input.get(start..end).unwrap_or("");
        format!("JSON data, line {}: {prefix}{excerpt}{suffix}", self.line)
    }
}
