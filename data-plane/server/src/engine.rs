//! State shared by every connection of one server: the database, its configuration and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use omendb_storage::{Database, Options, RetrainPolicy};

use crate::config::Config;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::scram::Verifier;

pub struct Engine {
    pub db: Arc<Database>,
    pub config: Config,
    pub users: BTreeMap<String, Verifier>,
    pub metrics: Metrics,
    pub runtime: Arc<RuntimeEnv>,
    /// Open connections (authenticated or not), for the connection limit.
    pub connections: AtomicUsize,
    /// Set once recovery finished and the listeners are up.
    pub ready: AtomicBool,
    /// Unix milliseconds of the last connection opened or closed: the control plane pauses idle tenants.
    pub last_activity_ms: AtomicU64,
    /// What each session is doing (`pg_stat_activity`).
    pub activity: crate::activity::Activity,
    /// Microseconds since the epoch when the server started (`pg_postmaster_start_time()`).
    pub started_us: i64,
    /// LISTEN / NOTIFY channels and the sessions' mailboxes.
    pub notify: crate::notify::Hub,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.config.data_dir)
            .finish()
    }
}

impl Engine {
    /// Opens (and recovers) the data directory.
    pub fn open(config: Config) -> Result<Arc<Engine>> {
        config.validate()?;
        let mut opts = Options::default();
        if !config.tier.auto_retrain {
            // Without auto-retraining the delta still has to be bounded: retrain only at a hard cap.
            opts.retrain = RetrainPolicy::manual();
        }
        std::fs::create_dir_all(&config.data_dir)?;
        let db = Arc::new(Database::open(&config.data_dir, opts)?);
        db.set_check_hook(Box::new(crate::checks::Checks::default()));
        let mut rt = RuntimeEnvBuilder::new();
        if config.limits.max_query_memory_mb > 0 {
            rt = rt.with_memory_limit(config.limits.max_query_memory_mb << 20, 1.0);
        }
        let runtime = rt.build_arc()?;
        Ok(Arc::new(Engine {
            users: config.verifiers()?,
            metrics: Metrics::new(config.tier.monitoring),
            db,
            config,
            runtime,
            connections: AtomicUsize::new(0),
            ready: AtomicBool::new(false),
            last_activity_ms: AtomicU64::new(now_ms()),
            activity: Default::default(),
            started_us: crate::activity::now_micros(),
            notify: Default::default(),
        }))
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
