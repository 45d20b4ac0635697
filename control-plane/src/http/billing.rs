//! Billing over HTTP: the organisation's plan, payment state, usage and estimate; Checkout and billing
//! portal sessions; and Stripe's webhook, which authenticates by signature instead of a bearer token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use chrono::{Datelike, TimeZone, Utc};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{ValidJson, Validate};
use crate::auth::Principal;
use crate::billing::events::{self, Event, Handled};
use crate::billing::stripe::CheckoutRequest;
use crate::billing::webhook::{self, SignatureError};
use crate::error::{Error, ErrorBody, FieldError, Result};
use crate::plans::Plan;
use crate::state::AppState;
use crate::store::{self, billing as bs};

/// Stripe events can be far larger than our API bodies (an invoice with many lines).
const WEBHOOK_MAX_BYTES: usize = 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_billing))
        .routes(routes!(checkout))
        .routes(routes!(portal))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(stripe_webhook))
                .layer(DefaultBodyLimit::max(WEBHOOK_MAX_BYTES)),
        )
}

#[derive(Serialize, ToSchema)]
pub struct BillingView {
    /// False when this installation has no Stripe keys: every plan is available without payment.
    pub enabled: bool,
    /// The plan the organisation pays for.
    pub plan: Plan,
    /// `active`, `past_due` or `canceled`.
    pub state: String,
    /// Unix ms of the first failed payment not yet settled.
    pub past_due_since: Option<i64>,
    /// Unix ms after which paid databases are paused if the invoice stays unpaid.
    pub grace_ends_at: Option<i64>,
    /// Databases paused because of billing (unpaid, or above the paid plan).
    pub paused_for_billing: usize,
    /// Whether a Stripe customer exists for the organisation.
    pub customer: bool,
    pub period: Period,
    pub usage: UsageTotals,
    /// One entry per UTC day of the period so far, oldest first.
    pub daily: Vec<DailyUsage>,
    pub estimate: Estimate,
    pub plans: Vec<PlanPriceView>,
}

/// Unix ms.
#[derive(Serialize, ToSchema)]
pub struct Period {
    pub start: i64,
    pub end: i64,
}

#[derive(Serialize, ToSchema, Default, Clone, Copy)]
pub struct UsageTotals {
    pub compute_seconds: i64,
    pub storage_gib_hours: f64,
}

#[derive(Serialize, ToSchema)]
pub struct DailyUsage {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub compute_seconds: i64,
    pub storage_gib_hours: f64,
}

/// What the period will cost so far, in the smallest unit of the currency.
#[derive(Serialize, ToSchema)]
pub struct Estimate {
    pub currency: String,
    pub base_cents: u64,
    pub compute_cents: u64,
    pub storage_cents: u64,
    pub total_cents: u64,
}

#[derive(Serialize, ToSchema)]
pub struct PlanPriceView {
    pub plan: Plan,
    pub monthly_cents: u64,
    pub compute_cents_per_hour: u64,
    pub storage_cents_per_gib_month: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    /// `pro` or `enterprise`.
    pub plan: Plan,
}

impl Validate for CheckoutBody {
    fn validate(&self) -> Vec<FieldError> {
        if self.plan == Plan::Free {
            vec![FieldError::new(
                "plan",
                "the free plan needs no checkout; cancel the subscription in the billing portal instead",
            )]
        } else {
            Vec::new()
        }
    }
}

/// Where to send the user (Stripe Checkout or the billing portal).
#[derive(Serialize, ToSchema)]
pub struct RedirectUrl {
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// The event id was processed before; nothing was done again.
    pub duplicate: bool,
}

const MIB_SECONDS_PER_GIB_HOUR: f64 = 1024.0 * 3600.0;
/// Hours in an average month, for per-GiB-month storage prices.
const HOURS_PER_MONTH: f64 = 730.0;

