//! Public endpoints: plans, the databases' CA certificate, health, JWKS, metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{Error, ErrorBody, Result};
use crate::plans::{Plan, PlanLimits};
use crate::state::AppState;
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(plans))
        .routes(routes!(ca_certificate))
}

#[derive(Serialize, ToSchema)]
pub struct PlanView {
    pub name: Plan,
    pub limits: PlanLimits,
}

#[derive(Serialize, ToSchema)]
pub struct PlanList {
    pub plans: Vec<PlanView>,
}

/// The plans and their limits.
#[utoipa::path(get, path = "/v1/plans", tag = "meta",
    responses((status = 200, description = "Plans", body = PlanList)))]
async fn plans(State(state): State<AppState>) -> Json<PlanList> {
    Json(PlanList {
        plans: Plan::ALL
            .into_iter()
            .map(|p| PlanView {
                name: p,
                limits: state.config.plans.limits(p).clone(),
            })
            .collect(),
    })
}

/// The CA certificate the databases' server certificates chain to (PEM), for `sslmode=verify-full`
/// with `sslrootcert=<this file>`. 404 where the databases present certificates of another CA.
#[utoipa::path(get, path = "/v1/ca-certificate", tag = "meta",
    responses(
        (status = 200, description = "The CA certificate", body = String, content_type = "application/x-pem-file"),
        (status = 404, description = "No CA of this installation", body = ErrorBody),
    ))]
async fn ca_certificate(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let pem = state
        .fleet
        .provisioner()
        .ca_certificate()
        .ok_or(Error::NotFound)?
        .to_string();
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"omendb-ca.pem\"",
            ),
        ],
        pem,
    ))
}

pub async fn health() -> &'static str {
    "ok\n"
}

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.keys.jwks()),
    )
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Databases by state come from the metadata DB, the one source of truth across replicas.
    if let Ok(rows) = store::databases::count_by_state(&state.pool).await {
        state.metrics.databases.reset();
        for (s, n) in rows {
            state
                .metrics
                .databases
                .with_label_values(&[s.as_str()])
                .set(n);
        }
    }
    // A growing `pending` count is Stripe not taking our usage: alert on it.
    if let Ok(rows) = store::billing::usage_status_counts(&state.pool).await {
        state.metrics.usage_backlog.reset();
        for (s, n) in rows {
            state
                .metrics
                .usage_backlog
                .with_label_values(&[s.as_str()])
                .set(n);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
