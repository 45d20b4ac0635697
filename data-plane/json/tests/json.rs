//! `json`: `json_in`'s errors, the operators' strict read, and the accessors, against tables of what
//! PostgreSQL 15 answered (each table names the query that produced it).

use omendb_json::{Node, NodeValue, ParseError, parse, parse_strict, validate};

/// (SQLSTATE, message, DETAIL, CONTEXT), empty where PostgreSQL sends none.
type PgError = (&'static str, &'static str, &'static str, &'static str);
/// A `text[]` path; `None` is a NULL element.
type Path = &'static [Option<&'static str>];

fn expect_error(input: &str, error: ParseError, expected: &PgError) {
    let context = error.context.clone().unwrap_or_default();
    assert_eq!(
        (
            error.sqlstate,
            error.message.as_str(),
            error.detail.as_str(),
            context.as_str()
        ),
        *expected,
        "input {input:?}"
    );
}

/// `select $1::json` (json_in) rejecting the input: (input, SQLSTATE, message, DETAIL, CONTEXT).
#[rustfmt::skip]
const JSON_IN_ERRORS: &[(&str, PgError)] = &[
    ("", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1: ")),
    (" ", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1:  ")),
    ("{", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1: {")),
    ("[", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1: [")),
    ("[1,", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1: [1,")),
    ("[1 2]", ("22P02", "invalid input syntax for type json", "Expected \",\" or \"]\", but found \"2\".", "JSON data, line 1: [1 2...")),
    ("{\"a\" 1}", ("22P02", "invalid input syntax for type json", "Expected \":\", but found \"1\".", "JSON data, line 1: {\"a\" 1...")),
    ("{\"a\":1 \"b\"}", ("22P02", "invalid input syntax for type json", "Expected \",\" or \"}\", but found \"\"b\"\".", "JSON data, line 1: {\"a\":1 \"b\"...")),
    ("{1:2}", ("22P02", "invalid input syntax for type json", "Expected string or \"}\", but found \"1\".", "JSON data, line 1: {1...")),
    ("{\"a\":1,}", ("22P02", "invalid input syntax for type json", "Expected string, but found \"}\".", "JSON data, line 1: {\"a\":1,}")),
    ("[1,]", ("22P02", "invalid input syntax for type json", "Expected JSON value, but found \"]\".", "JSON data, line 1: [1,]")),
    ("tru", ("22P02", "invalid input syntax for type json", "Token \"tru\" is invalid.", "JSON data, line 1: tru")),
    ("truex", ("22P02", "invalid input syntax for type json", "Token \"truex\" is invalid.", "JSON data, line 1: truex")),
    ("1.", ("22P02", "invalid input syntax for type json", "Token \"1.\" is invalid.", "JSON data, line 1: 1.")),
    ("1.e5", ("22P02", "invalid input syntax for type json", "Token \"1.e5\" is invalid.", "JSON data, line 1: 1.e5")),
    ("01", ("22P02", "invalid input syntax for type json", "Token \"01\" is invalid.", "JSON data, line 1: 01")),
    ("-", ("22P02", "invalid input syntax for type json", "Token \"-\" is invalid.", "JSON data, line 1: -")),
    ("-a", ("22P02", "invalid input syntax for type json", "Token \"-a\" is invalid.", "JSON data, line 1: -a")),
    ("1e", ("22P02", "invalid input syntax for type json", "Token \"1e\" is invalid.", "JSON data, line 1: 1e")),
    ("1e+", ("22P02", "invalid input syntax for type json", "Token \"1e+\" is invalid.", "JSON data, line 1: 1e+")),
    (".5", ("22P02", "invalid input syntax for type json", "Token \".\" is invalid.", "JSON data, line 1: ....")),
    ("+1", ("22P02", "invalid input syntax for type json", "Token \"+\" is invalid.", "JSON data, line 1: +...")),
    ("\"abc", ("22P02", "invalid input syntax for type json", "Token \"\"abc\" is invalid.", "JSON data, line 1: \"abc")),
    ("\"a\\qb\"", ("22P02", "invalid input syntax for type json", "Escape sequence \"\\q\" is invalid.", "JSON data, line 1: \"a\\q...")),
    ("\"\\u12\"", ("22P02", "invalid input syntax for type json", "\"\\u\" must be followed by four hexadecimal digits.", "JSON data, line 1: \"\\u12\"")),
    ("\"\\u12g4\"", ("22P02", "invalid input syntax for type json", "\"\\u\" must be followed by four hexadecimal digits.", "JSON data, line 1: \"\\u12g...")),
    ("1 2", ("22P02", "invalid input syntax for type json", "Expected end of input, but found \"2\".", "JSON data, line 1: 1 2")),
    ("[1]]", ("22P02", "invalid input syntax for type json", "Expected end of input, but found \"]\".", "JSON data, line 1: [1]]")),
    ("{\"a\":}", ("22P02", "invalid input syntax for type json", "Expected JSON value, but found \"}\".", "JSON data, line 1: {\"a\":}")),
    (":", ("22P02", "invalid input syntax for type json", "Expected JSON value, but found \":\".", "JSON data, line 1: :")),
    ("]", ("22P02", "invalid input syntax for type json", "Expected JSON value, but found \"]\".", "JSON data, line 1: ]")),
    ("abc def", ("22P02", "invalid input syntax for type json", "Token \"abc\" is invalid.", "JSON data, line 1: abc...")),
    ("\"a\tb\"", ("22P02", "invalid input syntax for type json", "Character with value 0x09 must be escaped.", "JSON data, line 1: \"a...")),
    ("\"a\u{1}\"", ("22P02", "invalid input syntax for type json", "Character with value 0x01 must be escaped.", "JSON data, line 1: \"a...")),
    ("[1,2", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1: [1,2")),
    ("{\"a\"", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1: {\"a\"")),
    ("{\"a\":", ("22P02", "invalid input syntax for type json", "The input string ended unexpectedly.", "JSON data, line 1: {\"a\":")),
    ("é", ("22P02", "invalid input syntax for type json", "Token \"é\" is invalid.", "JSON data, line 1: é")),
    ("[é]", ("22P02", "invalid input syntax for type json", "Token \"é\" is invalid.", "JSON data, line 1: [é...")),
    ("@", ("22P02", "invalid input syntax for type json", "Token \"@\" is invalid.", "JSON data, line 1: @")),
    ("NaN", ("22P02", "invalid input syntax for type json", "Token \"NaN\" is invalid.", "JSON data, line 1: NaN")),
    ("1_000", ("22P02", "invalid input syntax for type json", "Token \"1_000\" is invalid.", "JSON data, line 1: 1_000")),
    ("1é", ("22P02", "invalid input syntax for type json", "Token \"1é\" is invalid.", "JSON data, line 1: 1é")),
    ("\"\\é\"", ("22P02", "invalid input syntax for type json", "Escape sequence \"\\é\" is invalid.", "JSON data, line 1: \"\\é...")),
    ("\"\\", ("22P02", "invalid input syntax for type json", "Token \"\"\\\" is invalid.", "JSON data, line 1: \"\\")),
    ("\"\\u00", ("22P02", "invalid input syntax for type json", "Token \"\"\\u00\" is invalid.", "JSON data, line 1: \"\\u00")),
    ("[1,,2]", ("22P02", "invalid input syntax for type json", "Expected JSON value, but found \",\".", "JSON data, line 1: [1,,...")),
    ("{,}", ("22P02", "invalid input syntax for type json", "Expected string or \"}\", but found \",\".", "JSON data, line 1: {,...")),
    ("{\"a\":1,,}", ("22P02", "invalid input syntax for type json", "Expected string, but found \",\".", "JSON data, line 1: {\"a\":1,,...")),
    ("{\"a\";1}", ("22P02", "invalid input syntax for type json", "Token \";\" is invalid.", "JSON data, line 1: {\"a\";...")),
    ("1e5x", ("22P02", "invalid input syntax for type json", "Token \"1e5x\" is invalid.", "JSON data, line 1: 1e5x")),
    ("[1 @]", ("22P02", "invalid input syntax for type json", "Token \"@\" is invalid.", "JSON data, line 1: [1 @...")),
    ("{\"a\":1}}", ("22P02", "invalid input syntax for type json", "Expected end of input, but found \"}\".", "JSON data, line 1: {\"a\":1}}")),
    ("[1,\n2,\n 3 x]", ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "JSON data, line 3:  3 x...")),
    ("[1,\r\n2,\r 3 x]", ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "JSON data, line 2: 2,\r 3 x...")),
    ("[1,\n  \"a\tb\"]", ("22P02", "invalid input syntax for type json", "Character with value 0x09 must be escaped.", "JSON data, line 2:   \"a...")),
    ("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26 x, 28]", ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "JSON data, line 1: ...11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26 x...")),
    ("[\"éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\", x]", ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "JSON data, line 1: ...éééééééééééééééééééééé\", x...")),
    ("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,2 x, 28]", ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "JSON data, line 1: ...,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,2 x...")),
    ("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,2,2 x, 28]", ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "JSON data, line 1: ...0,11,12,13,14,15,16,17,18,19,20,21,22,23,24,2,2 x...")),
    ("[1, x\n]", ("22P02", "invalid input syntax for type json", "Token \"x\" is invalid.", "JSON data, line 1: [1, x")),
];

/// `select $1::json #> '{}'`: json_in accepts these, the operators' strict read does not.
#[rustfmt::skip]
const STRICT_ERRORS: &[(&str, PgError)] = &[
    ("\"\\ud800\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800\"")),
    ("\"\\udc00\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\udc00...")),
    ("\"\\ud800\\ud800\"", ("22P02", "invalid input syntax for type json", "Unicode high surrogate must not follow a high surrogate.", "JSON data, line 1: \"\\ud800\\ud800...")),
    ("\"\\ud800x\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800x...")),
    ("\"\\ud800\\n\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800\\n...")),
    ("\"\\u0000\"", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: \"\\u0000...")),
    ("\"a\\u0000b\"", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: \"a\\u0000...")),
    ("\"\\ud800\\u0041\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800\\u0041...")),
    ("[1, \"\\u0000\", 2]", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: [1, \"\\u0000...")),
    ("{\"\\u0000\": 1}", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: {\"\\u0000...")),
];

