//! Sign-up, login, token refresh, logout, and who am I. Sessions: a short-lived access token in the body
//! (the console keeps it in memory only) and a rotating refresh token in an HttpOnly cookie
//! (`session_cookies`), ending `session_lifetime_s` after the login at the latest.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::AppendHeaders;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{ValidJson, Validate};
use super::session_cookies;
use crate::auth::Principal;
use crate::auth::password::check_strength;
use crate::auth::principal::ClientIp;
use crate::auth::secrets::{random_token, sha256_hex};
use crate::error::{Error, ErrorBody, FieldError, Result};
use crate::state::AppState;
use crate::store::{self, accounts::Account, now_ms, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Case-insensitive; stored lower-cased.
    #[schema(example = "ada@example.com", max_length = 254)]
    pub email: String,
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

impl Validate for Credentials {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(e) = check_email(&self.email) {
            errors.push(e);
        }
        if let Some(e) = check_strength(&self.password, self.email.trim()) {
            errors.push(e);
        }
        errors
    }
}

/// Login needs no strength check (old passwords stay valid), only sane sizes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 256)]
    pub password: String,
}

impl Validate for Login {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.email.trim().is_empty() || self.email.len() > 254 {
            errors.push(FieldError::new("email", "must be an email address"));
        }
        if self.password.is_empty() || self.password.chars().count() > 256 {
            errors.push(FieldError::new("password", "must be 1 to 256 characters"));
        }
        errors
    }
}

/// The access token, for memory only. The refresh token is not here: it is in the `omendb_refresh` cookie
/// (HttpOnly, sent only to `/v1/auth`), single use, rotated by each refresh; reusing an old one ends every
/// session of the login.
#[derive(Serialize, ToSchema)]
pub struct Tokens {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Send it as `X-CSRF-Token` to refresh and logout (also in the `omendb_csrf` cookie); changes with
    /// each refresh.
    pub csrf_token: String,
    /// When the session ends however often it is refreshed (RFC 3339): then log in again.
    pub session_expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub email: String,
    pub organization_id: String,
    pub role: String,
    pub created_at: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id.clone(),
            email: a.email.clone(),
            organization_id: a.org_id.clone(),
            role: a.role.clone(),
            created_at: rfc3339(a.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Session {
    pub account: AccountView,
    pub tokens: Tokens,
}

fn check_email(email: &str) -> Option<FieldError> {
    let e = email.trim();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    (!ok).then(|| FieldError::new("email", "must be an email address like ada@example.com"))
}

fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An account acting on itself, as the audit log records it.
async fn audit(
    state: &AppState,
    account: &Account,
    action: &str,
    ip: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let actor = format!("account:{}", account.id);
    store::audit::record(
        &state.pool,
        &account.org_id,
        &actor,
        action,
        &account.id,
        ip,
        detail,
    )
    .await
}

fn ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// A login's session so far: its family and when it ends for good.
struct Family {
    id: String,
    end_ms: i64,
}

impl Family {
    fn new(state: &AppState) -> Family {
        Family {
            id: store::new_id("fam"),
            end_ms: now_ms().saturating_add(ms(state.config.auth.session_lifetime_s)),
        }
    }
}

type SessionCookies = AppendHeaders<[(HeaderName, HeaderValue); 2]>;

/// New tokens of `family`: the access token for the body, the refresh token for its cookie.
async fn issue(
    state: &AppState,
    account: &Account,
    family: Family,
) -> Result<(SessionCookies, Tokens)> {
    let refresh = random_token();
    let expires = store::tokens::insert(
        &state.pool,
        &sha256_hex(&refresh),
        &family.id,
        &account.id,
        ms(state.config.auth.refresh_ttl_s),
        family.end_ms,
    )
    .await?;
    let tokens = Tokens {
        access_token: state
            .keys
            .issue(&account.id, &account.org_id, &account.role)?,
        token_type: "Bearer",
        expires_in: state.keys.ttl_s(),
        csrf_token: session_cookies::csrf_token(&refresh),
        session_expires_at: rfc3339(family.end_ms),
    };
    let max_age_s = (expires - now_ms()) / 1000;
    Ok((session_cookies::set(&refresh, max_age_s), tokens))
}

/// Creates an account and its organisation, and logs it in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Account created; the refresh token is set as the omendb_refresh cookie", body = Session),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field, or email taken", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address", body = ErrorBody),
    ))]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(body): ValidJson<Credentials>,
) -> Result<(StatusCode, SessionCookies, Json<Session>)> {
    state.limiter.hit(
        &format!("signup:{ip}"),
        state.config.limits.signups_per_minute,
        Duration::from_secs(60),
    )?;
    let email = normalise(&body.email);
    let hash = state.hasher.hash(body.password).await?;
    let account = store::accounts::create(&state.pool, &email, &hash).await?;
    audit(
        &state,
        &account,
        "account.signup",
        &ip,
        serde_json::json!({ "email": email }),
    )
    .await?;
    let (cookies, tokens) = issue(&state, &account, Family::new(&state)).await?;
    Ok((
        StatusCode::CREATED,
        cookies,
        Json(Session {
            account: (&account).into(),
            tokens,
        }),
    ))
}

