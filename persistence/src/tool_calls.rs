//! The tool calls of agents' replies. A model turn's calls are recorded
//! before any of them runs, and each call's end is stored when it ends,
//! both only while the process writing holds the reply's lease. A process
//! that takes a reply over finds every call made so far, with its result,
//! and replays them to the model rather than calling again; a call it
//! finds still `running` (its process stopped mid-call) it calls again
//! with the same idempotency key (the call's row id), so the tool can tell
//! it is the same call.
//!
//! A call of a tool that requires approval is recorded `awaiting_approval`
//! with the time it counts as refused; [`decide`] approves it (it becomes
//! `running`, to be made) or refuses it (`failed`), and makes the paused
//! reply due at once.

use chrono::{DateTime, Utc};
use orbit_domain::agents::ReplyStatus;
use orbit_domain::entities::{agent_reply, agent_tool_call};
use orbit_domain::events::{Event, ToolCallStep};
use orbit_domain::ids::{AgentId, AgentReplyId, AppScope, MessageId, ThreadId, ToolId, UserId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, sea_query::Expr,
};
use uuid::Uuid;

use crate::queues::Queue;
use crate::unit_of_work::Change;
use crate::{Db, db_error, leases};

/// The replies' table, whose leases a reply's calls are written under
/// (named through the queue, so this module and `agent_replies`, which
/// reads the calls when a reply pauses, do not import each other).
const REPLIES: &str = Queue::AgentReplies.as_str();

/// How a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// Waits for a person to approve it; not made yet.
    AwaitingApproval,
    Running,
    Completed,
    Failed,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::AwaitingApproval => "awaiting_approval",
            CallStatus::Running => "running",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> DomainResult<Self> {
        match value {
            "awaiting_approval" => Ok(CallStatus::AwaitingApproval),
            "running" => Ok(CallStatus::Running),
            "completed" => Ok(CallStatus::Completed),
            "failed" => Ok(CallStatus::Failed),
            other => Err(DomainError::internal(format!(
                "unknown tool call status `{other}`"
            ))),
        }
    }
}

/// A call a model turn asked for.
#[derive(Debug, Clone)]
pub struct AskedCall {
    /// The model's id for it.
    pub call_id: String,
    /// The agent's tool of that name, if it has one.
    pub tool: Option<ToolId>,
    pub tool_name: String,
    pub arguments: serde_json::Value,
    /// Set when the tool requires approval: the call waits for a decision
    /// until then.
    pub approval_expires_at: Option<DateTime<Utc>>,
}

/// How a call ended.
#[derive(Debug, Clone)]
pub enum CallEnd {
    Completed(serde_json::Value),
    Failed(String),
}

/// Records the calls of model turn `step` as running, keeping any an
/// earlier attempt recorded under the same model ids. `None` when `owner`
/// no longer holds the reply: write nothing more, call nothing.
#[orbit_macros::boxed]
pub async fn record(
    db: &Db,
    reply: &agent_reply::Model,
    owner: &str,
    step: i32,
    calls: Vec<AskedCall>,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DomainResult<Option<Vec<agent_tool_call::Model>>> {
    let scope = AppScope::new(reply.app_id.into());
    let change = Change::begin(db, scope, now).await?;
    if !leases::renew_in(change.txn(), REPLIES, reply.id, owner, lease_until).await? {
        return Ok(None);
    }
    let known: std::collections::HashSet<String> = agent_tool_call::Entity::find()
        .filter(agent_tool_call::Column::ReplyId.eq(reply.id))
        .all(change.txn())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|call| call.call_id)
        .collect();
    let rows = calls
        .into_iter()
        .enumerate()
        .map(|(position, call)| {
            let status = if call.approval_expires_at.is_some() {
                CallStatus::AwaitingApproval
            } else {
                CallStatus::Running
            };
            agent_tool_call::ActiveModel {
                id: Set(Uuid::now_v7()),
                app_id: Set(reply.app_id),
                reply_id: Set(reply.id),
                step: Set(step),
                position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                call_id: Set(call.call_id),
                tool_id: Set(call.tool.map(ToolId::uuid)),
                tool_name: Set(call.tool_name),
                arguments: Set(call.arguments),
                status: Set(status.as_str().to_owned()),
                result: Set(None),
                error: Set(None),
                started_at: Set(now),
                finished_at: Set(None),
                approval_expires_at: Set(call.approval_expires_at),
                decided_at: Set(None),
                decided_by_user_id: Set(None),
            }
        })
        .collect::<Vec<_>>();
    if !rows.is_empty() {
        agent_tool_call::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    agent_tool_call::Column::ReplyId,
                    agent_tool_call::Column::CallId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(change.txn())
            .await
            .map_err(db_error)?;
    }
    let recorded = agent_tool_call::Entity::find()
        .filter(agent_tool_call::Column::ReplyId.eq(reply.id))
        .filter(agent_tool_call::Column::Step.eq(step))
        .order_by_asc(agent_tool_call::Column::Position)
        .all(change.txn())
        .await
        .map_err(db_error)?;
    change.emit_all(
        recorded
            .iter()
            .filter(|call| !known.contains(&call.call_id))
            .map(|call| {
                let event = step_event(reply, call);
                if call.status == CallStatus::AwaitingApproval.as_str() {
                    Event::AgentApprovalRequested(event)
                } else {
                    Event::AgentToolCallStarted(event)
                }
            }),
    );
    change.commit().await?;
    Ok(Some(recorded))
}

