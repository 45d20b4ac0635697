//! `like_regex`: a small backtracking matcher for the common part of PostgreSQL's ARE syntax.
//!
//! Supported: literals, `.`, bracket expressions with ranges and negation, `\d \w \s` and their
//! negations, escaped metacharacters, `^ $`, groups `(...)` and `(?:...)`, `|`, and the greedy
//! quantifiers `* + ? {n} {n,} {n,m}`. Anything else (back references, lookaround, lazy
//! quantifiers, POSIX classes like `[[:alpha:]]`, the `x` flag) is refused when the path is read.
//! Flags follow PostgreSQL: `i` ignores case, `s` lets `.` match a newline (which it does not by
//! default), `m` makes `^`/`$` match at newlines, `q` takes the pattern literally.

use crate::error::ParseError;

#[derive(Clone, Debug)]
enum Node {
    Char(char),
    Any,
    Class(Vec<(char, char)>, bool),
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

#[derive(Clone, Debug)]
pub(crate) struct Regex {
    pub(crate) pattern: String,
    pub(crate) flags: String,
    node: Node,
    icase: bool,
    dotall: bool,
    multiline: bool,
}

fn regex_error(message: &str) -> ParseError {
    ParseError {
        sqlstate: "2201B",
        message: format!("invalid regular expression: {message}"),
        detail: String::new(),
        context: None,
    }
}

struct P<'a> {
    chars: &'a [char],
    i: usize,
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\r'), (' ', ' ')];

impl P<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn alt(&mut self) -> Result<Node, ParseError> {
        let mut branches = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.i += 1;
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Concat(Vec::new()))
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, ParseError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.chars[start..self.i]
            .iter()
            .collect::<String>()
            .parse()
            .ok()
    }

    fn quantified(&mut self, mut atom: Node) -> Result<Node, ParseError> {
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    self.i += 1;
                    let min = self
                        .number()
                        .ok_or_else(|| regex_error("invalid repetition count(s)"))?;
                    let max = if self.peek() == Some(',') {
                        self.i += 1;
                        if self.peek() == Some('}') {
                            None
                        } else {
                            self.number()
                        }
                    } else {
                        Some(min)
                    };
                    if self.peek() != Some('}') || max.is_some_and(|m| m < min) {
                        return Err(regex_error("invalid repetition count(s)"));
                    }
                    (min, max)
                }
                _ => return Ok(atom),
            };
            self.i += 1;
            if matches!(self.peek(), Some('?')) {
                return Err(regex_error("non-greedy quantifiers are not supported here"));
            }
            if matches!(atom, Node::Start | Node::End) {
                return Err(regex_error("quantifier operand invalid"));
            }
            atom = Node::Repeat(Box::new(atom), min, max);
        }
    }

    fn escape(&mut self, in_class: bool) -> Result<Vec<(char, char)>, ParseError> {
        let c = self
            .peek()
            .ok_or_else(|| regex_error("invalid escape \\ sequence"))?;
        self.i += 1;
        let set = |s: &[(char, char)]| s.to_vec();
        Ok(match c {
            'd' => set(DIGIT),
            'w' => set(WORD),
            's' => set(SPACE),
            'D' | 'W' | 'S' if in_class => {
                return Err(regex_error("invalid escape \\ sequence"));
            }
            'n' => vec![('\n', '\n')],
            't' => vec![('\t', '\t')],
            'r' => vec![('\r', '\r')],
            c if c.is_ascii_alphanumeric() => {
                return Err(regex_error("invalid escape \\ sequence"));
            }
            c => vec![(c, c)],
        })
    }

    fn atom(&mut self) -> Result<Node, ParseError> {
        let c = self
            .peek()
            .ok_or_else(|| regex_error("invalid regular expression"))?;
        self.i += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '*' | '+' | '?' | '{' => return Err(regex_error("quantifier operand invalid")),
            '(' => {
                if self.peek() == Some('?') {
                    if self.chars.get(self.i + 1) != Some(&':') {
                        return Err(regex_error("lookaround constraints are not supported here"));
                    }
                    self.i += 2;
                }
                let inner = self.alt()?;
                if self.peek() != Some(')') {
                    return Err(regex_error("parentheses () not balanced"));
                }
                self.i += 1;
                inner
            }
            '[' => self.class()?,
            '\\' => match self.peek() {
                Some(u @ ('D' | 'W' | 'S')) => {
                    self.i += 1;
                    let s = match u {
                        'D' => DIGIT,
                        'W' => WORD,
                        _ => SPACE,
                    };
                    Node::Class(s.to_vec(), true)
                }
                _ => {
                    let set = self.escape(false)?;
                    match set.as_slice() {
                        [(a, b)] if a == b => Node::Char(*a),
                        _ => Node::Class(set, false),
                    }
                }
            },
            c => Node::Char(c),
        })
    }

    fn class(&mut self) -> Result<Node, ParseError> {
        let unbalanced = || regex_error("brackets [] not balanced");
        let negated = self.peek() == Some('^');
        if negated {
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or_else(unbalanced)?;
            self.i += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            if c == '[' && matches!(self.peek(), Some(':' | '.' | '=')) {
                return Err(regex_error("bracket classes are not supported here"));
            }
            if c == '\\' {
                ranges.extend(self.escape(true)?);
                continue;
            }
            if self.peek() == Some('-') && self.chars.get(self.i + 1).is_some_and(|&e| e != ']') {
                let end = self.chars[self.i + 1];
                self.i += 2;
                if end < c {
                    return Err(regex_error("invalid character range"));
                }
                ranges.push((c, end));
            } else {
                ranges.push((c, c));
            }
        }
        Ok(Node::Class(ranges, negated))
    }
}

