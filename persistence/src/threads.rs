//! Threads: owned by a user or a team, with participants and read state.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbit_domain::entities::{
    message, team_member, thread, thread_agent, thread_participant, thread_read,
};
use orbit_domain::events::{Event, Participation, ReadMarker, ThreadSnapshot};
use orbit_domain::ids::{AgentId, AppScope, MessageId, TeamId, ThreadId, UserId};
use orbit_domain::policy::ThreadAccess;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::FromQueryResult;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, Statement,
};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, db_error, keyset, teams};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadOwner {
    User(UserId),
    Team(TeamId),
}

impl ThreadOwner {
    pub fn of(thread: &thread::Model) -> DomainResult<Self> {
        match (thread.owner_user_id, thread.team_id) {
            (_, Some(team)) => Ok(ThreadOwner::Team(TeamId(team))),
            (Some(user), None) => Ok(ThreadOwner::User(UserId(user))),
            (None, None) => Err(DomainError::internal("thread without an owner")),
        }
    }
}

fn snapshot(thread: &thread::Model) -> ThreadSnapshot {
    ThreadSnapshot {
        thread_id: ThreadId(thread.id),
        title: thread.title.clone(),
        team_id: thread.team_id.map(TeamId),
        owner_id: thread.owner_user_id.map(UserId),
    }
}

#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    title: String,
    owner: ThreadOwner,
    created_by: Option<UserId>,
    participants: Vec<UserId>,
) -> DomainResult<thread::Model> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let id = ThreadId::generate().uuid();
    let (owner_user_id, team_id) = match owner {
        ThreadOwner::User(user) => (Some(user.uuid()), None),
        ThreadOwner::Team(team) => (None, Some(team.uuid())),
    };
    let created = thread::ActiveModel {
        id: Set(id),
        app_id: Set(scope.uuid()),
        title: Set(title),
        owner_user_id: Set(owner_user_id),
        team_id: Set(team_id),
        created_by: Set(created_by.map(UserId::uuid)),
        created_at: Set(now),
        updated_at: Set(now),
        last_message_at: Set(None),
        activity_key: Set(id),
    }
    .insert(txn)
    .await
    .map_err(db_error)?;
    change.emit(Event::ThreadCreated(snapshot(&created)));
    for participant in participants {
        if owner == ThreadOwner::User(participant) {
            continue;
        }
        insert_participant(txn, scope, ThreadId(id), participant, now).await?;
        change.emit(participant_event(
            ThreadId(id),
            participant,
            Event::ParticipantAdded,
        ));
    }
    change.commit().await?;
    Ok(created)
}

fn participant_event(thread: ThreadId, user: UserId, kind: fn(Participation) -> Event) -> Event {
    kind(Participation {
        thread_id: thread,
        user_id: Some(user),
        agent_id: None,
    })
}

