//! `jsonb`: reading, output, and the read-only operators, against tables of what PostgreSQL 15
//! answered (each table names the query that produced it).

use omendb_json::{Jsonb, Number, quote};

/// (SQLSTATE, message, DETAIL, CONTEXT), empty where PostgreSQL sends none.
type PgError = (&'static str, &'static str, &'static str, &'static str);
/// A `text[]` path; `None` is a NULL element.
type Path = &'static [Option<&'static str>];

fn jsonb(text: &str) -> Jsonb {
    Jsonb::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

/// `select $1::jsonb::text` (jsonb_out of jsonb_in).
#[rustfmt::skip]
const CANONICAL: &[(&str, &str)] = &[
    ("{\"b\":1, \"a\":2, \"aa\":3, \"a\":4, \"\":5, \"B\":6, \"é\":7, \"z\":8}", "{\"\": 5, \"B\": 6, \"a\": 4, \"b\": 1, \"z\": 8, \"aa\": 3, \"é\": 7}"),
    ("[1, \"a\\u00e9\\n\\t\\u0001\\u001f\\u007f\\\"\\\\\\/\\b\\f\\r\", true, false, null, {}, [], {\"a\":{}}]", "[1, \"aé\\n\\t\\u0001\\u001f\u{7f}\\\"\\\\/\\b\\f\\r\", true, false, null, {}, [], {\"a\": {}}]"),
    ("-0", "0"),
    ("-0.0", "0.0"),
    ("1e2", "100"),
    ("1.50", "1.50"),
    ("1E-3", "0.001"),
    ("1.50e1", "15.0"),
    ("0e5", "0"),
    ("0.0e-2", "0.000"),
    ("-0e-2", "0.00"),
    ("123456789012345678901234567890.123", "123456789012345678901234567890.123"),
    ("1.5e-3", "0.0015"),
    ("-1.5E+3", "-1500"),
    ("9.99e0", "9.99"),
    ("  {\"a\" :\n[1,  2] }  ", "{\"a\": [1, 2]}"),
    ("\"\\ud83d\\ude00\"", "\"😀\""),
    ("\"/\\u2028\"", "\"/\u{2028}\""),
    ("{\"a\":{\"b\":1},\"a\":{\"c\":2}}", "{\"a\": {\"c\": 2}}"),
    ("[{\"b\":1,\"a\":2}]", "[{\"a\": 2, \"b\": 1}]"),
];

/// `select $1::jsonb` on numbers numeric cannot hold (the error comes after the next token is read).
#[rustfmt::skip]
const NUMBER_ERRORS: &[(&str, PgError)] = &[
    ("1e200000", ("22003", "value overflows numeric format", "", "")),
    ("1e131072", ("22003", "value overflows numeric format", "", "")),
    ("1e-16384", ("22003", "value overflows numeric format", "", "")),
    ("0.0e-16383", ("22003", "value overflows numeric format", "", "")),
    ("1e9999999999", ("22003", "value overflows numeric format", "", "")),
    ("[1e200000, @]", ("22003", "value overflows numeric format", "", "")),
    ("[1e200000, 2", ("22003", "value overflows numeric format", "", "")),
    ("{\"a\": 1e-20000}", ("22003", "value overflows numeric format", "", "")),
];

/// `select jsonb_pretty($1)`.
#[rustfmt::skip]
const PRETTY: &[(&str, &str)] = &[
    ("[]", "[\n]"),
    ("{}", "{\n}"),
    ("1", "1"),
    ("\"a\"", "\"a\""),
    ("null", "null"),
    ("[1]", "[\n    1\n]"),
    ("{\"a\":[]}", "{\n    \"a\": [\n    ]\n}"),
    ("{\"a\":{}}", "{\n    \"a\": {\n    }\n}"),
    ("[[],{}]", "[\n    [\n    ],\n    {\n    }\n]"),
    ("{\"a\":1,\"b\":[1,{\"c\":[]}],\"d\":{\"e\":null}}", "{\n    \"a\": 1,\n    \"b\": [\n        1,\n        {\n            \"c\": [\n            ]\n        }\n    ],\n    \"d\": {\n        \"e\": null\n    }\n}"),
    ("[[1,2],[3]]", "[\n    [\n        1,\n        2\n    ],\n    [\n        3\n    ]\n]"),
    ("[{\"a\":1},{}]", "[\n    {\n        \"a\": 1\n    },\n    {\n    }\n]"),
    ("{\"k\\n\":\"v\\t\"}", "{\n    \"k\\n\": \"v\\t\"\n}"),
];

/// `select $1::jsonb -> $2, $1::jsonb ->> $2`.
#[rustfmt::skip]
const GET: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("{\"a\":[1,2],\"bb\":{\"c\":\"x\"}}", "a", Some("[1, 2]"), Some("[1, 2]")),
    ("{\"a\":[1,2],\"bb\":{\"c\":\"x\"}}", "bb", Some("{\"c\": \"x\"}"), Some("{\"c\": \"x\"}")),
    ("{\"a\":[1,2],\"bb\":{\"c\":\"x\"}}", "b", None, None),
    ("{\"a\":null}", "a", Some("null"), None),
    ("{\"a\":\"x\\ny\"}", "a", Some("\"x\\ny\""), Some("x\ny")),
    ("[\"a\"]", "a", None, None),
    ("\"a\"", "a", None, None),
    ("{\"a\":1.50}", "a", Some("1.50"), Some("1.50")),
    ("{\"a\":true}", "a", Some("true"), Some("true")),
];

