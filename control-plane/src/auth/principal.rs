//! Who is calling: an account (access JWT) or an API key, with their organisation and client address.
//! Every authenticated handler takes a `Principal`; a missing or bad credential is a 401 before the
//! handler runs.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};

use super::scopes::{Scope, Scopes};
use super::secrets::{API_KEY_PREFIX, sha256_hex};
use crate::config::TrustedProxies;
use crate::error::Error;
use crate::state::AppState;
use crate::store;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Session,
    ApiKey { id: String, expires_at: Option<i64> },
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub account_id: String,
    pub org_id: String,
    pub role: String,
    pub credential: Credential,
    /// Everything for a session; the key's own for an API key (already checked against this request).
    pub scopes: Scopes,
    pub ip: String,
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::Session => format!("account:{}", self.account_id),
            Credential::ApiKey { id, .. } => format!("api_key:{id}"),
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
}

/// Refuses an API key whose scopes do not cover `method path`.
fn check_scope(scopes: &Scopes, method: &Method, path: &str) -> Result<(), Error> {
    match Scope::required(method, path) {
        Some(s) if scopes.contains(s) => Ok(()),
        Some(s) => Err(Error::Forbidden(format!(
            "this API key lacks the {s} scope that {method} {path} needs"
        ))),
        None => Err(Error::Forbidden(format!(
            "API keys cannot {method} {path}; log in to the console"
        ))),
    }
}

/// The caller's address. The socket peer, unless the peer is one of our trusted proxies: then the
/// right-most `X-Forwarded-For` address that is not a trusted proxy. Each proxy appends the address it
/// was reached from, so that one is the first a proxy of ours vouches for; everything left of it was
/// written by the client and may be forged.
pub fn client_ip(parts: &Parts, trusted: &TrustedProxies) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".into();
    };
    forwarded_client(peer, parts.headers.get_all("x-forwarded-for"), trusted).to_string()
}

fn forwarded_client<'a>(
    peer: IpAddr,
    headers: impl IntoIterator<Item = &'a HeaderValue>,
    trusted: &TrustedProxies,
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .into_iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        // Garbage where a proxy of ours should have written an address: believe nothing further left.
        let Ok(ip) = hop.parse::<IpAddr>() else {
            return nearest;
        };
        if !trusted.contains(&ip) {
            return ip;
        }
        nearest = ip;
    }
    nearest
}

/// The client address alone, for unauthenticated endpoints (rate limits, audit of sign-up).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Ok(ClientIp(client_ip(parts, &state.config.trusted_proxies)))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let ip = client_ip(parts, &state.config.trusted_proxies);
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
            check_scope(&key.scopes, &parts.method, parts.uri.path())?;
            return Ok(Principal {
                account_id: key.account_id,
                org_id: key.org_id,
                role: account.role,
                credential: Credential::ApiKey {
                    id: key.id,
                    expires_at: key.expires_at,
                },
                scopes: key.scopes,
                ip,
            });
        }
        let claims = state.keys.verify(token)?;
        Ok(Principal {
            account_id: claims.sub,
            org_id: claims.org,
            role: claims.role,
            credential: Credential::Session,
            scopes: Scopes::all(),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(peer: &str, xff: &[&str], trusted: &str) -> String {
        let values: Vec<HeaderValue> = xff
            .iter()
            .map(|v| HeaderValue::from_str(v).unwrap())
            .collect();
        forwarded_client(
            peer.parse().unwrap(),
            &values,
            &TrustedProxies::parse_list(trusted).unwrap(),
        )
        .to_string()
    }

    #[test]
    fn the_header_counts_only_from_trusted_proxies_and_only_right_of_them() {
        // No proxies configured: the header is the client's word, ignored.
        assert_eq!(client("203.0.113.9", &["1.2.3.4"], ""), "203.0.113.9");
        // From an untrusted peer: ignored.
        assert_eq!(
            client("203.0.113.9", &["1.2.3.4"], "10.0.0.0/8"),
            "203.0.113.9"
        );
        // Through our proxy: the address it appended, not what the client prepended.
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4, 198.51.100.7"], "10.0.0.0/8"),
            "198.51.100.7"
        );
        // Two of our proxies in a row, the header split over two lines.
        assert_eq!(
            client(
                "10.0.0.2",
                &["6.6.6.6, 198.51.100.7", "10.0.0.3"],
                "10.0.0.0/8"
            ),
            "198.51.100.7"
        );
        // Garbage right of the real hop: stop at the nearest proxy of ours.
        assert_eq!(
            client(
                "10.0.0.2",
                &["198.51.100.7, not-an-ip, 10.0.0.3"],
                "10.0.0.0/8"
            ),
            "10.0.0.3"
        );
        // Only proxies of ours: the furthest one.
        assert_eq!(client("10.0.0.2", &["10.0.0.5"], "10.0.0.0/8"), "10.0.0.5");
        assert_eq!(client("10.0.0.2", &[], "10.0.0.0/8"), "10.0.0.2");
    }
}
