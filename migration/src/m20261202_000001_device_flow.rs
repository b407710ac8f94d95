//! The OAuth 2.0 device authorization grant (RFC 8628): one row per
//! authorization a device asked for, found by its device code's hash (the
//! device polling) or its user code's hash (the person approving), and the
//! wrong user codes a signed-in user entered, which limit guessing.

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
                    .table("device_authorizations")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("client_hash"))
                    .col(string("device_code_hash"))
                    .col(string("user_code_hash"))
                    .col(string_null("scope"))
                    .col(string("status"))
                    .col(uuid_null("user_id"))
                    .col(integer("interval_secs"))
                    .col(timestamp_with_time_zone_null("last_polled_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    .col(timestamp_with_time_zone_null("exchanged_at"))
                    .foreign_key(&mut cascade_to("device_authorizations", "app_id", "apps"))
                    .foreign_key(&mut cascade_to("device_authorizations", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("device_authorizations", &["device_code_hash"]))
            .await?;
        manager
            .create_index(unique("device_authorizations", &["user_code_hash"]))
            .await?;
        manager
            .create_index(index("device_authorizations", &["app_id", "expires_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("device_code_failures")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("failed_at"))
                    .foreign_key(&mut cascade_to("device_code_failures", "app_id", "apps"))
                    .foreign_key(&mut cascade_to("device_code_failures", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("device_code_failures", &["user_id", "failed_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["device_code_failures", "device_authorizations"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
