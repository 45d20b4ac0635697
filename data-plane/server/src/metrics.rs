//! Prometheus metrics. What `/metrics` shows follows the tier's monitoring level: nothing, server-wide
//! series, or those plus per-table learned-index health read from the engine at scrape time.

use std::time::Duration;

use omendb_storage::Database;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

use crate::config::Monitoring;

/// Reads one per-table figure from the engine's stats.
type StatFn = fn(&omendb_storage::TableStats) -> f64;

/// Statement kinds, resolved to their series once: `with_label_values` hashes the labels and takes a lock on
/// every call, which a point query at 100k/s notices.
const KINDS: [&str; 9] = [
    "select",
    "insert",
    "update",
    "delete",
    "ddl",
    "transaction",
    "setting",
    "copy",
    "empty",
];

pub struct Metrics {
    pub level: Monitoring,
    registry: Registry,
    pub connections: IntGauge,
    pub connections_total: IntCounter,
    pub connections_rejected: IntCounterVec,
    pub connections_placed: IntCounterVec,
    pub queries: IntCounterVec,
    pub query_seconds: HistogramVec,
    pub commits: IntCounter,
    pub commit_seconds: Histogram,
    pub rows_written: IntCounterVec,
    pub rows_returned: IntCounter,
    pub fast_path: IntCounterVec,
    /// Per entry of `KINDS`: ok count, error count, latency.
    by_kind: Vec<(IntCounter, IntCounter, Histogram)>,
    fast_by_kind: Vec<IntCounter>,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are static: a failure here is a programming error caught by the tests.
    r.expect("metric definition")
}