/// Strict escapes are exactly jsonb_in's: `select $1::jsonb` on the same inputs.
#[rustfmt::skip]
const JSONB_STRICT_ERRORS: &[(&str, PgError)] = &[
    ("\"\\ud800\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800\"")),
    ("\"\\udc00\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\udc00...")),
    ("\"\\ud800\\ud800\"", ("22P02", "invalid input syntax for type json", "Unicode high surrogate must not follow a high surrogate.", "JSON data, line 1: \"\\ud800\\ud800...")),
    ("\"\\ud800x\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800x...")),
    ("\"\\ud800\\n\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800\\n...")),
    ("\"\\u0000\"", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: \"\\u0000...")),
    ("\"a\\u0000b\"", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: \"a\\u0000...")),
    ("[\"\\ud800\", x]", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: [\"\\ud800\"...")),
    ("\"\\ud800\\u0041\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800\\u0041...")),
    ("\"\\ud800\\q\"", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: \"\\ud800\\q...")),
    ("\"\\u0000\\q\"", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: \"\\u0000...")),
    ("\"\\ud800\t\"", ("22P02", "invalid input syntax for type json", "Character with value 0x09 must be escaped.", "JSON data, line 1: \"\\ud800...")),
    ("[1, \"\\u0000\", 2]", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: [1, \"\\u0000...")),
    ("{\"\\u0000\": 1}", ("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: {\"\\u0000...")),
    ("[\"\\udc00\", @]", ("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: [\"\\udc00...")),
];

