//! The CRD in the Helm chart is generated from `src/crd.rs`; this fails when they drift. Regenerate with
//! `cargo run -- operator crd > helm/omendb/crds/omendatabases.omendb.io.yaml`.

use omendb_operator::crd::crd_yaml;

#[test]
fn committed_crd_matches_the_code() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../helm/omendb/crds/omendatabases.omendb.io.yaml"
    );
    let committed = std::fs::read_to_string(path).expect("the chart's CRD file");
    assert!(
        committed == crd_yaml(),
        "helm/omendb/crds/omendatabases.omendb.io.yaml is stale: run \
         `cargo run -- operator crd > helm/omendb/crds/omendatabases.omendb.io.yaml`"
    );
}

#[test]
fn the_schema_rejects_nonsense_at_the_api_server() {
    let crd: serde_json::Value = serde_yaml::from_str(&crd_yaml()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(
        spec["properties"]["tier"]["enum"],
        serde_json::json!(["free", "pro", "enterprise"])
    );
    assert_eq!(
        spec["properties"]["storageGib"]["minimum"].as_f64(),
        Some(1.0)
    );
    assert_eq!(
        spec["properties"]["storageGib"]["x-kubernetes-validations"][0]["rule"],
        "self >= oldSelf"
    );
    let required: Vec<&str> = spec["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for r in ["databaseName", "tier", "storageGib"] {
        assert!(required.contains(&r), "{r} must be required");
    }
    assert_eq!(
        crd["spec"]["versions"][0]["subresources"]["status"],
        serde_json::json!({})
    );
}
