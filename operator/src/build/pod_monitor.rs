//! The PodMonitor (prometheus-operator) for tiers with monitoring; built untyped, since its CRD is not in
//! k8s-openapi and may not exist in the cluster (the controller checks first).

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use super::owned_meta;
use crate::tenant::Tenant;

pub fn pod_monitor_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "PodMonitor"),
        "podmonitors",
    )
}

pub fn build_pod_monitor(t: &Tenant) -> DynamicObject {
    let mut obj = DynamicObject::new(&t.name, &pod_monitor_resource()).within(&t.namespace);
    obj.metadata = owned_meta(t, t.name.clone());
    obj.data = json!({
        "spec": {
            "selector": { "matchLabels": t.selector_labels() },
            "podMetricsEndpoints": [{ "port": "http", "path": "/metrics", "interval": "30s" }]
        }
    });
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{MINIMAL, tenant};

    #[test]
    fn scrapes_the_http_port_of_the_tenant_pods() {
        let pm = build_pod_monitor(&tenant(MINIMAL));
        let v = serde_json::to_value(&pm).unwrap();
        assert_eq!(v["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(v["kind"], "PodMonitor");
        assert_eq!(v["spec"]["podMetricsEndpoints"][0]["port"], "http");
        assert_eq!(
            v["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"],
            "fixture-db"
        );
    }
}
