//! Properties over generated jsonb values: output reads back as the same value, and `compare` is a
//! total order that agrees with `==` and with hashing.

use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};

use omendb_json::{Jsonb, Number};
use proptest::prelude::*;

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from_i64),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        // Decimal text with a scale, an exponent and leading zeros to normalise away.
        ("-?[0-9]{1,20}(\\.[0-9]{1,12})?([eE][-+]?[0-9]{1,2})?")
            .prop_filter_map("numeric", |t| Number::parse(&t)),
    ]
}

/// Strings with what output must escape, non-ASCII, and no NUL (PostgreSQL text holds none).
fn text() -> impl Strategy<Value = String> {
    "[a-z\u{1}-\u{1f}\"\\\\/\u{7f}é€😀\u{2028} ]{0,8}"
}

fn jsonb() -> impl Strategy<Value = Jsonb> {
    let leaf = prop_oneof![
        Just(Jsonb::Null),
        any::<bool>().prop_map(Jsonb::Bool),
        number().prop_map(Jsonb::Number),
        text().prop_map(Jsonb::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Jsonb::Array),
            prop::collection::vec((text(), inner), 0..6).prop_map(Jsonb::object),
        ]
    })
}

/// The same value with every number written with extra trailing zeros: equal, not identical.
fn padded(value: &Jsonb) -> Jsonb {
    match value {
        Jsonb::Number(n) => {
            let text = n.as_str();
            let wider = if text.contains('.') {
                format!("{text}00")
            } else {
                format!("{text}.0")
            };
            Jsonb::Number(Number::parse(&wider).expect("a wider number still parses"))
        }
        Jsonb::Array(items) => Jsonb::Array(items.iter().map(padded).collect()),
        Jsonb::Object(pairs) => {
            Jsonb::Object(pairs.iter().map(|(k, v)| (k.clone(), padded(v))).collect())
        }
        scalar => scalar.clone(),
    }
}

fn hash(value: &Jsonb) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

proptest! {
    #[test]
    fn output_reads_back(value in jsonb()) {
        let text = value.to_string();
        let back = Jsonb::parse(&text).expect("jsonb_out's text is valid jsonb");
        prop_assert_eq!(back.to_string(), text.as_str());
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(Jsonb::parse(&value.pretty()).expect("pretty text is valid jsonb"), value.clone());
        // The same text as json: validates, and converts to the same jsonb.
        omendb_json::validate(&text).expect("valid json");
        prop_assert_eq!(omendb_json::parse(&text).expect("valid json").try_to_jsonb().expect("valid jsonb"), value);
    }

    #[test]
    fn compare_is_a_total_order(a in jsonb(), b in jsonb(), c in jsonb()) {
        for (x, y) in [(&a, &b), (&b, &c), (&a, &c)] {
            prop_assert_eq!(x.compare(y), y.compare(x).reverse());
            prop_assert_eq!(x.compare(y) == Ordering::Equal, x == y);
        }
        prop_assert_eq!(a.compare(&a), Ordering::Equal);
        let mut sorted = [&a, &b, &c];
        sorted.sort_by(|x, y| x.compare(y));
        prop_assert!(sorted[0].compare(sorted[2]) != Ordering::Greater, "transitive");
    }

    #[test]
    fn sort_keys_order_as_compare(a in jsonb(), b in jsonb()) {
        prop_assert_eq!(a.sort_key().cmp(&b.sort_key()), a.compare(&b));
        // Equal values written differently (1 and 1.0) have one key.
        prop_assert_eq!(padded(&a).sort_key(), a.sort_key());
    }

    #[test]
    fn equal_values_compare_and_hash_equal(value in jsonb()) {
        let wide = padded(&value);
        prop_assert_eq!(&wide, &value);
        prop_assert_eq!(wide.compare(&value), Ordering::Equal);
        prop_assert_eq!(hash(&wide), hash(&value));
        prop_assert!(value.contains(&wide) && wide.contains(&value));
    }

    #[test]
    fn concatenation_contains_its_parts(a in jsonb(), b in jsonb()) {
        let both = a.clone().concat(b.clone());
        match (&a, &b) {
            (Jsonb::Array(_), Jsonb::Array(_)) => prop_assert!(both.contains(&a) && both.contains(&b)),
            // The right side's keys win, so only it survives whole.
            (Jsonb::Object(_), Jsonb::Object(_)) => prop_assert!(both.contains(&b)),
            _ => prop_assert!(matches!(both, Jsonb::Array(_))),
        }
    }
}
