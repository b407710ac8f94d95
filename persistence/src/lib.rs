//! Orbit's storage. Every function that touches tenant data takes the
//! caller's [`AppScope`](orbit_domain::ids::AppScope): there is no query
//! without its app. Writes that change state append their events to the
//! outbox in the same transaction.

pub mod agent_replies;
pub mod agents;
pub mod api_keys;
pub mod app_members;
pub mod app_settings;
pub mod apps;
mod db;
pub mod device_flow;
mod error;
pub mod identity_providers;
pub mod keyset;
pub mod leases;
pub mod messages;
pub mod model_providers;
pub mod oauth_logins;
pub mod outbox;
pub mod passwordless;
pub mod rate_limits;
pub mod routine_runs;
pub mod routines;
pub mod sessions;
pub mod signing_keys;
pub mod teams;
pub mod threads;
pub mod users;
pub mod webhooks;

pub use db::{Backend, DEFAULT_ACQUIRE_TIMEOUT, Db, PoolStatus};
pub use error::db_error;
pub use keyset::{Page, PageArgs};