/// Stores how `call` ended, while `owner` holds its reply. `false`: the
/// lease was lost and nothing was written.
#[orbit_macros::boxed]
pub async fn finish(
    db: &Db,
    reply: &agent_reply::Model,
    owner: &str,
    call: agent_tool_call::Model,
    end: CallEnd,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let scope = AppScope::new(reply.app_id.into());
    let change = Change::begin(db, scope, now).await?;
    if !leases::renew_in(change.txn(), REPLIES, reply.id, owner, lease_until).await? {
        return Ok(false);
    }
    let mut active = call.into_active_model();
    match end {
        CallEnd::Completed(result) => {
            active.status = Set(CallStatus::Completed.as_str().to_owned());
            active.result = Set(Some(result));
        }
        CallEnd::Failed(error) => {
            active.status = Set(CallStatus::Failed.as_str().to_owned());
            active.error = Set(Some(error));
        }
    }
    active.finished_at = Set(Some(now));
    let ended = active.update(change.txn()).await.map_err(db_error)?;
    let event = step_event(reply, &ended);
    change.emit(if ended.status == CallStatus::Completed.as_str() {
        Event::AgentToolCallCompleted(event)
    } else {
        Event::AgentToolCallFailed(event)
    });
    change.commit().await?;
    Ok(true)
}

/// What a call that waited for approval says once its reply was cancelled.
pub const CANCELLED_WAITING: &str =
    "the reply was cancelled while this call waited for approval: it was not made";

/// Fails the calls of `reply` that wait for approval, inside the change
/// that cancels it (`agent_reply.tool_call.failed` for each): a cancelled
/// reply leaves nothing waiting.
pub(crate) async fn fail_waiting(
    change: &Change<'_>,
    reply: &agent_reply::Model,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let waiting = agent_tool_call::Entity::find()
        .filter(agent_tool_call::Column::ReplyId.eq(reply.id))
        .filter(agent_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()))
        .all(change.txn())
        .await
        .map_err(db_error)?;
    for call in waiting {
        let mut active = call.into_active_model();
        active.status = Set(CallStatus::Failed.as_str().to_owned());
        active.error = Set(Some(CANCELLED_WAITING.to_owned()));
        active.finished_at = Set(Some(now));
        let ended = active.update(change.txn()).await.map_err(db_error)?;
        change.emit(Event::AgentToolCallFailed(step_event(reply, &ended)));
    }
    Ok(())
}

/// The event of `call` of `reply`, as it stands.
fn step_event(reply: &agent_reply::Model, call: &agent_tool_call::Model) -> ToolCallStep {
    ToolCallStep {
        reply_id: AgentReplyId(reply.id),
        agent_id: AgentId(reply.agent_id),
        thread_id: ThreadId(reply.thread_id),
        trigger_message_id: reply.trigger_message_id.map(MessageId),
        attempt: reply.attempts,
        call_id: call.call_id.clone(),
        step: call.step,
        tool_name: call.tool_name.clone(),
        tool_id: call.tool_id.map(ToolId),
        arguments: call.arguments.clone(),
        result: call.result.clone(),
        error: call.error.clone(),
        approval_expires_at: call.approval_expires_at,
    }
}

/// A person's answer to a call that waits for approval.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub approve: bool,
    /// `None` for the app's secret key.
    pub by_user: Option<UserId>,
}

/// What the model is told of a refused call.
pub const REFUSED: &str = "a person refused this call: it was not made";

