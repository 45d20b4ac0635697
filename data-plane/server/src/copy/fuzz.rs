//! Fuzzing COPY FROM STDIN's text, CSV and binary parsers (run with a larger budget by `scripts/test`:
//! `OMENDB_FUZZ_CASES`). Whatever the bytes, a COPY ends in rows or in an error, never a panic; and how the
//! client cut the stream into CopyData messages never changes which: the same rows or the same error. A
//! failure proptest finds is saved under `proptest-regressions/` and kept.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use omendb_storage::{ColumnDef, DataType, Database, Options, TableDef};
use proptest::prelude::*;

use super::CopyIn;

fn cases() -> u32 {
    std::env::var("OMENDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn table(dir: &std::path::Path) -> Database {
    let db = Database::open(dir, Options::default()).unwrap();
    db.create_table(TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new("id", DataType::BigInt).not_null(),
            ColumnDef::new("i", DataType::Integer),
            ColumnDef::new("s", DataType::Text),
            ColumnDef::new("b", DataType::Boolean),
            ColumnDef::new("f", DataType::Double),
            ColumnDef::new(
                "n",
                DataType::Numeric {
                    precision: 12,
                    scale: 3,
                },
            ),
            ColumnDef::new("d", DataType::Date),
            ColumnDef::new("ts", DataType::TimestampTz),
            ColumnDef::new("by", DataType::Bytea),
            ColumnDef::new("v", DataType::Varchar { max: Some(5) }),
        ],
        primary_key: Some(0),
    })
    .unwrap();
    db
}

/// Rows or the error, after feeding `chunks` and finishing.
fn run(db: &Database, options: &str, chunks: &[&[u8]]) -> Result<usize, String> {
    let sql = format!("COPY t FROM STDIN {options}");
    let stmt = Parser::parse_sql(&PostgreSqlDialect {}, &sql)
        .unwrap()
        .remove(0);
    let mut copy = CopyIn::plan(&stmt, |_| Ok(db.table("t")?)).map_err(|e| e.to_string())?;
    for c in chunks {
        copy.data(c).map_err(|e| e.to_string())?;
    }
    copy.finish().map_err(|e| e.to_string())?;
    Ok(copy.rows)
}

/// One field: often a valid value of some column's type, often the characters parsers trip on.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<i32>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        Just("\\N".to_string()),
        Just(String::new()),
        prop_oneof![Just("t"), Just("false"), Just("yes"), Just("maybe")].prop_map(String::from),
        "-?[0-9]{0,12}(\\.[0-9]{0,6})?(e-?[0-9]{1,3})?",
        "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?([+-][0-9]{2}(:[0-9]{2})?)?)?( BC)?",
        "\\\\x[0-9a-fA-F]{0,9}",
        "[\"\\\\,\t\n\r .a-z\\x00-\\x1f\u{e9}\u{1f600}]{0,12}",
    ]
}

fn text_rows(delim: char) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::collection::vec(field(), 0..12), 0..6).prop_map(move |rows| {
        let mut out = String::new();
        for r in rows {
            out.push_str(&r.join(&delim.to_string()));
            out.push('\n');
        }
        out.into_bytes()
    })
}

/// `bytes` cut at `cuts` (positions, any order).
fn split<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fuzz_copy_text_and_csv(
        csv in any::<bool>(),
        header in any::<bool>(),
        rows in text_rows('\t'),
        csv_rows in text_rows(','),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = table(dir.path());
        let (options, bytes) = if csv {
            (format!("(FORMAT csv, HEADER {header})"), csv_rows)
        } else {
            (String::new(), rows)
        };
        let whole = run(&db, &options, &[&bytes]);
        let cut = run(&db, &options, &split(&bytes, &cuts));
        prop_assert_eq!(whole, cut);
    }

    #[test]
    fn fuzz_copy_arbitrary_bytes(
        format in 0usize..3,
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = table(dir.path());
        let options = ["", "(FORMAT csv)", "(FORMAT binary)"][format];
        let mut bytes = bytes;
        if format == 2 {
            // A valid header, so the tuple decoder sees the rest.
            let mut b = SIGNATURE.to_vec();
            b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
            b.extend(bytes);
            bytes = b;
        }
        let whole = run(&db, options, &[&bytes]);
        let cut = run(&db, options, &split(&bytes, &cuts));
        prop_assert_eq!(whole, cut);
    }

    #[test]
    fn fuzz_copy_binary_tuples(
        tuples in prop::collection::vec(
            prop::collection::vec(prop::option::of(prop::collection::vec(any::<u8>(), 0..12)), 0..12),
            0..5,
        ),
        trailer in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = table(dir.path());
        // Well-framed tuples of arbitrary field bytes: the per-type decoders see garbage of the right length.
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        for t in &tuples {
            bytes.extend_from_slice(&(t.len() as i16).to_be_bytes());
            for f in t {
                match f {
                    None => bytes.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        bytes.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        bytes.extend_from_slice(v);
                    }
                }
            }
        }
        if trailer {
            bytes.extend_from_slice(&(-1i16).to_be_bytes());
        }
        let whole = run(&db, "(FORMAT binary)", &[&bytes]);
        let cut = run(&db, "(FORMAT binary)", &split(&bytes, &cuts));
        prop_assert_eq!(whole, cut);
    }
}
