//! Messages: sent idempotently, edited, soft-deleted, read in keyset pages.

use chrono::{DateTime, Utc};
use orbit_domain::agents::MessageStatus;
use orbit_domain::entities::{message, thread};
use orbit_domain::events::{Event, MessageSnapshot};
use orbit_domain::ids::{AgentId, AppScope, MessageId, ThreadId, UserId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, Statement,
};
use serde_json::Value;

use crate::error::is_unique_violation;
use crate::outbox::{GuardedWrite, MAY_WRITE};
use crate::unit_of_work::{self, Change, OneStatement};
use crate::{Db, Page, PageArgs, db_error, keyset, threads};

pub const STATUS_SENT: &str = "sent";

pub struct NewMessage {
    pub thread: ThreadId,
    pub author: UserId,
    pub content: String,
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
}

/// The whole message travels in its event, so the many subscribers of a
/// thread render it without reading it back from the database.
pub fn snapshot(message: &message::Model) -> MessageSnapshot {
    MessageSnapshot {
        message_id: MessageId(message.id),
        thread_id: ThreadId(message.thread_id),
        author_id: message.author_user_id.map(UserId),
        author_agent_id: message.author_agent_id.map(AgentId),
        model: message.model.clone(),
        prompt_tokens: message.prompt_tokens,
        completion_tokens: message.completion_tokens,
        content: message.content.clone(),
        metadata: message.metadata.clone(),
        status: message.status.clone(),
        created_at: message.created_at,
        edited_at: message.edited_at,
        deleted_at: message.deleted_at,
    }
}

async fn find_by_idempotency_key<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    new_message: &NewMessage,
    key: &str,
) -> DomainResult<Option<message::Model>> {
    message::Entity::find()
        .filter(message::Column::AppId.eq(scope.uuid()))
        .filter(message::Column::ThreadId.eq(new_message.thread.uuid()))
        .filter(message::Column::AuthorUserId.eq(new_message.author.uuid()))
        .filter(message::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await
        .map_err(db_error)
}

/// A retry under a key already used must be the same request; anything else
/// is a client bug worth a loud answer rather than a silent wrong message.
fn replay(existing: message::Model, new_message: &NewMessage) -> DomainResult<message::Model> {
    if existing.content.as_deref() != Some(new_message.content.as_str())
        && existing.deleted_at.is_none()
    {
        return Err(
            DomainError::conflict("this idempotencyKey was used for a different message")
                .with_field("idempotencyKey"),
        );
    }
    Ok(existing)
}

/// Sends a message. Agents of the thread that it asks queue their replies
/// in the same transaction (a reaction to `message.created`). With an
/// idempotency key, a retry returns the first message and writes nothing.
#[orbit_macros::boxed]
pub async fn send(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new_message: NewMessage,
) -> DomainResult<message::Model> {
    if let Some(key) = &new_message.idempotency_key
        && let Some(existing) = find_by_idempotency_key(db.conn(), scope, &new_message, key).await?
    {
        return replay(existing, &new_message);
    }
    let created = new_model(scope, now, &new_message);
    let _place = db.thread_gates().enter(created.thread_id).await;
    // Most sends: nothing reacts to them, and they are made in one statement.
    match unit_of_work::in_one_statement(
        db,
        scope,
        now,
        guarded_insert_and_touch_thread(&created, None),
        vec![created_event(&created)],
    )
    .await?
    {
        OneStatement::Made => return Ok(created),
        OneStatement::Conflicted => return replay_concurrent_retry(db, scope, &new_message).await,
        OneStatement::NeedsTransaction | OneStatement::Refused => {}
    }
    let change = Change::begin(db, scope, now).await?;
    match insert_and_touch_thread(change.txn(), &created).await {
        Ok(()) => {}
        Err(error) if is_unique_violation(&error) => {
            drop(change);
            return replay_concurrent_retry(db, scope, &new_message).await;
        }
        Err(error) => return Err(db_error(error)),
    }
    change.emit(created_event(&created));
    change.commit().await?;
    Ok(created)
}

/// Who a message sent by [`send_if_allowed`] comes from, and so what the
/// statement checks before it writes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentBy {
    /// Its author, who must see the thread (whoever sees a thread may post
    /// in it).
    Author,
    /// The app's secret key, naming an author who must be a user of the app.
    SecretKey,
}

/// The common send, checked and made in one statement: the thread is in the
/// app and `sent_by` may post there, no reaction wants the message, and
/// then the message, its thread's move up and its events, on Postgres.
/// `None` when nothing was written: the sender may not post there, the
/// idempotency key was used before, a reaction wants the message, or the
/// database is SQLite. The caller then checks access the long way, which
/// says what is wrong, and sends with [`send`].
#[orbit_macros::boxed]
pub async fn send_if_allowed(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new_message: &NewMessage,
    sent_by: SentBy,
) -> DomainResult<Option<message::Model>> {
    let created = new_model(scope, now, new_message);
    // Parameters as numbered by `message_values`: $2 the app, $3 the
    // thread, $4 the author.
    let precondition = match sent_by {
        SentBy::Author => format!(
            "EXISTS (SELECT 1 FROM threads t WHERE t.id = $3 AND t.app_id = $2 \
             AND ({access}) IS NOT NULL)",
            access = threads::access_sql("t", "$4"),
        ),
        SentBy::SecretKey => "EXISTS (SELECT 1 FROM threads t WHERE t.id = $3 AND t.app_id = $2) \
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = $4 AND u.app_id = $2)"
            .to_owned(),
    };
    let _place = db.thread_gates().enter(created.thread_id).await;
    let outcome = unit_of_work::in_one_statement(
        db,
        scope,
        now,
        guarded_insert_and_touch_thread(&created, Some(precondition)),
        vec![created_event(&created)],
    )
    .await?;
    Ok((outcome == OneStatement::Made).then_some(created))
}

