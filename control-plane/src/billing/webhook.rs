//! `Stripe-Signature` verification, done here rather than by async-stripe (whose helper hard-codes its
//! tolerance and keeps only the last `v1`): HMAC-SHA256 of `"{t}.{raw body}"` with the endpoint secret,
//! compared in constant time against every `v1` in the header (Stripe sends several while a secret is
//! being rolled), under any of our configured secrets, with the timestamp within the tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's recommended tolerance: five minutes either way.
pub const TOLERANCE_S: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Stripe-Signature header is malformed")]
    Malformed,
    #[error("Stripe-Signature timestamp is outside the {0} s tolerance")]
    Stale(i64),
    #[error("no Stripe-Signature v1 matches")]
    Mismatch,
}

/// Checks `header` (the `Stripe-Signature` value) for `body` (the raw request bytes) at `now` (unix
/// seconds) against any of `secrets`. Returns the signed timestamp.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[&str],
    now: i64,
    tolerance_s: i64,
) -> Result<i64, SignatureError> {
    let mut t: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(hex(v).ok_or(SignatureError::Malformed)?),
            // v0 (test mode, SHA-1 era) and future schemes are ignored, as Stripe documents.
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > tolerance_s {
        return Err(SignatureError::Stale(tolerance_s));
    }
    for secret in secrets {
        for sig in &signatures {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            // Constant-time comparison.
            if mac.verify_slice(sig).is_ok() {
                return Ok(t);
            }
        }
    }
    Err(SignatureError::Mismatch)
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Stripe computes, written independently of `verify`.
    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const NOW: i64 = 1_795_000_000;

    #[test]
    fn a_valid_signature_passes() {
        let h = format!("t={NOW},v1={}", sign("whsec_a", NOW, BODY));
        assert_eq!(
            verify(&h, BODY, &["whsec_a"], NOW + 10, TOLERANCE_S),
            Ok(NOW)
        );
    }

    #[test]
    fn wrong_secret_tampered_body_and_stale_or_future_timestamps_fail() {
        let h = format!("t={NOW},v1={}", sign("whsec_a", NOW, BODY));
        assert_eq!(
            verify(&h, BODY, &["whsec_b"], NOW, TOLERANCE_S),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &h,
                br#"{"id":"evt_1","type":"invoice.paid "}"#,
                &["whsec_a"],
                NOW,
                TOLERANCE_S
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&h, BODY, &["whsec_a"], NOW + 301, TOLERANCE_S),
            Err(SignatureError::Stale(300))
        );
        assert_eq!(
            verify(&h, BODY, &["whsec_a"], NOW - 301, TOLERANCE_S),
            Err(SignatureError::Stale(300))
        );
        assert!(verify(&h, BODY, &["whsec_a"], NOW + 300, TOLERANCE_S).is_ok());
    }

    #[test]
    fn any_of_several_v1_values_and_any_configured_secret_is_accepted() {
        // Stripe signs with both the old and the new secret while one is rolled.
        let h = format!(
            "t={NOW},v1={},v1={},v0=deadbeef",
            sign("whsec_old", NOW, BODY),
            sign("whsec_new", NOW, BODY)
        );
        assert!(verify(&h, BODY, &["whsec_new"], NOW, TOLERANCE_S).is_ok());
        assert!(verify(&h, BODY, &["whsec_old"], NOW, TOLERANCE_S).is_ok());
        let only_new = format!("t={NOW},v1={}", sign("whsec_new", NOW, BODY));
        assert!(
            verify(
                &only_new,
                BODY,
                &["whsec_old", "whsec_new"],
                NOW,
                TOLERANCE_S
            )
            .is_ok()
        );
    }

    #[test]
    fn malformed_headers_are_refused_as_such() {
        for h in [
            "",
            "t=abc,v1=00",
            "v1=00",
            &format!("t={NOW}"),
            &format!("t={NOW},v1=zz"),
            &format!("t={NOW},v1=abc"),
            "garbage",
        ] {
            assert_eq!(
                verify(h, BODY, &["whsec_a"], NOW, TOLERANCE_S),
                Err(SignatureError::Malformed),
                "{h:?}"
            );
        }
    }
}
