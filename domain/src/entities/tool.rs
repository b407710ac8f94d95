//! A tool an app's agents may call: `http` (a URL) or `mcp` (a tool an MCP
//! server of the app listed). `http_headers` is a JSON list of
//! `{"name", "value"}` (a plain value) or `{"name", "sealed"}` (a secret
//! value, sealed with `SealContext::new(app, "tool.header", "<tool id>/<name>")`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    /// What the model calls it: unique in the app.
    pub name: String,
    pub description: String,
    /// The JSON Schema of the arguments (an object schema).
    pub input_schema: Json,
    /// `http`.
    pub kind: String,
    pub http_url: Option<String>,
    pub http_method: Option<String>,
    pub http_headers: Option<Json>,
    /// A call waits for a person to approve it before it runs.
    pub requires_approval: bool,
    /// For a tool of an MCP server (`mcp`): the server, and its own name
    /// for the tool (what a call sends).
    pub mcp_server_id: Option<Uuid>,
    pub mcp_tool_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
