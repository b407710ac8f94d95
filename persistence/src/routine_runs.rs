//! Routine runs: a queue worked under a lease ([`crate::leases`]), like
//! agents' replies. A run is queued when its routine fires
//! ([`crate::routines::fire`]), when someone asks ([`request`]), or in the
//! transaction of a committed event its routine's trigger matches
//! ([`queue_for_events`]); one process at a time runs it, and it ends once:
//! every ending writes the run's result, its `routine_run.*` event and the
//! end of the lease in one transaction, and only while the process still
//! holds the lease.
//!
//! A `promptAgent` run hands its work to the agent's reply queue
//! ([`hand_to_agent`]) and ends in the transaction that ends the reply
//! ([`reply_ended`]), or when its timeout passes first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbit_domain::agents::{MessageStatus, ReplyStatus};
use orbit_domain::entities::{routine, routine_run, thread};
use orbit_domain::events::{Event, EventType, ReplyEnded, RunSnapshot};
use orbit_domain::ids::{
    AgentId, AppId, AppScope, MessageId, RoutineId, RoutineRunId, TeamId, ThreadId,
};
use orbit_domain::routines::{
    Action, MAX_ERROR_CHARS, MAX_OUTPUT_CHARS, ROUTINE_TRIGGER_TYPES, RunCause, RunStatus, bounded,
    caused_by_agent,
};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::LockType;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect, SqlErr,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::messages::{AgentMessage, created_event, insert_agent_message};
use crate::queues::Queue;
use crate::reaction::{Happened, InChange, declare_interest};
use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, agent_replies, db_error, keyset, leases};

/// The reaction that queues runs of routines whose event trigger a change
/// matches.
pub const TRIGGER_REACTION: &str = "routines";
/// The reaction that ends a run when the agent's reply it waits for ends.
pub const REPLY_REACTION: &str = "routine_replies";

/// The queue's table, for [`leases`].
pub const TABLE: &str = Queue::RoutineRuns.as_str();

fn new_run(
    scope: AppScope,
    routine: &routine::Model,
    cause: RunCause,
    now: DateTime<Utc>,
) -> DomainResult<routine_run::ActiveModel> {
    let thread = Action::from_stored(&routine.action)?.thread();
    Ok(routine_run::ActiveModel {
        id: Set(RoutineRunId::generate().uuid()),
        app_id: Set(scope.uuid()),
        routine_id: Set(routine.id),
        cause: Set(cause.as_str().to_owned()),
        status: Set(RunStatus::Queued.as_str().to_owned()),
        due_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        attempts: Set(0),
        scheduled_for: Set(None),
        idempotency_key: Set(None),
        event_id: Set(None),
        event: Set(None),
        thread_id: Set(thread.map(ThreadId::uuid)),
        reply_id: Set(None),
        message_id: Set(None),
        http_status: Set(None),
        output: Set(None),
        error: Set(None),
        started_at: Set(None),
        finished_at: Set(None),
        created_at: Set(now),
    })
}

