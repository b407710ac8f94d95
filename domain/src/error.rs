//! The one error type every layer returns. Its codes are part of the API
//! contract (`extensions.code`); clients match on them, so they never change.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    /// A dependency (the database, the broker) is down: nothing about the
    /// request or its credential is wrong, and the same request may succeed
    /// once it is back (HTTP 503 with `Retry-After`, WebSocket close 1013).
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an `UNAVAILABLE` answer suggests waiting before trying again.
pub const UNAVAILABLE_RETRY_AFTER_SECS: i64 = 5;

type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// `message` is safe to show to a client. `cause` is for the logs only: the
/// wire layer logs it with the request id and never sends it.
#[derive(Debug, Clone)]
pub struct DomainError {
    pub code: ErrorCode,
    pub message: String,
    /// The input field at fault, as the client named it (`email`, `participantIds`).
    pub field: Option<String>,
    /// Seconds until a `RATE_LIMITED` request may be tried again.
    pub retry_after: Option<i64>,
    pub cause: Option<Cause>,
}

pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            cause: None,
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// `what` is the kind of thing looked for ("thread"); another app's ID
    /// gets exactly this answer too.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadUserInput, message).with_field(field)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// Too many attempts: try again later.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RateLimited, message)
    }

    /// A dependency is down; the cause goes to the logs.
    pub fn unavailable(
        cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        let mut error = Self::new(
            ErrorCode::Unavailable,
            "the service is unavailable for a moment: try again shortly",
        );
        error.retry_after = Some(UNAVAILABLE_RETRY_AFTER_SECS);
        error.cause = Some(Cause::from(cause.into()));
        error
    }

    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        let mut error = Self::new(ErrorCode::Internal, "internal error");
        error.cause = Some(Cause::from(cause.into()));
        error
    }

    /// Says when (in seconds) a limited request may be tried again.
    pub fn with_retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// Shows only what a client may see; the cause is reached through `source()`
/// by whoever logs it.
impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}
