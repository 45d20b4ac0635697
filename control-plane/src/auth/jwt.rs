//! Access tokens: JWTs signed with Ed25519 (`alg: EdDSA`, pinned: no other algorithm is accepted), with
//! `kid`, issuer, audience and expiry checked on every request. The public key is served as a JWKS at
//! `/.well-known/jwks.json`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Account id.
    pub sub: String,
    pub org: String,
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct Keys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Public key, base64url: the JWK's `x`.
    x: String,
    issuer: String,
    audience: String,
    ttl_s: u64,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Reads the PKCS#8 PEM at `path`, creating it (mode 0600) with a fresh key when missing.
    pub fn load_or_create(path: &Path, issuer: &str, audience: &str, ttl_s: u64) -> Result<Keys> {
        let key = match std::fs::read_to_string(path) {
            Ok(pem) => SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                Error::Config(format!(
                    "{} is not an Ed25519 PKCS#8 key: {e}",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| Error::Internal(format!("encoding the signing key: {e}")))?;
                crate::files::write_private(path, pem.as_bytes())?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        Keys::from_signing_key(&key, issuer, audience, ttl_s)
    }

    pub fn from_signing_key(
        key: &SigningKey,
        issuer: &str,
        audience: &str,
        ttl_s: u64,
    ) -> Result<Keys> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| Error::Internal(format!("encoding the signing key: {e}")))?;
        let public = key.verifying_key().to_bytes();
        let x = URL_SAFE_NO_PAD.encode(public);
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]);
        Ok(Keys {
            kid,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_components(&x)
                .map_err(|e| Error::Internal(format!("public key: {e}")))?,
            x,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_s,
        })
    }

    pub fn ttl_s(&self) -> u64 {
        self.ttl_s
    }

    pub fn issue(&self, account_id: &str, org_id: &str, role: &str) -> Result<String> {
        let now = now_s();
        let claims = Claims {
            sub: account_id.into(),
            org: org_id.into(),
            role: role.into(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_s,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))
    }

    /// Checks signature, algorithm, `kid`, issuer, audience and expiry. Every failure is the same
    /// `Unauthorized` to the client; the reason is only for logs.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::Unauthorized("access token is malformed"))?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(Error::Unauthorized(
                "access token is not signed by this service",
            ));
        }
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Error::Unauthorized("access token has expired")
                }
                _ => Error::Unauthorized("access token is not valid"),
            })
    }

    /// The JWKS document: the one public key, in RFC 8037 form.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": self.x,
            }]
        })
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ttl: u64) -> Keys {
        Keys::from_signing_key(&SigningKey::from_bytes(&[7; 32]), "iss-a", "aud-a", ttl).unwrap()
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_claims() {
        let k = keys(60);
        let t = k.issue("acc_1", "org_1", "owner").unwrap();
        let c = k.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.org.as_str()), ("acc_1", "org_1"));
    }

    #[test]
    fn tampered_foreign_none_and_wrong_audience_tokens_are_refused() {
        let k = keys(60);
        let t = k.issue("acc_1", "org_1", "owner").unwrap();
        // Tampered payload: swap the subject, keep the signature.
        let parts: Vec<&str> = t.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = "acc_2".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert!(k.verify(&forged).is_err());
        // alg: none with no signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(k.verify(&none).is_err());
        // Signed by another key with the same kid claim is still refused (signature check).
        let other = Keys::from_signing_key(&SigningKey::from_bytes(&[8; 32]), "iss-a", "aud-a", 60)
            .unwrap();
        assert!(
            k.verify(&other.issue("acc_1", "org_1", "owner").unwrap())
                .is_err()
        );
        // Same key, other audience.
        let aud = Keys::from_signing_key(&SigningKey::from_bytes(&[7; 32]), "iss-a", "aud-b", 60)
            .unwrap();
        assert!(
            k.verify(&aud.issue("acc_1", "org_1", "owner").unwrap())
                .is_err()
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let k = keys(0);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(k.kid.clone());
        let claims = Claims {
            sub: "a".into(),
            org: "o".into(),
            role: "owner".into(),
            iss: "iss-a".into(),
            aud: "aud-a".into(),
            iat: 1,
            exp: now_s() - 60,
        };
        let t = jsonwebtoken::encode(&header, &claims, &k.encoding).unwrap();
        assert!(matches!(
            k.verify(&t),
            Err(Error::Unauthorized("access token has expired"))
        ));
    }
}
