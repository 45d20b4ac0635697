//! The OmenDB Kubernetes operator (`omendb operator`): turns each `OmenDatabase` custom resource into the
//! objects that run a tenant database (credentials Secret, ConfigMap, StatefulSet with its volume,
//! Service, NetworkPolicy, and a PodMonitor where the tier has monitoring) and reports status conditions.

pub mod build;
pub mod controller;
pub mod crd;
pub mod error;
pub mod metrics;
pub mod tenant;
#[cfg(feature = "test-support")]
pub mod testing;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::{Controller, watcher};

pub use crd::{OmenDatabase, OmenDatabaseSpec, OmenDatabaseStatus};
pub use error::{Error, Result};

use crate::controller::{Context, error_policy, reconcile};
use crate::metrics::Metrics;
use crate::tenant::Defaults;

#[derive(Clone, Debug)]
pub struct Options {
    /// Watch one namespace; `None` = cluster-wide.
    pub namespace: Option<String>,
    pub http_listen: SocketAddr,
    pub defaults: Defaults,
}

fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs until SIGTERM or Ctrl-C, then finishes in-flight reconciles and returns.
pub async fn run(opts: Options) -> Result<()> {
    let client = Client::try_default().await?;
    let dbs: Api<OmenDatabase> = api(&client, &opts.namespace);
    if let Err(e) = dbs.list(&ListParams::default().limit(1)).await {
        return Err(Error::Other(format!(
            "cannot list OmenDatabase resources ({e}); is the CRD installed? \
             `omendb operator crd | kubectl apply -f -` or install the Helm chart"
        )));
    }
    let metrics = Arc::new(Metrics::new());
    let http = serve_http(opts.http_listen, metrics.clone()).await?;
    let ctx = Arc::new(Context::new(client.clone(), opts.defaults.clone(), metrics));
    let cfg = watcher::Config::default();
    Controller::new(dbs, cfg.clone())
        .owns(api::<StatefulSet>(&client, &opts.namespace), cfg.clone())
        .owns(api::<Service>(&client, &opts.namespace), cfg.clone())
        .owns(api::<ConfigMap>(&client, &opts.namespace), cfg.clone())
        .owns(api::<NetworkPolicy>(&client, &opts.namespace), cfg)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!("reconcile error: {e}");
            }
        })
        .await;
    http.abort();
    Ok(())
}

/// `/health` and `/metrics` on their own port.
pub async fn serve_http(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<tokio::task::JoinHandle<()>> {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move { m.render() }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Other(format!("binding {addr}: {e}")))?;
    println!(
        "operator http listening on {}",
        listener
            .local_addr()
            .map_err(|e| Error::Other(e.to_string()))?
    );
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("operator http server failed: {e}");
        }
    }))
}
