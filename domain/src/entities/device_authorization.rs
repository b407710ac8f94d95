//! A device's request to sign in (RFC 8628): pending until a signed-in user
//! approves or denies it by its user code, then exchanged once for tokens.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "device_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    /// SHA-256 of the `client_id` that asked: the token request must send the same.
    pub client_hash: String,
    pub device_code_hash: String,
    /// SHA-256 of the user code in its canonical form (8 letters, no dash).
    pub user_code_hash: String,
    pub scope: Option<String>,
    /// `pending`, `approved`, `denied` or `exchanged`.
    pub status: String,
    /// Who approved (or denied) it.
    pub user_id: Option<Uuid>,
    /// Seconds the device must wait between polls; grows on `slow_down`.
    pub interval_secs: i32,
    pub last_polled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub exchanged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
