//! Which apps' events something reacts to: one row per app, event type and
//! reaction (`webhooks`, `routines`, `agent_replies`). A change reads it in
//! the statement that appends its events and runs only the reactions named,
//! so a change nothing reacts to costs no reaction queries. Rows are added
//! when a reaction is set up (in that transaction) and kept until the app
//! goes: a row too many costs a query, a row too few would lose work.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every type webhooks may subscribe to when this migration was written:
/// an app with any webhook is taken to want them all until its webhooks
/// are next saved.
const WEBHOOK_TYPES: &[&str] = &[
    "message.created",
    "message.edited",
    "message.deleted",
    "thread.created",
    "thread.updated",
    "thread.deleted",
    "participant.added",
    "participant.removed",
    "member.joined",
    "member.left",
    "member.role_changed",
    "thread.read",
    "agent_reply.completed",
    "agent_reply.failed",
    "routine_run.started",
    "routine_run.succeeded",
    "routine_run.failed",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("event_interest")
                    .col(uuid("app_id"))
                    .col(string("event_type"))
                    .col(string("reaction"))
                    .primary_key(
                        Index::create()
                            .col("app_id")
                            .col("event_type")
                            .col("reaction"),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let webhook_types = WEBHOOK_TYPES
            .iter()
            .map(|name| format!("SELECT '{name}' AS event_type"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        db.execute_unprepared(&format!(
            "INSERT INTO event_interest (app_id, event_type, reaction) \
             SELECT DISTINCT w.app_id, t.event_type, 'webhooks' \
             FROM webhooks w CROSS JOIN ({webhook_types}) t"
        ))
        .await?;
        db.execute_unprepared(
            "INSERT INTO event_interest (app_id, event_type, reaction) \
             SELECT DISTINCT app_id, event_type, 'routines' FROM routines \
             WHERE event_type IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO event_interest (app_id, event_type, reaction) \
             SELECT DISTINCT t.app_id, 'message.created', 'agent_replies' \
             FROM thread_agents ta JOIN threads t ON t.id = ta.thread_id",
        )
        .await?;
        // Runs waiting for an agent's reply at the upgrade end with it.
        db.execute_unprepared(
            "INSERT INTO event_interest (app_id, event_type, reaction) \
             SELECT DISTINCT r.app_id, e.event_type, 'routine_replies' \
             FROM routine_runs r CROSS JOIN (SELECT 'agent_reply.completed' AS event_type \
             UNION ALL SELECT 'agent_reply.failed' AS event_type) e \
             WHERE r.reply_id IS NOT NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("event_interest").to_owned())
            .await
    }
}
