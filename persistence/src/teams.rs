//! Teams, their members and invitations.

use crate::error::is_unique_violation;
use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, db_error, keyset};
use chrono::{DateTime, Utc};
use orbit_domain::entities::{team, team_invitation, team_member, user};
use orbit_domain::events::{Event, Membership};
use orbit_domain::ids::{AppScope, InvitationId, TeamId, UserId};
use orbit_domain::roles::TeamRole;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
};

pub fn parse_role(stored: &str) -> DomainResult<TeamRole> {
    stored.parse().map_err(DomainError::internal)
}

fn member_events(
    team: TeamId,
    user: UserId,
    kind: fn(Membership) -> Event,
    role: Option<TeamRole>,
) -> [Event; 1] {
    [kind(Membership {
        team_id: team,
        user_id: user,
        role,
    })]
}

#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    name: String,
    owner: UserId,
) -> DomainResult<team::Model> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let team = team::ActiveModel {
        id: Set(TeamId::generate().uuid()),
        app_id: Set(scope.uuid()),
        name: Set(name),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
    .map_err(db_error)?;
    insert_member(txn, scope, TeamId(team.id), owner, TeamRole::Owner, now).await?;
    change.emit_all(member_events(
        TeamId(team.id),
        owner,
        Event::MemberJoined,
        Some(TeamRole::Owner),
    ));
    change.commit().await?;
    Ok(team)
}

