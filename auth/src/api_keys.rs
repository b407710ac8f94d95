use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand::distr::Alphanumeric;

use crate::secrets::{constant_time_eq, hash_token};

/// Length of the random part: 40 base62 characters, about 238 bits.
const RANDOM_LEN: usize = 40;
/// `sk_live_` and friends are all this long.
const PREFIX_LEN: usize = 8;
const KEY_LEN: usize = PREFIX_LEN + RANDOM_LEN;
/// The type prefix plus 12 random characters (~71 bits): enough to make a
/// unique index collision practically impossible while revealing nothing
/// useful about the remaining 28 characters.
const LOOKUP_PREFIX_LEN: usize = PREFIX_LEN + 12;

/// Whether a key may be shipped to browsers (publishable) or must stay on a
/// server (secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyKind {
    Publishable,
    Secret,
}

/// Which of an app's data a key works against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyEnvironment {
    Live,
    Test,
}

/// Returned by the `FromStr` impls of [`ApiKeyKind`] and [`KeyEnvironment`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value: {0:?}")]
pub struct ParseKeyPartError(pub String);

impl ApiKeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publishable => "publishable",
            Self::Secret => "secret",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "publishable" => Some(Self::Publishable),
            "secret" => Some(Self::Secret),
            _ => None,
        }
    }

    fn key_tag(self) -> &'static str {
        match self {
            Self::Publishable => "pk",
            Self::Secret => "sk",
        }
    }
}

impl KeyEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(Self::Live),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

impl FromStr for ApiKeyKind {
    type Err = ParseKeyPartError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| ParseKeyPartError(s.to_owned()))
    }
}

impl FromStr for KeyEnvironment {
    type Err = ParseKeyPartError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| ParseKeyPartError(s.to_owned()))
    }
}

impl fmt::Display for ApiKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for KeyEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly generated key. `plaintext` is shown to the user once and never
/// stored; `lookup_prefix` goes in clear into a unique index to find the row;
/// `hash` is what the row stores to check the rest.
pub struct GeneratedApiKey {
    pub plaintext: String,
    pub lookup_prefix: String,
    pub hash: String,
}

impl fmt::Debug for GeneratedApiKey {
    // Keys end up in logs via `{:?}` far too easily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedApiKey")
            .field("plaintext", &"<redacted>")
            .field("lookup_prefix", &self.lookup_prefix)
            .field("hash", &self.hash)
            .finish()
    }
}

/// What the shape of a presented key says, before any database lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedApiKey {
    pub kind: ApiKeyKind,
    pub environment: KeyEnvironment,
    pub lookup_prefix: String,
}

/// Generates `{pk|sk}_{live|test}_` followed by 40 characters drawn uniformly
/// from [0-9A-Za-z] with a CSPRNG.
pub fn generate_api_key(kind: ApiKeyKind, env: KeyEnvironment) -> GeneratedApiKey {
    let mut plaintext = String::with_capacity(KEY_LEN);
    plaintext.push_str(kind.key_tag());
    plaintext.push('_');
    plaintext.push_str(env.as_str());
    plaintext.push('_');
    // `Alphanumeric` samples by rejection, so every character is uniform;
    // `rand::rng()` is a CSPRNG.
    plaintext.extend(
        rand::rng()
            .sample_iter(Alphanumeric)
            .take(RANDOM_LEN)
            .map(char::from),
    );
    let lookup_prefix = plaintext[..LOOKUP_PREFIX_LEN].to_owned();
    let hash = hash_token(&plaintext);
    GeneratedApiKey {
        plaintext,
        lookup_prefix,
        hash,
    }
}

/// Parses a presented key's shape. `None` unless it is exactly one of the
/// four prefixes followed by 40 base62 characters, so malformed input is
/// turned away before touching the database.
pub fn parse_api_key(candidate: &str) -> Option<ParsedApiKey> {
    if candidate.len() != KEY_LEN {
        return None;
    }
    // Length is checked in bytes; a non-ASCII string fails the slicing or
    // the charset check below.
    let prefix = candidate.get(..PREFIX_LEN)?;
    let random = candidate.get(PREFIX_LEN..)?;
    let (kind, environment) = match prefix {
        "pk_live_" => (ApiKeyKind::Publishable, KeyEnvironment::Live),
        "pk_test_" => (ApiKeyKind::Publishable, KeyEnvironment::Test),
        "sk_live_" => (ApiKeyKind::Secret, KeyEnvironment::Live),
        "sk_test_" => (ApiKeyKind::Secret, KeyEnvironment::Test),
        _ => return None,
    };
    if !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(ParsedApiKey {
        kind,
        environment,
        lookup_prefix: candidate.get(..LOOKUP_PREFIX_LEN)?.to_owned(),
    })
}

