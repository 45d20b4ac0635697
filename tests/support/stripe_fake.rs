//! An in-process fake of the Stripe endpoints billing calls (customers, Checkout sessions, billing-portal
//! sessions, meter events), on a loopback port, for the control plane's Stripe client to point at. Like
//! Stripe it replays the stored answer for a repeated Idempotency-Key and refuses a second meter event
//! with the same identifier; it records every request, and can be told to fail, hang, or lose its answer
//! after doing the work.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Sha256;

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Seen {
    pub fn field(&self, k: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

/// What the next request to a path does instead of succeeding.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and a Stripe error body, doing nothing.
    Status(u16),
    /// Wait this long before doing the work (past the client's timeout).
    Hang(Duration),
    /// Do the work, remember it under the idempotency key, then answer 500 (the answer is "lost").
    LoseAnswer,
}

#[derive(Default)]
pub struct Inner {
    pub seen: Vec<Seen>,
    faults: HashMap<String, VecDeque<Fault>>,
    replies: HashMap<String, (u16, Value)>,
    /// identifier -> (value, customer) of every meter event Stripe accepted.
    pub meter_events: HashMap<String, (i64, String)>,
    /// How many times each identifier was accepted (must never exceed 1).
    pub accepted: HashMap<String, u32>,
    customers: u32,
    sessions: u32,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub base: String,
    pub state: Arc<Mutex<Inner>>,
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let state = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/customers", post(customers))
            .route("/v1/checkout/sessions", post(checkout))
            .route("/v1/billing_portal/sessions", post(portal))
            .route("/v1/billing/meter_events", post(meter_events))
            .route("/pay/{id}", get(page))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeStripe {
            base: format!("http://{addr}/"),
            state,
        }
    }

    /// Queues `fault` for the next request to `path` (e.g. `/v1/billing/meter_events`).
    pub fn fail_next(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .faults
            .entry(path.to_string())
            .or_default()
            .push_back(fault);
    }

    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.state
            .lock()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The common part of every endpoint: record, inject faults, replay by idempotency key, else `make`.
async fn serve(
    state: &Arc<Mutex<Inner>>,
    path: &str,
    headers: &HeaderMap,
    form: Vec<(String, String)>,
    make: impl FnOnce(&mut Inner, &Seen) -> (u16, Value),
) -> Response {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let seen = Seen {
        path: path.to_string(),
        idempotency_key: header("idempotency-key"),
        authorization: header("authorization"),
        form,
    };
    let fault = {
        let mut s = state.lock();
        s.seen.push(seen.clone());
        s.faults.get_mut(path).and_then(VecDeque::pop_front)
    };
    let mut lose_answer = false;
    match fault {
        Some(Fault::Status(code)) => {
            return reply(code, stripe_error(code, "injected failure"));
        }
        Some(Fault::Hang(d)) => tokio::time::sleep(d).await,
        Some(Fault::LoseAnswer) => lose_answer = true,
        None => {}
    }
    let mut s = state.lock();
    let key = seen.idempotency_key.as_ref().map(|k| format!("{path} {k}"));
    if let Some(k) = &key
        && let Some((code, body)) = s.replies.get(k).cloned()
    {
        let mut r = reply(code, body);
        r.headers_mut()
            .insert("idempotent-replayed", "true".parse().unwrap());
        return r;
    }
    let (code, body) = make(&mut s, &seen);
    if let Some(k) = key {
        s.replies.insert(k, (code, body.clone()));
    }
    if lose_answer {
        return reply(500, stripe_error(500, "the answer was lost"));
    }
    reply(code, body)
}

fn reply(code: u16, body: Value) -> Response {
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

fn stripe_error(code: u16, message: &str) -> Value {
    let kind = if code >= 500 {
        "api_error"
    } else {
        "invalid_request_error"
    };
    json!({"error": {"type": kind, "message": message}})
}

async fn customers(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    serve(&state, "/v1/customers", &headers, form, |s, seen| {
        s.customers += 1;
        let id = format!("cus_fake{}", s.customers);
        (
            200,
            json!({
                "id": id, "object": "customer", "created": now_s(), "livemode": false,
                "email": seen.field("email"),
                "metadata": {"org_id": seen.field("metadata[org_id]")},
            }),
        )
    })
    .await
}

async fn checkout(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let base = format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1")
    );
    serve(&state, "/v1/checkout/sessions", &headers, form, |s, seen| {
        s.sessions += 1;
        let id = format!("cs_test_{}", s.sessions);
        (
            200,
            json!({
                "id": id, "object": "checkout.session",
                "automatic_tax": {"enabled": false}, "created": now_s(), "custom_fields": [],
                "custom_text": {}, "expires_at": now_s() + 3600, "livemode": false,
                "mode": "subscription", "payment_method_types": ["card"], "payment_status": "unpaid",
                "shipping_options": [], "url": format!("{base}/pay/{id}"),
                "customer": seen.field("customer"),
                "client_reference_id": seen.field("client_reference_id"),
                "metadata": {"org_id": seen.field("metadata[org_id]"), "plan": seen.field("metadata[plan]")},
            }),
        )
    })
    .await
}

async fn portal(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    serve(&state, "/v1/billing_portal/sessions", &headers, form, |_, seen| {
        (
            200,
            json!({
                "id": "bps_1", "object": "billing_portal.session", "configuration": "bpc_1",
                "created": now_s(), "customer": seen.field("customer"), "livemode": false,
                "return_url": seen.field("return_url"), "url": "https://billing.stripe.test/p/session_1",
            }),
        )
    })
    .await
}

async fn meter_events(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    serve(&state, "/v1/billing/meter_events", &headers, form, |s, seen| {
        let Some(identifier) = seen.field("identifier").map(String::from) else {
            return (400, stripe_error(400, "identifier is required by this fake"));
        };
        if s.meter_events.contains_key(&identifier) {
            return (
                400,
                stripe_error(400, "An event already exists with this identifier"),
            );
        }
        let value: i64 = seen
            .field("payload[value]")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        let customer = seen
            .field("payload[stripe_customer_id]")
            .unwrap_or("")
            .to_string();
        s.meter_events
            .insert(identifier.clone(), (value, customer.clone()));
        *s.accepted.entry(identifier.clone()).or_default() += 1;
        (
            200,
            json!({
                "object": "billing.meter_event", "created": now_s(),
                "event_name": seen.field("event_name"), "identifier": identifier, "livemode": false,
                "payload": {"stripe_customer_id": customer, "value": value.to_string()},
                "timestamp": seen.field("timestamp").and_then(|t| t.parse::<i64>().ok()).unwrap_or(0),
            }),
        )
    })
    .await
}

async fn page(Path(id): Path<String>) -> String {
    format!("Fake Stripe Checkout {id}")
}

/// A `Stripe-Signature` header for `body` at `t` under `secret`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", sign_hex(secret, t, body))
}

pub fn sign_hex(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn unix_now() -> i64 {
    now_s()
}
