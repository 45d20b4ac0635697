//! Reconcile against kube-rs's standard test double: a `tower_test` mock service standing in for the API
//! server (`omendb_operator::testing::Fake`), which keeps objects in memory (GET, server-side-apply PATCH, merge PATCH, POST, DELETE,
//! LIST) and logs every call, so the tests assert on what the operator sent, not on a scripted sequence. It
//! refuses immutable-field updates as a real API server does, and the operator's requests are authorized by
//! the chart's own RBAC rules.
//! Real-cluster tests are in `tests/cluster.rs` and run when `KUBECONFIG` is set.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use omendb_operator::OmenDatabase;
use omendb_operator::controller::{Context, error_policy, reconcile};
use omendb_operator::metrics::Metrics;
use omendb_operator::tenant::Defaults;
use omendb_operator::testing::{Call, Fake, chart_rules};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/tenants-x";
const APPS: &str = "/apis/apps/v1/namespaces/tenants-x";
const DB: &str = "/apis/omendb.io/v1alpha1/namespaces/tenants-x/omendatabases/acme-orders";

fn resource(extra: &str) -> OmenDatabase {
    serde_yaml::from_str(&format!(
        r#"
apiVersion: omendb.io/v1alpha1
kind: OmenDatabase
metadata:
  name: acme-orders
  namespace: tenants-x
  uid: 0b4a7c3e-0000-4000-8000-000000000001
  generation: 1
  finalizers: ["omendb.io/cleanup"]
spec:
  organizationId: org_acme
  databaseId: db_orders
  databaseName: orders
  tier: free
  storageGib: 2
{extra}"#
    ))
    .unwrap()
}

/// The operator's client, authorized by the rules of the chart's own operator roles.
fn context(fake: &Fake) -> Arc<Context> {
    let operator = fake.as_identity(
        "system:serviceaccount:omendb:omendb-operator",
        chart_rules("operator/rbac.yaml"),
    );
    Arc::new(Context::new(
        operator.client(),
        Defaults::default(),
        Arc::new(Metrics::new()),
    ))
}

async fn run(fake: &Fake, db: &OmenDatabase) -> Result<Action, omendb_operator::Error> {
    fake.set(DB, serde_json::to_value(db).unwrap());
    reconcile(Arc::new(db.clone()), context(fake)).await
}

fn applied(calls: &[Call], path: &str) -> Value {
    let c = calls
        .iter()
        .find(|c| c.method == "PATCH" && c.path == path)
        .unwrap_or_else(|| {
            panic!(
                "no PATCH of {path} in {:#?}",
                calls
                    .iter()
                    .map(|c| (&c.method, &c.path))
                    .collect::<Vec<_>>()
            )
        });
    assert!(
        c.query.contains("fieldManager=omendb-operator") && c.query.contains("force=true"),
        "not server-side apply: {}",
        c.query
    );
    c.body.clone()
}

