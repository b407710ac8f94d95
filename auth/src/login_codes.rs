//! Passwordless login secrets: six-digit codes to type in, and magic-link
//! tokens to click. How long they live and where they are stored is the
//! caller's business; this module makes them, hashes them and checks them.

use rand::Rng;

use crate::secrets::{constant_time_eq, generate_token, hash_token};

/// Verifications a code allows, the right one included; then it is dead.
pub const LOGIN_CODE_MAX_ATTEMPTS: i32 = 5;
const LOGIN_CODE_DIGITS: usize = 6;
/// Magic-link tokens start with this, so leaked ones are recognisable.
const MAGIC_LINK_PREFIX: &str = "ml_";

/// Six decimal digits, uniform, from a CSPRNG (`000000` to `999999`).
pub fn generate_login_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// The stored form of a code. `subject` (the app and email it was sent to)
/// goes into the hash, so equal codes of two people hash apart. A code has
/// only 20 bits: the hash keeps it out of plain sight in the database, while
/// what really protects it is the attempt limit and its short life.
pub fn hash_login_code(subject: &str, code: &str) -> String {
    hash_token(&format!("{subject}\n{code}"))
}

/// Whether `presented` is the code stored as `stored_hash` for `subject`,
/// compared in constant time. Anything but six ASCII digits is wrong.
pub fn verify_login_code(subject: &str, presented: &str, stored_hash: &str) -> bool {
    let well_formed =
        presented.len() == LOGIN_CODE_DIGITS && presented.bytes().all(|b| b.is_ascii_digit());
    well_formed
        && constant_time_eq(
            hash_login_code(subject, presented).as_bytes(),
            stored_hash.as_bytes(),
        )
}

/// A magic-link token: `ml_` and 256 random bits, URL-safe. Store it with
/// [`hash_token`].
pub fn generate_magic_link_token() -> String {
    generate_token(MAGIC_LINK_PREFIX)
}

/// `redirect_url` with `token=<token>` added to its query (`?token=` or
/// `&token=`), before any fragment. The token is URL-safe as it is.
pub fn magic_link(redirect_url: &str, token: &str) -> String {
    let (base, fragment) = match redirect_url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (redirect_url, None),
    };
    let separator = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut link = format!("{base}{separator}token={token}");
    if let Some(fragment) = fragment {
        link.push('#');
        link.push_str(fragment);
    }
    link
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let code = generate_login_code();
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
    }

    #[test]
    fn codes_verify_only_for_their_subject() {
        let hash = hash_login_code("app_1:ada@example.com", "012345");
        assert!(verify_login_code("app_1:ada@example.com", "012345", &hash));
        assert!(!verify_login_code("app_1:ada@example.com", "012346", &hash));
        assert!(!verify_login_code("app_2:ada@example.com", "012345", &hash));
        for malformed in ["", "12345", "1234567", "01234a", " 012345", "０12345"] {
            assert!(!verify_login_code(
                "app_1:ada@example.com",
                malformed,
                &hash
            ));
        }
    }

    #[test]
    fn tokens_are_prefixed_and_differ() {
        let token = generate_magic_link_token();
        assert!(token.starts_with("ml_"));
        assert_ne!(token, generate_magic_link_token());
    }

    #[test]
    fn links_add_the_token_to_the_query() {
        assert_eq!(
            magic_link("https://app.example/", "ml_x"),
            "https://app.example/?token=ml_x"
        );
        assert_eq!(
            magic_link("https://app.example/cb?next=%2Fhome", "ml_x"),
            "https://app.example/cb?next=%2Fhome&token=ml_x"
        );
        assert_eq!(
            magic_link("https://app.example/cb?", "ml_x"),
            "https://app.example/cb?token=ml_x"
        );
        assert_eq!(
            magic_link("https://app.example/#/login?x=1", "ml_x"),
            "https://app.example/?token=ml_x#/login?x=1"
        );
    }
}
