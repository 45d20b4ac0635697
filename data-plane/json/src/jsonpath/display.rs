//! `jsonpath_out`: `printJsonPathItem`'s text, its parenthesising included.

use std::fmt::{self, Write};

use super::{ANY_LAST, Chain, Item, JsonPath, Op};
use crate::output::write_quoted;

/// `operationPriority`: a child is parenthesised when its priority is not above its parent's.
fn priority(item: &Item) -> u8 {
    match item {
        Item::Binary(Op::Or, ..) => 0,
        Item::Binary(Op::And, ..) => 1,
        Item::Binary(Op::Add | Op::Sub, ..) => 3,
        Item::Binary(Op::Mul | Op::Div | Op::Mod, ..) => 4,
        Item::Binary(..) | Item::LikeRegex(..) => 2,
        Item::Unary(..) => 5,
        _ => 6,
    }
}

fn operand(out: &mut impl Write, chain: &Chain, parent: &Item) -> fmt::Result {
    let brackets = chain
        .first()
        .is_some_and(|c| priority(c) <= priority(parent));
    write_chain(out, chain, false, brackets)
}

fn write_chain(out: &mut impl Write, chain: &Chain, in_key: bool, brackets: bool) -> fmt::Result {
    for (i, item) in chain.iter().enumerate() {
        let has_next = i + 1 < chain.len();
        if i == 0 {
            write_item(out, item, in_key, brackets, has_next)?;
        } else {
            write_item(out, item, true, true, has_next)?;
        }
    }
    Ok(())
}

fn write_item(
    out: &mut impl Write,
    item: &Item,
    in_key: bool,
    brackets: bool,
    has_next: bool,
) -> fmt::Result {
    let open = |out: &mut dyn Write| {
        if brackets {
            out.write_char('(')
        } else {
            Ok(())
        }
    };
    let close = |out: &mut dyn Write| {
        if brackets {
            out.write_char(')')
        } else {
            Ok(())
        }
    };
    match item {
        Item::Binary(op, l, r) => {
            open(out)?;
            operand(out, l, item)?;
            write!(out, " {} ", op.name())?;
            operand(out, r, item)?;
            close(out)
        }
        Item::LikeRegex(expr, regex) => {
            open(out)?;
            operand(out, expr, item)?;
            out.write_str(" like_regex ")?;
            write_quoted(out, &regex.pattern)?;
            if !regex.flags.is_empty() {
                write!(out, " flag \"{}\"", regex.flags)?;
            }
            close(out)
        }
        Item::Unary(minus, arg) => {
            open(out)?;
            out.write_char(if *minus { '-' } else { '+' })?;
            operand(out, arg, item)?;
            close(out)
        }
        Item::Filter(arg) => {
            out.write_str("?(")?;
            write_chain(out, arg, false, false)?;
            out.write_char(')')
        }
        Item::Not(arg) => {
            out.write_str("!(")?;
            write_chain(out, arg, false, false)?;
            out.write_char(')')
        }
        Item::IsUnknown(arg) => {
            out.write_char('(')?;
            write_chain(out, arg, false, false)?;
            out.write_str(") is unknown")
        }
        Item::Exists(arg) => {
            out.write_str("exists (")?;
            write_chain(out, arg, false, false)?;
            out.write_char(')')
        }
        Item::Number(n) if has_next => write!(out, "({n})"),
        Item::Number(n) => write!(out, "{n}"),
        Item::String(s) => write_quoted(out, s),
        Item::Variable(name) => {
            out.write_char('$')?;
            write_quoted(out, name)
        }
        Item::Null => out.write_str("null"),
        Item::Bool(b) => write!(out, "{b}"),
        Item::Root => out.write_char('$'),
        Item::Current => out.write_char('@'),
        Item::Last => out.write_str("last"),
        Item::Key(key) => {
            if in_key {
                out.write_char('.')?;
            }
            write_quoted(out, key)
        }
        Item::AnyKey => {
            if in_key {
                out.write_char('.')?;
            }
            out.write_char('*')
        }
        Item::AnyArray => out.write_str("[*]"),
        Item::Index(list) => {
            out.write_char('[')?;
            for (i, (from, to)) in list.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write_chain(out, from, false, false)?;
                if let Some(to) = to {
                    out.write_str(" to ")?;
                    write_chain(out, to, false, false)?;
                }
            }
            out.write_char(']')
        }
        Item::Any(first, last) => {
            if in_key {
                out.write_char('.')?;
            }
            out.write_str("**")?;
            let level = |l: u32| {
                if l == ANY_LAST {
                    "last".to_owned()
                } else {
                    l.to_string()
                }
            };
            if first == last {
                write!(out, "{{{}}}", level(*first))
            } else if *first == 0 && *last == ANY_LAST {
                Ok(())
            } else {
                write!(out, "{{{} to {}}}", level(*first), level(*last))
            }
        }
        Item::Method(m) => write!(out, ".{}()", m.name()),
        Item::Datetime(template) => {
            out.write_str(".datetime(")?;
            if let Some(t) = template {
                write_quoted(out, t)?;
            }
            out.write_char(')')
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.lax {
            f.write_str("strict ")?;
        }
        write_chain(f, &self.expr, false, true)
    }
}
