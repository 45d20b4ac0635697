//! Plans (tiers) and their limits. The defaults are the table in PRODUCT.md; the control plane's config may
//! override any of them. The server and the operator only apply what is decided here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What `/metrics` of a tenant exposes; mirrors the server's `monitoring` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Monitoring {
    None,
    Metrics,
    Full,
}

impl Monitoring {
    pub fn as_str(self) -> &'static str {
        match self {
            Monitoring::None => "none",
            Monitoring::Metrics => "metrics",
            Monitoring::Full => "full",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    pub storage_gib: u64,
    pub max_connections: u32,
    /// CPU cores (Kubernetes requests/limits).
    pub cpu: f64,
    pub memory_mib: u64,
    pub auto_retrain: bool,
    pub monitoring: Monitoring,
    /// Pause a database with no connections for this many seconds; `null` = never.
    pub pause_when_idle_s: Option<u64>,
    /// Databases of this plan one organisation may have.
    pub max_databases: u32,
    /// Statement timeout the server enforces, in milliseconds; 0 = none.
    pub statement_timeout_ms: u64,
}

/// A plan missing from a config file keeps its default.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Plans {
    pub free: PlanLimits,
    pub pro: PlanLimits,
    pub enterprise: PlanLimits,
}

impl Default for Plans {
    fn default() -> Plans {
        Plans {
            free: PlanLimits {
                storage_gib: 1,
                max_connections: 20,
                cpu: 0.25,
                memory_mib: 256,
                auto_retrain: false,
                monitoring: Monitoring::None,
                pause_when_idle_s: Some(15 * 60),
                max_databases: 3,
                statement_timeout_ms: 60_000,
            },
            pro: PlanLimits {
                storage_gib: 50,
                max_connections: 200,
                cpu: 1.0,
                memory_mib: 2048,
                auto_retrain: true,
                monitoring: Monitoring::Metrics,
                pause_when_idle_s: None,
                max_databases: 20,
                statement_timeout_ms: 0,
            },
            enterprise: PlanLimits {
                storage_gib: 500,
                max_connections: 2000,
                cpu: 4.0,
                memory_mib: 16384,
                auto_retrain: true,
                monitoring: Monitoring::Full,
                pause_when_idle_s: None,
                max_databases: 200,
                statement_timeout_ms: 0,
            },
        }
    }
}

impl Plans {
    pub fn limits(&self, plan: Plan) -> &PlanLimits {
        match plan {
            Plan::Free => &self.free,
            Plan::Pro => &self.pro,
            Plan::Enterprise => &self.enterprise,
        }
    }

    pub fn limits_mut(&mut self, plan: Plan) -> &mut PlanLimits {
        match plan {
            Plan::Free => &mut self.free,
            Plan::Pro => &mut self.pro,
            Plan::Enterprise => &mut self.enterprise,
        }
    }
}
