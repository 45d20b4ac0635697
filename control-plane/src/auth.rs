//! Authentication: Argon2id passwords, Ed25519-signed access JWTs with their JWKS, opaque refresh tokens
//! and API keys (stored hashed), and the extractor that turns a request into a `Principal`.

pub mod jwt;
pub mod password;
pub mod principal;
pub mod scopes;
pub mod secrets;

pub use jwt::Keys;
pub use principal::Principal;
