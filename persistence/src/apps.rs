//! Apps (tenants), their API keys and their developer members.

use chrono::{DateTime, Utc};
use orbit_domain::entities::{api_key, app, app_member, user};
use orbit_domain::events::{AppDeletion, Event};
use orbit_domain::ids::{AppId, AppScope, UserId};
use orbit_domain::roles::AppRole;
use orbit_domain::validation::Email;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};

pub use crate::api_keys::NewApiKey;
use crate::reaction::forget_interest;
use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, api_keys, db_error, keyset, outbox, users};

/// The console app developers belong to, created on first start.
#[orbit_macros::boxed]
pub async fn ensure_console(db: &Db, now: DateTime<Utc>) -> DomainResult<app::Model> {
    if let Some(console) = app::Entity::find()
        .filter(app::Column::IsConsole.eq(true))
        .one(db.conn())
        .await
        .map_err(db_error)?
    {
        return Ok(console);
    }
    app::ActiveModel {
        id: Set(AppId::generate().uuid()),
        name: Set("Orbit console".to_owned()),
        is_console: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db.conn())
    .await
    .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, id: AppId) -> DomainResult<Option<app::Model>> {
    app::Entity::find_by_id(id.uuid())
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// The owner of a new app: a console user, found by email or created.
pub struct Owner {
    pub email: Email,
    pub display_name: String,
    /// Used only when the owner account is created here.
    pub password_hash: String,
}

/// Who owns a new app.
pub enum NewAppOwner {
    /// A developer creating an app for themself (`createApp`).
    Developer(UserId),
    /// The operator's `orbit admin create-app`: the console user with this
    /// email, created when there is none.
    ByEmail(Owner),
}

pub struct CreatedApp {
    pub app: app::Model,
    pub keys: Vec<api_key::Model>,
    pub owner: user::Model,
}

/// Creates an app with its first keys and its owner, in one transaction.
#[orbit_macros::boxed]
pub async fn create_with_owner(
    db: &Db,
    console: AppScope,
    now: DateTime<Utc>,
    name: String,
    keys: Vec<NewApiKey>,
    owner: NewAppOwner,
) -> DomainResult<CreatedApp> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let owner_user = match owner {
        NewAppOwner::Developer(id) => user::Entity::find_by_id(id.uuid())
            .filter(user::Column::AppId.eq(console.uuid()))
            .one(&txn)
            .await
            .map_err(db_error)?
            .ok_or_else(|| {
                DomainError::unauthenticated("the signed-in developer no longer exists")
            })?,
        NewAppOwner::ByEmail(owner) => {
            let existing = user::Entity::find()
                .filter(user::Column::AppId.eq(console.uuid()))
                .filter(user::Column::EmailNormalized.eq(owner.email.normalized.clone()))
                .one(&txn)
                .await
                .map_err(db_error)?;
            match existing {
                Some(found) => found,
                None => {
                    let new_owner = users::NewUser {
                        email: owner.email,
                        display_name: owner.display_name,
                        password_hash: Some(owner.password_hash),
                    };
                    users::insert(&txn, console, now, new_owner).await?
                }
            }
        }
    };
    let app = app::ActiveModel {
        id: Set(AppId::generate().uuid()),
        name: Set(name),
        is_console: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db_error)?;
    let mut stored_keys = Vec::with_capacity(keys.len());
    for key in keys {
        stored_keys.push(api_keys::insert(&txn, AppScope::new(AppId(app.id)), now, key).await?);
    }
    app_member::ActiveModel {
        app_id: Set(app.id),
        user_id: Set(owner_user.id),
        role: Set(AppRole::Owner.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db_error)?;
    db.commit(txn).await?;
    Ok(CreatedApp {
        app,
        keys: stored_keys,
        owner: owner_user,
    })
}

/// Holds the app's row for the rest of the transaction (Postgres; SQLite
/// has one writer at a time anyway): changes that must keep an owner, and
/// key rotations, happen one after another. NOT_FOUND when it is gone.
pub(crate) async fn lock<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
) -> DomainResult<app::Model> {
    app::Entity::find_by_id(scope.uuid())
        .lock_exclusive()
        .one(conn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::not_found("app").with_field("appId"))
}

#[orbit_macros::boxed]
pub async fn rename(
    db: &Db,
    scope: AppScope,
    name: String,
    now: DateTime<Utc>,
) -> DomainResult<app::Model> {
    let existing = find(db, scope.app_id())
        .await?
        .ok_or_else(|| DomainError::not_found("app").with_field("appId"))?;
    let mut active: app::ActiveModel = existing.into();
    active.name = Set(name);
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(db_error)
}

/// Deletes the app and everything in it, in one transaction: its rows go
/// by cascade; its events (which name no app in a foreign key) are deleted
/// here, so its messages do not linger in the outbox. An `app.deleted`
/// event on the app's topic then closes its open sockets on every process.
/// The console app cannot be deleted.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, now: DateTime<Utc>) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let app = lock(txn, scope).await?;
    if app.is_console {
        return Err(DomainError::forbidden("the console app cannot be deleted").with_field("appId"));
    }
    outbox::delete_app_events(txn, scope).await?;
    app::Entity::delete_by_id(scope.uuid())
        .exec(txn)
        .await
        .map_err(db_error)?;
    forget_interest(txn, scope).await?;
    change.emit(Event::AppDeleted(AppDeletion {
        app_id: scope.app_id(),
    }));
    change.commit().await?;
    Ok(())
}

/// The key with this lookup prefix. Keys are global: the key names its app.
#[orbit_macros::boxed]
pub async fn find_key_by_prefix(
    db: &Db,
    lookup_prefix: &str,
) -> DomainResult<Option<api_key::Model>> {
    api_key::Entity::find()
        .filter(api_key::Column::LookupPrefix.eq(lookup_prefix))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Apps the developer is a member of, oldest first.
#[orbit_macros::boxed]
pub async fn list_for_developer(
    db: &Db,
    developer: UserId,
    args: PageArgs,
) -> DomainResult<Page<app::Model>> {
    let memberships = Query::select()
        .column(app_member::Column::AppId)
        .from(app_member::Entity)
        .and_where(Expr::col(app_member::Column::UserId).eq(developer.uuid()))
        .to_owned();
    let select = app::Entity::find().filter(app::Column::Id.in_subquery(memberships));
    keyset::page(db.conn(), select, None, app::Column::Id, false, args).await
}

#[orbit_macros::boxed]
pub async fn developer_role(
    db: &Db,
    app_id: AppId,
    developer: UserId,
) -> DomainResult<Option<AppRole>> {
    let member = app_member::Entity::find_by_id((app_id.uuid(), developer.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    member
        .map(|m| m.role.parse().map_err(DomainError::internal))
        .transpose()
}
