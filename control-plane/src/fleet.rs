//! The fleet moves every database from its state towards what the user asked for (`desired`), through
//! the provisioner. One converge at a time per database (a per-id lock), any number across databases; a
//! converge waiting for its database to come up gives way to a newer request for the same database (a
//! DELETE must not wait behind a five-minute wait for Ready) and to shutdown.
//! It also listens to supervision (a tenant died, came back) and pauses idle free-tier databases.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::plans::{Plan, Plans};
use crate::provisioner::{Health, Provisioner, TenantSpec};
use crate::store::{self, Pool, databases::Database};

pub mod state {
    pub const PROVISIONING: &str = "provisioning";
    pub const READY: &str = "ready";
    pub const UPDATING: &str = "updating";
    pub const PAUSING: &str = "pausing";
    pub const PAUSED: &str = "paused";
    pub const RESUMING: &str = "resuming";
    pub const DELETING: &str = "deleting";
    pub const FAILED: &str = "failed";
}

pub mod desired {
    pub const RUNNING: &str = "running";
    pub const PAUSED: &str = "paused";
    pub const DELETED: &str = "deleted";
}

pub struct Fleet {
    pool: Pool,
    provisioner: Arc<dyn Provisioner>,
    plans: Plans,
    metrics: Arc<Metrics>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Per database, bumped by every `kick`: a converge started by an older kick is superseded.
    generations: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Set at shutdown: converges waiting for a database to come up stop waiting.
    stopping: watch::Sender<bool>,
    tasks: in_flight::Tasks,
}

/// A tiny task tracker, so shutdown can wait for in-flight converges before stopping tenants.
mod in_flight {
    use parking_lot::Mutex;
    use tokio::task::JoinHandle;

    #[derive(Default)]
    pub struct Tasks(Mutex<Vec<JoinHandle<()>>>);

    impl Tasks {
        pub fn push(&self, h: JoinHandle<()>) {
            let mut v = self.0.lock();
            v.retain(|h| !h.is_finished());
            v.push(h);
        }

        pub async fn wait(&self) {
            let all: Vec<JoinHandle<()>> = std::mem::take(&mut *self.0.lock());
            for h in all {
                let _ = h.await;
            }
        }
    }
}

impl Fleet {
    pub fn new(
        pool: Pool,
        provisioner: Arc<dyn Provisioner>,
        plans: Plans,
        metrics: Arc<Metrics>,
    ) -> Arc<Fleet> {
        Arc::new(Fleet {
            pool,
            provisioner,
            plans,
            metrics,
            locks: Mutex::new(HashMap::new()),
            generations: Mutex::new(HashMap::new()),
            stopping: watch::Sender::new(false),
            tasks: Default::default(),
        })
    }

    pub fn provisioner(&self) -> &Arc<dyn Provisioner> {
        &self.provisioner
    }

    pub fn plans(&self) -> &Plans {
        &self.plans
    }

