//! Routines (an agent's trigger and action) and their runs, a queue worked
//! under a lease like agent replies.

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
                    .table("routines")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("agent_id"))
                    .col(string("name"))
                    .col(string("status"))
                    .col(json_binary("trigger"))
                    .col(string("trigger_kind"))
                    .col(string_null("event_type"))
                    .col(uuid_null("event_team_id"))
                    .col(uuid_null("event_thread_id"))
                    .col(json_binary("action"))
                    .col(integer("timeout_secs"))
                    .col(timestamp_with_time_zone_null("anchor_at"))
                    .col(timestamp_with_time_zone_null("next_run_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("routines", "app_id", "apps"))
                    // A routine belongs to its agent: deleting the agent
                    // deletes its routines and their runs.
                    .foreign_key(&mut cascade_to("routines", "agent_id", "agents"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("routines", &["app_id", "id"]))
            .await?;
        manager
            .create_index(index("routines", &["agent_id", "id"]))
            .await?;
        // The scheduler: status = active AND next_run_at <= now.
        manager
            .create_index(index("routines", &["status", "next_run_at"]))
            .await?;
        // Event matching, in the transaction of every change with events.
        manager
            .create_index(index("routines", &["app_id", "event_type"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("routine_runs")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("routine_id"))
                    .col(string("cause"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("due_at"))
                    .col(string_null("lease_owner"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone_null("scheduled_for"))
                    .col(string_null("idempotency_key"))
                    .col(uuid_null("event_id"))
                    .col(json_binary_null("event"))
                    .col(uuid_null("thread_id"))
                    .col(uuid_null("reply_id"))
                    .col(uuid_null("message_id"))
                    .col(integer_null("http_status"))
                    .col(text_null("output"))
                    .col(text_null("error"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut cascade_to("routine_runs", "app_id", "apps"))
                    .foreign_key(&mut cascade_to("routine_runs", "routine_id", "routines"))
                    .to_owned(),
            )
            .await?;
        // One run per tick, per key and per event, however many processes fire.
        manager
            .create_index(unique("routine_runs", &["routine_id", "scheduled_for"]))
            .await?;
        manager
            .create_index(unique("routine_runs", &["app_id", "idempotency_key"]))
            .await?;
        manager
            .create_index(unique("routine_runs", &["routine_id", "event_id"]))
            .await?;
        // The claim: status = queued AND due_at <= now (or an ended lease).
        manager
            .create_index(index("routine_runs", &["status", "due_at"]))
            .await?;
        manager
            .create_index(index("routine_runs", &["routine_id", "id"]))
            .await?;
        manager
            .create_index(index("routine_runs", &["reply_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["routine_runs", "routines"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
