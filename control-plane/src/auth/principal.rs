//! Who is calling: an account (access JWT) or an API key, with their organisation and client address.
//! Every authenticated handler takes a `Principal`; a missing or bad credential is a 401 before the
//! handler runs.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::secrets::{API_KEY_PREFIX, sha256_hex};
use crate::error::Error;
use crate::state::AppState;
use crate::store;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Session,
    ApiKey(String),
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub account_id: String,
    pub org_id: String,
    pub role: String,
    pub credential: Credential,
    pub ip: String,
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::Session => format!("account:{}", self.account_id),
            Credential::ApiKey(id) => format!("api_key:{id}"),
        }
    }

    pub fn require_owner(&self) -> Result<(), Error> {
        if self.role == "owner" {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "only the organisation's owner may do this".into(),
            ))
        }
    }

    /// Managing credentials needs a logged-in person: an API key cannot mint or revoke API keys.
    pub fn require_session(&self) -> Result<(), Error> {
        match self.credential {
            Credential::Session => Ok(()),
            Credential::ApiKey(_) => Err(Error::Forbidden(
                "API keys cannot manage API keys; log in to the console".into(),
            )),
        }
    }
}

/// The caller's address: the socket peer, or the first `X-Forwarded-For` hop behind a trusted proxy.
pub fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(first) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return first.to_string();
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

/// The client address alone, for unauthenticated endpoints (rate limits, audit of sign-up).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Ok(ClientIp(client_ip(parts, state.config.trust_forwarded_for)))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let ip = client_ip(parts, state.config.trust_forwarded_for);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(Error::Unauthorized("authentication required"))?
            .to_str()
            .map_err(|_| Error::Unauthorized("authorization header is not valid"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(Error::Unauthorized("use Authorization: Bearer <token>"))?
            .trim();
        if token.starts_with(API_KEY_PREFIX) {
            let key = store::api_keys::authenticate(&state.pool, &sha256_hex(token))
                .await?
                .ok_or(Error::Unauthorized(
                    "API key is not valid or has been revoked",
                ))?;
            let account = store::accounts::by_id(&state.pool, &key.account_id)
                .await?
                .ok_or(Error::Unauthorized(
                    "API key is not valid or has been revoked",
                ))?;
            return Ok(Principal {
                account_id: key.account_id,
                org_id: key.org_id,
                role: account.role,
                credential: Credential::ApiKey(key.id),
                ip,
            });
        }
        let claims = state.keys.verify(token)?;
        Ok(Principal {
            account_id: claims.sub,
            org_id: claims.org,
            role: claims.role,
            credential: Credential::Session,
            ip,
        })
    }
}
