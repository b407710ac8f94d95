//! What every request and command shares: the database, the clock, the
//! token keys and the built-in console app.

use std::sync::Arc;

use chrono::Duration;
use orbit_auth::AccessTokenKeys;
use orbit_domain::ids::AppScope;
use orbit_domain::{Clock, Sealer};
use orbit_persistence::Db;
use orbit_realtime::Broker;

use crate::config::ConsoleSignup;

/// Access tokens are short-lived: a revoked session stops working within
/// this time even where a check is skipped; refresh tokens renew them.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(15);
pub const SESSION_TTL: Duration = Duration::days(30);
pub const INVITATION_TTL: Duration = Duration::days(7);
/// An emailed login code works once, within this time.
pub const LOGIN_CODE_TTL: Duration = Duration::minutes(10);
/// A magic link works once, within this time.
pub const MAGIC_LINK_TTL: Duration = Duration::minutes(15);
/// A device authorization (`/oauth/device/authorize`) waits this long for approval.
pub const DEVICE_CODE_TTL: Duration = Duration::minutes(10);
/// Seconds a device waits between polls of `/oauth/token`, at first.
pub const DEVICE_POLL_INTERVAL_SECS: i32 = 5;
/// Wrong user codes a signed-in user may enter (`approveDevice`) within
/// `DEVICE_CODE_TTL`: a code cannot be guessed before it expires.
pub const DEVICE_CODE_MAX_FAILURES: u64 = 5;
/// How long events are kept for subscribers to resume from.
pub const EVENT_RETENTION: Duration = Duration::days(7);
/// A login through an outside provider must come back from it within this
/// time (its `state` expires).
pub const OAUTH_LOGIN_TTL: Duration = Duration::minutes(10);
/// The one-time code an outside-provider login hands the app's page works
/// once, within this time.
pub const OAUTH_CODE_TTL: Duration = Duration::minutes(2);

#[derive(Clone)]
pub struct Services(Arc<Inner>);

pub(crate) struct Inner {
    pub db: Db,
    pub broker: Broker,
    pub typing: crate::realtime::typing::Typing,
    pub presence: crate::realtime::presence::PresenceTracker,
    pub mailer: crate::mail::Mailer,
    pub clock: Arc<dyn Clock>,
    pub sealer: Arc<dyn Sealer>,
    pub worker_wake: orbit_worker::Wake,
    pub outbound: orbit_worker::outbound::Outbound,
    pub tokens: AccessTokenKeys,
    pub signing_key_cache: crate::signing_keys::SigningKeyCache,
    pub credentials: Arc<crate::credentials::CredentialCache>,
    pub verified_tokens: crate::verified_tokens::VerifiedTokens,
    pub catch_up_reads: crate::realtime::catch_up::CatchUpReads,
    /// `ORBIT_REORDER_WAIT`: how long a feed waits for events that an event
    /// it holds came ahead of.
    pub reorder_wait: std::time::Duration,
    /// Events feeds held because they came ahead of their turn.
    pub events_held_ahead: std::sync::atomic::AtomicU64,
    pub tool_limits: orbit_worker::agents::tools::ToolLimits,
    pub issuer: String,
    pub console: AppScope,
    pub console_signup: ConsoleSignup,
    /// `ORBIT_PUBLIC_URL`, without a trailing slash.
    pub public_url: Option<String>,
    pub password_work: crate::password_work::PasswordWork,
}

impl Services {
    pub(crate) fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    pub fn db(&self) -> &Db {
        &self.0.db
    }

    /// Where password hashing and checking run, within a share of the cores.
    pub(crate) fn password_work(&self) -> &crate::password_work::PasswordWork {
        &self.0.password_work
    }

    /// Where committed events and ephemeral ones (typing, presence) are published.
    pub fn broker(&self) -> &Broker {
        &self.0.broker
    }

    pub(crate) fn typing(&self) -> &crate::realtime::typing::Typing {
        &self.0.typing
    }

