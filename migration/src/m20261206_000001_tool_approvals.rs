//! Tools that need a person's approval before they run. A call of one
//! waits (`awaiting_approval`) until someone allowed to decides, or until
//! `approval_expires_at`, when it counts as refused; who decided and when
//! is kept with the call. A reply that paused for a decision and went on
//! counts the pause (`agent_replies.pauses`), which is no failed attempt.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("tools")
                    .add_column(boolean("requires_approval").default(false))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for column in [
            timestamp_with_time_zone_null("approval_expires_at"),
            timestamp_with_time_zone_null("decided_at"),
            uuid_null("decided_by_user_id"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("agent_tool_calls")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("agent_replies")
                    .add_column(integer("pauses").default(0))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("agent_replies")
                    .drop_column("pauses")
                    .to_owned(),
            )
            .await?;
        for column in ["decided_by_user_id", "decided_at", "approval_expires_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("agent_tool_calls")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("tools")
                    .drop_column("requires_approval")
                    .to_owned(),
            )
            .await
    }
}
