//! The `orbit` server: configuration, the HTTP router, the GraphQL API and the
//! command line. Tests build [`Application`] on port 0 and talk to it over HTTP.

pub mod admin;
pub mod application;
pub mod cli;
pub mod config;
mod credentials;
pub mod developer;
pub mod graphql;
pub mod http;
pub mod ip_block;
pub mod limits;
pub mod login;
pub mod mail;
mod password_work;
mod realtime;
mod sealing;
mod services;
mod signing_keys;
mod startup;
pub mod telemetry;
mod verified_tokens;
pub mod viewer;

pub use config::Settings;
pub use graphql::schema_sdl;
pub use services::Services;
pub use signing_keys::KEY_CACHE_TTL;
pub use startup::Application;
