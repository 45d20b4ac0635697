//! Opaque secrets handed to clients (refresh tokens, API keys, tenant passwords) and how they are stored:
//! 256 random bits, url-safe; only their SHA-256 is kept, which is enough for values this random.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Prefix of API keys, so they are recognisable in logs and by secret scanners.
pub const API_KEY_PREFIX: &str = "omk_";

pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token())
}

pub fn sha256_hex(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A secret held in memory (a SCRAM verifier, a password hash): secrecy's `SecretString`, so no `Debug`,
/// log line or panic prints it, plus the value equality the fleet needs to diff specs.
#[derive(Clone, Debug, Default)]
pub struct Sealed(SecretString);

impl Sealed {
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Sealed {
    fn eq(&self, other: &Sealed) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Sealed {}

impl From<String> for Sealed {
    fn from(s: String) -> Sealed {
        Sealed(s.into())
    }
}

impl From<&str> for Sealed {
    fn from(s: &str) -> Sealed {
        Sealed(s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_compare_but_never_print() {
        let a = Sealed::from("SCRAM-SHA-256$4096:c2FsdA==$hunter2");
        assert_eq!(
            a,
            Sealed::from("SCRAM-SHA-256$4096:c2FsdA==$hunter2".to_string())
        );
        assert_ne!(a, Sealed::from("other"));
        assert!(!format!("{a:?} {a:#?}").contains("hunter2"));
    }
}
