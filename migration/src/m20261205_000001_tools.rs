//! Tools an app's agents may call, and which agents may call which. A tool
//! is `http` for now (a URL the worker calls with the model's arguments);
//! its headers are kept as a JSON list whose secret values are sealed.
//! A reply's tool calls (`agent_tool_calls`): each recorded before it runs,
//! so a process that takes a reply over replays what was done instead of
//! doing it again; and the most model turns an agent may take a reply
//! (`agents.max_steps`).

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
                    .table("tools")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("name"))
                    .col(text("description"))
                    .col(json_binary("input_schema"))
                    .col(string("kind"))
                    .col(text_null("http_url"))
                    .col(string_null("http_method"))
                    .col(json_binary_null("http_headers"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("tools", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        // A model calls a tool by its name: one name per app.
        manager
            .create_index(unique("tools", &["app_id", "name"]))
            .await?;
        manager
            .create_index(index("tools", &["app_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("agent_tools")
                    .col(uuid("agent_id"))
                    .col(uuid("tool_id"))
                    .col(uuid("app_id"))
                    .col(timestamp_with_time_zone("added_at"))
                    .primary_key(Index::create().col("agent_id").col("tool_id"))
                    .foreign_key(&mut cascade_to("agent_tools", "agent_id", "agents"))
                    .foreign_key(&mut cascade_to("agent_tools", "tool_id", "tools"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("agent_tools", &["tool_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("agent_tool_calls")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("reply_id"))
                    // The model turn that asked for it (0 first), and its
                    // place among that turn's calls.
                    .col(integer("step"))
                    .col(integer("position"))
                    // The model's id for the call (`call_…`).
                    .col(string("call_id"))
                    .col(uuid_null("tool_id"))
                    .col(string("tool_name"))
                    .col(json_binary("arguments"))
                    .col(string("status"))
                    .col(json_binary_null("result"))
                    .col(text_null("error"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .foreign_key(&mut cascade_to(
                        "agent_tool_calls",
                        "reply_id",
                        "agent_replies",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("agent_tool_calls", &["reply_id", "call_id"]))
            .await?;
        manager
            .create_index(index("agent_tool_calls", &["reply_id", "step", "position"]))
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table("agents")
                    .add_column(integer("max_steps").default(8))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("agents")
                    .drop_column("max_steps")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("agent_tool_calls").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("agent_tools").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("tools").to_owned())
            .await
    }
}
