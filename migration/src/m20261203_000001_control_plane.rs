//! The developer control plane: per-app token signing key versions
//! (`signing_keys`; the keys themselves are derived from the server secret,
//! never stored), when an API key was last used, and which ways of signing
//! in an app allows (`app_settings`, each on by default).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::indexes::{cascade_to, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Login switches added to `app_settings`, all on for existing apps.
const LOGIN_SWITCHES: [&str; 5] = [
    "password_login",
    "password_sign_up",
    "email_code_login",
    "magic_link_login",
    "oauth_login",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signing_keys")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("retired_at"))
                    .foreign_key(&mut cascade_to("signing_keys", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("signing_keys", &["app_id", "version"]))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("api_keys")
                    .add_column(timestamp_with_time_zone_null("last_used_at"))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite alters one at a time.
        for column in LOGIN_SWITCHES {
            manager
                .alter_table(
                    Table::alter()
                        .table("app_settings")
                        .add_column(boolean(column).default(true))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in LOGIN_SWITCHES {
            manager
                .alter_table(
                    Table::alter()
                        .table("app_settings")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("api_keys")
                    .drop_column("last_used_at")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("signing_keys").to_owned())
            .await
    }
}
