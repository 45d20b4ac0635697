//! A fake Kubernetes API server for tests, on kube-rs's standard test double (`tower_test::mock`): it keeps
//! objects in memory (GET, LIST, POST, DELETE, server-side-apply and merge PATCH, the JSON-patch subset
//! finalizers use, the status subresource) and logs every call, so tests assert on what was sent.
//!
//! It refuses what a real API server refuses on update, with the same 422 and message (checked against
//! kube-apiserver 1.25's validation): a StatefulSet's spec beyond the fields that may change, and a
//! PersistentVolumeClaim's spec beyond `resources.requests` of a bound claim, or a request made smaller.
//! Seen through `as_identity`, it also authorizes every request as Kubernetes RBAC would, against the rules
//! of the Helm chart's own Roles (`chart_rules`), with the API server's 403.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct Fake {
    objects: Arc<Mutex<HashMap<String, Value>>>,
    calls: Arc<Mutex<Vec<Call>>>,
    /// Who the client's requests come from, and what RBAC lets them do (`None`: anything).
    identity: Option<Arc<Identity>>,
}

/// One RBAC policy rule, as a Role or ClusterRole lists it.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
}

struct Identity {
    user: String,
    rules: Vec<Rule>,
}

/// The rules of every Role and ClusterRole in one of the Helm chart's templates (a path under
/// `helm/omendb/templates`), for `Fake::as_identity`. The rule lists are plain YAML inside the template;
/// tests/helm checks that the rendered chart carries exactly these.
pub fn chart_rules(template: &str) -> Vec<Rule> {
    let path = format!(
        "{}/../helm/omendb/templates/{template}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut rules = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line != "rules:" {
            continue;
        }
        let mut block = String::new();
        while let Some(l) = lines.peek()
            && l.starts_with("  ")
        {
            block.push_str(l);
            block.push('\n');
            lines.next();
        }
        let parsed: Vec<Rule> =
            serde_yaml::from_str(&block).unwrap_or_else(|e| panic!("{path}: rules: {e}"));
        rules.extend(parsed);
    }
    assert!(!rules.is_empty(), "{path} has no rules");
    rules
}

/// What RBAC sees of a request: verb, API group, resource (with subresource), namespace, name.
fn attributes(method: &str, path: &str, query: &str) -> (String, String, String, String, String) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, mut rest) = match parts.first() {
        Some(&"api") => ("", &parts[2.min(parts.len())..]),
        _ => (
            parts.get(1).copied().unwrap_or(""),
            &parts[3.min(parts.len())..],
        ),
    };
    let mut namespace = "";
    if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
        namespace = rest[1];
        rest = &rest[2..];
    }
    let resource = match (rest.first(), rest.get(2)) {
        (Some(r), Some(sub)) => format!("{r}/{sub}"),
        (Some(r), None) => r.to_string(),
        _ => String::new(),
    };
    let name = rest.get(1).copied().unwrap_or("");
    let verb = match (method, name.is_empty()) {
        ("GET", false) => "get",
        ("GET", true) if query.contains("watch=true") => "watch",
        ("GET", true) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "delete",
        ("DELETE", true) => "deletecollection",
        _ => "unknown",
    };
    (
        verb.into(),
        group.into(),
        resource,
        namespace.into(),
        name.into(),
    )
}

impl Identity {
    /// `None` when allowed, else the API server's 403.
    fn refuse(&self, method: &str, path: &str, query: &str) -> Option<(StatusCode, Value)> {
        let (verb, group, resource, namespace, name) = attributes(method, path, query);
        let allowed = self.rules.iter().any(|r| {
            r.api_groups.contains(&group)
                && r.resources.contains(&resource)
                && r.verbs.contains(&verb)
                && (r.resource_names.is_empty() || r.resource_names.contains(&name))
        });
        if allowed {
            return None;
        }
        let what = if name.is_empty() {
            format!("{resource} is forbidden")
        } else {
            format!("{resource} \"{name}\" is forbidden")
        };
        let scope = if namespace.is_empty() {
            " at the cluster scope".to_string()
        } else {
            format!(" in the namespace \"{namespace}\"")
        };
        let message = format!(
            "{what}: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{group}\"{scope}",
            self.user
        );
        Some((
            StatusCode::FORBIDDEN,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                   "reason": "Forbidden", "details": {"name": name, "kind": resource}, "code": 403}),
        ))
    }
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
    )
}

impl Fake {
    /// The same objects, seen by a client whose requests RBAC authorizes against `rules`, as `user` (for
    /// example `system:serviceaccount:omendb:omendb-control-plane`).
    pub fn as_identity(&self, user: &str, rules: Vec<Rule>) -> Fake {
        Fake {
            identity: Some(Arc::new(Identity {
                user: user.into(),
                rules,
            })),
            ..self.clone()
        }
    }