/// The organisation's plan, payment state, usage this period and the estimated bill.
#[utoipa::path(get, path = "/v1/billing", tag = "billing", security(("bearer" = [])),
    responses(
        (status = 200, description = "Billing overview", body = BillingView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn get_billing(State(state): State<AppState>, who: Principal) -> Result<Json<BillingView>> {
    let org = bs::org(&state.pool, &who.org_id).await?;
    let now = store::now_ms();
    let period = match (org.period_start, org.period_end) {
        (Some(s), Some(e)) if s <= now && now < e => Period { start: s, end: e },
        _ => calendar_month(now),
    };
    let rows = bs::daily_usage(&state.pool, &who.org_id, period.start, now).await?;
    let mut daily: Vec<DailyUsage> = Vec::new();
    let first_day = period.start / 86_400_000;
    let last_day = now / 86_400_000;
    for d in first_day..=last_day {
        daily.push(DailyUsage {
            day: day_name(d),
            compute_seconds: 0,
            storage_gib_hours: 0.0,
        });
    }
    let mut totals = UsageTotals::default();
    for (metric, day, total) in rows {
        let Some(slot) = usize::try_from(day - first_day)
            .ok()
            .and_then(|i| daily.get_mut(i))
        else {
            continue;
        };
        if metric == bs::COMPUTE_SECONDS {
            slot.compute_seconds += total;
            totals.compute_seconds += total;
        } else if metric == bs::STORAGE_MIB_SECONDS {
            let gib_hours = total as f64 / MIB_SECONDS_PER_GIB_HOUR;
            slot.storage_gib_hours += gib_hours;
            totals.storage_gib_hours += gib_hours;
        }
    }
    let plan = Plan::parse(&org.plan).unwrap_or(Plan::Free);
    let price = state.billing.price(plan);
    let enabled = state.billing.enabled();
    let estimate = if enabled {
        let compute =
            (totals.compute_seconds as f64 / 3600.0 * price.compute_cents_per_hour as f64).round();
        let storage = (totals.storage_gib_hours / HOURS_PER_MONTH
            * price.storage_cents_per_gib_month as f64)
            .round();
        let (compute, storage) = (compute as u64, storage as u64);
        Estimate {
            currency: "usd".into(),
            base_cents: price.monthly_cents,
            compute_cents: compute,
            storage_cents: storage,
            total_cents: price.monthly_cents + compute + storage,
        }
    } else {
        Estimate {
            currency: "usd".into(),
            base_cents: 0,
            compute_cents: 0,
            storage_cents: 0,
            total_cents: 0,
        }
    };
    let paused = store::databases::billing_paused(&state.pool, &who.org_id)
        .await?
        .len();
    Ok(Json(BillingView {
        enabled,
        plan,
        state: org.billing_state.clone(),
        past_due_since: org.past_due_since,
        grace_ends_at: state.billing.grace_ends_at(&org),
        paused_for_billing: paused,
        customer: org.stripe_customer_id.is_some(),
        period,
        usage: UsageTotals {
            compute_seconds: totals.compute_seconds,
            storage_gib_hours: round6(totals.storage_gib_hours),
        },
        daily: daily
            .into_iter()
            .map(|d| DailyUsage {
                storage_gib_hours: round6(d.storage_gib_hours),
                ..d
            })
            .collect(),
        estimate,
        plans: Plan::ALL
            .into_iter()
            .map(|p| {
                let price = state.billing.price(p);
                PlanPriceView {
                    plan: p,
                    monthly_cents: price.monthly_cents,
                    compute_cents_per_hour: price.compute_cents_per_hour,
                    storage_cents_per_gib_month: price.storage_cents_per_gib_month,
                }
            })
            .collect(),
    }))
}

/// Six decimals: a small database stores millionths of a GiB-hour per minute.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn calendar_month(now: i64) -> Period {
    let t = Utc
        .timestamp_millis_opt(now)
        .single()
        .unwrap_or_else(Utc::now);
    let start = Utc
        .with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t);
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(t);
    Period {
        start: start.timestamp_millis(),
        end: end.timestamp_millis(),
    }
}

fn day_name(days_since_epoch: i64) -> String {
    Utc.timestamp_millis_opt(days_since_epoch * 86_400_000)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The organisation's Stripe customer, created on first need.
async fn customer(state: &AppState, who: &Principal) -> Result<String> {
    let org = bs::org(&state.pool, &who.org_id).await?;
    if let Some(c) = org.stripe_customer_id {
        return Ok(c);
    }
    let email = store::accounts::by_id(&state.pool, &who.account_id)
        .await?
        .map(|a| a.email)
        .unwrap_or_default();
    let created = state
        .billing
        .stripe()?
        .create_customer(&who.org_id, &email)
        .await?;
    bs::set_customer(&state.pool, &who.org_id, &created).await
}

/// Starts Stripe Checkout for a paid plan's subscription; send the user to the returned URL.
#[utoipa::path(post, path = "/v1/billing/checkout", tag = "billing", security(("bearer" = [])),
    request_body = CheckoutBody,
    responses(
        (status = 200, description = "Checkout session created", body = RedirectUrl),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the owner, or an API key without the billing scope", body = ErrorBody),
        (status = 409, description = "Billing is off, or the plan is already paid for", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid plan", body = ErrorBody),
        (status = 502, description = "Stripe failed or timed out; retry", body = ErrorBody),
    ))]