#[tokio::test]
async fn a_new_database_gets_every_object_and_a_provisioning_status() {
    let fake = Fake::default();
    let action = run(&fake, &resource("")).await.unwrap();
    assert_eq!(
        action,
        Action::requeue(std::time::Duration::from_secs(10)),
        "not ready yet: poll soon"
    );
    let calls = fake.calls();

    // Credentials are created (POST, not applied) with the SCRAM verifier the server reads.
    let secret = calls
        .iter()
        .find(|c| c.method == "POST" && c.path == format!("{NS}/secrets"))
        .expect("secret created");
    assert_eq!(secret.body["metadata"]["name"], "acme-orders-credentials");
    assert!(
        secret.body["stringData"]["OMENDB_USER"]
            .as_str()
            .unwrap()
            .starts_with("owner:SCRAM-SHA-256$4096:")
    );

    let cm = applied(&calls, &format!("{NS}/configmaps/acme-orders-config"));
    assert!(
        cm["data"]["server.toml"]
            .as_str()
            .unwrap()
            .contains("max_connections = 20")
    );
    let svc = applied(&calls, &format!("{NS}/services/acme-orders"));
    assert_eq!(svc["spec"]["ports"][0]["port"], 5432);
    let np = applied(
        &calls,
        "/apis/networking.k8s.io/v1/namespaces/tenants-x/networkpolicies/acme-orders",
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
    let sts = applied(&calls, &format!("{APPS}/statefulsets/acme-orders"));
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(
        sts["metadata"]["ownerReferences"][0]["kind"],
        "OmenDatabase"
    );
    assert_eq!(sts["metadata"]["ownerReferences"][0]["controller"], true);
    // No PodMonitor CRD in this cluster: nothing monitoring-related is written.
    assert!(
        !calls
            .iter()
            .any(|c| c.path.starts_with("/apis/monitoring.coreos.com"))
    );

    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(status["phase"], "Provisioning");
    assert_eq!(status["secretName"], "acme-orders-credentials");
    assert_eq!(status["endpoint"]["host"], "acme-orders.tenants-x.svc");
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("Starting"))
    );
    assert_eq!(ready["observedGeneration"], 1);
    // An event for the transition.
    assert!(calls.iter().any(|c| c.method == "POST"
        && c.path.contains("/events")
        && c.body["reason"] == "Provisioning"));
}

#[tokio::test]
async fn reconcile_is_idempotent_and_never_rewrites_credentials() {
    let fake = Fake::default();
    run(&fake, &resource("")).await.unwrap();
    let secret = fake
        .object(&format!("{NS}/secrets/acme-orders-credentials"))
        .unwrap();
    fake.clear_calls();
    // The pod is up now.
    let sts_path = format!("{APPS}/statefulsets/acme-orders");
    let mut sts = fake.object(&sts_path).unwrap();
    sts["status"] = json!({"replicas": 1, "readyReplicas": 1});
    fake.set(&sts_path, sts);
    let db: OmenDatabase = serde_json::from_value(fake.object(DB).unwrap()).unwrap();
    let action = run(&fake, &db).await.unwrap();
    assert_eq!(action, Action::requeue(std::time::Duration::from_secs(300)));
    let calls = fake.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.method == "POST" && c.path.ends_with("/secrets")),
        "credentials are generated once"
    );
    assert_eq!(
        fake.object(&format!("{NS}/secrets/acme-orders-credentials"))
            .unwrap(),
        secret
    );
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(status["phase"], "Ready");
    // The config did not change, so neither did the pod template's hash.
    let hash = |v: &Value| {
        v["spec"]["template"]["metadata"]["annotations"]["omendb.io/config-hash"].clone()
    };
    let again = applied(&calls, &sts_path);
    assert_eq!(hash(&again), hash(&fake.object(&sts_path).unwrap()));
}

