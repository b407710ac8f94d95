//! Orbit's schema, one file per migration, applied in order. The same files
//! build SQLite and Postgres, so both backends always have the same tables.

pub use sea_orm_migration::prelude::*;

mod indexes;
mod m20261122_000001_core;
mod m20261123_000001_outbox_relay;
mod m20261124_000001_login_codes;
mod m20261202_000001_device_flow;
mod m20261202_000002_user_disabled;
mod m20261202_000003_rate_limits;
mod m20261203_000001_control_plane;
mod m20261203_000002_identity_providers;
mod m20261203_000003_agents;
mod m20261203_000004_webhooks;
mod m20261203_000005_routines;
mod m20261204_000001_event_interest;
mod m20261205_000001_tools;
mod m20261205_000002_app_vars;
mod m20261206_000001_tool_approvals;
mod m20261206_000002_mcp_servers;
mod m20261206_000003_builtin_tools;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_core::Migration),
            Box::new(m20261123_000001_outbox_relay::Migration),
            Box::new(m20261124_000001_login_codes::Migration),
            Box::new(m20261202_000001_device_flow::Migration),
            Box::new(m20261202_000002_user_disabled::Migration),
            Box::new(m20261202_000003_rate_limits::Migration),
            Box::new(m20261203_000001_control_plane::Migration),
            Box::new(m20261203_000002_identity_providers::Migration),
            Box::new(m20261203_000003_agents::Migration),
            Box::new(m20261203_000004_webhooks::Migration),
            Box::new(m20261203_000005_routines::Migration),
            Box::new(m20261204_000001_event_interest::Migration),
            Box::new(m20261205_000001_tools::Migration),
            Box::new(m20261205_000002_app_vars::Migration),
            Box::new(m20261206_000001_tool_approvals::Migration),
            Box::new(m20261206_000002_mcp_servers::Migration),
            Box::new(m20261206_000003_builtin_tools::Migration),
        ]
    }
}