#[rustfmt::skip]
const JSON_IN_ACCEPTS: &[&str] = &["\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\ud800\"", "\"\\u0000\"", "{\"\\ud800\": \"\\u0000\"}", "\"\\ud83d\\ude00\""];

/// `select $1::json -> $2, $1::json ->> $2`.
#[rustfmt::skip]
const GET: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("{\"a\": [1,  2], \"b\": \"x\"}", "a", Some("[1,  2]"), Some("[1,  2]")),
    ("{\"a\":1,\"a\":2}", "a", Some("2"), Some("2")),
    ("{\"a\":1,\"a\":null}", "a", Some("null"), None),
    ("{\"a\\u0062\":1}", "ab", Some("1"), Some("1")),
    ("{\"a\":\"\\u00e9\\n\"}", "a", Some("\"\\u00e9\\n\""), Some("é\n")),
    ("[1]", "a", None, None),
    ("1", "a", None, None),
    ("{\"a\" :  null }", "a", Some("null"), None),
    ("{\"a\":{\"b\" : [ true ]}}", "a", Some("{\"b\" : [ true ]}"), Some("{\"b\" : [ true ]}")),
];

/// `select $1::json -> $2::int, $1::json ->> $2::int`.
#[rustfmt::skip]
const INDEX: &[(&str, i64, Option<&str>, Option<&str>)] = &[
    ("[1,2,3]", -1, Some("3"), Some("3")),
    ("[1,2,3]", -3, Some("1"), Some("1")),
    ("[1,2,3]", -4, None, None),
    ("[1,2,3]", 3, None, None),
    ("[1,2,3]", 0, Some("1"), Some("1")),
    ("{\"a\":1}", 0, None, None),
    ("1", 0, None, None),
    ("\"a\"", 0, None, None),
    ("[ \"x\" , {\"a\" :1} ]", 1, Some("{\"a\" :1}"), Some("{\"a\" :1}")),
    ("[null]", 0, Some("null"), None),
];

