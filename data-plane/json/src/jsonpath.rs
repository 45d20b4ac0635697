//! SQL/JSON path (`jsonpath`), as PostgreSQL 15 reads, prints and evaluates it.
//!
//! A path is a chain of items, as in PostgreSQL's binary form: the first item is a primary (`$`,
//! `@`, a literal, a variable, an operator) and each later one an accessor applied to what the
//! previous ones yield. Evaluation follows `jsonpath_exec.c` step by step, including its
//! short-circuits, because they decide which errors are raised and what `silent` keeps.

mod decimal;
mod display;
mod eval;
mod lex;
mod methods;
mod parse;
mod pred;
mod regex;

pub use eval::{path_exists, path_match, path_query};

use crate::number::Number;

/// A parsed jsonpath: `jsonpath_in` is [`JsonPath::parse`], `jsonpath_out` its `Display`.
#[derive(Clone, Debug)]
pub struct JsonPath {
    pub(crate) lax: bool,
    pub(crate) expr: Chain,
}

pub(crate) type Chain = Vec<Item>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    StartsWith,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Type,
    Size,
    Double,
    Abs,
    Floor,
    Ceiling,
    KeyValue,
}

/// `u32::MAX` in `.**{}` bounds is `last`, as PostgreSQL stores it.
pub(crate) const ANY_LAST: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub(crate) enum Item {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Variable(String),
    Root,
    Current,
    Last,
    Key(String),
    AnyKey,
    AnyArray,
    Index(Vec<(Chain, Option<Chain>)>),
    Any(u32, u32),
    Filter(Chain),
    Method(Method),
    Datetime(Option<String>),
    Binary(Op, Chain, Chain),
    /// Unary `+` (false) or `-` (true) on something other than a numeric literal (those are folded).
    Unary(bool, Chain),
    Not(Chain),
    IsUnknown(Chain),
    Exists(Chain),
    LikeRegex(Chain, regex::Regex),
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::And => "&&",
            Op::Or => "||",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::StartsWith => "starts with",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Mod => "%",
        }
    }
}

impl Method {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Type => "type",
            Method::Size => "size",
            Method::Double => "double",
            Method::Abs => "abs",
            Method::Floor => "floor",
            Method::Ceiling => "ceiling",
            Method::KeyValue => "keyvalue",
        }
    }
}
