//! The HTTP side of a tenant server: `/health` (process up), `/ready` (storage open and recovered, accepting
//! connections), `/metrics` (Prometheus text; 404 on tiers without monitoring) and `/activity` (for idle pause).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::engine::Engine;

pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/activity", get(activity))
        .with_state(engine)
}

async fn ready(State(engine): State<Arc<Engine>>) -> Response {
    if engine.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

/// For the control plane's idle pause, on every tier (unlike `/metrics`): open connections and how long ago
/// the last one opened or closed.
async fn activity(State(engine): State<Arc<Engine>>) -> Response {
    let last = engine.last_activity_ms.load(Ordering::Acquire);
    let idle_ms = crate::engine::now_ms().saturating_sub(last);
    let body = format!(
        "{{\"connections\":{},\"idle_ms\":{idle_ms}}}\n",
        engine.connections.load(Ordering::Acquire)
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(engine): State<Arc<Engine>>) -> Response {
    let e = engine.clone();
    let text = tokio::task::spawn_blocking(move || e.metrics.render(&e.db)).await;
    match text {
        Ok(Some(t)) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            t,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "monitoring is off for this tier\n").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
