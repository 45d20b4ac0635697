//! Reconcile: validate (pure) -> build (pure) -> apply with server-side apply under one field manager ->
//! status. Level-based and idempotent: every pass computes the whole desired state from the spec.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::build::config_map::build_config_map;
use crate::build::network_policy::build_network_policy;
use crate::build::pod_monitor::{build_pod_monitor, pod_monitor_resource};
use crate::build::secret::build_credentials_secret;
use crate::build::service::build_service;
use crate::build::statefulset::{DATA_VOLUME, build_statefulset};
use crate::crd::{Monitoring, OmenDatabase};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::tenant::{Defaults, MANAGER, PG_PORT, Tenant, validate};

pub const FINALIZER: &str = "omendb.io/cleanup";
const PODMONITOR_CRD: &str = "podmonitors.monitoring.coreos.com";

pub struct Context {
    pub client: Client,
    pub defaults: Defaults,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
}

impl Context {
    pub fn new(client: Client, defaults: Defaults, metrics: Arc<Metrics>) -> Context {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        );
        Context {
            client,
            defaults,
            metrics,
            recorder,
        }
    }

    async fn event(&self, db: &OmenDatabase, type_: EventType, reason: &str, note: String) {
        let e = KubeEvent {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(err) = self.recorder.publish(&e, &db.object_ref(&())).await {
            tracing::warn!("publishing event {reason} failed: {err}");
        }
    }
}

