//! The fleet's per-database lock is never held across a wait for a database to come up: a DELETE (or a
//! pause) that arrives while the first start still waits is carried out at once, and shutdown does not sit
//! out the wait either. The provisioner here never reports ready, as an operator that cannot schedule the
//! pod would not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use omendb_control_plane::fleet::{Fleet, desired, state};
use omendb_control_plane::metrics::Metrics;
use omendb_control_plane::plans::Plans;
use omendb_control_plane::provisioner::{Activity, Endpoint, Provisioner, TenantSpec};
use omendb_control_plane::store::{self, databases::Database};
use omendb_control_plane::{Error, Result};
use parking_lot::Mutex;

/// Starts nothing and never becomes ready; records what it was asked.
#[derive(Default)]
struct NeverReady {
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl Provisioner for NeverReady {
    async fn ensure_running(&self, spec: &TenantSpec) -> Result<Endpoint> {
        self.calls.lock().push(format!("start {}", spec.id));
        // The Kubernetes provisioner's wait for the operator's Ready lasts five minutes.
        tokio::time::sleep(Duration::from_secs(300)).await;
        Err(Error::Provisioner("not ready within 300 s".into()))
    }
    async fn stop(&self, id: &str) -> Result<()> {
        self.calls.lock().push(format!("stop {id}"));
        Ok(())
    }
    async fn destroy(&self, id: &str) -> Result<()> {
        self.calls.lock().push(format!("destroy {id}"));
        Ok(())
    }
    async fn activity(&self, _id: &str) -> Result<Option<Activity>> {
        Ok(None)
    }
    async fn metrics(&self, _id: &str) -> Result<Option<String>> {
        Ok(None)
    }
    fn allocate_port(&self) -> Result<u16> {
        Ok(5432)
    }
    fn host(&self, id: &str) -> String {
        format!("{id}.tenants.svc")
    }
    async fn shutdown(&self) {}
}

async fn fleet() -> (Arc<Fleet>, Arc<NeverReady>, store::Pool) {
    let dir = tempfile::tempdir().unwrap().keep();
    let url = format!("sqlite://{}/cp.db?mode=rwc", dir.display());
    let pool = store::connect(&url).await.unwrap();
    sqlx::query("insert into organizations (id, name, created_at) values ('org_1', 'acme', 0)")
        .execute(&pool)
        .await
        .unwrap();
    let now = store::now_ms();
    store::databases::insert(
        &pool,
        &Database {
            id: "db_1".into(),
            org_id: "org_1".into(),
            name: "orders".into(),
            plan: "free".into(),
            desired: desired::RUNNING.into(),
            state: state::PROVISIONING.into(),
            state_reason: None,
            db_user: "owner".into(),
            scram: "SCRAM-SHA-256$4096:c2FsdA==$a:b".into(),
            host: "db_1.tenants.svc".into(),
            port: 5432,
            created_at: now,
            updated_at: now,
            ready_at: None,
            deleted_at: None,
        },
    )
    .await
    .unwrap();
    let provisioner = Arc::new(NeverReady::default());
    let fleet = Fleet::new(
        pool.clone(),
        provisioner.clone(),
        Plans::default(),
        Arc::new(Metrics::new()),
    );
    (fleet, provisioner, pool)
}

async fn until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < deadline, "{what} within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_delete_does_not_wait_behind_a_start_that_waits_for_ready() {
    let (fleet, provisioner, pool) = fleet().await;
    fleet.kick("db_1".into());
    until("the start begins", Duration::from_secs(5), || {
        provisioner.calls.lock().len() == 1
    })
    .await;

    store::databases::set_desired(&pool, "db_1", desired::DELETED, state::DELETING)
        .await
        .unwrap();
    let asked = Instant::now();
    fleet.kick("db_1".into());
    until("the database is destroyed", Duration::from_secs(2), || {
        provisioner.calls.lock().iter().any(|c| c == "destroy db_1")
    })
    .await;
    let row = store::databases::by_id(&pool, "db_1").await.unwrap();
    assert!(row.is_none_or(|r| r.deleted_at.is_some()), "marked deleted");
    assert!(asked.elapsed() < Duration::from_secs(2));
    assert_eq!(
        *provisioner.calls.lock(),
        ["start db_1", "destroy db_1"],
        "the superseded start did not go on to mark anything"
    );

    // Shutdown while another start waits: prompt, not after the provisioner's five minutes.
    let (fleet, provisioner, _pool) = fleet_with_start().await;
    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), fleet.shutdown())
        .await
        .expect("shutdown does not sit out the wait for Ready");
    assert!(stopping.elapsed() < Duration::from_secs(5));
    assert_eq!(*provisioner.calls.lock(), ["start db_1"]);
}

async fn fleet_with_start() -> (Arc<Fleet>, Arc<NeverReady>, store::Pool) {
    let (fleet, provisioner, pool) = fleet().await;
    fleet.kick("db_1".into());
    until("the start begins", Duration::from_secs(5), || {
        provisioner.calls.lock().len() == 1
    })
    .await;
    (fleet, provisioner, pool)
}
