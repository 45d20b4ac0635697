//! `omendb server`: one tenant database. PostgreSQL clients connect over the wire protocol (pgwire), with
//! SCRAM-SHA-256 and optional TLS; statements are planned by DataFusion over learned-array tables; writes go
//! through the storage engine's transactions and group commit. An HTTP port serves health, readiness and
//! Prometheus metrics.

mod activity;
mod alter_forms;
mod apply;
mod array_out;
mod arrays;
mod auth;
mod avg;
mod bpchar;
mod bytea;
mod call_names;
mod catalog;
mod cells;
mod channel_binding;
mod checks;
mod column_literals;
pub mod config;
mod copy;
mod copy_out;
mod corked;
mod ddl;
mod dml_ctes;
mod engine;
mod enums;
pub mod error;
mod fast;
mod http;
mod intervals;
mod json;
mod listener;
mod lock_clauses;
mod metrics;
mod names;
mod notify;
mod number_template;
mod numeric_out;
mod origins;
mod params;
mod pg_catalog;
mod plan_exprs;
mod precedence;
mod relation_refs;
mod rewrite;
mod rows;
mod runtime;
pub mod scram;
mod search_path;
mod sequence_options;
mod sequences;
mod session;
mod settings;
mod sleep;
mod subquery;
mod sum;
mod system_views;
mod text;
mod times;
mod timestamps;
mod to_char;
mod token_walk;
mod tokens;
mod typing;
mod uuids;
mod whole_rows;
mod wire;
pub mod zone;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use config::Config;
pub use engine::{Engine, tune_allocator};
pub use error::{Error, Result};

/// What `SHOW server_version` and the start-up parameters report. Clients parse the leading number.
pub const SERVER_VERSION: &str = "15.0 (OmenDB 0.1.0)";

/// A running server: its bound addresses, and a handle to stop it.
pub struct Running {
    pub pg_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub engine: Arc<Engine>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections and waits for the listeners to close.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Opens the data directory, binds both ports and serves until stopped.
pub async fn start(config: Config) -> Result<Running> {
    let pg_bind = config.listen.pg;
    let http_bind = config.listen.http;
    let engine = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Engine::open(config))
            .await
            .map_err(|e| Error::Config(format!("start-up task failed: {e}")))??
    };
    let pg = tokio::net::TcpListener::bind(pg_bind).await?;
    let http = tokio::net::TcpListener::bind(http_bind).await?;
    let pg_addr = pg.local_addr()?;
    let http_addr = http.local_addr()?;
    let listener = Arc::new(listener::Listener::new(
        engine.clone(),
        tokio::runtime::Handle::current(),
    )?);
    engine.ready.store(true, Ordering::Release);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = http::router(engine.clone());
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = listener.serve(pg) => {}
            r = axum::serve(http, router) => {
                if let Err(e) = r {
                    tracing::error!("http server failed: {e}");
                }
            }
            _ = rx => {}
        }
    });
    Ok(Running {
        pg_addr,
        http_addr,
        engine,
        shutdown: tx,
        task,
    })
}
