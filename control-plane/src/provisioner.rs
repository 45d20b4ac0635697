//! Provisioners start, stop and remove tenant database servers. The control plane decides *what* should
//! run (the fleet); a provisioner makes it so on one machine (`local`: child processes) or on Kubernetes
//! (custom resources for the operator).

pub mod kubernetes;
pub mod local;

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::auth::secrets::Sealed;
use crate::error::Result;
use crate::plans::{Plan, PlanLimits};

/// Everything a tenant server needs; derived from the database row and its plan.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantSpec {
    pub id: String,
    pub organization: String,
    /// The database name clients put in their connection string.
    pub database: String,
    pub user: String,
    /// SCRAM-SHA-256 verifier of the user's password.
    pub scram: Sealed,
    pub port: u16,
    pub plan: Plan,
    pub limits: PlanLimits,
}

/// Where clients reach a running tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// How busy a tenant is, for pausing idle ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activity {
    pub connections: u64,
    pub idle: Duration,
}

/// What supervision reports on its own, between the fleet's requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Up and answering `/ready` again after a restart.
    Ready,
    /// The server died; supervision restarts it after a back-off.
    Restarting(String),
}

pub type HealthEvents = mpsc::UnboundedSender<(String, Health)>;

#[async_trait]
pub trait Provisioner: Send + Sync + 'static {
    /// Makes the tenant run with exactly this spec and returns once it is ready. Idempotent: an unchanged
    /// spec of a running tenant is a no-op, a changed one restarts it with the new settings.
    async fn ensure_running(&self, spec: &TenantSpec) -> Result<Endpoint>;

    /// Stops the tenant and keeps its data (pause). Stopping a stopped tenant is fine.
    async fn stop(&self, id: &str) -> Result<()>;

    /// Stops the tenant and removes its data for good.
    async fn destroy(&self, id: &str) -> Result<()>;

    /// `None` when the tenant is not running.
    async fn activity(&self, id: &str) -> Result<Option<Activity>>;

    /// The tenant's Prometheus text from its `/metrics`; `None` when it is not running or unreachable.
    async fn metrics(&self, id: &str) -> Result<Option<String>>;

    /// Bytes the tenant's data takes on disk, running or paused (for metering); `None` where the
    /// provisioner cannot tell.
    async fn storage_bytes(&self, _id: &str) -> Result<Option<u64>> {
        Ok(None)
    }

    /// A port for a new tenant's connection string.
    fn allocate_port(&self) -> Result<u16>;

    /// Host name clients use to reach tenant `id`.
    fn host(&self, id: &str) -> String;

    /// The CA certificate (PEM) the tenants' server certificates chain to, when they present ours.
    fn ca_certificate(&self) -> Option<&str> {
        None
    }

    /// The TLS parameters of connection strings (without `?`).
    fn connection_tls(&self) -> String {
        "sslmode=require".into()
    }

    /// Stops every tenant this process started (the control plane is exiting).
    async fn shutdown(&self);
}
