//! Refresh tokens, stored as SHA-256 hashes. Each login starts a family; each refresh marks the presented
//! token used and issues its successor in the same family. Presenting a used token again means it was
//! stolen or replayed: the whole family is revoked, which logs out the thief and the victim alike. A family
//! ends at its session's absolute end however often it is rotated.

use super::{Pool, now_ms};
use crate::error::{Error, Result};

/// Stores a refresh token living `ttl_ms` but never past `session_end_ms`; returns its expiry.
pub async fn insert(
    pool: &Pool,
    token_hash: &str,
    family_id: &str,
    account_id: &str,
    ttl_ms: i64,
    session_end_ms: i64,
) -> Result<i64> {
    let now = now_ms();
    let expires = now.saturating_add(ttl_ms).min(session_end_ms);
    sqlx::query(
        "insert into refresh_tokens (token_hash, family_id, account_id, created_at, expires_at,
         session_expires_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(family_id)
    .bind(account_id)
    .bind(now)
    .bind(expires)
    .bind(session_end_ms)
    .execute(pool)
    .await?;
    Ok(expires)
}

/// A live refresh token, consumed.
pub struct Consumed {
    pub account_id: String,
    pub family_id: String,
    /// When the login's session ends for good.
    pub session_end_ms: i64,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    account_id: String,
    family_id: String,
    expires_at: i64,
    session_expires_at: Option<i64>,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// Consumes a refresh token: returns (account id, family id) when it is live, and marks it used. The
/// conditional update makes two concurrent uses of one token impossible: only one of them wins.
pub async fn consume(pool: &Pool, token_hash: &str) -> Result<Consumed> {
    let now = now_ms();
    let row: Option<TokenRow> = sqlx::query_as(
        "select account_id, family_id, expires_at, session_expires_at, used_at, revoked_at
         from refresh_tokens where token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    let Some(TokenRow {
        account_id: account,
        family_id: family,
        expires_at: expires,
        session_expires_at: session_end,
        used_at: used,
        revoked_at: revoked,
    }) = row
    else {
        return Err(Error::Unauthorized("refresh token is not valid"));
    };
    if revoked.is_some() {
        return Err(Error::Unauthorized("refresh token has been revoked"));
    }
    if used.is_some() {
        revoke_family(pool, &family).await?;
        return Err(Error::Unauthorized(
            "refresh token was already used; every session of this login has been revoked",
        ));
    }
    if expires <= now {
        return Err(Error::Unauthorized("the session has expired; log in again"));
    }
    let won = sqlx::query(
        "update refresh_tokens set used_at = $1 where token_hash = $2 and used_at is null
         and revoked_at is null",
    )
    .bind(now)
    .bind(token_hash)
    .execute(pool)
    .await?
    .rows_affected();
    if won != 1 {
        revoke_family(pool, &family).await?;
        return Err(Error::Unauthorized(
            "refresh token was already used; every session of this login has been revoked",
        ));
    }
    Ok(Consumed {
        account_id: account,
        family_id: family,
        session_end_ms: session_end.unwrap_or(expires),
    })
}

/// Revokes the family `token_hash` belongs to (logout). Unknown tokens are ignored: logout is idempotent.
pub async fn revoke_by_token(pool: &Pool, token_hash: &str) -> Result<Option<String>> {
    let family: Option<(String, String)> =
        sqlx::query_as("select family_id, account_id from refresh_tokens where token_hash = $1")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
    if let Some((family, account)) = family {
        revoke_family(pool, &family).await?;
        return Ok(Some(account));
    }
    Ok(None)
}

pub async fn revoke_family(pool: &Pool, family_id: &str) -> Result<()> {
    sqlx::query(
        "update refresh_tokens set revoked_at = $1 where family_id = $2 and revoked_at is null",
    )
    .bind(now_ms())
    .bind(family_id)
    .execute(pool)
    .await?;
    Ok(())
}