    /// Converges `id` in the background; the API answers before the work is done.
    pub fn kick(self: &Arc<Self>, id: String) {
        let me = self.clone();
        let generation = self.generation(&id);
        let mine = {
            let mut g = 0;
            generation.send_modify(|n| {
                *n += 1;
                g = *n;
            });
            g
        };
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = me.converge_as(&id, Some(mine)).await {
                tracing::error!(database = %id, "converge failed: {e}");
            }
        }));
    }

    /// After a restart of the control plane: bring back every database that should run.
    pub async fn restore(self: &Arc<Self>) -> Result<usize> {
        let rows = store::databases::all_live(&self.pool).await?;
        let n = rows.len();
        for row in rows {
            if row.desired == desired::RUNNING {
                store::databases::set_state(&self.pool, &row.id, state::RESUMING, None).await?;
            }
            self.kick(row.id);
        }
        Ok(n)
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().entry(id.to_string()).or_default().clone()
    }

    fn generation(&self, id: &str) -> watch::Sender<u64> {
        self.generations
            .lock()
            .entry(id.to_string())
            .or_insert_with(|| watch::Sender::new(0))
            .clone()
    }

    /// Resolves once a kick newer than `mine` arrives for `id`, or the fleet shuts down (never, for a
    /// converge nobody kicked, until shutdown).
    async fn superseded(&self, id: &str, mine: Option<u64>) {
        let mut stopping = self.stopping.subscribe();
        let stop = async move {
            let _ = stopping.wait_for(|s| *s).await;
        };
        match mine {
            Some(mine) => {
                let mut newer = self.generation(id).subscribe();
                tokio::select! {
                    _ = newer.wait_for(|g| *g != mine) => {}
                    _ = stop => {}
                }
            }
            None => stop.await,
        }
    }

    pub fn spec(&self, row: &Database) -> Result<TenantSpec> {
        let plan = Plan::parse(&row.plan).ok_or_else(|| {
            Error::Internal(format!("database {} has plan {:?}", row.id, row.plan))
        })?;
        Ok(TenantSpec {
            id: row.id.clone(),
            organization: row.org_id.clone(),
            database: row.name.clone(),
            user: row.db_user.clone(),
            scram: row.scram.clone(),
            port: u16::try_from(row.port).map_err(|_| {
                Error::Internal(format!("database {} has port {}", row.id, row.port))
            })?,
            plan,
            limits: self.plans.limits(plan).clone(),
        })
    }

    /// One pass: read the row (the latest `desired` wins) and act on it.
    pub async fn converge(&self, id: &str) -> Result<()> {
        self.converge_as(id, None).await
    }

    /// `converge` for the kick numbered `mine`: waiting for the database to come up ends early when a newer
    /// kick (or shutdown) arrives, leaving the database to that newer pass, so the lock is never held
    /// across a wait that a DELETE or a shutdown would have to sit out.
    async fn converge_as(&self, id: &str, mine: Option<u64>) -> Result<()> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        let Some(row) = store::databases::by_id(&self.pool, id).await? else {
            return Ok(());
        };
        if row.deleted_at.is_some() {
            return Ok(());
        }
        let started = Instant::now();
        match row.desired.as_str() {
            desired::RUNNING => {
                let operation = row.state.clone();
                let result = match self.spec(&row) {
                    Ok(spec) => tokio::select! {
                        r = self.start(&row, spec) => r,
                        _ = self.superseded(id, mine) => {
                            tracing::info!(database = %id, "converge superseded while starting");
                            return Ok(());
                        }
                    },
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => {
                        store::databases::set_state(&self.pool, id, state::READY, None).await?;
                        self.metrics
                            .provisioning
                            .with_label_values(&[operation.as_str()])
                            .observe(started.elapsed().as_secs_f64());
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        store::databases::set_state(&self.pool, id, state::FAILED, Some(&reason))
                            .await?;
                    }
                }
            }
            desired::PAUSED => {
                self.provisioner.stop(id).await?;
                store::databases::set_state(&self.pool, id, state::PAUSED, None).await?;
            }
            desired::DELETED => {
                self.provisioner.destroy(id).await?;
                store::databases::mark_deleted(&self.pool, id).await?;
            }
            other => {
                return Err(Error::Internal(format!("database {id} wants {other:?}")));
            }
        }
        Ok(())
    }

    /// Starts the server; if its port was taken while it was stopped, moves it to a fresh port once.
    async fn start(&self, row: &Database, spec: TenantSpec) -> Result<()> {
        match self.provisioner.ensure_running(&spec).await {
            Ok(_) => Ok(()),
            Err(Error::Provisioner(reason)) if reason.contains("in use") => {
                self.provisioner.stop(&row.id).await?;
                let port = self.provisioner.allocate_port()?;
                store::databases::set_port(&self.pool, &row.id, i64::from(port)).await?;
                let spec = TenantSpec { port, ..spec };
                self.provisioner.ensure_running(&spec).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Applies what supervision reports, unless the user has since asked for something else.
    pub fn spawn_health_listener(
        self: &Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<(String, Health)>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((id, health)) = rx.recv().await {
                let lock = me.lock_for(&id);
                let _guard = lock.lock().await;
                let Ok(Some(row)) = store::databases::by_id(&me.pool, &id).await else {
                    continue;
                };
                if row.desired != desired::RUNNING || row.deleted_at.is_some() {
                    continue;
                }
                let r = match health {
                    Health::Ready => {
                        store::databases::set_state(&me.pool, &id, state::READY, None).await
                    }
                    Health::Restarting(reason) => {
                        me.metrics.tenant_restarts.inc();
                        let reason = format!("{reason}; restarting");
                        store::databases::set_state(&me.pool, &id, state::FAILED, Some(&reason))
                            .await
                    }
                };
                if let Err(e) = r {
                    tracing::error!(database = %id, "recording tenant health failed: {e}");
                }
            }
        })
    }

    /// Every `interval`, pauses running databases whose plan pauses when idle and that have had no
    /// connection for that long. Returns the ids it paused (for the caller's audit log).
    pub async fn pause_idle(self: &Arc<Self>) -> Result<Vec<Database>> {
        let mut paused = Vec::new();
        for row in store::databases::all_live(&self.pool).await? {
            if row.desired != desired::RUNNING || row.state != state::READY {
                continue;
            }
            let Some(plan) = Plan::parse(&row.plan) else {
                continue;
            };
            let Some(after) = self.plans.limits(plan).pause_when_idle_s else {
                continue;
            };
            let Ok(Some(activity)) = self.provisioner.activity(&row.id).await else {
                continue;
            };
            if activity.connections == 0 && activity.idle.as_secs() >= after {
                store::databases::set_desired(&self.pool, &row.id, desired::PAUSED, state::PAUSING)
                    .await?;
                self.metrics.idle_pauses.inc();
                self.kick(row.id.clone());
                paused.push(row);
            }
        }
        Ok(paused)
    }

    /// Waits for in-flight work, then stops every tenant this process started.
    pub async fn shutdown(&self) {
        self.stopping.send_replace(true);
        self.tasks.wait().await;
        self.provisioner.shutdown().await;
    }
}
