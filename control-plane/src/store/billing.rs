//! Billing rows: each organisation's paid plan and payment state, metered usage waiting for Stripe, and the
//! webhook events already processed.

use sqlx::FromRow;

use super::{Pool, now_ms};
use crate::error::{Error, Result};

pub const ACTIVE: &str = "active";
pub const PAST_DUE: &str = "past_due";
pub const CANCELED: &str = "canceled";

pub const COMPUTE_SECONDS: &str = "compute_seconds";
pub const STORAGE_MIB_SECONDS: &str = "storage_mib_seconds";

pub const PENDING: &str = "pending";
pub const REPORTED: &str = "reported";
pub const NOT_BILLED: &str = "not_billed";

#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct OrgBilling {
    pub id: String,
    pub plan: String,
    pub billing_state: String,
    pub past_due_since: Option<i64>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
}

macro_rules! select_org {
    ($rest:literal) => {
        concat!(
            "select id, plan, billing_state, past_due_since, stripe_customer_id, stripe_subscription_id, ",
            "period_start, period_end from organizations ",
            $rest
        )
    };
}

pub async fn org(pool: &Pool, org_id: &str) -> Result<OrgBilling> {
    sqlx::query_as::<_, OrgBilling>(select_org!("where id = $1"))
        .bind(org_id)
        .fetch_optional(pool)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn by_customer(pool: &Pool, customer: &str) -> Result<Option<OrgBilling>> {
    Ok(
        sqlx::query_as::<_, OrgBilling>(select_org!("where stripe_customer_id = $1"))
            .bind(customer)
            .fetch_optional(pool)
            .await?,
    )
}

/// Records the organisation's customer unless one is recorded already; returns the one that counts.
pub async fn set_customer(pool: &Pool, org_id: &str, customer: &str) -> Result<String> {
    sqlx::query(
        "update organizations set stripe_customer_id = $2 where id = $1 and stripe_customer_id is null",
    )
    .bind(org_id)
    .bind(customer)
    .execute(pool)
    .await?;
    org(pool, org_id)
        .await?
        .stripe_customer_id
        .ok_or_else(|| Error::Internal("customer id not recorded".into()))
}

/// A subscription that is paid up (or trialing): the plan it pays for applies.
pub async fn set_active_subscription(
    pool: &Pool,
    org_id: &str,
    plan: &str,
    subscription: Option<&str>,
    period: Option<(i64, i64)>,
) -> Result<()> {
    sqlx::query(
        "update organizations set plan = $2, billing_state = $3, past_due_since = null,
         stripe_subscription_id = coalesce($4, stripe_subscription_id),
         period_start = coalesce($5, period_start), period_end = coalesce($6, period_end)
         where id = $1",
    )
    .bind(org_id)
    .bind(plan)
    .bind(ACTIVE)
    .bind(subscription)
    .bind(period.map(|p| p.0))
    .bind(period.map(|p| p.1))
    .execute(pool)
    .await?;
    Ok(())
}

/// A failed payment: the clock of the grace period starts at the first failure and keeps running.
pub async fn mark_past_due(pool: &Pool, org_id: &str, since: i64) -> Result<()> {
    sqlx::query(
        "update organizations set billing_state = $2, past_due_since = coalesce(past_due_since, $3)
         where id = $1",
    )
    .bind(org_id)
    .bind(PAST_DUE)
    .bind(since)
    .execute(pool)
    .await?;
    Ok(())
}

/// An invoice was paid: back in good standing (the plan stays what the subscription says).
pub async fn mark_paid(pool: &Pool, org_id: &str) -> Result<()> {
    sqlx::query(
        "update organizations set billing_state = $2, past_due_since = null
         where id = $1 and billing_state <> $3",
    )
    .bind(org_id)
    .bind(ACTIVE)
    .bind(CANCELED)
    .execute(pool)
    .await?;
    Ok(())
}

/// The subscription ended: back to the free plan.
pub async fn cancel(pool: &Pool, org_id: &str) -> Result<()> {
    sqlx::query(
        "update organizations set plan = 'free', billing_state = $2, past_due_since = null,
         stripe_subscription_id = null where id = $1",
    )
    .bind(org_id)
    .bind(CANCELED)
    .execute(pool)
    .await?;
    Ok(())
}

/// Organisations past due since before `cutoff`.
pub async fn past_due_before(pool: &Pool, cutoff: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar::<_, String>(
        "select id from organizations where billing_state = $1 and past_due_since <= $2",
    )
    .bind(PAST_DUE)
    .bind(cutoff)
    .fetch_all(pool)
    .await?)
}

