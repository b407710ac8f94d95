//! What the outbox relay needs: the events not yet published to the broker
//! (written in the event's own transaction, removed once published), and an
//! index to prune events past their retention.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::indexes::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("unpublished_events")
                    .col(pk_uuid("event_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("events", &["occurred_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_events_occurred_at")
                    .table("events")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("unpublished_events").to_owned())
            .await
    }
}
