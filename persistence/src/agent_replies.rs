//! The replies agents owe threads: a queue worked under a lease
//! ([`crate::leases`]). A row is queued in the transaction of the message
//! that asks for it (one per message and agent: a unique index), claimed by
//! one process at a time, and ended once: [`finish`] writes the agent's
//! message, its events and the final status in one transaction, and only
//! while the process still holds the lease.
//!
//! The worker reads the rows it claimed by id ([`claimed`]): a claimed row
//! names its app, and everything after that is scoped to it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbit_domain::agents::{AgentStatus, MessageStatus, ReplyMode, ReplyStatus, mentions};
use orbit_domain::entities::{agent, agent_reply, message, thread_agent};
use orbit_domain::events::{Event, MessageSnapshot, ReplyEnded};
use orbit_domain::ids::{AgentId, AgentReplyId, AppScope, MessageId, ThreadId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::messages::{AgentMessage, created_event, insert_agent_message, snapshot};
use crate::queues::Queue;
use crate::reaction::{Happened, InChange};
use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, db_error, keyset, leases};

/// The reaction that queues agents' replies to the messages that ask them.
pub const REACTION: &str = "agent_replies";

/// The queue's table, for [`leases`].
pub const TABLE: &str = Queue::AgentReplies.as_str();

fn new_reply(
    scope: AppScope,
    thread: Uuid,
    agent: Uuid,
    trigger: Option<Uuid>,
    prompt: Option<String>,
    now: DateTime<Utc>,
) -> agent_reply::ActiveModel {
    agent_reply::ActiveModel {
        id: Set(AgentReplyId::generate().uuid()),
        app_id: Set(scope.uuid()),
        thread_id: Set(thread),
        agent_id: Set(agent),
        trigger_message_id: Set(trigger),
        prompt: Set(prompt),
        status: Set(ReplyStatus::Queued.as_str().to_owned()),
        due_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        attempts: Set(0),
        pauses: Set(0),
        model: Set(None),
        prompt_tokens: Set(None),
        completion_tokens: Set(None),
        error: Set(None),
        reply_message_id: Set(None),
        cancel_requested_at: Set(None),
        created_at: Set(now),
        finished_at: Set(None),
    }
}

/// Queues, in the transaction that stores `message` (a person's), a reply
/// from each active agent of its thread that answers it: every message in
/// `always` mode, messages that mention `@handle` in `mention` mode.
/// Messages written by agents never come here, so agents cannot set each
/// other off in a loop.
pub(crate) async fn enqueue_for_messages(
    change: &dyn InChange,
    happened: &[Happened],
) -> DomainResult<()> {
    for happened in happened {
        if let Event::MessageCreated(message) = happened.event.as_ref()
            && message.author_id.is_some()
        {
            enqueue_for_message(change, message).await?;
        }
    }
    Ok(())
}

async fn enqueue_for_message(change: &dyn InChange, message: &MessageSnapshot) -> DomainResult<()> {
    let (txn, scope, now) = (change.txn(), change.scope(), change.now());
    let in_thread = sea_orm::sea_query::Query::select()
        .column(thread_agent::Column::AgentId)
        .from(thread_agent::Entity)
        .and_where(Expr::col(thread_agent::Column::ThreadId).eq(message.thread_id.uuid()))
        .to_owned();
    let agents = agent::Entity::find()
        .filter(agent::Column::AppId.eq(scope.uuid()))
        .filter(agent::Column::Status.eq(AgentStatus::Active.as_str()))
        .filter(agent::Column::Id.in_subquery(in_thread))
        .order_by_asc(agent::Column::Id)
        .all(txn)
        .await
        .map_err(db_error)?;
    let content = message.content.as_deref().unwrap_or_default();
    for agent in agents {
        let asked = match agent.reply_mode.parse::<ReplyMode>()? {
            ReplyMode::Always => true,
            ReplyMode::Mention => mentions(content, &agent.handle),
        };
        if !asked {
            continue;
        }
        new_reply(
            scope,
            message.thread_id.uuid(),
            agent.id,
            Some(message.message_id.uuid()),
            None,
            now,
        )
        .insert(txn)
        .await
        .map_err(db_error)?;
        change.queued(Queue::AgentReplies);
    }
    Ok(())
}