async fn insert_member<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    team: TeamId,
    user: UserId,
    role: TeamRole,
    now: DateTime<Utc>,
) -> DomainResult<team_member::Model> {
    team_member::ActiveModel {
        team_id: Set(team.uuid()),
        user_id: Set(user.uuid()),
        app_id: Set(scope.uuid()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            DomainError::conflict("already a member of this team")
        } else {
            db_error(error)
        }
    })
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: TeamId) -> DomainResult<Option<team::Model>> {
    team::Entity::find_by_id(id.uuid())
        .filter(team::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find_many(
    db: &Db,
    scope: AppScope,
    ids: &[uuid::Uuid],
) -> DomainResult<Vec<team::Model>> {
    team::Entity::find()
        .filter(team::Column::AppId.eq(scope.uuid()))
        .filter(team::Column::Id.is_in(ids.iter().copied()))
        .all(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn membership(
    db: &Db,
    scope: AppScope,
    team: TeamId,
    user: UserId,
) -> DomainResult<Option<team_member::Model>> {
    team_member::Entity::find_by_id((team.uuid(), user.uuid()))
        .filter(team_member::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn member_role(
    db: &Db,
    scope: AppScope,
    team: TeamId,
    user: UserId,
) -> DomainResult<Option<TeamRole>> {
    membership(db, scope, team, user)
        .await?
        .map(|m| parse_role(&m.role))
        .transpose()
}

/// The user's role in each of `teams` they belong to.
#[orbit_macros::boxed]
pub async fn roles_of(
    db: &Db,
    scope: AppScope,
    user: UserId,
    teams: &[uuid::Uuid],
) -> DomainResult<std::collections::HashMap<uuid::Uuid, TeamRole>> {
    let rows = team_member::Entity::find()
        .filter(team_member::Column::AppId.eq(scope.uuid()))
        .filter(team_member::Column::UserId.eq(user.uuid()))
        .filter(team_member::Column::TeamId.is_in(teams.iter().copied()))
        .all(db.conn())
        .await
        .map_err(db_error)?;
    rows.into_iter()
        .map(|row| Ok((row.team_id, parse_role(&row.role)?)))
        .collect()
}

/// Every team the user belongs to.
#[orbit_macros::boxed]
pub async fn team_ids_of(db: &Db, scope: AppScope, user: UserId) -> DomainResult<Vec<TeamId>> {
    let rows: Vec<uuid::Uuid> = team_member::Entity::find()
        .select_only()
        .column(team_member::Column::TeamId)
        .filter(team_member::Column::AppId.eq(scope.uuid()))
        .filter(team_member::Column::UserId.eq(user.uuid()))
        .into_tuple()
        .all(db.conn())
        .await
        .map_err(db_error)?;
    Ok(rows.into_iter().map(TeamId).collect())
}

#[orbit_macros::boxed]
pub async fn rename(
    db: &Db,
    scope: AppScope,
    id: TeamId,
    name: String,
    now: DateTime<Utc>,
) -> DomainResult<team::Model> {
    let existing = find(db, scope, id)
        .await?
        .ok_or_else(|| DomainError::not_found("team"))?;
    let mut active: team::ActiveModel = existing.into();
    active.name = Set(name);
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(db_error)
}

/// Deletes the team with its memberships, invitations and threads.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: TeamId, now: DateTime<Utc>) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let members = team_member::Entity::find()
        .filter(team_member::Column::TeamId.eq(id.uuid()))
        .filter(team_member::Column::AppId.eq(scope.uuid()))
        .all(txn)
        .await
        .map_err(db_error)?;
    let deleted = team::Entity::delete_many()
        .filter(team::Column::Id.eq(id.uuid()))
        .filter(team::Column::AppId.eq(scope.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("team"));
    }
    change.emit_all(
        members
            .iter()
            .flat_map(|m| member_events(id, UserId(m.user_id), Event::MemberLeft, None)),
    );
    change.commit().await?;
    Ok(())
}

/// The caller's teams, or every team of the app for `None` (a secret key).
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    member: Option<UserId>,
    args: PageArgs,
) -> DomainResult<Page<team::Model>> {
    let mut select = team::Entity::find().filter(team::Column::AppId.eq(scope.uuid()));
    if let Some(member) = member {
        let mine = Query::select()
            .column(team_member::Column::TeamId)
            .from(team_member::Entity)
            .and_where(Expr::col(team_member::Column::UserId).eq(member.uuid()))
            .to_owned();
        select = select.filter(team::Column::Id.in_subquery(mine));
    }
    keyset::page(
        db.conn(),
        select,
        Some(team::Column::AppId),
        team::Column::Id,
        false,
        args,
    )
    .await
}

#[orbit_macros::boxed]
pub async fn list_members(
    db: &Db,
    scope: AppScope,
    team: TeamId,
    args: PageArgs,
) -> DomainResult<Page<team_member::Model>> {
    let select = team_member::Entity::find()
        .filter(team_member::Column::AppId.eq(scope.uuid()))
        .filter(team_member::Column::TeamId.eq(team.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(team_member::Column::TeamId),
        team_member::Column::UserId,
        false,
        args,
    )
    .await
}

pub struct NewInvitation {
    pub team: TeamId,
    pub email_normalized: String,
    pub role: TeamRole,
    pub code_hash: String,
    pub invited_by: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

#[orbit_macros::boxed]
pub async fn create_invitation(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    invitation: NewInvitation,
) -> DomainResult<team_invitation::Model> {
    team_invitation::ActiveModel {
        id: Set(InvitationId::generate().uuid()),
        app_id: Set(scope.uuid()),
        team_id: Set(invitation.team.uuid()),
        email_normalized: Set(invitation.email_normalized),
        role: Set(invitation.role.as_str().to_owned()),
        code_hash: Set(invitation.code_hash),
        invited_by: Set(invitation.invited_by.map(UserId::uuid)),
        created_at: Set(now),
        expires_at: Set(invitation.expires_at),
        accepted_at: Set(None),
    }
    .insert(db.conn())
    .await
    .map_err(db_error)
}

/// Redeems an invitation for `joiner`: the code must be unspent, unexpired and
/// addressed to the joiner's email, so a forwarded code is worthless.
#[orbit_macros::boxed]
pub async fn accept_invitation(
    db: &Db,
    scope: AppScope,
    code_hash: &str,
    joiner: &user::Model,
    now: DateTime<Utc>,
) -> DomainResult<(team::Model, team_member::Model)> {
    let invalid = || DomainError::not_found("invitation").with_field("code");
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let invitation = team_invitation::Entity::find()
        .filter(team_invitation::Column::AppId.eq(scope.uuid()))
        .filter(team_invitation::Column::CodeHash.eq(code_hash))
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(invalid)?;
    if invitation.email_normalized != joiner.email_normalized {
        return Err(invalid());
    }
    if invitation.accepted_at.is_some() {
        return Err(DomainError::conflict("this invitation was already used").with_field("code"));
    }
    if invitation.expires_at <= now {
        return Err(DomainError::bad_input(
            "code",
            "this invitation has expired",
        ));
    }
    let claimed = team_invitation::Entity::update_many()
        .col_expr(team_invitation::Column::AcceptedAt, Expr::value(now))
        .filter(team_invitation::Column::Id.eq(invitation.id))
        .filter(team_invitation::Column::AcceptedAt.is_null())
        .exec(txn)
        .await
        .map_err(db_error)?;
    if claimed.rows_affected == 0 {
        return Err(DomainError::conflict("this invitation was already used").with_field("code"));
    }
    let team_id = TeamId(invitation.team_id);
    let role = parse_role(&invitation.role)?;
    let member = insert_member(txn, scope, team_id, UserId(joiner.id), role, now).await?;
    change.emit_all(member_events(
        team_id,
        UserId(joiner.id),
        Event::MemberJoined,
        Some(role),
    ));
    let team = team::Entity::find_by_id(team_id.uuid())
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(invalid)?;
    change.commit().await?;
    Ok((team, member))
}

/// Takes the team's row lock for the rest of the transaction. Changes that
/// must keep an owner (demoting, removing) count owners after taking it, so
/// two owners stepping down at once cannot both see the other one stay.
/// SQLite has one writer at a time already (and no row locks).
async fn lock_team<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    team: TeamId,
) -> DomainResult<()> {
    team::Entity::find_by_id(team.uuid())
        .filter(team::Column::AppId.eq(scope.uuid()))
        .lock_exclusive()
        .one(conn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::not_found("team").with_field("teamId"))?;
    Ok(())
}

async fn ensure_another_owner<C: ConnectionTrait>(conn: &C, team: TeamId) -> DomainResult<()> {
    let owners = team_member::Entity::find()
        .filter(team_member::Column::TeamId.eq(team.uuid()))
        .filter(team_member::Column::Role.eq(TeamRole::Owner.as_str()))
        .count(conn)
        .await
        .map_err(db_error)?;
    if owners <= 1 {
        return Err(DomainError::conflict(
            "a team needs an owner: make another member owner first",
        )
        .with_field("userId"));
    }
    Ok(())
}

#[orbit_macros::boxed]
pub async fn remove_member(
    db: &Db,
    scope: AppScope,
    team: TeamId,
    user: UserId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    lock_team(txn, scope, team).await?;
    let member = team_member::Entity::find_by_id((team.uuid(), user.uuid()))
        .filter(team_member::Column::AppId.eq(scope.uuid()))
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::not_found("team member").with_field("userId"))?;
    if parse_role(&member.role)? == TeamRole::Owner {
        ensure_another_owner(txn, team).await?;
    }
    team_member::Entity::delete_by_id((team.uuid(), user.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    change.emit_all(member_events(team, user, Event::MemberLeft, None));
    change.commit().await?;
    Ok(())
}

#[orbit_macros::boxed]
pub async fn set_role(
    db: &Db,
    scope: AppScope,
    team: TeamId,
    user: UserId,
    role: TeamRole,
    now: DateTime<Utc>,
) -> DomainResult<team_member::Model> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    lock_team(txn, scope, team).await?;
    let member = team_member::Entity::find_by_id((team.uuid(), user.uuid()))
        .filter(team_member::Column::AppId.eq(scope.uuid()))
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::not_found("team member").with_field("userId"))?;
    let current = parse_role(&member.role)?;
    if current == role {
        return Ok(member);
    }
    if current == TeamRole::Owner {
        ensure_another_owner(txn, team).await?;
    }
    let mut active: team_member::ActiveModel = member.into();
    active.role = Set(role.as_str().to_owned());
    let updated = active.update(txn).await.map_err(db_error)?;
    change.emit_all(member_events(
        team,
        user,
        Event::MemberRoleChanged,
        Some(role),
    ));
    change.commit().await?;
    Ok(updated)
}
