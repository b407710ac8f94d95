//! MCP servers an app registers. Their tools are rows of `tools` (kind
//! `mcp`) that name their server and the server's own name for the tool,
//! so agents are given them and call them like any other tool. Deleting a
//! server deletes its tools in the same transaction (SQLite cannot add a
//! foreign key to an existing table).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::indexes::{cascade_to, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("mcp_servers")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("name"))
                    .col(text("url"))
                    .col(json_binary("headers"))
                    .col(string("status"))
                    .col(text_null("last_error"))
                    .col(json_binary("left_out"))
                    .col(timestamp_with_time_zone_null("synced_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("mcp_servers", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("mcp_servers", &["app_id", "name"]))
            .await?;
        manager
            .create_index(index("mcp_servers", &["app_id", "id"]))
            .await?;
        // The worker's refresh finds the servers looked at longest ago.
        manager
            .create_index(index("mcp_servers", &["updated_at"]))
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for column in [uuid_null("mcp_server_id"), text_null("mcp_tool_name")] {
            manager
                .alter_table(Table::alter().table("tools").add_column(column).to_owned())
                .await?;
        }
        manager
            .create_index(index("tools", &["mcp_server_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_tools_mcp_server_id")
                    .table("tools")
                    .to_owned(),
            )
            .await?;
        for column in ["mcp_tool_name", "mcp_server_id"] {
            manager
                .alter_table(Table::alter().table("tools").drop_column(column).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table("mcp_servers").to_owned())
            .await
    }
}
