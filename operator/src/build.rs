//! Pure builders, one per owned kind: a validated `Tenant` in, a Kubernetes object out. No client, no I/O;
//! each is unit-tested alone.

pub mod config_map;
pub mod network_policy;
pub mod pod_monitor;
pub mod secret;
pub mod service;
pub mod statefulset;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::tenant::Tenant;

/// Metadata for an owned object: the tenant's namespace, labels and controller owner reference.
pub fn owned_meta(t: &Tenant, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(t.namespace.clone()),
        labels: Some(t.labels()),
        owner_references: Some(vec![t.owner.clone()]),
        ..Default::default()
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::crd::OmenDatabase;
    use crate::tenant::{Defaults, Tenant, validate};

    /// A minimal resource as a user would write it; names differ from the product's on purpose, so a
    /// builder that hard-codes a name is caught.
    pub const MINIMAL: &str = r#"
apiVersion: omendb.io/v1alpha1
kind: OmenDatabase
metadata:
  name: fixture-db
  namespace: ns-a
  uid: 11111111-2222-3333-4444-555555555555
  generation: 3
spec:
  organizationId: org_fixture
  databaseId: db_fixture
  databaseName: sales
  tier: pro
  storageGib: 5
"#;

    pub fn resource(yaml: &str) -> OmenDatabase {
        serde_yaml::from_str(yaml).expect("fixture parses")
    }

    pub fn tenant(yaml: &str) -> Tenant {
        validate(&resource(yaml), &Defaults::default()).expect("fixture is valid")
    }

    pub fn with_spec(extra: &str) -> String {
        format!("{MINIMAL}{extra}")
    }
}
