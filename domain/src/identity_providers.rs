//! Outside OAuth providers an app's users log in with: the presets (what
//! Google and GitHub need, so an app gives only its client id and secret) and
//! the rules a provider's configuration must meet.

use url::Url;

use crate::validation::MAX_URL_LEN;
use crate::{DomainError, DomainResult};

/// At most this many providers per app.
pub const MAX_PROVIDERS_PER_APP: u64 = 20;
pub const MAX_SLUG_CHARS: usize = 40;
pub const MAX_SCOPES: usize = 20;
pub const MAX_SCOPE_CHARS: usize = 100;
pub const MAX_CLIENT_ID_CHARS: usize = 512;
pub const MAX_CLIENT_SECRET_CHARS: usize = 1024;
pub const MAX_CLAIM_CHARS: usize = 64;
pub const MAX_ISSUER_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Google,
    Github,
    Custom,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Google => "google",
            Preset::Github => "github",
            Preset::Custom => "custom",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "google" => Some(Preset::Google),
            "github" => Some(Preset::Github),
            "custom" => Some(Preset::Custom),
            _ => None,
        }
    }

    /// What the preset fills in; `None` for a custom provider, whose
    /// endpoints the app gives.
    pub fn defaults(self) -> Option<ProviderDefaults> {
        match self {
            // Google's OpenID Connect endpoints (accounts.google.com/.well-known/openid-configuration).
            Preset::Google => Some(ProviderDefaults {
                display_name: "Google",
                authorization_url: "https://accounts.google.com/o/oauth2/v2/auth",
                token_url: "https://oauth2.googleapis.com/token",
                userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo",
                emails_url: None,
                scopes: &["openid", "email", "profile"],
                issuer: "https://accounts.google.com",
                subject_claim: "sub",
                email_claim: "email",
                email_verified_claim: Some("email_verified"),
                name_claim: Some("name"),
                client_auth: TokenAuth::Basic,
            }),
            // GitHub's ids are numbers and its `/user` email is the public
            // one (often null, never said to be verified): the verified
            // primary address comes from `/user/emails`.
            Preset::Github => Some(ProviderDefaults {
                display_name: "GitHub",
                authorization_url: "https://github.com/login/oauth/authorize",
                token_url: "https://github.com/login/oauth/access_token",
                userinfo_url: "https://api.github.com/user",
                emails_url: Some("https://api.github.com/user/emails"),
                scopes: &["read:user", "user:email"],
                issuer: "https://github.com",
                subject_claim: "id",
                email_claim: "email",
                email_verified_claim: None,
                name_claim: Some("name"),
                client_auth: TokenAuth::Post,
            }),
            Preset::Custom => None,
        }
    }
}

/// How Orbit authenticates at a provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`).
    Post,
}

impl TokenAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuth::Basic => "basic",
            TokenAuth::Post => "post",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "basic" => Some(TokenAuth::Basic),
            "post" => Some(TokenAuth::Post),
            _ => None,
        }
    }
}

/// A preset's endpoints, scopes, issuer and claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderDefaults {
    pub display_name: &'static str,
    pub authorization_url: &'static str,
    pub token_url: &'static str,
    pub userinfo_url: &'static str,
    pub emails_url: Option<&'static str>,
    pub scopes: &'static [&'static str],
    pub issuer: &'static str,
    pub subject_claim: &'static str,
    pub email_claim: &'static str,
    pub email_verified_claim: Option<&'static str>,
    pub name_claim: Option<&'static str>,
    pub client_auth: TokenAuth,
}

/// A slug front ends name the provider by: lower-case letters, digits and
/// dashes, starting with a letter or digit.
pub fn slug(field: &str, value: &str) -> DomainResult<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_SLUG_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if !ok {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be 1 to {MAX_SLUG_CHARS} lower-case letters, digits or dashes, like google"
            ),
        ));
    }
    Ok(value.to_owned())
}

