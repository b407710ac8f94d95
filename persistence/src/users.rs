//! Users of an app and their password credentials.

use chrono::{DateTime, Utc};
use orbit_domain::entities::{password_credential, team_member, user};
use orbit_domain::ids::{AppScope, UserId};
use orbit_domain::validation::Email;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, db_error, keyset};

pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub password_hash: Option<String>,
}

/// Creates a user (and their password). A taken email is a CONFLICT on `email`.
#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new_user: NewUser,
) -> DomainResult<user::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let model = insert(&txn, scope, now, new_user).await?;
    db.commit(txn).await?;
    Ok(model)
}

/// Inserts a user and their password within the caller's transaction.
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    now: DateTime<Utc>,
    new_user: NewUser,
) -> DomainResult<user::Model> {
    let id = UserId::generate().uuid();
    let model = user::ActiveModel {
        id: Set(id),
        app_id: Set(scope.uuid()),
        email: Set(new_user.email.display),
        email_normalized: Set(new_user.email.normalized),
        display_name: Set(new_user.display_name),
        timezone: Set(None),
        avatar_url: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        disabled_at: Set(None),
    }
    .insert(conn)
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            DomainError::conflict("an account with this email already exists").with_field("email")
        } else {
            db_error(error)
        }
    })?;
    if let Some(password_hash) = new_user.password_hash {
        password_credential::ActiveModel {
            user_id: Set(id),
            app_id: Set(scope.uuid()),
            password_hash: Set(password_hash),
            updated_at: Set(now),
        }
        .insert(conn)
        .await
        .map_err(db_error)?;
    }
    Ok(model)
}

/// Disables the account (ending every session of it in the same
/// transaction) or enables it again. NOT_FOUND for a user of another app.
#[orbit_macros::boxed]
pub async fn set_disabled(
    db: &Db,
    scope: AppScope,
    id: UserId,
    disabled: bool,
    now: DateTime<Utc>,
) -> DomainResult<user::Model> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let Some(found) = user::Entity::find_by_id(id.uuid())
        .filter(user::Column::AppId.eq(scope.uuid()))
        .one(txn)
        .await
        .map_err(db_error)?
    else {
        return Err(DomainError::not_found("user").with_field("id"));
    };
    // Disabling twice keeps the first time.
    let disabled_at = match (disabled, found.disabled_at) {
        (true, Some(since)) => Some(since),
        (true, None) => Some(now),
        (false, _) => None,
    };
    let mut changed: user::ActiveModel = found.into();
    changed.disabled_at = Set(disabled_at);
    changed.updated_at = Set(now);
    let model = changed.update(txn).await.map_err(db_error)?;
    if disabled {
        crate::sessions::revoke_within(&change, id, None).await?;
    }
    change.commit().await?;
    Ok(model)
}

/// The user's password hash, if they have a password.
#[orbit_macros::boxed]
pub async fn password_hash(db: &Db, scope: AppScope, id: UserId) -> DomainResult<Option<String>> {
    Ok(password_credential::Entity::find_by_id(id.uuid())
        .filter(password_credential::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)?
        .map(|credential| credential.password_hash))
}

