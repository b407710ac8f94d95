//! An app's agents, and the threads they take part in.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbit_domain::agents::{AgentStatus, ReplyMode};
use orbit_domain::entities::{agent, thread_agent};
use orbit_domain::events::{Event, EventType, Participation};
use orbit_domain::ids::{AgentId, AppScope, ModelProviderId, ThreadId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::reaction::declare_interest;
use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, agent_replies, db_error, keyset};

fn handle_taken(error: DbErr) -> DomainError {
    if is_unique_violation(&error) {
        DomainError::conflict("another agent of the app has this handle").with_field("handle")
    } else {
        db_error(error)
    }
}

/// The model an agent speaks through.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    pub provider: ModelProviderId,
    pub model: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
}

pub struct NewAgent {
    pub name: String,
    pub handle: String,
    pub instructions: String,
    pub model: ModelSettings,
    pub reply_mode: ReplyMode,
    pub status: AgentStatus,
    /// The most model turns a reply may take.
    pub max_steps: i32,
}

/// What an update changes; `None` keeps the value.
#[derive(Default)]
pub struct AgentChanges {
    pub name: Option<String>,
    pub handle: Option<String>,
    pub instructions: Option<String>,
    pub model: Option<ModelSettings>,
    pub reply_mode: Option<ReplyMode>,
    pub status: Option<AgentStatus>,
    pub max_steps: Option<i32>,
}

fn set_model(active: &mut agent::ActiveModel, model: ModelSettings) {
    active.provider_id = Set(model.provider.uuid());
    active.model = Set(model.model);
    active.temperature = Set(model.temperature);
    active.max_tokens = Set(model.max_tokens);
}

#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new: NewAgent,
) -> DomainResult<agent::Model> {
    let mut active = agent::ActiveModel {
        id: Set(AgentId::generate().uuid()),
        app_id: Set(scope.uuid()),
        name: Set(new.name),
        handle: Set(new.handle),
        instructions: Set(new.instructions),
        reply_mode: Set(new.reply_mode.as_str().to_owned()),
        status: Set(new.status.as_str().to_owned()),
        max_steps: Set(new.max_steps),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    set_model(&mut active, new.model);
    active.insert(db.conn()).await.map_err(handle_taken)
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: AgentId) -> DomainResult<Option<agent::Model>> {
    agent::Entity::find_by_id(id.uuid())
        .filter(agent::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find_many(db: &Db, scope: AppScope, ids: &[Uuid]) -> DomainResult<Vec<agent::Model>> {
    agent::Entity::find()
        .filter(agent::Column::AppId.eq(scope.uuid()))
        .filter(agent::Column::Id.is_in(ids.iter().copied()))
        .all(db.conn())
        .await
        .map_err(db_error)
}

/// Changes `existing` (an agent the caller found in its app).
#[orbit_macros::boxed]
pub async fn update(
    db: &Db,
    existing: agent::Model,
    now: DateTime<Utc>,
    changes: AgentChanges,
) -> DomainResult<agent::Model> {
    let mut active: agent::ActiveModel = existing.into();
    if let Some(name) = changes.name {
        active.name = Set(name);
    }
    if let Some(handle) = changes.handle {
        active.handle = Set(handle);
    }
    if let Some(instructions) = changes.instructions {
        active.instructions = Set(instructions);
    }
    if let Some(model) = changes.model {
        set_model(&mut active, model);
    }
    if let Some(mode) = changes.reply_mode {
        active.reply_mode = Set(mode.as_str().to_owned());
    }
    if let Some(status) = changes.status {
        active.status = Set(status.as_str().to_owned());
    }
    if let Some(steps) = changes.max_steps {
        active.max_steps = Set(steps);
    }
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(handle_taken)
}

/// Deletes the agent, its place in threads and the replies it still owed.
/// The messages it wrote stay, without an author.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: AgentId) -> DomainResult<()> {
    let deleted = agent::Entity::delete_many()
        .filter(agent::Column::AppId.eq(scope.uuid()))
        .filter(agent::Column::Id.eq(id.uuid()))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("agent").with_field("id"));
    }
    Ok(())
}

/// The app's agents, oldest first.
#[orbit_macros::boxed]
pub async fn list(db: &Db, scope: AppScope, args: PageArgs) -> DomainResult<Page<agent::Model>> {
    let select = agent::Entity::find().filter(agent::Column::AppId.eq(scope.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(agent::Column::AppId),
        agent::Column::Id,
        false,
        args,
    )
    .await
}

fn participant_event(thread: ThreadId, agent: AgentId, kind: fn(Participation) -> Event) -> Event {
    kind(Participation {
        thread_id: thread,
        user_id: None,
        agent_id: Some(agent),
    })
}

/// Adds an agent to a thread: from now on the thread's messages may ask it
/// for replies. CONFLICT when it is there already.
#[orbit_macros::boxed]
pub async fn add_to_thread(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    agent: AgentId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    thread_agent::ActiveModel {
        thread_id: Set(thread.uuid()),
        agent_id: Set(agent.uuid()),
        app_id: Set(scope.uuid()),
        added_at: Set(now),
    }
    .insert(txn)
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            DomainError::conflict("already a participant of this thread").with_field("agentId")
        } else {
            db_error(error)
        }
    })?;
    // From now on the app's messages may ask an agent for a reply.
    declare_interest(
        txn,
        scope,
        [EventType::MessageCreated],
        agent_replies::REACTION,
    )
    .await?;
    change.emit(participant_event(thread, agent, Event::ParticipantAdded));
    change.commit().await
}

/// Takes an agent out of a thread. Replies it already owes still come.
#[orbit_macros::boxed]
pub async fn remove_from_thread(
    db: &Db,
    scope: AppScope,
    thread: ThreadId,
    agent: AgentId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let removed = thread_agent::Entity::delete_many()
        .filter(thread_agent::Column::AppId.eq(scope.uuid()))
        .filter(thread_agent::Column::ThreadId.eq(thread.uuid()))
        .filter(thread_agent::Column::AgentId.eq(agent.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if removed.rows_affected == 0 {
        return Err(DomainError::not_found("participant").with_field("agentId"));
    }
    change.emit(participant_event(thread, agent, Event::ParticipantRemoved));
    change.commit().await
}

/// The agents taking part in each of `threads`, in the order they joined.
#[orbit_macros::boxed]
pub async fn in_threads(
    db: &Db,
    scope: AppScope,
    threads: &[Uuid],
) -> DomainResult<HashMap<Uuid, Vec<thread_agent::Model>>> {
    let rows = thread_agent::Entity::find()
        .filter(thread_agent::Column::AppId.eq(scope.uuid()))
        .filter(thread_agent::Column::ThreadId.is_in(threads.iter().copied()))
        .order_by_asc(thread_agent::Column::AddedAt)
        .order_by_asc(thread_agent::Column::AgentId)
        .all(db.conn())
        .await
        .map_err(db_error)?;
    let mut grouped: HashMap<Uuid, Vec<thread_agent::Model>> = HashMap::new();
    for row in rows {
        grouped.entry(row.thread_id).or_default().push(row);
    }
    Ok(grouped)
}
