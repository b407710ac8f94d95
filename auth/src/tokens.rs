use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::AuthError;

/// The `typ` claim of every access token. Having it lets other JWTs signed
/// with the same key (should there ever be any) never pass as access tokens.
pub const ACCESS_TOKEN_TYPE: &str = "access";

/// HMAC keys shorter than the hash output weaken HS256 (RFC 7518 §3.2).
const MIN_SECRET_LEN: usize = 32;

/// Tokens longer than this are refused before any parsing or HMAC work;
/// real access tokens are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What an app's signing key is derived from, besides the server secret.
const KEY_DERIVATION_LABEL: &[u8] = b"orbit access token";

/// Names an app's signing key in a token's header: `<app id>.v<version>`.
/// The app is the one whose users the key signs for; the version changes
/// at each rotation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId {
    /// The app's public id (`app_…`), as in the token's `aud`.
    pub app: String,
    pub version: i32,
}

impl KeyId {
    pub fn new(app: impl Into<String>, version: i32) -> Self {
        Self {
            app: app.into(),
            version,
        }
    }

    /// `None` for anything but `<app>.v<positive version>`.
    pub fn parse(kid: &str) -> Option<Self> {
        let (app, version) = kid.rsplit_once(".v")?;
        if app.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let version: i32 = version.parse().ok().filter(|v| *v > 0)?;
        Some(Self::new(app, version))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.v{}", self.app, self.version)
    }
}

/// Where a key version stands, as the caller found it in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Signs new tokens.
    Current,
    /// Replaced at `at`: tokens it signed before then stay valid until they
    /// expire (an access token lives at most its TTL, so no later than
    /// `at` + TTL); tokens it claims to have signed after are refused.
    Retired { at: DateTime<Utc> },
}

impl KeyStatus {
    /// Whether a token this version signed at `issued_at` (seconds, the
    /// token's `iat`) still stands: always for the current version; for a
    /// retired one, only if issued no later than its retirement.
    pub fn admits(self, issued_at: i64) -> bool {
        match self {
            KeyStatus::Current => true,
            KeyStatus::Retired { at } => issued_at <= at.timestamp(),
        }
    }
}

/// The claims of an Orbit access token.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    /// The app's public id.
    pub aud: String,
    /// The user's public id.
    pub sub: String,
    /// The session's public id, so revoking a session can be checked.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    /// Always [`ACCESS_TOKEN_TYPE`].
    pub typ: String,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    BadSignature,
    #[error("token signed with an unknown key")]
    UnknownKey,
    #[error("token signed with a retired key after it was retired")]
    RetiredKey,
    #[error("token uses a refused algorithm")]
    WrongAlgorithm,
    #[error("token issued by someone else")]
    WrongIssuer,
    #[error("not an access token")]
    WrongType,
    #[error("token expired")]
    Expired,
    #[error("token names no audience")]
    MissingAudience,
    #[error("token's audience is not its key's app")]
    WrongAudience,
}

/// Signs and checks access tokens. Each app has its own HS256 keys, one per
/// version, derived from the server secret:
/// `HMAC-SHA256(server secret, "orbit access token" 0 app 0 version)`. No
/// key is stored, every process derives the same one, and a key of one app
/// signs nothing another app accepts (its `kid` names its app, which must
/// be the token's `aud`). Which versions are current or retired is the
/// caller's to know (it is stored), so checking is two steps: [`key_id`]
/// reads the header, the caller looks the version up, [`verify`] checks.
///
/// [`key_id`]: Self::key_id
/// [`verify`]: Self::verify
#[derive(Clone)]
pub struct AccessTokenKeys {
    server_secret: Vec<u8>,
}

impl fmt::Debug for AccessTokenKeys {
    // Keys end up in logs via `{:?}` of config structs far too easily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenKeys")
            .field("server_secret", &"<redacted>")
            .finish()
    }
}

impl AccessTokenKeys {
    /// Refuses secrets shorter than 32 bytes with [`AuthError::WeakKey`].
    pub fn new(server_secret: Vec<u8>) -> Result<Self, AuthError> {
        if server_secret.len() < MIN_SECRET_LEN {
            return Err(AuthError::WeakKey);
        }
        Ok(Self { server_secret })
    }