/// Sets the user's password and, in the same transaction, ends every one of
/// their sessions: whoever held one must prove the new password.
#[orbit_macros::boxed]
pub async fn change_password(
    db: &Db,
    scope: AppScope,
    id: UserId,
    password_hash: String,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let updated = password_credential::Entity::update_many()
        .col_expr(
            password_credential::Column::PasswordHash,
            Expr::value(password_hash),
        )
        .col_expr(
            password_credential::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(password_credential::Column::UserId.eq(id.uuid()))
        .filter(password_credential::Column::AppId.eq(scope.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if updated.rows_affected == 0 {
        return Err(DomainError::not_found("password"));
    }
    crate::sessions::revoke_within(&change, id, None).await?;
    change.commit().await?;
    Ok(())
}

/// The user with this (normalized) email and their password hash, if any.
#[orbit_macros::boxed]
pub async fn find_by_email(
    db: &Db,
    scope: AppScope,
    email_normalized: &str,
) -> DomainResult<Option<(user::Model, Option<String>)>> {
    let Some(found) = user::Entity::find()
        .filter(user::Column::AppId.eq(scope.uuid()))
        .filter(user::Column::EmailNormalized.eq(email_normalized))
        .one(db.conn())
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let credential = password_credential::Entity::find_by_id(found.id)
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(Some((found, credential.map(|c| c.password_hash))))
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: UserId) -> DomainResult<Option<user::Model>> {
    user::Entity::find_by_id(id.uuid())
        .filter(user::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Whether the app has any user at all.
#[orbit_macros::boxed]
pub async fn any(db: &Db, scope: AppScope) -> DomainResult<bool> {
    let first = user::Entity::find()
        .filter(user::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(first.is_some())
}

#[orbit_macros::boxed]
pub async fn find_many(db: &Db, scope: AppScope, ids: &[Uuid]) -> DomainResult<Vec<user::Model>> {
    user::Entity::find()
        .filter(user::Column::AppId.eq(scope.uuid()))
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db.conn())
        .await
        .map_err(db_error)
}

#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub display_name: Option<String>,
    /// `Some(None)` clears the field.
    pub timezone: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
}

#[orbit_macros::boxed]
pub async fn update_profile(
    db: &Db,
    scope: AppScope,
    id: UserId,
    now: DateTime<Utc>,
    changes: ProfileChanges,
) -> DomainResult<user::Model> {
    let existing = find(db, scope, id)
        .await?
        .ok_or_else(|| DomainError::not_found("user"))?;
    let mut active: user::ActiveModel = existing.into();
    if let Some(display_name) = changes.display_name {
        active.display_name = Set(display_name);
    }
    if let Some(timezone) = changes.timezone {
        active.timezone = Set(timezone);
    }
    if let Some(avatar_url) = changes.avatar_url {
        active.avatar_url = Set(avatar_url);
    }
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(db_error)
}

/// Users that `viewer` shares a team with, and the viewer themself. The whole
/// app when `viewer` is `None` (a secret key).
fn visible_to(viewer: UserId) -> Condition {
    let my_teams = Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(Expr::col(team_member::Column::UserId).eq(viewer.uuid()))
        .to_owned();
    let teammates = Query::select()
        .column(team_member::Column::UserId)
        .from(team_member::Entity)
        .and_where(Expr::col(team_member::Column::TeamId).in_subquery(my_teams))
        .to_owned();
    Condition::any()
        .add(user::Column::Id.eq(viewer.uuid()))
        .add(user::Column::Id.in_subquery(teammates))
}

#[orbit_macros::boxed]
pub async fn is_visible(
    db: &Db,
    scope: AppScope,
    viewer: UserId,
    target: UserId,
) -> DomainResult<bool> {
    let found = user::Entity::find_by_id(target.uuid())
        .filter(user::Column::AppId.eq(scope.uuid()))
        .filter(visible_to(viewer))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(found.is_some())
}

/// Lists users in creation order. `search` matches the display name (and, for
/// a secret key, the email) anywhere, ignoring case.
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    viewer: Option<UserId>,
    search: Option<&str>,
    args: PageArgs,
) -> DomainResult<Page<user::Model>> {
    let mut select = user::Entity::find().filter(user::Column::AppId.eq(scope.uuid()));
    if let Some(viewer) = viewer {
        select = select.filter(visible_to(viewer));
    }
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let escaped: String = search
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        let name_matches = Expr::expr(Func::lower(Expr::col(user::Column::DisplayName)))
            .like(LikeExpr::new(pattern.clone()).escape('\\'));
        let mut matches = Condition::any().add(name_matches);
        if viewer.is_none() {
            matches = matches.add(
                Expr::col(user::Column::EmailNormalized).like(LikeExpr::new(pattern).escape('\\')),
            );
        }
        select = select.filter(matches);
    }
    keyset::page(
        db.conn(),
        select,
        Some(user::Column::AppId),
        user::Column::Id,
        false,
        args,
    )
    .await
}
