//! An MCP server an app registered. `headers` is a JSON list like a tool's
//! `http_headers`; a secret value is sealed with
//! `SealContext::new(app, "mcp_server.header", "<server id>/<name>")`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mcp_servers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    /// Unique in the app; its tools are named `<name>__<tool>`.
    pub name: String,
    /// The Streamable HTTP endpoint; may hold `{{vars.NAME}}`.
    pub url: String,
    pub headers: Json,
    /// `ready` or `failed`: how the last look at it went.
    pub status: String,
    /// Why the last look failed.
    pub last_error: Option<String>,
    /// Tools it listed that the app could not keep, and why
    /// (`[{"name", "reason"}]`), from the last good look.
    pub left_out: Json,
    /// When its tools were last listed successfully.
    pub synced_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
