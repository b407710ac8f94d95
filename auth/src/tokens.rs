use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// The `typ` claim of every access token. Having it lets other JWTs signed
/// with the same key (should there ever be any) never pass as access tokens.
pub const ACCESS_TOKEN_TYPE: &str = "access";

/// HMAC keys shorter than the hash output weaken HS256 (RFC 7518 §3.2).
const MIN_SECRET_LEN: usize = 32;

/// Tokens longer than this are refused before any parsing or HMAC work;
/// real access tokens are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// An HS256 signing secret and the `kid` that names it in token headers.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: Vec<u8>,
}

impl SigningKey {
    /// Refuses secrets shorter than 32 bytes with [`AuthError::WeakKey`].
    pub fn new(kid: impl Into<String>, secret: Vec<u8>) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(AuthError::WeakKey);
        }
        Ok(Self {
            kid: kid.into(),
            secret,
        })
    }
}

impl fmt::Debug for SigningKey {
    // Keys end up in logs via `{:?}` of config structs far too easily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("secret", &"<redacted>")
            .finish()
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
}

/// The keys for signing and checking access tokens. New tokens are signed
/// with `current`; tokens are checked with whichever key their header `kid`
/// names, so a key can be rotated without logging everybody out: the old one
/// stays in `previous` until the tokens it signed have expired.
#[derive(Debug, Clone)]
pub struct AccessTokenKeys {
    current: SigningKey,
    previous: Vec<SigningKey>,
}

impl AccessTokenKeys {
    pub fn new(current: SigningKey, previous: Vec<SigningKey>) -> Self {
        Self { current, previous }
    }

