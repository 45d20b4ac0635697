//! The StatefulSet that runs the server: one replica (zero when paused), a PVC from its claim template,
//! probes on `/ready` and `/health`, the tier's resources, a locked-down pod, and a config-hash annotation
//! so a tier change rolls the pod.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecretKeySelector, SecurityContext, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use super::config_map::{DATA_DIR, FILE, config_map_name, render_server_toml};
use super::owned_meta;
use crate::tenant::{HTTP_PORT, PG_PORT, Tenant};

pub const DATA_VOLUME: &str = "data";
pub const CONFIG_HASH: &str = "omendb.io/config-hash";
const UID: i64 = 65532;

/// `claim`: the claim template of the StatefulSet as it exists (`None` before it is created). A
/// StatefulSet's claim templates are immutable, so once the set exists its template is sent back exactly as
/// it is (size, labels, class) and growth goes to the PVC directly (see the controller); a new set gets a
/// template of `t.storage_gib` carrying only labels that never change (not the tier).
pub fn build_statefulset(t: &Tenant, claim: Option<&PersistentVolumeClaim>) -> StatefulSet {
    let mut annotations = BTreeMap::new();
    annotations.insert(CONFIG_HASH.to_string(), config_hash(t));
    StatefulSet {
        metadata: owned_meta(t, t.name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(if t.paused { 0 } else { 1 }),
            service_name: Some(t.name.clone()),
            selector: LabelSelector {
                match_labels: Some(t.selector_labels()),
                ..Default::default()
            },
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Delete".into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(t.labels()),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(build_pod_spec(t)),
            },
            volume_claim_templates: Some(vec![match claim {
                Some(c) => PersistentVolumeClaim {
                    status: None,
                    ..c.clone()
                },
                None => build_data_claim(t, t.storage_gib),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Changes whenever the server would behave differently: config, image, credentials source.
pub fn config_hash(t: &Tenant) -> String {
    let mut h = Sha256::new();
    h.update(render_server_toml(t));
    h.update(&t.image);
    h.update(&t.credentials_secret);
    h.update(&t.settings.cpu);
    h.update(&t.settings.memory);
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn build_data_claim(t: &Tenant, gib: u32) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.into()),
            labels: Some(t.stable_labels()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: t.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".into(),
                    Quantity(format!("{gib}Gi")),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Default::default()
    }
}

fn build_pod_spec(t: &Tenant) -> PodSpec {
    let resources = BTreeMap::from([
        ("cpu".to_string(), Quantity(t.settings.cpu.clone())),
        ("memory".to_string(), Quantity(t.settings.memory.clone())),
    ]);
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    };
    PodSpec {
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(UID),
            run_as_group: Some(UID),
            fs_group: Some(UID),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        termination_grace_period_seconds: Some(30),
        containers: vec![Container {
            name: "server".into(),
            image: Some(t.image.clone()),
            args: Some(vec![
                "server".into(),
                "--config".into(),
                format!("/etc/omendb/{FILE}"),
            ]),
            env: Some(vec![EnvVar {
                name: "OMENDB_USER".into(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: t.credentials_secret.clone(),
                        key: "OMENDB_USER".into(),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ports: Some(vec![
                ContainerPort {
                    name: Some("postgres".into()),
                    container_port: i32::from(PG_PORT),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
                ContainerPort {
                    name: Some("http".into()),
                    container_port: i32::from(HTTP_PORT),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
            ]),
            readiness_probe: Some(http_probe("/ready", 5, 3)),
            liveness_probe: Some(http_probe("/health", 10, 6)),
            resources: Some(ResourceRequirements {
                requests: Some(resources.clone()),
                limits: Some(resources),
                ..Default::default()
            }),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                privileged: Some(false),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    add: None,
                }),
                ..Default::default()
            }),
            volume_mounts: Some(vec![
                mount(DATA_VOLUME, DATA_DIR, false),
                mount("config", "/etc/omendb", true),
                mount("tmp", "/tmp", false),
            ]),
            ..Default::default()
        }],
        volumes: Some(vec![
            Volume {
                name: "config".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config_map_name(t),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{MINIMAL, tenant, with_spec};

    #[test]
    fn one_locked_down_replica_with_probes_resources_and_a_volume() {
        let t = tenant(MINIMAL);
        let sts = build_statefulset(&t, None);
        let spec = sts.spec.unwrap();
        assert_eq!(spec.replicas, Some(1));
        let claim = &spec.volume_claim_templates.unwrap()[0];
        assert_eq!(
            claim
                .spec
                .as_ref()
                .unwrap()
                .resources
                .as_ref()
                .unwrap()
                .requests
                .as_ref()
                .unwrap()["storage"],
            Quantity("5Gi".into())
        );
        let pod = spec.template.spec.unwrap();
        let psc = pod.security_context.unwrap();
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_ref().unwrap(),
            &["ALL"]
        );
        let path = |p: &Option<Probe>| p.as_ref().unwrap().http_get.as_ref().unwrap().path.clone();
        assert_eq!(path(&c.readiness_probe).as_deref(), Some("/ready"));
        assert_eq!(path(&c.liveness_probe).as_deref(), Some("/health"));
        let r = c.resources.as_ref().unwrap();
        assert_eq!(r.limits.as_ref().unwrap()["memory"], Quantity("2Gi".into()));
        assert_eq!(r.requests.as_ref().unwrap()["cpu"], Quantity("1".into()));
        assert_eq!(
            c.env.as_ref().unwrap()[0]
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap()
                .name,
            "fixture-db-credentials"
        );
    }

    #[test]
    fn every_tier_gets_its_own_resources_and_server_limits() {
        for (tier, cpu, memory, conns, retrain, monitoring) in [
            ("free", "250m", "256Mi", 20, false, "none"),
            ("pro", "1", "2Gi", 200, true, "metrics"),
            ("enterprise", "4", "16Gi", 2000, true, "full"),
        ] {
            let t = tenant(&MINIMAL.replace("tier: pro", &format!("tier: {tier}")));
            let pod = build_statefulset(&t, None)
                .spec
                .unwrap()
                .template
                .spec
                .unwrap();
            let r = pod.containers[0].resources.clone().unwrap();
            assert_eq!(
                r.limits.as_ref().unwrap()["cpu"],
                Quantity(cpu.into()),
                "{tier}"
            );
            assert_eq!(
                r.limits.as_ref().unwrap()["memory"],
                Quantity(memory.into()),
                "{tier}"
            );
            assert_eq!(r.requests, r.limits, "{tier}: guaranteed QoS");
            let toml = crate::build::config_map::render_server_toml(&t);
            assert!(
                toml.contains(&format!("max_connections = {conns}")),
                "{tier}"
            );
            assert!(
                toml.contains(&format!("auto_retrain = {retrain}")),
                "{tier}"
            );
            assert!(
                toml.contains(&format!("monitoring = \"{monitoring}\"")),
                "{tier}"
            );
            assert_eq!(t.labels()["omendb.io/tier"], tier);
        }
    }

    #[test]
    fn paused_scales_to_zero_and_a_tier_change_changes_the_hash() {
        let t = tenant(&with_spec("  paused: true\n"));
        assert_eq!(build_statefulset(&t, None).spec.unwrap().replicas, Some(0));
        let pro = tenant(MINIMAL);
        let ent = tenant(&MINIMAL.replace("tier: pro", "tier: enterprise"));
        assert_ne!(config_hash(&pro), config_hash(&ent));
        assert_eq!(
            config_hash(&pro),
            config_hash(&tenant(MINIMAL)),
            "stable for the same spec"
        );
        // Pausing does not change the config, so it does not roll anything by itself.
        assert_eq!(config_hash(&pro), config_hash(&t));
    }

    #[test]
    fn a_claim_template_carries_no_changing_label_and_an_existing_one_is_kept_as_it_is() {
        let pro = tenant(MINIMAL);
        let spec = build_statefulset(&pro, None).spec.unwrap();
        let fresh = spec.volume_claim_templates.unwrap().remove(0);
        let labels = fresh.metadata.labels.clone().unwrap();
        assert!(!labels.contains_key("omendb.io/tier"));
        assert_eq!(labels["app.kubernetes.io/instance"], pro.name);
        // Whatever the cluster holds (here an older operator's tier label and its status) goes back as it
        // is, without the status; the pod template follows the new tier.
        let mut older = fresh.clone();
        older
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("omendb.io/tier".into(), "free".into());
        older.status = Some(Default::default());
        let ent = tenant(&MINIMAL.replace("tier: pro", "tier: enterprise"));
        let spec = build_statefulset(&ent, Some(&older)).spec.unwrap();
        let kept = &spec.volume_claim_templates.unwrap()[0];
        assert_eq!(kept.metadata, older.metadata);
        assert_eq!(kept.spec, older.spec);
        assert_eq!(kept.status, None);
        assert_eq!(
            spec.template.metadata.unwrap().labels.unwrap()["omendb.io/tier"],
            "enterprise"
        );
    }
}
