//! The tool calls of agents' replies. A model turn's calls are recorded
//! before any of them runs, and each call's end is stored when it ends,
//! both only while the process writing holds the reply's lease. A process
//! that takes a reply over finds every call made so far, with its result,
//! and replays them to the model rather than calling again; a call it
//! finds still `running` (its process stopped mid-call) it calls again
//! with the same idempotency key (the call's row id), so the tool can tell
//! it is the same call.

use chrono::{DateTime, Utc};
use orbit_domain::entities::{agent_reply, agent_tool_call};
use orbit_domain::events::{Event, ToolCallStep};
use orbit_domain::ids::{AgentId, AgentReplyId, AppScope, MessageId, ThreadId, ToolId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use crate::agent_replies::TABLE as REPLIES;
use crate::unit_of_work::Change;
use crate::{Db, db_error, leases};

/// How a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Running,
    Completed,
    Failed,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Running => "running",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> DomainResult<Self> {
        match value {
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
        .map(|(position, call)| agent_tool_call::ActiveModel {
            id: Set(Uuid::now_v7()),
            app_id: Set(reply.app_id),
            reply_id: Set(reply.id),
            step: Set(step),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            call_id: Set(call.call_id),
            tool_id: Set(call.tool.map(ToolId::uuid)),
            tool_name: Set(call.tool_name),
            arguments: Set(call.arguments),
            status: Set(CallStatus::Running.as_str().to_owned()),
            result: Set(None),
            error: Set(None),
            started_at: Set(now),
            finished_at: Set(None),
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
            .map(|call| Event::AgentToolCallStarted(step_event(reply, call))),
    );
    change.commit().await?;
    Ok(Some(recorded))
}

/// Stores how `call` ended, while `owner` holds its reply. `false`: the
/// lease was lost and nothing was written.
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
    }
}

/// The calls of a reply of `scope`'s app, in the order the model asked
/// for them.
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
