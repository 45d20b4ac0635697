//! jsonpath (`jsonpath_in`/`jsonpath_out`, `jsonb_path_query`, `jsonb_path_exists`,
//! `jsonb_path_match`) against tables of what PostgreSQL 15 answered; an error is
//! (SQLSTATE, message). The tables were produced by running each case on PostgreSQL 15.18.

use omendb_json::{JsonPath, Jsonb, path_exists, path_match, path_query};

type Expected = Result<&'static str, (&'static str, &'static str)>;
type Answer = Result<Option<bool>, (&'static str, &'static str)>;

fn jsonb(text: &str) -> Jsonb {
    Jsonb::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

#[rustfmt::skip]
const DISPLAY: &[(&str, Expected)] = &[
    ("$.a[*] ? (@.b > 1)", Ok("$.\"a\"[*]?(@.\"b\" > 1)")),
    ("x", Err(("42601", "syntax error at end of jsonpath input"))),
    ("$.a +", Err(("42601", "syntax error at end of jsonpath input"))),
    ("$ ? (@ like_regex \"a\" flag \"x\")", Err(("0A000", "XQuery \"x\" flag (expanded regular expressions) is not implemented"))),
    ("strict $.\"a b\"[1 to last-1, 2].**{1 to 2}.*", Ok("strict $.\"a b\"[1 to last - 1,2].**{1 to 2}.*")),
    ("$.a + 1 * -2 / $x", Ok("($.\"a\" + (1 * -2) / $\"x\")")),
    ("($.a > 1) && !($.b == \"x\") || exists($.c)", Ok("($.\"a\" > 1 && !($.\"b\" == \"x\") || exists ($.\"c\"))")),
    ("$ ? ((@ < 1) is unknown)", Ok("$?((@ < 1) is unknown)")),
    ("$.a.type().size().double().abs().floor().ceiling().keyvalue()", Ok("$.\"a\".type().size().double().abs().floor().ceiling().keyvalue()")),
    ("1.50e2", Ok("150")),
    (".5", Ok("0.5")),
    ("1.", Ok("1")),
    ("- 1", Ok("-1")),
    ("-$", Ok("(-$)")),
    ("+1", Ok("1")),
    ("$.\"\\u0041\\n\"", Ok("$.\"A\\n\"")),
    ("last", Err(("42601", "LAST is allowed only in array subscripts"))),
    ("@", Err(("42601", "@ is not allowed in root expressions"))),
    ("$a.b", Ok("$\"a\".\"b\"")),
    ("$.a[1,2]", Ok("$.\"a\"[1,2]")),
    ("$.**", Ok("$.**")),
    ("$.**{2}", Ok("$.**{2}")),
    ("$.**{last}", Ok("$.**{last}")),
    ("$.**{0 to last}", Ok("$.**")),
    ("$.**{2 to last}", Ok("$.**{2 to last}")),
    ("$ x", Err(("42601", "syntax error at end of jsonpath input"))),
    ("$ ]", Err(("42601", "syntax error at or near \"]\" of jsonpath input"))),
    ("$..a", Err(("42601", "syntax error at or near \".\" of jsonpath input"))),
    ("1 2", Err(("42601", "syntax error at or near \"2\" of jsonpath input"))),
    ("$ ? (@.a = 1)", Err(("42601", "syntax error at or near \"=\" of jsonpath input"))),
    ("$ ? (@.a == 1) foo", Err(("42601", "syntax error at end of jsonpath input"))),
    ("$[1 to]", Err(("42601", "syntax error at or near \"]\" of jsonpath input"))),
    ("\"abc", Err(("42601", "unexpected end of quoted string at end of jsonpath input"))),
    ("$ ? (@ like_regex \"(\")", Err(("2201B", "invalid regular expression: parentheses () not balanced"))),
    ("$.a.foo()", Err(("42601", "syntax error at or near \"(\" of jsonpath input"))),
    ("$ ? (1)", Err(("42601", "syntax error at or near \")\" of jsonpath input"))),
    ("$ && 1", Err(("42601", "syntax error at or near \"&&\" of jsonpath input"))),
    ("strict", Err(("42601", "syntax error at end of jsonpath input"))),
    ("STRICT $", Ok("strict $")),
    ("Lax $", Ok("$")),
    ("$.TYPE()", Ok("$.type()")),
    ("$ ? (@ == TRUE)", Err(("42601", "syntax error at end of jsonpath input"))),
    ("$ x y", Err(("42601", "syntax error at or near \" \" of jsonpath input"))),
    ("$ \"x\"", Err(("42601", "syntax error at or near \"\"\" of jsonpath input"))),
    ("$ 1.5", Err(("42601", "syntax error at or near \"1.5\" of jsonpath input"))),
    ("$ $x", Err(("42601", "syntax error at or near \"$x\" of jsonpath input"))),
    ("$ $", Err(("42601", "syntax error at or near \"$\" of jsonpath input"))),
    ("$ ? (@ == 1) )", Err(("42601", "syntax error at or near \")\" of jsonpath input"))),
    ("$ ? (@ like_regex \"a\" flag \"z\")", Err(("42601", "invalid input syntax for type jsonpath"))),
    ("$ ? (@ like_regex \"a\" flag \"ismq\")", Ok("$?(@ like_regex \"a\" flag \"ismq\")")),
    ("$ ? (@ like_regex \"a\" flag \"\")", Ok("$?(@ like_regex \"a\")")),
    ("$.a.**{-1}", Err(("42601", "syntax error at or near \"-\" of jsonpath input"))),
    ("$[1 to 2 to 3]", Err(("42601", "syntax error at or near \" \" of jsonpath input"))),
    ("1.2.3", Err(("42601", "syntax error at or near \".3\" of jsonpath input"))),
    ("1e", Err(("42601", "trailing junk after numeric literal at or near \"1e\" of jsonpath input"))),
    ("1a", Err(("42601", "trailing junk after numeric literal at or near \"1a\" of jsonpath input"))),
    ("0a", Err(("42601", "trailing junk after numeric literal at or near \"0a\" of jsonpath input"))),
    ("01", Err(("42601", "trailing junk after numeric literal at or near \"01\" of jsonpath input"))),
    ("12ab", Err(("42601", "syntax error at end of jsonpath input"))),
    ("0x1F", Err(("42601", "syntax error at end of jsonpath input"))),
    ("1.2a", Err(("42601", "trailing junk after numeric literal at or near \"1.2a\" of jsonpath input"))),
    ("1.e3", Ok("1000")),
    ("$.1a", Err(("42601", "trailing junk after numeric literal at or near \".1a\" of jsonpath input"))),
    ("$[ * ]", Ok("$[*]")),
    ("$ ? ((@ + 1).type() == \"number\")", Ok("$?(@ + 1.type() == \"number\")")),
    ("($.a + 1).type()", Ok("($.\"a\" + 1).type()")),
    ("(1).a", Ok("(1).\"a\"")),
    ("1.a", Err(("42601", "trailing junk after numeric literal at or near \"1.a\" of jsonpath input"))),
    ("(-1).a", Ok("(-1).\"a\"")),
    ("\"x\".a", Ok("\"x\".\"a\"")),
    ("$.a /* c */ .b", Ok("$.\"a\".\"b\"")),
    ("$ ? (@ == \"\\u{41}\\x42\\v\")", Ok("$?(@ == \"AB\\u000b\")")),
    ("$ ? (@ starts with $x)", Ok("$?(@ starts with $\"x\")")),
    ("$ ? (@ starts with 1)", Err(("42601", "syntax error at or near \"1\" of jsonpath input"))),
    ("$ ? (! exists(@.a))", Ok("$?(!(exists (@.\"a\")))")),
    ("$ ? (!@.a)", Err(("42601", "syntax error at or near \"@\" of jsonpath input"))),
    ("$ ? (@.a is unknown)", Err(("42601", "syntax error at or near \" \" of jsonpath input"))),
    ("$[*] ? (@ == true || @ == null || @ != false)", Ok("$[*]?((@ == true || @ == null) || @ != false)")),
    ("$ ? (@ == 1 && (@ == 2 || @ == 3))", Ok("$?(@ == 1 && (@ == 2 || @ == 3))")),
    ("($ == 1) == true", Err(("42601", "syntax error at or near \"==\" of jsonpath input"))),
    ("$ == 1", Ok("($ == 1)")),
    ("1 + 2", Ok("(1 + 2)")),
    ("-(-1)", Ok("1")),
    ("- - 1", Ok("1")),
    ("$.true", Ok("$.\"true\"")),
    ("$.null.false", Ok("$.\"null\".\"false\"")),
    ("$.keyvalue", Ok("$.\"keyvalue\"")),
    ("$.a[$.b]", Ok("$.\"a\"[$.\"b\"]")),
    ("$[-1]", Ok("$[-1]")),
    ("$[1.5]", Ok("$[1.5]")),
    ("$ ? (@ <> 1)", Ok("$?(@ != 1)")),
    ("$.a.datetime()", Ok("$.\"a\".datetime()")),
    ("$.datetime(\"HH24\")", Ok("$.datetime(\"HH24\")")),
    ("$[last - 1 to last]", Ok("$[last - 1 to last]")),
    ("$ ? (@.a == -1.50)", Ok("$?(@.\"a\" == -1.50)")),
    ("$ like_regex \"a\"", Ok("($ like_regex \"a\")")),
    ("$ starts with \"a\"", Ok("($ starts with \"a\")")),
    ("-(1 + 2)", Ok("(-(1 + 2))")),
    ("(1 + 2) * 3", Ok("((1 + 2) * 3)")),
    ("1 - (2 - 3)", Ok("(1 - (2 - 3))")),
    ("1 - 2 - 3", Ok("((1 - 2) - 3)")),
    ("$ ? (@ == \"a\\\"b\\\\c/\")", Ok("$?(@ == \"a\\\"b\\\\c/\")")),
    ("$ ? (last == 1)", Err(("42601", "LAST is allowed only in array subscripts"))),
    ("$[@]", Err(("42601", "@ is not allowed in root expressions"))),
    ("$ ? (@ like_regex \"a\\\\d\")", Ok("$?(@ like_regex \"a\\\\d\")")),
];

/// (document, path, vars, silent): `jsonb_path_query_array`.
#[rustfmt::skip]
const QUERY: &[(&str, &str, Option<&str>, bool, Expected)] = &[
    ("{\"a\": [1, 2, {\"b\": 3}]}", "$.a", None, false, Ok("[[1, 2, {\"b\": 3}]]")),
    ("{\"a\": [1, 2, {\"b\": 3}]}", "$.a[*]", None, false, Ok("[1, 2, {\"b\": 3}]")),
    ("{\"a\": [1, 2, {\"b\": 3}]}", "$.a.b", None, false, Ok("[3]")),
    ("{\"a\": [1, 2, {\"b\": 3}]}", "strict $.a.b", None, false, Err(("2203A", "jsonpath member accessor can only be applied to an object"))),
    ("{\"a\": [1, 2, {\"b\": 3}]}", "strict $.a.b", None, true, Ok("[]")),
    ("{\"a\": 1}", "strict $.b", None, false, Err(("2203A", "JSON object does not contain key \"b\""))),
    ("{\"a\": 1}", "lax $.b", None, false, Ok("[]")),
    ("{\"a\": 1}", "$.a[0]", None, false, Ok("[1]")),
    ("{\"a\": 1}", "strict $.a[0]", None, false, Err(("22039", "jsonpath array accessor can only be applied to an array"))),
    ("{\"a\": 1}", "strict $.a[*]", None, false, Err(("22039", "jsonpath wildcard array accessor can only be applied to an array"))),
    ("{\"a\": 1}", "$.a[*]", None, false, Ok("[1]")),
    ("{\"a\": 1}", "$[0]", None, false, Ok("[{\"a\": 1}]")),
    ("{\"a\": 1}", "$[1]", None, false, Ok("[]")),
    ("[1,2,3]", "strict $[3]", None, false, Err(("22033", "jsonpath array subscript is out of bounds"))),
    ("[1,2,3]", "lax $[3]", None, false, Ok("[]")),
    ("[1,2,3]", "strict $[2 to 1]", None, false, Err(("22033", "jsonpath array subscript is out of bounds"))),
    ("[1,2,3]", "$[last]", None, false, Ok("[3]")),
    ("[1,2,3]", "$[last - 1]", None, false, Ok("[2]")),
    ("[1,2,3]", "$[0 to last]", None, false, Ok("[1, 2, 3]")),
    ("[1,2,3]", "$[1, 0, 2 to 5]", None, false, Ok("[2, 1, 3]")),
    ("[1,2,3]", "$[-1 to 1]", None, false, Ok("[1, 2]")),
    ("[1,2,3]", "strict $[-1]", None, false, Err(("22033", "jsonpath array subscript is out of bounds"))),
    ("[1,2,3]", "$[1.9]", None, false, Ok("[2]")),
    ("[1,2,3]", "$[-0.5]", None, false, Ok("[1]")),
    ("[1,2,3]", "$[\"a\"]", None, false, Err(("22033", "jsonpath array subscript is not a single numeric value"))),
    ("[1,2,3]", "$[$[*]]", None, false, Err(("22033", "jsonpath array subscript is not a single numeric value"))),
    ("[1,2,3]", "$[10000000000]", None, false, Err(("22033", "jsonpath array subscript is out of integer range"))),
    ("[]", "$[last]", None, false, Ok("[]")),
    ("[]", "strict $[last]", None, false, Err(("22033", "jsonpath array subscript is out of bounds"))),
    ("\"x\"", "$[last]", None, false, Ok("[\"x\"]")),
    ("[[1,2],[3,4,5]]", "$[*][last]", None, false, Ok("[2, 5]")),
    ("[1,[2,[3]]]", "$.a", None, false, Ok("[]")),
    ("[[{\"a\":1}], {\"a\":2}]", "$.a", None, false, Ok("[2]")),
    ("[[{\"a\":1}], {\"a\":2}]", "$[*].a", None, false, Ok("[1, 2]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "$.*", None, false, Ok("[{\"b\": 1}, [2, {\"d\": 3}]]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "strict $.*.*", None, false, Err(("2203C", "jsonpath wildcard member accessor can only be applied to an object"))),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "$.*.*", None, false, Ok("[1, 3]")),
    ("[1,{\"a\":2}]", "strict $.*", None, false, Err(("2203C", "jsonpath wildcard member accessor can only be applied to an object"))),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "$.**", None, false, Ok("[{\"a\": {\"b\": 1}, \"c\": [2, {\"d\": 3}]}, {\"b\": 1}, 1, [2, {\"d\": 3}], 2, {\"d\": 3}, 3]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "$.**{1}", None, false, Ok("[{\"b\": 1}, [2, {\"d\": 3}]]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "$.**{2 to last}", None, false, Ok("[1, 2, {\"d\": 3}, 3]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "$.**{last}", None, false, Ok("[1, 2, 3]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "lax $.**.d", None, false, Ok("[3, 3]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "strict $.**.d", None, false, Ok("[3]")),
    ("{\"a\":{\"b\":1},\"c\":[2,{\"d\":3}]}", "$.**{0}", None, false, Ok("[{\"a\": {\"b\": 1}, \"c\": [2, {\"d\": 3}]}]")),
    ("{\"a\":[1,{\"b\":1}]}", "$.**.b", None, false, Ok("[1, 1]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (@ > 2)", None, false, Ok("[5]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "strict $[*] ? (@ > 2)", None, false, Ok("[5]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (@ == null)", None, false, Ok("[null]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (@ != null)", None, false, Ok("[1, 5, \"x\", true, {\"a\": 7}]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? ((@ > 2) is unknown)", None, false, Ok("[\"x\", true, {\"a\": 7}]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (!(@ > 2))", None, false, Ok("[1, null]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$ ? (@[*] > 2)", None, false, Ok("[5]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "strict $ ? (@[*] > 2)", None, false, Ok("[]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (@.a > 2)", None, false, Ok("[{\"a\": 7}]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (exists (@.a))", None, false, Ok("[{\"a\": 7}]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (@ == true)", None, false, Ok("[true]")),
    ("[1, 5, \"x\", null, true, {\"a\": 7}]", "$[*] ? (@ < true)", None, false, Ok("[]")),
    ("[{\"a\":1,\"b\":2},{\"a\":3,\"b\":1}]", "$[*] ? (@.a > 1 && @.b < 2)", None, false, Ok("[{\"a\": 3, \"b\": 1}]")),
    ("[{\"a\":1,\"b\":2},{\"a\":3,\"b\":1}]", "$[*] ? (@.a > 1 || @.c < 2)", None, false, Ok("[{\"a\": 3, \"b\": 1}]")),
    ("[{\"a\":1,\"b\":2},{\"a\":3,\"b\":1}]", "$[*] ? (@.c > 1 || @.a < 2)", None, false, Ok("[{\"a\": 1, \"b\": 2}]")),
    ("[{\"a\":1,\"b\":2},{\"a\":3,\"b\":1}]", "$[*] ? (@.a == $x).b", Some("{\"x\": 3}"), false, Ok("[1]")),
    ("[{\"a\":1,\"b\":2},{\"a\":3,\"b\":1}]", "$[*] ? (@.a == $y).b", Some("{\"x\": 3}"), false, Err(("42704", "could not find jsonpath variable \"y\""))),
    ("[{\"a\":1,\"b\":2},{\"a\":3,\"b\":1}]", "$[*] ? (@.a == $y).b", Some("{\"x\": 3}"), true, Err(("42704", "could not find jsonpath variable \"y\""))),
    ("[{\"a\":1,\"b\":2},{\"a\":3,\"b\":1}]", "$x", Some("[1]"), false, Err(("22023", "\"vars\" argument is not an object"))),
    ("{\"a\":[1,2,3]}", "$.a ? (@ >= 2)", None, false, Ok("[2, 3]")),
    ("{\"a\":[1,2,3]}", "strict $.a ? (@ >= 2)", None, false, Ok("[]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"^ab\")", None, false, Ok("[\"abc\", \"abd\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"^ab\" flag \"i\")", None, false, Ok("[\"abc\", \"abd\", \"ABC\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"a.b\")", None, false, Ok("[]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"a.b\" flag \"s\")", None, false, Ok("[\"a\\nb\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"^b$\" flag \"m\")", None, false, Ok("[\"b\", \"a\\nb\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"(c|d)$\")", None, false, Ok("[\"abc\", \"abd\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"[b-c]{2}\")", None, false, Ok("[\"abc\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"a.c\" flag \"q\")", None, false, Ok("[]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"^[^a]\")", None, false, Ok("[\"b\", \"ABC\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ like_regex \"^\\\\w+$\")", None, false, Ok("[\"abc\", \"abd\", \"b\", \"ABC\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ starts with \"ab\")", None, false, Ok("[\"abc\", \"abd\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$[*] ? (@ starts with $p)", Some("{\"p\": \"a\"}"), false, Ok("[\"abc\", \"abd\", \"a\\nb\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "strict $[*] ? (@ starts with \"ab\")", None, false, Ok("[\"abc\", \"abd\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "$ ? (@ like_regex \"^ab\")", None, false, Ok("[\"abc\", \"abd\"]")),
    ("[\"abc\", \"abd\", \"b\", \"ABC\", \"a\\nb\", 1]", "strict $ ? (@[*] like_regex \"^ab\")", None, false, Ok("[]")),
    ("[\"a\", \"b\", \"é\", \"B\"]", "$[*] ? (@ > \"a\")", None, false, Ok("[\"b\", \"é\"]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.a + $.b", None, false, Ok("[-0.50]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.a - $.b", None, false, Ok("[5.50]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.a * $.b", None, false, Ok("[-7.50]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.a / $.b", None, false, Ok("[-0.83333333333333333333]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.b / $.a", None, false, Ok("[-1.2000000000000000]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.b % $.a", None, false, Ok("[-0.50]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.a % $.b", None, false, Ok("[2.50]")),
    ("{\"a\": 2.50, \"b\": -3}", "1 / 3", None, false, Ok("[0.33333333333333333333]")),
    ("{\"a\": 2.50, \"b\": -3}", "10 / 4", None, false, Ok("[2.5000000000000000]")),
    ("{\"a\": 2.50, \"b\": -3}", "12345678 / 0.001", None, false, Ok("[12345678000.00000000]")),
    ("{\"a\": 2.50, \"b\": -3}", "0.0001 / 3", None, false, Ok("[0.000033333333333333333333]")),
    ("{\"a\": 2.50, \"b\": -3}", "1 / 0", None, false, Err(("22012", "division by zero"))),
    ("{\"a\": 2.50, \"b\": -3}", "1 / 0", None, true, Ok("[]")),
    ("{\"a\": 2.50, \"b\": -3}", "1 % 0", None, false, Err(("22012", "division by zero"))),
    ("{\"a\": 2.50, \"b\": -3}", "-$.a", None, false, Ok("[-2.50]")),
    ("{\"a\": 2.50, \"b\": -3}", "+$.b", None, false, Ok("[-3]")),
    ("{\"a\": 2.50, \"b\": -3}", "-$.c", None, false, Ok("[]")),
    ("{\"a\": 2.50, \"b\": -3}", "strict -$.c", None, false, Err(("2203A", "JSON object does not contain key \"c\""))),
    ("{\"a\": 2.50, \"b\": -3}", "-$", None, false, Err(("2203B", "operand of unary jsonpath operator - is not a numeric value"))),
    ("{\"a\": 2.50, \"b\": -3}", "$.a + \"x\"", None, false, Err(("22038", "right operand of jsonpath operator + is not a single numeric value"))),
    ("{\"a\": 2.50, \"b\": -3}", "\"x\" * 2", None, false, Err(("22038", "left operand of jsonpath operator * is not a single numeric value"))),
    ("{\"a\": 2.50, \"b\": -3}", "$.c + 1", None, false, Err(("22038", "left operand of jsonpath operator + is not a single numeric value"))),
    ("{\"a\": 2.50, \"b\": -3}", "$.c + 1", None, true, Ok("[]")),
    ("[1,2]", "$ + 1", None, false, Err(("22038", "left operand of jsonpath operator + is not a single numeric value"))),
    ("[1,2]", "$[*] + 1", None, false, Err(("22038", "left operand of jsonpath operator + is not a single numeric value"))),
    ("[1,2]", "-$[*]", None, false, Ok("[-1, -2]")),
    ("[1,\"a\"]", "-$[*]", None, false, Err(("2203B", "operand of unary jsonpath operator - is not a numeric value"))),
    ("{\"a\": 2.50, \"b\": -3}", "$.a > $.b", None, false, Ok("[true]")),
    ("{\"a\": 2.50, \"b\": -3}", "$.a > \"x\"", None, false, Ok("[null]")),
    ("{\"a\": 2.50, \"b\": -3}", "($.a > $.b).type()", None, false, Ok("[\"boolean\"]")),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "$.*.type()", None, false, Ok("[\"array\", \"object\"]")),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "$.a.type()", None, false, Ok("[\"array\"]")),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "$.a.size()", None, false, Ok("[2]")),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "$.b.size()", None, false, Ok("[1]")),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "strict $.b.size()", None, false, Err(("22039", "jsonpath item method .size() can only be applied to an array"))),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "$.keyvalue()", None, false, Ok("[{\"id\": 0, \"key\": \"a\", \"value\": [1, 2]}, {\"id\": 0, \"key\": \"b\", \"value\": {\"c\": 1}}]")),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "$.a.keyvalue()", None, false, Err(("2203C", "jsonpath item method .keyvalue() can only be applied to an object"))),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "strict $.a.keyvalue()", None, false, Err(("2203C", "jsonpath item method .keyvalue() can only be applied to an object"))),
    ("{\"a\": [1,2], \"b\": {\"c\": 1}}", "$.keyvalue().key", None, false, Ok("[\"a\", \"b\"]")),
    ("{}", "$.keyvalue()", None, false, Ok("[]")),
    ("[-1.5, 2.5, \"3\", -0.5]", "$[*].abs()", None, false, Err(("22036", "jsonpath item method .abs() can only be applied to a numeric value"))),
    ("[-1.5, 2.5, \"3\", -0.5]", "$[0 to 1].floor()", None, false, Ok("[-2, 2]")),
    ("[-1.5, 2.5, \"3\", -0.5]", "$[0 to 1].ceiling()", None, false, Ok("[-1, 3]")),
    ("[-1.5, 2.5, \"3\", -0.5]", "$[3].ceiling()", None, false, Ok("[0]")),
    ("[-1.5, 2.5, \"3\", -0.5]", "$.floor()", None, false, Err(("22036", "jsonpath item method .floor() can only be applied to a numeric value"))),
    ("[-1.5, 2.5, \"3\", -0.5]", "strict $.floor()", None, false, Err(("22036", "jsonpath item method .floor() can only be applied to a numeric value"))),
    ("[-1.5, 2.5, \"3\", -0.5]", "$[2].floor()", None, false, Err(("22036", "jsonpath item method .floor() can only be applied to a numeric value"))),
    ("[-1.5, 2.5, \"3\", -0.5]", "$.double()", None, false, Ok("[-1.5, 2.5, 3, -0.5]")),
    ("[\"1.2345678901234567\", \"1e3\", \" 2 \", \"x\", \"NaN\", 1.50, true]", "$[0 to 2].double()", None, false, Ok("[1.23456789012346, 1000, 2]")),
    ("[\"1.2345678901234567\", \"1e3\", \" 2 \", \"x\", \"NaN\", 1.50, true]", "$[3].double()", None, false, Err(("22036", "string argument of jsonpath item method .double() is not a valid representation of a double precision number"))),
    ("[\"1.2345678901234567\", \"1e3\", \" 2 \", \"x\", \"NaN\", 1.50, true]", "$[4].double()", None, false, Err(("22036", "string argument of jsonpath item method .double() is not a valid representation of a double precision number"))),
    ("[\"1.2345678901234567\", \"1e3\", \" 2 \", \"x\", \"NaN\", 1.50, true]", "$[5].double()", None, false, Ok("[1.50]")),
    ("[\"1.2345678901234567\", \"1e3\", \" 2 \", \"x\", \"NaN\", 1.50, true]", "$[6].double()", None, false, Err(("22036", "jsonpath item method .double() can only be applied to a string or numeric value"))),
    ("1e400", "$.double()", None, false, Err(("22036", "numeric argument of jsonpath item method .double() is out of range for type double precision"))),
    ("{\"a\": 1}", "$.a == 1", None, false, Ok("[true]")),
    ("{\"a\": 1}", "$.b == 1", None, false, Ok("[false]")),
    ("{\"a\": 1}", "$.a == \"1\"", None, false, Ok("[null]")),
    ("{\"a\": 1}", "exists($.b)", None, false, Ok("[false]")),
    ("{\"a\": 1}", "strict exists($.b)", None, false, Ok("[null]")),
    ("{\"a\": 1}", "$ ? (exists (@.b))", None, false, Ok("[]")),
    ("{\"a\": 1}", "strict $ ? (exists (@.b))", None, false, Ok("[]")),
    ("{\"a\": 1}", "\"abc\"", None, false, Ok("[\"abc\"]")),
    ("{\"a\": 1}", "$.a.type().size()", None, false, Ok("[1]")),
    ("{\"a\": [1,2,3]}", "$.a[$.a[0]]", None, false, Ok("[2]")),
    ("{\"a\": [1,2,3]}", "$.a[last - $.a[0]]", None, false, Ok("[2]")),
    ("{\"a\": {\"a\": {\"a\": 1}}}", "$.a.a ? (@.a == 1)", None, false, Ok("[{\"a\": 1}]")),
    ("[{\"a\": [1,2]}, {\"a\": 3}]", "$[*] ? (@.a[*] == 2)", None, false, Ok("[{\"a\": [1, 2]}]")),
    ("[{\"a\": [1,2]}, {\"a\": 3}]", "strict $[*] ? (@.a[*] == 2)", None, false, Ok("[{\"a\": [1, 2]}]")),
    ("[{\"a\": [1,2]}, {\"a\": 3}]", "strict $[*] ? (@.a == 3)", None, false, Ok("[{\"a\": 3}]")),
    ("[{\"a\": [1,2]}, {\"a\": 3}]", "$[*] ? (@.a == 3)", None, false, Ok("[{\"a\": 3}]")),
    ("[[1,2],[3]]", "$ ? (@ == 3)", None, false, Ok("[[3]]")),
    ("[[1,2],[3]]", "$[*] ? (@ == 3)", None, false, Ok("[3]")),
    ("{\"x\": null}", "$ ? (@.x == $v)", Some("{\"v\": null}"), false, Ok("[{\"x\": null}]")),
    ("{\"x\": [1,2]}", "$ ? (@.x == $v)", Some("{\"v\": [2]}"), false, Ok("[{\"x\": [1, 2]}]")),
    ("{\"x\": [1,2]}", "$.x ? (@ == $v[*])", Some("{\"v\": [2, 3]}"), false, Ok("[2]")),
];

/// (document, path, silent): `jsonb_path_exists` (None is NULL).
#[rustfmt::skip]
const EXISTS: &[(&str, &str, bool, Answer)] = &[
    ("{\"a\": 1}", "$.a", false, Ok(Some(true))),
    ("{\"a\": 1}", "$.b", false, Ok(Some(false))),
    ("{\"a\": 1}", "strict $.b", false, Err(("2203A", "JSON object does not contain key \"b\""))),
    ("{\"a\": 1}", "strict $.b", true, Ok(None)),
    ("[1,2]", "strict $[5]", true, Ok(None)),
    ("[1,2]", "$[5]", false, Ok(Some(false))),
    ("[1,2]", "$ ? (@[*] > 1)", false, Ok(Some(true))),
    ("{\"a\": 1}", "$.a > 5", false, Ok(Some(true))),
    ("{\"a\": 1}", "1 / 0", false, Err(("22012", "division by zero"))),
    ("{\"a\": 1}", "1 / 0", true, Ok(None)),
    ("[1,2,\"x\"]", "$[*] ? (@ > 1)", false, Ok(Some(true))),
    ("[1,2,\"x\"]", "strict $[*] ? (@ > 1)", false, Ok(Some(true))),
    ("[1, \"a\"]", "lax $[*] + 1", true, Ok(None)),
    ("[1, \"a\"]", "-$[*]", false, Ok(Some(true))),
    ("[{\"a\":1}, 2]", "lax $[*].a", false, Ok(Some(true))),
    ("[{\"a\":1}, 2]", "strict $[*].a", false, Err(("2203A", "jsonpath member accessor can only be applied to an object"))),
    ("[{\"a\":1}, 2]", "strict $[*].a", true, Ok(None)),
];

/// (document, path, silent): `jsonb_path_match` (None is NULL).
#[rustfmt::skip]
const MATCH: &[(&str, &str, bool, Answer)] = &[
    ("{\"a\": 1}", "$.a == 1", false, Ok(Some(true))),
    ("{\"a\": 1}", "$.a > 1", false, Ok(Some(false))),
    ("{\"a\": 1}", "$.a == \"x\"", false, Ok(None)),
    ("{\"a\": 1}", "$.a", false, Err(("22038", "single boolean result is expected"))),
    ("{\"a\": 1}", "$.a", true, Ok(None)),
    ("{\"a\": true}", "$.a", false, Ok(Some(true))),
    ("{\"a\": null}", "$.a", false, Ok(None)),
    ("[true, true]", "$[*]", false, Err(("22038", "single boolean result is expected"))),
    ("[true, true]", "$[*]", true, Ok(None)),
    ("{\"a\": 1}", "exists($.a)", false, Ok(Some(true))),
    ("{\"a\": 1}", "$.b == 1", false, Ok(Some(false))),
    ("{\"a\": 1}", "strict $.b == 1", false, Ok(None)),
    ("[1, 2]", "$[*] > 1", false, Ok(Some(true))),
    ("[1, 2]", "strict $[*] > 1", false, Ok(Some(true))),
    ("[1, \"x\"]", "strict $[*] > 1", false, Ok(None)),
    ("[1, \"x\"]", "$[*] > 1", false, Ok(None)),
    ("{\"a\": 1}", "strict $.b", true, Ok(None)),
    ("{\"a\": 1}", "strict $.b", false, Err(("2203A", "JSON object does not contain key \"b\""))),
];

#[test]
fn jsonpath_in_out() {
    let mut failures = Vec::new();
    for (text, expected) in DISPLAY {
        let got = JsonPath::parse(text);
        let got = got.as_ref().map(ToString::to_string);
        let got = got
            .as_ref()
            .map(String::as_str)
            .map_err(|e| (e.sqlstate, e.message.as_str()));
        if got != *expected {
            failures.push(format!("{text:?}: got {got:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn output_reads_back_the_same() {
    for (text, expected) in DISPLAY {
        // PostgreSQL's own output for an operator with accessors does not read back.
        if let Ok(out) = expected
            && *out != "$?(@ + 1.type() == \"number\")"
        {
            let again = JsonPath::parse(out).unwrap_or_else(|e| panic!("{out}: {e:?}"));
            assert_eq!(again.to_string(), *out, "{text}");
        }
    }
}

fn path(text: &str) -> JsonPath {
    JsonPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

#[test]
fn query() {
    let mut failures = Vec::new();
    for (doc, p, vars, silent, expected) in QUERY {
        let vars = jsonb(vars.unwrap_or("{}"));
        let got = path_query(&jsonb(doc), &path(p), Some(&vars), *silent)
            .map(|items| Jsonb::Array(items).to_string());
        let got = got
            .as_ref()
            .map(String::as_str)
            .map_err(|e| (e.sqlstate, e.message.as_str()));
        if got != *expected {
            failures.push(format!(
                "{doc} {p:?} silent={silent}: got {got:?}, expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exists_and_match() {
    let mut failures = Vec::new();
    let vars = jsonb("{}");
    for (table, f) in [
        (
            EXISTS,
            path_exists as fn(&Jsonb, &JsonPath, Option<&Jsonb>, bool) -> _,
        ),
        (MATCH, path_match),
    ] {
        for (doc, p, silent, expected) in table {
            let got = f(&jsonb(doc), &path(p), Some(&vars), *silent);
            let got = got
                .as_ref()
                .copied()
                .map_err(|e| (e.sqlstate, e.message.as_str()));
            if got != *expected {
                failures.push(format!(
                    "{doc} {p:?} silent={silent}: got {got:?}, expected {expected:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The operators `@?` and `@@` pass no vars at all; PostgreSQL then reads every variable as null:
/// `'{"a":1}' @? '$ ? ($x == null)'` is true, and `@@` of `$x == null` too.
#[test]
fn operators_without_vars() {
    let doc = jsonb(r#"{"a": 1}"#);
    assert_eq!(
        path_exists(&doc, &path("$ ? ($x == null)"), None, true),
        Ok(Some(true))
    );
    assert_eq!(
        path_match(&doc, &path("$x == null"), None, true),
        Ok(Some(true))
    );
    // With vars, a missing one is an error even when silent (PostgreSQL raises it directly).
    let e = path_exists(&doc, &path("$x"), Some(&jsonb("{}")), true).unwrap_err();
    assert_eq!(
        (e.sqlstate, e.message.as_str()),
        ("42704", "could not find jsonpath variable \"x\"")
    );
    // vars must be an object: 22023 with PostgreSQL's DETAIL.
    let e = path_query(&doc, &path("$"), Some(&jsonb("[1]")), true).unwrap_err();
    assert_eq!(
        (e.sqlstate, e.message.as_str()),
        ("22023", "\"vars\" argument is not an object")
    );
}

/// Regex constructs outside the supported subset are refused when the path is read (2201B). A
/// deviation: PostgreSQL accepts all of these.
#[test]
fn unsupported_regex_is_refused() {
    for pattern in [r"(a)\\1", "(?=a)", "a*?", "[[:alpha:]]"] {
        let text = format!("$ ? (@ like_regex \"{pattern}\")");
        let e = JsonPath::parse(&text).unwrap_err();
        assert_eq!(e.sqlstate, "2201B", "{text}");
    }
}
