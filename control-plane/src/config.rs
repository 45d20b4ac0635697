//! Control-plane configuration: defaults for one machine (`omendb up`), overridden by a TOML file and by
//! `OMENDB_CP_*` / `DATABASE_URL` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::plans::Plans;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the REST API and console listen.
    pub listen: SocketAddr,
    /// Everything the control plane keeps on disk: the SQLite metadata DB, signing keys, tenant data.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty = `sqlite://<data_dir>/metadata.db`.
    pub database_url: String,
    /// The console's origin for CORS; empty = same origin only (no CORS headers).
    pub console_origin: String,
    /// Trust `X-Forwarded-For` from a reverse proxy when rate limiting by client address.
    pub trust_forwarded_for: bool,
    /// Serve the console from this directory instead of the embedded copy (console development).
    pub web_dir: String,
    pub auth: Auth,
    pub limits: Limits,
    pub plans: Plans,
    /// `local` (child processes, the default) or `kubernetes` (OmenDatabase resources for the operator).
    pub provisioner: String,
    pub local: Local,
    pub kubernetes: Kubernetes,
    pub billing: Billing,
}

/// Stripe billing. No secret key = billing off: every plan is available without payment (self-hosting).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Billing {
    /// `sk_...`; env `STRIPE_SECRET_KEY`.
    pub stripe_secret_key: String,
    /// Signing secrets of the webhook endpoint (`whsec_...`); several during a rotation. Env
    /// `STRIPE_WEBHOOK_SECRET` (comma-separated).
    pub webhook_secrets: Vec<String>,
    /// Stripe's API base URL, ending in `/`; env `STRIPE_API_BASE` (tests point it at a fake).
    pub api_base: String,
    /// Where Checkout and the billing portal send the user back; empty = `http://<bound address>/billing`.
    /// Env `OMENDB_BILLING_RETURN_URL`; set it to the console's public URL behind a proxy.
    pub return_url: String,
    /// How long an organisation may stay past due before its paid databases are paused.
    pub grace_period_s: u64,
    /// How often running databases are sampled into usage rows.
    pub sample_interval_ms: u64,
    /// How often unreported usage is sent to Stripe.
    pub report_interval_ms: u64,
    /// Per Stripe request.
    pub request_timeout_ms: u64,
    /// Reported and unbilled usage rows older than this are deleted (pending ones never are).
    pub usage_retention_days: u64,
    /// Stripe meter event names.
    pub compute_meter: String,
    pub storage_meter: String,
    pub pro: PlanPrice,
    pub enterprise: PlanPrice,
}

/// What a paid plan costs: the Stripe prices its subscription is made of, and the same figures in cents
/// for the estimate shown to the user.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanPrice {
    /// The flat monthly price (`price_...`); env `OMENDB_STRIPE_PRICE_PRO` / `_ENTERPRISE`.
    pub price: String,
    /// Metered prices (compute, storage) added to the subscription without a quantity.
    pub usage_prices: Vec<String>,
    pub monthly_cents: u64,
    pub compute_cents_per_hour: u64,
    pub storage_cents_per_gib_month: u64,
}

impl Default for Billing {
    fn default() -> Billing {
        Billing {
            stripe_secret_key: String::new(),
            webhook_secrets: Vec::new(),
            api_base: "https://api.stripe.com/".into(),
            return_url: String::new(),
            grace_period_s: 7 * 24 * 3600,
            sample_interval_ms: 60_000,
            report_interval_ms: 60_000,
            request_timeout_ms: 10_000,
            usage_retention_days: 100,
            compute_meter: "omendb_compute_seconds".into(),
            storage_meter: "omendb_storage_mib_seconds".into(),
            pro: PlanPrice {
                monthly_cents: 2_900,
                compute_cents_per_hour: 2,
                storage_cents_per_gib_month: 25,
                ..PlanPrice::default()
            },
            enterprise: PlanPrice {
                monthly_cents: 49_900,
                compute_cents_per_hour: 1,
                storage_cents_per_gib_month: 20,
                ..PlanPrice::default()
            },
        }
    }
}