fn new_model(scope: AppScope, now: DateTime<Utc>, new_message: &NewMessage) -> message::Model {
    message::Model {
        id: MessageId::generate().uuid(),
        app_id: scope.uuid(),
        thread_id: new_message.thread.uuid(),
        author_user_id: Some(new_message.author.uuid()),
        author_agent_id: None,
        content: Some(new_message.content.clone()),
        metadata: new_message.metadata.clone(),
        status: STATUS_SENT.to_owned(),
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
        idempotency_key: new_message.idempotency_key.clone(),
        created_at: now,
        edited_at: None,
        deleted_at: None,
    }
}

/// A concurrent retry won the race between our lookup and insert: answer
/// with the message it wrote.
async fn replay_concurrent_retry(
    db: &Db,
    scope: AppScope,
    new_message: &NewMessage,
) -> DomainResult<message::Model> {
    let key = new_message.idempotency_key.as_deref().unwrap_or_default();
    let existing = find_by_idempotency_key(db.conn(), scope, new_message, key)
        .await?
        .ok_or_else(|| DomainError::internal("idempotent message vanished"))?;
    replay(existing, new_message)
}

/// The columns of `messages` in the order [`message_values`] gives them.
const MESSAGE_COLUMNS: &str = "id, app_id, thread_id, author_user_id, author_agent_id, \
     content, metadata, status, model, prompt_tokens, completion_tokens, \
     idempotency_key, created_at, edited_at, deleted_at";

/// `message` as parameters `$1` to `$15`, in [`MESSAGE_COLUMNS`]' order.
fn message_values(message: &message::Model) -> Vec<sea_orm::Value> {
    vec![
        message.id.into(),
        message.app_id.into(),
        message.thread_id.into(),
        message.author_user_id.into(),
        message.author_agent_id.into(),
        message.content.clone().into(),
        message.metadata.clone().into(),
        message.status.clone().into(),
        message.model.clone().into(),
        message.prompt_tokens.into(),
        message.completion_tokens.into(),
        message.idempotency_key.clone().into(),
        message.created_at.into(),
        message.edited_at.into(),
        message.deleted_at.into(),
    ]
}

/// [`insert_and_touch_thread`] as the write of a one-statement change,
/// made only where `precondition` holds.
fn guarded_insert_and_touch_thread(
    message: &message::Model,
    precondition: Option<String>,
) -> GuardedWrite {
    GuardedWrite {
        items: insert_and_touch_thread_sql(MAY_WRITE).into(),
        values: message_values(message),
        precondition,
    }
}

/// Postgres: the thread moved up and the message inserted, each only
/// `WHERE condition`, with [`message_values`] as their parameters.
fn insert_and_touch_thread_sql(condition: &str) -> [String; 2] {
    [
        format!(
            "UPDATE threads SET last_message_at = $13, activity_key = $1 \
             WHERE id = $3 AND app_id = $2 AND {condition}"
        ),
        format!(
            "INSERT INTO messages ({MESSAGE_COLUMNS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 \
             WHERE {condition}"
        ),
    ]
}

/// Inserts `message` and moves its thread to the top of the activity order
/// (its newest message is this one: UUIDv7, so the key orders threads by
/// last activity). One statement on Postgres.
async fn insert_and_touch_thread<C: ConnectionTrait>(
    conn: &C,
    message: &message::Model,
) -> Result<(), sea_orm::DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        message::ActiveModel::from(message.clone())
            .insert(conn)
            .await?;
        return touch_thread(conn, message).await;
    }
    let [touch, insert] = insert_and_touch_thread_sql("true");
    let sql = format!("WITH touched AS ({touch}) {insert}");
    let values = message_values(message);
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// A message an agent writes: its reply, or what a routine posts.
pub struct AgentMessage {
    pub id: MessageId,
    pub thread: ThreadId,
    pub agent: AgentId,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
}

