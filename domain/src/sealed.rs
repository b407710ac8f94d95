//! App secrets that must be read back to be used (model-provider API keys,
//! OAuth client secrets, webhook signing secrets) are stored sealed: encrypted
//! with the server's secrets key and bound to where they belong. The cipher
//! lives outside the domain; the domain and the worker only see this trait.

use std::fmt;

use crate::ids::AppId;
use crate::{DomainError, DomainResult};

pub trait Sealer: Send + Sync + 'static {
    /// Encrypts `plaintext` for storing, bound to `context`.
    fn seal(&self, plaintext: &str, context: &SealContext) -> String;

    /// The plaintext of a value sealed with the same context. A value that was
    /// changed, moved to another row, or sealed with another key is an
    /// `INTERNAL` error: it means the stored data or the key is wrong.
    fn open(&self, sealed: &str, context: &SealContext) -> DomainResult<String>;
}

/// Where a sealed value belongs: its app, what it is, and its row. A value
/// sealed for one row does not open as another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealContext(String);

impl SealContext {
    /// `purpose` names the kind of secret (`model_provider.api_key`), `row`
    /// the public id of the object that holds it.
    pub fn new(app: AppId, purpose: &str, row: impl fmt::Display) -> Self {
        Self(format!("{app}/{purpose}/{row}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The error for a sealed value that does not open.
pub fn unsealing_failed(context: &SealContext, why: impl fmt::Display) -> DomainError {
    DomainError::internal(format!(
        "the secret of {} does not open: {why} (was ORBIT_SECRETS_KEY changed?)",
        context.as_str()
    ))
}
