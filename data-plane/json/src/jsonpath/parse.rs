//! `jsonpath_in`: PostgreSQL 15's jsonpath grammar (`jsonpath_gram.y`) as recursive descent.
//!
//! Predicates and value expressions are parsed by one precedence climber and told apart by kind;
//! where bison would reject a wrong kind, the error names the token after the offending operand, as
//! bison's does.

use super::lex::{Lexer, Tok, Token, error};
use super::regex::Regex;
use super::{ANY_LAST, Chain, Item, JsonPath, Method, Op};
use crate::error::{INVALID_TEXT_REPRESENTATION, ParseError};
use crate::number::Number;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Expr,
    Pred,
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    ahead: Vec<Token>,
}

/// Keywords are case-insensitive except `true`, `false` and `null`.
fn is_kw(tok: &Tok, kw: &str) -> bool {
    match tok {
        Tok::Word(w) if matches!(kw, "true" | "false" | "null") => w == kw,
        Tok::Word(w) => w.eq_ignore_ascii_case(kw),
        _ => false,
    }
}

impl Parser<'_> {
    fn peek_n(&mut self, n: usize) -> Result<&Token, ParseError> {
        while self.ahead.len() <= n {
            let t = self.lexer.next()?;
            self.ahead.push(t);
        }
        Ok(&self.ahead[n])
    }

    fn peek(&mut self) -> Result<&Tok, ParseError> {
        Ok(&self.peek_n(0)?.tok)
    }

    fn bump(&mut self) -> Result<Token, ParseError> {
        self.peek_n(0)?;
        Ok(self.ahead.remove(0))
    }

    fn fail<T>(&mut self) -> Result<T, ParseError> {
        let near = self.peek_n(0)?.near.clone();
        Err(error("syntax error", near.as_deref()))
    }

    fn eat(&mut self, p: &str) -> Result<bool, ParseError> {
        if *self.peek()? == Tok::Punct(leak(p)) {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p)? { Ok(()) } else { self.fail() }
    }

    fn eat_kw(&mut self, kw: &str) -> Result<bool, ParseError> {
        if is_kw(self.peek()?, kw) {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// An operand must be of `kind`; bison notices otherwise at the token after it.
    fn want(&mut self, got: (Chain, Kind), kind: Kind) -> Result<Chain, ParseError> {
        if got.1 == kind {
            Ok(got.0)
        } else {
            self.fail()
        }
    }

    fn or(&mut self) -> Result<(Chain, Kind), ParseError> {
        let mut left = self.and()?;
        while *self.peek()? == Tok::Punct("||") {
            let l = self.want(left, Kind::Pred)?;
            self.bump()?;
            let r = self.and()?;
            let r = self.want(r, Kind::Pred)?;
            left = (vec![Item::Binary(Op::Or, l, r)], Kind::Pred);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<(Chain, Kind), ParseError> {
        let mut left = self.comparison()?;
        while *self.peek()? == Tok::Punct("&&") {
            let l = self.want(left, Kind::Pred)?;
            self.bump()?;
            let r = self.comparison()?;
            let r = self.want(r, Kind::Pred)?;
            left = (vec![Item::Binary(Op::And, l, r)], Kind::Pred);
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<(Chain, Kind), ParseError> {
        let left = self.additive()?;
        let op = match self.peek()? {
            Tok::Punct("==") => Op::Eq,
            Tok::Punct("!=" | "<>") => Op::Ne,
            Tok::Punct("<") => Op::Lt,
            Tok::Punct("<=") => Op::Le,
            Tok::Punct(">") => Op::Gt,
            Tok::Punct(">=") => Op::Ge,
            t if is_kw(t, "like_regex") => return self.like_regex(left),
            t if is_kw(t, "starts") => {
                let l = self.want(left, Kind::Expr)?;
                self.bump()?;
                if !self.eat_kw("with")? {
                    return self.fail();
                }
                let r = match self.peek()?.clone() {
                    Tok::Str(s) => Item::String(s),
                    Tok::Var(v) => Item::Variable(v),
                    _ => return self.fail(),
                };
                self.bump()?;
                return Ok((vec![Item::Binary(Op::StartsWith, l, vec![r])], Kind::Pred));
            }
            _ => return Ok(left),
        };
        let l = self.want(left, Kind::Expr)?;
        self.bump()?;
        let r = self.additive()?;
        let r = self.want(r, Kind::Expr)?;
        Ok((vec![Item::Binary(op, l, r)], Kind::Pred))
    }

    fn like_regex(&mut self, left: (Chain, Kind)) -> Result<(Chain, Kind), ParseError> {
        let l = self.want(left, Kind::Expr)?;
        self.bump()?;
        let Tok::Str(pattern) = self.peek()?.clone() else {
            return self.fail();
        };
        self.bump()?;
        let mut flags = String::new();
        if self.eat_kw("flag")? {
            let Tok::Str(f) = self.peek()?.clone() else {
                return self.fail();
            };
            self.bump()?;
            flags = f;
        }
        let regex = Regex::new(&pattern, &flags)?;
        Ok((vec![Item::LikeRegex(l, regex)], Kind::Pred))
    }

    fn additive(&mut self) -> Result<(Chain, Kind), ParseError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek()? {
                Tok::Punct("+") => Op::Add,
                Tok::Punct("-") => Op::Sub,
                _ => return Ok(left),
            };
            let l = self.want(left, Kind::Expr)?;
            self.bump()?;
            let r = self.multiplicative()?;
            let r = self.want(r, Kind::Expr)?;
            left = (vec![Item::Binary(op, l, r)], Kind::Expr);
        }
    }

    fn multiplicative(&mut self) -> Result<(Chain, Kind), ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek()? {
                Tok::Punct("*") => Op::Mul,
                Tok::Punct("/") => Op::Div,
                Tok::Punct("%") => Op::Mod,
                _ => return Ok(left),
            };
            let l = self.want(left, Kind::Expr)?;
            self.bump()?;
            let r = self.unary()?;
            let r = self.want(r, Kind::Expr)?;
            left = (vec![Item::Binary(op, l, r)], Kind::Expr);
        }
    }

    fn unary(&mut self) -> Result<(Chain, Kind), ParseError> {
        let minus = match self.peek()? {
            Tok::Punct("-") => true,
            Tok::Punct("+") => false,
            Tok::Punct("!") => {
                self.bump()?;
                let inner = self.delimited_predicate()?;
                return Ok((vec![Item::Not(inner)], Kind::Pred));
            }
            _ => return self.accessor_expr(),
        };
        self.bump()?;
        let arg = self.unary()?;
        let arg = self.want(arg, Kind::Expr)?;
        // makeItemUnary folds a sign into a bare numeric literal.
        if let [Item::Number(n)] = arg.as_slice() {
            if !minus {
                return Ok((arg, Kind::Expr));
            }
            let negated = match n.as_str().strip_prefix('-') {
                Some(abs) => abs.to_owned(),
                None => format!("-{n}"),
            };
            let n = Number::parse(&negated).unwrap_or_else(|| n.clone());
            return Ok((vec![Item::Number(n)], Kind::Expr));
        }
        Ok((vec![Item::Unary(minus, arg)], Kind::Expr))
    }

    /// `( predicate )` or `exists ( expr )`, as `!` requires.
    fn delimited_predicate(&mut self) -> Result<Chain, ParseError> {
        if is_kw(self.peek()?, "exists") {
            return self.exists();
        }
        self.expect("(")?;
        let inner = self.or()?;
        let inner = self.want(inner, Kind::Pred)?;
        self.expect(")")?;
        Ok(inner)
    }

    fn exists(&mut self) -> Result<Chain, ParseError> {
        self.bump()?;
        self.expect("(")?;
        let inner = self.or()?;
        let inner = self.want(inner, Kind::Expr)?;
        self.expect(")")?;
        Ok(vec![Item::Exists(inner)])
    }

    fn accessor_expr(&mut self) -> Result<(Chain, Kind), ParseError> {
        let token = self.bump()?;
        let mut chain = match token.tok {
            Tok::Punct("(") => {
                let (inner, kind) = self.or()?;
                self.expect(")")?;
                if kind == Kind::Pred {
                    if self.eat_kw("is")? {
                        if !self.eat_kw("unknown")? {
                            return self.fail();
                        }
                        return Ok((vec![Item::IsUnknown(inner)], Kind::Pred));
                    }
                    if !matches!(self.peek()?, Tok::Punct("." | "[" | "?")) {
                        return Ok((inner, Kind::Pred));
                    }
                }
                inner
            }
            Tok::Punct("$") => vec![Item::Root],
            Tok::Punct("@") => vec![Item::Current],
            Tok::Var(v) => vec![Item::Variable(v)],
            Tok::Str(s) => vec![Item::String(s)],
            Tok::Num(text, _) => vec![Item::Number(number(&text)?)],
            ref t if is_kw(t, "true") => vec![Item::Bool(true)],
            ref t if is_kw(t, "false") => vec![Item::Bool(false)],
            ref t if is_kw(t, "null") => vec![Item::Null],
            ref t if is_kw(t, "last") => vec![Item::Last],
            ref t if is_kw(t, "exists") => {
                self.ahead.insert(0, token);
                return Ok((self.exists()?, Kind::Pred));
            }
            _ => return Err(error("syntax error", token.near.as_deref())),
        };
        while let Some(item) = self.accessor()? {
            chain.push(item);
        }
        Ok((chain, Kind::Expr))
    }

    fn accessor(&mut self) -> Result<Option<Item>, ParseError> {
        match self.peek()? {
            Tok::Punct(".") => {
                self.bump()?;
                self.dot_accessor().map(Some)
            }
            Tok::Punct("[") => {
                self.bump()?;
                self.subscripts().map(Some)
            }
            Tok::Punct("?") => {
                self.bump()?;
                self.expect("(")?;
                let p = self.or()?;
                let p = self.want(p, Kind::Pred)?;
                self.expect(")")?;
                Ok(Some(Item::Filter(p)))
            }
            _ => Ok(None),
        }
    }

    fn dot_accessor(&mut self) -> Result<Item, ParseError> {
        let tok = self.peek()?.clone();
        match tok {
            Tok::Punct("*") => {
                self.bump()?;
                Ok(Item::AnyKey)
            }
            Tok::Punct("**") => {
                self.bump()?;
                if !self.eat("{")? {
                    return Ok(Item::Any(0, ANY_LAST));
                }
                let first = self.any_level()?;
                let last = if self.eat_kw("to")? {
                    self.any_level()?
                } else {
                    first
                };
                self.expect("}")?;
                Ok(Item::Any(first, last))
            }
            Tok::Str(key) => {
                self.bump()?;
                Ok(Item::Key(key))
            }
            Tok::Word(w) => {
                let paren = self.peek_n(1)?.tok == Tok::Punct("(");
                let method = [
                    Method::Type,
                    Method::Size,
                    Method::Double,
                    Method::Abs,
                    Method::Floor,
                    Method::Ceiling,
                    Method::KeyValue,
                ]
                .into_iter()
                .find(|m| w.eq_ignore_ascii_case(m.name()));
                self.bump()?;
                if paren && w.eq_ignore_ascii_case("datetime") {
                    self.bump()?;
                    let template = match self.peek()?.clone() {
                        Tok::Str(s) => {
                            self.bump()?;
                            Some(s)
                        }
                        _ => None,
                    };
                    self.expect(")")?;
                    return Ok(Item::Datetime(template));
                }
                match method {
                    Some(m) if paren => {
                        self.bump()?;
                        self.expect(")")?;
                        Ok(Item::Method(m))
                    }
                    _ => Ok(Item::Key(w)),
                }
            }
            _ => self.fail(),
        }
    }

    fn any_level(&mut self) -> Result<u32, ParseError> {
        match self.peek()?.clone() {
            Tok::Num(text, true) => {
                self.bump()?;
                // PostgreSQL reads the level with pg_strtoint32, which rejects what overflows it.
                text.parse::<i32>()
                    .ok()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| {
                        let mut e = error("", None);
                        e.sqlstate = "22003";
                        e.message = format!("value \"{text}\" is out of range for type integer");
                        e
                    })
            }
            ref t if is_kw(t, "last") => {
                self.bump()?;
                Ok(ANY_LAST)
            }
            _ => self.fail(),
        }
    }

    fn subscripts(&mut self) -> Result<Item, ParseError> {
        if self.eat("*")? {
            self.expect("]")?;
            return Ok(Item::AnyArray);
        }
        let mut list = Vec::new();
        loop {
            let from = self.or()?;
            let from = self.want(from, Kind::Expr)?;
            let to = if self.eat_kw("to")? {
                let to = self.or()?;
                Some(self.want(to, Kind::Expr)?)
            } else {
                None
            };
            list.push((from, to));
            if self.eat("]")? {
                return Ok(Item::Index(list));
            }
            self.expect(",")?;
        }
    }
}

