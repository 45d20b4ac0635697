//! `json #> text[]` with a negative subscript, searched the way PostgreSQL's one-pass `get_worker`
//! does, quirk included.
//!
//! PostgreSQL resolves a negative subscript when it meets the first array at that depth whose length
//! covers it, anywhere in the document, and keeps the resolved value for every later array at that
//! depth. So `{"x":[[1,2]],"a":[[7]]} #> '{a,0,-2}'` resolves `-2` against `[1,2]` (to 0) and
//! answers `7`, where `[7]` alone has no element -2. The tree is walked in document order replaying
//! its callbacks (`get_array_start`, `get_object_field_start/end`, `get_array_element_start/end`).

use crate::node::{Node, NodeValue};
use crate::path::parse_int;

struct Search<'p, 'n, 'a> {
    names: &'p [&'p str],
    /// `None` for an element that is not a usable subscript (PostgreSQL's INT_MIN).
    indexes: Vec<Option<i64>>,
    /// `pathok[l]`: the path matched down to depth `l`.
    pathok: Vec<bool>,
    current: Vec<i64>,
    result: Option<&'n Node<'a>>,
}

/// The node `names` (no NULLs, at least one) leads to, PostgreSQL's way.
pub(crate) fn search<'n, 'a>(root: &'n Node<'a>, names: &[&str]) -> Option<&'n Node<'a>> {
    let indexes = names
        .iter()
        .map(|n| parse_int(n).filter(|&i| i != i32::MIN).map(i64::from))
        .collect();
    let mut search = Search {
        names,
        indexes,
        pathok: vec![false; names.len()],
        current: vec![-1; names.len()],
        result: None,
    };
    search.pathok[0] = true;
    search.visit(root, 0);
    search.result
}

impl<'n, 'a> Search<'_, 'n, 'a> {
    fn visit(&mut self, node: &'n Node<'a>, depth: usize) {
        let npath = self.names.len();
        let inner = depth + 1;
        match &node.value {
            NodeValue::Array(items) => {
                if depth < npath {
                    self.current[depth] = -1;
                    if let Some(i) = self.indexes[depth].filter(|&i| i < 0)
                        && -i <= items.len() as i64
                    {
                        self.indexes[depth] = Some(i + items.len() as i64);
                    }
                }
                for item in items {
                    if inner <= npath {
                        self.current[depth] += 1;
                    }
                    let matched = inner <= npath
                        && self.pathok[depth]
                        && self.indexes[depth] == Some(self.current[depth]);
                    self.descend(item, inner, matched);
                }
            }
            NodeValue::Object(fields) => {
                for (key, value) in fields {
                    let matched = inner <= npath && self.pathok[depth] && self.names[depth] == key;
                    self.descend(value, inner, matched);
                }
            }
            _ => {}
        }
    }

    fn descend(&mut self, child: &'n Node<'a>, depth: usize, matched: bool) {
        let npath = self.names.len();
        if matched && depth < npath {
            self.pathok[depth] = true;
        }
        self.visit(child, depth);
        if matched {
            if depth < npath {
                self.pathok[depth] = false;
            } else {
                self.result = Some(child);
            }
        }
    }
}
