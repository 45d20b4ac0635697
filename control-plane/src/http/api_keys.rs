//! API keys: shown once, listed by prefix, scoped, optionally expiring, revocable. A logged-in user may
//! create any key; a key with the `keys` scope may create keys with no more scopes and no later expiry
//! than its own, so a leaked key can never mint a stronger one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{ValidJson, Validate};
use crate::auth::Principal;
use crate::auth::principal::Credential;
use crate::auth::scopes::{Scope, Scopes};
use crate::auth::secrets::{new_api_key, sha256_hex};
use crate::error::{Error, ErrorBody, FieldError, Result};
use crate::state::AppState;
use crate::store::api_keys::{ApiKey, NewKey};
use crate::store::{self, now_ms, rfc3339};

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
    /// What the key may do; omitted = `["read", "databases:write"]`.
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
    /// When the key stops working (RFC 3339, in the future); omitted = never.
    #[serde(default)]
    #[schema(example = "2027-01-31T00:00:00Z")]
    pub expires_at: Option<String>,
}

impl CreateApiKey {
    fn expires_ms(&self) -> Option<i64> {
        let t = self.expires_at.as_deref()?;
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| d.timestamp_millis())
    }
}

impl Validate for CreateApiKey {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 || self.name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "name",
                "must be 1 to 64 printable characters",
            ));
        }
        if self.scopes.as_ref().is_some_and(Vec::is_empty) {
            errors.push(FieldError::new(
                "scopes",
                "name at least one scope (read, databases:write, billing, keys)",
            ));
        }
        if let Some(t) = &self.expires_at {
            match self.expires_ms() {
                None => errors.push(FieldError::new(
                    "expires_at",
                    format!("{t:?} is not an RFC 3339 time like 2027-01-31T00:00:00Z"),
                )),
                Some(ms) if ms <= now_ms() => {
                    errors.push(FieldError::new("expires_at", "must be in the future"))
                }
                Some(_) => {}
            }
        }
        errors
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: String,
    /// When it stops working; null = never.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().collect(),
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
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
        (status = 403, description = "An API key without the keys scope, or asking for more than it has", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    who: Principal,
    ValidJson(body): ValidJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    let scopes: Scopes = match &body.scopes {
        Some(s) => s.iter().copied().collect(),
        None => Scopes::default_for_keys(),
    };
    let mut expires_at = body.expires_ms();
    if let Credential::ApiKey {
        expires_at: own, ..
    } = &who.credential
    {
        if !scopes.is_subset(&who.scopes) {
            return Err(Error::Forbidden(
                "an API key can only create keys with scopes it has itself".into(),
            ));
        }
        if let Some(own) = *own {
            if expires_at.is_some_and(|t| t > own) {
                return Err(Error::Forbidden(
                    "an API key can only create keys that expire no later than itself".into(),
                ));
            }
            expires_at = Some(expires_at.unwrap_or(own));
        }
    }
    let key = new_api_key();
    let prefix: String = key.chars().take(12).collect();
    let row = store::api_keys::create(
        &state.pool,
        &who.org_id,
        &who.account_id,
        NewKey {
            name: body.name.trim(),
            prefix: &prefix,
            key_hash: &sha256_hex(&key),
            scopes,
            expires_at,
        },
    )
    .await?;
    store::audit::record(
        &state.pool,
        &who.org_id,
        &who.actor(),
        "api_key.create",
        &row.id,
        &who.ip,
        serde_json::json!({"name": row.name, "scopes": row.scopes.to_stored()}),
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
        (status = 403, description = "An API key without the keys scope", body = ErrorBody),
        (status = 404, description = "No such key in this organisation", body = ErrorBody),
    ))]
async fn revoke(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyView>> {
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
