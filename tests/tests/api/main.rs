#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End-to-end tests of the GraphQL API: one binary, one server per test.

mod abuse_limits;
mod auth;
mod cluster;
mod device_flow;
mod errors_and_limits;
mod health;
mod jwt_attacks;
mod mail;
mod mailing;
mod messages;
mod pagination;
mod passwordless;
mod presence;
mod role_matrix;
mod schema_drift;
mod sessions;
mod shared_delivery;
mod subscriptions;
mod teams;
mod tenant_isolation;
mod threads;
mod viewer;
mod webhooks;
mod ws_protocol;
