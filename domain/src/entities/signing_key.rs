//! A version of an app's access-token signing key. The key itself is
//! derived from the server secret, app and version, so only the version's
//! life is stored: the one without `retired_at` signs new tokens.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    /// 1 for an app's first key, one more at each rotation.
    pub version: i32,
    pub created_at: DateTimeUtc,
    /// Set when a newer version took over.
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
