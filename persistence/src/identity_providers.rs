//! The outside OAuth providers an app configures. Rows hold the client
//! secret sealed; this module stores and returns what it is given and never
//! sees the plaintext.

use chrono::{DateTime, Utc};
use orbit_domain::entities::identity_provider;
use orbit_domain::identity_providers::MAX_PROVIDERS_PER_APP;
use orbit_domain::ids::{AppScope, IdentityProviderId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};

use crate::error::is_unique_violation;
use crate::{Db, db_error};

/// A provider's configuration, checked; the secret already sealed for `id`.
#[derive(Debug, Clone)]
pub struct ProviderFields {
    pub slug: String,
    pub display_name: String,
    pub preset: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub authorization_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    pub emails_url: Option<String>,
    pub scopes: Vec<String>,
    pub issuer: String,
    pub subject_claim: String,
    pub email_claim: String,
    pub email_verified_claim: Option<String>,
    pub name_claim: Option<String>,
    pub client_auth: String,
    pub allow_sign_up: bool,
}

impl ProviderFields {
    /// The fields of a stored provider, to change some and store them again.
    pub fn of(model: &identity_provider::Model) -> Self {
        Self {
            slug: model.slug.clone(),
            display_name: model.display_name.clone(),
            preset: model.preset.clone(),
            client_id: model.client_id.clone(),
            client_secret_sealed: model.client_secret_sealed.clone(),
            authorization_url: model.authorization_url.clone(),
            token_url: model.token_url.clone(),
            userinfo_url: model.userinfo_url.clone(),
            emails_url: model.emails_url.clone(),
            scopes: scope_list(model),
            issuer: model.issuer.clone(),
            subject_claim: model.subject_claim.clone(),
            email_claim: model.email_claim.clone(),
            email_verified_claim: model.email_verified_claim.clone(),
            name_claim: model.name_claim.clone(),
            client_auth: model.client_auth.clone(),
            allow_sign_up: model.allow_sign_up,
        }
    }
}

/// The provider's scopes, in the order they are sent.
pub fn scope_list(model: &identity_provider::Model) -> Vec<String> {
    model.scopes.split_whitespace().map(str::to_owned).collect()
}

fn slug_taken(error: DbErr) -> DomainError {
    if is_unique_violation(&error) {
        DomainError::conflict("the app already has a provider with this slug").with_field("slug")
    } else {
        db_error(error)
    }
}

/// Stores a new provider of the app. A taken slug is CONFLICT on `slug`;
/// past [`MAX_PROVIDERS_PER_APP`] it is BAD_USER_INPUT.
#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    id: IdentityProviderId,
    fields: ProviderFields,
    now: DateTime<Utc>,
) -> DomainResult<identity_provider::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let count = identity_provider::Entity::find()
        .filter(identity_provider::Column::AppId.eq(scope.uuid()))
        .count(&txn)
        .await
        .map_err(db_error)?;
    if count >= MAX_PROVIDERS_PER_APP {
        return Err(DomainError::bad_input(
            "slug",
            format!("an app has at most {MAX_PROVIDERS_PER_APP} identity providers"),
        ));
    }
    let mut row = active(fields, now);
    row.id = Set(id.uuid());
    row.app_id = Set(scope.uuid());
    row.created_at = Set(now);
    let model = row.insert(&txn).await.map_err(slug_taken)?;
    db.commit(txn).await?;
    Ok(model)
}

fn active(fields: ProviderFields, now: DateTime<Utc>) -> identity_provider::ActiveModel {
    identity_provider::ActiveModel {
        slug: Set(fields.slug),
        display_name: Set(fields.display_name),
        preset: Set(fields.preset),
        client_id: Set(fields.client_id),
        client_secret_sealed: Set(fields.client_secret_sealed),
        authorization_url: Set(fields.authorization_url),
        token_url: Set(fields.token_url),
        userinfo_url: Set(fields.userinfo_url),
        emails_url: Set(fields.emails_url),
        scopes: Set(fields.scopes.join(" ")),
        issuer: Set(fields.issuer),
        subject_claim: Set(fields.subject_claim),
        email_claim: Set(fields.email_claim),
        email_verified_claim: Set(fields.email_verified_claim),
        name_claim: Set(fields.name_claim),
        client_auth: Set(fields.client_auth),
        allow_sign_up: Set(fields.allow_sign_up),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Replaces the configuration of the app's provider `id`; NOT_FOUND (on
/// `id`) for another app's.
#[orbit_macros::boxed]
pub async fn update(
    db: &Db,
    scope: AppScope,
    id: IdentityProviderId,
    fields: ProviderFields,
    now: DateTime<Utc>,
) -> DomainResult<identity_provider::Model> {
    let updated = identity_provider::Entity::update_many()
        .set(active(fields, now))
        .filter(identity_provider::Column::Id.eq(id.uuid()))
        .filter(identity_provider::Column::AppId.eq(scope.uuid()))
        .exec(db.conn())
        .await
        .map_err(slug_taken)?;
    if updated.rows_affected == 0 {
        return Err(not_found());
    }
    find(db, scope, id).await?.ok_or_else(not_found)
}

fn not_found() -> DomainError {
    DomainError::not_found("identity provider").with_field("id")
}

/// Deletes the app's provider `id` (and its logins in flight); the
/// identities it linked stay. NOT_FOUND for another app's.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: IdentityProviderId) -> DomainResult<()> {
    let deleted = identity_provider::Entity::delete_many()
        .filter(identity_provider::Column::Id.eq(id.uuid()))
        .filter(identity_provider::Column::AppId.eq(scope.uuid()))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    Ok(())
}

#[orbit_macros::boxed]
pub async fn find(
    db: &Db,
    scope: AppScope,
    id: IdentityProviderId,
) -> DomainResult<Option<identity_provider::Model>> {
    identity_provider::Entity::find_by_id(id.uuid())
        .filter(identity_provider::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find_by_slug(
    db: &Db,
    scope: AppScope,
    slug: &str,
) -> DomainResult<Option<identity_provider::Model>> {
    identity_provider::Entity::find()
        .filter(identity_provider::Column::AppId.eq(scope.uuid()))
        .filter(identity_provider::Column::Slug.eq(slug))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// The app's providers, oldest first (at most [`MAX_PROVIDERS_PER_APP`]).
#[orbit_macros::boxed]
pub async fn list(db: &Db, scope: AppScope) -> DomainResult<Vec<identity_provider::Model>> {
    identity_provider::Entity::find()
        .filter(identity_provider::Column::AppId.eq(scope.uuid()))
        .order_by_asc(identity_provider::Column::Id)
        .all(db.conn())
        .await
        .map_err(db_error)
}
