//! Float results as text, OmenDB against a real PostgreSQL: the same literals cast to `double precision` and
//! `real` must print the same digits (PostgreSQL prints the shortest round-trip digits with Ryu, ties to
//! even; the exponent form outside 1e-4 .. 1e15, 1e6 for real).
//!
//! Needs `OMENDB_TEST_PG` (set by `scripts/test`); without it the test says so loudly and skips, unless
//! `OMENDB_NO_SKIP` is set.

use omendb_server::Config;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

async fn column(c: &Client, sql: &str) -> Vec<String> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(200)]))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .collect()
}

fn literals(rng: &mut StdRng) -> (Vec<String>, Vec<String>) {
    let mut doubles = vec![
        "651982641986335.25".to_string(), // an exact tie between two shortest forms
        "1e15".into(),
        "999999999999999.9".into(),
        "1e-4".into(),
        "9.999e-5".into(),
        "0.1".into(),
        "-0.30000000000000004".into(),
        "5e-324".into(),
        "1.7976931348623157e308".into(),
    ];
    let mut reals = vec![
        "123456.7".to_string(),
        "1e6".into(),
        "999999.9".into(),
        "1.5e20".into(),
    ];
    while doubles.len() < 3000 {
        let v = f64::from_bits(rng.random());
        if v.is_finite() {
            doubles.push(format!("{v:e}"));
        }
        doubles.push(format!("{:e}", rng.random_range(-1e7..1e7f64)));
        doubles.push(format!("{:.6}", rng.random_range(0.0..1000.0f64)));
    }
    while reals.len() < 2000 {
        let v = f32::from_bits(rng.random());
        if v.is_finite() {
            reals.push(format!("{v:e}"));
        }
        reals.push(format!("{:e}", rng.random_range(-1e7..1e7f32)));
    }
    (doubles, reals)
}

fn query(literals: &[String], ty: &str) -> String {
    let values: Vec<String> = literals
        .iter()
        .enumerate()
        .map(|(i, l)| format!("({i}, '{l}')"))
        .collect();
    format!(
        "SELECT CAST(v AS {ty}) FROM (VALUES {}) AS t(i, v) ORDER BY i",
        values.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floats_print_like_postgresql() {
    let Some(pg) = std::env::var("OMENDB_TEST_PG").ok() else {
        assert!(
            std::env::var_os("OMENDB_NO_SKIP").is_none(),
            "OMENDB_TEST_PG is required (OMENDB_NO_SKIP is set)"
        );
        eprintln!(
            "SKIPPED: floats_print_like_postgresql needs OMENDB_TEST_PG (scripts/test sets it)"
        );
        return;
    };
    let (pgc, conn) = tokio_postgres::connect(&pg, NoTls).await.unwrap();
    tokio::spawn(conn);
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(Config::local(dir.path(), "app", "owner", "pw"))
        .await
        .unwrap();
    let (ours, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=owner password=pw dbname=app",
            s.pg_addr.port()
        ),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let (doubles, reals) = literals(&mut StdRng::seed_from_u64(3));
    for (lits, ty) in [(&doubles, "DOUBLE PRECISION"), (&reals, "REAL")] {
        for part in lits.chunks(500) {
            let sql = query(part, ty);
            let want = column(&pgc, &sql).await;
            let got = column(&ours, &sql).await;
            assert_eq!(want.len(), part.len());
            for ((lit, w), g) in part.iter().zip(&want).zip(&got) {
                assert_eq!(g, w, "{ty} '{lit}'");
            }
        }
    }
    s.stop().await;
}
