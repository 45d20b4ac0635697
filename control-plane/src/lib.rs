//! The control plane: accounts, organisations, API keys and tenant databases over a versioned REST API
//! (`/v1`, OpenAPI at `/v1/openapi.json`), a metadata DB (SQLite or PostgreSQL through sqlx), and a fleet
//! that drives tenant servers through a provisioner. `omendb up` is this with SQLite and the local
//! provisioner under one data directory.

pub mod auth;
pub mod billing;
pub mod config;
pub mod error;
pub mod files;
pub mod fleet;
pub mod http;
pub mod login_throttle;
pub mod metrics;
pub mod plans;
pub mod provisioner;
pub mod ratelimit;
pub mod state;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::ExposeSecret as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use config::Config;
pub use error::{Error, Result};

use crate::auth::Keys;
use crate::auth::password::Hasher;
use crate::fleet::Fleet;
use crate::login_throttle::LoginThrottle;
use crate::metrics::Metrics;
use crate::provisioner::kubernetes::KubernetesProvisioner;
use crate::provisioner::local::LocalProvisioner;
use crate::state::{AppState, Inner};

/// A running control plane: where it listens, and a handle to stop it (and every tenant it started).
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        for t in &self.background {
            t.abort();
        }
        self.state.fleet.shutdown().await;
    }
}

/// Opens the metadata DB (running migrations), brings back every database that should run, and serves.
pub async fn start(config: Config) -> Result<Running> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)?;
    let pool = store::connect(config.database_url().expose_secret()).await?;
    let key_file = if config.auth.signing_key_file.is_empty() {
        config.data_dir.join("jwt-signing-key.pem")
    } else {
        PathBuf::from(&config.auth.signing_key_file)
    };
    let keys = Keys::load_or_create(
        &key_file,
        &config.auth.issuer,
        &config.auth.audience,
        config.auth.access_ttl_s,
    )?;
    let metrics = Arc::new(Metrics::new());
    let (health_tx, health_rx) = mpsc::unbounded_channel();
    let binary = if config.local.server_binary.is_empty() {
        std::env::current_exe()?
    } else {
        PathBuf::from(&config.local.server_binary)
    };
    let provisioner: Arc<dyn provisioner::Provisioner> = match config.provisioner.as_str() {
        "kubernetes" => {
            let k = &config.kubernetes;
            let ns = if k.namespace.is_empty() {
                "default".to_string()
            } else {
                k.namespace.clone()
            };
            let image = (!k.image.is_empty()).then(|| k.image.clone());
            Arc::new(KubernetesProvisioner::from_env(ns, image).await?)
        }
        _ => Arc::new(LocalProvisioner::new(
            &config.data_dir,
            binary,
            config.local.host.clone(),
            health_tx,
        )?),
    };
    let fleet = Fleet::new(
        pool.clone(),
        provisioner,
        config.plans.clone(),
        metrics.clone(),
    );
    let mut background = vec![fleet.spawn_health_listener(health_rx)];
    let restored = fleet.restore().await?;
    if restored > 0 {
        tracing::info!("restoring {restored} databases");
    }
    background.push(spawn_idle_pauser(
        fleet.clone(),
        pool.clone(),
        config.idle_check(),
    ));

    // Bound before the state exists: Stripe's return URL needs the real address when the port is 0.
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let mut config = config;
    if config.billing.return_url.is_empty() {
        config.billing.return_url = format!("http://{addr}/billing");
    }
    let billing = Arc::new(billing::Billing::new(config.billing.clone())?);
    if !billing.enabled() {
        tracing::info!("billing is off (no Stripe key): every plan is available without payment");
    }
    let state = AppState::new(Inner {
        billing,
        hasher: Hasher::new(config.auth.argon2_memory_kib, config.auth.argon2_passes),
        limiter: Default::default(),
        login_throttle: LoginThrottle::new(&config.limits),
        config,
        pool,
        keys,
        fleet,
        metrics,
    });
    background.extend(billing::metering::spawn(state.clone()));
    let app = http::app(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!("control plane HTTP server failed: {e}");
        }
    });
    Ok(Running {
        addr,
        state,
        shutdown: tx,
        server,
        background,
    })
}

fn spawn_idle_pauser(
    fleet: Arc<Fleet>,
    pool: store::Pool,
    every: std::time::Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match fleet.pause_idle().await {
                Ok(paused) => {
                    for db in paused {
                        let r = store::audit::record(
                            &pool,
                            &db.org_id,
                            "system",
                            "database.pause_idle",
                            &db.id,
                            "",
                            serde_json::json!({"name": db.name}),
                        )
                        .await;
                        if let Err(e) = r {
                            tracing::error!("recording an idle pause failed: {e}");
                        }
                    }
                }
                Err(e) => tracing::error!("idle check failed: {e}"),
            }
        }
    })
}
