//! Tenant databases: what the user asked for (`desired`) and what is (`state`). The fleet moves `state`
//! towards `desired`; deleted rows are kept (with `deleted_at`) for the audit trail, and free their name.

use sqlx::FromRow;

use super::{Pool, now_ms};
use crate::auth::secrets::Sealed;
use crate::error::{Error, Result};

#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct Database {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub plan: String,
    pub desired: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub db_user: String,
    #[sqlx(try_from = "String")]
    pub scram: Sealed,
    pub host: String,
    pub port: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub ready_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

macro_rules! select_db {
    ($rest:literal) => {
        concat!(
            "select id, org_id, name, plan, desired, state, state_reason, db_user, scram, host, port, ",
            "created_at, updated_at, ready_at, deleted_at from databases ",
            $rest
        )
    };
}

pub async fn insert(pool: &Pool, db: &Database) -> Result<()> {
    let r = sqlx::query(
        "insert into databases (id, org_id, name, plan, desired, state, state_reason, db_user, scram,
         host, port, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&db.id)
    .bind(&db.org_id)
    .bind(&db.name)
    .bind(&db.plan)
    .bind(&db.desired)
    .bind(&db.state)
    .bind(&db.state_reason)
    .bind(&db.db_user)
    .bind(db.scram.expose())
    .bind(&db.host)
    .bind(db.port)
    .bind(db.created_at)
    .bind(db.updated_at)
    .execute(pool)
    .await;
    match r {
        Err(e) if super::is_unique_violation(&e) => Err(Error::Conflict(format!(
            "a database named {:?} already exists in this organisation",
            db.name
        ))),
        r => r.map(|_| ()).map_err(Error::from),
    }
}

/// A live database of `org_id`. Another organisation's id is `NotFound`, exactly like a missing one.
pub async fn get(pool: &Pool, org_id: &str, id: &str) -> Result<Database> {
    sqlx::query_as::<_, Database>(select_db!(
        "where id = $1 and org_id = $2 and deleted_at is null"
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound)
}

/// Any row by id, for the fleet (which acts on behalf of no organisation).
pub async fn by_id(pool: &Pool, id: &str) -> Result<Option<Database>> {
    Ok(sqlx::query_as::<_, Database>(select_db!("where id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

pub async fn list(pool: &Pool, org_id: &str) -> Result<Vec<Database>> {
    Ok(sqlx::query_as::<_, Database>(select_db!(
        "where org_id = $1 and deleted_at is null order by created_at, id"
    ))
    .bind(org_id)
    .fetch_all(pool)
    .await?)
}

/// Rows the fleet must act on after a restart: everything not deleted and not settled as deleted.
pub async fn all_live(pool: &Pool) -> Result<Vec<Database>> {
    Ok(
        sqlx::query_as::<_, Database>(select_db!("where deleted_at is null order by created_at"))
            .fetch_all(pool)
            .await?,
    )
}

pub async fn count_by_plan(pool: &Pool, org_id: &str, plan: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "select count(*) from databases where org_id = $1 and plan = $2 and deleted_at is null",
    )
    .bind(org_id)
    .bind(plan)
    .fetch_one(pool)
    .await?;
    Ok(n)
}

pub async fn count_by_state(pool: &Pool) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "select state, count(*) from databases where deleted_at is null group by state",
    )
    .fetch_all(pool)
    .await?)
}

/// Sets what the user wants, and the transitional state that shows it is under way.
pub async fn set_desired(pool: &Pool, id: &str, desired: &str, state: &str) -> Result<()> {
    sqlx::query(
        "update databases set desired = $1, state = $2, state_reason = null, updated_at = $3
         where id = $4 and deleted_at is null",
    )
    .bind(desired)
    .bind(state)
    .bind(now_ms())
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_state(pool: &Pool, id: &str, state: &str, reason: Option<&str>) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        // A billing pause keeps its reason through the fleet's transitions: the user must see why.
        "update databases set state = $1, updated_at = $3,
         state_reason = case when $2 is null and billing_paused_at is not null
                        then state_reason else $2 end,
         ready_at = case when $1 = 'ready' then $3 else ready_at end
         where id = $4 and deleted_at is null",
    )
    .bind(state)
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_scram(pool: &Pool, id: &str, scram: &str) -> Result<()> {
    sqlx::query("update databases set scram = $1, updated_at = $2 where id = $3")
        .bind(scram)
        .bind(now_ms())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_plan(pool: &Pool, id: &str, plan: &str) -> Result<()> {
    sqlx::query("update databases set plan = $1, updated_at = $2 where id = $3")
        .bind(plan)
        .bind(now_ms())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_port(pool: &Pool, id: &str, port: i64) -> Result<()> {
    sqlx::query("update databases set port = $1, updated_at = $2 where id = $3")
        .bind(port)
        .bind(now_ms())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn mark_deleted(pool: &Pool, id: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "update databases set state = 'deleted', deleted_at = $1, updated_at = $1 where id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Pauses a running paid database because its organisation did not pay; returns whether it did.
pub async fn pause_for_billing(pool: &Pool, id: &str, reason: &str) -> Result<bool> {
    let now = now_ms();
    let r = sqlx::query(
        "update databases set desired = 'paused', state = 'pausing', state_reason = $1,
         billing_paused_at = $2, updated_at = $2
         where id = $3 and desired = 'running' and deleted_at is null",
    )
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Resumes a database that billing paused (and nothing the user paused); returns whether it did.
pub async fn resume_after_billing(pool: &Pool, id: &str) -> Result<bool> {
    let r = sqlx::query(
        "update databases set desired = 'running', state = 'resuming', state_reason = null,
         billing_paused_at = null, updated_at = $1
         where id = $2 and billing_paused_at is not null and desired = 'paused' and deleted_at is null",
    )
    .bind(now_ms())
    .bind(id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Live databases of `org_id` that billing paused.
pub async fn billing_paused(pool: &Pool, org_id: &str) -> Result<Vec<Database>> {
    Ok(sqlx::query_as::<_, Database>(select_db!(
        "where org_id = $1 and billing_paused_at is not null and deleted_at is null order by created_at"
    ))
    .bind(org_id)
    .fetch_all(pool)
    .await?)
}

/// The user resumed or deleted it: billing no longer owns the pause.
pub async fn clear_billing_pause(pool: &Pool, id: &str) -> Result<()> {
    sqlx::query("update databases set billing_paused_at = null where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