/// Queues a reply of `agent` in `thread` to `prompt`, which is not a message
/// of the thread (a routine's "prompt the agent" action). Call it inside the
/// transaction that records why, then wake the worker after the commit.
pub async fn enqueue_prompt<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    agent: AgentId,
    thread: ThreadId,
    prompt: String,
    now: DateTime<Utc>,
) -> DomainResult<agent_reply::Model> {
    new_reply(scope, thread.uuid(), agent.uuid(), None, Some(prompt), now)
        .insert(conn)
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find(
    db: &Db,
    scope: AppScope,
    id: AgentReplyId,
) -> DomainResult<Option<agent_reply::Model>> {
    agent_reply::Entity::find_by_id(id.uuid())
        .filter(agent_reply::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// The replies each of `messages` asked for, oldest first.
#[orbit_macros::boxed]
pub async fn asked_by(
    db: &Db,
    scope: AppScope,
    messages: &[Uuid],
) -> DomainResult<HashMap<Uuid, Vec<agent_reply::Model>>> {
    let rows = agent_reply::Entity::find()
        .filter(agent_reply::Column::AppId.eq(scope.uuid()))
        .filter(agent_reply::Column::TriggerMessageId.is_in(messages.iter().copied()))
        .order_by_asc(agent_reply::Column::Id)
        .all(db.conn())
        .await
        .map_err(db_error)?;
    let mut grouped: HashMap<Uuid, Vec<agent_reply::Model>> = HashMap::new();
    for row in rows {
        if let Some(trigger) = row.trigger_message_id {
            grouped.entry(trigger).or_default().push(row);
        }
    }
    Ok(grouped)
}

/// The reply whose answer is `message`.
#[orbit_macros::boxed]
pub async fn answered_by(
    db: &Db,
    scope: AppScope,
    message: MessageId,
) -> DomainResult<Option<agent_reply::Model>> {
    agent_reply::Entity::find()
        .filter(agent_reply::Column::AppId.eq(scope.uuid()))
        .filter(agent_reply::Column::ReplyMessageId.eq(message.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// An agent's replies, newest first.
#[orbit_macros::boxed]
pub async fn list_for_agent(
    db: &Db,
    scope: AppScope,
    agent: AgentId,
    args: PageArgs,
) -> DomainResult<Page<agent_reply::Model>> {
    let select = agent_reply::Entity::find()
        .filter(agent_reply::Column::AppId.eq(scope.uuid()))
        .filter(agent_reply::Column::AgentId.eq(agent.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(agent_reply::Column::AgentId),
        agent_reply::Column::Id,
        true,
        args,
    )
    .await
}

/// Asks for a reply to stop. A queued reply ends here (cancelled, with its
/// `agent_reply.failed` event); a running one is marked, and the process
/// streaming it stores what it has as cancelled when it next looks (within
/// about a second, on any process). CONFLICT when the reply has ended.
#[orbit_macros::boxed]
pub async fn request_cancel(
    db: &Db,
    scope: AppScope,
    reply: &agent_reply::Model,
    now: DateTime<Utc>,
) -> DomainResult<agent_reply::Model> {
    let id = AgentReplyId(reply.id);
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let ended_queued = agent_reply::Entity::update_many()
        .col_expr(
            agent_reply::Column::Status,
            Expr::value(ReplyStatus::Cancelled.as_str()),
        )
        .col_expr(agent_reply::Column::CancelRequestedAt, Expr::value(now))
        .col_expr(agent_reply::Column::FinishedAt, Expr::value(now))
        .col_expr(
            agent_reply::Column::Error,
            Expr::value("cancelled before it started"),
        )
        .filter(agent_reply::Column::Id.eq(reply.id))
        .filter(agent_reply::Column::AppId.eq(scope.uuid()))
        .filter(agent_reply::Column::Status.eq(ReplyStatus::Queued.as_str()))
        .exec(txn)
        .await
        .map_err(db_error)?
        .rows_affected
        == 1;
    if ended_queued {
        let ended = Ended {
            status: ReplyStatus::Cancelled,
            error: Some("cancelled before it started".to_owned()),
            message: None,
        };
        // A reply paused for an approval is queued: what it waited on ends too.
        crate::tool_calls::fail_waiting(&change, reply, now).await?;
        change.emit(ended.event(reply));
    } else {
        let marked = agent_reply::Entity::update_many()
            .col_expr(agent_reply::Column::CancelRequestedAt, Expr::value(now))
            .filter(agent_reply::Column::Id.eq(reply.id))
            .filter(agent_reply::Column::AppId.eq(scope.uuid()))
            .filter(agent_reply::Column::Status.eq(ReplyStatus::Running.as_str()))
            .exec(txn)
            .await
            .map_err(db_error)?
            .rows_affected
            == 1;
        if !marked {
            return Err(DomainError::conflict("this reply has already ended").with_field("replyId"));
        }
    }
    change.commit().await?;
    find(db, scope, id)
        .await?
        .ok_or_else(|| DomainError::not_found("agent reply").with_field("replyId"))
}

/// Claims up to `limit` due replies for `owner` (see [`leases::claim`]).
#[orbit_macros::boxed]
pub async fn claim(
    db: &Db,
    owner: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u64,
) -> DomainResult<Vec<Uuid>> {
    leases::claim(db, TABLE, owner, now, lease, limit).await
}

/// A reply this process claimed: the row names its app.
#[orbit_macros::boxed]
pub async fn claimed(db: &Db, id: Uuid) -> DomainResult<Option<agent_reply::Model>> {
    agent_reply::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Extends `owner`'s lease and says whether someone asked the reply to stop.
/// `None`: the lease is lost (another process took the reply over, or it
/// was deleted with its agent or thread): stop and write nothing.
#[orbit_macros::boxed]
pub async fn heartbeat(
    db: &Db,
    id: Uuid,
    owner: &str,
    until: DateTime<Utc>,
) -> DomainResult<Option<bool>> {
    if !leases::renew(db, TABLE, id, owner, until).await? {
        return Ok(None);
    }
    let cancel = agent_reply::Entity::find_by_id(id)
        .select_only()
        .column(agent_reply::Column::CancelRequestedAt)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(cancel.map(|at| at.is_some()))
}

/// The thread's messages an answer may read, newest first: those up to and
/// including `through` (the asking message, or the reply's own id for a
/// prompt, so a retry sees what the first attempt saw), deleted ones left out.
#[orbit_macros::boxed]
pub async fn context(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    through: Uuid,
    limit: u64,
) -> DomainResult<Vec<message::Model>> {
    message::Entity::find()
        .filter(message::Column::AppId.eq(scope.uuid()))
        .filter(message::Column::ThreadId.eq(thread.uuid()))
        .filter(message::Column::Id.lte(through))
        .filter(message::Column::DeletedAt.is_null())
        .order_by_desc(message::Column::ThreadId)
        .order_by_desc(message::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await
        .map_err(db_error)
}

/// Puts a reply back in the queue after an attempt failed in a way worth
/// retrying, with the reason kept for whoever looks meanwhile. `false`: the
/// lease was lost.
#[orbit_macros::boxed]
pub async fn retry_later(
    db: &Db,
    id: Uuid,
    owner: &str,
    due_at: DateTime<Utc>,
    error: &str,
) -> DomainResult<bool> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    if !leases::requeue(&txn, TABLE, id, owner, due_at).await? {
        return Ok(false);
    }
    agent_reply::Entity::update_many()
        .col_expr(agent_reply::Column::Error, Expr::value(error))
        .filter(agent_reply::Column::Id.eq(id))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    db.commit(txn).await?;
    Ok(true)
}

/// Gives back a reply whose run waits for approval of a tool call: it is
/// due when the first waiting call expires, or at once if every call was
/// decided meanwhile. The claim that goes on counts as an attempt (its
/// deltas start afresh) but not against the retry budget: `pauses` counts
/// it. `false`: the lease was lost.
#[orbit_macros::boxed]
pub async fn pause(db: &Db, id: Uuid, owner: &str, now: DateTime<Utc>) -> DomainResult<bool> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    // Requeued first, due now: that locks the row, so a decision that
    // commits meanwhile either is read below or makes the reply due after.
    if !leases::requeue(&txn, TABLE, id, owner, now).await? {
        return Ok(false);
    }
    let mut resume = agent_reply::Entity::update_many()
        .col_expr(
            agent_reply::Column::Pauses,
            Expr::col(agent_reply::Column::Pauses).add(1),
        )
        .filter(agent_reply::Column::Id.eq(id));
    if let Some(expires) = crate::tool_calls::first_expiry(&txn, id).await? {
        resume = resume.col_expr(agent_reply::Column::DueAt, Expr::value(expires));
    }
    resume.exec(&txn).await.map_err(db_error)?;
    db.commit(txn).await?;
    Ok(true)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `Completed`, `Failed` or `Cancelled`.
    pub status: ReplyStatus,
    /// What the agent said (all of it, or as far as it got).
    pub content: String,
    pub model: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub error: Option<String>,
}

/// Ends a reply `owner` holds: stores the agent's message (unless a
/// cancelled reply said nothing), `message.created` and the reply's
/// `agent_reply.completed` or `agent_reply.failed`, and the final status,
/// in one transaction. `false`: the lease was lost and nothing was written.
#[orbit_macros::boxed]
pub async fn finish(
    db: &Db,
    reply: &agent_reply::Model,
    owner: &str,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let scope = AppScope::new(reply.app_id.into());
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    if !leases::finish(txn, TABLE, reply.id, owner, outcome.status.as_str()).await? {
        return Ok(false);
    }
    let says_something =
        outcome.status != ReplyStatus::Cancelled || !outcome.content.trim().is_empty();
    let stored = if says_something {
        let message_status = match outcome.status {
            ReplyStatus::Completed => MessageStatus::Complete,
            ReplyStatus::Cancelled => MessageStatus::Cancelled,
            _ => MessageStatus::Failed,
        };
        let message = AgentMessage {
            id: MessageId::generate(),
            thread: ThreadId(reply.thread_id),
            agent: AgentId(reply.agent_id),
            content: outcome.content.clone(),
            status: message_status,
            model: outcome.model.clone(),
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
        };
        Some(insert_agent_message(txn, scope, message, now).await?)
    } else {
        None
    };
    agent_reply::Entity::update_many()
        .col_expr(
            agent_reply::Column::Model,
            Expr::value(outcome.model.clone()),
        )
        .col_expr(
            agent_reply::Column::PromptTokens,
            Expr::value(outcome.prompt_tokens),
        )
        .col_expr(
            agent_reply::Column::CompletionTokens,
            Expr::value(outcome.completion_tokens),
        )
        .col_expr(
            agent_reply::Column::Error,
            Expr::value(outcome.error.clone()),
        )
        .col_expr(
            agent_reply::Column::ReplyMessageId,
            Expr::value(stored.as_ref().map(|m| m.id)),
        )
        .col_expr(agent_reply::Column::FinishedAt, Expr::value(now))
        .filter(agent_reply::Column::Id.eq(reply.id))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if let Some(message) = &stored {
        change.emit(created_event(message));
    }
    let ended = Ended {
        status: outcome.status,
        error: outcome.error,
        message: stored.as_ref(),
    };
    change.emit(ended.event(reply));
    change.commit().await?;
    Ok(true)
}

/// The end of a reply, as its event tells it.
struct Ended<'a> {
    status: ReplyStatus,
    error: Option<String>,
    message: Option<&'a message::Model>,
}

impl Ended<'_> {
    fn event(&self, reply: &agent_reply::Model) -> Event {
        let ended = ReplyEnded {
            reply_id: AgentReplyId(reply.id),
            agent_id: AgentId(reply.agent_id),
            thread_id: ThreadId(reply.thread_id),
            trigger_message_id: reply.trigger_message_id.map(MessageId),
            attempt: reply.attempts,
            status: self.status.as_str().to_owned(),
            error: self.error.clone(),
            message: self.message.map(snapshot),
        };
        match self.status {
            ReplyStatus::Completed => Event::AgentReplyCompleted(ended),
            _ => Event::AgentReplyFailed(ended),
        }
    }
}
