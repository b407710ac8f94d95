//! Agents and their model providers, the agents taking part in threads, the
//! queue of replies they owe (`agent_replies`, worked under a lease), and
//! what a message needs to be an agent's reply (its author agent, model and
//! token usage).

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
                    .table("model_providers")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(string_null("base_url"))
                    .col(text_null("api_key_sealed"))
                    .col(json_binary_null("script"))
                    .col(integer("request_timeout_secs"))
                    .col(integer("idle_timeout_secs"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("model_providers", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("model_providers", &["app_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("agents")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("name"))
                    .col(string("handle"))
                    .col(text("instructions"))
                    .col(uuid("provider_id"))
                    .col(string("model"))
                    .col(double_null("temperature"))
                    .col(integer_null("max_tokens"))
                    .col(string("reply_mode"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("agents", "app_id", "apps"))
                    // A provider in use cannot be deleted (the API says so
                    // first); NO ACTION, not RESTRICT, so that deleting an
                    // app, which cascades to both, checks at the statement's end.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_agents_provider_id")
                            .from("agents", "provider_id")
                            .to("model_providers", "id")
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("agents", &["app_id", "handle"]))
            .await?;
        manager
            .create_index(index("agents", &["app_id", "id"]))
            .await?;
        manager
            .create_index(index("agents", &["provider_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("thread_agents")
                    .col(uuid("thread_id"))
                    .col(uuid("agent_id"))
                    .col(uuid("app_id"))
                    .col(timestamp_with_time_zone("added_at"))
                    .primary_key(Index::create().col("thread_id").col("agent_id"))
                    .foreign_key(&mut cascade_to("thread_agents", "thread_id", "threads"))
                    .foreign_key(&mut cascade_to("thread_agents", "agent_id", "agents"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("thread_agents", &["agent_id", "thread_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("agent_replies")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("thread_id"))
                    .col(uuid("agent_id"))
                    .col(uuid_null("trigger_message_id"))
                    .col(text_null("prompt"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("due_at"))
                    .col(string_null("lease_owner"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(integer("attempts").default(0))
                    .col(string_null("model"))
                    .col(integer_null("prompt_tokens"))
                    .col(integer_null("completion_tokens"))
                    .col(text_null("error"))
                    .col(uuid_null("reply_message_id"))
                    .col(timestamp_with_time_zone_null("cancel_requested_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .foreign_key(&mut cascade_to("agent_replies", "app_id", "apps"))
                    .foreign_key(&mut cascade_to("agent_replies", "thread_id", "threads"))
                    .foreign_key(&mut cascade_to("agent_replies", "agent_id", "agents"))
                    .foreign_key(&mut cascade_to(
                        "agent_replies",
                        "trigger_message_id",
                        "messages",
                    ))
                    .to_owned(),
            )
            .await?;
        // Exactly one reply per message and agent, however often it is asked.
        manager
            .create_index(unique("agent_replies", &["trigger_message_id", "agent_id"]))
            .await?;
        // The claim: status = queued AND due_at <= now (or an ended lease).
        manager
            .create_index(index("agent_replies", &["status", "due_at"]))
            .await?;
        manager
            .create_index(index("agent_replies", &["agent_id", "id"]))
            .await?;
        manager
            .create_index(index("agent_replies", &["reply_message_id"]))
            .await?;

        // SQLite adds one column per statement.
        for column in [
            uuid_null("author_agent_id"),
            string_null("model"),
            integer_null("prompt_tokens"),
            integer_null("completion_tokens"),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table("messages")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            "completion_tokens",
            "prompt_tokens",
            "model",
            "author_agent_id",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("messages")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            "agent_replies",
            "thread_agents",
            "agents",
            "model_providers",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
