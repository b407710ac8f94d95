//! Orbit's storage. Every function that touches tenant data takes the
//! caller's [`AppScope`](orbit_domain::ids::AppScope): there is no query
//! without its app. Writes that change state append their events to the
//! log in the same transaction, through a `unit_of_work::Change`.
//!
//! Every public `async fn` that is not generic over types wears
//! `#[orbit_macros::boxed]`, so that `orbit-api` awaits its future boxed
//! instead of compiling its body (and the `sea-orm` code behind it) once
//! more; CI checks it (`.ci/boxed_async.py`).

pub mod agent_replies;
pub mod agents;
pub mod api_keys;
pub mod app_members;
pub mod app_settings;
pub mod app_vars;
pub mod apps;
pub mod committed;
mod connection_trust;
mod db;
pub mod device_flow;
mod error;
pub mod identity_providers;
mod kept_connections;
pub mod keyset;
pub mod leases;
pub mod mcp_servers;
pub mod messages;
pub mod model_providers;
pub mod oauth_logins;
pub mod outbox;
pub mod passwordless;
pub mod queues;
pub mod rate_limits;
pub mod reaction;
pub mod reactions;
pub mod routine_runs;
pub mod routines;
pub mod sessions;
pub mod signing_keys;
pub mod teams;
mod thread_gate;
pub mod threads;
pub mod tool_calls;
pub mod tools;
pub mod unit_of_work;
pub mod users;
mod wanted_lately;
pub mod webhooks;

pub use db::{
    Backend, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_KEPT_CONNECTIONS, Db, PoolSettings, PoolStatus,
};
pub use error::db_error;
pub use keyset::{Page, PageArgs};

/// Connects with the standard reactions (webhook deliveries, routine
/// triggers, agents' replies, routine runs waiting on replies).
#[orbit_macros::boxed]
pub async fn connect(url: &str) -> orbit_domain::DomainResult<Db> {
    connect_with(url, PoolSettings::default()).await
}

/// [`connect`], with `pool`'s settings.
#[orbit_macros::boxed]
pub async fn connect_with(url: &str, pool: PoolSettings) -> orbit_domain::DomainResult<Db> {
    Ok(Db::connect_with(url, pool)
        .await?
        .with_reactions(reactions::standard()))
}