/// Exchanges email and password for tokens.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login,
    responses(
        (status = 200, description = "Logged in; the refresh token is set as the omendb_refresh cookie", body = Session),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(body): ValidJson<Login>,
) -> Result<(SessionCookies, Json<Session>)> {
    let email = normalise(&body.email);
    state.limiter.hit(
        &format!("login:{ip}"),
        state.config.limits.logins_per_minute,
        Duration::from_secs(60),
    )?;
    // Checked before the password so that a waiting guesser learns nothing from trying anyway.
    state.login_throttle.check(&email, &ip, Instant::now())?;
    let account = store::accounts::by_email(&state.pool, &email).await?;
    let ok = match &account {
        Some(a) => {
            state
                .hasher
                .verify(body.password, a.password_hash.expose().to_string())
                .await?
        }
        None => {
            state.hasher.verify_dummy(body.password).await;
            false
        }
    };
    let Some(account) = account.filter(|_| ok) else {
        state.login_throttle.failed(&email, &ip, Instant::now());
        return Err(Error::Unauthorized("email or password is wrong"));
    };
    state.login_throttle.succeeded(&email, &ip, Instant::now());
    audit(
        &state,
        &account,
        "account.login",
        &ip,
        serde_json::json!({}),
    )
    .await?;
    let (cookies, tokens) = issue(&state, &account, Family::new(&state)).await?;
    Ok((
        cookies,
        Json(Session {
            account: (&account).into(),
            tokens,
        }),
    ))
}

/// Rotates the session's refresh token (from the `omendb_refresh` cookie): the old one is spent, a new
/// access token is returned and a new refresh token set. Needs the session's `X-CSRF-Token`.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 200, description = "New tokens; the new refresh token is set as the cookie", body = Tokens),
        (status = 401, description = "No session cookie, or its token is unknown, expired, revoked or reused", body = ErrorBody),
        (status = 403, description = "Missing or wrong X-CSRF-Token", body = ErrorBody),
    ))]
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(SessionCookies, Json<Tokens>)> {
    let token = session_cookies::refresh_token(&headers)
        .ok_or(Error::Unauthorized("no session cookie; log in"))?;
    session_cookies::check_csrf(&headers, &token)?;
    let spent = store::tokens::consume(&state.pool, &sha256_hex(&token)).await?;
    let account = store::accounts::by_id(&state.pool, &spent.account_id)
        .await?
        .ok_or(Error::Unauthorized("refresh token is not valid"))?;
    let family = Family {
        id: spent.family_id,
        end_ms: spent.session_end_ms,
    };
    let (cookies, tokens) = issue(&state, &account, family).await?;
    Ok((cookies, Json(tokens)))
}

/// Ends the session of the `omendb_refresh` cookie and clears it. Needs the session's `X-CSRF-Token`;
/// without a cookie there is nothing to end (204).
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 204, description = "Logged out; the cookies are cleared"),
        (status = 403, description = "Missing or wrong X-CSRF-Token", body = ErrorBody),
    ))]
async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<(StatusCode, SessionCookies)> {
    let Some(token) = session_cookies::refresh_token(&headers) else {
        return Ok((StatusCode::NO_CONTENT, session_cookies::clear()));
    };
    session_cookies::check_csrf(&headers, &token)?;
    if let Some(account_id) =
        store::tokens::revoke_by_token(&state.pool, &sha256_hex(&token)).await?
        && let Some(account) = store::accounts::by_id(&state.pool, &account_id).await?
    {
        audit(
            &state,
            &account,
            "account.logout",
            &ip,
            serde_json::json!({}),
        )
        .await?;
    }
    Ok((StatusCode::NO_CONTENT, session_cookies::clear()))
}

/// The caller's account.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn me(State(state): State<AppState>, who: Principal) -> Result<Json<AccountView>> {
    let account = store::accounts::by_id(&state.pool, &who.account_id)
        .await?
        .ok_or(Error::Unauthorized("the account no longer exists"))?;
    Ok(Json((&account).into()))
}
