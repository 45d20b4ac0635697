//! SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL speaks it, with PostgreSQL's stored verifier format:
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Only the verifier is ever kept, so a
//! leaked config file or metadata row does not leak a password (nor anything a client can log in with).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// PostgreSQL's default iteration count.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// A password for a generated database role: 32 letters and digits (about 186 bits), without look-alike
/// characters, so it needs no escaping in a connection URL.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let bytes: [u8; 32] = rand::random();
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A stored SCRAM-SHA-256 secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(SCRAM-SHA-256, redacted)")
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

fn keys(salted: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let client_key = hmac(salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    (stored_key, hmac(salted, b"Server Key"))
}

impl Verifier {
    /// Derives a verifier from a password with a fresh random salt.
    pub fn new(password: &str, iterations: u32) -> Verifier {
        let salt: [u8; 16] = rand::random();
        Self::with_salt(password, &salt, iterations)
    }

    pub fn with_salt(password: &str, salt: &[u8], iterations: u32) -> Verifier {
        // SASLprep is the identity for ASCII passwords, which is all we generate; PostgreSQL also falls back to
        // the raw bytes when normalisation fails.
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
        let (stored_key, server_key) = keys(&salted);
        Verifier {
            iterations,
            salt: salt.to_vec(),
            stored_key,
            server_key,
        }
    }

    /// A verifier no password matches, for unknown users: the exchange runs to the end and fails the same
    /// way as a wrong password, so a client cannot probe which users exist.
    pub fn decoy(user: &str) -> Verifier {
        let salt: [u8; 32] = Sha256::digest(format!("omendb-decoy:{user}")).into();
        Verifier {
            iterations: DEFAULT_ITERATIONS,
            salt: salt[..16].to_vec(),
            stored_key: rand::random(),
            server_key: rand::random(),
        }
    }

    pub fn parse(s: &str) -> Result<Verifier> {
        let bad = || {
            Error::Config("a user's secret must be a SCRAM-SHA-256 verifier (SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)".into())
        };
        let rest = s.strip_prefix("SCRAM-SHA-256$").ok_or_else(bad)?;
        let (params, keys) = rest.split_once('$').ok_or_else(bad)?;
        let (iters, salt) = params.split_once(':').ok_or_else(bad)?;
        let (stored, server) = keys.split_once(':').ok_or_else(bad)?;
        let key = |k: &str| -> Result<[u8; 32]> {
            B64.decode(k)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(bad)
        };
        Ok(Verifier {
            iterations: iters.parse().ok().filter(|i| *i >= 1).ok_or_else(bad)?,
            salt: B64.decode(salt).map_err(|_| bad())?,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }

    /// Whether `password` is the one this verifier was made from (for tools and tests, not the wire).
    pub fn matches(&self, password: &str) -> bool {
        let v = Self::with_salt(password, &self.salt, self.iterations);
        constant_time_eq(&v.stored_key, &self.stored_key)
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The mechanism names a server offers.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// What the connection can bind the exchange to.
#[derive(Clone, Copy, Debug)]
pub enum Channel<'a> {
    /// No TLS: nothing to bind to.
    Plain,
    /// TLS, with the `tls-server-end-point` data of the certificate this server presents.
    Tls(&'a [u8]),
}

impl Channel<'_> {
    /// The mechanisms to offer, best first (PostgreSQL offers -PLUS only over TLS).
    pub fn mechanisms(&self) -> Vec<String> {
        match self {
            Channel::Plain => vec![SCRAM_SHA_256.into()],
            Channel::Tls(_) => vec![SCRAM_SHA_256_PLUS.into(), SCRAM_SHA_256.into()],
        }
    }
}

/// Server side of one exchange, after the client-first message.
#[derive(Debug)]
pub struct Exchange {
    verifier: Verifier,
    gs2_header: String,
    /// What `c=` must carry after the gs2 header: the end-point hash when the client bound to it.
    binding_data: Vec<u8>,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Why an exchange failed: a malformed message (protocol violation) or a wrong password.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    Malformed(String),
    WrongPassword,
    /// A downgrade or a mismatch of channel binding (28000 in PostgreSQL).
    Binding(String),
}

fn malformed(msg: &str) -> Failure {
    Failure::Malformed(format!("malformed SCRAM message ({msg})"))
}

impl Exchange {
    /// Parses client-first (`n,,n=user,r=nonce`, or `p=tls-server-end-point,,...` with `mechanism`
    /// SCRAM-SHA-256-PLUS) and returns the exchange and server-first. The channel-binding rules are
    /// PostgreSQL's: -PLUS only over TLS and only with `p=`; `y` (the client could bind but thinks we
    /// cannot) over TLS means someone stripped -PLUS from our offer, and fails.
    pub fn start(
        client_first: &[u8],
        verifier: Verifier,
        mechanism: &str,
        channel: Channel<'_>,
    ) -> std::result::Result<(Exchange, String), Failure> {
        let plus = match (mechanism, channel) {
            (SCRAM_SHA_256, _) => false,
            (SCRAM_SHA_256_PLUS, Channel::Tls(_)) => true,
            _ => {
                return Err(Failure::Malformed(format!(
                    "client selected an invalid SASL authentication mechanism {mechanism:?}"
                )));
            }
        };
        let msg = std::str::from_utf8(client_first).map_err(|_| malformed("not UTF-8"))?;
        // gs2-header: channel-binding flag, then an optional authzid, each followed by a comma.
        let mut parts = msg.splitn(3, ',');
        let cbind = parts.next().ok_or_else(|| malformed("empty"))?;
        let authzid = parts.next().ok_or_else(|| malformed("no gs2 header"))?;
        let bare = parts
            .next()
            .ok_or_else(|| malformed("no client-first-bare"))?;
        let binding_data = match (cbind, plus, channel) {
            ("n", false, _) | ("y", false, Channel::Plain) => Vec::new(),
            ("y", false, Channel::Tls(_)) => {
                return Err(Failure::Binding(
                    "SCRAM channel binding negotiation error: the client supports SCRAM channel \
                     binding but thinks the server does not; this server does support it"
                        .into(),
                ));
            }
            ("n" | "y", true, _) => {
                return Err(Failure::Malformed(
                    "the client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include \
                     channel binding data"
                        .into(),
                ));
            }
            (c, false, _) if c.starts_with("p=") => {
                return Err(Failure::Malformed(
                    "the client selected SCRAM-SHA-256 without channel binding, but the SCRAM message \
                     includes channel binding data"
                        .into(),
                ));
            }
            ("p=tls-server-end-point", true, Channel::Tls(data)) => data.to_vec(),
            (c, true, _) if c.starts_with("p=") => {
                return Err(Failure::Malformed(format!(
                    "unsupported SCRAM channel-binding type {:?}",
                    &c[2..]
                )));
            }
            _ => return Err(malformed("bad channel-binding flag")),
        };
        if !authzid.is_empty() {
            return Err(malformed("authorization identities are not supported"));
        }
        let client_nonce = bare
            .split(',')
            .find_map(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','))
            .ok_or_else(|| malformed("no nonce"))?;
        let server_nonce: [u8; 18] = rand::random();
        let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&verifier.salt),
            verifier.iterations
        );
        Ok((
            Exchange {
                verifier,
                gs2_header: format!("{cbind},{authzid},"),
                binding_data,
                client_first_bare: bare.to_string(),
                server_first: server_first.clone(),
                nonce,
            },
            server_first,
        ))
    }

    /// Checks client-final (`c=...,r=...,p=proof`); on success returns server-final (`v=signature`).
    pub fn finish(self, client_final: &[u8]) -> std::result::Result<String, Failure> {
        let msg = std::str::from_utf8(client_final).map_err(|_| malformed("not UTF-8"))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or_else(|| malformed("no proof"))?;
        let mut binding = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(v) = attr.strip_prefix("c=") {
                binding = Some(v);
            } else if let Some(v) = attr.strip_prefix("r=") {
                nonce = Some(v);
            }
        }
        let mut expected = self.gs2_header.clone().into_bytes();
        expected.extend_from_slice(&self.binding_data);
        if binding != Some(B64.encode(&expected).as_str()) {
            // Over TLS with -PLUS this is the relay a man in the middle would do.
            return Err(if self.binding_data.is_empty() {
                malformed("channel binding does not match")
            } else {
                Failure::Binding("SCRAM channel binding check failed".into())
            });
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(malformed("nonce does not match"));
        }
        let proof: [u8; 32] = B64
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| malformed("bad proof"))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac(&self.verifier.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; 32];
        for i in 0..32 {
            client_key[i] = proof[i] ^ signature[i];
        }
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        if !constant_time_eq(&stored, &self.verifier.stored_key) {
            return Err(Failure::WrongPassword);
        }
        let server_signature = hmac(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client half, as libpq computes it (without channel binding).
    fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
        client_final_bound(password, client_first_bare, server_first, b"n,,")
    }

    /// With `cbind_input` (gs2 header and binding data) as `c=`.
    fn client_final_bound(
        password: &str,
        client_first_bare: &str,
        server_first: &str,
        cbind_input: &[u8],
    ) -> String {
        let attrs: Vec<&str> = server_first.split(',').collect();
        let nonce = attrs[0].strip_prefix("r=").unwrap();
        let salt = B64.decode(attrs[1].strip_prefix("s=").unwrap()).unwrap();
        let iters: u32 = attrs[2].strip_prefix("i=").unwrap().parse().unwrap();
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iters, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c={},r={nonce}", B64.encode(cbind_input));
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let sig = hmac(&stored, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
        format!("{without_proof},p={}", B64.encode(proof))
    }

    #[test]
    fn verifier_round_trips_through_its_text_form() {
        let v = Verifier::new("pencil", 4096);
        let parsed = Verifier::parse(&v.to_string()).unwrap();
        assert_eq!(parsed, v);
        assert!(parsed.matches("pencil"));
        assert!(!parsed.matches("pencil "));
        assert!(!format!("{v:?}").contains(&B64.encode(v.stored_key)));
    }

    #[test]
    fn derivation_depends_on_password_and_salt_only() {
        // Interop with libpq is checked over the wire by the psql and driver tests.
        let v = Verifier::with_salt("secret", b"omendb-salt-0001", 4096);
        let again = Verifier::with_salt("secret", b"omendb-salt-0001", 4096);
        assert_eq!(v, again);
        assert_ne!(v, Verifier::with_salt("secret", b"omendb-salt-0002", 4096));
    }

    #[test]
    fn right_password_passes_and_wrong_one_fails() {
        let v = Verifier::new("pencil", 4096);
        let bare = "n=,r=rOprNGfwEbeRWgbNEkqO";
        let (ex, server_first) = Exchange::start(
            format!("n,,{bare}").as_bytes(),
            v.clone(),
            SCRAM_SHA_256,
            Channel::Plain,
        )
        .unwrap();
        let fin = client_final("pencil", bare, &server_first);
        let server_final = ex.finish(fin.as_bytes()).unwrap();
        assert!(server_final.starts_with("v="));

        let (ex, server_first) = Exchange::start(
            format!("n,,{bare}").as_bytes(),
            v,
            SCRAM_SHA_256,
            Channel::Plain,
        )
        .unwrap();
        let fin = client_final("wrong", bare, &server_first);
        assert_eq!(ex.finish(fin.as_bytes()), Err(Failure::WrongPassword));
    }

    #[test]
    fn malformed_messages_are_rejected_not_panicked_on() {
        let v = Verifier::new("pencil", 4096);
        for bad in [
            &b""[..],
            b"n",
            b"x,,n=,r=abc",
            b"n,,n=",
            b"p=tls-server-end-point,,n=,r=a",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(
                    Exchange::start(bad, v.clone(), SCRAM_SHA_256, Channel::Plain),
                    Err(Failure::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        let (ex, _) = Exchange::start(b"n,,n=,r=abc", v, SCRAM_SHA_256, Channel::Plain).unwrap();
        assert!(matches!(
            ex.finish(b"c=biws,r=wrong,p=AAAA"),
            Err(Failure::Malformed(_))
        ));
    }

    #[test]
    fn channel_binding_binds_to_the_certificate_and_refuses_downgrades() {
        let v = Verifier::new("pencil", 4096);
        let ours: &[u8] = &[7u8; 32];
        let tls = Channel::Tls(ours);
        let bare = "n=,r=rOprNGfwEbeRWgbNEkqO";
        let gs2 = "p=tls-server-end-point,,";
        let start = |first: String, mech: &str, ch: Channel<'_>| {
            Exchange::start(first.as_bytes(), v.clone(), mech, ch)
        };
        // Bound to our certificate: passes.
        let (ex, sf) = start(format!("{gs2}{bare}"), SCRAM_SHA_256_PLUS, tls).unwrap();
        let input = [gs2.as_bytes(), ours].concat();
        let fin = client_final_bound("pencil", bare, &sf, &input);
        assert!(ex.finish(fin.as_bytes()).unwrap().starts_with("v="));
        // Bound to another certificate (a relay through a man in the middle): refused, right password and all.
        let (ex, sf) = start(format!("{gs2}{bare}"), SCRAM_SHA_256_PLUS, tls).unwrap();
        let theirs = [gs2.as_bytes(), &[9u8; 32]].concat();
        let fin = client_final_bound("pencil", bare, &sf, &theirs);
        assert!(matches!(
            ex.finish(fin.as_bytes()),
            Err(Failure::Binding(_))
        ));
        // "y" over TLS: someone removed -PLUS from our offer.
        assert!(matches!(
            start(format!("y,,{bare}"), SCRAM_SHA_256, tls),
            Err(Failure::Binding(_))
        ));
        // "y" without TLS is fine, and so is "n" over TLS (a client that cannot bind).
        start(format!("y,,{bare}"), SCRAM_SHA_256, Channel::Plain).unwrap();
        start(format!("n,,{bare}"), SCRAM_SHA_256, tls).unwrap();
        // -PLUS without TLS, -PLUS without binding data, binding data without -PLUS, other binding types.
        for (first, mech, ch) in [
            (format!("{gs2}{bare}"), SCRAM_SHA_256_PLUS, Channel::Plain),
            (format!("n,,{bare}"), SCRAM_SHA_256_PLUS, tls),
            (format!("{gs2}{bare}"), SCRAM_SHA_256, tls),
            (format!("p=tls-unique,,{bare}"), SCRAM_SHA_256_PLUS, tls),
            (format!("n,,{bare}"), "SCRAM-SHA-1", tls),
        ] {
            assert!(
                matches!(start(first.clone(), mech, ch), Err(Failure::Malformed(_))),
                "{first} {mech}"
            );
        }
    }

    #[test]
    fn parse_rejects_plaintext_and_garbage() {
        for bad in [
            "pencil",
            "SCRAM-SHA-256$",
            "SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB",
            "md5abc",
        ] {
            assert!(Verifier::parse(bad).is_err(), "{bad}");
        }
    }
}
