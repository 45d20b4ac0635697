//! The control plane's one error type. Every variant maps to an HTTP status and a stable `code` string that
//! clients (the console, scripts) switch on; internal causes are logged once here and never returned.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field of a request body.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is invalid")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    PaymentRequired(String),
    /// Stripe failed or timed out; the user may retry.
    #[error("{0}")]
    PaymentProvider(String),
    #[error("billing is off on this installation: every plan is available without payment")]
    BillingDisabled,
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The database is in a state that does not allow the operation (e.g. resume while ready).
    #[error("{0}")]
    InvalidState(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("provisioner: {0}")]
    Provisioner(String),
    #[error("metadata database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`, `quota_exceeded`.
    pub code: &'static str,
    pub message: String,
    /// Present for `validation_failed`: one entry per invalid field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::InvalidState(_) => StatusCode::CONFLICT,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            Error::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Error::PaymentProvider(_) => StatusCode::BAD_GATEWAY,
            Error::BillingDisabled => StatusCode::CONFLICT,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Config(_)
            | Error::Provisioner(_)
            | Error::Db(_)
            | Error::Migrate(_)
            | Error::Io(_)
            | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound => "not_found",
            Error::Conflict(_) => "conflict",
            Error::InvalidState(_) => "invalid_state",
            Error::Validation(_) => "validation_failed",
            Error::BadRequest(_) => "bad_request",
            Error::QuotaExceeded(_) => "quota_exceeded",
            Error::PaymentRequired(_) => "payment_required",
            Error::PaymentProvider(_) => "payment_provider_unavailable",
            Error::BillingDisabled => "billing_disabled",
            Error::RateLimited { .. } => "rate_limited",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            _ => "internal",
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Error {
        Error::Validation(vec![FieldError::new(field, message)])
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        // A payment provider's failure is not ours to hide: the user needs to know to retry.
        let message = if status.is_server_error() && !matches!(self, Error::PaymentProvider(_)) {
            tracing::error!("request failed: {self}");
            "internal error; the operator has been notified through the logs".to_string()
        } else {
            self.to_string()
        };
        let retry_after = match &self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        };
        let fields = match self {
            Error::Validation(f) => f,
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                fields,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"omendb\""),
            );
        }
        resp
    }
}
