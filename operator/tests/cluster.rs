//! Against a real cluster, when `KUBECONFIG` is set (no cluster can run on the CI machines, so this skips
//! loudly there; `OMENDB_REQUIRE_CLUSTER=1` turns the skip into a failure). It installs the CRD, runs the
//! controller in-process against a fresh namespace, creates an `OmenDatabase`, and waits for its
//! StatefulSet, Service, NetworkPolicy and Secret and a `Provisioned` condition; then pauses it and
//! deletes it, checking the finalizer lets go.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};
use omendb_operator::OmenDatabase;

async fn cluster() -> Option<Client> {
    if std::env::var_os("KUBECONFIG").is_none() {
        assert!(
            std::env::var_os("OMENDB_REQUIRE_CLUSTER").is_none(),
            "OMENDB_REQUIRE_CLUSTER is set but KUBECONFIG is not"
        );
        eprintln!(
            "\n*** SKIPPED: operator real-cluster test needs KUBECONFIG (no cluster on this machine) ***\n"
        );
        return None;
    }
    Some(
        Client::try_default()
            .await
            .expect("a client from KUBECONFIG"),
    )
}

async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..120 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn operator_provisions_pauses_and_deletes_on_a_real_cluster() {
    let Some(client) = cluster().await else {
        return;
    };
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "omendatabases.omendb.io",
        &PatchParams::apply("omendb-test").force(),
        &Patch::Apply(OmenDatabase::crd()),
    )
    .await
    .unwrap();
    let ns = format!("omendb-test-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut n = Namespace::default();
    n.metadata.name = Some(ns.clone());
    namespaces.create(&PostParams::default(), &n).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let opts = omendb_operator::Options {
        namespace: Some(ns.clone()),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        defaults: Default::default(),
    };
    let operator = tokio::spawn(omendb_operator::run(opts));

    let dbs: Api<OmenDatabase> = Api::namespaced(client.clone(), &ns);
    let db: OmenDatabase = serde_json::from_value(serde_json::json!({
        "apiVersion": "omendb.io/v1alpha1", "kind": "OmenDatabase",
        "metadata": {"name": "it-db"},
        "spec": {"organizationId": "org_it", "databaseId": "db_it", "databaseName": "it", "tier": "free", "storageGib": 1}
    }))
    .unwrap();
    dbs.create(&PostParams::default(), &db).await.unwrap();

    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    eventually("the StatefulSet", || async {
        sts.get_opt("it-db").await.unwrap()
    })
    .await;
    let svc: Api<Service> = Api::namespaced(client.clone(), &ns);
    assert!(svc.get_opt("it-db").await.unwrap().is_some());
    let np: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    assert!(np.get_opt("it-db").await.unwrap().is_some());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    assert!(
        secrets
            .get_opt("it-db-credentials")
            .await
            .unwrap()
            .is_some()
    );
    eventually("the Provisioned condition", || async {
        let d = dbs.get("it-db").await.unwrap();
        d.status.filter(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Provisioned" && c.status == "True")
        })
    })
    .await;
    // A shrink is refused by the API server's validation rule.
    let shrink = dbs
        .patch(
            "it-db",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"storageGib": 0}})),
        )
        .await;
    assert!(shrink.is_err());

    dbs.patch(
        "it-db",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"paused": true}})),
    )
    .await
    .unwrap();
    eventually("scale to zero", || async {
        sts.get("it-db")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.replicas)
            .filter(|r| *r == 0)
    })
    .await;
    dbs.delete("it-db", &DeleteParams::default()).await.unwrap();
    eventually("the resource to go", || async {
        dbs.get_opt("it-db").await.unwrap().is_none().then_some(())
    })
    .await;
    operator.abort();
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}
