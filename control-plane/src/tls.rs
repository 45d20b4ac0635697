//! The certificates local tenant servers present. A private CA made for this installation signs one server
//! certificate (for `localhost`, `127.0.0.1` and the configured host); connection strings say
//! `sslmode=verify-full` with the CA as `sslrootcert`, so clients check whom they talk to, and the CA is
//! served at `/v1/ca-certificate` for clients on other machines. The CA's key is thrown away once the server
//! certificate is signed: nothing can ever be signed by it again. On Kubernetes the operator's own
//! certificates apply.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// Paths of the tenants' certificate and key, and of the CA that signed it, with the CA's PEM.
#[derive(Clone, Debug)]
pub struct LocalTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub ca_pem: String,
}

/// Under `dir`, creating them once (and again when an older installation has no CA yet).
pub fn local_certificate(dir: &Path, host: &str) -> Result<LocalTls> {
    let cert = dir.join("tenant.crt");
    let key = dir.join("tenant.key");
    let ca = dir.join("ca.crt");
    if !(cert.exists() && key.exists() && ca.exists()) {
        generate(dir, host, &cert, &key, &ca)?;
    }
    Ok(LocalTls {
        ca_pem: std::fs::read_to_string(&ca)?,
        cert: cert.canonicalize()?,
        key: key.canonicalize()?,
        ca: ca.canonicalize()?,
    })
}

fn generate(dir: &Path, host: &str, cert: &Path, key: &Path, ca: &Path) -> Result<()> {
    let bad = |e: rcgen::Error| Error::Internal(format!("generating the tenant certificates: {e}"));
    std::fs::create_dir_all(dir)?;
    let mut ca_params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "OmenDB");
    dn.push(
        DnType::CommonName,
        format!("OmenDB local CA {}", crate::store::new_id("ca")),
    );
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(bad)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(bad)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !names.iter().any(|n| n == host) {
        names.push(host.to_string());
    }
    let mut leaf = CertificateParams::new(names).map_err(bad)?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "OmenDB database");
    let leaf_key = KeyPair::generate().map_err(bad)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(bad)?;
    crate::files::write_private(key, leaf_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, leaf_cert.pem())?;
    std::fs::write(ca, ca_cert.pem())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = local_certificate(dir.path(), "db.example.com").unwrap();
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let cert = std::fs::read_to_string(&a.cert).unwrap();
        assert_ne!(cert, a.ca_pem);
        let b = local_certificate(dir.path(), "db.example.com").unwrap();
        assert_eq!(a.ca_pem, b.ca_pem);
        assert!(
            !dir.path().join("ca.key").exists(),
            "the CA's key is not kept"
        );
    }
}
