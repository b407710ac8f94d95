//! Developers of an app: console users with a role on it. An app always
//! keeps an owner.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbit_domain::entities::{app_member, user};
use orbit_domain::ids::{AppId, AppScope, UserId};
use orbit_domain::roles::AppRole;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::{Db, Page, PageArgs, apps, db_error, keyset, users};

/// A member with the console user they are.
#[derive(Debug, Clone)]
pub struct Member {
    pub membership: app_member::Model,
    pub user: user::Model,
}

pub fn parse_role(stored: &str) -> DomainResult<AppRole> {
    stored.parse().map_err(DomainError::internal)
}

/// The app's members in a stable order (by user id).
#[orbit_macros::boxed]
pub async fn list(db: &Db, scope: AppScope, args: PageArgs) -> DomainResult<Page<Member>> {
    let select = app_member::Entity::find().filter(app_member::Column::AppId.eq(scope.uuid()));
    let page = keyset::page(
        db.conn(),
        select,
        Some(app_member::Column::AppId),
        app_member::Column::UserId,
        false,
        args,
    )
    .await?;
    let ids: Vec<Uuid> = page.items.iter().map(|m| m.user_id).collect();
    let mut people: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db.conn())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let items = page
        .items
        .into_iter()
        .map(|membership| {
            let user = people
                .remove(&membership.user_id)
                .ok_or_else(|| DomainError::internal("an app member without a user"))?;
            Ok(Member { membership, user })
        })
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// One member of the app.
#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, user_id: UserId) -> DomainResult<Option<Member>> {
    let Some(membership) = app_member::Entity::find_by_id((scope.uuid(), user_id.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let user = user::Entity::find_by_id(membership.user_id)
        .one(db.conn())
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::internal("an app member without a user"))?;
    Ok(Some(Member { membership, user }))
}

/// The developer's role on each of `apps` they are a member of.
#[orbit_macros::boxed]
pub async fn roles_of(
    db: &Db,
    developer: UserId,
    apps: &[Uuid],
) -> DomainResult<HashMap<Uuid, AppRole>> {
    app_member::Entity::find()
        .filter(app_member::Column::UserId.eq(developer.uuid()))
        .filter(app_member::Column::AppId.is_in(apps.iter().copied()))
        .all(db.conn())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| Ok((m.app_id, parse_role(&m.role)?)))
        .collect()
}

/// Makes the console user with this (normalized) email a member of the
/// app. An email without a console account is NOT_FOUND, a member already
/// CONFLICT, both on `email`.
#[orbit_macros::boxed]
pub async fn add(
    db: &Db,
    scope: AppScope,
    console: AppScope,
    email_normalized: &str,
    role: AppRole,
    now: DateTime<Utc>,
) -> DomainResult<Member> {
    let (user, _) = users::find_by_email(db, console, email_normalized)
        .await?
        .ok_or_else(|| DomainError::not_found("developer").with_field("email"))?;
    let membership = app_member::ActiveModel {
        app_id: Set(scope.uuid()),
        user_id: Set(user.id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(db.conn())
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            DomainError::conflict("already a member of this app").with_field("email")
        } else {
            db_error(error)
        }
    })?;
    Ok(Member { membership, user })
}

fn member_not_found() -> DomainError {
    DomainError::not_found("app member").with_field("userId")
}

async fn find_member<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    user_id: UserId,
) -> DomainResult<app_member::Model> {
    app_member::Entity::find_by_id((scope.uuid(), user_id.uuid()))
        .one(conn)
        .await
        .map_err(db_error)?
        .ok_or_else(member_not_found)
}

/// Counted with the app's row held (see [`apps::lock`]), so two owners
/// stepping down at once cannot both see the other one stay.
async fn ensure_another_owner<C: ConnectionTrait>(conn: &C, app: AppId) -> DomainResult<()> {
    let owners = app_member::Entity::find()
        .filter(app_member::Column::AppId.eq(app.uuid()))
        .filter(app_member::Column::Role.eq(AppRole::Owner.as_str()))
        .count(conn)
        .await
        .map_err(db_error)?;
    if owners <= 1 {
        return Err(DomainError::conflict(
            "an app needs an owner: make another member owner first",
        )
        .with_field("userId"));
    }
    Ok(())
}

/// Changes a member's role; the last owner cannot step down.
#[orbit_macros::boxed]
pub async fn set_role(
    db: &Db,
    scope: AppScope,
    user_id: UserId,
    role: AppRole,
) -> DomainResult<Member> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    apps::lock(&txn, scope).await?;
    let membership = find_member(&txn, scope, user_id).await?;
    let current = parse_role(&membership.role)?;
    let membership = if current == role {
        membership
    } else {
        if current == AppRole::Owner {
            ensure_another_owner(&txn, scope.app_id()).await?;
        }
        let mut active: app_member::ActiveModel = membership.into();
        active.role = Set(role.as_str().to_owned());
        active.update(&txn).await.map_err(db_error)?
    };
    let user = user::Entity::find_by_id(user_id.uuid())
        .one(&txn)
        .await
        .map_err(db_error)?
        .ok_or_else(member_not_found)?;
    db.commit(txn).await?;
    Ok(Member { membership, user })
}

/// Removes a member; the last owner cannot leave.
#[orbit_macros::boxed]
pub async fn remove(db: &Db, scope: AppScope, user_id: UserId) -> DomainResult<()> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    apps::lock(&txn, scope).await?;
    let membership = find_member(&txn, scope, user_id).await?;
    if parse_role(&membership.role)? == AppRole::Owner {
        ensure_another_owner(&txn, scope.app_id()).await?;
    }
    app_member::Entity::delete_by_id((scope.uuid(), user_id.uuid()))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    db.commit(txn).await?;
    Ok(())
}
