//! The audit log, for the organisation's owner.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{Error, ErrorBody, Result};
use crate::state::AppState;
use crate::store::{self, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many entries (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only entries before this time (unix milliseconds), to page backwards.
    #[param(minimum = 0)]
    pub before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// `account:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    #[schema(example = "database.create")]
    pub action: String,
    pub target: String,
    pub ip: String,
    pub at: String,
    /// Unix milliseconds of `at`, for paging with `before`.
    pub at_ms: i64,
    pub detail: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}

/// Every mutation in the organisation, newest first.
#[utoipa::path(get, path = "/v1/audit-log", tag = "audit", security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, description = "Entries", body = AuditLog),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the owner", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    who: Principal,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditLog>> {
    who.require_owner()?;
    let Query(page) = page.map_err(|e| Error::BadRequest(e.body_text()))?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Error::BadRequest("limit must be between 1 and 500".into()));
    }
    if page.before.is_some_and(|b| b < 0) {
        return Err(Error::BadRequest("before must not be negative".into()));
    }
    let rows = store::audit::list(&state.pool, &who.org_id, page.before, limit).await?;
    Ok(Json(AuditLog {
        entries: rows
            .into_iter()
            .map(|r| AuditEntry {
                at: rfc3339(r.at),
                at_ms: r.at,
                detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
                id: r.id,
                actor: r.actor,
                action: r.action,
                target: r.target,
                ip: r.ip,
            })
            .collect(),
    }))
}
