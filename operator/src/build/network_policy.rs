//! Default-deny ingress for the tenant's pods, except the PostgreSQL port from the allowed sources and the
//! metrics port from the monitoring namespace.

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

use super::owned_meta;
use crate::tenant::{HTTP_PORT, PG_PORT, Tenant};

fn port(p: u16) -> Vec<NetworkPolicyPort> {
    vec![NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(p))),
        protocol: Some("TCP".into()),
        ..Default::default()
    }]
}

pub fn build_network_policy(t: &Tenant) -> NetworkPolicy {
    // No `from` means any source; the rule still opens only this port.
    let pg_from = (!t.allowed_cidrs.is_empty()).then(|| {
        t.allowed_cidrs
            .iter()
            .map(|c| NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: c.clone(),
                    except: None,
                }),
                ..Default::default()
            })
            .collect()
    });
    let monitoring = NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".into(),
                t.monitoring_namespace.clone(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: owned_meta(t, t.name.clone()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(t.selector_labels()),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: pg_from,
                    ports: Some(port(PG_PORT)),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![monitoring]),
                    ports: Some(port(HTTP_PORT)),
                },
            ]),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{MINIMAL, tenant, with_spec};

    #[test]
    fn opens_postgres_to_allowed_cidrs_and_metrics_to_monitoring_only() {
        let np = build_network_policy(&tenant(&with_spec("  allowedCidrs: [\"10.0.0.0/8\"]\n")));
        let spec = np.spec.unwrap();
        assert_eq!(spec.policy_types.unwrap(), ["Ingress"]);
        let rules = spec.ingress.unwrap();
        assert_eq!(rules.len(), 2);
        let pg = &rules[0];
        assert_eq!(
            pg.ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(5432))
        );
        assert_eq!(
            pg.from.as_ref().unwrap()[0].ip_block.as_ref().unwrap().cidr,
            "10.0.0.0/8"
        );
        let m = &rules[1];
        assert_eq!(
            m.ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(8080))
        );
        let ns = m.from.as_ref().unwrap()[0]
            .namespace_selector
            .as_ref()
            .unwrap();
        assert_eq!(
            ns.match_labels.as_ref().unwrap()["kubernetes.io/metadata.name"],
            "monitoring"
        );
        // Without CIDRs the PostgreSQL rule has no `from`: any source, this port only.
        let open = build_network_policy(&tenant(MINIMAL));
        assert!(open.spec.unwrap().ingress.unwrap()[0].from.is_none());
    }
}
