//! The Service clients connect to: the PostgreSQL port only.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::owned_meta;
use crate::tenant::{PG_PORT, Tenant};

pub fn build_service(t: &Tenant) -> Service {
    Service {
        metadata: owned_meta(t, t.name.clone()),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(t.selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some("postgres".into()),
                port: i32::from(PG_PORT),
                target_port: Some(IntOrString::String("postgres".into())),
                protocol: Some("TCP".into()),
                app_protocol: Some("postgresql".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{MINIMAL, tenant};

    #[test]
    fn exposes_only_postgres_and_selects_the_tenant_pods() {
        let s = build_service(&tenant(MINIMAL));
        let spec = s.spec.unwrap();
        let ports = spec.ports.unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, 5432);
        assert_eq!(
            spec.selector.unwrap()["app.kubernetes.io/instance"],
            "fixture-db"
        );
    }
}
