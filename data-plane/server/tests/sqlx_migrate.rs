//! `sqlx migrate` as a Rust project runs it (sqlx's `Migrator`, what `sqlx migrate run` and `migrate!()` call):
//! reversible migrations with a composite primary key, a foreign key, a CHECK, an index, ALTER TABLE and a
//! view, each applied in a transaction under sqlx's advisory lock; run twice (the second is a no-op), then
//! undone step by step. The same steps against the PostgreSQL of OMENDB_TEST_PG.

use std::path::Path;

use omendb_server::Config;
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const MIGRATIONS: &[(&str, &str)] = &[
    (
        "20240101000000_init.up.sql",
        "CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE,
             created_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE entries (account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
             day date NOT NULL, amount numeric(12, 2) NOT NULL CHECK (amount <> 0),
             PRIMARY KEY (account_id, day));
         CREATE INDEX entries_day_idx ON entries (day);",
    ),
    (
        "20240101000000_init.down.sql",
        "DROP TABLE entries; DROP TABLE accounts;",
    ),
    (
        "20240201000000_names_and_balances.up.sql",
        "ALTER TABLE accounts ADD COLUMN name text;
         CREATE VIEW balances AS SELECT account_id, sum(amount) AS balance FROM entries GROUP BY account_id;",
    ),
    (
        "20240201000000_names_and_balances.down.sql",
        "DROP VIEW balances; ALTER TABLE accounts DROP COLUMN name;",
    ),
];

async fn relations(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn migrate(label: &str, options: PgConnectOptions) {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in MIGRATIONS {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    let migrator = Migrator::new(Path::new(dir.path())).await.unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("{label}: connect: {e}"));

    migrator
        .run(&pool)
        .await
        .unwrap_or_else(|e| panic!("{label}: migrate run: {e}"));
    assert_eq!(
        relations(&pool).await,
        ["_sqlx_migrations", "accounts", "balances", "entries"],
        "{label}"
    );
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        applied,
        [(20240101000000, true), (20240201000000, true)],
        "{label}"
    );
    // Run again: everything is applied, nothing changes.
    migrator.run(&pool).await.unwrap();

    let id: i64 =
        sqlx::query_scalar("INSERT INTO accounts (email, name) VALUES ($1, $2) RETURNING id")
            .bind("a@x")
            .bind("ada")
            .fetch_one(&pool)
            .await
            .unwrap();
    for (day, amount) in [("2024-01-01", "10.50"), ("2024-01-02", "-2.25")] {
        sqlx::query("INSERT INTO entries VALUES ($1, $2::date, $3::numeric)")
            .bind(id)
            .bind(day)
            .bind(amount)
            .execute(&pool)
            .await
            .unwrap();
    }
    let e = sqlx::query("INSERT INTO entries VALUES ($1, '2024-01-01', 1)")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("23505"),
        "{label}: {e}"
    );
    let balance: String = sqlx::query_scalar("SELECT balance::text FROM balances")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(balance, "8.25", "{label}");

    // Undo the second migration, then the first.
    migrator.undo(&pool, 20240101000000).await.unwrap();
    assert_eq!(
        relations(&pool).await,
        ["_sqlx_migrations", "accounts", "entries"],
        "{label}"
    );
    let columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(columns, 3, "{label}");
    migrator.undo(&pool, 0).await.unwrap();
    assert_eq!(relations(&pool).await, ["_sqlx_migrations"], "{label}");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_migrate_against_omendb() {
    let dir = tempfile::tempdir().unwrap();
    let server = omendb_server::start(Config::local(dir.path(), "app", "owner", "pw"))
        .await
        .unwrap();
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(server.pg_addr.port())
        .username("owner")
        .password("pw")
        .database("app");
    migrate("omendb", options).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_migrate_against_postgresql() {
    let Ok(conninfo) = std::env::var("OMENDB_TEST_PG") else {
        assert!(
            std::env::var_os("OMENDB_NO_SKIP").is_none(),
            "OMENDB_TEST_PG is not set but OMENDB_NO_SKIP forbids skipping the PostgreSQL sqlx run"
        );
        eprintln!("\n*** SKIPPED: sqlx_migrate_against_postgresql needs OMENDB_TEST_PG ***\n");
        return;
    };
    let admin: tokio_postgres::Config = conninfo.parse().expect("OMENDB_TEST_PG");
    let (client, conn) = admin.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let db = format!("omendb_sqlx_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        client.batch_execute(&sql).await.unwrap();
    }
    let host = match admin.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let mut options = PgConnectOptions::new()
        .host(&host)
        .port(admin.get_ports().first().copied().unwrap_or(5432))
        .username(admin.get_user().unwrap_or("postgres"))
        .database(&db);
    if let Some(p) = admin.get_password() {
        options = options.password(&String::from_utf8_lossy(p));
    }
    migrate("postgres", options).await;
    client
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .unwrap();
}