#[tokio::test]
async fn pause_tier_change_growth_and_provided_credentials() {
    let fake = Fake::default();
    run(&fake, &resource("")).await.unwrap();
    let sts_path = format!("{APPS}/statefulsets/acme-orders");
    let hash = |v: &Value| {
        v["spec"]["template"]["metadata"]["annotations"]["omendb.io/config-hash"].clone()
    };
    let before = hash(&fake.object(&sts_path).unwrap());
    // The StatefulSet controller would have made the volume.
    let pvc_path = format!("{NS}/persistentvolumeclaims/data-acme-orders-0");
    fake.set(&pvc_path, claim("2Gi", "Bound"));
    fake.clear_calls();

    let changed =
        resource("  paused: true\n  credentialsSecret: from-control-plane\n").tap_spec(|s| {
            s.tier = omendb_operator::crd::Tier::Pro;
            s.storage_gib = 8;
        });
    run(&fake, &changed).await.unwrap();
    let calls = fake.calls();
    let sts = applied(&calls, &sts_path);
    assert_eq!(sts["spec"]["replicas"], 0, "paused scales to zero");
    assert_ne!(hash(&sts), before, "a tier change rolls the pod");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "2Gi",
        "the immutable template keeps its size"
    );
    let grow = calls
        .iter()
        .find(|c| c.method == "PATCH" && c.path == pvc_path)
        .expect("PVC expanded");
    assert_eq!(grow.body["spec"]["resources"]["requests"]["storage"], "8Gi");
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "from-control-plane"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.method == "POST" && c.path.ends_with("/secrets"))
    );
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(status["phase"], "Paused");
    assert_eq!(status["secretName"], "from-control-plane");
    let paused = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Paused")
        .unwrap()
        .clone();
    assert_eq!(paused["status"], "True");

    // Resume: one replica again, same config hash as the paused pass (pausing alone rolls nothing).
    fake.clear_calls();
    let resumed = resource("  credentialsSecret: from-control-plane\n").tap_spec(|s| {
        s.tier = omendb_operator::crd::Tier::Pro;
        s.storage_gib = 8;
    });
    run(&fake, &resumed).await.unwrap();
    let again = applied(&fake.calls(), &sts_path);
    assert_eq!(again["spec"]["replicas"], 1);
    assert_eq!(hash(&again), hash(&sts));
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.path == pvc_path && c.method == "PATCH"),
        "already grown"
    );
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(status["phase"], "Provisioning");
}

/// The data volume as the StatefulSet controller would have made it, in `phase`, 2 GiB provisioned.
fn claim(request: &str, phase: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "data-acme-orders-0", "namespace": "tenants-x"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": request}}},
           "status": {"phase": phase, "capacity": if phase == "Bound" { json!({"storage": "2Gi"}) } else { Value::Null }}})
}

fn condition(status: &Value, type_: &str) -> (String, String) {
    let c = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status}"));
    (
        c["status"].as_str().unwrap().to_string(),
        c["reason"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_tier_change_reaches_a_statefulset_whose_claim_template_an_older_operator_labelled() {
    let fake = Fake::default();
    run(&fake, &resource("")).await.unwrap();
    let sts_path = format!("{APPS}/statefulsets/acme-orders");
    let template = |v: &Value| v["spec"]["volumeClaimTemplates"][0].clone();
    let mut sts = fake.object(&sts_path).unwrap();
    assert_eq!(
        template(&sts)["metadata"]["labels"].get("omendb.io/tier"),
        None,
        "a new claim template carries no label that can change"
    );
    // As operators before this one made it: the tier in the (immutable) claim template.
    sts["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]["omendb.io/tier"] = "free".into();
    fake.set(&sts_path, sts.clone());
    fake.clear_calls();

    let pro = resource("").tap_spec(|s| s.tier = omendb_operator::crd::Tier::Pro);
    run(&fake, &pro)
        .await
        .expect("a tier change must not touch the immutable claim template");
    let applied = applied(&fake.calls(), &sts_path);
    assert_eq!(
        template(&applied),
        template(&sts),
        "the template is sent back as it is"
    );
    assert_eq!(
        applied["spec"]["template"]["metadata"]["labels"]["omendb.io/tier"],
        "pro"
    );
    let memory = |v: &Value| {
        v["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"].clone()
    };
    assert_ne!(
        memory(&applied),
        memory(&sts),
        "the pro tier's resources reach the pod"
    );
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(condition(&status, "Provisioned").0, "True");
}

#[tokio::test]
async fn growth_waits_for_a_pending_claim_to_be_bound_and_says_so() {
    let fake = Fake::default();
    run(&fake, &resource("")).await.unwrap();
    let pvc_path = format!("{NS}/persistentvolumeclaims/data-acme-orders-0");
    // A WaitForFirstConsumer class before the pod is scheduled: the claim stays Pending.
    fake.set(&pvc_path, claim("2Gi", "Pending"));
    fake.clear_calls();
    let bigger = resource("").tap_spec(|s| s.storage_gib = 8);
    run(&fake, &bigger)
        .await
        .expect("a pending claim must not fail the reconcile");
    let calls = fake.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.method == "PATCH" && c.path == pvc_path),
        "a pending claim's spec cannot change"
    );
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(
        condition(&status, "VolumeSized"),
        ("False".into(), "WaitingForBinding".into())
    );
    assert!(
        calls.iter().any(|c| c.method == "POST"
            && c.path.contains("/events")
            && c.body["reason"] == "VolumeExpansionWaiting"),
        "an event says why the volume has not grown"
    );

    // Bound: the next pass grows it, and the condition follows the provisioned capacity.
    fake.set(&pvc_path, claim("2Gi", "Bound"));
    fake.clear_calls();
    run(&fake, &bigger).await.unwrap();
    let grow = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "PATCH" && c.path == pvc_path)
        .expect("PVC expanded once bound");
    assert_eq!(grow.body["spec"]["resources"]["requests"]["storage"], "8Gi");
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(
        condition(&status, "VolumeSized"),
        ("False".into(), "Expanding".into())
    );
    let mut grown = fake.object(&pvc_path).unwrap();
    grown["status"]["capacity"]["storage"] = "8Gi".into();
    fake.set(&pvc_path, grown);
    run(&fake, &bigger).await.unwrap();
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(
        condition(&status, "VolumeSized"),
        ("True".into(), "Sized".into())
    );
}