/// `select $1::json #> $2, $1::json #>> $2`; `None` in a path is a NULL element.
#[rustfmt::skip]
const PATH: &[(&str, Path, Option<&str>, Option<&str>)] = &[
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("1"), Some("c")], Some("\"x\""), Some("x")),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("-1")], Some("{\"c\":\"x\"}"), Some("{\"c\":\"x\"}")),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some(" 1"), Some("c")], Some("\"x\""), Some("x")),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("+1"), Some("c")], Some("\"x\""), Some("x")),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("01"), Some("c")], Some("\"x\""), Some("x")),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("1 ")], None, None),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("1x")], None, None),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("99999999999")], None, None),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), Some("b"), Some("-2147483648")], None, None),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[Some("a"), None], None, None),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[], Some("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}"), Some("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}")),
    ("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", &[None], None, None),
    ("{\"a\":{\"b\":1},\"a\":{\"c\":2}}", &[Some("a"), Some("b")], Some("1"), Some("1")),
    ("{\"a\":{\"b\":1},\"a\":{\"b\":3,\"c\":2}}", &[Some("a"), Some("b")], Some("3"), Some("3")),
    ("{\"a\":{\"b\":1},\"a\":5}", &[Some("a"), Some("b")], Some("1"), Some("1")),
    ("{\"a\":[7],\"a\":{\"0\":1}}", &[Some("a"), Some("0")], Some("1"), Some("1")),
    ("{\"a\":{\"0\":1},\"a\":[7]}", &[Some("a"), Some("0")], Some("7"), Some("7")),
    ("{\"x\":[[1,2]],\"a\":[[7]]}", &[Some("a"), Some("0"), Some("-2")], Some("7"), Some("7")),
    ("{\"a\":[[7]],\"x\":[[1,2]]}", &[Some("a"), Some("0"), Some("-2")], None, None),
    ("[[1,2,3],[4]]", &[Some("1"), Some("-1")], None, None),
    ("[[1],[4,5,6]]", &[Some("1"), Some("-3")], Some("4"), Some("4")),
    ("  [1,  2] ", &[], Some("[1,  2]"), Some("[1,  2]")),
    ("  \"x\" ", &[], Some("  \"x\""), Some("x")),
    (" \n 1 ", &[], Some(" \n 1"), Some(" \n 1")),
    ("  true ", &[], Some("  true"), Some("  true")),
    (" null ", &[], Some(" null"), None),
    ("  \"a\\u00e9\" ", &[], Some("  \"a\\u00e9\""), Some("aé")),
    ("1", &[Some("0")], None, None),
    ("\"x\"", &[Some("a")], None, None),
];

/// `select json_typeof($1), json_array_length($1)` (the length's error message when it fails).
#[rustfmt::skip]
const TYPE_AND_LENGTH: &[(&str, &str, Result<usize, &str>)] = &[
    ("1", "number", Err("cannot get array length of a scalar")),
    ("\"a\"", "string", Err("cannot get array length of a scalar")),
    ("null", "null", Err("cannot get array length of a scalar")),
    ("true", "boolean", Err("cannot get array length of a scalar")),
    ("[]", "array", Ok(0)),
    ("{}", "object", Err("cannot get array length of a non-array")),
    (" [1, [2, 3]] ", "array", Ok(2)),
    ("\"\\ud800\"", "string", Err("cannot get array length of a scalar")),
];

/// `select $1::json::jsonb`.
#[rustfmt::skip]
const TO_JSONB: &[(&str, Result<&str, PgError>)] = &[
    ("{\"b\":1, \"a\":2, \"b\":3}", Ok("{\"a\": 2, \"b\": 3}")),
    ("[1e2, -0, 1.50, \"\\u00e9\"]", Ok("[100, 0, 1.50, \"é\"]")),
    (" {\"a\" : [ ]} ", Ok("{\"a\": []}")),
    ("1e200000", Err(("22003", "value overflows numeric format", "", ""))),
    ("[\"\\ud800\"]", Err(("22P02", "invalid input syntax for type json", "Unicode low surrogate must follow a high surrogate.", "JSON data, line 1: [\"\\ud800\"..."))),
    ("[\"\\u0000\"]", Err(("22P05", "unsupported Unicode escape sequence", "\\u0000 cannot be converted to text.", "JSON data, line 1: [\"\\u0000..."))),
    ("\"\\ufffd\"", Ok("\"�\"")),
];

#[test]
fn json_in_errors() {
    for (input, expected) in JSON_IN_ERRORS {
        expect_error(input, validate(input).unwrap_err(), expected);
        expect_error(input, parse(input).unwrap_err(), expected);
        // json_in's complaint comes first for the operators too.
        expect_error(input, parse_strict(input).unwrap_err(), expected);
    }
}

