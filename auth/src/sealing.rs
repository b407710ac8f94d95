//! Sealing app secrets for storage: model-provider API keys, OAuth client
//! secrets, webhook signing secrets. Unlike passwords and tokens, which are
//! stored hashed, these must be read back to be used, so they are encrypted
//! with a server key (`ORBIT_SECRETS_KEY`) and an AEAD.
//!
//! XChaCha20-Poly1305: its 192-bit nonces can be drawn at random for every
//! seal without any risk of reuse. Each sealed value is bound to a context
//! (which row and purpose it belongs to) as associated data, so a sealed value
//! copied into another row or another app does not open there.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::AuthError;

/// The version tag of the sealed format, so the format or the key can change later.
const FORMAT: &str = "v1";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// The server's key for app secrets.
#[derive(Clone)]
pub struct SealingKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// A key from its text form: 32 bytes as URL-safe base64 (43 characters,
    /// as [`SealingKey::generate`] makes) or as 64 hex digits.
    pub fn from_text(text: &str) -> Result<Self, AuthError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
        };
        match bytes {
            Some(bytes) if bytes.len() == KEY_LEN => Ok(Self {
                cipher: XChaCha20Poly1305::new_from_slice(&bytes)
                    .map_err(|_| AuthError::WeakKey)?,
            }),
            _ => Err(AuthError::WeakKey),
        }
    }

    /// A new random key in the text form [`SealingKey::from_text`] reads.
    pub fn generate() -> String {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `v1.<nonce>.<ciphertext and tag>`, both URL-safe base64.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and an in-memory buffer cannot fail
        // (only a message beyond 256 GiB could).
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        format!(
            "{FORMAT}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// The plaintext of what [`SealingKey::seal`] made with the same context.
    /// Fails when the value was changed, sealed for another context, or
    /// sealed with another key.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        let mut parts = sealed.split('.');
        let (Some(FORMAT), Some(nonce), Some(body), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(SealError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        let payload = Payload {
            msg: &body,
            aad: context.as_bytes(),
        };
        let plaintext = self
            .cipher
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| SealError::DoesNotOpen)?;
        String::from_utf8(plaintext).map_err(|_| SealError::Malformed)
    }
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed value")]
    Malformed,
    #[error("the sealed value does not open with this key and context")]
    DoesNotOpen,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        SealingKey::from_text(&SealingKey::generate()).unwrap()
    }

    #[test]
    fn opens_what_it_sealed_in_the_same_context_only() {
        let key = key();
        let sealed = key.seal("sk-provider-secret", "app_1/model_provider/mpr_1");
        assert!(!sealed.contains("sk-provider-secret"));
        assert_eq!(
            key.open(&sealed, "app_1/model_provider/mpr_1").unwrap(),
            "sk-provider-secret"
        );
        assert_eq!(
            key.open(&sealed, "app_2/model_provider/mpr_1"),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn each_seal_differs_and_tampering_is_caught() {
        let key = key();
        let a = key.seal("same", "ctx");
        let b = key.seal("same", "ctx");
        assert_ne!(a, b, "nonces are random");
        let mut tampered = a.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(key.open(&tampered, "ctx").is_err());
        assert_eq!(key.open("plain text", "ctx"), Err(SealError::Malformed));
    }

    #[test]
    fn another_key_does_not_open_it() {
        let sealed = key().seal("secret", "ctx");
        assert_eq!(key().open(&sealed, "ctx"), Err(SealError::DoesNotOpen));
    }

    #[test]
    fn reads_base64_and_hex_keys_of_32_bytes_only() {
        assert!(SealingKey::from_text(&"ab".repeat(32)).is_ok());
        assert!(SealingKey::from_text(&SealingKey::generate()).is_ok());
        assert!(SealingKey::from_text("too-short").is_err());
        assert!(SealingKey::from_text(&"ab".repeat(31)).is_err());
    }
}
