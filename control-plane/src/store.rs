//! The metadata database: one sqlx `AnyPool` over SQLite or PostgreSQL, chosen by URL, with the migrations
//! of `migrations/` applied at connect. Queries use `$n` placeholders, which both engines accept, and only
//! the types both share (text, bigint).

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod databases;
pub mod tokens;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use crate::error::{Error, Result};

pub type Pool = sqlx::AnyPool;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens the pool and brings the schema up to date.
pub async fn connect(url: &str) -> Result<Pool> {
    sqlx::any::install_default_drivers();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(file).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
    }
    let options = AnyConnectOptions::from_str(url)
        .map_err(|e| Error::Config(format!("DATABASE_URL is not valid: {e}")))?;
    let sqlite = url.starts_with("sqlite:");
    let pool = AnyPoolOptions::new()
        // SQLite has one writer at a time: a small pool keeps `database is locked` waits short.
        .max_connections(if sqlite { 4 } else { 16 })
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A random id with a kind prefix (`db_`, `acc_`, ...): 80 bits, url-safe, sortable by nothing on purpose.
pub fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let bytes: [u8; 16] = rand::random();
    let mut s = String::with_capacity(prefix.len() + 17);
    s.push_str(prefix);
    s.push('_');
    for b in bytes {
        s.push(ALPHABET[(b as usize) % ALPHABET.len()] as char);
    }
    s
}

/// Formats unix milliseconds as RFC 3339 for API responses.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// True when `e` is a unique-constraint violation (SQLite 2067/1555, PostgreSQL 23505).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("23505" | "2067" | "1555"))
                || d.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
