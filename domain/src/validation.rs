//! Input rules shared by every entry point. Each check names the input field
//! at fault, so a client can point at it.

use serde_json::Value;
use url::Url;

use crate::{DomainError, DomainResult};

pub const MAX_EMAIL_LEN: usize = 254;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Bounds the work argon2 does on attacker-chosen input.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 10_000;
pub const MAX_METADATA_BYTES: usize = 8 * 1024;
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_REDIRECT_ORIGINS: usize = 20;

/// A checked email: as given (trimmed) and the lower-cased form used for uniqueness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub normalized: String,
}

pub fn email(field: &str, value: &str) -> DomainResult<Email> {
    let trimmed = value.trim();
    let invalid =
        || DomainError::bad_input(field, "must be an email address like name@example.com");
    if trimmed.is_empty() || trimmed.len() > MAX_EMAIL_LEN {
        return Err(invalid());
    }
    let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
    let well_formed = !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@');
    if !well_formed {
        return Err(invalid());
    }
    Ok(Email {
        display: trimmed.to_owned(),
        normalized: trimmed.to_lowercase(),
    })
}

pub fn password(field: &str, value: &str) -> DomainResult<()> {
    if value.chars().count() < MIN_PASSWORD_CHARS {
        return Err(DomainError::bad_input(
            field,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if value.len() > MAX_PASSWORD_BYTES {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A single-line name or title: trimmed, non-empty, bounded, no control characters.
pub fn text_line(field: &str, value: &str, max_chars: usize) -> DomainResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::bad_input(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(DomainError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Text Postgres can store: `text` and `jsonb` refuse U+0000, so a NUL that
/// got this far would fail the write (SQLite would keep it, and the two
/// backends would disagree). The API refuses NUL in every input before
/// execution; this guards the inputs that are stored as given.
pub fn no_nul(field: &str, value: &str) -> DomainResult<()> {
    if value.contains('\0') {
        return Err(DomainError::bad_input(
            field,
            "must not contain the NUL character (U+0000)",
        ));
    }
    Ok(())
}

/// Whether U+0000 is anywhere in `value`, keys included (Postgres cannot store it).
pub fn json_has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, v)| key.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

pub fn message_content(field: &str, value: &str) -> DomainResult<String> {
    no_nul(field, value)?;
    if value.trim().is_empty() {
        return Err(DomainError::bad_input(field, "must not be empty"));
    }
    if value.chars().count() > MAX_MESSAGE_CHARS {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Metadata is a JSON object of bounded size, so one message cannot carry a payload.
pub fn metadata(field: &str, value: &Value) -> DomainResult<()> {
    if !value.is_object() {
        return Err(DomainError::bad_input(field, "must be a JSON object"));
    }
    if json_has_nul(value) {
        return Err(DomainError::bad_input(
            field,
            "must not contain the NUL character (U+0000), in keys or values",
        ));
    }
    let size = serde_json::to_vec(value)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

pub fn idempotency_key(field: &str, value: &str) -> DomainResult<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(DomainError::bad_input(
            field,
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"),
        ));
    }
    Ok(value.to_owned())
}

/// An IANA zone name such as `Europe/Paris`, or `UTC`. Checked by shape only;
/// the zone database comes with scheduling.
pub fn timezone(field: &str, value: &str) -> DomainResult<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'+' | b'-'));
    if !ok {
        return Err(DomainError::bad_input(
            field,
            "must be a time zone name like Europe/Paris",
        ));
    }
    Ok(value.to_owned())
}

pub fn http_url(field: &str, value: &str) -> DomainResult<String> {
    let trimmed = value.trim();
    let ok = trimmed.len() <= MAX_URL_LEN
        && (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
        && trimmed.len() > "https://".len()
        && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(DomainError::bad_input(field, "must be an http(s) URL"));
    }
    Ok(trimmed.to_owned())
}

/// An origin a magic link may lead to: `http` or `https`, a host and perhaps
/// a port, nothing more (no user, path, query or fragment). Returned in the
/// form redirect URLs are compared with: lower case, default port dropped
/// (`HTTPS://Example.com:443/` is `https://example.com`).
pub fn origin(field: &str, value: &str) -> DomainResult<String> {
    let invalid = || {
        DomainError::bad_input(
            field,
            "must be an origin like https://example.com or http://localhost:3000 (no path, query or fragment)",
        )
    };
    let trimmed = value.trim();
    if trimmed.len() > MAX_URL_LEN || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let url = Url::parse(trimmed).map_err(|_| invalid())?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if !bare {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

/// A list of [`origin`]s, at most [`MAX_REDIRECT_ORIGINS`], repeats dropped.
pub fn origins(field: &str, values: &[String]) -> DomainResult<Vec<String>> {
    if values.len() > MAX_REDIRECT_ORIGINS {
        return Err(DomainError::bad_input(
            field,
            format!("must hold at most {MAX_REDIRECT_ORIGINS} origins"),
        ));
    }
    let mut checked: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let origin = origin(field, value)?;
        if !checked.contains(&origin) {
            checked.push(origin);
        }
    }
    Ok(checked)
}

/// Where a magic link leads: an http(s) URL, without a user or password,
/// whose origin (scheme, host and port, exactly) is one of `allowed`
/// (origins as [`origin`] returns them).
pub fn redirect_url(field: &str, value: &str, allowed: &[String]) -> DomainResult<Url> {
    let checked = http_url(field, value)?;
    let url = Url::parse(&checked)
        .ok()
        .filter(|url| url.host().is_some() && url.username().is_empty() && url.password().is_none())
        .ok_or_else(|| {
            DomainError::bad_input(field, "must be an http(s) URL without a user or password")
        })?;
    let origin = url.origin().ascii_serialization();
    if !allowed.contains(&origin) {
        return Err(DomainError::bad_input(
            field,
            "must be on an origin the app allows for magic links",
        ));
    }
    Ok(url)
}

/// `first`/`last` page sizes.
pub fn page_size(field: &str, value: i32) -> DomainResult<u64> {
    if !(1..=100).contains(&value) {
        return Err(DomainError::bad_input(field, "must be between 1 and 100"));
    }
    Ok(value as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Ada@Example.COM ").unwrap().normalized,
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@.com",
        ] {
            let error = email("email", bad).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("email"), "{bad}");
        }
    }

    #[test]
    fn lines_and_sizes() {
        assert_eq!(text_line("name", "  Core  ", 10).unwrap(), "Core");
        assert!(text_line("name", "   ", 10).is_err());
        assert!(text_line("name", "a\u{0}b", 10).is_err());
        assert!(text_line("name", &"x".repeat(11), 10).is_err());
        assert!(metadata("metadata", &serde_json::json!([1])).is_err());
        assert!(metadata("metadata", &serde_json::json!({"k": ["a\u{0}"]})).is_err());
        assert!(metadata("metadata", &serde_json::json!({"k\u{0}": 1})).is_err());
        assert!(metadata("metadata", &serde_json::json!({"k": "v"})).is_ok());
        assert!(message_content("content", "a\u{0}b").is_err());
        assert!(no_nul("search", "a\u{0}").is_err());
        assert!(metadata("metadata", &serde_json::json!({"k": "x".repeat(9000)})).is_err());
        assert!(page_size("first", 0).is_err());
        assert!(page_size("first", 101).is_err());
        assert_eq!(page_size("first", 100).unwrap(), 100);
        assert!(timezone("timezone", "Europe/Paris").is_ok());
        assert!(timezone("timezone", "../etc").is_err());
    }

    #[test]
    fn origins_are_bare_and_canonical() {
        assert_eq!(
            origin("o", "HTTPS://Example.COM:443/").unwrap(),
            "https://example.com"
        );
        assert_eq!(
            origin("o", "http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://example.com/app",
            "https://example.com?x=1",
            "https://example.com#top",
            "https://user@example.com",
            "https://exa mple.com",
            "https://",
        ] {
            assert_eq!(
                origin("o", bad).unwrap_err().field.as_deref(),
                Some("o"),
                "{bad}"
            );
        }
        let list = origins(
            "o",
            &["https://a.example".into(), "https://A.example:443".into()],
        )
        .unwrap();
        assert_eq!(list, vec!["https://a.example".to_owned()]);
        assert!(origins("o", &vec!["https://a.example".to_owned(); 21]).is_err());
    }

    #[test]
    fn redirect_urls_match_the_origin_exactly() {
        let allowed = vec![
            "https://app.example".to_owned(),
            "http://localhost:3000".to_owned(),
        ];
        assert!(redirect_url("r", "https://app.example/login?next=/x", &allowed).is_ok());
        assert!(redirect_url("r", "https://APP.example:443/", &allowed).is_ok());
        assert!(redirect_url("r", "http://localhost:3000/cb", &allowed).is_ok());
        for bad in [
            "http://app.example/",
            "https://app.example:8443/",
            "https://evil.example/",
            "https://app.example.evil.example/",
            "https://app.example@evil.example/",
            "https://user@app.example/",
            "http://localhost:3001/cb",
            "javascript:alert(1)",
        ] {
            let error = redirect_url("r", bad, &allowed).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("r"), "{bad}");
        }
        assert!(redirect_url("r", "https://app.example/", &[]).is_err());
    }
}
