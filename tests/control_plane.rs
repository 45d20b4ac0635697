//! The control plane's REST API, in this process over a real socket, against both metadata backends
//! (SQLite, and the PostgreSQL `scripts/test` starts). Tenant databases are real `omendb server`
//! processes started by the local provisioner; SQL reaches them with tokio-postgres.

#[macro_use]
#[path = "support/cp.rs"]
mod support;

use std::time::Duration;

use omendb_control_plane::config::TrustedProxies;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Cp, connect};

on_both_backends!(
    accounts_sessions_and_refresh_rotation,
    sessions_end_at_their_absolute_lifetime,
    database_lifecycle_with_real_sql,
    organisations_cannot_see_each_other,
    api_keys_authenticate_until_revoked,
    api_key_scopes_and_expiry,
    bad_tokens_are_refused,
    login_brute_force_and_signup_flood_are_rate_limited,
    forged_forwarded_addresses_are_ignored,
    bad_bodies_get_clear_errors,
    quotas_and_audit_log,
    idle_free_databases_are_paused,
    supervision_restarts_a_killed_tenant,
    restart_brings_databases_back,
);

fn tok(v: &Value) -> String {
    v["tokens"]["access_token"].as_str().unwrap().to_string()
}

async fn accounts_sessions_and_refresh_rotation(b: Backend) {
    let Some(cp) = Cp::start(b, "accounts", |_| {}).await else {
        return;
    };
    let s = cp.signup("Ada@Example.com").await;
    assert_eq!(s["account"]["email"], "ada@example.com");
    assert_eq!(s["account"]["role"], "owner");
    assert_eq!(s["tokens"]["token_type"], "Bearer");
    // The same email in another case is taken.
    let (st, v) = cp
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "ADA@example.com", "password": "another long one"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "email");
    // Weak password and bad email, both reported.
    let (st, v) = cp
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "nope", "password": "short"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    // Wrong password and unknown email look the same.
    let (st1, v1) = cp
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong password!"}),
        )
        .await;
    let (st2, v2) = cp
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "who@example.com", "password": "wrong password!"}),
        )
        .await;
    assert_eq!(
        (st1, st2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(v1, v2);
    let (st, login, b0) = cp
        .login_session("ada@EXAMPLE.com", "correct horse battery")
        .await;
    assert_eq!(st, StatusCode::OK, "{login}");
    let b0 = b0.expect("login sets the session cookies");
    let (st, me) = cp.get("/v1/me", &tok(&login)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["id"], s["account"]["id"]);
    // The refresh token is in an HttpOnly cookie only, never in a body a script could read.
    assert!(login["tokens"].get("refresh_token").is_none(), "{login}");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/v1/auth"] {
        assert!(b0.refresh_line.contains(attr), "{}", b0.refresh_line);
    }
    assert_eq!(login["tokens"]["csrf_token"], b0.csrf.as_str());

    // Refresh needs this session's CSRF token: none, or another session's, is refused and spends nothing.
    let (st, v, _) = cp.session_call("refresh", &b0, None).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (_, _, other) = cp
        .login_session("ada@example.com", "correct horse battery")
        .await;
    let (st, v, _) = cp
        .session_call("refresh", &b0, Some(&other.unwrap().csrf))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");

    // Refresh rotates: the old token is spent, the new one works once.
    let (st, t1, b1) = cp.session_call("refresh", &b0, Some(&b0.csrf)).await;
    assert_eq!(st, StatusCode::OK, "{t1}");
    let b1 = b1.expect("refresh sets the new cookies");
    assert_ne!(b0.refresh, b1.refresh);
    assert_ne!(b0.csrf, b1.csrf);
    assert_eq!(
        t1["session_expires_at"],
        login["tokens"]["session_expires_at"]
    );
    assert_eq!(
        cp.get("/v1/me", t1["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );
    // Reusing b0 (a thief replaying it) revokes the whole family, so b1 dies too.
    let (st, v, _) = cp.session_call("refresh", &b0, Some(&b0.csrf)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let (st, _, _) = cp.session_call("refresh", &b1, Some(&b1.csrf)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // No cookie at all: 401.
    let (st, _) = cp.post("/v1/auth/refresh", None, json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Another login is another family; logout needs its CSRF token, ends it and clears the cookies.
    let (_, _, bs) = cp
        .login_session("ada@example.com", "correct horse battery")
        .await;
    let bs = bs.unwrap();
    let (st, _, _) = cp.session_call("logout", &bs, None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, cleared) = cp.session_call("logout", &bs, Some(&bs.csrf)).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let cleared = cleared.expect("logout sets empty cookies");
    assert!(cleared.refresh.is_empty() && cleared.refresh_line.contains("Max-Age=0"));
    let (st, _, _) = cp.session_call("refresh", &bs, Some(&bs.csrf)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    cp.stop().await;
}

/// However often it is refreshed, a session ends `session_lifetime_s` after its login.
async fn sessions_end_at_their_absolute_lifetime(b: Backend) {
    let Some(cp) = Cp::start(b, "session_lifetime", |c| c.auth.session_lifetime_s = 3).await else {
        return;
    };
    let (signup, mut browser) = cp.signup_session("brief@example.com").await;
    let end = chrono::DateTime::parse_from_rfc3339(
        signup["tokens"]["session_expires_at"].as_str().unwrap(),
    )
    .unwrap();
    let left = end
        .signed_duration_since(chrono::Utc::now())
        .num_milliseconds();
    assert!((2000..=3100).contains(&left), "{left} ms");
    // Refreshing keeps it going, but never past the end, and the cookie says so.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (st, v, next) = cp
            .session_call("refresh", &browser, Some(&browser.csrf))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(
            v["session_expires_at"],
            signup["tokens"]["session_expires_at"]
        );
        browser = next.unwrap();
        let age: i64 = browser
            .refresh_line
            .split("Max-Age=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(age <= 3, "{}", browser.refresh_line);
    }
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let (st, v, _) = cp
        .session_call("refresh", &browser, Some(&browser.csrf))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expired"),
        "{v}"
    );
    cp.stop().await;
}

async fn database_lifecycle_with_real_sql(b: Backend) {
    let Some(cp) = Cp::start(b, "lifecycle", |_| {}).await else {
        return;
    };
    let t = cp.signup_token("owner@example.com").await;
    let created = cp.create_db(&t, "orders", "free").await;
    let id = created["database"]["id"].as_str().unwrap().to_string();
    let password = created["password"].as_str().unwrap().to_string();
    let url = created["connection_string"].as_str().unwrap();
    assert!(
        url.starts_with("postgresql://owner:")
            && url.contains(&password)
            && url.contains("/orders?sslmode=verify-full&sslrootcert=/"),
        "{url}"
    );
    assert!(
        !created["database"]["connection_string"]
            .as_str()
            .unwrap()
            .contains(&password)
    );
    cp.wait_state(&t, &id, "ready").await;

    let c = connect(&created, &password)
        .await
        .expect("connect with the returned credentials");
    // The CA the connection string names is the one the API hands out.
    let ca = cp
        .http
        .get(format!("{}/v1/ca-certificate", cp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ca.status(), StatusCode::OK);
    assert_eq!(ca.headers()["content-type"], "application/x-pem-file");
    let ca = ca.text().await.unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let (bound, conn) = support::tenant_config(&created, &password)
        .channel_binding(tokio_postgres::config::ChannelBinding::Require)
        .connect(support::verified_tls_with(ca.as_bytes()))
        .await
        .expect("SCRAM-SHA-256-PLUS bound to the tenant's certificate");
    tokio::spawn(conn);
    bound.simple_query("select 1").await.unwrap();
    // Without TLS the tenant refuses the session before any password crosses the wire.
    let plain = support::tenant_config(&created, &password)
        .connect(tokio_postgres::NoTls)
        .await
        .err()
        .expect("a plaintext session is refused");
    let e = plain.as_db_error().expect("a server error");
    assert_eq!(e.code().code(), "28000", "{e}");
    assert!(e.message().contains("requires encryption"), "{e}");
    c.batch_execute("create table t (id bigint primary key, v text); insert into t values (1, 'one'), (2, 'two')")
        .await
        .unwrap();
    let n: i64 = c
        .query_one("select count(*) from t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    drop(c);

    // The list shows it, without the password.
    let (_, list) = cp.get("/v1/databases", &t).await;
    assert_eq!(list["databases"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&password));

    // Pause: the server stops, the data stays.
    let (st, v) = cp
        .call(
            Method::POST,
            &format!("/v1/databases/{id}/pause"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    cp.wait_state(&t, &id, "paused").await;
    assert!(
        connect(&created, &password).await.is_err(),
        "a paused database refuses connections"
    );
    let (st, v) = cp
        .call(
            Method::POST,
            &format!("/v1/databases/{id}/pause"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_state"))
    );
    let (st, _) = cp
        .call(
            Method::POST,
            &format!("/v1/databases/{id}/resume"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    cp.wait_state(&t, &id, "ready").await;
    let c = connect(&created, &password).await.unwrap();
    let v: String = c
        .query_one("select v from t where id = 2", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "two");
    drop(c);

    // Reset the password: the old one stops working, the new one works, the data is there.
    let (st, reset) = cp
        .call(
            Method::POST,
            &format!("/v1/databases/{id}/reset-password"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{reset}");
    let new_password = reset["password"].as_str().unwrap().to_string();
    assert_ne!(new_password, password);
    cp.wait_state(&t, &id, "ready").await;
    assert!(
        connect(&created, &password).await.is_err(),
        "the old password must fail"
    );
    assert_eq!(support::count(&reset, &new_password, "t").await, 2);

    // Change plan: restarts with the new limits, data kept.
    let (st, v) = cp
        .call(
            Method::PATCH,
            &format!("/v1/databases/{id}"),
            Some(&t),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["plan"], "pro");
    cp.wait_state(&t, &id, "ready").await;
    assert_eq!(support::count(&reset, &new_password, "t").await, 2);

    // Delete: gone from the API, its data directory removed, and the name free again.
    let (st, v) = cp
        .call(
            Method::DELETE,
            &format!("/v1/databases/{id}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["state"], "deleting");
    cp.wait_gone(&t, &id).await;
    assert!(!cp.dir.path().join("tenants").join(&id).exists());
    assert!(connect(&reset, &new_password).await.is_err());
    let again = cp.create_db(&t, "orders", "free").await;
    assert_ne!(again["database"]["id"], created["database"]["id"]);
    cp.stop().await;
}

async fn organisations_cannot_see_each_other(b: Backend) {
    let Some(cp) = Cp::start(b, "isolation", |_| {}).await else {
        return;
    };
    let a = cp.signup_token("a@example.com").await;
    let bt = cp.signup_token("b@example.com").await;
    let db = cp.create_db(&a, "private", "free").await;
    let id = db["database"]["id"].as_str().unwrap();
    let missing = "db_doesnotexist0000000";
    for path in [
        format!("/v1/databases/{id}"),
        format!("/v1/databases/{missing}"),
    ] {
        let (st, v) = cp.get(&path, &bt).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}: {v}");
        assert_eq!(v["error"]["code"], "not_found");
    }
    for (m, suffix, body) in [
        (Method::POST, "/pause", None),
        (Method::POST, "/resume", None),
        (Method::POST, "/reset-password", None),
        (Method::PATCH, "", Some(json!({"plan": "pro"}))),
        (Method::DELETE, "", None),
    ] {
        let (st, _) = cp
            .call(
                m.clone(),
                &format!("/v1/databases/{id}{suffix}"),
                Some(&bt),
                body,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{m} {suffix}");
    }
    let (_, list) = cp.get("/v1/databases", &bt).await;
    assert_eq!(list["databases"], json!([]));
    // B's own database with the same name is fine: names are unique per organisation.
    cp.create_db(&bt, "private", "free").await;
    // A's key is invisible to B.
    let (_, key) = cp
        .post("/v1/api-keys", Some(&a), json!({"name": "ci"}))
        .await;
    let key_id = key["api_key"]["id"].as_str().unwrap();
    let (st, _) = cp
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Some(&bt),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, keys) = cp.get("/v1/api-keys", &bt).await;
    assert_eq!(keys["api_keys"], json!([]));
    // And A's database was never touched.
    cp.wait_state(&a, id, "ready").await;
    cp.stop().await;
}

async fn api_keys_authenticate_until_revoked(b: Backend) {
    let Some(cp) = Cp::start(b, "api_keys", |_| {}).await else {
        return;
    };
    let t = cp.signup_token("keys@example.com").await;
    let (st, created) = cp
        .post("/v1/api-keys", Some(&t), json!({"name": "deploy bot"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("omk_"));
    assert!(key.starts_with(created["api_key"]["prefix"].as_str().unwrap()));
    let (_, list) = cp.get("/v1/api-keys", &t).await;
    assert_eq!(list["api_keys"][0]["name"], "deploy bot");
    assert!(
        !list.to_string().contains(&key),
        "a listing never shows the key"
    );
    // The key works for databases...
    let (st, _) = cp.get("/v1/databases", &key).await;
    assert_eq!(st, StatusCode::OK);
    cp.create_db(&key, "from-ci", "free").await;
    // ...but cannot mint more keys.
    let (st, v) = cp
        .post("/v1/api-keys", Some(&key), json!({"name": "x"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    // The audit log names the key as the actor.
    let (_, log) = cp.get("/v1/audit-log", &t).await;
    let key_id = created["api_key"]["id"].as_str().unwrap();
    assert!(
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "database.create" && e["actor"] == format!("api_key:{key_id}")),
        "{log}"
    );
    let (st, v) = cp
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["revoked_at"].is_string());
    let (st, v) = cp.get("/v1/databases", &key).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    // A made-up key with the right prefix is refused the same way.
    let (st, _) = cp.get("/v1/databases", "omk_notarealkeyatall").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    cp.stop().await;
}

async fn api_key_scopes_and_expiry(b: Backend) {
    let Some(cp) = Cp::start(b, "key_scopes", |_| {}).await else {
        return;
    };
    let t = cp.signup_token("scopes@example.com").await;
    let created = cp.create_db(&t, "scoped", "free").await;
    let id = created["database"]["id"].as_str().unwrap();
    let key = |body: Value| {
        let cp = &cp;
        let t = t.clone();
        async move {
            let (st, v) = cp.post("/v1/api-keys", Some(&t), body).await;
            assert_eq!(st, StatusCode::CREATED, "{v}");
            (v["key"].as_str().unwrap().to_string(), v["api_key"].clone())
        }
    };
    // Without scopes a key gets what keys always could: read and manage databases.
    let (_, plain) = key(json!({"name": "plain"})).await;
    assert_eq!(plain["scopes"], json!(["read", "databases:write"]));
    assert_eq!(plain["expires_at"], Value::Null);

    // A read-only key reads everything and changes nothing.
    let (ro, _) = key(json!({"name": "dashboard", "scopes": ["read"]})).await;
    for path in ["/v1/databases", "/v1/api-keys", "/v1/billing", "/v1/me"] {
        let (st, v) = cp.get(path, &ro).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
    }
    let (st, v) = cp
        .post(
            "/v1/databases",
            Some(&ro),
            json!({"name": "nope", "plan": "free"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("databases:write"),
        "{v}"
    );
    for (method, path) in [
        (Method::DELETE, format!("/v1/databases/{id}")),
        (Method::POST, format!("/v1/databases/{id}/pause")),
        (Method::POST, format!("/v1/databases/{id}/reset-password")),
        (Method::POST, "/v1/billing/portal".to_string()),
    ] {
        let (st, v) = cp.call(method.clone(), &path, Some(&ro), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
    }
    let (st, v) = cp
        .call(
            Method::PATCH,
            &format!("/v1/databases/{id}"),
            Some(&ro),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (_, db) = cp.get(&format!("/v1/databases/{id}"), &t).await;
    assert_eq!(db["plan"], "free", "nothing changed: {db}");

    // A key that manages keys cannot mint a stronger one, nor one that outlives it.
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let in_two = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let (admin, admin_view) = key(json!({
        "name": "key admin", "scopes": ["read", "keys"], "expires_at": in_an_hour
    }))
    .await;
    let (st, v) = cp
        .post(
            "/v1/api-keys",
            Some(&admin),
            json!({"name": "escalate", "scopes": ["read", "databases:write"]}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = cp
        .post(
            "/v1/api-keys",
            Some(&admin),
            json!({"name": "default scopes"}),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "the default includes databases:write: {v}"
    );
    let (st, v) = cp
        .post(
            "/v1/api-keys",
            Some(&admin),
            json!({"name": "outlive", "scopes": ["read"], "expires_at": in_two}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, child) = cp
        .post(
            "/v1/api-keys",
            Some(&admin),
            json!({"name": "child", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{child}");
    assert_eq!(
        child["api_key"]["expires_at"], admin_view["expires_at"],
        "inherits the expiry"
    );
    let child_id = child["api_key"]["id"].as_str().unwrap();
    let (st, _) = cp
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{child_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // The audit log says which key acted.
    let (_, log) = cp.get("/v1/audit-log", &t).await;
    let admin_id = admin_view["id"].as_str().unwrap();
    assert_eq!(log["entries"][0]["action"], "api_key.revoke", "{log}");
    assert_eq!(
        log["entries"][0]["actor"],
        format!("api_key:{admin_id}"),
        "{log}"
    );

    // Bad requests are named by field.
    for (body, field) in [
        (json!({"name": "x", "scopes": ["admin"]}), "scopes[0]"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (
            json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (json!({"name": "x", "expires_at": "tomorrow"}), "expires_at"),
    ] {
        let (st, v) = cp.post("/v1/api-keys", Some(&t), body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{v}");
    }

    // An expired key is refused as such, and its last use stays on record.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (brief, brief_view) = key(json!({"name": "brief", "expires_at": soon})).await;
    assert_eq!(cp.get("/v1/databases", &brief).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (st, v) = cp.get("/v1/databases", &brief).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expired"),
        "{v}"
    );
    let (_, list) = cp.get("/v1/api-keys", &t).await;
    let listed = list["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == brief_view["id"])
        .unwrap()
        .clone();
    assert!(listed["last_used_at"].is_string(), "{listed}");
    cp.stop().await;
}

async fn bad_tokens_are_refused(b: Backend) {
    let Some(cp) = Cp::start(b, "bad_tokens", |c| c.auth.access_ttl_s = 1).await else {
        return;
    };
    let t = cp.signup_token("tokens@example.com").await;
    assert_eq!(cp.get("/v1/databases", &t).await.0, StatusCode::OK);
    let (st, v) = cp.call(Method::GET, "/v1/databases", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "unauthorized");
    let parts: Vec<&str> = t.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // Tampered payload (another org), original signature.
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["org"] = "org_someoneelse".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    // alg: none, unsigned.
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    // HS256 "signed" with the public key as the HMAC secret: the classic algorithm confusion.
    let hs = format!(
        "{}.{}.{}",
        b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        parts[1],
        parts[2]
    );
    for bad in [tampered.as_str(), none.as_str(), hs.as_str(), "garbage", ""] {
        let (st, _) = cp.get("/v1/databases", bad).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // The JWKS publishes the key that verifies real tokens.
    let (st, jwks) = cp
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    // Expiry (1 s lifetime, 5 s leeway).
    tokio::time::sleep(Duration::from_secs(7)).await;
    let (st, v) = cp.get("/v1/databases", &t).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expired"),
        "{v}"
    );
    cp.stop().await;
}

/// A login from `from` (the address our trusted proxy at 127.0.0.1 says it forwarded).
async fn login_from(cp: &Cp, from: &str, email: &str, password: &str) -> reqwest::Response {
    cp.http
        .post(format!("{}/v1/auth/login", cp.base))
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn login_brute_force_and_signup_flood_are_rate_limited(b: Backend) {
    let Some(cp) = Cp::start(b, "rate_limits", |c| {
        c.limits.login_free_failures = 3;
        c.limits.signups_per_minute = 3;
        c.trusted_proxies = TrustedProxies::parse_list("127.0.0.1").unwrap();
    })
    .await
    else {
        return;
    };
    let right = "correct horse battery";
    cp.signup("victim@example.com").await;
    // The owner has logged in from home before.
    let r = login_from(&cp, "198.51.100.1", "victim@example.com", right).await;
    assert_eq!(r.status(), StatusCode::OK);
    // An attacker elsewhere guesses: three failures are free, then every attempt waits, growing.
    let guess = || {
        login_from(
            &cp,
            "203.0.113.66",
            "victim@example.com",
            "guess guess guess",
        )
    };
    for _ in 0..3 {
        let r = guess().await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = guess().await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=2).contains(&retry_after(&r)), "{:?}", r.headers());
    // Refused before the password is checked: even the right one gets no answer while it waits.
    let r = login_from(&cp, "203.0.113.66", "victim@example.com", right).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Waiting out the delay buys one guess, and the next wait is longer.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = guess().await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = guess().await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) >= 2, "{:?}", r.headers());
    // Meanwhile the owner logs in, from home and from a new address.
    let r = login_from(&cp, "198.51.100.1", "victim@example.com", right).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = login_from(&cp, "192.0.2.44", "victim@example.com", right).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Sign-ups: 3 per minute per address (one used above).
    cp.signup("s2@example.com").await;
    cp.signup("s3@example.com").await;
    let (st, v) = cp
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "s4@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited");
    cp.stop().await;
}

/// X-Forwarded-For from a peer that is not a configured proxy is the client's own claim: it neither moves
/// the client out of its rate limits nor into the audit log.
async fn forged_forwarded_addresses_are_ignored(b: Backend) {
    let Some(cp) = Cp::start(b, "forwarded", |c| {
        c.limits.login_free_failures = 2;
        c.trusted_proxies = TrustedProxies::parse_list("10.0.0.0/8").unwrap();
    })
    .await
    else {
        return;
    };
    cp.signup("fwd@example.com").await;
    for forged in ["1.1.1.1", "2.2.2.2"] {
        let r = login_from(&cp, forged, "fwd@example.com", "guess guess guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // A third made-up address does not escape the brake on 127.0.0.1.
    let r = login_from(&cp, "3.3.3.3", "fwd@example.com", "guess guess guess").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = login_from(&cp, "6.6.6.6", "fwd@example.com", "correct horse battery").await;
    assert_eq!(r.status(), StatusCode::OK);
    let login: Value = r.json().await.unwrap();
    let (st, log) = cp.get("/v1/audit-log", &tok(&login)).await;
    assert_eq!(st, StatusCode::OK, "{log}");
    assert_eq!(log["entries"][0]["action"], "account.login", "{log}");
    assert_eq!(log["entries"][0]["ip"], "127.0.0.1", "{log}");
    cp.stop().await;
}

async fn bad_bodies_get_clear_errors(b: Backend) {
    let Some(cp) = Cp::start(b, "bodies", |c| c.limits.max_body_bytes = 2048).await else {
        return;
    };
    let t = cp.signup_token("bodies@example.com").await;
    let send = |body: String, ct: &'static str| {
        cp.http
            .post(format!("{}/v1/databases", cp.base))
            .bearer_auth(&t)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let check = |r: reqwest::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(r.status(), status);
        assert_eq!(r.headers()["content-type"], "application/json");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{v}");
        v
    };
    // A well-formed JSON body the server must refuse field by field.
    let invalid = |body: &'static str| async move {
        let r = send(body.into(), "application/json").await.unwrap();
        check(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await
    };
    check(
        send("{\"name\": \"x\", ".into(), "application/json")
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    check(
        send("name=x".into(), "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    check(
        send(
            format!("{{\"name\": \"{}\", \"plan\": \"free\"}}", "a".repeat(4096)),
            "application/json",
        )
        .await
        .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let v = invalid(r#"{"name": "ok", "plan": "free", "admin": true}"#).await;
    assert!(
        v["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field"),
        "{v}"
    );
    let v = invalid(r#"{"name": "ok", "plan": "platinum"}"#).await;
    assert_eq!(v["error"]["fields"][0]["field"], "plan");
    let v = invalid(r#"{"name": 7, "plan": "free"}"#).await;
    assert_eq!(v["error"]["fields"][0]["field"], "name");
    let v = invalid(r#"{"plan": "free"}"#).await;
    assert!(
        v["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `name`"),
        "{v}"
    );
    for evil in [
        "x'; drop table databases; --",
        "../../etc",
        "a\u{0}b",
        "<script>",
        "Robert'); DROP",
        "ü",
    ] {
        let (st, v) = cp
            .post(
                "/v1/databases",
                Some(&t),
                json!({"name": evil, "plan": "free"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{evil}: {v}");
        assert_eq!(v["error"]["fields"][0]["field"], "name");
    }
    // Nothing was created by any of that, and the metadata tables are intact.
    let (st, list) = cp.get("/v1/databases", &t).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["databases"], json!([]));
    // Unknown routes are JSON 404s too; security headers are on every response.
    let r = cp
        .http
        .get(format!("{}/v1/nothing-here", cp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    cp.stop().await;
}

async fn quotas_and_audit_log(b: Backend) {
    let Some(cp) = Cp::start(b, "quotas", |c| c.plans.free.max_databases = 1).await else {
        return;
    };
    let t = cp.signup_token("quota@example.com").await;
    let first = cp.create_db(&t, "one", "free").await;
    let (st, v) = cp
        .post(
            "/v1/databases",
            Some(&t),
            json!({"name": "two", "plan": "free"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "quota_exceeded");
    // Another plan has its own quota; a taken name is a 409.
    let (st, v) = cp
        .post(
            "/v1/databases",
            Some(&t),
            json!({"name": "one", "plan": "pro"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    cp.create_db(&t, "two", "pro").await;
    let id = first["database"]["id"].as_str().unwrap();
    cp.wait_state(&t, id, "ready").await;
    cp.call(
        Method::POST,
        &format!("/v1/databases/{id}/pause"),
        Some(&t),
        None,
    )
    .await;
    let (st, log) = cp.get("/v1/audit-log?limit=50", &t).await;
    assert_eq!(st, StatusCode::OK, "{log}");
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "database.pause",
            "database.create",
            "database.create",
            "account.signup"
        ],
        "{log}"
    );
    let e = &log["entries"][0];
    assert_eq!(e["ip"], "127.0.0.1");
    assert_eq!(e["target"], id);
    assert!(e["actor"].as_str().unwrap().starts_with("account:"));
    let (st, _) = cp.get("/v1/audit-log?limit=0", &t).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = cp.get("/v1/audit-log?limit=abc", &t).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Paging backwards with `before`.
    let before = log["entries"][1]["at_ms"].as_i64().unwrap();
    let (_, older) = cp.get(&format!("/v1/audit-log?before={before}"), &t).await;
    assert!(
        older["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["at_ms"].as_i64().unwrap() < before)
    );
    // Metrics count requests by route template and databases by state.
    let text = cp.metrics_text().await;
    assert!(
        text.contains(
            r#"omendb_cp_http_requests_total{method="POST",route="/v1/databases",status="403"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("omendb_cp_databases{state="), "{text}");
    assert!(
        text.contains("omendb_cp_provisioning_duration_seconds_bucket"),
        "{text}"
    );
    cp.stop().await;
}

async fn idle_free_databases_are_paused(b: Backend) {
    let Some(cp) = Cp::start(b, "idle", |c| {
        c.plans.free.pause_when_idle_s = Some(1);
        c.local.idle_check_s = 1;
    })
    .await
    else {
        return;
    };
    let t = cp.signup_token("idle@example.com").await;
    let free = cp.create_db(&t, "sleepy", "free").await;
    let pro = cp.create_db(&t, "awake", "pro").await;
    let free_id = free["database"]["id"].as_str().unwrap();
    let pro_id = pro["database"]["id"].as_str().unwrap();
    cp.wait_state(&t, pro_id, "ready").await;
    // An open connection keeps a free database running.
    cp.wait_state(&t, free_id, "ready").await;
    let c = connect(&free, free["password"].as_str().unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        cp.get(&format!("/v1/databases/{free_id}"), &t).await.1["state"],
        "ready"
    );
    drop(c);
    cp.wait_state(&t, free_id, "paused").await;
    assert_eq!(
        cp.get(&format!("/v1/databases/{pro_id}"), &t).await.1["state"],
        "ready"
    );
    let (_, log) = cp.get("/v1/audit-log", &t).await;
    assert_eq!(log["entries"][0]["action"], "database.pause_idle");
    assert_eq!(log["entries"][0]["actor"], "system");
    cp.stop().await;
}

/// The pid of the tenant server whose config path names `id`.
fn tenant_pid(id: &str) -> Option<i32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.contains(&format!("{id}/server.toml")) {
            return Some(pid);
        }
    }
    None
}

async fn supervision_restarts_a_killed_tenant(b: Backend) {
    let Some(cp) = Cp::start(b, "supervision", |_| {}).await else {
        return;
    };
    let t = cp.signup_token("crash@example.com").await;
    let db = cp.create_db(&t, "phoenix", "pro").await;
    let id = db["database"]["id"].as_str().unwrap();
    let pw = db["password"].as_str().unwrap();
    cp.wait_state(&t, id, "ready").await;
    let c = connect(&db, pw).await.unwrap();
    c.batch_execute("create table k (id bigint primary key); insert into k values (42)")
        .await
        .unwrap();
    drop(c);
    let pid = tenant_pid(id).expect("tenant process");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    // Supervision notices, says why, and brings it back on the same port with its data.
    cp.wait_state(&t, id, "failed").await;
    let v = cp.wait_state(&t, id, "ready").await;
    assert_eq!(v["port"], db["database"]["port"]);
    let new_pid = tenant_pid(id).expect("restarted tenant process");
    assert_ne!(new_pid, pid);
    let c = connect(&db, pw).await.unwrap();
    let n: i64 = c.query_one("select id from k", &[]).await.unwrap().get(0);
    assert_eq!(n, 42);
    let text = cp.metrics_text().await;
    assert!(text.contains("omendb_cp_tenant_restarts_total 1"), "{text}");
    cp.stop().await;
}

async fn restart_brings_databases_back(b: Backend) {
    let Some(mut cp) = Cp::start(b, "restart", |_| {}).await else {
        return;
    };
    let t = cp.signup_token("restart@example.com").await;
    let up = cp.create_db(&t, "stays-up", "pro").await;
    let paused = cp.create_db(&t, "stays-paused", "pro").await;
    let up_id = up["database"]["id"].as_str().unwrap().to_string();
    let paused_id = paused["database"]["id"].as_str().unwrap().to_string();
    cp.wait_state(&t, &up_id, "ready").await;
    cp.wait_state(&t, &paused_id, "ready").await;
    let c = connect(&up, up["password"].as_str().unwrap())
        .await
        .unwrap();
    c.batch_execute("create table r (id bigint primary key); insert into r values (7)")
        .await
        .unwrap();
    drop(c);
    cp.call(
        Method::POST,
        &format!("/v1/databases/{paused_id}/pause"),
        Some(&t),
        None,
    )
    .await;
    cp.wait_state(&t, &paused_id, "paused").await;
    cp.restart().await;
    // Same signing key: the old access token still works after the restart.
    let v = cp.wait_state(&t, &up_id, "ready").await;
    assert_eq!(v["port"], up["database"]["port"]);
    let c = connect(&up, up["password"].as_str().unwrap())
        .await
        .unwrap();
    let n: i64 = c.query_one("select id from r", &[]).await.unwrap().get(0);
    assert_eq!(n, 7);
    assert_eq!(
        cp.get(&format!("/v1/databases/{paused_id}"), &t).await.1["state"],
        "paused"
    );
    assert!(
        tenant_pid(&paused_id).is_none(),
        "a paused database stays stopped"
    );
    cp.stop().await;
    assert!(
        tenant_pid(&up_id).is_none(),
        "stopping the control plane stops its tenants"
    );
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let Some(cp) = Cp::start(Backend::Sqlite, "openapi", |_| {}).await else {
        return;
    };
    let (st, doc) = cp.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/auth/signup",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/me",
        "/v1/databases",
        "/v1/databases/{id}",
        "/v1/databases/{id}/pause",
        "/v1/databases/{id}/resume",
        "/v1/databases/{id}/reset-password",
        "/v1/databases/{id}/metrics",
        "/v1/api-keys",
        "/v1/api-keys/{id}",
        "/v1/audit-log",
        "/v1/plans",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let (_, plans) = cp.call(Method::GET, "/v1/plans", None, None).await;
    assert_eq!(plans["plans"][0]["name"], "free");
    assert_eq!(plans["plans"][0]["limits"]["max_connections"], 20);
    cp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_served_and_database_metrics_are_sampled() {
    let Some(cp) = Cp::start(Backend::Sqlite, "console", |_| {}).await else {
        return;
    };
    let get = |path: &str, accept: &'static str| {
        cp.http
            .get(format!("{}{path}", cp.base))
            .header("accept", accept)
            .send()
    };
    let index = get("/", "text/html").await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    let html = index.text().await.unwrap();
    assert!(html.contains("/app.js"), "{html}");
    let js = get("/app.js", "*/*").await.unwrap();
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    // Deep links get the console; unknown files and API paths get JSON 404s.
    let deep = get("/databases/db_x", "text/html,application/xhtml+xml")
        .await
        .unwrap();
    assert_eq!(deep.text().await.unwrap(), html);
    assert_eq!(
        get("/missing.js", "text/html").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/v1/nothing", "text/html").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let t = cp.signup_token("metrics@example.com").await;
    let free = cp.create_db(&t, "quiet", "free").await;
    let pro = cp.create_db(&t, "watched", "pro").await;
    let free_id = free["database"]["id"].as_str().unwrap();
    let pro_id = pro["database"]["id"].as_str().unwrap();
    cp.wait_state(&t, free_id, "ready").await;
    cp.wait_state(&t, pro_id, "ready").await;
    let (st, v) = cp
        .get(&format!("/v1/databases/{free_id}/metrics"), &t)
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("monitoring is off")
    );
    let c = connect(&pro, pro["password"].as_str().unwrap())
        .await
        .unwrap();
    c.batch_execute("create table m (id bigint primary key); insert into m values (1), (2)")
        .await
        .unwrap();
    let (st, v) = cp.get(&format!("/v1/databases/{pro_id}/metrics"), &t).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["monitoring"], "metrics");
    assert_eq!(v["series"]["omendb_connections"], 1.0);
    assert_eq!(v["series"]["omendb_tables"], 1.0);
    assert!(
        v["series"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("omendb_queries_total{"))
    );
    assert!(
        !v["series"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("_bucket"))
    );
    drop(c);
    cp.stop().await;
}

#[tokio::test]
async fn cors_allows_only_the_console_origin() {
    let Some(cp) = Cp::start(Backend::Sqlite, "cors", |c| {
        c.console_origin = "https://console.example.com".into()
    })
    .await
    else {
        return;
    };
    let preflight = |origin: &'static str| {
        cp.http
            .request(Method::OPTIONS, format!("{}/v1/databases", cp.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let ok = preflight("https://console.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    let evil = preflight("https://evil.example.com").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    cp.stop().await;
}
