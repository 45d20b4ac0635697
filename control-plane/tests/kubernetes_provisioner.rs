//! The Kubernetes provisioner against the fake API server (kube-rs's tower-test double): what it writes
//! for a database, how it waits for the operator's `Ready`, pause and delete, with the permissions the
//! Helm chart's control-plane Role gives it (the fake authorizes every request by those rules).

use std::time::Duration;

use omendb_control_plane::plans::{Plan, Plans};
use omendb_control_plane::provisioner::kubernetes::KubernetesProvisioner;
use omendb_control_plane::provisioner::{Provisioner, TenantSpec};
use omendb_operator::testing::{Fake, chart_rules};
use serde_json::json;

const NS: &str = "tenants";
const DB: &str = "/apis/omendb.io/v1alpha1/namespaces/tenants/omendatabases/db-abc";
const SECRET: &str = "/api/v1/namespaces/tenants/secrets/db-abc-owner";

fn spec() -> TenantSpec {
    TenantSpec {
        id: "db_abc".into(),
        organization: "org_1".into(),
        database: "orders".into(),
        user: "owner".into(),
        scram: "SCRAM-SHA-256$4096:c2FsdA==$a:b".into(),
        port: 5432,
        plan: Plan::Pro,
        limits: Plans::default().pro,
    }
}

/// The control plane's client, authorized by the rules of the chart's own control-plane Role.
fn provisioner(fake: &Fake) -> KubernetesProvisioner {
    let control_plane = fake.as_identity(
        "system:serviceaccount:omendb:omendb-control-plane",
        chart_rules("control-plane/rbac.yaml"),
    );
    KubernetesProvisioner::new(
        control_plane.client(),
        NS.into(),
        Some("registry.example/omendb:1".into()),
    )
    .with_ready_timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn ensure_running_writes_the_secret_and_resource_and_waits_for_ready() {
    let fake = Fake::default();
    let p = provisioner(&fake);
    // Play the operator: mark the resource ready shortly after it appears.
    let operator = fake.clone();
    tokio::spawn(async move {
        loop {
            if let Some(mut db) = operator.object(DB) {
                db["status"] = json!({"phase": "Ready", "endpoint": {"host": "db-abc.tenants.svc", "port": 5432},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "Running", "message": "", "lastTransitionTime": "2026-11-24T00:00:00Z"}]});
                operator.set(DB, db);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let endpoint = p.ensure_running(&spec()).await.unwrap();
    assert_eq!(
        (endpoint.host.as_str(), endpoint.port),
        ("db-abc.tenants.svc", 5432)
    );
    assert_eq!(p.host("db_abc"), "db-abc.tenants.svc");

    let calls = fake.calls();
    let secret = calls
        .iter()
        .find(|c| c.method == "PATCH" && c.path == SECRET)
        .expect("secret applied");
    assert!(secret.query.contains("fieldManager=omendb-control-plane"));
    assert_eq!(
        secret.body["stringData"]["OMENDB_USER"],
        "owner:SCRAM-SHA-256$4096:c2FsdA==$a:b"
    );
    let db = calls
        .iter()
        .find(|c| c.method == "PATCH" && c.path == DB)
        .expect("resource applied");
    let s = &db.body["spec"];
    assert_eq!(s["tier"], "pro");
    assert_eq!(s["databaseName"], "orders");
    assert_eq!(s["organizationId"], "org_1");
    assert_eq!(s["credentialsSecret"], "db-abc-owner");
    assert_eq!(s["storageGib"], 50);
    assert_eq!(s["image"], "registry.example/omendb:1");
    assert_eq!(s["resources"], json!({"cpu": "1000m", "memory": "2048Mi"}));
    assert_eq!(s["paused"], false);
    // The resource parses as the operator's own type: the two sides agree on the schema.
    let _: omendb_operator::OmenDatabase =
        serde_json::from_value(fake.object(DB).unwrap()).unwrap();
}

#[tokio::test]
async fn an_invalid_resource_fails_with_the_operators_reason_and_silence_times_out() {
    let fake = Fake::default();
    let p = provisioner(&fake).with_ready_timeout(Duration::from_secs(1));
    let err = p.ensure_running(&spec()).await.unwrap_err();
    assert!(
        err.to_string().contains("did not report db-abc ready"),
        "{err}"
    );
    let mut db = fake.object(DB).unwrap();
    db["status"] = json!({"phase": "Invalid", "conditions": [{"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": "allowedCidrs: bad", "lastTransitionTime": "2026-11-24T00:00:00Z"}]});
    fake.set(DB, db);
    let err = provisioner(&fake).ensure_running(&spec()).await;
    // The apply keeps the status (a subresource), so the operator's verdict is read back.
    assert!(err.unwrap_err().to_string().contains("allowedCidrs: bad"));
}

#[tokio::test]
async fn pause_and_delete() {
    let fake = Fake::default();
    fake.set(DB, json!({"apiVersion": "omendb.io/v1alpha1", "kind": "OmenDatabase", "metadata": {"name": "db-abc", "namespace": NS}, "spec": {"organizationId": "o", "databaseId": "db_abc", "databaseName": "orders", "tier": "free", "storageGib": 1}}));
    fake.set(
        SECRET,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-abc-owner"}}),
    );
    let p = provisioner(&fake);
    p.stop("db_abc").await.unwrap();
    assert_eq!(fake.object(DB).unwrap()["spec"]["paused"], true);
    p.destroy("db_abc").await.unwrap();
    assert!(fake.object(DB).is_none() && fake.object(SECRET).is_none());
    // Both are idempotent.
    p.stop("db_abc").await.unwrap();
    p.destroy("db_abc").await.unwrap();
    assert_eq!(p.activity("db_abc").await.unwrap(), None);
}
