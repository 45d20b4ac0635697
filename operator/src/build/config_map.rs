//! The server's configuration, derived from the tier. Users are not in it: they come from the Secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::owned_meta;
use crate::crd::Monitoring;
use crate::tenant::{HTTP_PORT, PG_PORT, Tenant};

pub const FILE: &str = "server.toml";
pub const DATA_DIR: &str = "/var/lib/omendb";

pub fn config_map_name(t: &Tenant) -> String {
    format!("{}-config", t.name)
}

pub fn render_server_toml(t: &Tenant) -> String {
    let monitoring = match t.settings.monitoring {
        Monitoring::None => "none",
        Monitoring::Metrics => "metrics",
        Monitoring::Full => "full",
    };
    format!(
        "# Rendered by the OmenDB operator from the {tier} tier. Users come from OMENDB_USER.\n\
         data_dir = \"{DATA_DIR}/data\"\n\
         database = \"{db}\"\n\n\
         [listen]\n\
         pg = \"0.0.0.0:{PG_PORT}\"\n\
         http = \"0.0.0.0:{HTTP_PORT}\"\n\n\
         [tier]\n\
         auto_retrain = {retrain}\n\
         monitoring = \"{monitoring}\"\n\n\
         [limits]\n\
         max_connections = {conns}\n\
         memory_mb = {memory_mb}\n",
        tier = crate::tenant::tier_name(t.tier),
        db = t.database_name,
        retrain = t.settings.auto_retrain,
        conns = t.settings.max_connections,
        // The pod's memory limit: the server sizes its chunk cache and query memory from it.
        memory_mb = quantity_mib(&t.settings.memory).unwrap_or(0),
    )
}

/// A Kubernetes memory quantity (`2Gi`, `512Mi`, `1G`, `1000000`) in MiB, rounded down.
pub fn quantity_mib(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (number, unit) = q.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor: f64 = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    Some((n * factor / (1024.0 * 1024.0)) as u64)
}

pub fn build_config_map(t: &Tenant) -> ConfigMap {
    ConfigMap {
        metadata: owned_meta(t, config_map_name(t)),
        data: Some(BTreeMap::from([(FILE.into(), render_server_toml(t))])),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{MINIMAL, tenant, with_spec};

    #[test]
    fn follows_the_tier_and_its_overrides_and_parses_as_server_config() {
        let pro = build_config_map(&tenant(MINIMAL));
        let text = &pro.data.unwrap()[FILE];
        let c = omendb_server::Config::from_toml(text).expect("the server accepts it");
        assert_eq!(c.database, "sales");
        assert_eq!(c.limits.max_connections, 200);
        assert_eq!(c.limits.memory_mb, 2048, "the pro tier's 2Gi");
        assert_eq!(c.limits.cache_size_mb(), 512);
        assert_eq!(c.limits.max_query_memory_mb(), 512);
        assert!(c.tier.auto_retrain);
        assert_eq!(
            c.tier.monitoring,
            omendb_server::config::Monitoring::Metrics
        );

        let free = tenant(
            &with_spec("  monitoring: full\n  autoRetrain: true\n")
                .replace("tier: pro", "tier: free"),
        );
        let c =
            omendb_server::Config::from_toml(&build_config_map(&free).data.unwrap()[FILE]).unwrap();
        assert_eq!(c.limits.max_connections, 20);
        assert!(c.tier.auto_retrain, "the override wins over the free tier");
        assert_eq!(c.tier.monitoring, omendb_server::config::Monitoring::Full);
    }

    #[test]
    fn memory_quantities_in_mib() {
        for (q, mib) in [
            ("2Gi", 2048),
            ("256Mi", 256),
            ("1G", 953),
            ("1048576", 1),
            ("512Ki", 0),
        ] {
            assert_eq!(quantity_mib(q), Some(mib), "{q}");
        }
        assert_eq!(quantity_mib("lots"), None);
    }
}
