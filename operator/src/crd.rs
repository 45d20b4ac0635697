//! The `OmenDatabase` custom resource (group `omendb.io`, version `v1alpha1`), defined once here; the CRD
//! YAML in the Helm chart is generated from it (`omendb operator crd`) and a test fails on drift.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::core::crd::CustomResourceExt;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "omendb.io",
    version = "v1alpha1",
    kind = "OmenDatabase",
    plural = "omendatabases",
    shortname = "odb",
    namespaced,
    status = "OmenDatabaseStatus",
    printcolumn = r#"{"name":"Tier","type":"string","jsonPath":".spec.tier"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".status.endpoint.host"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OmenDatabaseSpec {
    /// The control plane's organisation id (labels, billing); any string for hand-made resources.
    #[schemars(length(min = 1, max = 128))]
    pub organization_id: String,
    /// The control plane's database id.
    #[schemars(length(min = 1, max = 128))]
    pub database_id: String,
    /// The database name clients put in their connection string.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
    )]
    pub database_name: String,
    pub tier: Tier,
    /// Volume size in GiB. It may grow (the volume is expanded) but never shrink.
    #[schemars(range(min = 1, max = 65536))]
    #[x_kube(validation = Rule::new("self >= oldSelf").message("storageGib cannot shrink"))]
    pub storage_gib: u32,
    /// Storage class of the volume; empty = the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// CPU and memory overrides; the tier decides when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Compute>,
    /// Server image; the operator's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Scale to zero and keep the volume.
    #[serde(default)]
    pub paused: bool,
    /// Overrides the tier's auto-retraining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_retrain: Option<bool>,
    /// Overrides the tier's monitoring level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    /// A Secret in this namespace with key `OMENDB_USER` (`name:SCRAM-verifier`), written by the control
    /// plane. When absent, the operator generates credentials once into `<name>-credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    /// CIDRs allowed to reach the PostgreSQL port; empty = any source (the port is still the only one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_cidrs: Vec<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Pro,
    Enterprise,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Monitoring {
    None,
    Metrics,
    Full,
}

#[derive(Deserialize, Serialize, Clone, Debug, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Compute {
    /// Kubernetes quantity, e.g. `500m` or `2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?m?$"))]
    pub cpu: Option<String>,
    /// Kubernetes quantity, e.g. `512Mi` or `4Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(Ki|Mi|Gi|Ti)?$"))]
    pub memory: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OmenDatabaseStatus {
    /// Pending, Provisioning, Ready, Paused or Invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// The Secret holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, JsonSchema, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// The CRD as YAML, exactly as committed in the chart.
pub fn crd_yaml() -> String {
    let yaml = serde_yaml::to_string(&OmenDatabase::crd()).expect("the CRD serialises");
    format!("# Generated by `omendb operator crd` from operator/src/crd.rs. Do not edit.\n{yaml}")
}
