use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Returns `prefix` followed by 43 URL-safe base64 characters encoding 32
/// bytes (256 bits) from a CSPRNG. Used for refresh tokens, invitation codes
/// and similar bearer secrets; the prefix makes leaked secrets recognisable
/// (e.g. by secret scanners) and tells them apart at a glance.
pub fn generate_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // `rand::rng()` is ChaCha12 reseeded from the OS: a CSPRNG.
    rand::rng().fill_bytes(&mut bytes);
    let mut token = String::with_capacity(prefix.len() + 43);
    token.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(bytes, &mut token);
    token
}

/// Lowercase hex SHA-256 of a secret, for storing it.
///
/// A fast hash is right here, unlike for passwords: these secrets carry 256
/// (or ~238) random bits, so there is nothing to brute-force, and a fast,
/// deterministic hash lets the database find the row by hash.
pub fn hash_token(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Compares two byte strings in time independent of where they differ, so
/// that comparing secrets does not leak how much of a guess was right.
/// (The length itself is not hidden.)
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        let t = generate_token("rt_");
        assert!(t.starts_with("rt_"));
        assert_eq!(t.len(), 3 + 43);
        assert!(
            t[3..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&t[3..]).unwrap().len(), 32);
        assert_eq!(generate_token("").len(), 43);
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(generate_token("rt_"), generate_token("rt_"));
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_token("").len(), 64);
    }

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
