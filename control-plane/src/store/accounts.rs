//! Accounts and their organisations. Sign-up creates both in one transaction; the account owns the org.

use sqlx::FromRow;

use super::{Pool, new_id, now_ms};
use crate::auth::secrets::Sealed;
use crate::error::{Error, Result};

#[derive(Clone, Debug, FromRow)]
pub struct Account {
    pub id: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub password_hash: Sealed,
    pub org_id: String,
    pub role: String,
    pub created_at: i64,
}

/// Creates an organisation and its owner. `email` must already be normalised (trimmed, lower case).
pub async fn create(pool: &Pool, email: &str, password_hash: &str) -> Result<Account> {
    let now = now_ms();
    let org_id = new_id("org");
    let account = Account {
        id: new_id("acc"),
        email: email.into(),
        password_hash: password_hash.into(),
        org_id: org_id.clone(),
        role: "owner".into(),
        created_at: now,
    };
    let mut tx = pool.begin().await?;
    sqlx::query("insert into organizations (id, name, created_at) values ($1, $2, $3)")
        .bind(&org_id)
        .bind(email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "insert into accounts (id, email, password_hash, org_id, role, created_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&account.id)
    .bind(&account.email)
    .bind(account.password_hash.expose())
    .bind(&account.org_id)
    .bind(&account.role)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if super::is_unique_violation(&e) => {
            return Err(Error::field(
                "email",
                "an account with this email already exists",
            ));
        }
        r => r?,
    };
    tx.commit().await?;
    Ok(account)
}

pub async fn by_email(pool: &Pool, email: &str) -> Result<Option<Account>> {
    Ok(sqlx::query_as::<_, Account>(
        "select id, email, password_hash, org_id, role, created_at from accounts where email = $1",
    )
    .bind(email)
    .fetch_optional(pool)
    .await?)
}

pub async fn by_id(pool: &Pool, id: &str) -> Result<Option<Account>> {
    Ok(sqlx::query_as::<_, Account>(
        "select id, email, password_hash, org_id, role, created_at from accounts where id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}
