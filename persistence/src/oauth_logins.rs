//! Logins through outside providers, from the authorization request to the
//! app's exchange of its one-time code, and the identities they link to
//! users. A state is spent at the provider's callback, a code at its
//! exchange: each exactly once, whatever runs at the same time.

use chrono::{DateTime, Duration, Utc};
use orbit_domain::entities::{oauth_login, user, user_identity};
use orbit_domain::ids::{AppScope, IdentityProviderId, UserId};
use orbit_domain::validation::Email;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::users::{self, NewUser};
use crate::{Db, db_error};

/// Expired logins are kept this long (so a late callback is told it
/// expired rather than that it is unknown), then deleted when the app
/// starts another.
const KEEP_EXPIRED: Duration = Duration::days(1);

pub struct NewLogin {
    pub id: Uuid,
    pub provider_id: IdentityProviderId,
    pub state_hash: String,
    pub pkce_verifier_sealed: String,
    pub callback_url: String,
    pub redirect_url: String,
    pub client_state: Option<String>,
    pub link_user_id: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a login waiting for the provider's callback.
#[orbit_macros::boxed]
pub async fn start(
    db: &Db,
    scope: AppScope,
    new: NewLogin,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    use oauth_login::Column;
    oauth_login::Entity::delete_many()
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::ExpiresAt.lte(now - KEEP_EXPIRED))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    oauth_login::ActiveModel {
        id: Set(new.id),
        app_id: Set(scope.uuid()),
        provider_id: Set(new.provider_id.uuid()),
        state_hash: Set(new.state_hash),
        pkce_verifier_sealed: Set(new.pkce_verifier_sealed),
        callback_url: Set(new.callback_url),
        redirect_url: Set(new.redirect_url),
        client_state: Set(new.client_state),
        link_user_id: Set(new.link_user_id.map(UserId::uuid)),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        callback_at: Set(None),
        code_hash: Set(None),
        user_id: Set(None),
        code_expires_at: Set(None),
        exchanged_at: Set(None),
    }
    .insert(db.conn())
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The login a state (by its hash) belongs to, in any app: the callback
/// carries nothing but the state, so the state names its app (as an API key
/// does).
#[orbit_macros::boxed]
pub async fn find_by_state(db: &Db, state_hash: &str) -> DomainResult<Option<oauth_login::Model>> {
    oauth_login::Entity::find()
        .filter(oauth_login::Column::StateHash.eq(state_hash))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Spends the login's state: true for exactly one callback, and only
/// before it expires.
#[orbit_macros::boxed]
pub async fn claim_state(
    db: &Db,
    scope: AppScope,
    id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    use oauth_login::Column;
    let claimed = oauth_login::Entity::update_many()
        .col_expr(Column::CallbackAt, Expr::value(now))
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::Id.eq(id))
        .filter(Column::CallbackAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok(claimed.rows_affected == 1)
}

/// The person as the provider vouched for them.
#[derive(Debug, Clone)]
pub struct ProvenIdentity {
    pub issuer: String,
    pub subject: String,
    pub provider_slug: String,
    /// The email, when the provider says it checked it.
    pub verified_email: Option<Email>,
    /// The email as given, verified or not (kept on the identity for display).
    pub email: Option<String>,
    /// For a new account.
    pub display_name: String,
}

/// What the identity led to.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// An identity already linked: its user, who may now exchange the code.
    SignedIn(user::Model),
    /// A new user with the identity, who may now exchange the code.
    SignedUp(user::Model),
    /// The identity is now (or already was) the signed-in user's who started.
    Linked(user::Model),
}

/// Why the identity leads nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The (verified) email has an account that this identity is not linked
    /// to: never linked by email alone.
    AccountExists,
    /// New people cannot sign up through this provider.
    SignUpClosed,
    /// No verified email to make an account with.
    EmailUnverified,
    /// Linking: the identity belongs to another user.
    IdentityTaken,
    /// The linked user is disabled.
    AccountDisabled,
}