#[tokio::test]
async fn the_fake_api_server_refuses_what_a_real_one_refuses() {
    // The rules the tests above depend on, checked directly: a StatefulSet's claim templates and selector
    // are immutable, a pending claim's spec is, and a bound claim can only grow.
    let fake = Fake::default();
    run(&fake, &resource("")).await.unwrap();
    let client = fake.client();
    let sts_api: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> =
        kube::Api::namespaced(client.clone(), "tenants-x");
    let patch = |v: Value| kube::api::Patch::Merge(v);
    let pp = kube::api::PatchParams::default();
    let refused = sts_api
        .patch("acme-orders", &pp, &patch(json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"omendb.io/tier": "pro"}}}]}})))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(ae) if ae.code == 422 && ae.message.contains("updates to statefulset spec for fields other than")),
        "{refused}"
    );
    sts_api
        .patch("acme-orders", &pp, &patch(json!({"spec": {"replicas": 0}})))
        .await
        .expect("replicas may change");
    let pvcs: kube::Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        kube::Api::namespaced(client, "tenants-x");
    let pvc_path = format!("{NS}/persistentvolumeclaims/data-acme-orders-0");
    let grow = patch(json!({"spec": {"resources": {"requests": {"storage": "4Gi"}}}}));
    fake.set(&pvc_path, claim("2Gi", "Pending"));
    let refused = pvcs
        .patch("data-acme-orders-0", &pp, &grow)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(ae) if ae.code == 422 && ae.message.contains("for bound claims")),
        "{refused}"
    );
    fake.set(&pvc_path, claim("2Gi", "Bound"));
    pvcs.patch("data-acme-orders-0", &pp, &grow)
        .await
        .expect("a bound claim grows");
    let shrink = patch(json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}}));
    let refused = pvcs
        .patch("data-acme-orders-0", &pp, &shrink)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(ae) if ae.code == 422 && ae.message.contains("can not be less than previous value")),
        "{refused}"
    );
}

