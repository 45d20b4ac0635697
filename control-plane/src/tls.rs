//! The certificate local tenant servers present, so connection strings can say `sslmode=require`. It is
//! self-signed (clients encrypt but do not verify, which is what `require` means); on Kubernetes the
//! operator mounts a real one.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Returns (certificate, key) PEM paths under `dir`, creating them once.
pub fn local_certificate(dir: &Path, host: &str) -> Result<(PathBuf, PathBuf)> {
    let cert = dir.join("tenant.crt");
    let key = dir.join("tenant.key");
    if cert.exists() && key.exists() {
        return Ok((cert.canonicalize()?, key.canonicalize()?));
    }
    std::fs::create_dir_all(dir)?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !names.iter().any(|n| n == host) {
        names.push(host.to_string());
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Error::Internal(format!("generating the tenant certificate: {e}")))?;
    crate::files::write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert, generated.cert.pem())?;
    Ok((cert.canonicalize()?, key.canonicalize()?))
}
