//! The Kubernetes provisioner: each database is an `OmenDatabase` custom resource in the tenants'
//! namespace, which the operator turns into running objects. Credentials go in a Secret the resource
//! names (`credentialsSecret`), holding only the SCRAM verifier. Clients reach the database through the
//! Service the operator creates (`<name>.<namespace>.svc:5432`).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use omendb_operator::OmenDatabase;
use serde_json::json;

use super::{Activity, Endpoint, Provisioner, TenantSpec};
use crate::error::{Error, Result};
use crate::plans::Plan;

const MANAGER: &str = "omendb-control-plane";
const PG_PORT: u16 = 5432;

pub struct KubernetesProvisioner {
    client: Client,
    namespace: String,
    image: Option<String>,
    /// How long `ensure_running` waits for the operator to report `Ready`.
    ready_timeout: Duration,
}

impl std::fmt::Debug for KubernetesProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesProvisioner")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Database ids (`db_abc`) as Kubernetes names (`db-abc`).
pub fn resource_name(id: &str) -> String {
    id.replace('_', "-")
}

fn kube_err(e: kube::Error) -> Error {
    Error::Provisioner(format!("kubernetes: {e}"))
}

impl KubernetesProvisioner {
    pub fn new(client: Client, namespace: String, image: Option<String>) -> KubernetesProvisioner {
        KubernetesProvisioner {
            client,
            namespace,
            image,
            ready_timeout: Duration::from_secs(300),
        }
    }

    /// In-cluster config or `KUBECONFIG`.
    pub async fn from_env(
        namespace: String,
        image: Option<String>,
    ) -> Result<KubernetesProvisioner> {
        let client = Client::try_default().await.map_err(kube_err)?;
        Ok(KubernetesProvisioner::new(client, namespace, image))
    }

    pub fn with_ready_timeout(mut self, t: Duration) -> Self {
        self.ready_timeout = t;
        self
    }

    fn dbs(&self) -> Api<OmenDatabase> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn set_paused(&self, id: &str, paused: bool) -> Result<()> {
        let patch = json!({"spec": {"paused": paused}});
        match self
            .dbs()
            .patch(
                &resource_name(id),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(ae)) if ae.code == 404 => Ok(()),
            Err(e) => Err(kube_err(e)),
        }
    }
}

#[async_trait]
impl Provisioner for KubernetesProvisioner {
    async fn ensure_running(&self, spec: &TenantSpec) -> Result<Endpoint> {
        let name = resource_name(&spec.id);
        let secret_name = format!("{name}-owner");
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(secret_name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([
                    ("app.kubernetes.io/managed-by".into(), MANAGER.into()),
                    ("app.kubernetes.io/instance".into(), name.clone()),
                ])),
                ..Default::default()
            },
            string_data: Some(BTreeMap::from([(
                "OMENDB_USER".into(),
                format!("{}:{}", spec.user, spec.scram.expose()),
            )])),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        let pp = PatchParams::apply(MANAGER).force();
        self.secrets()
            .patch(&secret_name, &pp, &Patch::Apply(&secret))
            .await
            .map_err(kube_err)?;
        let tier = match spec.plan {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        };
        let mut db_spec = json!({
            "organizationId": spec.organization,
            "databaseId": spec.id,
            "databaseName": spec.database,
            "tier": tier,
            "storageGib": spec.limits.storage_gib,
            "paused": false,
            "autoRetrain": spec.limits.auto_retrain,
            "monitoring": spec.limits.monitoring.as_str(),
            "credentialsSecret": secret_name,
            "resources": {
                "cpu": format!("{}m", (spec.limits.cpu * 1000.0).round() as u64),
                "memory": format!("{}Mi", spec.limits.memory_mib),
            },
        });
        if let Some(image) = &self.image {
            db_spec["image"] = json!(image);
        }
        let resource = json!({
            "apiVersion": "omendb.io/v1alpha1",
            "kind": "OmenDatabase",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": db_spec,
        });
        self.dbs()
            .patch(&name, &pp, &Patch::Apply(&resource))
            .await
            .map_err(kube_err)?;
        // The operator reports readiness in the resource's status.
        let deadline = tokio::time::Instant::now() + self.ready_timeout;
        loop {
            let db = self.dbs().get(&name).await.map_err(kube_err)?;
            let status = db.status.unwrap_or_default();
            let ready = status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready {
                let host = status
                    .endpoint
                    .map_or_else(|| format!("{name}.{}.svc", self.namespace), |e| e.host);
                return Ok(Endpoint {
                    host,
                    port: PG_PORT,
                });
            }
            if status.phase.as_deref() == Some("Invalid") {
                let why = status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == "Ready")
                    .map_or_else(|| "invalid spec".to_string(), |c| c.message.clone());
                return Err(Error::Provisioner(why));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Provisioner(format!(
                    "the operator did not report {name} ready within {} s",
                    self.ready_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn stop(&self, id: &str) -> Result<()> {
        self.set_paused(id, true).await
    }

    async fn destroy(&self, id: &str) -> Result<()> {
        let name = resource_name(id);
        for r in [
            self.dbs()
                .delete(&name, &DeleteParams::default())
                .await
                .map(|_| ()),
            self.secrets()
                .delete(&format!("{name}-owner"), &DeleteParams::default())
                .await
                .map(|_| ()),
        ] {
            match r {
                Ok(()) => {}
                Err(kube::Error::Api(ae)) if ae.code == 404 => {}
                Err(e) => return Err(kube_err(e)),
            }
        }
        Ok(())
    }

    /// Idle pause needs the tenant's `/activity`, which the control plane cannot reach through the
    /// NetworkPolicy; on Kubernetes databases are not paused for idleness (yet).
    async fn activity(&self, _id: &str) -> Result<Option<Activity>> {
        Ok(None)
    }

    /// Tenant metrics on Kubernetes go to Prometheus (PodMonitor), not through the control plane.
    async fn metrics(&self, _id: &str) -> Result<Option<String>> {
        Ok(None)
    }

    fn allocate_port(&self) -> Result<u16> {
        Ok(PG_PORT)
    }

    fn host(&self, id: &str) -> String {
        format!("{}.{}.svc", resource_name(id), self.namespace)
    }

    /// Tenants are the cluster's to run; the control plane exiting leaves them up.
    async fn shutdown(&self) {}
}
