//! The audit log: one row per mutation, who did what to which object, when and from where.

use sqlx::FromRow;

use super::{Pool, new_id, now_ms};
use crate::error::Result;

#[derive(Clone, Debug, FromRow)]
pub struct Entry {
    pub id: String,
    pub org_id: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub at: i64,
    pub detail: String,
}

pub async fn record(
    pool: &Pool,
    org_id: &str,
    actor: &str,
    action: &str,
    target: &str,
    ip: &str,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "insert into audit_log (id, org_id, actor, action, target, ip, at, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id("aud"))
    .bind(org_id)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(ip)
    .bind(now_ms())
    .bind(detail.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

/// Newest first; `before` (unix ms) pages backwards.
pub async fn list(
    pool: &Pool,
    org_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>> {
    Ok(sqlx::query_as::<_, Entry>(
        "select id, org_id, actor, action, target, ip, at, detail from audit_log
         where org_id = $1 and at < $2 order by at desc, id desc limit $3",
    )
    .bind(org_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