#[test]
fn strict_read_errors() {
    for (input, expected) in STRICT_ERRORS {
        expect_error(input, parse_strict(input).unwrap_err(), expected);
    }
    for (input, expected) in JSONB_STRICT_ERRORS {
        expect_error(
            input,
            omendb_json::Jsonb::parse(input).unwrap_err(),
            expected,
        );
    }
}

#[test]
fn json_in_does_not_check_what_escapes_decode_to() {
    for input in JSON_IN_ACCEPTS {
        validate(input).unwrap();
        parse(input).unwrap();
    }
    // The tree holds U+FFFD for a lone surrogate and NUL for \u0000.
    let node = parse(r#"["\ud800", "\u0000", "\ud83d\ude00"]"#).unwrap();
    let strings: Vec<String> = (0..3)
        .map(|i| node.index(i).unwrap().as_text().unwrap())
        .collect();
    assert_eq!(strings, ["\u{FFFD}", "\0", "😀"]);
}

#[test]
fn get() {
    for (doc, key, arrow, text) in GET {
        let node = parse_strict(doc).unwrap();
        let found = node.get(key);
        assert_eq!(found.map(|n| n.raw), *arrow, "{doc} -> {key}");
        assert_eq!(
            found.and_then(Node::as_text).as_deref(),
            *text,
            "{doc} ->> {key}"
        );
    }
}

#[test]
fn index() {
    for (doc, i, arrow, text) in INDEX {
        let node = parse_strict(doc).unwrap();
        let found = node.index(*i);
        assert_eq!(found.map(|n| n.raw), *arrow, "{doc} -> {i}");
        assert_eq!(
            found.and_then(Node::as_text).as_deref(),
            *text,
            "{doc} ->> {i}"
        );
    }
}

#[test]
fn path() {
    for (doc, path, arrow, text) in PATH {
        let node = parse_strict(doc).unwrap();
        let found = node.path(path);
        assert_eq!(found.map(|n| n.raw), *arrow, "{doc} #> {path:?}");
        assert_eq!(
            found.and_then(Node::as_text).as_deref(),
            *text,
            "{doc} #>> {path:?}"
        );
    }
}

#[test]
fn type_and_length() {
    for (doc, type_name, length) in TYPE_AND_LENGTH {
        let node = parse(doc).unwrap();
        assert_eq!(node.type_name(), *type_name, "{doc}");
        let got = node.array_len().map_err(|e| {
            assert_eq!(e.sqlstate, "22023");
            e.message
        });
        assert_eq!(got, length.map_err(str::to_owned), "{doc}");
    }
}

#[test]
fn to_jsonb() {
    for (doc, expected) in TO_JSONB {
        let node = parse(doc).unwrap();
        match (node.try_to_jsonb(), expected) {
            (Ok(value), Ok(text)) => {
                assert_eq!(value.to_string(), *text, "{doc}");
                assert_eq!(node.to_jsonb(), value, "{doc}");
            }
            (Err(error), Err(expected)) => expect_error(doc, error, expected),
            (got, _) => panic!("{doc}: got {got:?}, expected {expected:?}"),
        }
    }
    // Where the cast fails, the infallible conversion keeps what it can.
    assert_eq!(
        parse("1e200000").unwrap().to_jsonb().to_string(),
        r#""1e200000""#
    );
    assert_eq!(
        parse(r#"["\ud800"]"#).unwrap().to_jsonb().to_string(),
        "[\"\u{FFFD}\"]"
    );
}

#[test]
fn tree_keeps_source_text_and_duplicates() {
    let text = r#" {"a" : [1,  2.50e1] , "a": "x\n" } "#;
    let node = parse(text).unwrap();
    assert_eq!(node.raw, r#"{"a" : [1,  2.50e1] , "a": "x\n" }"#);
    let NodeValue::Object(fields) = &node.value else {
        panic!("not an object")
    };
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[0].1.raw, "[1,  2.50e1]");
    assert_eq!(
        fields[0].1.index(1).unwrap().value,
        NodeValue::Number("2.50e1")
    );
    assert_eq!(fields[1].1.value, NodeValue::String("x\n".to_owned()));
}

#[test]
fn nesting_limit() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    validate(&deep(omendb_json::MAX_DEPTH)).unwrap();
    let error = validate(&deep(omendb_json::MAX_DEPTH + 1)).unwrap_err();
    assert_eq!(
        (error.sqlstate, error.message.as_str()),
        ("54001", "stack depth limit exceeded")
    );
}
