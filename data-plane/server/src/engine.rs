//! State shared by every connection of one server: the database, its configuration and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use datafusion::execution::memory_pool::FairSpillPool;
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
        opts.chunk_cache_bytes = config.limits.cache_size_mb() << 20;
        // Retraining builds one chunk at a time: an eighth of the cache bounds what it holds.
        opts.chunk_build_bytes = (opts.chunk_cache_bytes / 8).max(8 << 20);
        std::fs::create_dir_all(&config.data_dir)?;
        let db = Arc::new(Database::open_with_hook(
            &config.data_dir,
            opts,
            Box::new(crate::checks::Checks::default()),
        )?);
        // Sorts, aggregates and joins share the query memory fairly and spill past their share, to a
        // directory beside the data (emptied at start: spill files never outlive a process).
        let spill = config.data_dir.join("spill");
        let _ = std::fs::remove_dir_all(&spill);
        std::fs::create_dir_all(&spill)?;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(
                config.limits.max_query_memory_mb() << 20,
            )))
            .with_temp_file_path(spill)
            .build_arc()?;
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

/// Makes freed memory go back to the system, so that the process's resident size follows what the chunk
/// cache and the queries hold. glibc's defaults keep it: one arena per thread (up to 8 per core), and a
/// threshold for `mmap` that rises to the largest block freed, after which page-sized buffers (the cache's
/// pages, Arrow arrays) come from arenas that fragment and are never trimmed. Measured in
/// docs/benchmarks.md: random point lookups over a table four times the cache peaked at 354 MiB with the
/// defaults and 227 MiB with these.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
    }
}
