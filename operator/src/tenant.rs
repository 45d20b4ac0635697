//! A validated tenant: the custom resource checked once (`validate`, pure), with the tier's defaults
//! resolved, so every builder reads plain values and cannot fail.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use std::collections::BTreeMap;

use crate::crd::{Monitoring, OmenDatabase, Tier};
use crate::error::{Error, Result};

pub const PG_PORT: u16 = 5432;
pub const HTTP_PORT: u16 = 8080;
pub const MANAGER: &str = "omendb-operator";

/// Operator-wide settings.
#[derive(Clone, Debug)]
pub struct Defaults {
    pub image: String,
    /// Namespace whose pods (Prometheus) may scrape tenant metrics.
    pub monitoring_namespace: String,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            image: "ghcr.io/omendb/omendb:0.1.0".into(),
            monitoring_namespace: "monitoring".into(),
        }
    }
}

/// What a tier means to a server and its pod (PRODUCT.md's table).
#[derive(Clone, Debug, PartialEq)]
pub struct TierSettings {
    pub cpu: String,
    pub memory: String,
    pub max_connections: u32,
    pub auto_retrain: bool,
    pub monitoring: Monitoring,
}

pub fn tier_settings(tier: Tier) -> TierSettings {
    let (cpu, memory, max_connections, auto_retrain, monitoring) = match tier {
        Tier::Free => ("250m", "256Mi", 20, false, Monitoring::None),
        Tier::Pro => ("1", "2Gi", 200, true, Monitoring::Metrics),
        Tier::Enterprise => ("4", "16Gi", 2000, true, Monitoring::Full),
    };
    TierSettings {
        cpu: cpu.into(),
        memory: memory.into(),
        max_connections,
        auto_retrain,
        monitoring,
    }
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub name: String,
    pub namespace: String,
    pub owner: OwnerReference,
    pub database_name: String,
    pub organization_id: String,
    pub database_id: String,
    pub tier: Tier,
    pub settings: TierSettings,
    pub storage_gib: u32,
    pub storage_class: Option<String>,
    pub image: String,
    pub paused: bool,
    /// Secret and key holding `OMENDB_USER`.
    pub credentials_secret: String,
    /// True when the operator itself must create the credentials Secret.
    pub generate_credentials: bool,
    pub allowed_cidrs: Vec<String>,
    pub monitoring_namespace: String,
}

impl Tenant {
    /// Labels every owned object carries; selectors use the stable subset.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut l = self.stable_labels();
        l.insert("omendb.io/tier".into(), tier_name(self.tier).into());
        l
    }

    /// The labels that never change over a database's life: what immutable fields (a StatefulSet's claim
    /// template) may carry.
    pub fn stable_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.selector_labels();
        l.insert("app.kubernetes.io/component".into(), "database".into());
        l.insert("app.kubernetes.io/part-of".into(), "omendb".into());
        l.insert("app.kubernetes.io/managed-by".into(), MANAGER.into());
        l.insert(
            "omendb.io/organization".into(),
            label_value(&self.organization_id),
        );
        l
    }

    pub fn selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".into(), "omendb-server".into()),
            ("app.kubernetes.io/instance".into(), self.name.clone()),
        ])
    }

    pub fn host(&self) -> String {
        format!("{}.{}.svc", self.name, self.namespace)
    }
}

pub fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Free => "free",
        Tier::Pro => "pro",
        Tier::Enterprise => "enterprise",
    }
}

/// Label values: 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Checks what the API server's schema cannot (names, quantities that parse) and resolves defaults.
pub fn validate(db: &OmenDatabase, defaults: &Defaults) -> Result<Tenant> {
    let name = db
        .metadata
        .name
        .clone()
        .ok_or_else(|| Error::Invalid("the resource has no name".into()))?;
    let namespace = db
        .metadata
        .namespace
        .clone()
        .ok_or_else(|| Error::Invalid("OmenDatabase must be namespaced".into()))?;
    // The StatefulSet's pod and PVC names add suffixes; keep the base a short DNS label.
    if name.len() > 50 || !is_dns_label(&name) {
        return Err(Error::Invalid(format!(
            "name {name:?} must be a DNS label of at most 50 characters"
        )));
    }
    let spec = &db.spec;
    if !is_dns_label(&spec.database_name) {
        return Err(Error::Invalid(format!(
            "databaseName {:?} must be a DNS label",
            spec.database_name
        )));
    }
    if spec.storage_gib == 0 {
        return Err(Error::Invalid("storageGib must be at least 1".into()));
    }
    for cidr in &spec.allowed_cidrs {
        if !is_cidr(cidr) {
            return Err(Error::Invalid(format!(
                "allowedCidrs: {cidr:?} is not a CIDR"
            )));
        }
    }
    let owner = db
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Invalid("the resource has no uid yet".into()))?;
    let mut settings = tier_settings(spec.tier);
    if let Some(r) = &spec.resources {
        if let Some(c) = &r.cpu {
            settings.cpu = c.clone();
        }
        if let Some(m) = &r.memory {
            settings.memory = m.clone();
        }
    }
    if let Some(a) = spec.auto_retrain {
        settings.auto_retrain = a;
    }
    if let Some(m) = spec.monitoring {
        settings.monitoring = m;
    }
    let (credentials_secret, generate_credentials) = match &spec.credentials_secret {
        Some(s) if !s.is_empty() => (s.clone(), false),
        _ => (format!("{name}-credentials"), true),
    };
    Ok(Tenant {
        owner,
        database_name: spec.database_name.clone(),
        organization_id: spec.organization_id.clone(),
        database_id: spec.database_id.clone(),
        tier: spec.tier,
        settings,
        storage_gib: spec.storage_gib,
        storage_class: spec.storage_class.clone().filter(|s| !s.is_empty()),
        image: spec.image.clone().unwrap_or_else(|| defaults.image.clone()),
        paused: spec.paused,
        credentials_secret,
        generate_credentials,
        allowed_cidrs: spec.allowed_cidrs.clone(),
        monitoring_namespace: defaults.monitoring_namespace.clone(),
        name,
        namespace,
    })
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.as_bytes()[0].is_ascii_lowercase()
        && !s.ends_with('-')
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
        (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32,
        (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128,
        _ => false,
    }
}
