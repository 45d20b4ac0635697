//! SCRAM channel binding `tls-server-end-point` (RFC 5929 section 4): the hash of the certificate this
//! server presents, so a client that checks it knows no one relayed its authentication through another TLS
//! connection. The hash is the one of the certificate's signature algorithm, SHA-256 for MD5 and SHA-1
//! (and for anything else, as for the ECDSA/RSA SHA-256 certificates everyone uses).

use sha2::{Digest, Sha256, Sha384, Sha512};

// DER contents of the signature algorithm OIDs that call for a longer hash.
const SHA384_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const SHA512_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const ECDSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const ECDSA_WITH_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];

/// The channel-binding data of the certificate `der`.
pub fn tls_server_end_point(der: &[u8]) -> Vec<u8> {
    match signature_algorithm(der) {
        Some(SHA384_WITH_RSA | ECDSA_WITH_SHA384) => Sha384::digest(der).to_vec(),
        Some(SHA512_WITH_RSA | ECDSA_WITH_SHA512) => Sha512::digest(der).to_vec(),
        _ => Sha256::digest(der).to_vec(),
    }
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature }`:
/// the OID of the second element.
fn signature_algorithm(der: &[u8]) -> Option<&[u8]> {
    let (tag, cert, _) = element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, rest) = element(cert)?; // tbsCertificate
    let (tag, alg, _) = element(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, oid, _) = element(alg)?;
    (tag == 0x06).then_some(oid)
}

/// One DER element: (tag, contents, what follows it).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate's skeleton around `oid`: the hash follows the OID, whatever the rest holds.
    fn cert_with(oid: &[u8]) -> Vec<u8> {
        let tbs = [0x30, 0x03, 0x02, 0x01, 0x02];
        let mut alg = vec![0x30, (oid.len() + 4) as u8, 0x06, oid.len() as u8];
        alg.extend_from_slice(oid);
        alg.extend_from_slice(&[0x05, 0x00]);
        let sig = [0x03, 0x02, 0x00, 0xff];
        let body: Vec<u8> = [&tbs[..], &alg, &sig].concat();
        let mut der = vec![0x30, 0x81, body.len() as u8];
        der.extend(body);
        der
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        let sha256_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        assert_eq!(tls_server_end_point(&cert_with(&sha256_rsa)).len(), 32);
        assert_eq!(tls_server_end_point(&cert_with(SHA384_WITH_RSA)).len(), 48);
        assert_eq!(
            tls_server_end_point(&cert_with(ECDSA_WITH_SHA512)).len(),
            64
        );
        let sha1_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
        let d = cert_with(&sha1_rsa);
        assert_eq!(tls_server_end_point(&d), Sha256::digest(&d).to_vec());
        // Garbage is hashed with SHA-256 rather than refused: the client computes the same.
        assert_eq!(tls_server_end_point(b"\x30\xff").len(), 32);
    }
}
