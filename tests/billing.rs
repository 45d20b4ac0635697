//! Billing end to end in this process: the control plane's real Stripe client (async-stripe) pointed at an
//! in-process fake Stripe, webhooks signed here, real tenant servers being metered and paused, on both
//! metadata backends.

#[macro_use]
#[path = "support/cp.rs"]
mod support;
#[path = "support/stripe_fake.rs"]
mod stripe_fake;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use omendb_control_plane::Config;
use omendb_control_plane::store::billing as bs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use stripe_fake::{FakeStripe, Fault, signature, unix_now};
use support::{Backend, Cp, connect};

const SECRET: &str = "whsec_test_secret";
const OLD_SECRET: &str = "whsec_previous_secret";
const METER: &str = "/v1/billing/meter_events";

on_both_backends!(
    checkout_and_portal_send_what_stripe_expects,
    webhooks_are_verified_and_processed_once,
    usage_is_reported_once_despite_failures_and_restarts,
    unpaid_invoices_pause_paid_databases_until_paid,
    subscription_changes_set_the_plan,
);

fn billing_on(c: &mut Config, stripe: &FakeStripe) {
    c.billing.stripe_secret_key = "sk_test_fake".into();
    c.billing.api_base = stripe.base.clone();
    c.billing.webhook_secrets = vec![SECRET.into(), OLD_SECRET.into()];
    c.billing.pro.price = "price_pro".into();
    c.billing.pro.usage_prices = vec!["price_pro_compute".into()];
    c.billing.enterprise.price = "price_ent".into();
    c.billing.request_timeout_ms = 1_000;
    c.billing.sample_interval_ms = 200;
    c.billing.report_interval_ms = 200;
    c.billing.grace_period_s = 0;
}

async fn start(
    backend: Backend,
    test: &str,
    tweak: impl FnOnce(&mut Config),
) -> Option<(Cp, FakeStripe)> {
    let stripe = FakeStripe::start().await;
    let s = stripe.clone();
    let cp = Cp::start(backend, test, move |c| {
        billing_on(c, &s);
        tweak(c);
    })
    .await?;
    Some((cp, stripe))
}

