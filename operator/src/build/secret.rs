//! The credentials Secret the operator generates when the control plane did not provide one: created once
//! (never applied again, so the password never changes under a running client).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use super::owned_meta;
use crate::tenant::Tenant;

pub const USER: &str = "owner";

/// `password` is random; `verifier` is its SCRAM-SHA-256 verifier (what the server checks).
pub fn build_credentials_secret(t: &Tenant, password: &str, verifier: &str) -> Secret {
    let host = t.host();
    let url = format!(
        "postgresql://{USER}:{password}@{host}:{}/{}?sslmode=prefer",
        crate::tenant::PG_PORT,
        t.database_name
    );
    Secret {
        metadata: owned_meta(t, t.credentials_secret.clone()),
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([
            ("username".into(), USER.into()),
            ("password".into(), password.into()),
            ("OMENDB_USER".into(), format!("{USER}:{verifier}")),
            ("uri".into(), url),
        ])),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fixtures::{MINIMAL, tenant};

    #[test]
    fn holds_the_verifier_for_the_server_and_the_password_for_the_user() {
        let t = tenant(MINIMAL);
        let s = build_credentials_secret(&t, "pw123", "SCRAM-SHA-256$4096:abc");
        assert_eq!(s.metadata.name.as_deref(), Some("fixture-db-credentials"));
        assert_eq!(s.metadata.namespace.as_deref(), Some("ns-a"));
        let d = s.string_data.unwrap();
        assert_eq!(d["OMENDB_USER"], "owner:SCRAM-SHA-256$4096:abc");
        assert_eq!(d["password"], "pw123");
        assert!(d["uri"].starts_with("postgresql://owner:pw123@fixture-db.ns-a.svc:5432/sales"));
        assert_eq!(s.metadata.owner_references.unwrap()[0].name, "fixture-db");
    }
}