async fn checkout(
    State(state): State<AppState>,
    who: Principal,
    ValidJson(body): ValidJson<CheckoutBody>,
) -> Result<Json<RedirectUrl>> {
    who.require_owner()?;
    let stripe = state.billing.stripe()?;
    let org = bs::org(&state.pool, &who.org_id).await?;
    if org.plan == body.plan.as_str() && org.billing_state != bs::CANCELED {
        return Err(Error::Conflict(format!(
            "the organisation already pays for {}; manage it in the billing portal",
            body.plan.as_str()
        )));
    }
    let price = state.billing.price(body.plan);
    let customer = customer(&state, &who).await?;
    let back = &state.billing.config.return_url;
    let url = stripe
        .checkout(CheckoutRequest {
            customer: &customer,
            org_id: &who.org_id,
            plan: body.plan.as_str(),
            price: &price.price,
            usage_prices: &price.usage_prices,
            success_url: format!("{back}?checkout=success"),
            cancel_url: format!("{back}?checkout=cancel"),
            idempotency_key: store::new_id("checkout"),
        })
        .await?;
    store::audit::record(
        &state.pool,
        &who.org_id,
        &who.actor(),
        "billing.checkout",
        &who.org_id,
        &who.ip,
        serde_json::json!({"plan": body.plan.as_str()}),
    )
    .await?;
    Ok(Json(RedirectUrl { url }))
}

/// A Stripe billing-portal session (payment methods, invoices, cancellation); send the user to the URL.
#[utoipa::path(post, path = "/v1/billing/portal", tag = "billing", security(("bearer" = [])),
    responses(
        (status = 200, description = "Portal session created", body = RedirectUrl),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the owner, or an API key without the billing scope", body = ErrorBody),
        (status = 409, description = "Billing is off", body = ErrorBody),
        (status = 502, description = "Stripe failed or timed out; retry", body = ErrorBody),
    ))]
async fn portal(State(state): State<AppState>, who: Principal) -> Result<Json<RedirectUrl>> {
    who.require_owner()?;
    let stripe = state.billing.stripe()?;
    let customer = customer(&state, &who).await?;
    let url = stripe
        .portal(
            &customer,
            &state.billing.config.return_url,
            &store::new_id("portal"),
        )
        .await?;
    Ok(Json(RedirectUrl { url }))
}

/// Stripe's webhook. Authenticated by the `Stripe-Signature` header (HMAC-SHA256 of the raw body under a
/// configured endpoint secret, within 300 s); each event id is processed once.
#[utoipa::path(post, path = "/v1/billing/webhook", tag = "billing",
    params(("Stripe-Signature" = String, Header, description = "t=<unix s>,v1=<hex HMAC-SHA256>")),
    request_body(content = String, content_type = "application/json", description = "A Stripe event"),
    responses(
        (status = 200, description = "Processed (or a duplicate, acknowledged)", body = WebhookAck),
        (status = 400, description = "Bad signature or malformed event", body = ErrorBody),
        (status = 404, description = "Billing is off", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ))]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookAck>> {
    if !state.billing.enabled() {
        return Err(Error::NotFound);
    }
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge("the event is too large".into())
        } else {
            Error::BadRequest(format!("cannot read the request body: {e}"))
        }
    })?;
    let outcome = |o: &str| state.metrics.webhooks.with_label_values(&[o]).inc();
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let secrets: Vec<&str> = state
        .billing
        .config
        .webhook_secrets
        .iter()
        .map(|s| s.expose_secret())
        .collect();
    let now_s = store::now_ms() / 1000;
    if let Err(e) = webhook::verify(header, &body, &secrets, now_s, webhook::TOLERANCE_S) {
        outcome("bad_signature");
        let msg = match e {
            SignatureError::Malformed if header.is_empty() => {
                "the Stripe-Signature header is missing".to_string()
            }
            e => e.to_string(),
        };
        return Err(Error::BadRequest(msg));
    }
    let event = Event::parse(&body).inspect_err(|_| outcome("malformed"))?;
    match bs::record_event(&state.pool, &event.id, &event.kind).await? {
        bs::EventSeen::Processed => {
            outcome("duplicate");
            return Ok(Json(WebhookAck {
                received: true,
                duplicate: true,
            }));
        }
        bs::EventSeen::New | bs::EventSeen::Unfinished => {}
    }
    let handled = events::handle(&state, &event).await?;
    bs::mark_event_processed(&state.pool, &event.id).await?;
    match handled {
        Handled::Applied => outcome("applied"),
        Handled::Ignored(why) => {
            tracing::info!(event = %event.id, kind = %event.kind, "webhook ignored: {why}");
            outcome("ignored");
        }
    }
    Ok(Json(WebhookAck {
        received: true,
        duplicate: false,
    }))
}