    /// The HS256 key `kid` names. Public so that tests can sign what the
    /// server would (and forge what it must refuse).
    pub fn signing_secret(&self, kid: &KeyId) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.server_secret)
            .expect("HMAC takes a key of any length");
        mac.update(KEY_DERIVATION_LABEL);
        mac.update(&[0]);
        mac.update(kid.app.as_bytes());
        mac.update(&[0]);
        mac.update(&kid.version.to_be_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Signs `claims` with version `version` of the key of the app in
    /// `claims.aud` (HS256, header `kid` set). The claims are signed as
    /// given; set `typ` to [`ACCESS_TOKEN_TYPE`] or [`verify`](Self::verify)
    /// will refuse the token.
    pub fn issue(&self, claims: &AccessClaims, version: i32) -> Result<String, AuthError> {
        let kid = KeyId::new(claims.aud.clone(), version);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_secret(&self.signing_secret(&kid)),
        )
        .map_err(|e| AuthError::Encoding(e.to_string()))
    }

    /// Reads the header ourselves before handing the token to jsonwebtoken,
    /// so that `alg: none` and other algorithms (which its `Header` type may
    /// not even parse) are reported as such, and so the key is chosen by
    /// `kid`: which app's key, which version.
    pub fn key_id(token: &str) -> Result<KeyId, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| TokenError::Malformed)?;
        let header: serde_json::Value =
            serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        match header.get("alg").and_then(serde_json::Value::as_str) {
            Some("HS256") => {}
            Some(_) => return Err(TokenError::WrongAlgorithm),
            None => return Err(TokenError::Malformed),
        }
        header
            .get("kid")
            .and_then(serde_json::Value::as_str)
            .and_then(KeyId::parse)
            .ok_or(TokenError::UnknownKey)
    }

    /// Checks an access token whose header named `kid` (from
    /// [`key_id`](Self::key_id)), a key version the caller found in
    /// `status`: HS256 only, signed by that key, `aud` equal to the key's
    /// app, issued by `expected_issuer`, `typ` = "access", not expired at
    /// `now` (no leeway: refused once `now >= exp`), and, for a retired
    /// version, issued no later than its retirement (in whole seconds, as
    /// `iat` is).
    pub fn verify(
        &self,
        token: &str,
        kid: &KeyId,
        status: KeyStatus,
        expected_issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        if Self::key_id(token)? != *kid {
            return Err(TokenError::UnknownKey);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against `now`, not the system clock, so
        // callers and tests control time and no leeway sneaks in.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        // The audience is matched below against the key's app.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);

        let data = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &DecodingKey::from_secret(&self.signing_secret(kid)),
            &validation,
        )
        .map_err(|e| map_jwt_error(e.kind()))?;
        let raw = data.claims;

        // Checked on the raw JSON so a missing `aud` gets its own error
        // instead of a generic deserialization failure.
        match raw.get("aud") {
            None | Some(serde_json::Value::Null) => return Err(TokenError::MissingAudience),
            Some(serde_json::Value::String(s)) if s.is_empty() => {
                return Err(TokenError::MissingAudience);
            }
            Some(serde_json::Value::Array(a)) if a.is_empty() => {
                return Err(TokenError::MissingAudience);
            }
            _ => {}
        }
        let claims: AccessClaims =
            serde_json::from_value(raw).map_err(|_| TokenError::Malformed)?;

        if claims.aud != kid.app {
            return Err(TokenError::WrongAudience);
        }
        if claims.iss != expected_issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.typ != ACCESS_TOKEN_TYPE {
            return Err(TokenError::WrongType);
        }
        if now.timestamp() >= claims.exp {
            return Err(TokenError::Expired);
        }
        if !status.admits(claims.iat) {
            return Err(TokenError::RetiredKey);
        }
        Ok(claims)
    }
}