async fn insert_participant<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    thread: ThreadId,
    user: UserId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    thread_participant::ActiveModel {
        thread_id: Set(thread.uuid()),
        user_id: Set(user.uuid()),
        app_id: Set(scope.uuid()),
        added_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            DomainError::conflict("already a participant of this thread").with_field("userId")
        } else {
            db_error(error)
        }
    })?;
    Ok(())
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: ThreadId) -> DomainResult<Option<thread::Model>> {
    thread::Entity::find_by_id(id.uuid())
        .filter(thread::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// What the user `user` (a placeholder of the statement) is to the row
/// `thread` of `threads`: `'owner'` of a personal thread, `'team'` member of
/// the team that owns it, `'participant'` added by name, or NULL when they
/// may not see it. [`find_with_access`] reads it, and a message sent in one
/// statement is written only where it is not NULL.
pub(crate) fn access_sql(thread: &str, user: &str) -> String {
    format!(
        "CASE WHEN {thread}.team_id IS NULL AND {thread}.owner_user_id = {user} THEN 'owner' \
         WHEN {thread}.team_id IS NOT NULL AND EXISTS (SELECT 1 FROM team_members \
           WHERE team_members.team_id = {thread}.team_id AND team_members.user_id = {user}) \
           THEN 'team' \
         WHEN EXISTS (SELECT 1 FROM thread_participants \
           WHERE thread_participants.thread_id = {thread}.id \
           AND thread_participants.user_id = {user}) THEN 'participant' END"
    )
}

/// The thread and what `user` is to it, in one query: `None` when there is
/// no such thread in the app, an access of `None` when the user may not see
/// it. What every request about a thread asks first.
#[orbit_macros::boxed]
pub async fn find_with_access(
    db: &Db,
    scope: AppScope,
    id: ThreadId,
    user: UserId,
) -> DomainResult<Option<(thread::Model, Option<ThreadAccess>)>> {
    let sql = format!(
        "SELECT t.*, {access} AS viewer_access, \
           (SELECT role FROM team_members WHERE team_members.team_id = t.team_id \
             AND team_members.user_id = $3) AS viewer_team_role \
         FROM threads t WHERE t.id = $1 AND t.app_id = $2",
        access = access_sql("t", "$3"),
    );
    let statement = Statement::from_sql_and_values(
        db.conn().get_database_backend(),
        sql,
        [id.uuid().into(), scope.uuid().into(), user.uuid().into()],
    );
    let Some(row) = db.conn().query_one_raw(statement).await.map_err(db_error)? else {
        return Ok(None);
    };
    let thread = thread::Model::from_query_result(&row, "").map_err(db_error)?;
    let access: Option<String> = row.try_get("", "viewer_access").map_err(db_error)?;
    let team_role: Option<String> = row.try_get("", "viewer_team_role").map_err(db_error)?;
    let access = match access.as_deref() {
        None => None,
        Some("owner") => Some(ThreadAccess::Owner),
        Some("team") => Some(ThreadAccess::TeamMember {
            role: teams::parse_role(team_role.as_deref().unwrap_or_default())?,
            is_creator: thread.created_by == Some(user.uuid()),
        }),
        Some("participant") => Some(ThreadAccess::Participant),
        Some(other) => {
            return Err(DomainError::internal(format!(
                "unknown thread access `{other}`"
            )));
        }
    };
    Ok(Some((thread, access)))
}

/// Threads `user` may see: their own, their teams', and those they were
/// added to. The rule of [`access_sql`], shaped for a scan of many threads
/// (each subquery run once and hashed, not probed for every row): keep the
/// two alike.
fn visible_to(user: UserId) -> Condition {
    let my_teams = Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(Expr::col(team_member::Column::UserId).eq(user.uuid()))
        .to_owned();
    let added_to = Query::select()
        .column(thread_participant::Column::ThreadId)
        .from(thread_participant::Entity)
        .and_where(Expr::col(thread_participant::Column::UserId).eq(user.uuid()))
        .to_owned();
    Condition::any()
        .add(thread::Column::OwnerUserId.eq(user.uuid()))
        .add(thread::Column::TeamId.in_subquery(my_teams))
        .add(thread::Column::Id.in_subquery(added_to))
}

/// Threads by last activity, newest first. `viewer` is `None` for a secret key.
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    viewer: Option<UserId>,
    team: Option<TeamId>,
    args: PageArgs,
) -> DomainResult<Page<thread::Model>> {
    let mut select = thread::Entity::find().filter(thread::Column::AppId.eq(scope.uuid()));
    if let Some(team) = team {
        select = select.filter(thread::Column::TeamId.eq(team.uuid()));
    }
    if let Some(viewer) = viewer {
        select = select.filter(visible_to(viewer));
    }
    // (team_id, activity_key) serves one team's list, (app_id, activity_key) the rest.
    let leading = if team.is_some() {
        thread::Column::TeamId
    } else {
        thread::Column::AppId
    };
    keyset::page(
        db.conn(),
        select,
        Some(leading),
        thread::Column::ActivityKey,
        true,
        args,
    )
    .await
}

#[orbit_macros::boxed]
pub async fn rename(
    db: &Db,
    scope: AppScope,
    thread: thread::Model,
    title: String,
    now: DateTime<Utc>,
) -> DomainResult<thread::Model> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    ThreadOwner::of(&thread)?;
    let mut active: thread::ActiveModel = thread.into();
    active.title = Set(title);
    active.updated_at = Set(now);
    let updated = active.update(txn).await.map_err(db_error)?;
    change.emit(Event::ThreadUpdated(snapshot(&updated)));
    change.commit().await?;
    Ok(updated)
}

