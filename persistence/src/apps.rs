//! Apps (tenants), their API keys and their developer members.

use chrono::{DateTime, Utc};
use orbit_domain::entities::{api_key, app, app_member, user};
use orbit_domain::ids::{ApiKeyId, AppId, AppScope, UserId};
use orbit_domain::roles::AppRole;
use orbit_domain::validation::Email;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use crate::{Db, Page, PageArgs, db_error, keyset, users};

/// The console app developers belong to, created on first start.
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

pub async fn find(db: &Db, id: AppId) -> DomainResult<Option<app::Model>> {
    app::Entity::find_by_id(id.uuid())
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// A key to store: everything but the plaintext, which is shown once and never kept.
pub struct NewApiKey {
    pub kind: &'static str,
    pub environment: &'static str,
    pub name: String,
    pub lookup_prefix: String,
    pub secret_hash: String,
}

/// The owner of a new app: a console user, found by email or created.
pub struct Owner {
    pub email: Email,
    pub display_name: String,
    /// Used only when the owner account is created here.
    pub password_hash: String,
}

pub struct CreatedApp {
    pub app: app::Model,
    pub keys: Vec<api_key::Model>,
    pub owner: user::Model,
}

/// Creates an app with its first keys and its owner, in one transaction.
pub async fn create_with_owner(
    db: &Db,
    console: AppScope,
    now: DateTime<Utc>,
    name: String,
    keys: Vec<NewApiKey>,
    owner: Owner,
) -> DomainResult<CreatedApp> {
    let txn = db.conn().begin().await.map_err(db_error)?;
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
        stored_keys.push(insert_key(&txn, AppScope::new(AppId(app.id)), now, key).await?);
    }
    let existing = user::Entity::find()
        .filter(user::Column::AppId.eq(console.uuid()))
        .filter(user::Column::EmailNormalized.eq(owner.email.normalized.clone()))
        .one(&txn)
        .await
        .map_err(db_error)?;
    let owner_user = match existing {
        Some(found) => found,
        None => {
            let new_owner = users::NewUser {
                email: owner.email,
                display_name: owner.display_name,
                password_hash: Some(owner.password_hash),
            };
            users::insert(&txn, console, now, new_owner).await?
        }
    };
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

async fn insert_key(
    txn: &sea_orm::DatabaseTransaction,
    scope: AppScope,
    now: DateTime<Utc>,
    key: NewApiKey,
) -> DomainResult<api_key::Model> {
    api_key::ActiveModel {
        id: Set(ApiKeyId::generate().uuid()),
        app_id: Set(scope.uuid()),
        kind: Set(key.kind.to_owned()),
        environment: Set(key.environment.to_owned()),
        name: Set(key.name),
        lookup_prefix: Set(key.lookup_prefix),
        secret_hash: Set(key.secret_hash),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(txn)
    .await
    .map_err(db_error)
}

/// The key with this lookup prefix. Keys are global: the key names its app.
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
