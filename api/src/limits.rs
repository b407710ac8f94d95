//! Abuse limits: how many attempts of a kind one account may make in a
//! fixed window. The counters live in the database (`rate_limits`), so
//! every server process counts against the same numbers; the clock is the
//! injected one. A resolver call counts once, so aliases and batches count
//! one by one. Past a limit the answer is `RATE_LIMITED` with
//! `extensions.details.retryAfter` (seconds until the window ends).

use chrono::Duration;
use orbit_domain::ids::AppScope;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::rate_limits;

use crate::Services;

/// A number of attempts allowed per window, counted under keys that start
/// with `name`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub name: &'static str,
    pub max: i64,
    pub window: Duration,
}

/// Failed password logins of one account (app + normalized email, known or
/// not): past 100 an hour `logIn` answers `RATE_LIMITED` for it, even with
/// the right password. Code and link logins of the account still work.
pub const FAILED_PASSWORD_LOGINS_PER_ACCOUNT: Limit = Limit {
    name: "login-failed:account",
    max: 100,
    window: Duration::hours(1),
};

/// Code and link requests (`requestLoginCode`, `requestMagicLink`
/// together) of one email in an app, counted the same whether it has an
/// account or not, so the limit tells nothing about which emails exist.
pub const LOGIN_MAILS_PER_ACCOUNT: Limit = Limit {
    name: "login-mail:account",
    max: 10,
    window: Duration::hours(1),
};

/// Failed password logins from one client address (the TCP peer), over
/// all accounts and apps: a spray across many accounts.
pub const FAILED_PASSWORD_LOGINS_PER_ADDRESS: Limit = Limit {
    name: "login-failed:addr",
    max: 300,
    window: Duration::hours(1),
};

/// Code and link requests from one client address.
pub const LOGIN_MAILS_PER_ADDRESS: Limit = Limit {
    name: "login-mail:addr",
    max: 30,
    window: Duration::hours(1),
};

/// Failed `verifyLoginCode` and `verifyMagicLink` calls from one client
/// address (each code also dies after 5 tries of its own).
pub const FAILED_VERIFICATIONS_PER_ADDRESS: Limit = Limit {
    name: "verify-failed:addr",
    max: 100,
    window: Duration::hours(1),
};

/// `POST /oauth/device/authorize` calls from one client address. Past it
/// the endpoint answers HTTP 429 with `Retry-After` and the OAuth error
/// body `{"error": "slow_down", "error_description": ...}`.
pub const DEVICE_AUTHORIZATIONS_PER_ADDRESS: Limit = Limit {
    name: "device-authorize:addr",
    max: 30,
    window: Duration::hours(1),
};

/// Logins through outside providers started from one client address
/// (`startOAuthLogin`, `GET /oauth/authorize/...`): each stores a login
/// for 10 minutes.
pub const OAUTH_LOGINS_PER_ADDRESS: Limit = Limit {
    name: "oauth-start:addr",
    max: 60,
    window: Duration::hours(1),
};

/// Failed completions of outside-provider logins from one client address:
/// callbacks with a state that is unknown, used or expired, and
/// `completeOAuthLogin` calls with a code that is.
pub const FAILED_OAUTH_COMPLETIONS_PER_ADDRESS: Limit = Limit {
    name: "oauth-failed:addr",
    max: 100,
    window: Duration::hours(1),
};

/// The client address of a request: the TCP peer, or the client a trusted
/// proxy names in `X-Forwarded-For` (`http/client_addr.rs`); absent where
/// there is none to count by.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The subject of an address's limits.
pub fn address(addr: ClientAddr) -> String {
    addr.0.to_string()
}

/// The subject of an account's limits: its app and normalized email.
pub fn account(scope: AppScope, email_normalized: &str) -> String {
    format!("{}:{email_normalized}", scope.app_id())
}

impl Limit {
    fn key(&self, subject: &str) -> String {
        format!("{}:{subject}", self.name)
    }

    /// Counts one attempt of `subject` when there is one; see [`Limit::hit`].
    pub async fn hit_opt(&self, services: &Services, subject: Option<&str>) -> DomainResult<()> {
        match subject {
            Some(subject) => self.hit(services, subject).await,
            None => Ok(()),
        }
    }

    /// [`Limit::check`] when there is a subject.
    pub async fn check_opt(&self, services: &Services, subject: Option<&str>) -> DomainResult<()> {
        match subject {
            Some(subject) => self.check(services, subject).await,
            None => Ok(()),
        }
    }

    fn exceeded(&self, services: &Services) -> DomainError {
        metrics::counter!("orbit_rate_limit_refusals_total", "limit" => self.name).increment(1);
        let seconds = rate_limits::retry_after(self.window, services.clock().now());
        DomainError::rate_limited(format!("too many attempts: try again in {seconds} seconds"))
            .with_retry_after(seconds)
    }

    /// `RATE_LIMITED` when `subject` has used up the window already.
    pub async fn check(&self, services: &Services, subject: &str) -> DomainResult<()> {
        let count = rate_limits::count(
            services.db(),
            &self.key(subject),
            self.window,
            services.clock().now(),
        )
        .await?;
        if count >= self.max {
            return Err(self.exceeded(services));
        }
        Ok(())
    }

    /// Counts one attempt of `subject`: `RATE_LIMITED` when it is past the limit.
    pub async fn hit(&self, services: &Services, subject: &str) -> DomainResult<()> {
        let count = rate_limits::hit(
            services.db(),
            &self.key(subject),
            self.window,
            services.clock().now(),
        )
        .await?;
        if count > self.max {
            return Err(self.exceeded(services));
        }
        Ok(())
    }
}
