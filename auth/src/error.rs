/// Failures while creating credentials (as opposed to checking them, which
/// has its own error type, [`crate::TokenError`], or a plain `bool`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("signing key is too short")]
    WeakKey,
    #[error("token encoding failed: {0}")]
    Encoding(String),
}
