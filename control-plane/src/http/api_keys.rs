//! API keys: created by a logged-in user, shown once, listed by prefix, revocable.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{ValidJson, Validate};
use crate::auth::Principal;
use crate::auth::secrets::{new_api_key, sha256_hex};
use crate::error::{ErrorBody, FieldError, Result};
use crate::state::AppState;
use crate::store::{self, api_keys::ApiKey, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for, e.g. "ci".
    #[schema(example = "ci", min_length = 1, max_length = 64)]
    pub name: String,
}

impl Validate for CreateApiKey {
    fn validate(&self) -> Vec<FieldError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 || self.name.chars().any(char::is_control) {
            vec![FieldError::new(
                "name",
                "must be 1 to 64 printable characters",
            )]
        } else {
            Vec::new()
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyView>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub api_key: ApiKeyView,
    /// Shown once. Use it as `Authorization: Bearer <key>`.
    pub key: String,
}

/// The organisation's API keys, revoked ones included.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses(
        (status = 200, description = "API keys", body = ApiKeyList),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn list(State(state): State<AppState>, who: Principal) -> Result<Json<ApiKeyList>> {
    let keys = store::api_keys::list(&state.pool, &who.org_id).await?;
    Ok(Json(ApiKeyList {
        api_keys: keys.iter().map(ApiKeyView::from).collect(),
    }))
}

/// Creates an API key; the key itself is in this response only.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKey,
    responses(
        (status = 201, description = "Created", body = CreatedApiKey),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Called with an API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    ValidJson(body): ValidJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    who.require_session()?;
    let key = new_api_key();
    let prefix: String = key.chars().take(12).collect();
    let row = store::api_keys::create(
        &state.pool,
        &who.org_id,
        &who.account_id,
        body.name.trim(),
        &prefix,
        &sha256_hex(&key),
    )
    .await?;
    store::audit::record(
        &state.pool,
        &who.org_id,
        &who.actor(),
        "api_key.create",
        &row.id,
        &who.ip,
        serde_json::json!({"name": row.name}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            api_key: (&row).into(),
            key,
        }),
    ))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 200, description = "Revoked", body = ApiKeyView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Called with an API key", body = ErrorBody),
        (status = 404, description = "No such key in this organisation", body = ErrorBody),
    ))]
async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyView>> {
    who.require_session()?;
    let key = store::api_keys::revoke(&state.pool, &who.org_id, &id).await?;
    store::audit::record(
        &state.pool,
        &who.org_id,
        &who.actor(),
        "api_key.revoke",
        &key.id,
        &who.ip,
        serde_json::json!({"name": key.name}),
    )
    .await?;
    Ok(Json((&key).into()))
}
