//! Access tokens this process has verified, remembered until they expire.
//!
//! Verifying a token (its header and claims decoded from base64 and JSON,
//! the app's signing key derived, the HMAC checked, the claims' issuer,
//! type and ids read) depends only on the token and the server's secret,
//! so its outcome holds for as long as the token does. What can change is
//! still checked on every request, remembered or not: the clock passing
//! `exp`, the signing key's version (retired, or dropped after a second
//! rotation), and the session (see `credentials`).
//!
//! Tokens are kept by their SHA-256, so no token sits in memory, and only
//! tokens that verified are kept: garbage cannot fill the store. It holds
//! at most [`MAX_VERIFIED_TOKENS`], the least recently used going first.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lru::LruCache;
use orbit_auth::KeyId;
use orbit_domain::ids::{AppId, SessionId, UserId};
use sha2::{Digest, Sha256};

/// Tokens remembered per process: an access token lives 15 minutes, so
/// this covers that many active users per process at least.
pub const MAX_VERIFIED_TOKENS: usize = 16_384;

/// What a token that verified says.
#[derive(Debug)]
pub(crate) struct VerifiedToken {
    /// The signing key version that signed it.
    pub kid: KeyId,
    pub app: AppId,
    pub user: UserId,
    pub session: SessionId,
    /// `iat`, for a retired key's rule.
    pub issued_at: i64,
    /// `exp`: refused once the clock reaches it.
    pub expires_at: i64,
}

impl VerifiedToken {
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.expires_at, 0)
    }
}

/// A token's SHA-256: what the store is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

pub(crate) struct VerifiedTokens {
    tokens: Mutex<LruCache<TokenDigest, Arc<VerifiedToken>>>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::with_capacity(MAX_VERIFIED_TOKENS)
    }
}

impl VerifiedTokens {
    fn with_capacity(capacity: usize) -> Self {
        let capacity = std::num::NonZeroUsize::new(capacity).unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            tokens: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The token, if it verified here and has not expired at `now`.
    pub fn get(&self, digest: &TokenDigest, now: DateTime<Utc>) -> Option<Arc<VerifiedToken>> {
        let mut tokens = self.lock();
        let token = tokens.get(digest)?;
        if now.timestamp() < token.expires_at {
            return Some(token.clone());
        }
        tokens.pop(digest);
        None
    }

    /// Remembers a token that verified.
    pub fn keep(&self, digest: TokenDigest, token: VerifiedToken) -> Arc<VerifiedToken> {
        let token = Arc::new(token);
        self.lock().put(digest, token.clone());
        token
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<TokenDigest, Arc<VerifiedToken>>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    fn verified(expires_at: i64) -> VerifiedToken {
        VerifiedToken {
            kid: KeyId::new("app_1", 1),
            app: AppId(Uuid::nil()),
            user: UserId(Uuid::nil()),
            session: SessionId(Uuid::nil()),
            issued_at: 0,
            expires_at,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0)
            .single()
            .expect("a valid time")
    }

    #[test]
    fn a_token_is_remembered_until_it_expires() {
        let tokens = VerifiedTokens::default();
        let digest = TokenDigest::of("a.b.c");
        assert!(tokens.get(&digest, at(0)).is_none());
        tokens.keep(digest, verified(100));
        assert!(tokens.get(&digest, at(99)).is_some());
        assert!(tokens.get(&TokenDigest::of("a.b.d"), at(99)).is_none());
        // No leeway: at `exp` the token is refused, and forgotten.
        assert!(tokens.get(&digest, at(100)).is_none());
        assert!(tokens.get(&digest, at(0)).is_none());
    }

    #[test]
    fn the_store_is_bounded() {
        let tokens = VerifiedTokens::with_capacity(2);
        for token in ["1", "2", "3"] {
            tokens.keep(TokenDigest::of(token), verified(100));
        }
        assert!(tokens.get(&TokenDigest::of("1"), at(0)).is_none());
        assert!(tokens.get(&TokenDigest::of("3"), at(0)).is_some());
    }
}
