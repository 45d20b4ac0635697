//! The HTTP side of a tenant server: `/health` (process up), `/ready` (storage open and recovered, accepting
//! connections) and `/metrics` (Prometheus text; 404 on tiers without monitoring).

use std::sync::Arc;

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
        .with_state(engine)
}

async fn ready(State(engine): State<Arc<Engine>>) -> Response {
    if engine.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
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
