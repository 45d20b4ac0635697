//! A fake Kubernetes API server for tests, on kube-rs's standard test double (`tower_test::mock`): it keeps
//! objects in memory (GET, LIST, POST, DELETE, server-side-apply and merge PATCH, the JSON-patch subset
//! finalizers use, the status subresource) and logs every call, so tests assert on what was sent.

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
                let (status, out) = me.answer(&method, &path, &query, body);
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
                let mut obj = objects.get(&key).cloned().unwrap_or(json!({}));
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