/// `select $1::jsonb -> $2::int, $1::jsonb ->> $2::int`: a top-level scalar answers to 0 and -1.
#[rustfmt::skip]
const INDEX: &[(&str, i64, Option<&str>, Option<&str>)] = &[
    ("[1,2,3]", -1, Some("3"), Some("3")),
    ("[1,2,3]", -3, Some("1"), Some("1")),
    ("[1,2,3]", -4, None, None),
    ("[1,2,3]", 3, None, None),
    ("{\"a\":1}", 0, None, None),
    ("1", 0, Some("1"), Some("1")),
    ("\"a\"", 0, Some("\"a\""), Some("a")),
    ("\"a\"", -1, Some("\"a\""), Some("a")),
    ("\"a\"", 1, None, None),
    ("\"a\"", -2, None, None),
    ("null", 0, Some("null"), None),
    ("[{\"b\":2,\"a\":1}]", 0, Some("{\"a\": 1, \"b\": 2}"), Some("{\"a\": 1, \"b\": 2}")),
];

/// `select $1::jsonb #> $2, $1::jsonb #>> $2`.
#[rustfmt::skip]
const PATH: &[(&str, Path, Option<&str>, Option<&str>)] = &[
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some("1"), Some("b")], Some("null"), None),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some("-1")], Some("{\"b\": null}"), Some("{\"b\": null}")),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some("-3")], None, None),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some(" 1")], Some("{\"b\": null}"), Some("{\"b\": null}")),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some("+1")], Some("{\"b\": null}"), Some("{\"b\": null}")),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some("1 ")], None, None),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some("1x")], None, None),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), Some("4294967297")], None, None),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("a"), None], None, None),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[None], None, None),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[], Some("{\"a\": [1, {\"b\": null}], \"c\": \"x\"}"), Some("{\"a\": [1, {\"b\": null}], \"c\": \"x\"}")),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("c")], Some("\"x\""), Some("x")),
    ("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", &[Some("c"), Some("0")], None, None),
    ("1", &[], Some("1"), Some("1")),
    ("1", &[Some("0")], None, None),
    ("1", &[Some("a")], None, None),
    ("\"x\"", &[], Some("\"x\""), Some("x")),
    ("null", &[], Some("null"), None),
];

/// `select $1::jsonb ? $2`.
#[rustfmt::skip]
const EXISTS: &[(&str, &str, bool)] = &[
    ("\"foo\"", "foo", true),
    ("[\"foo\",1]", "foo", true),
    ("[[\"foo\"]]", "foo", false),
    ("{\"a\":{\"foo\":1}}", "foo", false),
    ("{\"foo\":null}", "foo", true),
    ("1", "1", false),
    ("[1]", "1", false),
    ("{\"a\":\"foo\"}", "foo", false),
    ("[true]", "true", false),
    ("\"foo\"", "fo", false),
];

/// `select jsonb_typeof($1), jsonb_array_length($1)`.
#[rustfmt::skip]
const TYPE_AND_LENGTH: &[(&str, &str, Result<usize, &str>)] = &[
    ("1", "number", Err("cannot get array length of a scalar")),
    ("\"a\"", "string", Err("cannot get array length of a scalar")),
    ("null", "null", Err("cannot get array length of a scalar")),
    ("false", "boolean", Err("cannot get array length of a scalar")),
    ("[]", "array", Ok(0)),
    ("{}", "object", Err("cannot get array length of a non-array")),
    ("[1,[2,3]]", "array", Ok(2)),
];

/// `select to_jsonb($1::float8)`: float8out's text read as numeric, or a string.
#[rustfmt::skip]
const FLOAT8: &[(f64, &str)] = &[
    (1.5, "1.5"),
    (f64::NAN, "\"NaN\""),
    (f64::INFINITY, "\"Infinity\""),
    (f64::NEG_INFINITY, "\"-Infinity\""),
    (1e20, "100000000000000000000"),
    (1e-5, "0.00001"),
    (0.1, "0.1"),
    (-0.0, "0"),
    (123456789012345680000.0, "123456789012345680000"),
    (100.0, "100"),
    (1e15, "1000000000000000"),
    (1e16, "10000000000000000"),
    (0.0001, "0.0001"),
    (1.25e-7, "0.000000125"),
    (3.121202014301527e+16, "31212020143015272"),
    (-6.544564026887438e+16, "-65445640268874384"),
    (1.7976931348623157e308, "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"),
];