/// The one-time code the app exchanges for tokens once the login led to a user.
pub struct IssuedCode {
    pub code_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// Settles a login whose state the callback spent: links, signs in or signs
/// up the person, and stores the code for it, in one transaction. A refusal
/// writes nothing.
#[orbit_macros::boxed]
pub async fn finish(
    db: &Db,
    scope: AppScope,
    login: &oauth_login::Model,
    identity: ProvenIdentity,
    sign_up_allowed: bool,
    code: IssuedCode,
    now: DateTime<Utc>,
) -> DomainResult<Result<Resolution, Refusal>> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let existing = user_identity::Entity::find()
        .filter(user_identity::Column::AppId.eq(scope.uuid()))
        .filter(user_identity::Column::Issuer.eq(identity.issuer.as_str()))
        .filter(user_identity::Column::Subject.eq(identity.subject.as_str()))
        .one(&txn)
        .await
        .map_err(db_error)?;
    let resolution = if let Some(link_user) = login.link_user_id {
        let Some(user) = find_user(&txn, scope, link_user).await? else {
            return Err(DomainError::not_found("user"));
        };
        match existing {
            Some(found) if found.user_id != link_user => return Ok(Err(Refusal::IdentityTaken)),
            Some(found) => touch(&txn, found, &identity, now).await?,
            None => insert_identity(&txn, scope, link_user, &identity, now).await?,
        }
        Resolution::Linked(user)
    } else if let Some(found) = existing {
        let Some(user) = find_user(&txn, scope, found.user_id).await? else {
            return Err(DomainError::not_found("user"));
        };
        if user.disabled_at.is_some() {
            return Ok(Err(Refusal::AccountDisabled));
        }
        touch(&txn, found, &identity, now).await?;
        Resolution::SignedIn(user)
    } else {
        if let Some(email) = &identity.verified_email {
            let taken = user::Entity::find()
                .filter(user::Column::AppId.eq(scope.uuid()))
                .filter(user::Column::EmailNormalized.eq(email.normalized.as_str()))
                .one(&txn)
                .await
                .map_err(db_error)?;
            if taken.is_some() {
                return Ok(Err(Refusal::AccountExists));
            }
        }
        if !sign_up_allowed {
            return Ok(Err(Refusal::SignUpClosed));
        }
        let Some(email) = identity.verified_email.clone() else {
            return Ok(Err(Refusal::EmailUnverified));
        };
        let new_user = NewUser {
            email,
            display_name: identity.display_name.clone(),
            password_hash: None,
        };
        let user = match users::insert(&txn, scope, now, new_user).await {
            Ok(user) => user,
            // An account made with this email a moment ago.
            Err(error) if error.code == orbit_domain::ErrorCode::Conflict => {
                return Ok(Err(Refusal::AccountExists));
            }
            Err(error) => return Err(error),
        };
        insert_identity(&txn, scope, user.id, &identity, now).await?;
        Resolution::SignedUp(user)
    };
    let user_id = match &resolution {
        Resolution::SignedIn(user) | Resolution::SignedUp(user) => Some(user.id),
        Resolution::Linked(_) => None,
    };
    if let Some(user_id) = user_id {
        use oauth_login::Column;
        oauth_login::Entity::update_many()
            .col_expr(Column::CodeHash, Expr::value(code.code_hash))
            .col_expr(Column::UserId, Expr::value(user_id))
            .col_expr(Column::CodeExpiresAt, Expr::value(code.expires_at))
            .filter(Column::AppId.eq(scope.uuid()))
            .filter(Column::Id.eq(login.id))
            .exec(&txn)
            .await
            .map_err(db_error)?;
    }
    db.commit(txn).await?;
    Ok(Ok(resolution))
}

async fn find_user(
    txn: &DatabaseTransaction,
    scope: AppScope,
    id: Uuid,
) -> DomainResult<Option<user::Model>> {
    user::Entity::find_by_id(id)
        .filter(user::Column::AppId.eq(scope.uuid()))
        .one(txn)
        .await
        .map_err(db_error)
}

/// Notes a login through an identity already linked.
async fn touch<C: ConnectionTrait>(
    conn: &C,
    found: user_identity::Model,
    identity: &ProvenIdentity,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let mut row: user_identity::ActiveModel = found.into();
    row.provider_slug = Set(identity.provider_slug.clone());
    row.email = Set(identity.email.clone());
    row.last_login_at = Set(now);
    row.update(conn).await.map_err(db_error)?;
    Ok(())
}

async fn insert_identity<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    user_id: Uuid,
    identity: &ProvenIdentity,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    user_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        app_id: Set(scope.uuid()),
        user_id: Set(user_id),
        issuer: Set(identity.issuer.clone()),
        subject: Set(identity.subject.clone()),
        provider_slug: Set(identity.provider_slug.clone()),
        email: Set(identity.email.clone()),
        created_at: Set(now),
        last_login_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            // Linked by another login that finished at the same moment.
            DomainError::conflict("this identity was linked at the same time: try again")
        } else {
            db_error(error)
        }
    })?;
    Ok(())
}

/// Exchanges a login's one-time code (by its hash): the user it signs in,
/// if the code is of this app, unused and unexpired; it is spent from now
/// on, for exactly one of the callers that try at once.
#[orbit_macros::boxed]
pub async fn claim_code(
    db: &Db,
    scope: AppScope,
    code_hash: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<UserId>> {
    use oauth_login::Column;
    let Some(login) = oauth_login::Entity::find()
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::CodeHash.eq(code_hash))
        .one(db.conn())
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let live = login.exchanged_at.is_none() && login.code_expires_at.is_some_and(|at| at > now);
    let Some(user_id) = login.user_id.filter(|_| live) else {
        return Ok(None);
    };
    let claimed = oauth_login::Entity::update_many()
        .col_expr(Column::ExchangedAt, Expr::value(now))
        .filter(Column::Id.eq(login.id))
        .filter(Column::ExchangedAt.is_null())
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok((claimed.rows_affected == 1).then_some(UserId(user_id)))
}

/// The identities linked to a user, oldest first.
#[orbit_macros::boxed]
pub async fn identities_of(
    db: &Db,
    scope: AppScope,
    user_id: UserId,
) -> DomainResult<Vec<user_identity::Model>> {
    user_identity::Entity::find()
        .filter(user_identity::Column::AppId.eq(scope.uuid()))
        .filter(user_identity::Column::UserId.eq(user_id.uuid()))
        .order_by_asc(user_identity::Column::Id)
        .all(db.conn())
        .await
        .map_err(db_error)
}