/// An endpoint of a provider: `https`, or `http` to a loopback host when
/// `allow_loopback_http` (the server allows private addresses: development
/// and tests). No user, password or fragment.
pub fn endpoint_url(field: &str, value: &str, allow_loopback_http: bool) -> DomainResult<Url> {
    let trimmed = value.trim();
    let invalid = || {
        let rule = if allow_loopback_http {
            "must be an https URL (or http to localhost), without a user, password or fragment"
        } else {
            "must be an https URL without a user, password or fragment"
        };
        DomainError::bad_input(field, rule)
    };
    if trimmed.len() > MAX_URL_LEN || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let url = Url::parse(trimmed).map_err(|_| invalid())?;
    let plain = url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none();
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => allow_loopback_http && is_loopback(&url),
        _ => false,
    };
    if !plain || !scheme_ok {
        return Err(invalid());
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Scope tokens as RFC 6749 §3.3 allows them (printable ASCII but space,
/// `"` and `\`), at most [`MAX_SCOPES`], repeats dropped.
pub fn scopes(field: &str, values: &[String]) -> DomainResult<Vec<String>> {
    if values.len() > MAX_SCOPES {
        return Err(DomainError::bad_input(
            field,
            format!("at most {MAX_SCOPES} scopes"),
        ));
    }
    let mut checked: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let ok = !value.is_empty()
            && value.len() <= MAX_SCOPE_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !ok {
            return Err(DomainError::bad_input(
                field,
                format!("each scope is 1 to {MAX_SCOPE_CHARS} printable characters, no spaces"),
            ));
        }
        if !checked.contains(value) {
            checked.push(value.clone());
        }
    }
    Ok(checked)
}

/// A single token without spaces: client ids, claim names, issuers.
pub fn token(field: &str, value: &str, max_chars: usize) -> DomainResult<String> {
    let trimmed = value.trim();
    let ok = !trimmed.is_empty()
        && trimmed.chars().count() <= max_chars
        && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(DomainError::bad_input(
            field,
            format!("must be 1 to {max_chars} characters without spaces"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A client secret: kept exactly as given, bounded, no control characters.
pub fn client_secret(field: &str, value: &str) -> DomainResult<String> {
    let ok = !value.is_empty()
        && value.chars().count() <= MAX_CLIENT_SECRET_CHARS
        && !value.chars().any(char::is_control);
    if !ok {
        return Err(DomainError::bad_input(
            field,
            format!("must be 1 to {MAX_CLIENT_SECRET_CHARS} characters"),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("slug", "google").unwrap(), "google");
        assert!(slug("slug", "my-idp-2").is_ok());
        for bad in ["", "Google", "-x", "a b", "a_b", &"x".repeat(41)] {
            assert_eq!(
                slug("slug", bad).unwrap_err().field.as_deref(),
                Some("slug")
            );
        }
    }

    #[test]
    fn endpoints_are_https_or_loopback_http_when_allowed() {
        assert!(endpoint_url("u", "https://idp.example/authorize?x=1", false).is_ok());
        assert!(endpoint_url("u", "http://127.0.0.1:9000/token", true).is_ok());
        assert!(endpoint_url("u", "http://localhost:9000/token", true).is_ok());
        for bad in [
            "http://127.0.0.1:9000/token",
            "http://idp.example/token",
            "ftp://idp.example/",
            "https://user:pw@idp.example/",
            "https://idp.example/#frag",
            "javascript:alert(1)",
        ] {
            assert!(endpoint_url("u", bad, false).is_err(), "{bad}");
        }
        assert!(endpoint_url("u", "http://10.0.0.1/token", true).is_err());
        assert!(endpoint_url("u", "http://idp.example/token", true).is_err());
    }

    #[test]
    fn scopes_are_tokens() {
        assert_eq!(
            scopes("s", &["openid".into(), "email".into(), "openid".into()]).unwrap(),
            vec!["openid".to_owned(), "email".to_owned()]
        );
        assert!(scopes("s", &["two words".into()]).is_err());
        assert!(scopes("s", &["".into()]).is_err());
        assert!(scopes("s", &vec!["a".to_owned(); 21]).is_err());
    }

    #[test]
    fn presets_fill_their_endpoints() {
        let google = Preset::Google.defaults().unwrap();
        assert_eq!(google.issuer, "https://accounts.google.com");
        let github = Preset::Github.defaults().unwrap();
        assert_eq!(github.subject_claim, "id");
        assert!(Preset::Custom.defaults().is_none());
        assert_eq!(Preset::parse("github"), Some(Preset::Github));
    }
}
