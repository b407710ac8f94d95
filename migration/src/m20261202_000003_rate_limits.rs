//! Fixed-window counters for abuse limits (`rate_limits`), kept in the
//! database so every server process counts against the same numbers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rate_limits")
                    .col(string("key"))
                    .col(timestamp_with_time_zone("window_start"))
                    .col(big_integer("count"))
                    .primary_key(Index::create().col("key").col("window_start"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("rate_limits").to_owned())
            .await
    }
}