pub async fn reconcile(db: Arc<OmenDatabase>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    let ns = db
        .namespace()
        .ok_or_else(|| Error::Invalid("OmenDatabase must be namespaced".into()))?;
    let api: Api<OmenDatabase> = Api::namespaced(ctx.client.clone(), &ns);
    let result = finalizer(&api, FINALIZER, db, |event| async {
        match event {
            Event::Apply(db) => apply(&db, &ctx).await,
            Event::Cleanup(db) => cleanup(&db, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    result
}

pub fn error_policy(db: Arc<OmenDatabase>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics
        .failures
        .with_label_values(&[err.metric_label()])
        .inc();
    tracing::warn!(name = %db.name_any(), "reconcile failed: {err}");
    if err.is_permanent() {
        // Nothing changes until the user edits the spec; the watch brings that change.
        Action::await_change()
    } else {
        Action::requeue(Duration::from_secs(30))
    }
}

async fn ssa<K>(api: &Api<K>, obj: &K) -> Result<K>
where
    K: Resource + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let name = obj
        .meta()
        .name
        .clone()
        .ok_or_else(|| Error::Other("object without a name".into()))?;
    Ok(api
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await?)
}

async fn apply(db: &OmenDatabase, ctx: &Context) -> Result<Action> {
    let t = match validate(db, &ctx.defaults) {
        Ok(t) => t,
        Err(e) => {
            let status = invalid_status(db, &e.to_string());
            patch_status(db, ctx, status).await?;
            ctx.event(db, EventType::Warning, "InvalidSpec", e.to_string())
                .await;
            return Err(e);
        }
    };
    let client = ctx.client.clone();
    let ns = t.namespace.as_str();

    if t.generate_credentials {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        if secrets.get_opt(&t.credentials_secret).await?.is_none() {
            let password = omendb_server::scram::random_password();
            let pw = password.clone();
            let verifier = tokio::task::spawn_blocking(move || {
                omendb_server::scram::Verifier::new(&pw, omendb_server::scram::DEFAULT_ITERATIONS)
                    .to_string()
            })
            .await
            .map_err(|e| Error::Other(format!("hashing task: {e}")))?;
            let secret = build_credentials_secret(&t, &password, &verifier);
            let pp = PostParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            };
            match secrets.create(&pp, &secret).await {
                Ok(_) => {
                    ctx.event(
                        db,
                        EventType::Normal,
                        "CredentialsCreated",
                        format!("generated credentials in Secret {}", t.credentials_secret),
                    )
                    .await;
                }
                // Another reconcile won the race: the first password stands.
                Err(kube::Error::Api(ae)) if ae.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    ssa(
        &Api::<ConfigMap>::namespaced(client.clone(), ns),
        &build_config_map(&t),
    )
    .await?;
    ssa(
        &Api::<Service>::namespaced(client.clone(), ns),
        &build_service(&t),
    )
    .await?;
    ssa(
        &Api::<NetworkPolicy>::namespaced(client.clone(), ns),
        &build_network_policy(&t),
    )
    .await?;

    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let existing = sts_api.get_opt(&t.name).await?;
    let claim = existing.as_ref().and_then(claim_template);
    let sts = ssa(&sts_api, &build_statefulset(&t, claim)).await?;
    let volume = expand_volume(&t, ctx, db).await?;
    reconcile_pod_monitor(&t, ctx).await?;

    let ready = sts
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
        >= 1;
    let status = running_status(db, &t, ready, &volume);
    let before = db.status.as_ref().and_then(|s| s.phase.clone());
    let phase = status["phase"].as_str().unwrap_or_default().to_string();
    patch_status(db, ctx, status).await?;
    if before.as_deref() != Some(phase.as_str()) {
        ctx.event(
            db,
            EventType::Normal,
            &phase,
            format!(
                "phase {} -> {phase}",
                before.unwrap_or_else(|| "none".into())
            ),
        )
        .await;
    }
    Ok(if ready || t.paused {
        Action::requeue(Duration::from_secs(300))
    } else {
        Action::requeue(Duration::from_secs(10))
    })
}

/// The StatefulSet's (immutable) claim template.
fn claim_template(sts: &StatefulSet) -> Option<&PersistentVolumeClaim> {
    sts.spec.as_ref()?.volume_claim_templates.as_ref()?.first()
}

/// Where the data volume stands against `storageGib`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Volume {
    /// No claim yet (the StatefulSet controller makes it), or as large as asked.
    Sized,
    /// Asked to grow; the volume is not that large yet.
    Expanding { gib: u32 },
    /// Growth waits for the claim to be bound (a WaitForFirstConsumer class before the pod is scheduled):
    /// a Pending claim's spec cannot change.
    WaitingForBinding { gib: u32 },
}

fn gib(q: Option<&Quantity>) -> Option<u32> {
    q?.0.strip_suffix("Gi")?.parse().ok()
}

/// Growing `storageGib` patches the live PVC (the StatefulSet's template cannot change); the storage
/// class must allow expansion, which the cluster enforces. A claim not bound yet cannot change at all, so
/// growth waits for binding (reported as a condition and an event, and tried again on the next pass).
async fn expand_volume(t: &Tenant, ctx: &Context, db: &OmenDatabase) -> Result<Volume> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &t.namespace);
    let name = format!("{DATA_VOLUME}-{}-0", t.name);
    let Some(pvc) = pvcs.get_opt(&name).await? else {
        return Ok(Volume::Sized);
    };
    let requested = gib(pvc
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage")));
    let status = pvc.status.as_ref();
    let bound = status.and_then(|s| s.phase.as_deref()) == Some("Bound");
    let capacity = gib(status
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage")));
    let want = t.storage_gib;
    if requested.is_some_and(|r| r < want) {
        if !bound {
            let waiting = Volume::WaitingForBinding { gib: want };
            let before = db.status.as_ref().and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.type_ == "VolumeSized")
                    .map(|c| c.reason.clone())
            });
            if before.as_deref() != Some("WaitingForBinding") {
                ctx.event(
                    db,
                    EventType::Normal,
                    "VolumeExpansionWaiting",
                    format!("volume {name} grows to {want} GiB once it is bound"),
                )
                .await;
            }
            return Ok(waiting);
        }
        let patch = json!({"spec": {"resources": {"requests": {"storage": format!("{want}Gi")}}}});
        pvcs.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        ctx.event(
            db,
            EventType::Normal,
            "VolumeExpanding",
            format!("volume {name} grows to {want} GiB"),
        )
        .await;
        return Ok(Volume::Expanding { gib: want });
    }
    Ok(match capacity {
        Some(c) if bound && c < want => Volume::Expanding { gib: want },
        _ => Volume::Sized,
    })
}

/// A PodMonitor when the tier has monitoring and the cluster has the CRD; removed when no longer wanted.
async fn reconcile_pod_monitor(t: &Tenant, ctx: &Context) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    if crds.get_opt(PODMONITOR_CRD).await?.is_none() {
        return Ok(());
    }
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &t.namespace, &pod_monitor_resource());
    if t.settings.monitoring == Monitoring::None {
        match api.delete(&t.name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(ae)) if ae.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(());
    }
    let pm = build_pod_monitor(t);
    api.patch(
        &t.name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&pm),
    )
    .await?;
    Ok(())
}

