//! Strict JSON bodies: `application/json` only, unknown fields refused, every type error named by its
//! field, then the request type's own `validate()`; all as JSON errors, never axum's plain-text ones.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::{Error, FieldError};

/// Field-level checks beyond what the types say (lengths, formats).
pub trait Validate {
    fn validate(&self) -> Vec<FieldError>;
}

#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(Error::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge("the request body is too large".into())
            } else {
                Error::BadRequest(format!("cannot read the request body: {e}"))
            }
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let value: T = match serde_path_to_error::deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    return Err(Error::BadRequest(format!(
                        "the body is not valid JSON: {inner}"
                    )));
                }
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                return Err(Error::Validation(vec![FieldError::new(
                    &field,
                    strip_position(&inner.to_string()),
                )]));
            }
        };
        let errors = value.validate();
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(ValidJson(value))
    }
}

/// serde_json appends " at line 1 column 17", which means nothing to someone reading a field error.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