    pub(crate) fn presence(&self) -> &crate::realtime::presence::PresenceTracker {
        &self.0.presence
    }

    /// Where mail goes: SMTP, or the log.
    pub fn mailer(&self) -> &crate::mail::Mailer {
        &self.0.mailer
    }

    pub fn clock(&self) -> &dyn Clock {
        self.0.clock.as_ref()
    }

    /// Encrypts and decrypts app secrets stored in the database.
    pub fn sealer(&self) -> &Arc<dyn Sealer> {
        &self.0.sealer
    }

    /// Tells the worker (agent replies, routines, webhooks) to look for
    /// work now rather than at its next poll; a commit that made work calls
    /// it, and tests call it after moving the clock.
    pub fn wake_worker(&self) {
        self.0.worker_wake.now();
    }

    /// The HTTP client for URLs apps configure (OAuth providers, model
    /// providers, webhooks), which reaches public addresses only unless
    /// `ORBIT_WEBHOOK_ALLOW_PRIVATE` is set.
    pub fn outbound(&self) -> &orbit_worker::outbound::Outbound {
        &self.0.outbound
    }

    /// What the worker's loops need, from the same parts the server uses.
    pub(crate) fn worker_context(&self) -> orbit_worker::WorkerContext {
        orbit_worker::WorkerContext {
            db: self.0.db.clone(),
            broker: self.0.broker.clone(),
            clock: self.0.clock.clone(),
            sealer: self.0.sealer.clone(),
            outbound: self.0.outbound.clone(),
            process_id: uuid::Uuid::now_v7().simple().to_string(),
            wake: self.0.worker_wake.clone(),
            events: std::sync::Arc::new(crate::realtime::ephemeral::BrokerEvents(
                self.0.broker.clone(),
            )),
            tool_limits: self.0.tool_limits,
        }
    }

    /// What one call of an agent's tool may take; a look at an MCP
    /// server is held to the same.
    pub fn tool_limits(&self) -> orbit_worker::agents::tools::ToolLimits {
        self.0.tool_limits
    }

    pub(crate) fn tokens(&self) -> &AccessTokenKeys {
        &self.0.tokens
    }

    /// What this process last read of apps' signing key versions.
    pub(crate) fn signing_key_cache(&self) -> &crate::signing_keys::SigningKeyCache {
        &self.0.signing_key_cache
    }

    /// Catch-up reads shared by the feeds of a topic.
    pub(crate) fn catch_up_reads(&self) -> &crate::realtime::catch_up::CatchUpReads {
        &self.0.catch_up_reads
    }

    pub(crate) fn reorder_wait(&self) -> std::time::Duration {
        self.0.reorder_wait
    }

    pub(crate) fn count_event_held_ahead(&self) {
        self.0
            .events_held_ahead
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metrics::counter!("orbit_feed_held_ahead_total").increment(1);
    }

    /// How many events this process's feeds held because they came ahead
    /// of their turn (each feed counts its own).
    pub fn events_held_ahead(&self) -> u64 {
        self.0
            .events_held_ahead
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many times this process's feeds have read the events table to
    /// catch up (shared reads count once).
    pub fn catch_up_reads_performed(&self) -> u64 {
        self.0.catch_up_reads.performed()
    }

    /// Access tokens this process verified, until they expire.
    pub(crate) fn verified_tokens(&self) -> &crate::verified_tokens::VerifiedTokens {
        &self.0.verified_tokens
    }

    /// Sessions and API keys this process found live, until they end.
    pub(crate) fn credentials(&self) -> &crate::credentials::CredentialCache {
        &self.0.credentials
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.0.issuer
    }

    pub fn console(&self) -> AppScope {
        self.0.console
    }

    pub(crate) fn console_signup_open(&self) -> bool {
        self.0.console_signup == ConsoleSignup::Open
    }

    /// `ORBIT_PUBLIC_URL` (no trailing slash): how browsers reach the server.
    pub(crate) fn public_url(&self) -> Option<&str> {
        self.0.public_url.as_deref()
    }
}