/// Approves or refuses call `call_id` of `reply`, which waits for approval:
/// approved, it becomes `running` (`agent_reply.tool_call.started`) and
/// is made when the reply goes on; refused, it fails
/// (`agent_reply.tool_call.failed`). Either way the paused reply is due at
/// once. NOT_FOUND for a call the reply does not have; CONFLICT once it
/// was decided or expired, or once the reply ended.
#[orbit_macros::boxed]
pub async fn decide(
    db: &Db,
    scope: AppScope,
    reply: &agent_reply::Model,
    call_id: &str,
    decision: Decision,
    now: DateTime<Utc>,
) -> DomainResult<agent_tool_call::Model> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let call = agent_tool_call::Entity::find()
        .filter(agent_tool_call::Column::AppId.eq(scope.uuid()))
        .filter(agent_tool_call::Column::ReplyId.eq(reply.id))
        .filter(agent_tool_call::Column::CallId.eq(call_id))
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::not_found("tool call").with_field("callId"))?;
    let not_waiting = || {
        DomainError::conflict(
            "this call is not waiting for approval (it was decided, or it expired)",
        )
        .with_field("callId")
    };
    if call.status != CallStatus::AwaitingApproval.as_str() {
        return Err(not_waiting());
    }
    if call
        .approval_expires_at
        .is_some_and(|expires| expires <= now)
    {
        return Err(DomainError::conflict(
            "the approval request expired: the call counts as refused",
        )
        .with_field("callId"));
    }
    // The reply waits, queued, for this decision; one that ended (say,
    // cancelled meanwhile) takes none.
    let woken = agent_reply::Entity::update_many()
        .col_expr(agent_reply::Column::DueAt, Expr::value(now))
        .filter(agent_reply::Column::Id.eq(reply.id))
        .filter(
            agent_reply::Column::Status
                .is_in([ReplyStatus::Queued.as_str(), ReplyStatus::Running.as_str()]),
        )
        .exec(txn)
        .await
        .map_err(db_error)?
        .rows_affected;
    if woken == 0 {
        return Err(DomainError::conflict("this reply has already ended").with_field("replyId"));
    }
    let (status, error, finished_at) = if decision.approve {
        (CallStatus::Running, None, None)
    } else {
        (CallStatus::Failed, Some(REFUSED.to_owned()), Some(now))
    };
    // Only while it still waits: two deciders at once, one wins.
    let decided = agent_tool_call::Entity::update_many()
        .col_expr(
            agent_tool_call::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(agent_tool_call::Column::Error, Expr::value(error))
        .col_expr(agent_tool_call::Column::StartedAt, Expr::value(now))
        .col_expr(
            agent_tool_call::Column::FinishedAt,
            Expr::value(finished_at),
        )
        .col_expr(agent_tool_call::Column::DecidedAt, Expr::value(now))
        .col_expr(
            agent_tool_call::Column::DecidedByUserId,
            Expr::value(decision.by_user.map(UserId::uuid)),
        )
        .filter(agent_tool_call::Column::Id.eq(call.id))
        .filter(agent_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()))
        .exec(txn)
        .await
        .map_err(db_error)?
        .rows_affected;
    if decided == 0 {
        return Err(not_waiting());
    }
    let call = agent_tool_call::Entity::find_by_id(call.id)
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::internal("a decided call vanished"))?;
    let event = step_event(reply, &call);
    change.emit(if decision.approve {
        Event::AgentToolCallStarted(event)
    } else {
        Event::AgentToolCallFailed(event)
    });
    change.commit().await?;
    Ok(call)
}

/// The earliest time a call of the reply that waits for approval expires:
/// `None` when none waits.
pub(crate) async fn first_expiry<C: sea_orm::ConnectionTrait>(
    conn: &C,
    reply: Uuid,
) -> DomainResult<Option<DateTime<Utc>>> {
    let waiting = agent_tool_call::Entity::find()
        .filter(agent_tool_call::Column::ReplyId.eq(reply))
        .filter(agent_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()))
        .order_by_asc(agent_tool_call::Column::ApprovalExpiresAt)
        .one(conn)
        .await
        .map_err(db_error)?;
    Ok(waiting.and_then(|call| call.approval_expires_at))
}

/// Whether a call of the reply waits for approval.
#[orbit_macros::boxed]
pub async fn awaits_approval(db: &Db, scope: AppScope, reply: Uuid) -> DomainResult<bool> {
    let waiting = agent_tool_call::Entity::find()
        .filter(agent_tool_call::Column::AppId.eq(scope.uuid()))
        .filter(agent_tool_call::Column::ReplyId.eq(reply))
        .filter(agent_tool_call::Column::Status.eq(CallStatus::AwaitingApproval.as_str()))
        .count(db.conn())
        .await
        .map_err(db_error)?;
    Ok(waiting > 0)
}

/// The calls of a reply of `scope`'s app, in the order the model asked
/// for them.
#[orbit_macros::boxed]
pub async fn of_reply(
    db: &Db,
    scope: AppScope,
    reply: Uuid,
) -> DomainResult<Vec<agent_tool_call::Model>> {
    agent_tool_call::Entity::find()
        .filter(agent_tool_call::Column::AppId.eq(scope.uuid()))
        .filter(agent_tool_call::Column::ReplyId.eq(reply))
        .order_by_asc(agent_tool_call::Column::Step)
        .order_by_asc(agent_tool_call::Column::Position)
        .all(db.conn())
        .await
        .map_err(db_error)
}