/// Checks a presented key against the stored hash (lowercase hex, as made by
/// [`hash_token`]) in constant time.
pub fn verify_api_key(candidate: &str, stored_hash: &str) -> bool {
    constant_time_eq(hash_token(candidate).as_bytes(), stored_hash.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ALL: [(ApiKeyKind, KeyEnvironment, &str); 4] = [
        (ApiKeyKind::Publishable, KeyEnvironment::Live, "pk_live_"),
        (ApiKeyKind::Publishable, KeyEnvironment::Test, "pk_test_"),
        (ApiKeyKind::Secret, KeyEnvironment::Live, "sk_live_"),
        (ApiKeyKind::Secret, KeyEnvironment::Test, "sk_test_"),
    ];

    #[test]
    fn round_trip_all_kinds() {
        for (kind, env, prefix) in ALL {
            let key = generate_api_key(kind, env);
            assert_eq!(key.plaintext.len(), 48);
            assert!(key.plaintext.starts_with(prefix));
            assert!(
                key.plaintext[8..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric())
            );
            assert_eq!(key.lookup_prefix.len(), 20);
            assert_eq!(key.lookup_prefix, key.plaintext[..20]);
            assert_eq!(key.hash, hash_token(&key.plaintext));

            let parsed = parse_api_key(&key.plaintext).unwrap();
            assert_eq!(
                parsed,
                ParsedApiKey {
                    kind,
                    environment: env,
                    lookup_prefix: key.lookup_prefix.clone(),
                }
            );
            assert!(verify_api_key(&key.plaintext, &key.hash));

            let other = generate_api_key(kind, env);
            assert_ne!(other.plaintext, key.plaintext);
            assert!(!verify_api_key(&other.plaintext, &key.hash));
        }
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        let good = generate_api_key(ApiKeyKind::Secret, KeyEnvironment::Live).plaintext;
        let random = &good[8..];
        assert!(parse_api_key(&good).is_some());
        for bad_prefix in ["xk_live_", "sk_prod_", "SK_LIVE_", "sk-live_", "rt_live_"] {
            assert!(parse_api_key(&format!("{bad_prefix}{random}")).is_none());
        }
        assert!(parse_api_key(&good[..47]).is_none());
        assert!(parse_api_key(&format!("{good}a")).is_none());
        assert!(parse_api_key("").is_none());
        assert!(parse_api_key("sk_live_").is_none());
        for bad_char in ['-', '_', '+', '/', '=', ' ', 'é'] {
            let mut s = good[..47].to_owned();
            s.push(bad_char);
            // 'é' is two bytes, so drop one more to keep the byte length at 48.
            if s.len() > 48 {
                s.remove(46);
            }
            assert!(parse_api_key(&s).is_none(), "{s}");
        }
    }

    #[test]
    fn verify_rejects_wrong_hash() {
        let key = generate_api_key(ApiKeyKind::Secret, KeyEnvironment::Test);
        assert!(!verify_api_key(&key.plaintext, ""));
        assert!(!verify_api_key(&key.plaintext, &key.hash.to_uppercase()));
        assert!(!verify_api_key("", &key.hash));
    }

    #[test]
    fn debug_hides_plaintext() {
        let key = generate_api_key(ApiKeyKind::Secret, KeyEnvironment::Live);
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(&key.plaintext));
        assert!(!dbg.contains(&key.plaintext[20..]));
    }

    #[test]
    fn enum_strings() {
        for kind in [ApiKeyKind::Publishable, ApiKeyKind::Secret] {
            assert_eq!(ApiKeyKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.as_str().parse::<ApiKeyKind>().unwrap(), kind);
        }
        for env in [KeyEnvironment::Live, KeyEnvironment::Test] {
            assert_eq!(KeyEnvironment::parse(env.as_str()), Some(env));
            assert_eq!(env.as_str().parse::<KeyEnvironment>().unwrap(), env);
        }
        assert_eq!(ApiKeyKind::parse("Secret"), None);
        assert_eq!(KeyEnvironment::parse("prod"), None);
        assert!("x".parse::<ApiKeyKind>().is_err());
    }
}