/// `select to_jsonb($1::float4)`.
#[rustfmt::skip]
#[expect(clippy::excessive_precision, reason = "the literals are the exact float4 values tested")]
const FLOAT4: &[(f32, &str)] = &[
    (0.1, "0.1"),
    (1230720.25, "1230720.2"),
    (-71796544.0, "-71796544"),
    (152159392.0, "152159390"),
    (3.4028235e38, "340282350000000000000000000000000000000"),
    (1e-45, "0.000000000000000000000000000000000000000000001"),
    (16777217.0, "16777216"),
];

#[test]
fn canonical_form() {
    for (input, output) in CANONICAL {
        let value = jsonb(input);
        assert_eq!(value.to_string(), *output, "{input}");
        // Output reads back as the same value.
        assert_eq!(jsonb(output), value, "{output}");
    }
}

#[test]
fn number_errors() {
    for (input, expected) in NUMBER_ERRORS {
        let e = Jsonb::parse(input).unwrap_err();
        let got = (
            e.sqlstate,
            e.message.as_str(),
            e.detail.as_str(),
            e.context.as_deref().unwrap_or(""),
        );
        assert_eq!(got, *expected, "{input}");
    }
}

#[test]
fn pretty() {
    for (input, output) in PRETTY {
        assert_eq!(jsonb(input).pretty(), *output, "{input}");
    }
}

#[test]
fn get() {
    for (doc, key, arrow, text) in GET {
        let value = jsonb(doc);
        let found = value.get(key);
        assert_eq!(
            found.map(Jsonb::to_string).as_deref(),
            *arrow,
            "{doc} -> {key}"
        );
        assert_eq!(
            found.and_then(Jsonb::as_text).as_deref(),
            *text,
            "{doc} ->> {key}"
        );
    }
}

#[test]
fn index() {
    for (doc, i, arrow, text) in INDEX {
        let value = jsonb(doc);
        let found = value.index(*i);
        assert_eq!(
            found.map(Jsonb::to_string).as_deref(),
            *arrow,
            "{doc} -> {i}"
        );
        assert_eq!(
            found.and_then(Jsonb::as_text).as_deref(),
            *text,
            "{doc} ->> {i}"
        );
    }
}

#[test]
fn path() {
    for (doc, path, arrow, text) in PATH {
        let value = jsonb(doc);
        let found = value.path(path);
        assert_eq!(
            found.map(Jsonb::to_string).as_deref(),
            *arrow,
            "{doc} #> {path:?}"
        );
        assert_eq!(
            found.and_then(Jsonb::as_text).as_deref(),
            *text,
            "{doc} #>> {path:?}"
        );
    }
}

#[test]
fn exists() {
    for (doc, key, expected) in EXISTS {
        assert_eq!(jsonb(doc).exists(key), *expected, "{doc} ? {key}");
    }
    let value = jsonb(r#"{"a": 1, "b": 2}"#);
    assert!(value.exists_any(&["x", "b"]) && !value.exists_any(&[]));
    assert!(
        value.exists_all(&["a", "b"]) && value.exists_all(&[]) && !value.exists_all(&["a", "x"])
    );
}

#[test]
fn type_and_length() {
    for (doc, type_name, length) in TYPE_AND_LENGTH {
        let value = jsonb(doc);
        assert_eq!(value.type_name(), *type_name, "{doc}");
        let got = value.array_len().map_err(|e| {
            assert_eq!(e.sqlstate, "22023");
            e.message
        });
        assert_eq!(got, length.map_err(str::to_owned), "{doc}");
    }
}

#[test]
fn floats() {
    for (value, output) in FLOAT8 {
        assert_eq!(Jsonb::from_f64(*value).to_string(), *output, "{value:e}");
    }
    for (value, output) in FLOAT4 {
        let got =
            Number::from_f32(*value).map_or_else(|| "non-finite".to_owned(), |n| n.to_string());
        assert_eq!(got, *output, "{value:e}");
    }
}

#[test]
fn quoting() {
    // `select to_json(E'a\x01\x7f\u2028é"\\\b\f\n\r\t/'::text)`: DEL, U+2028 and `/` stay as they are.
    assert_eq!(
        quote("a\u{1}\u{7f}\u{2028}é\"\\\u{8}\u{c}\n\r\t/"),
        "\"a\\u0001\u{7f}\u{2028}é\\\"\\\\\\b\\f\\n\\r\\t/\""
    );
    assert_eq!(quote(""), "\"\"");
}

#[test]
fn object_construction() {
    // `select jsonb_build_object('b', 1, 'a', 2, 'b', 3)`: sorted, the last duplicate wins.
    let pairs = vec![
        ("b".to_owned(), Jsonb::Bool(true)),
        ("a".to_owned(), Jsonb::Null),
        ("b".to_owned(), Jsonb::Bool(false)),
    ];
    assert_eq!(
        Jsonb::object(pairs).to_string(),
        r#"{"a": null, "b": false}"#
    );
    assert_eq!(omendb_json::key_order("b", "aa"), std::cmp::Ordering::Less);
}
