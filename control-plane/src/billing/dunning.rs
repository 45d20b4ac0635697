//! Enforcement: an organisation's databases run only on plans it has paid for. Past due beyond the grace
//! period, or on a plan above the one paid for, a paid database is paused (data kept) and marked as paused
//! by billing; once the organisation is in good standing again exactly those databases resume.

use super::rank;
use crate::error::Result;
use crate::fleet::desired;
use crate::plans::Plan;
use crate::state::AppState;
use crate::store;

/// What reconciling one organisation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub paused: Vec<String>,
    pub resumed: Vec<String>,
}

/// Brings one organisation's databases in line with what it has paid for. Idempotent.
pub async fn reconcile_org(state: &AppState, org_id: &str) -> Result<Outcome> {
    let mut out = Outcome::default();
    if !state.billing.enabled() {
        return Ok(out);
    }
    // The control plane runs as one replica (see the chart), so a process-wide lock serialises them all.
    let _serial = state.billing.reconciling.lock().await;
    let org = store::billing::org(&state.pool, org_id).await?;
    let paid = Plan::parse(&org.plan).unwrap_or(Plan::Free);
    let suspended = state.billing.suspended(&org, store::now_ms());
    for db in store::databases::list(&state.pool, org_id).await? {
        let plan = Plan::parse(&db.plan).unwrap_or(Plan::Free);
        if plan == Plan::Free {
            continue;
        }
        let reason = if suspended {
            Some("paused: the organisation's invoice is unpaid past the grace period".to_string())
        } else if rank(plan) > rank(paid) {
            Some(format!(
                "paused: the organisation's plan ({}) does not include {} databases",
                paid.as_str(),
                plan.as_str()
            ))
        } else {
            None
        };
        if let Some(reason) = reason
            && db.desired == desired::RUNNING
            && store::databases::pause_for_billing(&state.pool, &db.id, &reason).await?
        {
            audit(state, org_id, "database.pause_billing", &db.id, &reason).await?;
            state.metrics.billing_pauses.inc();
            state.fleet.kick(db.id.clone());
            out.paused.push(db.id);
        }
    }
    if !suspended {
        for db in store::databases::billing_paused(&state.pool, org_id).await? {
            let plan = Plan::parse(&db.plan).unwrap_or(Plan::Free);
            if rank(plan) <= rank(paid)
                && store::databases::resume_after_billing(&state.pool, &db.id).await?
            {
                audit(state, org_id, "database.resume_billing", &db.id, "paid").await?;
                state.fleet.kick(db.id.clone());
                out.resumed.push(db.id);
            }
        }
    }
    Ok(out)
}

/// Every organisation whose grace period has run out (the periodic check; webhooks reconcile at once).
pub async fn enforce_grace(state: &AppState) -> Result<usize> {
    let grace_ms =
        i64::try_from(state.billing.config.grace_period_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let cutoff = store::now_ms().saturating_sub(grace_ms);
    let mut paused = 0;
    for org in store::billing::past_due_before(&state.pool, cutoff).await? {
        paused += reconcile_org(state, &org).await?.paused.len();
    }
    Ok(paused)
}

async fn audit(state: &AppState, org_id: &str, action: &str, id: &str, why: &str) -> Result<()> {
    store::audit::record(
        &state.pool,
        org_id,
        "system",
        action,
        id,
        "",
        serde_json::json!({"reason": why}),
    )
    .await
}
