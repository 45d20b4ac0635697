//! The jsonb operations that build values (`||`, `-`, `#-`, `jsonb_set`, `jsonb_insert`,
//! `jsonb_strip_nulls`), against tables of what PostgreSQL 15 answered. An error is
//! (SQLSTATE, message, HINT).

use omendb_json::{Error, Jsonb};

/// A `text[]` path; `None` is a NULL element.
type Path = &'static [Option<&'static str>];

type Expected = Result<&'static str, (&'static str, &'static str, Option<&'static str>)>;

fn jsonb(text: &str) -> Jsonb {
    Jsonb::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

fn check(what: &str, got: Result<Jsonb, Error>, expected: &Expected) {
    let got = got.map(|v| v.to_string());
    let got = got
        .as_ref()
        .map(String::as_str)
        .map_err(|e| (e.sqlstate, e.message.as_str(), e.hint.as_deref()));
    assert_eq!(got, *expected, "{what}");
}

/// `select $1::jsonb || $2::jsonb`.
#[rustfmt::skip]
const CONCAT: &[(&str, &str, &str)] = &[
    ("[1,2]", "[3]", "[1, 2, 3]"),
    ("{\"a\":1}", "{\"a\":2,\"b\":3}", "{\"a\": 2, \"b\": 3}"),
    ("[1]", "1", "[1, 1]"),
    ("1", "[1]", "[1, 1]"),
    ("1", "2", "[1, 2]"),
    ("{\"a\":1}", "1", "[{\"a\": 1}, 1]"),
    ("1", "{\"a\":1}", "[1, {\"a\": 1}]"),
    ("[]", "{}", "[{}]"),
    ("{}", "[]", "[{}]"),
    ("[]", "1", "[1]"),
    ("1", "[]", "[1]"),
    ("{}", "1", "[{}, 1]"),
    ("[1]", "{\"a\":1}", "[1, {\"a\": 1}]"),
    ("{\"a\":1}", "[1]", "[{\"a\": 1}, 1]"),
    ("{}", "{}", "{}"),
    ("[]", "[]", "[]"),
    ("null", "null", "[null, null]"),
    ("{\"a\":{\"b\":1}}", "{\"a\":{\"c\":1}}", "{\"a\": {\"c\": 1}}"),
    ("[[1]]", "[[2]]", "[[1], [2]]"),
    ("{\"b\":1,\"aa\":2}", "{\"c\":3,\"a\":0,\"aa\":9}", "{\"a\": 0, \"b\": 1, \"c\": 3, \"aa\": 9}"),
];

/// `select $1::jsonb - $2::text[]` (and `- $2::text` for one key).
#[rustfmt::skip]
const DELETE_KEYS: &[(&str, &[&str], Expected)] = &[
    ("{\"a\":1,\"b\":2}", &["a"], Ok("{\"b\": 2}")),
    ("[\"a\",\"b\",\"a\",1,[\"a\"]]", &["a"], Ok("[\"b\", 1, [\"a\"]]")),
    ("\"a\"", &["a"], Err(("22023", "cannot delete from scalar", None))),
    ("1", &[], Err(("22023", "cannot delete from scalar", None))),
    ("{}", &["a"], Ok("{}")),
    ("[]", &["a"], Ok("[]")),
    ("{\"a\":1,\"b\":2,\"c\":3}", &["a", "c"], Ok("{\"b\": 2}")),
    ("[\"a\",\"b\",\"c\"]", &["a", "c"], Ok("[\"b\"]")),
    ("{\"a\":{\"a\":1}}", &["a"], Ok("{}")),
];

/// `select $1::jsonb - $2::int`.
#[rustfmt::skip]
const DELETE_INDEX: &[(&str, i64, Expected)] = &[
    ("[1,2,3]", 1, Ok("[1, 3]")),
    ("[1,2,3]", -1, Ok("[1, 2]")),
    ("[1,2,3]", -4, Ok("[1, 2, 3]")),
    ("[1,2,3]", 3, Ok("[1, 2, 3]")),
    ("{\"a\":1}", 0, Err(("22023", "cannot delete from object using integer index", None))),
    ("1", 0, Err(("22023", "cannot delete from scalar", None))),
    ("[]", 0, Ok("[]")),
    ("{}", 0, Err(("22023", "cannot delete from object using integer index", None))),
];

/// `select $1::jsonb #- $2::text[]`.
#[rustfmt::skip]
const DELETE_PATH: &[(&str, Path, Expected)] = &[
    ("{\"a\":[1,2]}", &[Some("a"), Some("0")], Ok("{\"a\": [2]}")),
    ("{\"a\":[1,2]}", &[Some("a"), Some("-1")], Ok("{\"a\": [1]}")),
    ("{\"a\":[1,2]}", &[Some("a"), Some("x")], Err(("22P02", "path element at position 2 is not an integer: \"x\"", None))),
    ("{\"a\":[1,2]}", &[Some("a")], Ok("{}")),
    ("{\"a\":[1,2]}", &[Some("b")], Ok("{\"a\": [1, 2]}")),
    ("{\"a\":[1,2]}", &[], Ok("{\"a\": [1, 2]}")),
    ("1", &[], Err(("22023", "cannot delete path in scalar", None))),
    ("1", &[Some("a")], Err(("22023", "cannot delete path in scalar", None))),
    ("{\"a\":[1,2]}", &[None], Err(("22004", "path element at position 1 is null", None))),
    ("{\"a\":[1,2]}", &[Some("a"), None], Err(("22004", "path element at position 2 is null", None))),
    ("{\"a\":[1,2]}", &[Some("b"), None], Ok("{\"a\": [1, 2]}")),
    ("{\"a\":1}", &[Some("a"), Some("b")], Ok("{\"a\": 1}")),
    ("{\"a\":1}", &[Some("a"), None], Err(("22004", "path element at position 2 is null", None))),
    ("[1,2]", &[Some("5")], Ok("[1, 2]")),
    ("[1,2]", &[Some("-5")], Ok("[1, 2]")),
    ("[1,2]", &[Some("99999999999")], Err(("22P02", "path element at position 1 is not an integer: \"99999999999\"", None))),
    ("{}", &[None], Ok("{}")),
    ("[[1,2]]", &[Some("0"), Some("1")], Ok("[[1]]")),
    ("[1,2]", &[Some(" 1")], Ok("[1]")),
];

/// `select jsonb_set($1::jsonb, $2::text[], $3::jsonb, $4)`.
#[rustfmt::skip]
const SET: &[(&str, Path, &str, bool, Expected)] = &[
    ("{\"a\":1}", &[Some("b")], "2", true, Ok("{\"a\": 1, \"b\": 2}")),
    ("{\"a\":1}", &[Some("b")], "2", false, Ok("{\"a\": 1}")),
    ("{\"a\":1}", &[Some("a")], "[2]", false, Ok("{\"a\": [2]}")),
    ("{\"a\":1}", &[Some("b"), Some("c")], "2", true, Ok("{\"a\": 1}")),
    ("{}", &[Some("b")], "2", true, Ok("{\"b\": 2}")),
    ("{}", &[Some("b")], "2", false, Ok("{}")),
    ("[]", &[Some("0")], "2", true, Ok("[2]")),
    ("[]", &[Some("5")], "2", true, Ok("[2]")),
    ("[]", &[Some("-5")], "2", true, Ok("[2]")),
    ("[]", &[Some("x")], "2", true, Err(("22P02", "path element at position 1 is not an integer: \"x\"", None))),
    ("[]", &[Some("x")], "2", false, Ok("[]")),
    ("[1,2]", &[Some("x")], "2", false, Err(("22P02", "path element at position 1 is not an integer: \"x\"", None))),
    ("[1,2,3]", &[Some("1")], "9", true, Ok("[1, 9, 3]")),
    ("[1,2,3]", &[Some("-1")], "9", true, Ok("[1, 2, 9]")),
    ("[1,2,3]", &[Some("5")], "9", true, Ok("[1, 2, 3, 9]")),
    ("[1,2,3]", &[Some("-5")], "9", true, Ok("[9, 1, 2, 3]")),
    ("[1,2,3]", &[Some("5")], "9", false, Ok("[1, 2, 3]")),
    ("[1,2,3]", &[Some("-5")], "9", false, Ok("[1, 2, 3]")),
    ("1", &[Some("a")], "9", true, Err(("22023", "cannot set path in scalar", None))),
    ("1", &[], "9", true, Err(("22023", "cannot set path in scalar", None))),
    ("{\"a\":1}", &[], "9", true, Ok("{\"a\": 1}")),
    ("{\"a\":1}", &[None], "9", true, Err(("22004", "path element at position 1 is null", None))),
    ("{\"a\":{\"b\":1}}", &[Some("a"), None], "9", true, Err(("22004", "path element at position 2 is null", None))),
    ("{\"a\":1}", &[Some("a"), None], "9", true, Err(("22004", "path element at position 2 is null", None))),
    ("{\"a\":{\"b\":1}}", &[Some("c"), None], "9", true, Ok("{\"a\": {\"b\": 1}}")),
    ("[1,[2]]", &[Some("1"), Some("0")], "9", true, Ok("[1, [9]]")),
    ("[1,[2]]", &[Some("0"), Some("0")], "9", true, Ok("[1, [2]]")),
    ("[1,[2]]", &[Some("0"), Some("x")], "9", true, Ok("[1, [2]]")),
    ("{\"a\":[1]}", &[Some("a"), Some("1")], "9", true, Ok("{\"a\": [1, 9]}")),
    ("{\"a\":\"x\"}", &[Some("a"), Some("b")], "9", true, Ok("{\"a\": \"x\"}")),
    ("[{\"a\":1}]", &[Some("0"), Some("b")], "9", true, Ok("[{\"a\": 1, \"b\": 9}]")),
    ("{\"a\":{}}", &[Some("a"), Some("b")], "9", true, Ok("{\"a\": {\"b\": 9}}")),
    ("{\"a\":[]}", &[Some("a"), Some("3")], "9", true, Ok("{\"a\": [9]}")),
    ("{}", &[None], "9", true, Err(("22004", "path element at position 1 is null", None))),
    ("[]", &[None], "9", true, Err(("22004", "path element at position 1 is null", None))),
    ("[]", &[None], "9", false, Ok("[]")),
    ("{}", &[None], "9", false, Ok("{}")),
    ("[1]", &[Some("99999999999")], "9", true, Err(("22P02", "path element at position 1 is not an integer: \"99999999999\"", None))),
    ("{\"b\":1}", &[Some("aa")], "{\"z\":1,\"y\":2}", true, Ok("{\"b\": 1, \"aa\": {\"y\": 2, \"z\": 1}}")),
];

/// `select jsonb_insert($1::jsonb, $2::text[], $3::jsonb, $4)`.
#[rustfmt::skip]
const INSERT: &[(&str, Path, &str, bool, Expected)] = &[
    ("[1,2,3]", &[Some("1")], "9", false, Ok("[1, 9, 2, 3]")),
    ("[1,2,3]", &[Some("1")], "9", true, Ok("[1, 2, 9, 3]")),
    ("[1,2,3]", &[Some("-1")], "9", false, Ok("[1, 2, 9, 3]")),
    ("[1,2,3]", &[Some("-1")], "9", true, Ok("[1, 2, 3, 9]")),
    ("[1,2,3]", &[Some("5")], "9", false, Ok("[1, 2, 3, 9]")),
    ("[1,2,3]", &[Some("-5")], "9", true, Ok("[9, 1, 2, 3]")),
    ("[]", &[Some("0")], "9", false, Ok("[9]")),
    ("[]", &[Some("x")], "9", false, Err(("22P02", "path element at position 1 is not an integer: \"x\"", None))),
    ("{\"a\":1}", &[Some("b")], "9", false, Ok("{\"a\": 1, \"b\": 9}")),
    ("{\"a\":1}", &[Some("a")], "9", false, Err(("22023", "cannot replace existing key", Some("Try using the function jsonb_set to replace key value.")))),
    ("{}", &[Some("a")], "9", false, Ok("{\"a\": 9}")),
    ("{}", &[], "9", false, Ok("{}")),
    ("1", &[], "9", false, Err(("22023", "cannot set path in scalar", None))),
    ("{\"a\":[1]}", &[Some("a"), Some("0")], "9", true, Ok("{\"a\": [1, 9]}")),
    ("{\"a\":[1]}", &[Some("b"), Some("0")], "9", true, Ok("{\"a\": [1]}")),
    ("[]", &[None], "9", false, Err(("22004", "path element at position 1 is null", None))),
    ("{\"a\":[1]}", &[Some("a"), Some("5")], "9", true, Ok("{\"a\": [1, 9]}")),
];

/// `select jsonb_strip_nulls($1::jsonb)`.
#[rustfmt::skip]
const STRIP_NULLS: &[(&str, &str)] = &[
    ("{\"a\":null,\"b\":[null,{\"c\":null,\"d\":1}],\"e\":{\"f\":null}}", "{\"b\": [null, {\"d\": 1}], \"e\": {}}"),
    ("null", "null"),
    ("[null]", "[null]"),
    ("{\"a\":{\"b\":null}}", "{\"a\": {}}"),
];

#[test]
fn concat() {
    for (left, right, output) in CONCAT {
        assert_eq!(
            jsonb(left).concat(jsonb(right)).to_string(),
            *output,
            "{left} || {right}"
        );
    }
}

#[test]
fn delete_keys() {
    for (doc, keys, expected) in DELETE_KEYS {
        check(
            &format!("{doc} - {keys:?}"),
            jsonb(doc).delete_keys(keys),
            expected,
        );
        if let [key] = keys {
            check(
                &format!("{doc} - {key}"),
                jsonb(doc).delete_key(key),
                expected,
            );
        }
    }
}

#[test]
fn delete_index() {
    for (doc, i, expected) in DELETE_INDEX {
        check(
            &format!("{doc} - {i}"),
            jsonb(doc).delete_index(*i),
            expected,
        );
    }
}

#[test]
fn delete_path() {
    for (doc, path, expected) in DELETE_PATH {
        check(
            &format!("{doc} #- {path:?}"),
            jsonb(doc).delete_path(path),
            expected,
        );
    }
}

#[test]
fn set() {
    for (doc, path, new, create, expected) in SET {
        check(
            &format!("jsonb_set({doc}, {path:?}, {new}, {create})"),
            jsonb(doc).set(path, jsonb(new), *create),
            expected,
        );
    }
}

#[test]
fn insert() {
    for (doc, path, new, after, expected) in INSERT {
        check(
            &format!("jsonb_insert({doc}, {path:?}, {new}, {after})"),
            jsonb(doc).insert(path, jsonb(new), *after),
            expected,
        );
    }
}

#[test]
fn strip_nulls() {
    for (doc, output) in STRIP_NULLS {
        assert_eq!(jsonb(doc).strip_nulls().to_string(), *output, "{doc}");
    }
}
