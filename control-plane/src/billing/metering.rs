//! Usage metering. The sampler turns each database's running time and stored bytes into usage rows in the
//! metadata DB; the reporter sends pending rows to Stripe as meter events, each under its row id as both
//! the event identifier and the idempotency key. A row is marked reported only after Stripe acknowledged
//! it, so a crash or an outage means a retry later, and a retry can never bill twice.

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::stripe::MeterEvent;
use crate::error::Result;
use crate::fleet::{desired, state as st};
use crate::plans::Plan;
use crate::state::AppState;
use crate::store::{self, billing as bs};

const MIB: u128 = 1024 * 1024;
/// Rows per reporter pass; the rest wait for the next one.
const REPORT_BATCH: i64 = 200;
/// Retries back off from 1 s doubling up to 5 minutes.
const MAX_BACKOFF_MS: i64 = 300_000;

/// Per-database remainders carried between samples, so short intervals lose nothing to rounding.
#[derive(Default)]
pub struct Sampler {
    last: HashMap<String, i64>,
    /// Running milliseconds not yet billed as a whole second.
    compute_ms: HashMap<String, u128>,
    /// Byte-milliseconds not yet billed as a whole MiB-second.
    storage: HashMap<String, u128>,
}

impl Sampler {
    /// Records usage from each database's last sample (or one interval ago) up to `now`.
    pub async fn sample(&mut self, state: &AppState, now: i64) -> Result<usize> {
        let interval = i64::try_from(state.billing.config.sample_interval_ms).unwrap_or(i64::MAX);
        let mut orgs: HashMap<String, bool> = HashMap::new();
        let mut written = 0;
        let live = store::databases::all_live(&state.pool).await?;
        let ids: std::collections::HashSet<&str> = live.iter().map(|d| d.id.as_str()).collect();
        // Deleted databases leave no state behind.
        self.last.retain(|id, _| ids.contains(id.as_str()));
        self.compute_ms.retain(|id, _| ids.contains(id.as_str()));
        self.storage.retain(|id, _| ids.contains(id.as_str()));
        for db in &live {
            if db.desired == desired::DELETED {
                continue;
            }
            let prev = self.last.get(&db.id).copied().unwrap_or(now - interval);
            // A stalled loop (suspended laptop, overloaded metadata DB) never bills more than two intervals.
            let start = prev.max(now - 2 * interval);
            let elapsed = u128::try_from(now - start).unwrap_or(0);
            self.last.insert(db.id.clone(), now);
            if elapsed == 0 {
                continue;
            }
            let billed = match orgs.get(&db.org_id) {
                Some(b) => *b,
                None => {
                    let org = bs::org(&state.pool, &db.org_id).await?;
                    let b = state.billing.enabled()
                        && Plan::parse(&org.plan).is_some_and(|p| p != Plan::Free)
                        && org.stripe_customer_id.is_some();
                    orgs.insert(db.org_id.clone(), b);
                    b
                }
            };
            // Free databases are metered for the usage page but never reported.
            let billed = billed && Plan::parse(&db.plan).is_some_and(|p| p != Plan::Free);
            let status = if billed { bs::PENDING } else { bs::NOT_BILLED };
            let running = db.desired == desired::RUNNING
                && matches!(db.state.as_str(), st::READY | st::UPDATING);
            if running {
                let acc = self.compute_ms.entry(db.id.clone()).or_default();
                *acc += elapsed;
                let seconds = *acc / 1000;
                *acc %= 1000;
                if seconds > 0 {
                    let q = i64::try_from(seconds).unwrap_or(i64::MAX);
                    insert(state, db, bs::COMPUTE_SECONDS, q, start, now, status).await?;
                    written += 1;
                }
            }
            if let Ok(Some(bytes)) = state.fleet.provisioner().storage_bytes(&db.id).await {
                let acc = self.storage.entry(db.id.clone()).or_default();
                *acc += u128::from(bytes) * elapsed;
                let unit = MIB * 1000;
                let q = *acc / unit;
                *acc %= unit;
                if q > 0 {
                    let q = i64::try_from(q).unwrap_or(i64::MAX);
                    insert(state, db, bs::STORAGE_MIB_SECONDS, q, start, now, status).await?;
                    written += 1;
                }
            }
        }
        Ok(written)
    }
}