/// The run of a routine's tick, in the transaction that moved the tick.
/// The database error is returned as is, so the caller can tell a tick
/// already fired (a unique violation).
pub(crate) async fn insert_scheduled<C: ConnectionTrait>(
    txn: &C,
    scope: AppScope,
    routine: &routine::Model,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<routine_run::Model, DbErr> {
    let mut run = new_run(scope, routine, RunCause::Schedule, now)
        .map_err(|error| DbErr::Custom(error.message))?;
    run.scheduled_for = Set(Some(tick));
    run.insert(txn).await
}

/// A run asked for now (`runRoutine`). With a key, a retry returns the
/// first run and writes nothing; a key already used for another routine of
/// the app is CONFLICT.
#[orbit_macros::boxed]
pub async fn request(
    db: &Db,
    scope: AppScope,
    routine: &routine::Model,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> DomainResult<routine_run::Model> {
    let replay = |existing: routine_run::Model| {
        if existing.routine_id == routine.id {
            Ok(existing)
        } else {
            Err(
                DomainError::conflict("this idempotencyKey was used to run another routine")
                    .with_field("idempotencyKey"),
            )
        }
    };
    if let Some(key) = &idempotency_key
        && let Some(existing) = find_by_key(db, scope, key).await?
    {
        return replay(existing);
    }
    let mut run = new_run(scope, routine, RunCause::Manual, now)?;
    run.idempotency_key = Set(idempotency_key.clone());
    match run.insert(db.conn()).await {
        Ok(run) => Ok(run),
        // A concurrent retry won the race between the lookup and the insert.
        Err(error) if is_unique_violation(&error) => {
            let key = idempotency_key.as_deref().unwrap_or_default();
            let existing = find_by_key(db, scope, key)
                .await?
                .ok_or_else(|| DomainError::internal("an idempotent run vanished"))?;
            replay(existing)
        }
        // The routine was deleted meanwhile.
        Err(error)
            if matches!(
                error.sql_err(),
                Some(SqlErr::ForeignKeyConstraintViolation(_))
            ) =>
        {
            Err(DomainError::not_found("routine").with_field("id"))
        }
        Err(error) => Err(db_error(error)),
    }
}

async fn find_by_key(
    db: &Db,
    scope: AppScope,
    key: &str,
) -> DomainResult<Option<routine_run::Model>> {
    routine_run::Entity::find()
        .filter(routine_run::Column::AppId.eq(scope.uuid()))
        .filter(routine_run::Column::IdempotencyKey.eq(key))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Queues, in the transaction of `changes`, one run of each active routine
/// whose event trigger matches one of them: its type, and its team and
/// thread when the trigger names them. Changes agents made (their
/// messages, which routines post) start no routine. Returns how many runs
/// were queued.
pub(crate) async fn queue_for_events(
    change: &dyn InChange,
    happened: &[Happened],
) -> DomainResult<usize> {
    let (txn, scope, now) = (change.txn(), change.scope(), change.now());
    let candidates: Vec<TriggerCandidate> = happened
        .iter()
        .filter(|happened| ROUTINE_TRIGGER_TYPES.contains(&happened.event_type()))
        .map(|happened| TriggerCandidate {
            event_id: happened.event_id,
            event_type: happened.event_type(),
            data: happened.event.payload(),
        })
        .filter(|candidate| !caused_by_agent(&candidate.data))
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let types: Vec<&str> = candidates.iter().map(|c| c.event_type.as_str()).collect();
    let mut matching = routine::Entity::find()
        .filter(routine::Column::AppId.eq(scope.uuid()))
        .filter(routine::Column::EventType.is_in(types))
        .filter(routine::Column::Status.eq(orbit_domain::routines::RoutineStatus::Active.as_str()));
    if txn.get_database_backend() == DbBackend::Postgres {
        // A routine deleted at this moment waits for this change (and takes
        // its new run with it) instead of failing the change on the run's
        // foreign key. SQLite has one writer anyway.
        matching = matching.lock(LockType::KeyShare);
    }
    let routines = matching.all(txn).await.map_err(db_error)?;
    if routines.is_empty() {
        return Ok(0);
    }
    let mut teams_of_threads: HashMap<Uuid, Option<Uuid>> = HashMap::new();
    let mut queued = 0;
    for change in &candidates {
        let id_in = |key: &str| change.data.get(key).and_then(Value::as_str);
        let thread = id_in("threadId").and_then(|t| t.parse::<ThreadId>().ok());
        let mut team = id_in("teamId").and_then(|t| t.parse::<TeamId>().ok());
        for routine in routines
            .iter()
            .filter(|r| r.event_type.as_deref() == Some(change.event_type.as_str()))
        {
            if routine
                .event_thread_id
                .is_some_and(|want| thread.map(ThreadId::uuid) != Some(want))
            {
                continue;
            }
            if let Some(want) = routine.event_team_id {
                // Message and participant events name their thread, whose team it is.
                if team.is_none()
                    && let Some(thread) = thread
                {
                    team = match teams_of_threads.get(&thread.uuid()) {
                        Some(known) => known.map(TeamId),
                        None => {
                            let found = thread::Entity::find_by_id(thread.uuid())
                                .filter(thread::Column::AppId.eq(scope.uuid()))
                                .one(txn)
                                .await
                                .map_err(db_error)?
                                .and_then(|t| t.team_id);
                            teams_of_threads.insert(thread.uuid(), found);
                            found.map(TeamId)
                        }
                    };
                }
                if team.map(TeamId::uuid) != Some(want) {
                    continue;
                }
            }
            let mut run = new_run(scope, routine, RunCause::Event, now)?;
            run.event_id = Set(Some(change.event_id));
            run.event = Set(Some(json!({
                "type": change.event_type.as_str(),
                "data": change.data,
            })));
            run.insert(txn).await.map_err(db_error)?;
            queued += 1;
        }
    }
    if queued > 0 {
        change.queued(Queue::RoutineRuns);
    }
    Ok(queued)
}

/// A change a routine's event trigger may match.
struct TriggerCandidate {
    event_id: Uuid,
    event_type: EventType,
    data: Value,
}

#[orbit_macros::boxed]
pub async fn find(
    db: &Db,
    scope: AppScope,
    id: RoutineRunId,
) -> DomainResult<Option<routine_run::Model>> {
    routine_run::Entity::find_by_id(id.uuid())
        .filter(routine_run::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// A routine's runs, newest first.
#[orbit_macros::boxed]
pub async fn list_for_routine(
    db: &Db,
    scope: AppScope,
    routine: RoutineId,
    args: PageArgs,
) -> DomainResult<Page<routine_run::Model>> {
    let select = routine_run::Entity::find()
        .filter(routine_run::Column::AppId.eq(scope.uuid()))
        .filter(routine_run::Column::RoutineId.eq(routine.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(routine_run::Column::RoutineId),
        routine_run::Column::Id,
        true,
        args,
    )
    .await
}

/// Claims up to `limit` due runs for `owner` (see [`leases::claim`]): queued
/// ones, and running ones whose lease ended (their process died, or the
/// reply they wait for is past its timeout).
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

/// A run this process claimed: the row names its app.
#[orbit_macros::boxed]
pub async fn claimed(db: &Db, id: Uuid) -> DomainResult<Option<routine_run::Model>> {
    routine_run::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// The run's event, as the run and its routine stand. Its topics are the
/// thread's, for a routine that writes into a thread, and the app
/// builders'.
fn run_event(
    kind: fn(RunSnapshot) -> Event,
    run: &routine_run::Model,
    routine: &routine::Model,
) -> Event {
    kind(RunSnapshot {
        run_id: RoutineRunId(run.id),
        routine_id: RoutineId(routine.id),
        routine_name: Some(routine.name.clone()),
        agent_id: AgentId(routine.agent_id),
        thread_id: run.thread_id.map(ThreadId),
        cause: run.cause.clone(),
        status: run.status.clone(),
        attempt: run.attempts,
        scheduled_for: run.scheduled_for,
        started_at: run.started_at,
        finished_at: run.finished_at,
        output: run.output.clone(),
        error: run.error.clone(),
        http_status: run.http_status,
        message_id: run.message_id.map(MessageId),
    })
}

/// Held by `owner` and running: the condition of every change the lease
/// holder makes.
fn held(id: Uuid, owner: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(routine_run::Column::Id.eq(id))
        .add(routine_run::Column::Status.eq(RunStatus::Running.as_str()))
        .add(routine_run::Column::LeaseOwner.eq(owner))
}

/// Starts a run `owner` claimed: records when it started (the first
/// attempt's time is kept), holds it until `lease_until`, and announces
/// `routine_run.started`. Returns the run as started; `None` when the lease
/// was lost.
#[orbit_macros::boxed]
pub async fn start(
    db: &Db,
    run: &routine_run::Model,
    routine: &routine::Model,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> DomainResult<Option<routine_run::Model>> {
    let started_at = run.started_at.unwrap_or(now);
    let scope = AppScope::new(AppId(run.app_id));
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let updated = routine_run::Entity::update_many()
        .col_expr(routine_run::Column::StartedAt, Expr::value(started_at))
        .col_expr(routine_run::Column::LeaseUntil, Expr::value(lease_until))
        .filter(held(run.id, owner))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    let started = routine_run::Model {
        started_at: Some(started_at),
        lease_until: Some(lease_until),
        ..run.clone()
    };
    change.emit(run_event(Event::RoutineRunStarted, &started, routine));
    change.commit().await?;
    Ok(Some(started))
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub succeeded: bool,
    pub output: Option<String>,
    pub error: Option<String>,
    pub http_status: Option<i32>,
    pub message_id: Option<Uuid>,
}

impl Outcome {
    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            ..Self::default()
        }
    }
}

/// The run's final columns, in one statement: a second update of the row
/// in the same transaction would make Postgres check its foreign key again
/// and wait on a concurrent deletion of the routine.
fn ended(run: &routine_run::Model, outcome: Outcome, now: DateTime<Utc>) -> routine_run::Model {
    let status = if outcome.succeeded {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    routine_run::Model {
        status: status.as_str().to_owned(),
        lease_owner: None,
        lease_until: None,
        output: outcome.output.map(|o| bounded(&o, MAX_OUTPUT_CHARS)),
        error: outcome.error.map(|e| bounded(&e, MAX_ERROR_CHARS)),
        http_status: outcome.http_status,
        message_id: outcome.message_id.or(run.message_id),
        started_at: run.started_at.or(Some(now)),
        finished_at: Some(now),
        ..run.clone()
    }
}

async fn write_end<C: ConnectionTrait>(
    txn: &C,
    end: &routine_run::Model,
    condition: sea_orm::Condition,
) -> DomainResult<bool> {
    let nothing = || SimpleExpr::Keyword(sea_orm::sea_query::Keyword::Null);
    let updated = routine_run::Entity::update_many()
        .col_expr(routine_run::Column::Status, Expr::value(end.status.clone()))
        .col_expr(routine_run::Column::LeaseOwner, nothing())
        .col_expr(routine_run::Column::LeaseUntil, nothing())
        .col_expr(routine_run::Column::Output, Expr::value(end.output.clone()))
        .col_expr(routine_run::Column::Error, Expr::value(end.error.clone()))
        .col_expr(
            routine_run::Column::HttpStatus,
            Expr::value(end.http_status),
        )
        .col_expr(routine_run::Column::MessageId, Expr::value(end.message_id))
        .col_expr(routine_run::Column::StartedAt, Expr::value(end.started_at))
        .col_expr(
            routine_run::Column::FinishedAt,
            Expr::value(end.finished_at),
        )
        .filter(condition)
        .exec(txn)
        .await
        .map_err(db_error)?;
    Ok(updated.rows_affected == 1)
}

fn end_event(end: &routine_run::Model) -> fn(RunSnapshot) -> Event {
    if end.status == RunStatus::Succeeded.as_str() {
        Event::RoutineRunSucceeded
    } else {
        Event::RoutineRunFailed
    }
}

/// Ends a run `owner` holds with `outcome` and its event, in one
/// transaction. `false`: the lease was lost and nothing was written.
#[orbit_macros::boxed]
pub async fn finish(
    db: &Db,
    run: &routine_run::Model,
    routine: &routine::Model,
    owner: &str,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let end = ended(run, outcome, now);
    let scope = AppScope::new(AppId(run.app_id));
    let change = Change::begin(db, scope, now).await?;
    if !write_end(change.txn(), &end, held(run.id, owner)).await? {
        return Ok(false);
    }
    change.emit(run_event(end_event(&end), &end, routine));
    change.commit().await?;
    Ok(true)
}

/// Fails the run when the thread its action writes into no longer exists:
/// `Some` with whether it was ended (`false`: the lease was lost), `None`
/// when the thread is there. Looked at before the action's transaction,
/// which must write first (SQLite cannot turn a reader into a writer while
/// another process writes); a thread deleted in between fails the action's
/// insert, and the run, retried after its lease, fails here.
async fn fail_without_thread(
    db: &Db,
    run: &routine_run::Model,
    routine: &routine::Model,
    owner: &str,
    thread: ThreadId,
    now: DateTime<Utc>,
) -> DomainResult<Option<bool>> {
    let exists = thread::Entity::find_by_id(thread.uuid())
        .filter(thread::Column::AppId.eq(run.app_id))
        .one(db.conn())
        .await
        .map_err(db_error)?
        .is_some();
    if exists {
        return Ok(None);
    }
    let gone =
        format!("the routine's thread {thread} no longer exists: give the routine another thread");
    let ended = finish(db, run, routine, owner, Outcome::failed(gone), now).await?;
    Ok(Some(ended))
}

/// The `postMessage` action: the agent's message, its `message.created`
/// and the run's end, in one transaction (so a retried run never posts
/// twice). `false`: the lease was lost and nothing was written.
#[orbit_macros::boxed]
pub async fn post_message(
    db: &Db,
    run: &routine_run::Model,
    routine: &routine::Model,
    owner: &str,
    thread: ThreadId,
    content: &str,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    if let Some(ended) = fail_without_thread(db, run, routine, owner, thread, now).await? {
        return Ok(ended);
    }
    let scope = AppScope::new(AppId(run.app_id));
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let message_id = MessageId::generate();
    let outcome = Outcome {
        succeeded: true,
        output: Some(content.to_owned()),
        message_id: Some(message_id.uuid()),
        ..Outcome::default()
    };
    let end = ended(run, outcome, now);
    if !write_end(txn, &end, held(run.id, owner)).await? {
        return Ok(false);
    }
    let message = AgentMessage {
        id: message_id,
        thread,
        agent: AgentId(routine.agent_id),
        content: content.to_owned(),
        status: MessageStatus::Sent,
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
    };
    let message = insert_agent_message(txn, scope, message, now).await?;
    change.emit(created_event(&message));
    change.emit(run_event(end_event(&end), &end, routine));
    change.commit().await?;
    Ok(true)
}

/// The `promptAgent` action: queues the agent's reply to `prompt` in
/// `thread` and makes the run wait for it, holding its lease until
/// `deadline` (when, if the reply has not ended, the run is claimed again
/// and times out). Returns the reply's id; `None` when the lease was lost.
/// A thread that no longer exists fails the run instead.
#[allow(clippy::too_many_arguments)]
#[orbit_macros::boxed]
pub async fn hand_to_agent(
    db: &Db,
    run: &routine_run::Model,
    routine: &routine::Model,
    owner: &str,
    thread: ThreadId,
    prompt: &str,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DomainResult<Option<Uuid>> {
    if fail_without_thread(db, run, routine, owner, thread, now)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let scope = AppScope::new(AppId(run.app_id));
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let reply = agent_replies::enqueue_prompt(
        txn,
        scope,
        AgentId(routine.agent_id),
        thread,
        prompt.to_owned(),
        now,
    )
    .await?;
    let waiting = routine_run::Entity::update_many()
        .col_expr(routine_run::Column::ReplyId, Expr::value(reply.id))
        .col_expr(routine_run::Column::LeaseUntil, Expr::value(deadline))
        .filter(held(run.id, owner))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if waiting.rows_affected != 1 {
        return Ok(None);
    }
    // The run ends when the reply does: with its event, in its change.
    declare_interest(
        txn,
        scope,
        [EventType::AgentReplyCompleted, EventType::AgentReplyFailed],
        REPLY_REACTION,
    )
    .await?;
    change.queued(Queue::AgentReplies);
    change.commit().await?;
    Ok(Some(reply.id))
}

/// Ends the run waiting for the reply that `ended`, if one is, in the
/// change that ends the reply: it succeeds with the agent's answer, or
/// fails with the reply's error. A run that timed out first has ended
/// already.
pub(crate) async fn reply_ended(
    change: &dyn InChange,
    ended_reply: &ReplyEnded,
) -> DomainResult<()> {
    let txn = change.txn();
    let waiting = sea_orm::Condition::all()
        .add(routine_run::Column::AppId.eq(change.scope().uuid()))
        .add(routine_run::Column::ReplyId.eq(ended_reply.reply_id.uuid()))
        .add(routine_run::Column::Status.eq(RunStatus::Running.as_str()));
    let Some(run) = routine_run::Entity::find()
        .filter(waiting.clone())
        .one(txn)
        .await
        .map_err(db_error)?
    else {
        return Ok(());
    };
    let Some(routine) = routine::Entity::find_by_id(run.routine_id)
        .one(txn)
        .await
        .map_err(db_error)?
    else {
        return Ok(());
    };
    let message = ended_reply.message.as_ref();
    let answer = message.and_then(|m| m.content.clone());
    let message_id = message.map(|m| m.message_id.uuid());
    let status: ReplyStatus = ended_reply.status.parse()?;
    let outcome = match status {
        ReplyStatus::Completed => Outcome {
            succeeded: true,
            output: answer,
            message_id,
            ..Outcome::default()
        },
        ReplyStatus::Cancelled => Outcome {
            output: answer,
            message_id,
            ..Outcome::failed("the agent's reply was cancelled")
        },
        _ => Outcome {
            output: answer,
            message_id,
            ..Outcome::failed(format!(
                "the agent's reply failed: {}",
                ended_reply.error.as_deref().unwrap_or("no reason given")
            ))
        },
    };
    let end = ended(&run, outcome, change.now());
    if write_end(txn, &end, waiting).await? {
        change.emit(run_event(end_event(&end), &end, &routine));
    }
    Ok(())
}

/// Gives a run `owner` holds back to the queue, due at `due_at` (the server
/// is stopping). `false`: the lease was lost.
#[orbit_macros::boxed]
pub async fn requeue(db: &Db, id: Uuid, owner: &str, due_at: DateTime<Utc>) -> DomainResult<bool> {
    leases::requeue(db.conn(), TABLE, id, owner, due_at).await
}

/// The routine a claimed run belongs to (the run names its app).
#[orbit_macros::boxed]
pub async fn routine_of(db: &Db, run: &routine_run::Model) -> DomainResult<Option<routine::Model>> {
    routine::Entity::find_by_id(run.routine_id)
        .filter(routine::Column::AppId.eq(run.app_id))
        .one(db.conn())
        .await
        .map_err(db_error)
}
