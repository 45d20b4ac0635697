//! The `.slt` suite in `tests/slt/` run over the wire with sqllogictest-rs's PostgreSQL engine (extended
//! protocol), against our server and against a real PostgreSQL. The same files run on both; where OmenDB
//! deliberately answers differently a record says so with `onlyif omendb` / `skipif omendb` and a comment.
//!
//! The PostgreSQL run needs `OMENDB_TEST_PG`, a libpq key=value string for a role that may create databases
//! (`scripts/test` starts a cluster and sets it). Without it the test says so loudly and skips, unless
//! `OMENDB_NO_SKIP` is set.

use std::path::{Path, PathBuf};

use omendb_server::Config;
use sqllogictest::Runner;
use sqllogictest_engines::postgres::{PostgresConfig, PostgresExtended};

const PASSWORD: &str = "slt-pw";

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        // OMENDB_SLT_ONLY=name runs only the files whose name contains it (while working on one).
        .filter(|p| {
            std::env::var("OMENDB_SLT_ONLY").map_or(true, |only| {
                p.file_name().unwrap().to_string_lossy().contains(&only)
            })
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

async fn run_file(config: PostgresConfig, label: &str, file: &Path) -> Result<(), String> {
    let mut runner = Runner::new(move || {
        let config = config.clone();
        async move { PostgresExtended::connect(config).await }
    });
    runner.add_label(label);
    runner
        .run_file_async(file)
        .await
        .map_err(|e| format!("{}", e.display(false)))
}

fn report(label: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} of the .slt files failed against {label}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_suite_against_omendb() {
    let mut failures = vec![];
    for file in slt_files() {
        // A fresh database per file, as the PostgreSQL run gets.
        let dir = tempfile::tempdir().unwrap();
        let c = Config::local(dir.path(), "slt", "slt", PASSWORD);
        let server = omendb_server::start(c).await.unwrap();
        let mut pg = PostgresConfig::new();
        pg.host("127.0.0.1")
            .port(server.pg_addr.port())
            .user("slt")
            .password(PASSWORD)
            .dbname("slt");
        if let Err(e) = run_file(pg, "omendb", &file).await {
            failures.push(e);
        }
        server.stop().await;
    }
    report("omendb", failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_suite_against_postgresql() {
    let Ok(conninfo) = std::env::var("OMENDB_TEST_PG") else {
        assert!(
            std::env::var_os("OMENDB_NO_SKIP").is_none(),
            "OMENDB_TEST_PG is not set but OMENDB_NO_SKIP forbids skipping the PostgreSQL .slt run"
        );
        eprintln!(
            "\n*** SKIPPED: slt_suite_against_postgresql needs OMENDB_TEST_PG (a PostgreSQL to compare with); \
             scripts/test provides one ***\n"
        );
        return;
    };
    let admin_config: tokio_postgres::Config = conninfo.parse().expect("OMENDB_TEST_PG");
    let (admin, conn) = admin_config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to OMENDB_TEST_PG");
    tokio::spawn(conn);
    let mut failures = vec![];
    for file in slt_files() {
        let db = format!(
            "omendb_slt_{}_{}",
            file.file_stem().unwrap().to_string_lossy(),
            std::process::id()
        );
        for sql in [
            format!("DROP DATABASE IF EXISTS {db}"),
            format!("CREATE DATABASE {db}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        let mut pg = admin_config.clone();
        pg.dbname(&db);
        if let Err(e) = run_file(pg, "postgres", &file).await {
            failures.push(e);
        }
        admin
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .await
            .unwrap();
    }
    report("postgres", failures);
}
