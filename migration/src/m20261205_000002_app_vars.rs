//! App variables (`app_vars`): named values an app's agents and tools refer
//! to as `{{vars.NAME}}`; a secret one is kept sealed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::indexes::cascade_to;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("app_vars")
                    .col(uuid("app_id"))
                    .col(string("name"))
                    .col(text_null("value"))
                    .col(text_null("value_sealed"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("app_id").col("name"))
                    .foreign_key(&mut cascade_to("app_vars", "app_id", "apps"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("app_vars").to_owned())
            .await
    }
}
