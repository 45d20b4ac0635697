//! The control plane's own Prometheus metrics: requests by route and status, latencies, databases by
//! state (read from the metadata DB at scrape time), provisioning durations, tenant restarts,
//! and billing (usage rows, meter event reports, webhook deliveries, billing pauses).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub databases: IntGaugeVec,
    pub provisioning: HistogramVec,
    pub tenant_restarts: IntCounter,
    pub idle_pauses: IntCounter,
    pub billing_pauses: IntCounter,
    pub usage_rows: IntCounterVec,
    pub usage_reports: IntCounterVec,
    pub webhooks: IntCounterVec,
    pub usage_backlog: IntGaugeVec,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    r.expect("metric definitions are static and valid")
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("omendb_cp".into()), None).expect("static prefix");
        let requests = must(IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        ));
        let latency = must(HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["method", "route"],
        ));
        let databases = must(IntGaugeVec::new(
            Opts::new("databases", "Tenant databases by state"),
            &["state"],
        ));
        let provisioning = must(HistogramVec::new(
            HistogramOpts::new(
                "provisioning_duration_seconds",
                "From the request to a ready tenant server",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]),
            &["operation"],
        ));
        let tenant_restarts = must(IntCounter::new(
            "tenant_restarts_total",
            "Tenant servers restarted by supervision after dying",
        ));
        let idle_pauses = must(IntCounter::new(
            "idle_pauses_total",
            "Databases paused because they had no connections",
        ));
        let billing_pauses = must(IntCounter::new(
            "billing_pauses_total",
            "Paid databases paused because their organisation did not pay",
        ));
        let usage_rows = must(IntCounterVec::new(
            Opts::new("usage_rows_total", "Usage rows sampled, by metric"),
            &["metric"],
        ));
        let usage_reports = must(IntCounterVec::new(
            Opts::new(
                "usage_reports_total",
                "Meter events sent to Stripe, by outcome",
            ),
            &["outcome"],
        ));
        let webhooks = must(IntCounterVec::new(
            Opts::new(
                "stripe_webhooks_total",
                "Stripe webhook deliveries, by outcome",
            ),
            &["outcome"],
        ));
        let usage_backlog = must(IntGaugeVec::new(
            Opts::new(
                "usage_rows",
                "Usage rows in the metadata DB, by report status",
            ),
            &["status"],
        ));
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(databases.clone()),
            Box::new(provisioning.clone()),
            Box::new(tenant_restarts.clone()),
            Box::new(idle_pauses.clone()),
            Box::new(billing_pauses.clone()),
            Box::new(usage_rows.clone()),
            Box::new(usage_reports.clone()),
            Box::new(webhooks.clone()),
            Box::new(usage_backlog.clone()),
        ] {
            must(registry.register(c));
        }
        Metrics {
            registry,
            requests,
            latency,
            databases,
            provisioning,
            tenant_restarts,
            idle_pauses,
            billing_pauses,
            usage_rows,
            usage_reports,
            webhooks,
            usage_backlog,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