impl Billing {
    pub fn enabled(&self) -> bool {
        !self.stripe_secret_key.is_empty()
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Kubernetes {
    /// Namespace of the tenants' resources; empty = `default`.
    pub namespace: String,
    /// Server image for tenants; empty = the operator's default.
    pub image: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_s: u64,
    pub refresh_ttl_s: u64,
    /// PKCS#8 PEM of the Ed25519 signing key; empty = `<data_dir>/jwt-signing-key.pem`, created if missing.
    pub signing_key_file: String,
    /// Argon2id memory in KiB (OWASP: 19 MiB with 2 passes).
    pub argon2_memory_kib: u32,
    pub argon2_passes: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Sign-ups per client address per minute.
    pub signups_per_minute: u32,
    /// Login attempts per client address per minute.
    pub logins_per_minute: u32,
    /// Failed logins per email per 15 minutes before that email is locked for the rest of the window.
    pub failed_logins_per_email: u32,
    pub max_body_bytes: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Local {
    /// The `omendb` binary to start tenant servers with; empty = this process's own executable.
    pub server_binary: String,
    /// Host name put into connection strings.
    pub host: String,
    /// How often to check tenants for idleness (the pause itself follows each plan's `pause_when_idle_s`).
    pub idle_check_s: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            data_dir: PathBuf::from("./omendb-data"),
            database_url: String::new(),
            console_origin: String::new(),
            trust_forwarded_for: false,
            web_dir: String::new(),
            auth: Auth::default(),
            limits: Limits::default(),
            plans: Plans::default(),
            provisioner: "local".into(),
            local: Local::default(),
            kubernetes: Kubernetes::default(),
            billing: Billing::default(),
        }
    }
}

impl Default for Auth {
    fn default() -> Auth {
        Auth {
            issuer: "omendb-control-plane".into(),
            audience: "omendb-api".into(),
            access_ttl_s: 15 * 60,
            refresh_ttl_s: 30 * 24 * 3600,
            signing_key_file: String::new(),
            argon2_memory_kib: 19 * 1024,
            argon2_passes: 2,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            signups_per_minute: 10,
            logins_per_minute: 30,
            failed_logins_per_email: 10,
            max_body_bytes: 64 * 1024,
        }
    }
}

impl Default for Local {
    fn default() -> Local {
        Local {
            server_binary: String::new(),
            host: "127.0.0.1".into(),
            idle_check_s: 30,
        }
    }
}

impl Config {
    pub fn load(path: &std::path::Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// `DATABASE_URL` and `OMENDB_CP_*` variables from `vars` (the process environment in the binary).
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<()> {
        for (k, v) in vars {
            let bad = || Error::Config(format!("{k}={v:?} is not valid"));
            match k.as_str() {
                "DATABASE_URL" => self.database_url = v.clone(),
                "OMENDB_CP_LISTEN" => self.listen = v.parse().map_err(|_| bad())?,
                "OMENDB_CP_DATA_DIR" => self.data_dir = PathBuf::from(&v),
                "OMENDB_CP_CONSOLE_ORIGIN" => self.console_origin = v.clone(),
                "OMENDB_CP_SIGNING_KEY_FILE" => self.auth.signing_key_file = v.clone(),
                "OMENDB_CP_SERVER_BINARY" => self.local.server_binary = v.clone(),
                "OMENDB_CP_WEB_DIR" => self.web_dir = v.clone(),
                "OMENDB_CP_PROVISIONER" => self.provisioner = v.clone(),
                "OMENDB_CP_TENANT_NAMESPACE" => self.kubernetes.namespace = v.clone(),
                "OMENDB_CP_TENANT_IMAGE" => self.kubernetes.image = v.clone(),
                "STRIPE_SECRET_KEY" => self.billing.stripe_secret_key = v.clone(),
                "STRIPE_WEBHOOK_SECRET" => {
                    self.billing.webhook_secrets = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                "STRIPE_API_BASE" => self.billing.api_base = v.clone(),
                "OMENDB_BILLING_RETURN_URL" => self.billing.return_url = v.clone(),
                "OMENDB_STRIPE_PRICE_PRO" => self.billing.pro.price = v.clone(),
                "OMENDB_STRIPE_PRICE_ENTERPRISE" => self.billing.enterprise.price = v.clone(),
                "OMENDB_BILLING_GRACE_S" => {
                    self.billing.grace_period_s = v.parse().map_err(|_| bad())?
                }
                "OMENDB_BILLING_SAMPLE_MS" => {
                    self.billing.sample_interval_ms = v.parse().map_err(|_| bad())?
                }
                "OMENDB_BILLING_REPORT_MS" => {
                    self.billing.report_interval_ms = v.parse().map_err(|_| bad())?
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("metadata.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    pub fn idle_check(&self) -> Duration {
        Duration::from_secs(self.local.idle_check_s.max(1))
    }

    pub fn validate(&self) -> Result<()> {
        if self.auth.access_ttl_s == 0 || self.auth.refresh_ttl_s == 0 {
            return Err(Error::Config("token lifetimes must be positive".into()));
        }
        if !matches!(self.provisioner.as_str(), "local" | "kubernetes") {
            return Err(Error::Config(format!(
                "provisioner must be local or kubernetes, not {:?}",
                self.provisioner
            )));
        }
        let b = &self.billing;
        if b.enabled() {
            if !b.api_base.ends_with('/') {
                return Err(Error::Config("billing.api_base must end with /".into()));
            }
            if b.webhook_secrets.is_empty() {
                return Err(Error::Config(
                    "billing is on (a Stripe secret key is set) but no webhook secret is".into(),
                ));
            }
            if b.pro.price.is_empty() || b.enterprise.price.is_empty() {
                return Err(Error::Config(
                    "billing is on: set the Stripe price of pro and enterprise".into(),
                ));
            }
        }
        if b.sample_interval_ms == 0 || b.report_interval_ms == 0 {
            return Err(Error::Config("billing intervals must be positive".into()));
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(Error::Config(
                "limits.max_body_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }
}
