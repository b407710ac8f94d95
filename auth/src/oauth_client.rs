//! Orbit as the client of an outside OAuth 2.0 provider (Google, GitHub, any
//! provider an app configures): the authorization request with PKCE S256 and
//! a state, the code exchange at the token endpoint, and reading who the
//! person is from the provider's userinfo answer.
//!
//! The `oauth2` crate speaks the protocol. This module has no HTTP client of
//! its own: the caller passes one (the server passes its outbound client, which
//! refuses private addresses), so the crate stays free of network policy.

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};
use serde_json::Value;
use url::Url;

/// How Orbit authenticates to the provider's token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// What Orbit needs to talk to one provider as one app's client.
#[derive(Debug, Clone)]
pub struct OAuthClientConfig {
    pub client_id: String,
    pub client_secret: String,
    pub authorization_url: String,
    pub token_url: String,
    pub client_auth: ClientAuth,
    pub scopes: Vec<String>,
}

/// Why a step with the provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthClientError {
    /// A stored URL does not parse (it was validated when stored, so this is a bug or old data).
    #[error("the provider's {0} is not a valid URL")]
    Configuration(&'static str),
    /// The provider answered with an OAuth error (`invalid_grant` for a used
    /// code, a wrong verifier or redirect URI, ...).
    #[error("the provider refused: {error}")]
    Refused {
        error: String,
        description: Option<String>,
    },
    /// The provider could not be reached, or answered something that is not
    /// the protocol's.
    #[error("the provider did not answer as expected: {0}")]
    Unavailable(String),
}

/// An authorization request about to be sent through the browser.
#[derive(Debug)]
pub struct AuthorizationStart {
    /// Where to send the person: the provider's page, with `client_id`,
    /// `redirect_uri`, `scope`, `state` and the S256 `code_challenge`.
    pub url: Url,
    /// The PKCE verifier, to keep (sealed) until the code comes back.
    pub pkce_verifier: String,
}

fn client(
    config: &OAuthClientConfig,
) -> Result<
    BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    OAuthClientError,
> {
    let auth_url = AuthUrl::new(config.authorization_url.clone())
        .map_err(|_| OAuthClientError::Configuration("authorization URL"))?;
    let token_url = TokenUrl::new(config.token_url.clone())
        .map_err(|_| OAuthClientError::Configuration("token URL"))?;
    let auth_type = match config.client_auth {
        ClientAuth::Basic => AuthType::BasicAuth,
        ClientAuth::Post => AuthType::RequestBody,
    };
    Ok(BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(config.client_secret.clone()))
        .set_auth_uri(auth_url)
        .set_token_uri(token_url)
        .set_auth_type(auth_type))
}

/// The provider's authorization URL for a new login: `state` is Orbit's
/// single-use value, `redirect_uri` Orbit's callback, exactly as the token
/// request will send it again; a fresh PKCE S256 pair is made here.
pub fn start_authorization(
    config: &OAuthClientConfig,
    redirect_uri: &str,
    state: &str,
) -> Result<AuthorizationStart, OAuthClientError> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| OAuthClientError::Configuration("callback URL"))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = state.to_owned();
    let (url, _) = client(config)?
        .set_redirect_uri(redirect)
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(config.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    Ok(AuthorizationStart {
        url,
        pkce_verifier: verifier.secret().clone(),
    })
}

/// Exchanges an authorization code for the provider's access token, with
/// the PKCE verifier and the same `redirect_uri` the authorization used.
pub async fn exchange_code<C>(
    http: &C,
    config: &OAuthClientConfig,
    redirect_uri: &str,
    code: &str,
    pkce_verifier: &str,
) -> Result<String, OAuthClientError>
where
    C: for<'c> AsyncHttpClient<'c>,
{
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| OAuthClientError::Configuration("callback URL"))?;
    let client = client(config)?.set_redirect_uri(redirect);
    let answer = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(http)
        .await;
    match answer {
        Ok(token) => Ok(token.access_token().secret().clone()),
        Err(RequestTokenError::ServerResponse(refusal)) => Err(refused(&refusal)),
        Err(RequestTokenError::Request(error)) => {
            Err(OAuthClientError::Unavailable(error_chain(&error)))
        }
        Err(RequestTokenError::Parse(error, _)) => Err(OAuthClientError::Unavailable(format!(
            "unreadable token answer: {error}"
        ))),
        Err(RequestTokenError::Other(other)) => Err(OAuthClientError::Unavailable(other)),
    }
}