/// Stores an agent's message and moves its thread up, inside the caller's
/// change; the caller announces it (`message.created`). Agents' messages
/// ask no agent for a reply.
pub(crate) async fn insert_agent_message<C: ConnectionTrait>(
    txn: &C,
    scope: AppScope,
    new_message: AgentMessage,
    now: DateTime<Utc>,
) -> DomainResult<message::Model> {
    let message = message::Model {
        id: new_message.id.uuid(),
        app_id: scope.uuid(),
        thread_id: new_message.thread.uuid(),
        author_user_id: None,
        author_agent_id: Some(new_message.agent.uuid()),
        content: Some(new_message.content),
        metadata: None,
        status: new_message.status.as_str().to_owned(),
        idempotency_key: None,
        created_at: now,
        edited_at: None,
        deleted_at: None,
        model: new_message.model,
        prompt_tokens: new_message.prompt_tokens,
        completion_tokens: new_message.completion_tokens,
    };
    insert_and_touch_thread(txn, &message)
        .await
        .map_err(db_error)?;
    Ok(message)
}

/// A message an agent posts through its `orbit_post_message` tool, with
/// its `message.created`, in one change. `key` is the tool call's: a call
/// made again after a takeover finds the message the first one posted and
/// writes nothing (only the reply's lease holder calls, so the two never
/// run at once).
#[orbit_macros::boxed]
pub async fn post_as_agent(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    agent: AgentId,
    content: String,
    key: &str,
    now: DateTime<Utc>,
) -> DomainResult<message::Model> {
    let posted = message::Entity::find()
        .filter(message::Column::AppId.eq(scope.uuid()))
        .filter(message::Column::ThreadId.eq(thread.uuid()))
        .filter(message::Column::AuthorAgentId.eq(agent.uuid()))
        .filter(message::Column::IdempotencyKey.eq(key))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    if let Some(posted) = posted {
        return Ok(posted);
    }
    let change = Change::begin(db, scope, now).await?;
    let new_message = AgentMessage {
        id: MessageId::generate(),
        thread,
        agent,
        content,
        status: MessageStatus::Sent,
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
    };
    let mut message = insert_agent_message(change.txn(), scope, new_message, now).await?;
    message::Entity::update_many()
        .col_expr(
            message::Column::IdempotencyKey,
            sea_orm::sea_query::Expr::value(key),
        )
        .filter(message::Column::Id.eq(message.id))
        .exec(change.txn())
        .await
        .map_err(db_error)?;
    message.idempotency_key = Some(key.to_owned());
    change.emit(created_event(&message));
    change.commit().await?;
    Ok(message)
}

/// `message.created` for `message`.
pub(crate) fn created_event(message: &message::Model) -> Event {
    Event::MessageCreated(snapshot(message))
}

async fn touch_thread<C: ConnectionTrait>(
    conn: &C,
    message: &message::Model,
) -> Result<(), sea_orm::DbErr> {
    thread::Entity::update_many()
        .col_expr(
            thread::Column::LastMessageAt,
            sea_orm::sea_query::Expr::value(message.created_at),
        )
        .col_expr(
            thread::Column::ActivityKey,
            sea_orm::sea_query::Expr::value(message.id),
        )
        .filter(thread::Column::Id.eq(message.thread_id))
        .filter(thread::Column::AppId.eq(message.app_id))
        .exec(conn)
        .await?;
    Ok(())
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: MessageId) -> DomainResult<Option<message::Model>> {
    message::Entity::find_by_id(id.uuid())
        .filter(message::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn edit(
    db: &Db,
    scope: AppScope,
    existing: message::Model,
    content: String,
    now: DateTime<Utc>,
) -> DomainResult<message::Model> {
    if existing.deleted_at.is_some() {
        return Err(DomainError::conflict("a deleted message cannot be edited").with_field("id"));
    }
    let mut active: message::ActiveModel = existing.into();
    active.content = Set(Some(content));
    active.edited_at = Set(Some(now));
    save_and_announce(db, scope, active, Event::MessageEdited, now).await
}

/// Soft delete: the row keeps its place in the thread, its content and
/// metadata are erased. Deleting twice is a no-op.
#[orbit_macros::boxed]
pub async fn delete(
    db: &Db,
    scope: AppScope,
    existing: message::Model,
    now: DateTime<Utc>,
) -> DomainResult<message::Model> {
    if existing.deleted_at.is_some() {
        return Ok(existing);
    }
    let mut active: message::ActiveModel = existing.into();
    active.content = Set(None);
    active.metadata = Set(None);
    active.deleted_at = Set(Some(now));
    save_and_announce(db, scope, active, Event::MessageDeleted, now).await
}

/// Saves a change to a message and announces it on the thread, in one change.
async fn save_and_announce(
    db: &Db,
    scope: AppScope,
    changed: message::ActiveModel,
    event: fn(MessageSnapshot) -> Event,
    now: DateTime<Utc>,
) -> DomainResult<message::Model> {
    let change = Change::begin(db, scope, now).await?;
    let updated = changed.update(change.txn()).await.map_err(db_error)?;
    change.emit(event(snapshot(&updated)));
    change.commit().await?;
    Ok(updated)
}

/// A page of the thread's messages, oldest first.
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    args: PageArgs,
) -> DomainResult<Page<message::Model>> {
    let select = message::Entity::find()
        .filter(message::Column::AppId.eq(scope.uuid()))
        .filter(message::Column::ThreadId.eq(thread.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(message::Column::ThreadId),
        message::Column::Id,
        false,
        args,
    )
    .await
}
