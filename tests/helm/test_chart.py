"""Offline tests of the helm/omendb chart: lint, render every supported variant, validate every object
against the Kubernetes 1.33 schemas, and check RBAC, pod security, labels, arguments and environment against
the chart's contract (helm/omendb/README.md).

No cluster and no `helm` binary: helm-python-sdk (module `helm_python`) binds Helm v4's Go SDK, and
kubernetes-validate carries the API schemas. Run with tests/helm/run.sh.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import atexit
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

# Helm may look for its config/cache/data homes: keep them out of $HOME and the repo.
_HELM_HOME = tempfile.mkdtemp(prefix="omendb-helm-test-")
atexit.register(shutil.rmtree, _HELM_HOME, ignore_errors=True)
for _var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
    os.environ.setdefault(_var, os.path.join(_HELM_HOME, _var.lower()))

import helm_python as helm  # noqa: E402
import kubernetes_validate  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# OMENDB_HELM_CHART points the tests at another copy of the chart (to check that they catch a broken one).
CHART_DIR = Path(os.environ.get("OMENDB_HELM_CHART", REPO / "helm" / "omendb")).resolve()
CRD_FILE = CHART_DIR / "crds" / "omendatabases.omendb.io.yaml"
KUBE_VERSION = "1.33.0"
RELEASE = "omendb"
NAMESPACE = "omendb-system"
IMAGE = "ghcr.io/omendb/omendb:0.1.0"

# Kinds the chart may render; kubernetes-validate knows all of them (PodMonitor is made by the operator, not
# the chart, and the chart renders no custom resources).
ALLOWED_KINDS = {
    "ServiceAccount", "Secret", "Service", "Deployment", "StatefulSet", "Ingress",
    "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}
COMPONENTS = {"operator", "control-plane", "postgresql"}

PRICES = {"pro": "price_pro", "enterprise": "price_ent"}

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "namespaced": {"operator": {"watchNamespace": "omendb-tenants"}},
    "external-db-url": {
        "postgresql": {"enabled": False},
        "externalDatabase": {"url": "postgres://cp:s3cret@db.example.com:5432/omendb?sslmode=require"},
    },
    "external-db-secret": {
        "postgresql": {"enabled": False},
        "externalDatabase": {"existingSecret": "metadata-db", "existingSecretKey": "url"},
    },
    "jwt-existing-secret": {"jwt": {"existingSecret": "my-jwt"}},
    "billing-existing-secret": {"billing": {"enabled": True, "existingSecret": "stripe", "prices": PRICES}},
    "billing-values": {
        "billing": {
            "enabled": True, "secretKey": "sk_test_abc", "webhookSecret": "whsec_abc", "prices": PRICES,
            "returnUrl": "https://console.example.com/billing",
        }
    },
    "ingress": {
        "controlPlane": {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "omendb.example.com",
                "tlsSecretName": "omendb-tls",
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            },
            "consoleOrigin": "https://console.example.com",
            "trustedProxies": ["10.0.0.0/8", "192.0.2.7"],
        }
    },
    "tenants-namespace": {"tenants": {"namespace": "omendb-tenants"}},
    "operator-only": {"controlPlane": {"enabled": False}, "postgresql": {"enabled": False}},
    "scheduling-and-image": {
        "image": {"repository": "registry.example.com/omendb", "tag": "1.2.3", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "operator": {"nodeSelector": {"kubernetes.io/os": "linux"}, "extraEnv": [{"name": "RUST_LOG", "value": "debug"}]},
        "controlPlane": {"tolerations": [{"key": "dedicated", "operator": "Exists"}], "podAnnotations": {"a": "b"}},
        "postgresql": {"storage": "20Gi", "storageClass": "fast", "affinity": {}},
    },
}


# ---------------------------------------------------------------------------------------------- helpers


@functools.cache
def chart() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


def render_raw(values: dict[str, Any] | None = None) -> dict[str, str]:
    return chart().render(values=values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


@functools.cache
def _render_variant(variant: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    raw = render_raw(VARIANTS[variant])
    objects = []
    for path, text in sorted(raw.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__template__", path)
                objects.append(doc)
    return raw, objects


def objects_of(variant: str) -> list[dict[str, Any]]:
    # Copies without the bookkeeping key, so tests may not mutate the cache.
    return [{k: v for k, v in o.items() if k != "__template__"} for o in _render_variant(variant)[1]]


def notes_of(variant: str) -> str:
    raw = _render_variant(variant)[0]
    return next(v for k, v in raw.items() if k.endswith("NOTES.txt"))


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def workloads(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")]


def container(objs: list[dict[str, Any]], deployment: str, name: str) -> dict[str, Any]:
    pod = one(objs, "Deployment", deployment)["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == name)


def env_map(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = [e["name"] for e in c.get("env", [])]
    assert len(names) == len(set(names)), f"duplicate env names in {c['name']}: {names}"
    return {e["name"]: e for e in c.get("env", [])}


def rules_as_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    out = set()
    for r in rules:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    out.add((g, res, v, tuple(sorted(r.get("resourceNames", [])))))
    return out


def expand(spec: list[tuple[str, list[str], list[str]]]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {(g, r, v, ()) for g, rs, vs in spec for r in rs for v in vs}


ALL_VERBS_RW = ["get", "list", "watch", "create", "patch", "update", "delete"]
OPERATOR_RULES = expand([
    ("omendb.io", ["omendatabases"], ["get", "list", "watch", "patch", "update"]),
    ("omendb.io", ["omendatabases/status"], ["get", "patch", "update"]),
    ("omendb.io", ["omendatabases/finalizers"], ["update"]),
    ("", ["secrets", "configmaps", "services"], ALL_VERBS_RW),
    ("", ["persistentvolumeclaims"], ["get", "list", "watch", "patch", "delete"]),
    ("", ["events"], ["create", "patch"]),
    ("events.k8s.io", ["events"], ["create", "patch"]),
    ("apps", ["statefulsets"], ALL_VERBS_RW),
    ("networking.k8s.io", ["networkpolicies"], ALL_VERBS_RW),
    ("monitoring.coreos.com", ["podmonitors"], ALL_VERBS_RW),
])
CRD_READ_RULES = {("apiextensions.k8s.io", "customresourcedefinitions", "get", ("podmonitors.monitoring.coreos.com",))}
# What the Kubernetes provisioner calls (its tests authorize every request by the template's rules); no read
# of Secrets: it only writes the owner Secret it makes.
CONTROL_PLANE_RULES = expand([
    ("omendb.io", ["omendatabases"], ["get", "create", "patch", "delete"]),
    ("", ["secrets"], ["create", "patch", "delete"]),
])


def b64(s: str) -> str:
    return base64.b64decode(s).decode()


# ------------------------------------------------------------------------------------- lint and schema


@pytest.mark.parametrize("variant", ["defaults", "namespaced"])
def test_lint_passes(variant: str) -> None:
    report = helm.lint(
        CHART_DIR, VARIANTS[variant], strict=True, namespace=NAMESPACE, kube_version="v" + KUBE_VERSION
    )
    assert report["total_charts_linted"] == 1
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_schema_is_draft7_and_closed_at_the_top() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert chart().schema == schema


def test_schema_covers_every_value() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = {**schema["definitions"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def walk(values: Any, node: dict[str, Any], path: str) -> None:
        node = resolve(node)
        assert "type" in node, f"{path}: no type in the schema"
        if isinstance(values, dict) and node.get("additionalProperties") is False:
            for key, sub in values.items():
                assert key in node.get("properties", {}), f"{path}.{key} is not in values.schema.json"
                walk(sub, node["properties"][key], f"{path}.{key}")

    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    walk(values, schema, "")
    # The default values are valid (Helm checks them against the schema on every render).
    chart().validate_schema(chart().values)


BAD_VALUES = {
    "pullPolicy-Sometimes": {"image": {"pullPolicy": "Sometimes"}},
    "postgresql-enabled-string": {"postgresql": {"enabled": "yes"}},
    "unknown-top-level": {"replicaCount": 2},
    "unknown-nested": {"operator": {"replicas": 2}},
    "service-port-string": {"controlPlane": {"service": {"port": "eighty"}}},
    "service-port-range": {"controlPlane": {"service": {"port": 70000}}},
    "namespace-not-dns": {"operator": {"watchNamespace": "Not_A_Namespace"}},
    "storage-not-quantity": {"postgresql": {"storage": "lots"}},
    "resources-limits-removed": {"operator": {"resources": {"limits": None}}},  # null deletes a default
    "billing-without-secret": {"billing": {"enabled": True, "prices": PRICES}},
    "billing-without-prices": {"billing": {"enabled": True, "existingSecret": "stripe"}},
    "billing-bad-price": {"billing": {"enabled": True, "existingSecret": "stripe", "prices": {"pro": "pro", "enterprise": "price_e"}}},
    "ingress-without-host": {"controlPlane": {"ingress": {"enabled": True}}},
    "external-db-both": {
        "postgresql": {"enabled": False},
        "externalDatabase": {"url": "postgres://a@b/c", "existingSecret": "x"},
    },
    "external-db-url-scheme": {"postgresql": {"enabled": False}, "externalDatabase": {"url": "mysql://a@b/c"}},
    "pull-secret-shape": {"imagePullSecrets": ["regcred"]},
    "trusted-proxy-hostname": {"controlPlane": {"trustedProxies": ["ingress.internal"]}},
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_schema_rejects_bad_values(name: str) -> None:
    values = BAD_VALUES[name]
    with pytest.raises(helm.HelmValuesError, match="schema"):
        render_raw(values)
    report = helm.lint(CHART_DIR, values, namespace=NAMESPACE)
    assert report["errors"], f"lint accepted {values}"


def test_no_database_fails_with_a_clear_message() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"postgresql\.enabled is false: .*set externalDatabase\.url or externalDatabase\.existingSecret"):
        render_raw({"postgresql": {"enabled": False}})


def test_external_db_with_bundled_postgresql_fails() -> None:
    with pytest.raises(helm.HelmRenderError, match="set postgresql.enabled=false"):
        render_raw({"externalDatabase": {"url": "postgres://a@b/c"}})


def test_tenant_namespace_must_match_watched_namespace() -> None:
    with pytest.raises(helm.HelmRenderError, match="differs from operator.watchNamespace"):
        render_raw({"operator": {"watchNamespace": "a"}, "tenants": {"namespace": "b"}})
    # Equal is fine.
    render_raw({"operator": {"watchNamespace": "a"}, "tenants": {"namespace": "a"}})


# ------------------------------------------------------------------------------- every object, every variant


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_validates_against_kubernetes(variant: str) -> None:
    objs = objects_of(variant)
    assert objs
    for o in objs:
        assert o["kind"] in ALLOWED_KINDS, f"unexpected kind {o['kind']}"
        try:
            kubernetes_validate.validate(o, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{o['kind']}/{o['metadata']['name']}: {path}: {e.message}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_names_unique_and_namespaces_set(variant: str) -> None:
    objs = objects_of(variant)
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]
    assert len(keys) == len(set(keys)), keys
    for o in objs:
        if o["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in o["metadata"]
            assert NAMESPACE in o["metadata"]["name"], "cluster-scoped names carry the release namespace"
        else:
            assert o["metadata"].get("namespace"), f"{o['kind']}/{o['metadata']['name']} has no namespace"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_standard_labels_on_every_object(variant: str) -> None:
    for o in objects_of(variant):
        labels = o["metadata"].get("labels", {})
        where = f"{o['kind']}/{o['metadata']['name']}"
        assert labels.get("app.kubernetes.io/name") == "omendb", where
        assert labels.get("app.kubernetes.io/instance") == RELEASE, where
        assert labels.get("app.kubernetes.io/version"), where
        assert labels.get("app.kubernetes.io/component") in COMPONENTS, where
        assert labels.get("app.kubernetes.io/part-of") == "omendb", where
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", where
        assert labels.get("helm.sh/chart") == "omendb-0.1.0", where
        if o["kind"] in ("Deployment", "StatefulSet"):
            pod_labels = o["spec"]["template"]["metadata"]["labels"]
            selector = o["spec"]["selector"]["matchLabels"]
            assert selector.items() <= pod_labels.items(), where
            assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
            assert {k: v for k, v in pod_labels.items() if k in labels} == labels, f"{where}: pod template labels"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_services_select_a_pod_template(variant: str) -> None:
    objs = objects_of(variant)
    templates = [w["spec"]["template"] for w in workloads(objs)]
    for svc in by_kind(objs, "Service"):
        sel = svc["spec"]["selector"]
        matches = [t for t in templates if sel.items() <= t["metadata"]["labels"].items()]
        assert len(matches) == 1, f"Service {svc['metadata']['name']} selects {len(matches)} pod templates"
        ports = {p["name"] for c in matches[0]["spec"]["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in ports


# ------------------------------------------------------------------------------------------------- security


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_is_locked_down(variant: str) -> None:
    objs = objects_of(variant)
    assert workloads(objs)
    for w in workloads(objs):
        where = f"{w['kind']}/{w['metadata']['name']}"
        pod = w["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True, where
        assert psc["runAsUser"] != 0 and psc["runAsGroup"] != 0 and psc["fsGroup"] != 0, where
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), where
        assert not any("hostPath" in v for v in pod.get("volumes", [])), where
        containers = pod["containers"] + pod.get("initContainers", [])
        for c in containers:
            csc = c["securityContext"]
            cwhere = f"{where} container {c['name']}"
            assert csc["allowPrivilegeEscalation"] is False, cwhere
            assert csc["readOnlyRootFilesystem"] is True, cwhere
            assert csc["capabilities"]["drop"] == ["ALL"], cwhere
            assert not csc["capabilities"].get("add"), cwhere
            assert not csc.get("privileged"), cwhere
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), f"{cwhere}: resources.{part}"
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            volumes = {v["name"] for v in pod.get("volumes", [])}
            claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
            assert mounts <= volumes | claims, cwhere


def test_postgresql_uid_and_writable_dirs() -> None:
    sts = one(objects_of("defaults"), "StatefulSet", "omendb-postgresql")
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["automountServiceAccountToken"] is False
    c = pod["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert mounts["/var/run/postgresql"] in empty_dirs and mounts["/tmp"] in empty_dirs
    assert mounts["/var/lib/postgresql/data"] == "data"
    env = env_map(c)
    assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "omendb-postgresql", "key": "password"}
    assert c["image"] == "docker.io/library/postgres:15"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    # volumeClaimTemplates are immutable: no label that changes with a chart or app version.
    assert not {"helm.sh/chart", "app.kubernetes.io/version"} & set(claim["metadata"].get("labels", {}))
    svc = one(objects_of("defaults"), "Service", sts["spec"]["serviceName"])
    assert svc["spec"]["clusterIP"] == "None"
    custom = one(objects_of("scheduling-and-image"), "StatefulSet", "omendb-postgresql")
    (claim,) = custom["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast"


# ----------------------------------------------------------------------------------------------------- RBAC


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rbac_has_no_wildcards_exec_or_rbac_writes(variant: str) -> None:
    roles = [o for o in objects_of(variant) if o["kind"] in ("Role", "ClusterRole")]
    if variant != "operator-only":
        assert roles
    for role in roles:
        assert "aggregationRule" not in role
        for rule in role["rules"]:
            where = f"{role['kind']}/{role['metadata']['name']}: {rule}"
            for field in ("verbs", "resources", "apiGroups", "resourceNames", "nonResourceURLs"):
                assert not any("*" in x for x in rule.get(field, [])), where
            assert "nonResourceURLs" not in rule, where
            assert "pods/exec" not in rule["resources"] and "pods/attach" not in rule["resources"], where
            assert "rbac.authorization.k8s.io" not in rule["apiGroups"], where
            assert set(rule["verbs"]) <= set(ALL_VERBS_RW), where  # no escalate, bind, impersonate, deletecollection


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_bindings_point_at_rendered_roles_and_service_accounts(variant: str) -> None:
    objs = objects_of(variant)
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs if o["kind"] in ("Role", "ClusterRole")}
    sas = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in by_kind(objs, "ServiceAccount")}
    for b in by_kind(objs, "RoleBinding") + by_kind(objs, "ClusterRoleBinding"):
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], ns, ref["name"]) in roles, f"{b['metadata']['name']} -> {ref}"
        for s in b["subjects"]:
            assert s["kind"] == "ServiceAccount" and (s["namespace"], s["name"]) in sas
    for w in workloads(objs):
        sa = w["spec"]["template"]["spec"].get("serviceAccountName")
        if sa:
            assert (w["metadata"]["namespace"], sa) in sas


def test_operator_rbac_cluster_wide() -> None:
    objs = objects_of("defaults")
    assert [r["metadata"]["name"] for r in by_kind(objs, "Role")] == ["omendb-control-plane"]
    main = one(objs, "ClusterRole", f"{NAMESPACE}-omendb-operator")
    assert rules_as_set(main["rules"]) == OPERATOR_RULES
    crd = one(objs, "ClusterRole", f"{NAMESPACE}-omendb-operator-crd-read")
    assert rules_as_set(crd["rules"]) == CRD_READ_RULES
    binding = one(objs, "ClusterRoleBinding", f"{NAMESPACE}-omendb-operator")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "omendb-operator", "namespace": NAMESPACE}]


def test_operator_rbac_namespaced() -> None:
    objs = objects_of("namespaced")
    cluster_roles = by_kind(objs, "ClusterRole")
    assert [r["metadata"]["name"] for r in cluster_roles] == [f"{NAMESPACE}-omendb-operator-crd-read"]
    assert rules_as_set(cluster_roles[0]["rules"]) == CRD_READ_RULES
    assert [b["metadata"]["name"] for b in by_kind(objs, "ClusterRoleBinding")] == [f"{NAMESPACE}-omendb-operator-crd-read"]
    role = one(objs, "Role", "omendb-operator")
    assert role["metadata"]["namespace"] == "omendb-tenants"
    assert rules_as_set(role["rules"]) == OPERATOR_RULES
    binding = one(objs, "RoleBinding", "omendb-operator")
    assert binding["metadata"]["namespace"] == "omendb-tenants"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "omendb-operator"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "omendb-operator", "namespace": NAMESPACE}]


@pytest.mark.parametrize(
    ("variant", "tenant_ns"),
    [("defaults", NAMESPACE), ("namespaced", "omendb-tenants"), ("tenants-namespace", "omendb-tenants")],
)
def test_control_plane_role_only_touches_its_resources(variant: str, tenant_ns: str) -> None:
    objs = objects_of(variant)
    role = one(objs, "Role", "omendb-control-plane")
    assert role["metadata"]["namespace"] == tenant_ns
    assert rules_as_set(role["rules"]) == CONTROL_PLANE_RULES
    binding = one(objs, "RoleBinding", "omendb-control-plane")
    assert binding["metadata"]["namespace"] == tenant_ns
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "omendb-control-plane", "namespace": NAMESPACE}]
    # Nothing cluster-wide is bound to the control plane.
    for b in by_kind(objs, "ClusterRoleBinding"):
        assert all(s["name"] != "omendb-control-plane" for s in b["subjects"])
    env = env_map(container(objs, "omendb-control-plane", "control-plane"))
    assert env["OMENDB_CP_TENANT_NAMESPACE"]["value"] == tenant_ns


# --------------------------------------------------------------------------------------- operator contract


@pytest.mark.parametrize("variant", sorted(set(VARIANTS) - {"scheduling-and-image"}))
def test_operator_args(variant: str) -> None:
    objs = objects_of(variant)
    dep = one(objs, "Deployment", "omendb-operator")
    assert dep["spec"]["replicas"] == 1
    c = container(objs, "omendb-operator", "operator")
    watch = VARIANTS[variant].get("operator", {}).get("watchNamespace", "")
    expected = ["operator", "--http-listen", "0.0.0.0:8081"]
    if watch:
        expected += ["--namespace", watch]
    expected += ["--tenant-image", IMAGE]
    assert c["args"] == expected
    assert c["args"].count("--namespace") == (1 if watch else 0)
    assert c["image"] == IMAGE
    assert c["ports"] == [{"name": "http", "containerPort": 8081, "protocol": "TCP"}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "omendb-operator"


def test_one_image_everywhere() -> None:
    objs = objects_of("scheduling-and-image")
    image = "registry.example.com/omendb:1.2.3"
    op = container(objs, "omendb-operator", "operator")
    cp = container(objs, "omendb-control-plane", "control-plane")
    assert op["image"] == cp["image"] == image
    assert op["imagePullPolicy"] == cp["imagePullPolicy"] == "Always"
    assert op["args"][op["args"].index("--tenant-image") + 1] == image
    assert env_map(cp)["OMENDB_CP_TENANT_IMAGE"]["value"] == image
    assert env_map(op)["RUST_LOG"]["value"] == "debug"
    for w in workloads(objs):
        assert w["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert one(objs, "Deployment", "omendb-operator")["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_operator_only_renders_no_control_plane_or_database() -> None:
    objs = objects_of("operator-only")
    components = {o["metadata"]["labels"]["app.kubernetes.io/component"] for o in objs}
    assert components == {"operator"}
    assert "console" not in notes_of("operator-only")


# ----------------------------------------------------------------------------------- control-plane contract


@pytest.mark.parametrize(
    ("variant", "secret", "key"),
    [
        ("defaults", "omendb-postgresql", "database-url"),
        ("external-db-url", "omendb-database", "database-url"),
        ("external-db-secret", "metadata-db", "url"),
    ],
)
def test_control_plane_env(variant: str, secret: str, key: str) -> None:
    objs = objects_of(variant)
    c = container(objs, "omendb-control-plane", "control-plane")
    assert c["args"] == ["control-plane", "--listen", "0.0.0.0:8080"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    env = env_map(c)
    assert env["DATABASE_URL"] == {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    assert env["OMENDB_CP_PROVISIONER"]["value"] == "kubernetes"
    assert env["OMENDB_CP_SIGNING_KEY_FILE"]["value"] == "/etc/omendb/jwt/signing-key.pem"
    assert env["OMENDB_CP_TENANT_IMAGE"]["value"] == IMAGE
    assert env["OMENDB_CP_CONSOLE_ORIGIN"]["value"] == ""
    assert env["OMENDB_CP_DATA_DIR"]["value"] == "/var/lib/omendb"
    assert not [n for n in env if n.startswith("STRIPE")], "billing is off: no Stripe env"
    assert set(env) == {
        "DATABASE_URL", "OMENDB_CP_SIGNING_KEY_FILE", "OMENDB_CP_PROVISIONER", "OMENDB_CP_TENANT_NAMESPACE",
        "OMENDB_CP_TENANT_IMAGE", "OMENDB_CP_CONSOLE_ORIGIN", "OMENDB_CP_DATA_DIR",
    }
    pod = one(objs, "Deployment", "omendb-control-plane")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/var/lib/omendb"]["name"]]
    jwt = mounts["/etc/omendb/jwt"]
    assert jwt["readOnly"] is True
    assert volumes[jwt["name"]]["secret"]["secretName"] == "omendb-jwt"
    assert volumes[jwt["name"]]["secret"]["items"] == [{"key": "signing-key.pem", "path": "signing-key.pem"}]
    # The Secret DATABASE_URL names is rendered by the chart unless it is the user's own.
    if secret != "metadata-db":
        url = b64(one(objs, "Secret", secret)["data"][key])
        assert url.startswith("postgres://")
    else:
        assert not [s for s in by_kind(objs, "Secret") if s["metadata"]["name"] == "metadata-db"]
    if variant != "defaults":
        assert not by_kind(objs, "StatefulSet")


def test_trusted_proxies_reach_the_control_plane() -> None:
    env = env_map(container(objects_of("ingress"), "omendb-control-plane", "control-plane"))
    assert env["OMENDB_CP_TRUSTED_PROXIES"]["value"] == "10.0.0.0/8,192.0.2.7"


def test_external_db_url_secret() -> None:
    secret = one(objects_of("external-db-url"), "Secret", "omendb-database")
    assert b64(secret["data"]["database-url"]) == VARIANTS["external-db-url"]["externalDatabase"]["url"]


def test_bundled_postgresql_secret() -> None:
    objs = objects_of("defaults")
    secret = one(objs, "Secret", "omendb-postgresql")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    password = b64(secret["data"]["password"])
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)
    assert b64(secret["data"]["database-url"]) == (
        f"postgres://omendb:{password}@omendb-postgresql:5432/omendb?sslmode=disable"
    )
    # A fresh render (no cluster: `lookup` finds nothing) draws a new password.
    other = b64(next(d for d in yaml.safe_load_all(render_raw()["omendb/templates/postgresql/secret.yaml"]) if d)["data"]["password"])
    assert other != password


def test_generated_jwt_key_is_ed25519_pkcs8() -> None:
    secret = one(objects_of("defaults"), "Secret", "omendb-jwt")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pem = b64(secret["data"]["signing-key.pem"])
    m = re.fullmatch(r"-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=\n]+)-----END PRIVATE KEY-----\n?", pem)
    assert m, pem
    der = base64.b64decode(m.group(1))
    # PKCS#8 OneAsymmetricKey, version 0, algorithm id-Ed25519 (1.3.101.112), a 32-byte key.
    assert der[:16] == bytes.fromhex("302e020100300506032b657004220420") and len(der) == 48


def test_jwt_existing_secret() -> None:
    objs = objects_of("jwt-existing-secret")
    assert not [s for s in by_kind(objs, "Secret") if s["metadata"]["name"] == "omendb-jwt"]
    pod = one(objs, "Deployment", "omendb-control-plane")["spec"]["template"]["spec"]
    jwt = next(v for v in pod["volumes"] if "secret" in v)
    assert jwt["secret"]["secretName"] == "my-jwt"
    assert jwt["secret"]["items"] == [{"key": "signing-key.pem", "path": "signing-key.pem"}]


@pytest.mark.parametrize(("variant", "secret"), [("billing-existing-secret", "stripe"), ("billing-values", "omendb-billing")])
def test_billing_env(variant: str, secret: str) -> None:
    objs = objects_of(variant)
    env = env_map(container(objs, "omendb-control-plane", "control-plane"))
    assert env["STRIPE_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "secret-key"}
    assert env["STRIPE_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "webhook-secret"}
    assert env["OMENDB_STRIPE_PRICE_PRO"]["value"] == "price_pro"
    assert env["OMENDB_STRIPE_PRICE_ENTERPRISE"]["value"] == "price_ent"
    if variant == "billing-values":
        assert env["OMENDB_BILLING_RETURN_URL"]["value"] == "https://console.example.com/billing"
    else:
        assert "OMENDB_BILLING_RETURN_URL" not in env
    chart_secrets = {s["metadata"]["name"]: s for s in by_kind(objs, "Secret")}
    if secret == "omendb-billing":
        data = chart_secrets[secret]["data"]
        assert b64(data["secret-key"]) == "sk_test_abc" and b64(data["webhook-secret"]) == "whsec_abc"
    else:
        assert "omendb-billing" not in chart_secrets and "stripe" not in chart_secrets
    assert "every plan is free" not in notes_of(variant)


def test_no_billing_secret_or_env_when_off() -> None:
    for variant in ("defaults", "namespaced", "ingress"):
        objs = objects_of(variant)
        assert not [s for s in by_kind(objs, "Secret") if "billing" in s["metadata"]["name"]]
        env = env_map(container(objs, "omendb-control-plane", "control-plane"))
        assert not [n for n in env if "STRIPE" in n or "BILLING" in n]
        assert "every plan is free" in notes_of(variant)


def test_service_and_ingress() -> None:
    objs = objects_of("defaults")
    assert not by_kind(objs, "Ingress")
    svc = one(objs, "Service", "omendb-control-plane")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    objs = objects_of("ingress")
    ing = one(objs, "Ingress", "omendb-control-plane")
    assert ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"hosts": ["omendb.example.com"], "secretName": "omendb-tls"}]
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "omendb.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "omendb-control-plane", "port": {"name": "http"}}
    assert ing["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    env = env_map(container(objs, "omendb-control-plane", "control-plane"))
    assert env["OMENDB_CP_CONSOLE_ORIGIN"]["value"] == "https://console.example.com"


def test_notes() -> None:
    notes = notes_of("defaults")
    assert f"kubectl --namespace {NAMESPACE} port-forward svc/omendb-control-plane 8080:80" in notes
    assert "/v1/auth/signup" in notes and "POST \"$OMENDB_URL/v1/databases\"" in notes
    assert "psql" in notes and "connection_string" in notes
    ingress = notes_of("ingress")
    assert "export OMENDB_URL=https://omendb.example.com" in ingress and "port-forward" not in ingress


# ------------------------------------------------------------------------------------------------------ CRD


def test_crd_dir_holds_only_the_generated_crd() -> None:
    assert (CHART_DIR / "crds" / "DO_NOT_EDIT.md").is_file()
    manifests = [p.name for p in (CHART_DIR / "crds").iterdir() if p.suffix in (".yaml", ".yml", ".json")]
    assert set(manifests) <= {CRD_FILE.name}, f"hand-written files in crds/: {manifests}"
    # What Helm installs from crds/: the generated CRD once it exists, never DO_NOT_EDIT.md.
    expected = [f"crds/{CRD_FILE.name}"] if CRD_FILE.exists() else []
    assert [c["name"] for c in chart().crds] == expected


def test_generated_crd_is_valid() -> None:
    if not CRD_FILE.exists():
        pytest.skip(f"{CRD_FILE} is not generated yet (`omendb operator crd > ...`): CRD checks skipped")
    docs = [d for d in yaml.safe_load_all(CRD_FILE.read_text()) if d]
    assert len(docs) == 1
    crd = docs[0]
    kubernetes_validate.validate(crd, KUBE_VERSION, strict=True)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1" and crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == "omendatabases.omendb.io"
    spec = crd["spec"]
    assert spec["group"] == "omendb.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "OmenDatabase" and spec["names"]["plural"] == "omendatabases"
    versions = {v["name"]: v for v in spec["versions"]}
    assert versions["v1alpha1"]["served"] is True and versions["v1alpha1"]["storage"] is True
    assert "openAPIV3Schema" in versions["v1alpha1"]["schema"]