fn refused(refusal: &BasicErrorResponse) -> OAuthClientError {
    OAuthClientError::Refused {
        error: refusal.error().to_string(),
        description: refusal.error_description().cloned(),
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Where in a provider's userinfo answer the person's details are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// The provider's stable id of the person (`sub`; GitHub: `id`, a number).
    pub subject: String,
    pub email: String,
    /// A boolean saying the provider checked the email; `None`: the
    /// provider's emails count as checked.
    pub email_verified: Option<String>,
    pub name: Option<String>,
}

/// The person as the provider describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Reads the person from a userinfo answer. The subject must be a non-empty
/// string or an integer (GitHub's ids are numbers); anything else is an error.
pub fn read_identity(userinfo: &Value, names: &ClaimNames) -> Result<ProviderIdentity, String> {
    let subject = match userinfo.get(&names.subject) {
        Some(Value::String(subject)) if !subject.trim().is_empty() => subject.clone(),
        Some(Value::Number(number)) if number.is_u64() || number.is_i64() => number.to_string(),
        _ => return Err(format!("the userinfo answer has no `{}`", names.subject)),
    };
    let email = userinfo
        .get(&names.email)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|email| !email.is_empty())
        .map(str::to_owned);
    let email_verified = match &names.email_verified {
        None => true,
        // Some providers send the flag as the string "true".
        Some(claim) => {
            matches!(userinfo.get(claim), Some(Value::Bool(true)))
                || userinfo.get(claim).and_then(Value::as_str) == Some("true")
        }
    };
    let name = names
        .name
        .as_ref()
        .and_then(|claim| userinfo.get(claim))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    Ok(ProviderIdentity {
        subject,
        email,
        email_verified,
        name,
    })
}

/// The primary, verified address of a GitHub-style email list
/// (`[{"email", "primary", "verified"}]`, GitHub's `GET /user/emails`).
pub fn primary_verified_email(emails: &Value) -> Option<String> {
    emails.as_array()?.iter().find_map(|entry| {
        let primary = entry.get("primary").and_then(Value::as_bool) == Some(true);
        let verified = entry.get("verified").and_then(Value::as_bool) == Some(true);
        (primary && verified)
            .then(|| {
                entry
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .flatten()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> OAuthClientConfig {
        OAuthClientConfig {
            client_id: "client-1".into(),
            client_secret: "s3cret".into(),
            authorization_url: "https://provider.example/authorize?prompt=consent".into(),
            token_url: "https://provider.example/token".into(),
            client_auth: ClientAuth::Basic,
            scopes: vec!["openid".into(), "email".into()],
        }
    }

    #[test]
    fn the_authorization_url_carries_pkce_s256_state_and_the_exact_redirect() {
        let start =
            start_authorization(&config(), "https://orbit.example/oauth/callback", "st_1").unwrap();
        let params: std::collections::HashMap<String, String> =
            start.url.query_pairs().into_owned().collect();
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["client_id"], "client-1");
        assert_eq!(
            params["redirect_uri"],
            "https://orbit.example/oauth/callback"
        );
        assert_eq!(params["state"], "st_1");
        assert_eq!(params["scope"], "openid email");
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(params["prompt"], "consent");
        let expected = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            start.pkce_verifier.clone(),
        ));
        assert_eq!(&params["code_challenge"], expected.as_str());
        let again =
            start_authorization(&config(), "https://orbit.example/oauth/callback", "st_1").unwrap();
        assert_ne!(again.pkce_verifier, start.pkce_verifier);
    }

    #[test]
    fn identities_are_read_from_strings_numbers_and_flags() {
        let google = ClaimNames {
            subject: "sub".into(),
            email: "email".into(),
            email_verified: Some("email_verified".into()),
            name: Some("name".into()),
        };
        let read = read_identity(
            &json!({"sub": "1083", "email": "ada@example.com", "email_verified": true, "name": "Ada"}),
            &google,
        )
        .unwrap();
        assert_eq!(read.subject, "1083");
        assert!(read.email_verified);
        assert_eq!(read.name.as_deref(), Some("Ada"));
        let unverified = read_identity(
            &json!({"sub": "1", "email": "x@example.com", "email_verified": false}),
            &google,
        )
        .unwrap();
        assert!(!unverified.email_verified);
        assert!(read_identity(&json!({"sub": ""}), &google).is_err());
        assert!(read_identity(&json!({"sub": {"x": 1}}), &google).is_err());
        let github = ClaimNames {
            subject: "id".into(),
            email: "email".into(),
            email_verified: None,
            name: Some("name".into()),
        };
        let read = read_identity(&json!({"id": 583231, "email": null}), &github).unwrap();
        assert_eq!(read.subject, "583231");
        assert_eq!(read.email, None);
    }

    #[test]
    fn the_primary_verified_email_is_picked() {
        let emails = json!([
            {"email": "old@example.com", "primary": false, "verified": true},
            {"email": "ada@example.com", "primary": true, "verified": true},
        ]);
        assert_eq!(
            primary_verified_email(&emails).as_deref(),
            Some("ada@example.com")
        );
        let unverified = json!([{"email": "ada@example.com", "primary": true, "verified": false}]);
        assert_eq!(primary_verified_email(&unverified), None);
    }
}