/// One sampled quantity of one database.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct Usage {
    pub id: String,
    pub org_id: String,
    pub database_id: String,
    pub metric: String,
    pub quantity: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub report_status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub reported_at: Option<i64>,
}

pub async fn insert_usage(pool: &Pool, u: &Usage) -> Result<()> {
    sqlx::query(
        "insert into usage_records (id, org_id, database_id, metric, quantity, period_start, period_end,
         report_status) values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&u.id)
    .bind(&u.org_id)
    .bind(&u.database_id)
    .bind(&u.metric)
    .bind(u.quantity)
    .bind(u.period_start)
    .bind(u.period_end)
    .bind(&u.report_status)
    .execute(pool)
    .await?;
    Ok(())
}

/// A pending row with the customer it bills.
#[derive(Clone, Debug, FromRow)]
pub struct Pending {
    pub id: String,
    pub metric: String,
    pub quantity: i64,
    pub period_end: i64,
    pub attempts: i64,
    pub stripe_customer_id: Option<String>,
}

/// Pending rows due for a (re)try, oldest first.
pub async fn due(pool: &Pool, now: i64, limit: i64) -> Result<Vec<Pending>> {
    Ok(sqlx::query_as::<_, Pending>(
        "select u.id, u.metric, u.quantity, u.period_end, u.attempts, o.stripe_customer_id
         from usage_records u join organizations o on o.id = u.org_id
         where u.report_status = $1 and u.next_attempt_at <= $2
         order by u.period_end, u.id limit $3",
    )
    .bind(PENDING)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn mark_reported(pool: &Pool, id: &str) -> Result<()> {
    sqlx::query("update usage_records set report_status = $2, reported_at = $3, last_error = null where id = $1")
        .bind(id)
        .bind(REPORTED)
        .bind(now_ms())
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn mark_failed(pool: &Pool, id: &str, error: &str, next_attempt_at: i64) -> Result<()> {
    sqlx::query(
        "update usage_records set attempts = attempts + 1, last_error = $2, next_attempt_at = $3
         where id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(next_attempt_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn usage_of_org(pool: &Pool, org_id: &str) -> Result<Vec<Usage>> {
    Ok(sqlx::query_as::<_, Usage>(
        "select id, org_id, database_id, metric, quantity, period_start, period_end, report_status,
         attempts, last_error, reported_at from usage_records where org_id = $1 order by period_end, id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await?)
}

/// Sums per metric and UTC day (days since the epoch) of the usage that ended in `(from, to]`.
pub async fn daily_usage(
    pool: &Pool,
    org_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(String, i64, i64)>> {
    Ok(sqlx::query_as::<_, (String, i64, i64)>(
        "select metric, period_end / 86400000 as day, cast(sum(quantity) as bigint) as total
         from usage_records where org_id = $1 and period_end > $2 and period_end <= $3
         group by metric, period_end / 86400000 order by day",
    )
    .bind(org_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?)
}

/// Deletes settled usage rows that ended before `cutoff`; returns how many.
pub async fn prune_usage(pool: &Pool, cutoff: i64) -> Result<u64> {
    let r = sqlx::query("delete from usage_records where report_status <> $1 and period_end < $2")
        .bind(PENDING)
        .bind(cutoff)
        .execute(pool)
        .await?;
    Ok(r.rows_affected())
}

/// Counts of usage rows by report status (for `/metrics`).
pub async fn usage_status_counts(pool: &Pool) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as::<_, (String, i64)>(
        "select report_status, count(*) from usage_records group by report_status",
    )
    .fetch_all(pool)
    .await?)
}

/// What recording a webhook event found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventSeen {
    /// First delivery.
    New,
    /// Delivered before and fully processed: acknowledge, do nothing.
    Processed,
    /// Delivered before but processing did not finish (a crash, a metadata DB error): process again.
    Unfinished,
}

pub async fn record_event(pool: &Pool, id: &str, kind: &str) -> Result<EventSeen> {
    let r = sqlx::query("insert into webhook_events (id, type, received_at) values ($1, $2, $3)")
        .bind(id)
        .bind(kind)
        .bind(now_ms())
        .execute(pool)
        .await;
    match r {
        Ok(_) => Ok(EventSeen::New),
        Err(e) if super::is_unique_violation(&e) => {
            let processed: Option<i64> =
                sqlx::query_scalar("select processed_at from webhook_events where id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await?;
            Ok(if processed.is_some() {
                EventSeen::Processed
            } else {
                EventSeen::Unfinished
            })
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn mark_event_processed(pool: &Pool, id: &str) -> Result<()> {
    sqlx::query("update webhook_events set processed_at = $2 where id = $1")
        .bind(id)
        .bind(now_ms())
        .execute(pool)
        .await?;
    Ok(())
}