#[tokio::test]
async fn transient_api_errors_requeue_instead_of_waiting() {
    let fake = Fake::default();
    let ctx = context(&fake);
    let db = resource("");
    let err = omendb_operator::Error::Kube(kube::Error::Api(
        kube::core::Status::failure("etcd timeout", "Timeout")
            .with_code(504)
            .boxed(),
    ));
    assert!(!err.is_permanent());
    assert_eq!(
        error_policy(Arc::new(db), &err, ctx.clone()),
        Action::requeue(std::time::Duration::from_secs(30))
    );
    assert!(
        ctx.metrics
            .render()
            .contains(r#"reconcile_failures_total{reason="kube_api"} 1"#)
    );
}

#[tokio::test]
async fn monitoring_tiers_get_a_pod_monitor_only_when_the_crd_exists() {
    let fake = Fake::default();
    fake.set("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/podmonitors.monitoring.coreos.com", json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "podmonitors.monitoring.coreos.com"}}));
    let pm_path = "/apis/monitoring.coreos.com/v1/namespaces/tenants-x/podmonitors/acme-orders";
    run(
        &fake,
        &resource("").tap_spec(|s| s.tier = omendb_operator::crd::Tier::Enterprise),
    )
    .await
    .unwrap();
    let pm = applied(&fake.calls(), pm_path);
    assert_eq!(pm["kind"], "PodMonitor");
    // Back to free (no monitoring): the PodMonitor is removed.
    fake.clear_calls();
    run(&fake, &resource("")).await.unwrap();
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.method == "DELETE" && c.path == pm_path)
    );
    assert!(fake.object(pm_path).is_none());
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_waits_for_a_change() {
    let fake = Fake::default();
    let bad = resource("  allowedCidrs: [\"not-a-cidr\"]\n");
    let ctx = context(&fake);
    fake.set(DB, serde_json::to_value(&bad).unwrap());
    let err = reconcile(Arc::new(bad.clone()), ctx.clone())
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert_eq!(
        error_policy(Arc::new(bad), &err, ctx.clone()),
        Action::await_change()
    );
    let status = fake.object(DB).unwrap()["status"].clone();
    assert_eq!(status["phase"], "Invalid");
    assert!(
        status["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not-a-cidr")
    );
    // Nothing was created for it.
    assert!(!fake.calls().iter().any(|c| c.path.contains("statefulsets")));
    let metrics = ctx.metrics.render();
    assert!(
        metrics.contains(r#"omendb_operator_reconcile_failures_total{reason="invalid_spec"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn deletion_removes_the_volumes_and_releases_the_finalizer() {
    let fake = Fake::default();
    run(&fake, &resource("")).await.unwrap();
    fake.set(&format!("{NS}/persistentvolumeclaims/data-acme-orders-0"), json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-acme-orders-0", "namespace": "tenants-x", "labels": {"app.kubernetes.io/instance": "acme-orders"}}}));
    fake.clear_calls();
    let mut db: OmenDatabase = serde_json::from_value(fake.object(DB).unwrap()).unwrap();
    db.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-11-24T00:00:00Z".parse().unwrap(),
    ));
    run(&fake, &db).await.unwrap();
    let calls = fake.calls();
    assert!(
        calls.iter().any(|c| c.method == "DELETE"
            && c.path
                .ends_with("/persistentvolumeclaims/data-acme-orders-0")),
        "{:#?}",
        calls
            .iter()
            .map(|c| (&c.method, &c.path))
            .collect::<Vec<_>>()
    );
    // The finalizer is removed with a JSON patch on the resource.
    assert!(
        calls.iter().any(|c| c.method == "PATCH"
            && c.path == DB
            && c.body.to_string().contains("finalizers"))
    );
    let left = fake.object(DB).unwrap()["metadata"]["finalizers"].clone();
    assert!(left.as_array().is_none_or(|f| f.is_empty()), "{left}");
    let _ = db.name_any();
}

trait TapSpec {
    fn tap_spec(self, f: impl FnOnce(&mut omendb_operator::OmenDatabaseSpec)) -> Self;
}

impl TapSpec for OmenDatabase {
    fn tap_spec(mut self, f: impl FnOnce(&mut omendb_operator::OmenDatabaseSpec)) -> Self {
        f(&mut self.spec);
        self
    }
}
