//! Stripe webhook events: parsed by hand from the fields we use (the whole event types are large, change
//! with Stripe's API versions, and we verify the signature ourselves anyway), then applied to the
//! organisation they name. Every handler sets state rather than adding to it, so processing an event a
//! second time (after a crash mid-way) is harmless.

use serde_json::Value;

use super::dunning;
use crate::error::{Error, Result};
use crate::plans::Plan;
use crate::state::AppState;
use crate::store::{self, billing::OrgBilling};

/// The parts of an event every handler needs.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// Unix ms.
    pub created_ms: i64,
    pub object: Value,
}

impl Event {
    pub fn parse(body: &[u8]) -> Result<Event> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| Error::BadRequest(format!("the event is not valid JSON: {e}")))?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .ok_or_else(|| Error::BadRequest(format!("the event has no {k}")))
        };
        let object = v
            .get("data")
            .and_then(|d| d.get("object"))
            .filter(|o| o.is_object())
            .cloned()
            .ok_or_else(|| Error::BadRequest("the event has no data.object".into()))?;
        Ok(Event {
            id: text("id")?,
            kind: text("type")?,
            created_ms: v
                .get("created")
                .and_then(Value::as_i64)
                .map_or_else(store::now_ms, |s| s.saturating_mul(1000)),
            object,
        })
    }

    fn str(&self, path: &[&str]) -> Option<&str> {
        let mut v = &self.object;
        for k in path {
            v = v.get(k)?;
        }
        v.as_str().filter(|s| !s.is_empty())
    }
}

/// What handling an event did, for the log and the tests.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// A type we do not act on, or an object that names no organisation of ours.
    Ignored(&'static str),
}

pub async fn handle(state: &AppState, e: &Event) -> Result<Handled> {
    let handled = match e.kind.as_str() {
        "checkout.session.completed" => checkout_completed(state, e).await?,
        "customer.subscription.created" | "customer.subscription.updated" => {
            subscription_changed(state, e).await?
        }
        "customer.subscription.deleted" => match org_of(state, e).await? {
            Some(org) => {
                store::billing::cancel(&state.pool, &org.id).await?;
                done(state, &org.id).await?
            }
            None => Handled::Ignored("unknown customer"),
        },
        "invoice.paid" | "invoice.payment_succeeded" => match org_of(state, e).await? {
            Some(org) => {
                store::billing::mark_paid(&state.pool, &org.id).await?;
                done(state, &org.id).await?
            }
            None => Handled::Ignored("unknown customer"),
        },
        "invoice.payment_failed" => match org_of(state, e).await? {
            Some(org) => {
                store::billing::mark_past_due(&state.pool, &org.id, e.created_ms).await?;
                done(state, &org.id).await?
            }
            None => Handled::Ignored("unknown customer"),
        },
        _ => Handled::Ignored("event type not used"),
    };
    Ok(handled)
}

async fn done(state: &AppState, org_id: &str) -> Result<Handled> {
    dunning::reconcile_org(state, org_id).await?;
    Ok(Handled::Applied)
}

/// The organisation an object belongs to, by its customer.
async fn org_of(state: &AppState, e: &Event) -> Result<Option<OrgBilling>> {
    match e.str(&["customer"]) {
        Some(c) => store::billing::by_customer(&state.pool, c).await,
        None => Ok(None),
    }
}

async fn checkout_completed(state: &AppState, e: &Event) -> Result<Handled> {
    if e.str(&["mode"]).is_some_and(|m| m != "subscription") {
        return Ok(Handled::Ignored("not a subscription checkout"));
    }
    let Some(org) = org_of(state, e).await? else {
        return Ok(Handled::Ignored("unknown customer"));
    };
    // The session was created for this organisation; a mismatch means someone else's session.
    if e.str(&["client_reference_id"]).is_some_and(|r| r != org.id) {
        return Ok(Handled::Ignored(
            "client_reference_id names another organisation",
        ));
    }
    let Some(plan) = paid_plan(state, e) else {
        return Ok(Handled::Ignored("no paid plan in the session"));
    };
    store::billing::set_active_subscription(
        &state.pool,
        &org.id,
        plan.as_str(),
        e.str(&["subscription"]),
        None,
    )
    .await?;
    done(state, &org.id).await
}

async fn subscription_changed(state: &AppState, e: &Event) -> Result<Handled> {
    let Some(org) = org_of(state, e).await? else {
        return Ok(Handled::Ignored("unknown customer"));
    };
    let Some(plan) = paid_plan(state, e) else {
        return Ok(Handled::Ignored("no paid plan in the subscription"));
    };
    match e.str(&["status"]).unwrap_or("") {
        "active" | "trialing" => {
            store::billing::set_active_subscription(
                &state.pool,
                &org.id,
                plan.as_str(),
                e.str(&["id"]),
                period(&e.object),
            )
            .await?;
        }
        "past_due" | "unpaid" => {
            store::billing::mark_past_due(&state.pool, &org.id, e.created_ms).await?
        }
        "canceled" | "incomplete_expired" => store::billing::cancel(&state.pool, &org.id).await?,
        // `incomplete`: the first payment is still being made; checkout.session.completed follows.
        _ => return Ok(Handled::Ignored("subscription status not acted on")),
    }
    done(state, &org.id).await
}

/// The paid plan an object sells: our `metadata.plan`, else the plan whose Stripe price it contains.
fn paid_plan(state: &AppState, e: &Event) -> Option<Plan> {
    if let Some(p) = e.str(&["metadata", "plan"]).and_then(Plan::parse) {
        return (p != Plan::Free).then_some(p);
    }
    let items = e.object.get("items")?.get("data")?.as_array()?;
    let prices: Vec<&str> = items
        .iter()
        .filter_map(|i| i.get("price")?.get("id")?.as_str())
        .collect();
    [Plan::Enterprise, Plan::Pro]
        .into_iter()
        .find(|p| prices.contains(&state.billing.price(*p).price.as_str()))
}

/// The current period in unix ms: on the subscription (older API versions) or on its first item.
fn period(sub: &Value) -> Option<(i64, i64)> {
    let pick = |v: &Value| {
        Some((
            v.get("current_period_start")?.as_i64()? * 1000,
            v.get("current_period_end")?.as_i64()? * 1000,
        ))
    };
    pick(sub).or_else(|| pick(sub.get("items")?.get("data")?.get(0)?))
}
