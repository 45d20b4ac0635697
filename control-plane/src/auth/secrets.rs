//! Opaque secrets handed to clients (refresh tokens, API keys, tenant passwords) and how they are stored:
//! 256 random bits, url-safe; only their SHA-256 is kept, which is enough for values this random.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
