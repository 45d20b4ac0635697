//! Where a browser session's refresh token lives: an `HttpOnly; Secure; SameSite=Strict` cookie sent only to
//! `/v1/auth`, so no script in the page (an injected one included) can read it, and no other site can
//! make the browser send it. Refresh and logout also need the CSRF token in `X-CSRF-Token`: derived from
//! the refresh token (so it is bound to this session and cannot be planted by a sibling subdomain), handed
//! to the page in the response body and in a readable cookie for the page's other tabs.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::AppendHeaders;

use crate::auth::secrets::sha256_hex;
use crate::error::{Error, Result};

pub const REFRESH_COOKIE: &str = "omendb_refresh";
pub const CSRF_COOKIE: &str = "omendb_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The refresh token's cookie goes to these endpoints only (refresh and logout).
const REFRESH_PATH: &str = "/v1/auth";

/// The CSRF token of the session whose refresh token this is.
pub fn csrf_token(refresh_token: &str) -> String {
    sha256_hex(&format!("omendb-csrf\n{refresh_token}"))[..32].to_string()
}

/// The two `Set-Cookie` headers of a fresh or rotated session, living `max_age_s`.
pub fn set(
    refresh_token: &str,
    max_age_s: i64,
) -> AppendHeaders<[(axum::http::HeaderName, HeaderValue); 2]> {
    let age = max_age_s.max(0);
    AppendHeaders([
        (
            SET_COOKIE,
            cookie(&format!(
                "{REFRESH_COOKIE}={refresh_token}; Path={REFRESH_PATH}; Max-Age={age}; HttpOnly; Secure; SameSite=Strict"
            )),
        ),
        (
            SET_COOKIE,
            cookie(&format!(
                "{CSRF_COOKIE}={}; Path=/; Max-Age={age}; Secure; SameSite=Strict",
                csrf_token(refresh_token)
            )),
        ),
    ])
}

/// The headers that make the browser forget the session.
pub fn clear() -> AppendHeaders<[(axum::http::HeaderName, HeaderValue); 2]> {
    AppendHeaders([
        (
            SET_COOKIE,
            cookie(&format!(
                "{REFRESH_COOKIE}=; Path={REFRESH_PATH}; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
            )),
        ),
        (
            SET_COOKIE,
            cookie(&format!(
                "{CSRF_COOKIE}=; Path=/; Max-Age=0; Secure; SameSite=Strict"
            )),
        ),
    ])
}

fn cookie(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("cookie values are url-safe base64 and hex")
}

/// The request's refresh token, if it carries the cookie.
pub fn refresh_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == REFRESH_COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

/// Refuses a refresh or logout whose `X-CSRF-Token` is not this session's.
pub fn check_csrf(headers: &HeaderMap, refresh_token: &str) -> Result<()> {
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match sent {
        Some(t) if constant_time_eq(t.as_bytes(), csrf_token(refresh_token).as_bytes()) => Ok(()),
        Some(_) => Err(Error::Forbidden(
            "the X-CSRF-Token header does not match this session".into(),
        )),
        None => Err(Error::Forbidden(
            "send the session's CSRF token (the omendb_csrf cookie) in X-CSRF-Token".into(),
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_csrf_is_bound_to_it() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; omendb_refresh=tok123; b=2"),
        );
        assert_eq!(refresh_token(&h).as_deref(), Some("tok123"));
        assert!(check_csrf(&h, "tok123").is_err(), "no header");
        h.insert(
            CSRF_HEADER,
            HeaderValue::from_str(&csrf_token("other")).unwrap(),
        );
        assert!(check_csrf(&h, "tok123").is_err(), "another session's token");
        h.insert(
            CSRF_HEADER,
            HeaderValue::from_str(&csrf_token("tok123")).unwrap(),
        );
        check_csrf(&h, "tok123").unwrap();
        let mut empty = HeaderMap::new();
        empty.append(COOKIE, HeaderValue::from_static("omendb_refresh="));
        assert_eq!(refresh_token(&empty), None);
    }

    #[test]
    fn the_refresh_cookie_is_http_only_secure_strict_and_scoped() {
        let AppendHeaders([(_, r), (_, c)]) = set("tok", 60);
        let r = r.to_str().unwrap();
        for attr in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/v1/auth",
            "Max-Age=60",
        ] {
            assert!(r.contains(attr), "{r}");
        }
        let c = c.to_str().unwrap();
        assert!(
            !c.contains("HttpOnly") && c.contains("SameSite=Strict"),
            "{c}"
        );
    }
}