    /// Signs `claims` with the current key (HS256, header `kid` set). The
    /// claims are signed as given; set `typ` to [`ACCESS_TOKEN_TYPE`] or
    /// [`verify`](Self::verify) will refuse the token.
    pub fn issue(&self, claims: &AccessClaims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_secret(&self.current.secret),
        )
        .map_err(|e| AuthError::Encoding(e.to_string()))
    }

    /// Checks an access token: HS256 only, signed by the key its `kid`
    /// names, issued by `expected_issuer`, `typ` = "access", with a non-empty
    /// `aud`, and not expired at `now` (no leeway: refused once
    /// `now >= exp`).
    ///
    /// The audience is only required, not matched: which app the request is
    /// for is known to the caller, not here, so the caller must compare
    /// `aud` with that app's public id.
    pub fn verify(
        &self,
        token: &str,
        expected_issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        let key = self.key_for(token)?;

        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against `now`, not the system clock, so
        // callers and tests control time and no leeway sneaks in.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        // See the doc comment: the app is matched by the caller.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);

        let data = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &DecodingKey::from_secret(&key.secret),
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

        if claims.iss != expected_issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.typ != ACCESS_TOKEN_TYPE {
            return Err(TokenError::WrongType);
        }
        if now.timestamp() >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Reads the header ourselves before handing the token to jsonwebtoken,
    /// so that `alg: none` and other algorithms (which its `Header` type may
    /// not even parse) are reported as such, and so the key is chosen by
    /// `kid`.
    fn key_for(&self, token: &str) -> Result<&SigningKey, TokenError> {
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
        let kid = header
            .get("kid")
            .and_then(serde_json::Value::as_str)
            .ok_or(TokenError::UnknownKey)?;
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
            .ok_or(TokenError::UnknownKey)
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

    fn key(kid: &str, byte: u8) -> SigningKey {
        SigningKey::new(kid, vec![byte; 32]).unwrap()
    }

    fn keys() -> AccessTokenKeys {
        AccessTokenKeys::new(key("k2", 2), vec![key("k1", 1)])
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).unwrap()
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            aud: "app_123".into(),
            sub: "usr_456".into(),
            sid: "ses_789".into(),
            iat: NOW,
            exp: NOW + 900,
            typ: ACCESS_TOKEN_TYPE.into(),
        }
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
        let token = keys.issue(&claims()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid.as_deref(), Some("k2"));
        assert_eq!(keys.verify(&token, ISSUER, at(NOW)).unwrap(), claims());
    }

    #[test]
    fn expiry_uses_passed_in_now_without_leeway() {
        let keys = keys();
        let token = keys.issue(&claims()).unwrap();
        let exp = claims().exp;
        assert!(keys.verify(&token, ISSUER, at(exp - 1)).is_ok());
        assert_eq!(
            keys.verify(&token, ISSUER, at(exp)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&token, ISSUER, at(exp + 1)),
            Err(TokenError::Expired)
        );
        // A token long expired by the system clock is fine at a `now` before exp.
        let old = AccessClaims {
            iat: 1_000,
            exp: 2_000,
            ..claims()
        };
        let token = keys.issue(&old).unwrap();
        assert!(keys.verify(&token, ISSUER, at(1_999)).is_ok());
        assert_eq!(
            keys.verify(&token, ISSUER, Utc::now()),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn wrong_issuer() {
        let keys = keys();
        let token = keys.issue(&claims()).unwrap();
        assert_eq!(
            keys.verify(&token, "https://evil.example", at(NOW)),
            Err(TokenError::WrongIssuer)
        );
    }

    #[test]
    fn wrong_type() {
        let keys = keys();
        let token = keys
            .issue(&AccessClaims {
                typ: "refresh".into(),
                ..claims()
            })
            .unwrap();
        assert_eq!(
            keys.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::WrongType)
        );
    }

    #[test]
    fn missing_or_empty_audience() {
        let keys = keys();
        let token = keys
            .issue(&AccessClaims {
                aud: String::new(),
                ..claims()
            })
            .unwrap();
        assert_eq!(
            keys.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::MissingAudience)
        );

        let mut raw = serde_json::to_value(claims()).unwrap();
        raw.as_object_mut().unwrap().remove("aud");
        let token = sign_raw(hs256_with_kid("k2"), &raw, &[2; 32]);
        assert_eq!(
            keys.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::MissingAudience)
        );
    }

    #[test]
    fn missing_exp_is_malformed() {
        let keys = keys();
        let mut raw = serde_json::to_value(claims()).unwrap();
        raw.as_object_mut().unwrap().remove("exp");
        let token = sign_raw(hs256_with_kid("k2"), &raw, &[2; 32]);
        assert_eq!(
            keys.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn alg_none_refused() {
        let keys = keys();
        for header in [
            serde_json::json!({"alg": "none", "typ": "JWT"}),
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": "k2"}),
        ] {
            let payload = serde_json::to_value(claims()).unwrap();
            let token = format!("{}.{}.", b64(&header), b64(&payload));
            assert_eq!(
                keys.verify(&token, ISSUER, at(NOW)),
                Err(TokenError::WrongAlgorithm)
            );
        }
    }

    #[test]
    fn other_hmac_algorithms_refused() {
        let keys = keys();
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("k2".into());
            let token = sign_raw(header, &claims(), &[2; 32]);
            assert_eq!(
                keys.verify(&token, ISSUER, at(NOW)),
                Err(TokenError::WrongAlgorithm)
            );
        }
    }

    #[test]
    fn rs256_header_refused() {
        // An RS256 header with an HMAC signature: the classic key-confusion
        // attempt. No RSA key is needed to show it is refused up front.
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k2"});
        let payload = serde_json::to_value(claims()).unwrap();
        let token = format!("{}.{}.c2ln", b64(&header), b64(&payload));
        assert_eq!(
            keys().verify(&token, ISSUER, at(NOW)),
            Err(TokenError::WrongAlgorithm)
        );
    }

    #[test]
    fn different_secret_refused() {
        let token = sign_raw(hs256_with_kid("k2"), &claims(), &[9; 32]);
        assert_eq!(
            keys().verify(&token, ISSUER, at(NOW)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_payload_refused() {
        let token = keys().issue(&claims()).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(&serde_json::to_value(AccessClaims {
            sub: "usr_admin".into(),
            ..claims()
        })
        .unwrap());
        parts[1] = &forged;
        assert_eq!(
            keys().verify(&parts.join("."), ISSUER, at(NOW)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn unknown_or_missing_kid_refused() {
        let keys = keys();
        let token = sign_raw(hs256_with_kid("k9"), &claims(), &[2; 32]);
        assert_eq!(
            keys.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::UnknownKey)
        );
        let token = sign_raw(Header::new(Algorithm::HS256), &claims(), &[2; 32]);
        assert_eq!(
            keys.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn previous_key_accepted_after_rotation() {
        let old = AccessTokenKeys::new(key("k1", 1), vec![]);
        let token = old.issue(&claims()).unwrap();
        assert_eq!(keys().verify(&token, ISSUER, at(NOW)).unwrap(), claims());
        // A token naming the previous kid but signed with the current secret
        // must not pass: the kid picks the key, it does not just gate it.
        let token = sign_raw(hs256_with_kid("k1"), &claims(), &[2; 32]);
        assert_eq!(
            keys().verify(&token, ISSUER, at(NOW)),
            Err(TokenError::BadSignature)
        );
        // Once dropped from `previous`, its tokens are refused.
        let rotated = AccessTokenKeys::new(key("k2", 2), vec![]);
        let token = old.issue(&claims()).unwrap();
        assert_eq!(
            rotated.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::UnknownKey)
        );
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
                keys.verify(token, ISSUER, at(NOW)),
                Err(TokenError::Malformed),
                "{token}"
            );
        }
        // Valid token with a fourth segment appended.
        let token = format!("{}.x", keys.issue(&claims()).unwrap());
        assert_eq!(
            keys.verify(&token, ISSUER, at(NOW)),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn weak_key_refused_and_debug_hides_secret() {
        assert!(matches!(
            SigningKey::new("k", vec![7; 31]),
            Err(AuthError::WeakKey)
        ));
        let k = SigningKey::new("k", b"super-secret-value-0123456789abcdef".to_vec()).unwrap();
        let dbg = format!("{k:?} {:?}", AccessTokenKeys::new(k.clone(), vec![]));
        assert!(!dbg.contains("super-secret"));
        assert!(!dbg.contains("115, 117, 112"));
    }
}