impl Regex {
    /// Compiles `pattern` with the `flag` string, as `jsonpath_in` does (so errors come at read time).
    pub(crate) fn new(pattern: &str, flags: &str) -> Result<Regex, ParseError> {
        let mut canonical = String::new();
        for f in ['i', 's', 'm', 'x', 'q'] {
            if flags.contains(f) {
                canonical.push(f);
            }
        }
        if let Some(bad) = flags.chars().find(|c| !"ismxq".contains(*c)) {
            return Err(ParseError {
                sqlstate: "42601",
                message: "invalid input syntax for type jsonpath".to_owned(),
                detail: format!("Unrecognized flag character \"{bad}\" in LIKE_REGEX predicate."),
                context: None,
            });
        }
        if flags.contains('x') {
            return Err(ParseError {
                sqlstate: "0A000",
                message: "XQuery \"x\" flag (expanded regular expressions) is not implemented"
                    .to_owned(),
                detail: String::new(),
                context: None,
            });
        }
        let chars: Vec<char> = pattern.chars().collect();
        let node = if flags.contains('q') {
            Node::Concat(chars.iter().map(|&c| Node::Char(c)).collect())
        } else {
            let mut p = P {
                chars: &chars,
                i: 0,
            };
            let node = p.alt()?;
            if p.i < chars.len() {
                return Err(regex_error("parentheses () not balanced"));
            }
            node
        };
        Ok(Regex {
            pattern: pattern.to_owned(),
            flags: canonical,
            node,
            icase: flags.contains('i'),
            dotall: flags.contains('s'),
            multiline: flags.contains('m') && !flags.contains('q'),
        })
    }

    /// Whether the pattern matches anywhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        (0..=chars.len()).any(|start| self.m(&self.node, &chars, start, &mut |_| true))
    }

    fn eq(&self, a: char, b: char) -> bool {
        a == b || (self.icase && a.to_lowercase().eq(b.to_lowercase()))
    }

    fn in_class(&self, ranges: &[(char, char)], c: char) -> bool {
        let hit = |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        hit(c) || (self.icase && (c.to_lowercase().any(hit) || c.to_uppercase().any(hit)))
    }

    /// Continuation-passing backtracking: `k` is tried on every end position `node` can reach.
    fn m(&self, node: &Node, s: &[char], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match node {
            Node::Char(c) => s.get(i).is_some_and(|&x| self.eq(x, *c)) && k(i + 1),
            Node::Any => s.get(i).is_some_and(|&x| self.dotall || x != '\n') && k(i + 1),
            Node::Class(ranges, negated) => {
                s.get(i).is_some_and(|&x| {
                    // Without `s`, a negated class does not match a newline either (REG_NLSTOP).
                    if *negated {
                        !self.in_class(ranges, x) && (self.dotall || x != '\n')
                    } else {
                        self.in_class(ranges, x)
                    }
                }) && k(i + 1)
            }
            Node::Start => (i == 0 || (self.multiline && s[i - 1] == '\n')) && k(i),
            Node::End => (i == s.len() || (self.multiline && s[i] == '\n')) && k(i),
            Node::Concat(items) => self.seq(items, s, i, k),
            Node::Alt(branches) => branches.iter().any(|b| self.m(b, s, i, k)),
            Node::Repeat(inner, min, max) => self.rep(inner, *min, *max, s, i, k),
        }
    }

    fn seq(&self, items: &[Node], s: &[char], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match items.split_first() {
            None => k(i),
            Some((first, rest)) => self.m(first, s, i, &mut |j| self.seq(rest, s, j, k)),
        }
    }

    fn rep(
        &self,
        inner: &Node,
        min: u32,
        max: Option<u32>,
        s: &[char],
        i: usize,
        k: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        if max == Some(0) {
            return k(i);
        }
        let next_max = max.map(|m| m - 1);
        // Greedy: one more repetition first; an empty repetition cannot help, so it is not retried.
        let more = self.m(inner, s, i, &mut |j| {
            j > i && self.rep(inner, min.saturating_sub(1), next_max, s, j, k)
        });
        more || (min == 0 && k(i))
    }
}
