//! Fuzzing the REST API's JSON bodies through the extractor every handler uses (`ValidJson`: content type,
//! strict parsing, per-field validation), with a larger budget under `scripts/test` (`OMENDB_FUZZ_CASES`).
//! Whatever arrives, the answer is a client error naming what is wrong, or a value that passed validation;
//! never a panic and never a 5xx. (schemathesis fuzzes the same bodies over HTTP against the OpenAPI
//! document; this reaches the corners it does not generate.) Failures are kept under `proptest-regressions/`.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::json::{ValidJson, Validate};
use crate::error::Error;

fn cases() -> u32 {
    std::env::var("OMENDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// What the extractor makes of `body` sent as `content_type`: `Ok` or the error it answers with.
fn extract<T: DeserializeOwned + Validate>(content_type: &str, body: Vec<u8>) -> Result<(), Error> {
    let req = Request::builder()
        .method("POST")
        .uri("/v1/anything")
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    futures::executor::block_on(ValidJson::<T>::from_request(req, &())).map(|_| ())
}

fn check<T: DeserializeOwned + Validate>(
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), TestCaseError> {
    if let Err(e) = extract::<T>(content_type, body) {
        prop_assert!(
            e.status().is_client_error(),
            "{} for a bad body: {e}",
            e.status()
        );
        if let Error::Validation(fields) = &e {
            prop_assert!(!fields.is_empty(), "a validation error names its fields");
        }
    }
    Ok(())
}

/// The field names our bodies have, and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "email",
            "password",
            "name",
            "plan",
            "scopes",
            "expires_at",
            "refresh_token",
        ])
        .prop_map(String::from),
        "[a-z_]{0,10}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "ada@example.com",
            "correct horse battery",
            "pro",
            "free",
            "enterprise",
            "read",
            "databases:write",
            "keys",
            "2999-01-01T00:00:00Z",
            "orders",
            "-a",
            "",
        ])
        .prop_map(Value::from),
        "\\PC{0,70}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn every_body(content_type: &str, body: &[u8]) -> Result<(), TestCaseError> {
    check::<super::accounts::Credentials>(content_type, body.to_vec())?;
    check::<super::accounts::Login>(content_type, body.to_vec())?;
    check::<super::api_keys::CreateApiKey>(content_type, body.to_vec())?;
    check::<super::databases::CreateDatabase>(content_type, body.to_vec())?;
    check::<super::databases::UpdateDatabase>(content_type, body.to_vec())?;
    check::<super::billing::CheckoutBody>(content_type, body.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fuzz_json_bodies(object in prop::collection::btree_map(key(), json_value(), 0..6)) {
        let body = serde_json::to_vec(&object).unwrap();
        every_body("application/json", &body)?;
    }

    #[test]
    fn fuzz_raw_bodies(
        body in prop::collection::vec(any::<u8>(), 0..300),
        content_type in prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "text/plain", "", "APPLICATION/JSON",
        ]),
    ) {
        every_body(content_type, &body)?;
    }
}
