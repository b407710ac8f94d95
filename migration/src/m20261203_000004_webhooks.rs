//! Webhooks: the URLs apps subscribe (`webhooks`), one work item per event
//! and webhook (`webhook_deliveries`, with the lease columns of
//! `persistence::leases`), and the log of every attempt
//! (`webhook_delivery_attempts`).

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
                    .table("webhooks")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(text("url"))
                    .col(json_binary("event_types"))
                    .col(text("signing_secret"))
                    .col(text_null("previous_signing_secret"))
                    .col(timestamp_with_time_zone_null("previous_secret_expires_at"))
                    .col(timestamp_with_time_zone_null("disabled_at"))
                    .col(text_null("disabled_reason"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("webhooks", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("webhooks", &["app_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("webhook_id"))
                    .col(uuid("event_id"))
                    .col(string("event_type"))
                    .col(json_binary("data"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("due_at"))
                    .col(string_null("lease_owner"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("give_up_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .col(text_null("failure_reason"))
                    .foreign_key(&mut cascade_to("webhook_deliveries", "app_id", "apps"))
                    .foreign_key(&mut cascade_to(
                        "webhook_deliveries",
                        "webhook_id",
                        "webhooks",
                    ))
                    .to_owned(),
            )
            .await?;
        // What the worker claims: queued and due, or leased and expired.
        manager
            .create_index(index("webhook_deliveries", &["status", "due_at"]))
            .await?;
        // A webhook's deliveries, newest first; and one per event and webhook.
        manager
            .create_index(index("webhook_deliveries", &["webhook_id", "id"]))
            .await?;
        manager
            .create_index(unique("webhook_deliveries", &["webhook_id", "event_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("webhook_delivery_attempts")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("delivery_id"))
                    .col(timestamp_with_time_zone("attempted_at"))
                    .col(big_integer("duration_ms"))
                    .col(integer_null("status_code"))
                    .col(text_null("error"))
                    .foreign_key(&mut cascade_to(
                        "webhook_delivery_attempts",
                        "app_id",
                        "apps",
                    ))
                    .foreign_key(&mut cascade_to(
                        "webhook_delivery_attempts",
                        "delivery_id",
                        "webhook_deliveries",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("webhook_delivery_attempts", &["delivery_id", "id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "webhook_delivery_attempts",
            "webhook_deliveries",
            "webhooks",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
