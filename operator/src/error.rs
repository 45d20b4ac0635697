//! The operator's one error type. `Invalid` is permanent (wait for the user to change the spec); the rest
//! are transient (requeue). `metric_label` is a fixed string per variant, never a payload.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid spec: {0}")]
    Invalid(String),
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("serialisation: {0}")]
    Serde(#[from] serde_json::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_spec",
            Error::Kube(_) => "kube_api",
            Error::Finalizer(e) => match e.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.metric_label(),
                _ => "finalizer",
            },
            Error::Serde(_) => "serialisation",
            Error::Other(_) => "other",
        }
    }

    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Invalid(_) => true,
            Error::Finalizer(e) => matches!(
                e.as_ref(),
                kube::runtime::finalizer::Error::ApplyFailed(Error::Invalid(_))
            ),
            _ => false,
        }
    }
}