fn number(text: &str) -> Result<Number, ParseError> {
    Number::try_parse(text).map_err(ParseError::from)
}

/// Punctuation tokens are `&'static str`; map a requested one onto the lexer's.
fn leak(p: &str) -> &'static str {
    [
        "==", "!=", "<>", "<=", ">=", "&&", "||", "**", "?", "%", "$", ".", "[", "]", "{", "}",
        "(", ")", "|", "&", "!", "=", "<", ">", "@", "#", ",", "*", ":", "-", "+", "/", "\\",
    ]
    .into_iter()
    .find(|q| *q == p)
    .unwrap_or("\\")
}

/// The checks `flattenJsonPathParseItem` makes once the tree is built.
fn check(chain: &Chain, in_filter: bool, in_subscript: bool) -> Result<(), ParseError> {
    let fail = |message: &str| {
        let mut e = error("", None);
        e.message = message.to_owned();
        Err(e)
    };
    for item in chain {
        match item {
            Item::Current if !in_filter => return fail("@ is not allowed in root expressions"),
            Item::Last if !in_subscript => {
                return fail("LAST is allowed only in array subscripts");
            }
            Item::Filter(c) => check(c, true, in_subscript)?,
            Item::Index(list) => {
                for (from, to) in list {
                    check(from, in_filter, true)?;
                    if let Some(to) = to {
                        check(to, in_filter, true)?;
                    }
                }
            }
            Item::Binary(_, l, r) => {
                check(l, in_filter, in_subscript)?;
                check(r, in_filter, in_subscript)?;
            }
            Item::Unary(_, c)
            | Item::Not(c)
            | Item::IsUnknown(c)
            | Item::Exists(c)
            | Item::LikeRegex(c, _) => check(c, in_filter, in_subscript)?,
            _ => {}
        }
    }
    Ok(())
}

impl JsonPath {
    /// `jsonpath_in`: syntax errors are 42601 with PostgreSQL's message, empty input 22P02.
    pub fn parse(text: &str) -> Result<JsonPath, ParseError> {
        let mut p = Parser {
            lexer: Lexer { text, pos: 0 },
            ahead: Vec::new(),
        };
        if *p.peek()? == Tok::End {
            return Err(ParseError {
                sqlstate: INVALID_TEXT_REPRESENTATION,
                message: format!("invalid input syntax for type jsonpath: \"{text}\""),
                detail: String::new(),
                context: None,
            });
        }
        let mut lax = true;
        if p.eat_kw("strict")? {
            lax = false;
        } else {
            p.eat_kw("lax")?;
        }
        let (expr, _) = p.or()?;
        if *p.peek()? != Tok::End {
            return p.fail();
        }
        check(&expr, false, false)?;
        Ok(JsonPath { lax, expr })
    }
}