async fn insert(
    state: &AppState,
    db: &store::databases::Database,
    metric: &str,
    quantity: i64,
    start: i64,
    end: i64,
    status: &str,
) -> Result<()> {
    bs::insert_usage(
        &state.pool,
        &bs::Usage {
            id: store::new_id("use"),
            org_id: db.org_id.clone(),
            database_id: db.id.clone(),
            metric: metric.into(),
            quantity,
            period_start: start,
            period_end: end,
            report_status: status.into(),
            attempts: 0,
            last_error: None,
            reported_at: None,
        },
    )
    .await?;
    state.metrics.usage_rows.with_label_values(&[metric]).inc();
    Ok(())
}

/// What one reporter pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reported {
    pub sent: usize,
    pub failed: usize,
}

/// Sends due pending rows, oldest first. The first failure ends the pass: when Stripe is down, every
/// further request would fail too, and each row keeps its own back-off.
pub async fn report(state: &AppState, now: i64) -> Result<Reported> {
    let mut out = Reported::default();
    let Ok(stripe) = state.billing.stripe() else {
        return Ok(out);
    };
    let cfg = &state.billing.config;
    for row in bs::due(&state.pool, now, REPORT_BATCH).await? {
        let Some(customer) = row.stripe_customer_id.as_deref() else {
            let next = now + backoff(row.attempts);
            bs::mark_failed(&state.pool, &row.id, "no Stripe customer", next).await?;
            out.failed += 1;
            continue;
        };
        let event_name = if row.metric == bs::COMPUTE_SECONDS {
            &cfg.compute_meter
        } else {
            &cfg.storage_meter
        };
        let sent = stripe
            .meter_event(MeterEvent {
                event_name,
                customer,
                value: row.quantity,
                identifier: &row.id,
                timestamp_s: row.period_end / 1000,
            })
            .await;
        match sent {
            Ok(()) => {
                bs::mark_reported(&state.pool, &row.id).await?;
                state.metrics.usage_reports.with_label_values(&["ok"]).inc();
                out.sent += 1;
            }
            Err(e) => {
                let next = now + backoff(row.attempts);
                bs::mark_failed(&state.pool, &row.id, &e.to_string(), next).await?;
                state
                    .metrics
                    .usage_reports
                    .with_label_values(&["error"])
                    .inc();
                out.failed += 1;
                break;
            }
        }
    }
    Ok(out)
}

fn backoff(attempts: i64) -> i64 {
    let shift = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    (1000_i64 << shift).min(MAX_BACKOFF_MS)
}

/// The sampler, reporter and grace-period check, each on its own interval.
pub fn spawn(state: AppState) -> Vec<JoinHandle<()>> {
    let cfg = &state.billing.config;
    let sample_every = Duration::from_millis(cfg.sample_interval_ms);
    let report_every = Duration::from_millis(cfg.report_interval_ms);
    let retention_ms =
        i64::try_from(cfg.usage_retention_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX);
    let s = state.clone();
    let sampler = tokio::spawn(async move {
        let mut sampler = Sampler::default();
        let mut tick = tokio::time::interval(sample_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned_at = 0;
        loop {
            tick.tick().await;
            let now = store::now_ms();
            if now - pruned_at > 3_600_000 {
                pruned_at = now;
                match bs::prune_usage(&s.pool, now.saturating_sub(retention_ms)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("pruned {n} settled usage rows"),
                    Err(e) => tracing::error!("pruning usage rows failed: {e}"),
                }
            }
            if let Err(e) = sampler.sample(&s, store::now_ms()).await {
                tracing::error!("usage sampling failed: {e}");
            }
            if let Err(e) = super::dunning::enforce_grace(&s).await {
                tracing::error!("grace period check failed: {e}");
            }
        }
    });
    let mut tasks = vec![sampler];
    if state.billing.enabled() {
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(report_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match report(&state, store::now_ms()).await {
                    Ok(r) if r.failed > 0 => tracing::warn!(
                        "usage report: {} sent, {} failed (retrying later)",
                        r.sent,
                        r.failed
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!("usage reporting failed: {e}"),
                }
            }
        }));
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0), 1000);
        assert_eq!(backoff(1), 2000);
        assert_eq!(backoff(8), 256_000);
        assert_eq!(backoff(9), 300_000);
        assert_eq!(backoff(1000), 300_000);
        assert_eq!(backoff(-3), 1000);
    }
}