    pub fn client(&self) -> Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let method = req.method().to_string();
                let path = req.uri().path().to_string();
                let query = req.uri().query().unwrap_or("").to_string();
                let bytes = req.into_body().collect_bytes().await.unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                me.calls.lock().unwrap().push(Call {
                    method: method.clone(),
                    path: path.clone(),
                    query: query.clone(),
                    body: body.clone(),
                });
                let refused = me
                    .identity
                    .as_ref()
                    .and_then(|i| i.refuse(&method, &path, &query));
                let (status, out) =
                    refused.unwrap_or_else(|| me.answer(&method, &path, &query, body));
                send.send_response(
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&out).unwrap()))
                        .unwrap(),
                );
            }
        });
        Client::new(service, "default")
    }

    fn answer(&self, method: &str, path: &str, query: &str, body: Value) -> (StatusCode, Value) {
        let mut objects = self.objects.lock().unwrap();
        let (key, sub_status) = match path.strip_suffix("/status") {
            Some(base) => (base.to_string(), true),
            None => (path.to_string(), false),
        };
        match method {
            "GET" => {
                if let Some(o) = objects.get(&key) {
                    return (StatusCode::OK, o.clone());
                }
                // A collection: list what is under it.
                let items: Vec<Value> = objects
                    .iter()
                    .filter(|(k, _)| {
                        k.starts_with(&format!("{key}/")) && !k[key.len() + 1..].contains('/')
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                if path.ends_with('s') && !items.is_empty()
                    || path.ends_with("persistentvolumeclaims")
                {
                    return (
                        StatusCode::OK,
                        json!({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}),
                    );
                }
                not_found()
            }
            "POST" => {
                let name = body["metadata"]["name"]
                    .as_str()
                    .unwrap_or("generated")
                    .to_string();
                let key = format!("{path}/{name}");
                if objects.contains_key(&key) {
                    return (
                        StatusCode::CONFLICT,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "AlreadyExists", "code": 409, "message": "exists"}),
                    );
                }
                objects.insert(key, body.clone());
                (StatusCode::CREATED, body)
            }
            // Only server-side apply creates; other patches of a missing object are a 404.
            "PATCH" if !objects.contains_key(&key) && !query.contains("fieldManager") => {
                not_found()
            }
            "PATCH" => {
                let old = objects.get(&key).cloned();
                let mut obj = old.clone().unwrap_or(json!({}));
                if let Value::Array(ops) = &body {
                    json_patch(&mut obj, ops);
                } else if sub_status {
                    obj["status"] = body["status"].clone();
                } else {
                    let status = obj.get("status").cloned();
                    merge(&mut obj, &body);
                    if let Some(s) = status {
                        obj["status"] = s;
                    }
                }
                if let Some(old) = &old
                    && let Err(refused) = immutable(&key, old, &obj)
                {
                    return refused;
                }
                obj["metadata"]["resourceVersion"] = "1".into();
                objects.insert(key, obj.clone());
                (StatusCode::OK, obj)
            }
            "DELETE" => match objects.remove(&key) {
                Some(_) => (
                    StatusCode::OK,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}),
                ),
                None => not_found(),
            },
            _ => (StatusCode::METHOD_NOT_ALLOWED, Value::Null),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn clear_calls(&self) {
        self.calls.lock().unwrap().clear();
    }

    pub fn object(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }

    pub fn set(&self, path: &str, value: Value) {
        self.objects.lock().unwrap().insert(path.into(), value);
    }
}

fn invalid(kind: &str, name: &str, field: &str, detail: &str) -> (StatusCode, Value) {
    let message = format!("{kind} \"{name}\" is invalid: {field}: Forbidden: {detail}");
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,
               "message": message,
               "details": {"name": name, "kind": kind, "causes": [{"reason": "FieldValueForbidden", "field": field, "message": format!("Forbidden: {detail}")}]}}),
    )
}

/// The update rules of kube-apiserver's validation for the kinds whose specs are (partly) immutable.
fn immutable(key: &str, old: &Value, new: &Value) -> Result<(), (StatusCode, Value)> {
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    let without = |v: &Value, fields: &[&str]| {
        let mut spec = v["spec"].clone();
        if let Value::Object(m) = &mut spec {
            for f in fields {
                m.remove(*f);
            }
        }
        spec
    };
    if key.contains("/statefulsets/") {
        const MUTABLE: [&str; 6] = [
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
        ];
        if without(old, &MUTABLE) != without(new, &MUTABLE) {
            return Err(invalid(
                "StatefulSet.apps",
                name,
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', \
                 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
    if key.contains("/persistentvolumeclaims/") {
        let bound = old["status"]["phase"] == "Bound";
        let requests = |v: &Value| v["spec"]["resources"]["requests"].clone();
        let mut old_rest = old["spec"].clone();
        let mut new_rest = new["spec"].clone();
        if bound {
            for spec in [&mut old_rest, &mut new_rest] {
                if let Some(r) = spec.get_mut("resources").and_then(Value::as_object_mut) {
                    r.remove("requests");
                }
            }
        }
        if old_rest != new_rest {
            return Err(invalid(
                "PersistentVolumeClaim",
                name,
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        let gib = |v: &Value| {
            v["storage"]
                .as_str()
                .and_then(|q| q.strip_suffix("Gi"))
                .and_then(|g| g.parse::<u64>().ok())
        };
        if let (Some(o), Some(n)) = (gib(&requests(old)), gib(&requests(new)))
            && n < o
        {
            return Err(invalid(
                "PersistentVolumeClaim",
                name,
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            ));
        }
    }
    Ok(())
}

/// The JSON-patch subset kube's finalizer helper sends (add, replace, remove; test is trusted).
fn json_patch(obj: &mut Value, ops: &[Value]) {
    for op in ops {
        let path: Vec<&str> = op["path"]
            .as_str()
            .unwrap()
            .trim_start_matches('/')
            .split('/')
            .collect();
        let (last, parents) = path.split_last().unwrap();
        let mut target = &mut *obj;
        for p in parents {
            target = match target {
                Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
                other => other
                    .as_object_mut()
                    .unwrap()
                    .entry(p.to_string())
                    .or_insert(json!({})),
            };
        }
        match (op["op"].as_str().unwrap(), target) {
            ("remove", Value::Array(a)) => {
                a.remove(last.parse::<usize>().unwrap());
            }
            ("remove", Value::Object(m)) => {
                m.remove(*last);
            }
            ("add" | "replace", Value::Array(a)) if *last == "-" => a.push(op["value"].clone()),
            ("add" | "replace", Value::Object(m)) => {
                m.insert(last.to_string(), op["value"].clone());
            }
            _ => {}
        }
    }
}