/// Owner references remove the children; the volumes of a StatefulSet are only covered by its retention
/// policy on recent clusters, so remove them here too.
async fn cleanup(db: &OmenDatabase, ctx: &Context) -> Result<Action> {
    let ns = db.namespace().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = format!("app.kubernetes.io/instance={}", db.name_any());
    for pvc in pvcs.list(&ListParams::default().labels(&selector)).await? {
        match pvcs.delete(&pvc.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(ae)) if ae.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    ctx.event(db, EventType::Normal, "Deleted", "volumes removed".into())
        .await;
    Ok(Action::await_change())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A condition, keeping its previous transition time when its status did not change.
fn condition(db: &OmenDatabase, type_: &str, status: bool, reason: &str, message: &str) -> Value {
    let status = if status { "True" } else { "False" };
    let previous = db
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_));
    let since = match previous {
        Some(c) if c.status == status => serde_json::to_value(&c.last_transition_time)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(now),
        _ => now(),
    };
    json!({
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": db.metadata.generation,
    })
}

pub fn running_status(db: &OmenDatabase, t: &Tenant, ready: bool, volume: &Volume) -> Value {
    let phase = if t.paused {
        "Paused"
    } else if ready {
        "Ready"
    } else {
        "Provisioning"
    };
    let ready_reason = match phase {
        "Paused" => ("Paused", "scaled to zero; the volume is kept"),
        "Ready" => ("Running", "the server answers /ready"),
        _ => ("Starting", "waiting for the server to answer /ready"),
    };
    json!({
        "phase": phase,
        "observedGeneration": db.metadata.generation,
        "endpoint": { "host": t.host(), "port": PG_PORT },
        "secretName": t.credentials_secret,
        "conditions": [
            condition(db, "Provisioned", true, "Applied", "every owned object is applied"),
            condition(db, "Ready", phase == "Ready", ready_reason.0, ready_reason.1),
            condition(db, "Paused", t.paused, if t.paused { "Paused" } else { "Running" },
                if t.paused { "spec.paused is true" } else { "spec.paused is false" }),
            volume_condition(db, volume),
        ],
    })
}

fn volume_condition(db: &OmenDatabase, volume: &Volume) -> Value {
    match volume {
        Volume::Sized => condition(
            db,
            "VolumeSized",
            true,
            "Sized",
            "the volume is as large as storageGib",
        ),
        Volume::Expanding { gib } => condition(
            db,
            "VolumeSized",
            false,
            "Expanding",
            &format!("the volume is growing to {gib} GiB"),
        ),
        Volume::WaitingForBinding { gib } => condition(
            db,
            "VolumeSized",
            false,
            "WaitingForBinding",
            &format!(
                "the claim is not bound yet (its class binds on first use); it grows to {gib} GiB once bound"
            ),
        ),
    }
}

fn invalid_status(db: &OmenDatabase, message: &str) -> Value {
    json!({
        "phase": "Invalid",
        "observedGeneration": db.metadata.generation,
        "conditions": [
            condition(db, "Provisioned", false, "InvalidSpec", message),
            condition(db, "Ready", false, "InvalidSpec", message),
        ],
    })
}

async fn patch_status(db: &OmenDatabase, ctx: &Context, status: Value) -> Result<()> {
    let api: Api<OmenDatabase> =
        Api::namespaced(ctx.client.clone(), &db.namespace().unwrap_or_default());
    let body = json!({
        "apiVersion": "omendb.io/v1alpha1",
        "kind": "OmenDatabase",
        "status": status,
    });
    api.patch_status(
        &db.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}