fn map_jwt_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm => TokenError::WrongAlgorithm,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::InvalidAudience => TokenError::MissingAudience,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const ISSUER: &str = "https://orbit.example";
    const NOW: i64 = 1_700_000_000;
    const APP: &str = "app_123";

    fn keys() -> AccessTokenKeys {
        AccessTokenKeys::new(vec![2; 32]).unwrap()
    }

    fn kid(version: i32) -> KeyId {
        KeyId::new(APP, version)
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).unwrap()
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            aud: APP.into(),
            sub: "usr_456".into(),
            sid: "ses_789".into(),
            iat: NOW,
            exp: NOW + 900,
            typ: ACCESS_TOKEN_TYPE.into(),
        }
    }

    /// Reads the kid and verifies as a current key at `now`.
    fn check(keys: &AccessTokenKeys, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let kid = AccessTokenKeys::key_id(token)?;
        keys.verify(token, &kid, KeyStatus::Current, ISSUER, at(now))
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    /// Signs arbitrary header/claims, for tokens `issue` would never make.
    fn sign_raw(header: Header, claims: &impl Serialize, secret: &[u8]) -> String {
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn hs256_with_kid(kid: &str) -> Header {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.into());
        h
    }

    #[test]
    fn round_trip() {
        let keys = keys();
        let token = keys.issue(&claims(), 3).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid.as_deref(), Some("app_123.v3"));
        assert_eq!(AccessTokenKeys::key_id(&token).unwrap(), kid(3));
        assert_eq!(check(&keys, &token, NOW).unwrap(), claims());
    }

    #[test]
    fn key_ids_parse_only_their_own_shape() {
        assert_eq!(KeyId::parse("app_1.v12"), Some(KeyId::new("app_1", 12)));
        assert_eq!(KeyId::new("app_1", 12).to_string(), "app_1.v12");
        for bad in [
            "",
            "app_1",
            "app_1.v",
            "app_1.v0",
            "app_1.v-1",
            ".v1",
            "app_1.v1x",
            "k1a2b3c4",
        ] {
            assert_eq!(KeyId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_are_per_app_and_version() {
        let keys = keys();
        let a1 = keys.signing_secret(&kid(1));
        assert_eq!(a1.len(), 32);
        assert_eq!(a1, keys.signing_secret(&kid(1)));
        assert_ne!(a1, keys.signing_secret(&kid(2)));
        assert_ne!(a1, keys.signing_secret(&KeyId::new("app_124", 1)));
        let other_server = AccessTokenKeys::new(vec![3; 32]).unwrap();
        assert_ne!(a1, other_server.signing_secret(&kid(1)));
    }

    #[test]
    fn expiry_uses_passed_in_now_without_leeway() {
        let keys = keys();
        let token = keys.issue(&claims(), 1).unwrap();
        let exp = claims().exp;
        assert!(check(&keys, &token, exp - 1).is_ok());
        assert_eq!(check(&keys, &token, exp), Err(TokenError::Expired));
        assert_eq!(check(&keys, &token, exp + 1), Err(TokenError::Expired));
        // A token long expired by the system clock is fine at a `now` before exp.
        let old = AccessClaims {
            iat: 1_000,
            exp: 2_000,
            ..claims()
        };
        let token = keys.issue(&old, 1).unwrap();
        assert!(check(&keys, &token, 1_999).is_ok());
        let kid = AccessTokenKeys::key_id(&token).unwrap();
        assert_eq!(
            keys.verify(&token, &kid, KeyStatus::Current, ISSUER, Utc::now()),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_retired_key_holds_for_what_it_signed_before_retiring() {
        let keys = keys();
        let token = keys.issue(&claims(), 1).unwrap();
        let kid = kid(1);
        let retired = |ts| KeyStatus::Retired { at: at(ts) };
        // Retired after (or in the second of) the token's issue: valid until exp.
        for retired_at in [NOW, NOW + 60] {
            assert!(
                keys.verify(&token, &kid, retired(retired_at), ISSUER, at(NOW + 899))
                    .is_ok()
            );
            assert_eq!(
                keys.verify(&token, &kid, retired(retired_at), ISSUER, at(NOW + 900)),
                Err(TokenError::Expired)
            );
        }
        // A token the retired key claims to have signed later is refused.
        assert_eq!(
            keys.verify(&token, &kid, retired(NOW - 1), ISSUER, at(NOW)),
            Err(TokenError::RetiredKey)
        );
    }

    #[test]
    fn wrong_issuer() {
        let keys = keys();
        let token = keys.issue(&claims(), 1).unwrap();
        assert_eq!(
            keys.verify(
                &token,
                &kid(1),
                KeyStatus::Current,
                "https://evil.example",
                at(NOW)
            ),
            Err(TokenError::WrongIssuer)
        );
    }

    #[test]
    fn wrong_type() {
        let keys = keys();
        let token = keys
            .issue(
                &AccessClaims {
                    typ: "refresh".into(),
                    ..claims()
                },
                1,
            )
            .unwrap();
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::WrongType));
    }

    #[test]
    fn missing_or_empty_audience() {
        let keys = keys();
        let mut raw = serde_json::to_value(claims()).unwrap();
        raw["aud"] = serde_json::json!("");
        let token = sign_raw(
            hs256_with_kid("app_123.v1"),
            &raw,
            &keys.signing_secret(&kid(1)),
        );
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::MissingAudience));

        raw.as_object_mut().unwrap().remove("aud");
        let token = sign_raw(
            hs256_with_kid("app_123.v1"),
            &raw,
            &keys.signing_secret(&kid(1)),
        );
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::MissingAudience));
    }

    #[test]
    fn the_audience_must_be_the_keys_app() {
        // App B's key signing a token for app A: refused, though B's key is real.
        let keys = keys();
        let b = KeyId::new("app_999", 1);
        let token = sign_raw(
            hs256_with_kid(&b.to_string()),
            &claims(),
            &keys.signing_secret(&b),
        );
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::WrongAudience));
        // App A's kid on a token signed with B's key: the signature fails.
        let token = sign_raw(
            hs256_with_kid("app_123.v1"),
            &claims(),
            &keys.signing_secret(&b),
        );
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn missing_exp_is_malformed() {
        let keys = keys();
        let mut raw = serde_json::to_value(claims()).unwrap();
        raw.as_object_mut().unwrap().remove("exp");
        let token = sign_raw(
            hs256_with_kid("app_123.v1"),
            &raw,
            &keys.signing_secret(&kid(1)),
        );
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn alg_none_refused() {
        let keys = keys();
        for header in [
            serde_json::json!({"alg": "none", "typ": "JWT"}),
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": "app_123.v1"}),
        ] {
            let payload = serde_json::to_value(claims()).unwrap();
            let token = format!("{}.{}.", b64(&header), b64(&payload));
            assert_eq!(check(&keys, &token, NOW), Err(TokenError::WrongAlgorithm));
        }
    }

    #[test]
    fn other_hmac_algorithms_refused() {
        let keys = keys();
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("app_123.v1".into());
            let token = sign_raw(header, &claims(), &keys.signing_secret(&kid(1)));
            assert_eq!(check(&keys, &token, NOW), Err(TokenError::WrongAlgorithm));
        }
    }

    #[test]
    fn rs256_header_refused() {
        // An RS256 header with an HMAC signature: the classic key-confusion
        // attempt. No RSA key is needed to show it is refused up front.
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "app_123.v1"});
        let payload = serde_json::to_value(claims()).unwrap();
        let token = format!("{}.{}.c2ln", b64(&header), b64(&payload));
        assert_eq!(check(&keys(), &token, NOW), Err(TokenError::WrongAlgorithm));
    }

    #[test]
    fn different_secret_refused() {
        // Another key, and the server secret itself (it signs nothing directly).
        for secret in [vec![9; 32], vec![2; 32]] {
            let token = sign_raw(hs256_with_kid("app_123.v1"), &claims(), &secret);
            assert_eq!(check(&keys(), &token, NOW), Err(TokenError::BadSignature));
        }
    }

    #[test]
    fn another_version_of_the_same_app_is_another_key() {
        let keys = keys();
        let token = sign_raw(
            hs256_with_kid("app_123.v2"),
            &claims(),
            &keys.signing_secret(&kid(1)),
        );
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::BadSignature));
        // The kid read from the header must be the one checked against.
        let token = keys.issue(&claims(), 1).unwrap();
        assert_eq!(
            keys.verify(&token, &kid(2), KeyStatus::Current, ISSUER, at(NOW)),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn tampered_payload_refused() {
        let token = keys().issue(&claims(), 1).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(&serde_json::to_value(AccessClaims {
            sub: "usr_admin".into(),
            ..claims()
        })
        .unwrap());
        parts[1] = &forged;
        assert_eq!(
            check(&keys(), &parts.join("."), NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn unknown_or_missing_kid_refused() {
        let keys = keys();
        for header in [hs256_with_kid("k9"), Header::new(Algorithm::HS256)] {
            let token = sign_raw(header, &claims(), &keys.signing_secret(&kid(1)));
            assert_eq!(AccessTokenKeys::key_id(&token), Err(TokenError::UnknownKey));
        }
    }

    #[test]
    fn garbage_and_opaque_tokens_are_malformed() {
        let keys = keys();
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for token in [
            "",
            "garbage",
            "a.b.c",
            "a.b",
            "...",
            "a.b.c.d",
            &crate::generate_token("rt_"),
            &long,
        ] {
            assert_eq!(
                check(&keys, token, NOW),
                Err(TokenError::Malformed),
                "{token}"
            );
        }
        // Valid token with a fourth segment appended.
        let token = format!("{}.x", keys.issue(&claims(), 1).unwrap());
        assert_eq!(check(&keys, &token, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn weak_key_refused_and_debug_hides_secret() {
        assert!(matches!(
            AccessTokenKeys::new(vec![7; 31]),
            Err(AuthError::WeakKey)
        ));
        let keys = AccessTokenKeys::new(b"super-secret-value-0123456789abcdef".to_vec()).unwrap();
        let dbg = format!("{keys:?}");
        assert!(!dbg.contains("super-secret"));
        assert!(!dbg.contains("115, 117, 112"));
    }
}
