use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::AuthError;

/// Hashes a password with argon2id (`Argon2::default()`: m=19456 KiB, t=2,
/// p=1, the OWASP minimum) and a random salt, returning the PHC string.
///
/// This is deliberately slow (tens of milliseconds in release) and blocks the
/// thread: async callers must run it in `tokio::task::spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// Checks a password against a stored PHC string. A malformed hash yields
/// `false` rather than an error: the caller can only deny the login anyway.
///
/// Blocking and slow like [`hash_password`]: run it in `spawn_blocking`.
pub fn verify_password(password: &str, phc_hash: &str) -> bool {
    // The parameters come from the PHC string, so hashes made with older
    // parameters still verify after the defaults change.
    Argon2::default()
        .verify_password(password.as_bytes(), phc_hash)
        .is_ok()
}

/// Spends the same time as [`verify_password`] without a real hash, so that
/// a login for an unknown email cannot be told apart from a wrong password
/// by its response time.
///
/// Blocking and slow like [`hash_password`]: run it in `spawn_blocking`.
pub fn verify_dummy_password(password: &str) {
    // Computed with the current defaults rather than hard-coded, so its cost
    // keeps tracking real hashes if the argon2 parameters change.
    static DUMMY_HASH: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY_HASH.get_or_init(|| hash_password("orbit-dummy-password").ok());
    if let Some(hash) = dummy {
        // The result is meaningless; only the time spent matters.
        let _ = verify_password(password, hash);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapl", &hash));
        assert!(!verify_password("", &hash));
    }

    #[test]
    fn same_password_gets_different_salts() {
        assert_ne!(hash_password("pw").unwrap(), hash_password("pw").unwrap());
    }

    #[test]
    fn malformed_hash_is_false() {
        assert!(!verify_password("pw", ""));
        assert!(!verify_password("pw", "not a phc string"));
        assert!(!verify_password(
            "pw",
            "$argon2id$v=19$m=19456,t=2,p=1$garbage"
        ));
    }

    #[test]
    fn dummy_verify_runs() {
        verify_dummy_password("anything");
        verify_dummy_password("orbit-dummy-password");
    }
}
