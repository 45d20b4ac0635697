//! Control-plane configuration: defaults for one machine (`omendb up`), overridden by a TOML file and by
//! `OMENDB_CP_*` / `DATABASE_URL` environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::plans::Plans;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the REST API and console listen.
    pub listen: SocketAddr,
    /// Everything the control plane keeps on disk: the SQLite metadata DB, signing keys, tenant data.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty = `sqlite://<data_dir>/metadata.db`. May hold a password.
    pub database_url: SecretString,
    /// The console's origin for CORS; empty = same origin only (no CORS headers).
    pub console_origin: String,
    /// Networks of the reverse proxies in front of the API (`10.0.0.0/8`, `192.0.2.7`). A request from one of
    /// them is attributed to the right-most `X-Forwarded-For` address outside them; from anywhere else the
    /// header is ignored. Empty = the socket peer is the client. Env `OMENDB_CP_TRUSTED_PROXIES` (commas).
    pub trusted_proxies: TrustedProxies,
    /// Replaced by `trusted_proxies`: trusting the header from anyone let every client choose its address.
    /// Still read so that an old config file is refused with that explanation rather than "unknown field".
    pub trust_forwarded_for: Option<bool>,
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
    pub stripe_secret_key: SecretString,
    /// Signing secrets of the webhook endpoint (`whsec_...`); several during a rotation. Env
    /// `STRIPE_WEBHOOK_SECRET` (comma-separated).
    pub webhook_secrets: Vec<SecretString>,
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
            stripe_secret_key: SecretString::default(),
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
        !self.stripe_secret_key.expose_secret().is_empty()
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
    /// How long a session may go unused: each refresh token lives this long (but see below).
    pub refresh_ttl_s: u64,
    /// How long a session lives from its login, however often it is refreshed: then log in again.
    pub session_lifetime_s: u64,
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
    /// Failed logins from one address for one account before attempts from it must wait: 1 s, doubling
    /// with each further failure up to `login_max_delay_s`. Other addresses are not slowed, so an attacker
    /// cannot lock the owner out.
    pub login_free_failures: u32,
    /// Failed logins for one account from addresses that never logged into it, all of them together,
    /// before attempts from such addresses wait (as above): a slower brake on a distributed guesser that
    /// never touches the addresses the owner has used.
    pub login_free_failures_per_account: u32,
    pub login_max_delay_s: u64,
    /// Failed logins from one address per hour, whatever the accounts (credential stuffing).
    pub failed_logins_per_address_per_hour: u32,
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
            database_url: SecretString::default(),
            console_origin: String::new(),
            trusted_proxies: TrustedProxies::default(),
            trust_forwarded_for: None,
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
            refresh_ttl_s: 7 * 24 * 3600,
            session_lifetime_s: 30 * 24 * 3600,
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
            login_free_failures: 5,
            login_free_failures_per_account: 50,
            login_max_delay_s: 15 * 60,
            failed_logins_per_address_per_hour: 100,
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
                "DATABASE_URL" => self.database_url = v.clone().into(),
                "OMENDB_CP_TRUSTED_PROXIES" => {
                    self.trusted_proxies = TrustedProxies::parse_list(&v).map_err(Error::Config)?
                }
                "OMENDB_CP_LISTEN" => self.listen = v.parse().map_err(|_| bad())?,
                "OMENDB_CP_DATA_DIR" => self.data_dir = PathBuf::from(&v),
                "OMENDB_CP_CONSOLE_ORIGIN" => self.console_origin = v.clone(),
                "OMENDB_CP_SIGNING_KEY_FILE" => self.auth.signing_key_file = v.clone(),
                "OMENDB_CP_SERVER_BINARY" => self.local.server_binary = v.clone(),
                "OMENDB_CP_WEB_DIR" => self.web_dir = v.clone(),
                "OMENDB_CP_PROVISIONER" => self.provisioner = v.clone(),
                "OMENDB_CP_TENANT_NAMESPACE" => self.kubernetes.namespace = v.clone(),
                "OMENDB_CP_TENANT_IMAGE" => self.kubernetes.image = v.clone(),
                "STRIPE_SECRET_KEY" => self.billing.stripe_secret_key = v.clone().into(),
                "STRIPE_WEBHOOK_SECRET" => {
                    self.billing.webhook_secrets = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(SecretString::from)
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

    /// Whether metadata lives elsewhere than the default SQLite file.
    pub fn has_database_url(&self) -> bool {
        !self.database_url.expose_secret().is_empty()
    }

    pub fn database_url(&self) -> SecretString {
        if self.database_url.expose_secret().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("metadata.db").display()
            )
            .into()
        } else {
            self.database_url.clone()
        }
    }

    pub fn idle_check(&self) -> Duration {
        Duration::from_secs(self.local.idle_check_s.max(1))
    }

    pub fn validate(&self) -> Result<()> {
        if self.trust_forwarded_for.is_some() {
            return Err(Error::Config(
                "trust_forwarded_for is gone: it let any client choose its address. List the networks \
                 of your reverse proxies in trusted_proxies (e.g. [\"10.0.0.0/8\"]) instead"
                    .into(),
            ));
        }
        if self.auth.access_ttl_s == 0
            || self.auth.refresh_ttl_s == 0
            || self.auth.session_lifetime_s == 0
        {
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
        if self.limits.login_max_delay_s == 0 {
            return Err(Error::Config(
                "limits.login_max_delay_s must be positive".into(),
            ));
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(Error::Config(
                "limits.max_body_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed, as networks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `10.0.0.0/8`, `fd00::/8` or a bare address (one host).
    pub fn parse(s: &str) -> std::result::Result<IpNet, String> {
        let s = s.trim();
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("{s:?} is not a network (10.0.0.0/8) or an address"))
    }

    pub fn parse_list(s: &str) -> std::result::Result<TrustedProxies, String> {
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(TrustedProxies::parse)
            .collect::<std::result::Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket is `::ffff:a.b.c.d`; match it as the IPv4 it is.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(*ip, IpAddr::V4),
            v4 => *v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| TrustedProxies::parse(s))
            .collect::<std::result::Result<_, _>>()
            .map(TrustedProxies)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let mut c = Config {
            database_url: "postgres://cp:hunter2-db@db/cp".to_string().into(),
            ..Config::default()
        };
        c.billing.stripe_secret_key = "sk_live_hunter2-stripe".to_string().into();
        c.billing.webhook_secrets = vec!["whsec_hunter2-hook".to_string().into()];
        let shown = format!("{c:?} {c:#?}");
        for secret in ["hunter2-db", "hunter2-stripe", "hunter2-hook"] {
            assert!(!shown.contains(secret), "{secret} printed in {shown}");
        }
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn trusted_proxies_parse_networks_and_addresses_and_refuse_nonsense() {
        let t = TrustedProxies::parse_list("10.0.0.0/8, 192.0.2.7,fd00::/8").unwrap();
        assert!(t.contains(&"10.1.2.3".parse().unwrap()));
        assert!(t.contains(&"192.0.2.7".parse().unwrap()));
        assert!(!t.contains(&"192.0.2.8".parse().unwrap()));
        assert!(t.contains(&"fd00::1".parse().unwrap()));
        assert!(t.contains(&"::ffff:10.9.9.9".parse().unwrap()));
        assert!(TrustedProxies::parse_list("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse_list("proxy.internal").is_err());
        let c: Config = toml::from_str("trusted_proxies = [\"127.0.0.1\"]").unwrap();
        assert!(c.trusted_proxies.contains(&"127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn the_old_trust_everyone_switch_is_refused_with_the_way_out() {
        let c: Config = toml::from_str("trust_forwarded_for = true").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("trusted_proxies"), "{e}");
    }
}
