//! Messages: sent idempotently, edited, soft-deleted, read in keyset pages.

use chrono::{DateTime, Utc};
use orbit_domain::agents::MessageStatus;
use orbit_domain::entities::{message, thread};
use orbit_domain::events::{EventType, NewEvent, Topic};
use orbit_domain::ids::{AgentId, AppScope, MessageId, ThreadId, UserId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::{Value, json};

use crate::error::is_unique_violation;
use crate::{Db, Page, PageArgs, agent_replies, db_error, keyset, outbox};

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
pub(crate) fn message_payload(message: &message::Model) -> Value {
    json!({
        "messageId": MessageId(message.id).to_string(),
        "threadId": ThreadId(message.thread_id).to_string(),
        "authorId": message.author_user_id.map(|u| UserId(u).to_string()),
        "authorAgentId": message.author_agent_id.map(|a| AgentId(a).to_string()),
        "model": message.model,
        "promptTokens": message.prompt_tokens,
        "completionTokens": message.completion_tokens,
        "content": message.content,
        "metadata": message.metadata,
        "status": message.status,
        "createdAt": message.created_at,
        "editedAt": message.edited_at,
        "deletedAt": message.deleted_at,
    })
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

/// A message sent, and whether it asked agents for replies (the worker has
/// work then).
pub struct Sent {
    pub message: message::Model,
    pub replies_queued: usize,
}

fn replayed(existing: message::Model, new_message: &NewMessage) -> DomainResult<Sent> {
    Ok(Sent {
        message: replay(existing, new_message)?,
        replies_queued: 0,
    })
}

/// Sends a message, and in the same transaction queues a reply from each
/// agent of the thread that it asks (see `agent_replies`). With an
/// idempotency key, a retry returns the first message and writes nothing.
pub async fn send(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new_message: NewMessage,
) -> DomainResult<Sent> {
    if let Some(key) = &new_message.idempotency_key
        && let Some(existing) = find_by_idempotency_key(db.conn(), scope, &new_message, key).await?
    {
        return replayed(existing, &new_message);
    }
    let txn = db.conn().begin().await.map_err(db_error)?;
    let id = MessageId::generate().uuid();
    let inserted = message::ActiveModel {
        id: Set(id),
        app_id: Set(scope.uuid()),
        thread_id: Set(new_message.thread.uuid()),
        author_user_id: Set(Some(new_message.author.uuid())),
        author_agent_id: Set(None),
        content: Set(Some(new_message.content.clone())),
        metadata: Set(new_message.metadata.clone()),
        status: Set(STATUS_SENT.to_owned()),
        model: Set(None),
        prompt_tokens: Set(None),
        completion_tokens: Set(None),
        idempotency_key: Set(new_message.idempotency_key.clone()),
        created_at: Set(now),
        edited_at: Set(None),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(created) => created,
        // A concurrent retry won the race between our lookup and insert.
        Err(error) if is_unique_violation(&error) => {
            drop(txn);
            let key = new_message.idempotency_key.as_deref().unwrap_or_default();
            let existing = find_by_idempotency_key(db.conn(), scope, &new_message, key)
                .await?
                .ok_or_else(|| DomainError::internal("idempotent message vanished"))?;
            return replayed(existing, &new_message);
        }
        Err(error) => return Err(db_error(error)),
    };
    touch_thread(&txn, scope, new_message.thread, id, now).await?;
    let replies = agent_replies::enqueue_for_message(&txn, scope, &created, now).await?;
    outbox::append(
        &txn,
        scope,
        now,
        vec![NewEvent::new(
            Topic::Thread(new_message.thread),
            EventType::MessageCreated,
            message_payload(&created),
        )],
    )
    .await?;
    db.commit(txn).await?;
    Ok(Sent {
        message: created,
        replies_queued: replies.len(),
    })
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
/// transaction; the caller announces it (`message.created`). Agents'
/// messages ask no agent for a reply.
pub(crate) async fn insert_agent_message<C: ConnectionTrait>(
    txn: &C,
    scope: AppScope,
    new_message: AgentMessage,
    now: DateTime<Utc>,
) -> DomainResult<message::Model> {
    let message = message::ActiveModel {
        id: Set(new_message.id.uuid()),
        app_id: Set(scope.uuid()),
        thread_id: Set(new_message.thread.uuid()),
        author_user_id: Set(None),
        author_agent_id: Set(Some(new_message.agent.uuid())),
        content: Set(Some(new_message.content)),
        metadata: Set(None),
        status: Set(new_message.status.as_str().to_owned()),
        idempotency_key: Set(None),
        created_at: Set(now),
        edited_at: Set(None),
        deleted_at: Set(None),
        model: Set(new_message.model),
        prompt_tokens: Set(new_message.prompt_tokens),
        completion_tokens: Set(new_message.completion_tokens),
    }
    .insert(txn)
    .await
    .map_err(db_error)?;
    touch_thread(txn, scope, new_message.thread, message.id, now).await?;
    Ok(message)
}

/// `message.created` for `message`, on its thread.
pub(crate) fn created_event(message: &message::Model) -> NewEvent {
    NewEvent::new(
        Topic::Thread(ThreadId(message.thread_id)),
        EventType::MessageCreated,
        message_payload(message),
    )
}

/// Moves the thread to the top of the activity order: its newest message is
/// `message` (UUIDv7, so the key orders threads by last activity).
pub(crate) async fn touch_thread<C: ConnectionTrait>(
    txn: &C,
    scope: AppScope,
    thread: ThreadId,
    message: uuid::Uuid,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    thread::Entity::update_many()
        .col_expr(
            thread::Column::LastMessageAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            thread::Column::ActivityKey,
            sea_orm::sea_query::Expr::value(message),
        )
        .filter(thread::Column::Id.eq(thread.uuid()))
        .filter(thread::Column::AppId.eq(scope.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn find(db: &Db, scope: AppScope, id: MessageId) -> DomainResult<Option<message::Model>> {
    message::Entity::find_by_id(id.uuid())
        .filter(message::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

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
    save_and_announce(db, scope, active, EventType::MessageEdited, now).await
}

/// Soft delete: the row keeps its place in the thread, its content and
/// metadata are erased. Deleting twice is a no-op.
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
    save_and_announce(db, scope, active, EventType::MessageDeleted, now).await
}

/// Saves a change to a message and announces it on the thread, in one transaction.
async fn save_and_announce(
    db: &Db,
    scope: AppScope,
    changed: message::ActiveModel,
    event_type: EventType,
    now: DateTime<Utc>,
) -> DomainResult<message::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let updated = changed.update(&txn).await.map_err(db_error)?;
    let event = NewEvent::new(
        Topic::Thread(ThreadId(updated.thread_id)),
        event_type,
        message_payload(&updated),
    );
    outbox::append(&txn, scope, now, vec![event]).await?;
    db.commit(txn).await?;
    Ok(updated)
}

/// A page of the thread's messages, oldest first.
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
