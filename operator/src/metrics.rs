//! Operator metrics: reconciles, failures by reason (a fixed label per error variant), durations.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

pub struct Metrics {
    registry: Registry,
    pub reconciles: IntCounter,
    pub failures: IntCounterVec,
    pub duration: Histogram,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    r.expect("metric definitions are static and valid")
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("omendb_operator".into()), None).expect("static prefix");
        let reconciles = must(IntCounter::new("reconciles_total", "Reconcile runs"));
        let failures = must(IntCounterVec::new(
            Opts::new("reconcile_failures_total", "Failed reconciles by reason"),
            &["reason"],
        ));
        let duration = must(Histogram::with_opts(
            HistogramOpts::new("reconcile_duration_seconds", "Reconcile duration")
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        ));
        must(registry.register(Box::new(reconciles.clone())));
        must(registry.register(Box::new(failures.clone())));
        must(registry.register(Box::new(duration.clone())));
        Metrics {
            registry,
            reconciles,
            failures,
            duration,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
