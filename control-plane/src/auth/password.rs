//! Argon2id password hashing. Hashing is CPU- and memory-heavy on purpose, so it runs on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, FieldError, Result};

#[derive(Clone, Debug)]
pub struct Hasher {
    memory_kib: u32,
    passes: u32,
}

impl Hasher {
    pub fn new(memory_kib: u32, passes: u32) -> Hasher {
        Hasher { memory_kib, passes }
    }

    fn argon2(&self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.passes, 1, None)
            .map_err(|e| Error::Config(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        let argon = self.argon2()?;
        tokio::task::spawn_blocking(move || {
            let salt_bytes: [u8; 16] = rand::random();
            let salt = SaltString::encode_b64(&salt_bytes)
                .map_err(|e| Error::Internal(format!("salt: {e}")))?;
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("argon2: {e}")))
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
    }

    /// Verifies against a stored PHC string; the parameters come from the string, not from `self`.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool> {
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| Error::Internal(format!("stored hash: {e}")))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
    }

    /// Burns the same time as a real verification, so a login for an unknown email is not faster than a
    /// wrong password for a known one (which would leak which emails have accounts).
    pub async fn verify_dummy(&self, password: String) {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let stored = match DUMMY.get() {
            Some(s) => s.clone(),
            None => match self.hash("not a real password".into()).await {
                Ok(h) => DUMMY.get_or_init(|| h).clone(),
                Err(_) => return,
            },
        };
        let _ = self.verify(password, stored).await;
    }
}

/// Password rules: 10 to 256 characters, not all one class of character, not the email.
pub fn check_strength(password: &str, email: &str) -> Option<FieldError> {
    let n = password.chars().count();
    let msg = if n < 10 {
        "must be at least 10 characters"
    } else if n > 256 {
        "must be at most 256 characters"
    } else if password.eq_ignore_ascii_case(email) {
        "must not be your email address"
    } else if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(c))
    {
        "must not be one repeated character"
    } else if password.chars().all(|c| c.is_ascii_digit()) {
        "must not be only digits"
    } else {
        return None;
    };
    Some(FieldError::new("password", msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_and_wrong_password_does_not() {
        let h = Hasher::new(1024, 1);
        let stored = h.hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(
            h.verify("correct horse battery".into(), stored.clone())
                .await
                .unwrap()
        );
        assert!(
            !h.verify("correct horse batterx".into(), stored)
                .await
                .unwrap()
        );
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(check_strength("short", "a@b.c").is_some());
        assert!(check_strength("aaaaaaaaaaaa", "a@b.c").is_some());
        assert!(check_strength("012345678901", "a@b.c").is_some());
        assert!(check_strength("Me@Example.com", "me@example.com").is_some());
        assert!(check_strength("tolerable passphrase", "a@b.c").is_none());
    }
}