/// Deletes the thread with its messages, participants and read state.
#[orbit_macros::boxed]
pub async fn delete(
    db: &Db,
    scope: AppScope,
    thread: thread::Model,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    ThreadOwner::of(&thread)?;
    let deleted = snapshot(&thread);
    thread::Entity::delete_many()
        .filter(thread::Column::Id.eq(thread.id))
        .filter(thread::Column::AppId.eq(scope.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    change.emit(Event::ThreadDeleted(deleted));
    change.commit().await?;
    Ok(())
}

/// Participants of each of `threads`, in the order they were added.
#[orbit_macros::boxed]
pub async fn participants_of(
    db: &Db,
    scope: AppScope,
    threads: &[Uuid],
) -> DomainResult<HashMap<Uuid, Vec<thread_participant::Model>>> {
    use sea_orm::QueryOrder;
    let rows = thread_participant::Entity::find()
        .filter(thread_participant::Column::AppId.eq(scope.uuid()))
        .filter(thread_participant::Column::ThreadId.is_in(threads.iter().copied()))
        .order_by_asc(thread_participant::Column::AddedAt)
        .order_by_asc(thread_participant::Column::UserId)
        .all(db.conn())
        .await
        .map_err(db_error)?;
    let mut grouped: HashMap<Uuid, Vec<thread_participant::Model>> = HashMap::new();
    for row in rows {
        grouped.entry(row.thread_id).or_default().push(row);
    }
    Ok(grouped)
}

#[orbit_macros::boxed]
pub async fn find_many(db: &Db, scope: AppScope, ids: &[Uuid]) -> DomainResult<Vec<thread::Model>> {
    thread::Entity::find()
        .filter(thread::Column::AppId.eq(scope.uuid()))
        .filter(thread::Column::Id.is_in(ids.iter().copied()))
        .all(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn add_participant(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    user: UserId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    insert_participant(txn, scope, thread, user, now).await?;
    change.emit(participant_event(thread, user, Event::ParticipantAdded));
    change.commit().await
}

#[orbit_macros::boxed]
pub async fn remove_participant(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    user: UserId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let removed = thread_participant::Entity::delete_many()
        .filter(thread_participant::Column::AppId.eq(scope.uuid()))
        .filter(thread_participant::Column::ThreadId.eq(thread.uuid()))
        .filter(thread_participant::Column::UserId.eq(user.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if removed.rows_affected == 0 {
        return Err(DomainError::not_found("participant").with_field("userId"));
    }
    change.emit(participant_event(thread, user, Event::ParticipantRemoved));
    change.commit().await
}

/// Records that `user` has read `thread` up to `message`. Read state only moves
/// forward, so a late, stale call cannot make read messages unread again; such
/// a call changes nothing and announces nothing.
#[orbit_macros::boxed]
pub async fn mark_read(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    user: UserId,
    message: MessageId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let in_thread = message::Entity::find_by_id(message.uuid())
        .filter(message::Column::AppId.eq(scope.uuid()))
        .filter(message::Column::ThreadId.eq(thread.uuid()))
        .one(txn)
        .await
        .map_err(db_error)?;
    if in_thread.is_none() {
        return Err(DomainError::not_found("message").with_field("messageId"));
    }
    let upsert = Query::insert()
        .into_table(thread_read::Entity)
        .columns([
            thread_read::Column::ThreadId,
            thread_read::Column::UserId,
            thread_read::Column::AppId,
            thread_read::Column::LastReadMessageId,
            thread_read::Column::ReadAt,
        ])
        .values_panic([
            thread.uuid().into(),
            user.uuid().into(),
            scope.uuid().into(),
            message.uuid().into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([thread_read::Column::ThreadId, thread_read::Column::UserId])
                .update_columns([
                    thread_read::Column::LastReadMessageId,
                    thread_read::Column::ReadAt,
                ])
                // Read state only moves forward, decided in the one statement so
                // that concurrent marks cannot race each other backward.
                .action_and_where(
                    Expr::col((thread_read::Entity, thread_read::Column::LastReadMessageId)).lt(
                        Expr::col((
                            Alias::new("excluded"),
                            thread_read::Column::LastReadMessageId,
                        )),
                    ),
                )
                .to_owned(),
        )
        .to_owned();
    let moved = txn
        .execute(&upsert)
        .await
        .map_err(db_error)?
        .rows_affected()
        > 0;
    if moved {
        change.emit(Event::ThreadRead(ReadMarker {
            thread_id: thread,
            user_id: user,
            message_id: message,
        }));
    }
    change.commit().await
}

/// Unread messages per thread for `user`, in one query for all of `threads`:
/// live messages by others, newer than the user's read marker.
#[orbit_macros::boxed]
pub async fn unread_counts(
    db: &Db,
    scope: AppScope,
    user: UserId,
    threads: &[Uuid],
) -> DomainResult<HashMap<Uuid, i64>> {
    if threads.is_empty() {
        return Ok(HashMap::new());
    }
    let messages = Alias::new("m");
    let query = Query::select()
        .expr_as(
            Expr::col((messages.clone(), message::Column::ThreadId)),
            Alias::new("thread_id"),
        )
        .expr_as(
            Func::count(Expr::col((messages.clone(), message::Column::Id))),
            Alias::new("unread"),
        )
        .from_as(message::Entity, messages.clone())
        .left_join(
            thread_read::Entity,
            Condition::all()
                .add(
                    Expr::col((thread_read::Entity, thread_read::Column::ThreadId))
                        .equals((messages.clone(), message::Column::ThreadId)),
                )
                .add(Expr::col((thread_read::Entity, thread_read::Column::UserId)).eq(user.uuid())),
        )
        .and_where(Expr::col((messages.clone(), message::Column::AppId)).eq(scope.uuid()))
        .and_where(
            Expr::col((messages.clone(), message::Column::ThreadId)).is_in(threads.iter().copied()),
        )
        .and_where(Expr::col((messages.clone(), message::Column::DeletedAt)).is_null())
        .cond_where(
            Condition::any()
                .add(Expr::col((messages.clone(), message::Column::AuthorUserId)).is_null())
                .add(Expr::col((messages.clone(), message::Column::AuthorUserId)).ne(user.uuid())),
        )
        .cond_where(
            Condition::any()
                .add(
                    Expr::col((thread_read::Entity, thread_read::Column::LastReadMessageId))
                        .is_null(),
                )
                .add(
                    Expr::col((messages.clone(), message::Column::Id)).gt(Expr::col((
                        thread_read::Entity,
                        thread_read::Column::LastReadMessageId,
                    ))),
                ),
        )
        .group_by_col((messages, message::Column::ThreadId))
        .to_owned();
    let rows = db.conn().query_all(&query).await.map_err(db_error)?;
    let mut counts = HashMap::with_capacity(rows.len());
    for row in rows {
        let thread: Uuid = row.try_get("", "thread_id").map_err(db_error)?;
        let unread: i64 = row.try_get("", "unread").map_err(db_error)?;
        counts.insert(thread, unread);
    }
    Ok(counts)
}

/// Whether `agent` takes part in `thread` (both of the app): what an
/// agent's built-in tools may touch.
#[orbit_macros::boxed]
pub async fn agent_takes_part(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    agent: AgentId,
) -> DomainResult<bool> {
    let found = thread_agent::Entity::find()
        .filter(thread_agent::Column::AppId.eq(scope.uuid()))
        .filter(thread_agent::Column::ThreadId.eq(thread.uuid()))
        .filter(thread_agent::Column::AgentId.eq(agent.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(found.is_some())
}