impl Metrics {
    pub fn new(level: Monitoring) -> Metrics {
        let registry = Registry::new_custom(Some("omendb".into()), None).expect("registry");
        let connections = must(IntGauge::new("connections", "Open client connections"));
        let connections_total = must(IntCounter::new(
            "connections_total",
            "Accepted client connections",
        ));
        let connections_rejected = must(IntCounterVec::new(
            Opts::new(
                "connections_rejected_total",
                "Connections refused, by reason",
            ),
            &["reason"],
        ));
        let connections_placed = must(IntCounterVec::new(
            Opts::new(
                "connections_placed_total",
                "Accepted sockets by where they run: their own thread, or the shared pool past the thread budget",
            ),
            &["on"],
        ));
        let queries = must(IntCounterVec::new(
            Opts::new("queries_total", "Statements executed, by kind and outcome"),
            &["kind", "outcome"],
        ));
        let buckets = vec![
            0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
            0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let query_seconds = must(HistogramVec::new(
            HistogramOpts::new("query_duration_seconds", "Statement latency, by kind")
                .buckets(buckets.clone()),
            &["kind"],
        ));
        let commits = must(IntCounter::new("commits_total", "Durable commits"));
        let commit_seconds = must(Histogram::with_opts(
            HistogramOpts::new("commit_duration_seconds", "Commit latency including fsync")
                .buckets(buckets),
        ));
        let rows_written = must(IntCounterVec::new(
            Opts::new("rows_written_total", "Rows inserted, updated or deleted"),
            &["op"],
        ));
        let rows_returned = must(IntCounter::new(
            "rows_returned_total",
            "Rows sent to clients",
        ));
        let fast_path = must(IntCounterVec::new(
            Opts::new(
                "fast_path_total",
                "Statements answered straight from the learned index, without DataFusion",
            ),
            &["kind"],
        ));
        for c in [
            Box::new(fast_path.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(connections.clone()),
            Box::new(connections_total.clone()),
            Box::new(connections_rejected.clone()),
            Box::new(connections_placed.clone()),
            Box::new(queries.clone()),
            Box::new(query_seconds.clone()),
            Box::new(commits.clone()),
            Box::new(commit_seconds.clone()),
            Box::new(rows_written.clone()),
            Box::new(rows_returned.clone()),
        ] {
            must(registry.register(c));
        }
        let by_kind = KINDS
            .iter()
            .map(|k| {
                (
                    queries.with_label_values(&[*k, "ok"]),
                    queries.with_label_values(&[*k, "error"]),
                    query_seconds.with_label_values(&[*k]),
                )
            })
            .collect();
        let fast_by_kind = KINDS
            .iter()
            .map(|k| fast_path.with_label_values(&[*k]))
            .collect();
        Metrics {
            level,
            by_kind,
            fast_by_kind,
            registry,
            connections,
            connections_total,
            connections_rejected,
            connections_placed,
            queries,
            query_seconds,
            commits,
            commit_seconds,
            rows_written,
            rows_returned,
            fast_path,
        }
    }

    pub fn query(&self, kind: &str, ok: bool, took: Duration) {
        match KINDS.iter().position(|k| *k == kind) {
            Some(i) => {
                let (done, failed, seconds) = &self.by_kind[i];
                if ok { done } else { failed }.inc();
                seconds.observe(took.as_secs_f64());
            }
            None => {
                self.queries
                    .with_label_values(&[kind, if ok { "ok" } else { "error" }])
                    .inc();
                self.query_seconds
                    .with_label_values(&[kind])
                    .observe(took.as_secs_f64());
            }
        }
    }

    /// Counts a statement answered on the fast path.
    pub fn fast(&self, label: &str) {
        match KINDS.iter().position(|k| *k == label) {
            Some(i) => self.fast_by_kind[i].inc(),
            None => self.fast_path.with_label_values(&[label]).inc(),
        }
    }

    /// The exposition text, or `None` when the tier has no monitoring.
    pub fn render(&self, db: &Database) -> Option<String> {
        if self.level == Monitoring::None {
            return None;
        }
        let mut families = self.registry.gather();
        let stats = db.all_stats();
        let storage = must(IntGauge::new(
            "omendb_storage_bytes",
            "Bytes of chunk files on disk",
        ));
        storage.set(stats.iter().map(|s| s.file_bytes as i64).sum());
        let tables = must(IntGauge::new("omendb_tables", "Tables in the database"));
        tables.set(stats.len() as i64);
        let extra = Registry::new();
        must(extra.register(Box::new(storage)));
        must(extra.register(Box::new(tables)));
        // The chunk cache: what it holds against its budget, and how reads fared.
        let cache = db.cache_report();
        let cache_gauges: [(&str, &str, f64); 6] = [
            (
                "budget_bytes",
                "The chunk cache's budget",
                cache.budget_bytes as f64,
            ),
            (
                "bytes",
                "Bytes of table pages in the chunk cache",
                cache.bytes as f64,
            ),
            (
                "hits",
                "Page reads answered by the chunk cache",
                cache.hits as f64,
            ),
            (
                "misses",
                "Page reads that went to a chunk file",
                cache.misses as f64,
            ),
            (
                "evictions",
                "Pages evicted to stay within the budget",
                cache.evictions as f64,
            ),
            (
                "read_bytes",
                "Bytes read from chunk files",
                cache.read_bytes as f64,
            ),
        ];
        for (name, help, value) in cache_gauges {
            let g = must(prometheus::Gauge::new(format!("omendb_cache_{name}"), help));
            g.set(value);
            must(extra.register(Box::new(g)));
        }
        if self.level == Monitoring::Full {
            let per_table: [(&str, &str, StatFn); 12] = [
                ("rows", "Live rows", |s| s.rows as f64),
                ("chunks", "Sorted chunks under learned models", |s| {
                    s.chunks as f64
                }),
                (
                    "delta_rows",
                    "Rows in the write delta awaiting retraining",
                    |s| s.delta_rows as f64,
                ),
                ("tombstones", "Deleted keys awaiting retraining", |s| {
                    s.tombstones as f64
                }),
                ("index_bytes", "Bytes of learned models", |s| {
                    s.index_bytes as f64
                }),
                ("segments", "Learned-model segments", |s| s.segments as f64),
                (
                    "index_max_error",
                    "Largest observed model error (positions)",
                    |s| s.max_observed_error as f64,
                ),
                (
                    "index_mean_window",
                    "Mean search window of lookups (positions)",
                    |s| s.mean_window,
                ),
                ("retrains", "Retrains since open", |s| {
                    s.retrain_count as f64
                }),
                ("lookups", "Point lookups since open", |s| s.lookups as f64),
                (
                    "delta_lookups",
                    "Point lookups answered by the delta",
                    |s| s.delta_lookups as f64,
                ),
                ("file_bytes", "Bytes of the table's chunk files", |s| {
                    s.file_bytes as f64
                }),
            ];
            for (name, help, get) in per_table {
                let g = must(GaugeVec::new(
                    Opts::new(format!("omendb_table_{name}"), help),
                    &["table"],
                ));
                for s in &stats {
                    g.with_label_values(&[s.table.as_str()]).set(get(s));
                }
                must(extra.register(Box::new(g)));
            }
        }
        families.extend(extra.gather());
        let mut out = Vec::new();
        must(TextEncoder::new().encode(&families, &mut out));
        Some(String::from_utf8(out).expect("prometheus text is UTF-8"))
    }
}
