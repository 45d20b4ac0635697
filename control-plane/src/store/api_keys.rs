//! API keys for automation: shown once at creation, stored as SHA-256 hashes, scoped, revocable, and
//! optionally expiring.

use sqlx::FromRow;

use super::{Pool, new_id, now_ms};
use crate::auth::scopes::Scopes;
use crate::error::{Error, Result};

#[derive(Clone, Debug, FromRow)]
pub struct ApiKey {
    pub id: String,
    pub org_id: String,
    pub account_id: String,
    pub name: String,
    pub prefix: String,
    #[sqlx(try_from = "String")]
    pub scopes: Scopes,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What `create` is given besides the owner.
pub struct NewKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: Scopes,
    pub expires_at: Option<i64>,
}

macro_rules! select_key {
    ($rest:literal) => {
        concat!(
            "select id, org_id, account_id, name, prefix, scopes, created_at, expires_at, ",
            "last_used_at, revoked_at ",
            "from api_keys ",
            $rest
        )
    };
}

pub async fn create(
    pool: &Pool,
    org_id: &str,
    account_id: &str,
    new: NewKey<'_>,
) -> Result<ApiKey> {
    let key = ApiKey {
        id: new_id("key"),
        org_id: org_id.into(),
        account_id: account_id.into(),
        name: new.name.into(),
        prefix: new.prefix.into(),
        scopes: new.scopes,
        created_at: now_ms(),
        expires_at: new.expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    sqlx::query(
        "insert into api_keys (id, org_id, account_id, name, prefix, key_hash, scopes, created_at,
         expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&key.id)
    .bind(&key.org_id)
    .bind(&key.account_id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(new.key_hash)
    .bind(key.scopes.to_stored())
    .bind(key.created_at)
    .bind(key.expires_at)
    .execute(pool)
    .await?;
    Ok(key)
}

pub async fn list(pool: &Pool, org_id: &str) -> Result<Vec<ApiKey>> {
    Ok(sqlx::query_as::<_, ApiKey>(select_key!(
        "where org_id = $1 order by created_at desc, id"
    ))
    .bind(org_id)
    .fetch_all(pool)
    .await?)
}

/// The live key with this hash, touching its last-used time. An expired key is refused as such.
pub async fn authenticate(pool: &Pool, key_hash: &str) -> Result<Option<ApiKey>> {
    let key =
        sqlx::query_as::<_, ApiKey>(select_key!("where key_hash = $1 and revoked_at is null"))
            .bind(key_hash)
            .fetch_optional(pool)
            .await?;
    if key
        .as_ref()
        .and_then(|k| k.expires_at)
        .is_some_and(|t| t <= now_ms())
    {
        return Err(Error::Unauthorized("API key has expired"));
    }
    if let Some(k) = &key {
        sqlx::query("update api_keys set last_used_at = $1 where id = $2")
            .bind(now_ms())
            .bind(&k.id)
            .execute(pool)
            .await?;
    }
    Ok(key)
}

/// Revokes a key of `org_id`; another organisation's key id is `NotFound`, like a missing one.
pub async fn revoke(pool: &Pool, org_id: &str, id: &str) -> Result<ApiKey> {
    let done = sqlx::query(
        "update api_keys set revoked_at = $1 where id = $2 and org_id = $3 and revoked_at is null",
    )
    .bind(now_ms())
    .bind(id)
    .bind(org_id)
    .execute(pool)
    .await?
    .rows_affected();
    let key = sqlx::query_as::<_, ApiKey>(select_key!("where id = $1 and org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_optional(pool)
        .await?
        .ok_or(Error::NotFound)?;
    if done == 0 && key.revoked_at.is_none() {
        return Err(Error::NotFound);
    }
    Ok(key)
}
