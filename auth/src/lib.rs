//! Orbit's credentials: password hashing, access tokens (JWT), opaque secrets
//! (refresh tokens, invitation codes), API keys, and the emailed login codes
//! and magic-link tokens, the device authorization grant's codes and polls,
//! and Orbit as the OAuth client of outside login providers.
//!
//! This crate is deliberately pure: no database, no HTTP client, no async
//! runtime (the OAuth code exchange is handed the caller's HTTP client).
//! Anything that needs the clock takes `now` as an argument so callers (and
//! tests) control time.

mod api_keys;
mod device_flow;
mod error;
mod login_codes;
mod oauth_client;
mod password;
mod sealing;
mod secrets;
mod tokens;

pub use api_keys::{
    ApiKeyKind, GeneratedApiKey, KeyEnvironment, ParseKeyPartError, ParsedApiKey, generate_api_key,
    parse_api_key, verify_api_key,
};
pub use device_flow::{
    DeviceGrant, DeviceStatus, Poll, SLOW_DOWN_STEP_SECS, USER_CODE_ALPHABET, USER_CODE_LENGTH,
    display_user_code, generate_device_code, generate_user_code, normalize_user_code,
};
pub use error::AuthError;
pub use login_codes::{
    LOGIN_CODE_MAX_ATTEMPTS, generate_login_code, generate_magic_link_token, hash_login_code,
    magic_link, verify_login_code,
};
pub use oauth_client::{
    AuthorizationStart, ClaimNames, ClientAuth, OAuthClientConfig, OAuthClientError,
    ProviderIdentity, exchange_code, primary_verified_email, read_identity, start_authorization,
};
pub use password::{hash_password, verify_dummy_password, verify_password};
pub use sealing::{SealError, SealingKey};
pub use secrets::{constant_time_eq, generate_token, hash_token};
pub use tokens::{ACCESS_TOKEN_TYPE, AccessClaims, AccessTokenKeys, KeyId, KeyStatus, TokenError};