/// Signs up and returns (access token, organisation id).
async fn owner(cp: &Cp, email: &str) -> (String, String) {
    let v = cp.signup(email).await;
    (
        v["tokens"]["access_token"].as_str().unwrap().to_string(),
        v["account"]["organization_id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Posts a raw body to the webhook with a `Stripe-Signature` header.
async fn deliver(cp: &Cp, body: &str, sig: &str) -> (StatusCode, Value) {
    let r = cp
        .http
        .post(format!("{}/v1/billing/webhook", cp.base))
        .header("content-type", "application/json")
        .header("stripe-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Delivers a correctly signed event and expects it accepted.
async fn event(cp: &Cp, id: &str, kind: &str, object: Value) -> Value {
    let body = json!({"id": id, "object": "event", "type": kind, "created": unix_now(),
        "data": {"object": object}})
    .to_string();
    let (s, v) = deliver(cp, &body, &signature(SECRET, unix_now(), &body)).await;
    assert_eq!(s, StatusCode::OK, "{kind}: {v}");
    v
}

/// Upgrades the organisation to `plan` the way a real payment does: checkout, then Stripe's webhook.
async fn pay_for(cp: &Cp, token: &str, org: &str, plan: &str) -> String {
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(token), json!({"plan": plan}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let customer = billing(cp, token).await;
    assert_eq!(customer["customer"], true);
    let cus = customer_of(cp, org).await;
    event(
        cp,
        &format!("evt_checkout_{plan}_{org}"),
        "checkout.session.completed",
        json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription", "customer": cus,
            "subscription": "sub_1", "client_reference_id": org, "metadata": {"org_id": org, "plan": plan}}),
    )
    .await;
    assert_eq!(billing(cp, token).await["plan"], plan);
    cus
}

async fn billing(cp: &Cp, token: &str) -> Value {
    let (s, v) = cp.get("/v1/billing", token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn customer_of(cp: &Cp, org: &str) -> String {
    let pool = &cp.running.as_ref().unwrap().state.pool;
    bs::org(pool, org)
        .await
        .unwrap()
        .stripe_customer_id
        .expect("customer")
}

async fn checkout_and_portal_send_what_stripe_expects(backend: Backend) {
    let Some((cp, stripe)) = start(backend, "billing_checkout", |_| {}).await else {
        return;
    };
    let (token, org) = owner(&cp, "payer@example.com").await;
    let b = billing(&cp, &token).await;
    assert_eq!(b["enabled"], true);
    assert_eq!(b["plan"], "free");
    assert_eq!(b["state"], "active");
    assert_eq!(b["customer"], false);
    assert_eq!(b["plans"].as_array().unwrap().len(), 3);

    // Not paid for yet: paid plans are refused with 402, free is fine.
    let (s, v) = cp
        .post(
            "/v1/databases",
            Some(&token),
            json!({"name": "paid", "plan": "pro"}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{v}");
    assert_eq!(v["error"]["code"], "payment_required");
    cp.create_db(&token, "free-one", "free").await;

    let (s, v) = cp
        .post("/v1/billing/checkout", Some(&token), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["url"].as_str().unwrap().contains("/pay/cs_test_1"), "{v}");

    let customers = stripe.seen("/v1/customers");
    assert_eq!(customers.len(), 1);
    let c = &customers[0];
    assert_eq!(c.authorization.as_deref(), Some("Bearer sk_test_fake"));
    assert_eq!(
        c.idempotency_key.as_deref(),
        Some(format!("customer-{org}").as_str())
    );
    assert_eq!(c.field("email"), Some("payer@example.com"));
    assert_eq!(c.field("metadata[org_id]"), Some(org.as_str()));

    let sessions = stripe.seen("/v1/checkout/sessions");
    assert_eq!(sessions.len(), 1);
    let cs = &sessions[0];
    assert!(
        cs.idempotency_key
            .as_deref()
            .is_some_and(|k| k.starts_with("checkout_"))
    );
    assert_eq!(cs.field("mode"), Some("subscription"));
    assert_eq!(cs.field("customer"), Some("cus_fake1"));
    assert_eq!(cs.field("client_reference_id"), Some(org.as_str()));
    assert_eq!(cs.field("line_items[0][price]"), Some("price_pro"));
    assert_eq!(cs.field("line_items[0][quantity]"), Some("1"));
    assert_eq!(cs.field("line_items[1][price]"), Some("price_pro_compute"));
    assert_eq!(
        cs.field("line_items[1][quantity]"),
        None,
        "metered prices take no quantity"
    );
    assert_eq!(cs.field("metadata[plan]"), Some("pro"));
    assert_eq!(
        cs.field("subscription_data[metadata][org_id]"),
        Some(org.as_str())
    );
    assert!(
        cs.field("success_url")
            .unwrap()
            .ends_with("/billing?checkout=success")
    );
    assert!(
        cs.field("cancel_url")
            .unwrap()
            .ends_with("/billing?checkout=cancel")
    );

    // The customer is created once and reused.
    let (s, _) = cp
        .post(
            "/v1/billing/checkout",
            Some(&token),
            json!({"plan": "enterprise"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(stripe.seen("/v1/customers").len(), 1);
    let keys: HashSet<_> = stripe
        .seen("/v1/checkout/sessions")
        .into_iter()
        .map(|s| s.idempotency_key.unwrap())
        .collect();
    assert_eq!(keys.len(), 2, "each deliberate checkout is a new session");

    let (s, v) = cp.post("/v1/billing/portal", Some(&token), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["url"], "https://billing.stripe.test/p/session_1");
    let p = &stripe.seen("/v1/billing_portal/sessions")[0];
    assert_eq!(p.field("customer"), Some("cus_fake1"));
    assert!(p.field("return_url").unwrap().ends_with("/billing"));
    assert!(p.idempotency_key.is_some());

    // Bad requests.
    let (s, v) = cp
        .post(
            "/v1/billing/checkout",
            Some(&token),
            json!({"plan": "free"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "plan");
    let (s, _) = cp
        .post(
            "/v1/billing/checkout",
            Some(&token),
            json!({"plan": "gold"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = cp
        .post(
            "/v1/billing/checkout",
            Some(&token),
            json!({"plan": "pro", "x": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = cp
        .post("/v1/billing/checkout", None, json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = cp
        .post("/v1/api-keys", Some(&token), json!({"name": "ci"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["key"].as_str().unwrap();
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(key), json!({"plan": "pro"}))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "an API key cannot buy a plan: {v}"
    );

    // Stripe failing: a clear 502 the user can retry, and nothing half-recorded.
    let (t2, org2) = owner(&cp, "second@example.com").await;
    stripe.fail_next("/v1/customers", Fault::Status(500));
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(&t2), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(v["error"]["code"], "payment_provider_unavailable");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("500"),
        "{v}"
    );
    assert_eq!(billing(&cp, &t2).await["customer"], false);
    // A timeout (the fake hangs past the 1 s client timeout) is the same clear error, in bounded time.
    stripe.fail_next("/v1/customers", Fault::Hang(Duration::from_secs(3)));
    let started = Instant::now();
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(&t2), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    // A Stripe 4xx passes its message on.
    stripe.fail_next("/v1/checkout/sessions", Fault::Status(400));
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(&t2), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("injected failure"),
        "{v}"
    );
    // Every attempt to create this organisation's customer (the hung one, which Stripe may well have
    // completed, and the retries) carried the same per-organisation key: Stripe can never make two.
    let creations: HashSet<_> = stripe
        .seen("/v1/customers")
        .into_iter()
        .filter(|s| s.field("metadata[org_id]") == Some(org2.as_str()))
        .map(|s| s.idempotency_key.unwrap())
        .collect();
    assert_eq!(creations, HashSet::from([format!("customer-{org2}")]));
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(&t2), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // The whole purchase: the webhook makes the plan paid, and pro databases may run.
    pay_for(&cp, &token, &org, "pro").await;
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(&token), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "already paid for: {v}");
    cp.create_db(&token, "paid", "pro").await;
    let (s, v) = cp
        .post(
            "/v1/databases",
            Some(&token),
            json!({"name": "big", "plan": "enterprise"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::PAYMENT_REQUIRED,
        "pro does not include enterprise: {v}"
    );
    cp.stop().await;
}

async fn webhooks_are_verified_and_processed_once(backend: Backend) {
    let Some((cp, _stripe)) = start(backend, "billing_webhooks", |_| {}).await else {
        return;
    };
    let (token, org) = owner(&cp, "hooks@example.com").await;
    let cus = pay_for(&cp, &token, &org, "pro").await;
    let failed = json!({"id": "evt_fail_1", "object": "event", "type": "invoice.payment_failed",
        "created": unix_now(), "data": {"object": {"id": "in_1", "object": "invoice", "customer": cus}}})
    .to_string();
    let now = unix_now();

    let bad = |sig: String| {
        let cp = &cp;
        let failed = failed.clone();
        async move {
            let (s, v) = deliver(cp, &failed, &sig).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{sig}: {v}");
            assert_eq!(v["error"]["code"], "bad_request");
            v
        }
    };
    bad(signature("whsec_wrong", now, &failed)).await;
    bad(signature(SECRET, now - 301, &failed)).await;
    bad(signature(SECRET, now + 301, &failed)).await;
    bad(format!("t={now}")).await;
    bad("v1=abc,t=notanumber".into()).await;
    bad("garbage".into()).await;
    let v = bad(String::new()).await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("missing"),
        "{v}"
    );
    // Signed for another body.
    bad(signature(SECRET, now, &format!("{failed} "))).await;
    assert_eq!(
        billing(&cp, &token).await["state"],
        "active",
        "nothing bad was applied"
    );

    // Two v1 values (Stripe during a secret roll): one matching is enough. The older secret works too.
    let two = format!(
        "t={now},v1={},v1={}",
        stripe_fake::sign_hex("whsec_wrong", now, &failed),
        stripe_fake::sign_hex(SECRET, now, &failed)
    );
    let (s, v) = deliver(&cp, &failed, &two).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["duplicate"], false);
    let b = billing(&cp, &token).await;
    assert_eq!(b["state"], "past_due");
    assert!(b["past_due_since"].as_i64().is_some());

    // Paid: back to active. Replaying the old failure (same event id, validly signed) changes nothing.
    event(
        &cp,
        "evt_paid_1",
        "invoice.paid",
        json!({"id": "in_1", "object": "invoice", "customer": cus}),
    )
    .await;
    assert_eq!(billing(&cp, &token).await["state"], "active");
    let (s, v) = deliver(&cp, &failed, &signature(OLD_SECRET, unix_now(), &failed)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["duplicate"], true);
    assert_eq!(
        billing(&cp, &token).await["state"],
        "active",
        "a replayed event is not processed again"
    );

    // Malformed bodies under a valid signature.
    for body in [
        "not json",
        "{}",
        r#"{"id":"evt_x","type":"invoice.paid"}"#,
        r#"{"id":"","type":"a","data":{"object":{}}}"#,
    ] {
        let (s, v) = deliver(&cp, body, &signature(SECRET, unix_now(), body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    // Event types we do not use, and customers we do not know, are acknowledged and ignored.
    let v = event(
        &cp,
        "evt_other",
        "charge.refunded",
        json!({"id": "ch_1", "customer": cus}),
    )
    .await;
    assert_eq!(v["duplicate"], false);
    event(
        &cp,
        "evt_stranger",
        "invoice.payment_failed",
        json!({"id": "in_9", "customer": "cus_nobody"}),
    )
    .await;
    assert_eq!(billing(&cp, &token).await["state"], "active");

    let metrics = cp.metrics_text().await;
    for outcome in [
        "applied",
        "bad_signature",
        "duplicate",
        "malformed",
        "ignored",
    ] {
        assert!(
            metrics.contains(&format!(
                "omendb_cp_stripe_webhooks_total{{outcome=\"{outcome}\"}}"
            )),
            "{outcome}: {metrics}"
        );
    }
    // Too large.
    let huge = "x".repeat(2 * 1024 * 1024);
    let (s, _) = deliver(&cp, &huge, &signature(SECRET, unix_now(), &huge)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    cp.stop().await;

    // Billing off: no webhook endpoint at all.
    let Some(off) = Cp::start(backend, "billing_webhooks_off", |_| {}).await else {
        return;
    };
    let (s, _) = deliver(&off, &failed, &signature(SECRET, unix_now(), &failed)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let t = off.signup_token("free@example.com").await;
    let b = billing(&off, &t).await;
    assert_eq!(b["enabled"], false);
    assert_eq!(b["estimate"]["total_cents"], 0);
    let (s, v) = off
        .post("/v1/billing/checkout", Some(&t), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "billing_disabled");
    // Every plan is available without payment.
    off.create_db(&t, "ent", "enterprise").await;
    off.stop().await;
}

/// Waits until `check` holds, polling every 100 ms, for at most `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn usage_is_reported_once_despite_failures_and_restarts(backend: Backend) {
    let Some((mut cp, stripe)) = start(backend, "billing_metering", |_| {}).await else {
        return;
    };
    let (token, org) = owner(&cp, "meter@example.com").await;
    let cus = pay_for(&cp, &token, &org, "pro").await;
    let created = cp.create_db(&token, "metered", "pro").await;
    let id = created["database"]["id"].as_str().unwrap().to_string();
    cp.wait_state(&token, &id, "ready").await;
    let free = cp.create_db(&token, "unbilled", "free").await;
    let free_id = free["database"]["id"].as_str().unwrap().to_string();

    let rows = |cp: &Cp| {
        let pool = cp.running.as_ref().unwrap().state.pool.clone();
        let org = org.clone();
        async move { bs::usage_of_org(&pool, &org).await.unwrap() }
    };
    // Usage appears while the database runs, and is reported.
    eventually(20, "compute and storage rows reported", || async {
        let r = rows(&cp).await;
        let reported = |m: &str| {
            r.iter()
                .any(|u| u.metric == m && u.report_status == bs::REPORTED && u.database_id == id)
        };
        reported(bs::COMPUTE_SECONDS) && reported(bs::STORAGE_MIB_SECONDS)
    })
    .await;

    // Stripe fails three times, then does the work but loses its answer once.
    for _ in 0..3 {
        stripe.fail_next(METER, Fault::Status(500));
    }
    stripe.fail_next(METER, Fault::LoseAnswer);
    eventually(30, "the failures were retried", || async {
        let r = rows(&cp).await;
        r.iter()
            .any(|u| u.attempts >= 1 && u.report_status == bs::REPORTED)
    })
    .await;

    // Stripe down across a control-plane restart: rows wait, then go after the restart.
    for _ in 0..1000 {
        stripe.fail_next(METER, Fault::Status(503));
    }
    eventually(20, "rows pending while Stripe is down", || async {
        rows(&cp)
            .await
            .iter()
            .any(|u| u.report_status == bs::PENDING && u.attempts > 0)
    })
    .await;
    cp.restart().await;
    stripe.clear_faults();
    eventually(30, "pending rows reported after the restart", || async {
        let r = rows(&cp).await;
        r.iter()
            .filter(|u| u.report_status == bs::PENDING)
            .all(|u| u.attempts == 0)
            && r.iter()
                .any(|u| u.attempts > 0 && u.report_status == bs::REPORTED)
    })
    .await;
    // Stop producing usage (the free database keeps only its storage), then let everything drain.
    let (s, _) = cp
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/databases/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    cp.wait_gone(&token, &id).await;
    eventually(30, "every billed row reported", || async {
        rows(&cp)
            .await
            .iter()
            .all(|u| u.report_status != bs::PENDING)
    })
    .await;

    let (s, _) = cp
        .post(
            &format!("/v1/databases/{free_id}/pause"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    cp.wait_state(&token, &free_id, "paused").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = rows(&cp).await;
    let b = billing(&cp, &token).await;
    // What Stripe saw, checked under its lock (released before the next await).
    {
        let st = stripe.state.lock();
        let billed: Vec<_> = all.iter().filter(|u| u.database_id == id).collect();
        assert!(!billed.is_empty());
        for u in &billed {
            assert_eq!(u.report_status, bs::REPORTED, "{u:?}");
            assert_eq!(
                st.accepted.get(&u.id),
                Some(&1),
                "row {} accepted exactly once",
                u.id
            );
            let (value, customer) = &st.meter_events[&u.id];
            assert_eq!(*value, u.quantity);
            assert_eq!(customer, &cus);
            assert!(u.quantity > 0);
        }
        // Stripe saw nothing we do not have, and never a row of the free database.
        let ours: HashSet<&str> = billed.iter().map(|u| u.id.as_str()).collect();
        assert!(st.meter_events.keys().all(|k| ours.contains(k.as_str())));
        assert!(
            all.iter()
                .filter(|u| u.database_id == free_id)
                .all(|u| u.report_status == bs::NOT_BILLED),
            "free databases are metered, never billed"
        );
        // Every request for a row used the row's idempotency key and event identifier.
        for s in st.seen.iter().filter(|s| s.path == METER) {
            let ident = s.field("identifier").unwrap();
            assert_eq!(
                s.idempotency_key.as_deref(),
                Some(format!("usage-{ident}").as_str())
            );
            let name = s.field("event_name").unwrap();
            assert!(
                name == "omendb_compute_seconds" || name == "omendb_storage_mib_seconds",
                "{name}"
            );
        }
        let retried = st.seen.iter().filter(|s| s.path == METER).count();
        assert!(
            retried > st.meter_events.len(),
            "some rows were sent more than once: {retried}"
        );

        // The usage page adds it up.
        let compute: i64 = all
            .iter()
            .filter(|u| u.metric == bs::COMPUTE_SECONDS)
            .map(|u| u.quantity)
            .sum();
        assert_eq!(b["usage"]["compute_seconds"].as_i64(), Some(compute));
        assert!(b["usage"]["storage_gib_hours"].as_f64().unwrap() > 0.0);
        assert_eq!(b["estimate"]["base_cents"], 2900);
        assert!(!b["daily"].as_array().unwrap().is_empty());
    }
    let metrics = cp.metrics_text().await;
    assert!(
        metrics.contains("omendb_cp_usage_rows{status=\"reported\"}"),
        "{metrics}"
    );
    // Counters restarted with the control plane; after the restart the reporter has sent rows.
    assert!(
        metrics.contains("omendb_cp_usage_reports_total{outcome=\"ok\"}"),
        "{metrics}"
    );
    // Retention deletes settled rows only.
    let pool = cp.running.as_ref().unwrap().state.pool.clone();
    let cutoff = omendb_control_plane::store::now_ms();
    let pruned = bs::prune_usage(&pool, cutoff).await.unwrap();
    assert!(pruned > 0);
    let left = bs::usage_of_org(&pool, &org).await.unwrap();
    assert!(
        left.iter()
            .all(|u| u.report_status == bs::PENDING || u.period_end >= cutoff),
        "{left:?}"
    );
    cp.stop().await;
}

async fn unpaid_invoices_pause_paid_databases_until_paid(backend: Backend) {
    // A 2 s grace period: the failure pauses nothing at once, the periodic check does after 2 s.
    let Some((cp, _stripe)) =
        start(backend, "billing_dunning", |c| c.billing.grace_period_s = 2).await
    else {
        return;
    };
    let (token, org) = owner(&cp, "dunning@example.com").await;
    let cus = pay_for(&cp, &token, &org, "pro").await;
    let paid = cp.create_db(&token, "paid", "pro").await;
    let free = cp.create_db(&token, "free", "free").await;
    let paid_id = paid["database"]["id"].as_str().unwrap().to_string();
    let free_id = free["database"]["id"].as_str().unwrap().to_string();
    cp.wait_state(&token, &paid_id, "ready").await;
    cp.wait_state(&token, &free_id, "ready").await;
    let password = paid["password"].as_str().unwrap();
    let c = connect(&paid, password).await.unwrap();
    c.batch_execute("create table kept (id bigint primary key, v text); insert into kept values (1, 'a'), (2, 'b')")
        .await
        .unwrap();
    drop(c);

    event(
        &cp,
        "evt_f1",
        "invoice.payment_failed",
        json!({"id": "in_1", "object": "invoice", "customer": cus}),
    )
    .await;
    let b = billing(&cp, &token).await;
    assert_eq!(b["state"], "past_due");
    let grace = b["grace_ends_at"].as_i64().unwrap() - b["past_due_since"].as_i64().unwrap();
    assert_eq!(grace, 2000);
    let (_, v) = cp.get(&format!("/v1/databases/{paid_id}"), &token).await;
    assert_eq!(v["state"], "ready", "still within the grace period");

    let v = cp.wait_state(&token, &paid_id, "paused").await;
    assert!(
        v["state_reason"].as_str().unwrap().contains("unpaid"),
        "{v}"
    );
    let (_, v) = cp.get(&format!("/v1/databases/{free_id}"), &token).await;
    assert_eq!(v["state"], "ready", "free databases keep running");
    assert_eq!(billing(&cp, &token).await["paused_for_billing"], 1);

    // The user cannot resume it, nor create another paid one, until paying.
    let (s, v) = cp
        .post(
            &format!("/v1/databases/{paid_id}/resume"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{v}");
    let (s, _) = cp
        .post(
            "/v1/databases",
            Some(&token),
            json!({"name": "more", "plan": "pro"}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    let (s, v) = cp.get("/v1/audit-log", &token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v.to_string().contains("database.pause_billing"), "{v}");

    event(
        &cp,
        "evt_p1",
        "invoice.paid",
        json!({"id": "in_1", "object": "invoice", "customer": cus}),
    )
    .await;
    cp.wait_state(&token, &paid_id, "ready").await;
    let c = connect(&paid, password).await.unwrap();
    let n: i64 = c
        .query_one("select count(*) from kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "data kept across the billing pause");
    let b = billing(&cp, &token).await;
    assert_eq!(b["state"], "active");
    assert_eq!(b["paused_for_billing"], 0);

    // A database the user paused is not resumed by a payment.
    let (s, _) = cp
        .post(
            &format!("/v1/databases/{paid_id}/pause"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    cp.wait_state(&token, &paid_id, "paused").await;
    event(
        &cp,
        "evt_p2",
        "invoice.paid",
        json!({"id": "in_2", "object": "invoice", "customer": cus}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, v) = cp.get(&format!("/v1/databases/{paid_id}"), &token).await;
    assert_eq!(v["state"], "paused");
    cp.stop().await;
}

async fn subscription_changes_set_the_plan(backend: Backend) {
    let Some((cp, _stripe)) = start(backend, "billing_subscriptions", |_| {}).await else {
        return;
    };
    let (token, org) = owner(&cp, "subs@example.com").await;
    let cus = pay_for(&cp, &token, &org, "pro").await;
    let db = cp.create_db(&token, "p", "pro").await;
    let id = db["database"]["id"].as_str().unwrap().to_string();
    cp.wait_state(&token, &id, "ready").await;

    // An upgrade made in the portal arrives as subscription.updated with the enterprise price.
    let period =
        json!({"current_period_start": 1_764_547_200, "current_period_end": 1_767_225_600});
    event(&cp, "evt_s1", "customer.subscription.updated", json!({"id": "sub_1", "object": "subscription",
        "customer": cus, "status": "active",
        "items": {"data": [{"price": {"id": "price_ent"}, "current_period_start": period["current_period_start"],
            "current_period_end": period["current_period_end"]}]}})).await;
    let b = billing(&cp, &token).await;
    assert_eq!(b["plan"], "enterprise");
    cp.create_db(&token, "e", "enterprise").await;

    // Back down to pro: the enterprise database is paused (the plan no longer includes it), pro keeps going.
    event(
        &cp,
        "evt_s2",
        "customer.subscription.updated",
        json!({"id": "sub_1", "object": "subscription",
        "customer": cus, "status": "active", "metadata": {"plan": "pro"}}),
    )
    .await;
    assert_eq!(billing(&cp, &token).await["plan"], "pro");
    let (_, list) = cp.get("/v1/databases", &token).await;
    let ent = list["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "e")
        .unwrap()
        .clone();
    let ent_id = ent["id"].as_str().unwrap().to_string();
    let v = cp.wait_state(&token, &ent_id, "paused").await;
    assert!(
        v["state_reason"]
            .as_str()
            .unwrap()
            .contains("does not include enterprise"),
        "{v}"
    );
    // Moving it down to pro is allowed, and then it may run.
    let (s, v) = cp
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/databases/{ent_id}"),
            Some(&token),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = cp
        .post(
            &format!("/v1/databases/{ent_id}/resume"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    cp.wait_state(&token, &ent_id, "ready").await;

    // Canceled: back to free, paid databases paused with their data.
    event(
        &cp,
        "evt_s3",
        "customer.subscription.deleted",
        json!({"id": "sub_1", "object": "subscription",
        "customer": cus, "status": "canceled"}),
    )
    .await;
    let b = billing(&cp, &token).await;
    assert_eq!(b["plan"], "free");
    assert_eq!(b["state"], "canceled");
    cp.wait_state(&token, &id, "paused").await;
    cp.wait_state(&token, &ent_id, "paused").await;
    // Buying again works after a cancellation.
    let (s, v) = cp
        .post("/v1/billing/checkout", Some(&token), json!({"plan": "pro"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    cp.stop().await;
}
