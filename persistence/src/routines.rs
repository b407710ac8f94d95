//! Routines: an agent's trigger and action, their lifecycle (draft, active,
//! paused, completed), when they fire next, and firing.
//!
//! Firing is one transaction per routine: a compare-and-set moves
//! `next_run_at` from the tick being fired to the next tick after *now*
//! (so a routine that missed ticks while no process ran fires once for all
//! of them), and inserts the run, unique per routine and tick. Of two
//! processes that find the same due routine, one changes the row and fires;
//! the other changes nothing.

use chrono::{DateTime, Utc};
use orbit_domain::entities::{routine, routine_run};
use orbit_domain::ids::{AgentId, AppId, AppScope, RoutineId};
use orbit_domain::routines::{Action, RoutineStatus, Trigger, whole_seconds};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::Value;

use crate::error::is_unique_violation;
use crate::reaction::declare_interest;
use crate::{Db, Page, PageArgs, db_error, keyset, routine_runs};

pub struct NewRoutine {
    pub agent: AgentId,
    pub name: String,
    pub trigger: Trigger,
    pub action: Action,
    pub timeout_secs: i32,
}

/// What an update changes; `None` keeps the value.
#[derive(Default)]
pub struct RoutineChanges {
    pub name: Option<String>,
    pub trigger: Option<Trigger>,
    pub action: Option<Action>,
    pub timeout_secs: Option<i32>,
}

fn to_json<T: serde::Serialize>(value: &T) -> DomainResult<Value> {
    serde_json::to_value(value).map_err(DomainError::internal)
}

/// The routine's trigger, as stored.
pub fn trigger_of(routine: &routine::Model) -> DomainResult<Trigger> {
    serde_json::from_value(routine.trigger.clone()).map_err(DomainError::internal)
}

/// The routine's action, as stored.
pub fn action_of(routine: &routine::Model) -> DomainResult<Action> {
    Action::from_stored(&routine.action)
}

/// Routines with an event trigger react to the app's events of its type:
/// said before the routine is saved, so no event after it is missed.
async fn declare_trigger_interest(db: &Db, scope: AppScope, trigger: &Trigger) -> DomainResult<()> {
    if let Some(event_type) = trigger.event_type() {
        declare_interest(
            db.conn(),
            scope,
            [event_type],
            routine_runs::TRIGGER_REACTION,
        )
        .await?;
    }
    Ok(())
}

pub fn status_of(routine: &routine::Model) -> DomainResult<RoutineStatus> {
    routine.status.parse()
}

/// Sets the trigger and the columns derived from it.
fn set_trigger(active: &mut routine::ActiveModel, trigger: &Trigger) -> DomainResult<()> {
    active.trigger = Set(to_json(trigger)?);
    active.trigger_kind = Set(trigger.kind().to_owned());
    let (event_type, team, thread) = match trigger {
        Trigger::Event {
            team_id, thread_id, ..
        } => (
            trigger.event_type().map(|t| t.as_str().to_owned()),
            team_id.map(|t| t.uuid()),
            thread_id.map(|t| t.uuid()),
        ),
        _ => (None, None, None),
    };
    active.event_type = Set(event_type);
    active.event_team_id = Set(team);
    active.event_thread_id = Set(thread);
    Ok(())
}

/// Makes the routine fire from `now` on: its interval ticks count from
/// here, and its next run is the trigger's first tick after now. CONFLICT
/// when the trigger will never fire again (a `once` whose time has passed).
fn schedule_from(
    active: &mut routine::ActiveModel,
    trigger: &Trigger,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let anchor = whole_seconds(now);
    let next = trigger.next_after(anchor, now);
    if next.is_none() && !matches!(trigger, Trigger::Event { .. }) {
        return Err(DomainError::conflict(
            "the routine's trigger will not fire again: give it a new trigger first",
        )
        .with_field("id"));
    }
    active.status = Set(RoutineStatus::Active.as_str().to_owned());
    active.anchor_at = Set(Some(anchor));
    active.next_run_at = Set(next);
    Ok(())
}

/// Creates a routine as a draft: nothing fires until it is activated.
#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new: NewRoutine,
) -> DomainResult<routine::Model> {
    let mut active = routine::ActiveModel {
        id: Set(RoutineId::generate().uuid()),
        app_id: Set(scope.uuid()),
        agent_id: Set(new.agent.uuid()),
        name: Set(new.name),
        status: Set(RoutineStatus::Draft.as_str().to_owned()),
        action: Set(to_json(&new.action)?),
        timeout_secs: Set(new.timeout_secs),
        anchor_at: Set(None),
        next_run_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    set_trigger(&mut active, &new.trigger)?;
    declare_trigger_interest(db, scope, &new.trigger).await?;
    active.insert(db.conn()).await.map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: RoutineId) -> DomainResult<Option<routine::Model>> {
    routine::Entity::find_by_id(id.uuid())
        .filter(routine::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// The app's routines (or one agent's), oldest first.
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    agent: Option<AgentId>,
    args: PageArgs,
) -> DomainResult<Page<routine::Model>> {
    let select = routine::Entity::find().filter(routine::Column::AppId.eq(scope.uuid()));
    let (select, leading) = match agent {
        Some(agent) => (
            select.filter(routine::Column::AgentId.eq(agent.uuid())),
            routine::Column::AgentId,
        ),
        None => (select, routine::Column::AppId),
    };
    keyset::page(
        db.conn(),
        select,
        Some(leading),
        routine::Column::Id,
        false,
        args,
    )
    .await
}

/// Changes `existing` (a routine the caller found in its app). An active
/// routine whose trigger changes is scheduled again from now.
#[orbit_macros::boxed]
pub async fn update(
    db: &Db,
    existing: routine::Model,
    now: DateTime<Utc>,
    changes: RoutineChanges,
) -> DomainResult<routine::Model> {
    let is_active = status_of(&existing)? == RoutineStatus::Active;
    let scope = AppScope::new(AppId(existing.app_id));
    let mut active: routine::ActiveModel = existing.into();
    if let Some(name) = changes.name {
        active.name = Set(name);
    }
    if let Some(trigger) = &changes.trigger {
        set_trigger(&mut active, trigger)?;
        declare_trigger_interest(db, scope, trigger).await?;
        if is_active {
            schedule_from(&mut active, trigger, now)?;
        }
    }
    if let Some(action) = &changes.action {
        active.action = Set(to_json(action)?);
    }
    if let Some(timeout) = changes.timeout_secs {
        active.timeout_secs = Set(timeout);
    }
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(db_error)
}

/// Activates a draft, paused or completed routine: it fires from the
/// trigger's first tick after `now`. An active one is returned as it is.
#[orbit_macros::boxed]
pub async fn activate(
    db: &Db,
    existing: routine::Model,
    now: DateTime<Utc>,
) -> DomainResult<routine::Model> {
    if status_of(&existing)? == RoutineStatus::Active {
        return Ok(existing);
    }
    let trigger = trigger_of(&existing)?;
    let mut active: routine::ActiveModel = existing.into();
    schedule_from(&mut active, &trigger, now)?;
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(db_error)
}

/// Pauses an active routine: nothing fires until it is activated again (a
/// run in progress finishes). A paused one is returned as it is.
#[orbit_macros::boxed]
pub async fn pause(
    db: &Db,
    existing: routine::Model,
    now: DateTime<Utc>,
) -> DomainResult<routine::Model> {
    match status_of(&existing)? {
        RoutineStatus::Paused => return Ok(existing),
        RoutineStatus::Active => {}
        RoutineStatus::Draft | RoutineStatus::Completed => {
            return Err(
                DomainError::conflict("only an active routine can be paused").with_field("id"),
            );
        }
    }
    let mut active: routine::ActiveModel = existing.into();
    active.status = Set(RoutineStatus::Paused.as_str().to_owned());
    active.next_run_at = Set(None);
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(db_error)
}

/// Deletes the routine with its runs; queued runs never happen.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: RoutineId) -> DomainResult<()> {
    let deleted = routine::Entity::delete_many()
        .filter(routine::Column::AppId.eq(scope.uuid()))
        .filter(routine::Column::Id.eq(id.uuid()))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("routine").with_field("id"));
    }
    Ok(())
}

/// Active routines whose next run is due at `now`, of every app, the most
/// overdue first: the scheduler's unscoped entry, like a claim (each
/// routine names its app, and firing is scoped to it).
#[orbit_macros::boxed]
pub async fn due(db: &Db, now: DateTime<Utc>, limit: u64) -> DomainResult<Vec<routine::Model>> {
    routine::Entity::find()
        .filter(routine::Column::Status.eq(RoutineStatus::Active.as_str()))
        .filter(routine::Column::NextRunAt.lte(now))
        .order_by_asc(routine::Column::NextRunAt)
        .limit(limit)
        .all(db.conn())
        .await
        .map_err(db_error)
}

/// Fires `routine` (found due at `now`) for its tick `next_run_at`: moves
/// `next_run_at` to the trigger's first tick after `now` (a `once` routine
/// completes) and queues the run, in one transaction, only if the routine
/// is still active and still due at that tick. `None`: another process
/// fired it first, or it was changed meanwhile.
#[orbit_macros::boxed]
pub async fn fire(
    db: &Db,
    routine: &routine::Model,
    now: DateTime<Utc>,
) -> DomainResult<Option<routine_run::Model>> {
    let Some(tick) = routine.next_run_at else {
        return Ok(None);
    };
    let trigger = trigger_of(routine)?;
    let anchor = routine.anchor_at.unwrap_or(tick);
    let next = trigger.next_after(anchor, now);
    let status = if trigger.fires_once() {
        RoutineStatus::Completed
    } else {
        RoutineStatus::Active
    };
    let scope = AppScope::new(routine.app_id.into());
    let txn = db.conn().begin().await.map_err(db_error)?;
    let moved = move_tick(&txn, routine, tick, next, status).await?;
    if !moved {
        return Ok(None);
    }
    match routine_runs::insert_scheduled(&txn, scope, routine, tick, now).await {
        Ok(run) => {
            db.commit(txn).await?;
            Ok(Some(run))
        }
        // The tick was fired before (the clock went back): move on without
        // a second run for it.
        Err(error) if is_unique_violation(&error) => {
            drop(txn);
            tracing::warn!(routine = %RoutineId(routine.id), %tick, "a tick fired twice; skipped");
            move_tick(db.conn(), routine, tick, next, status).await?;
            Ok(None)
        }
        Err(error) => Err(db_error(error)),
    }
}

/// The compare-and-set of [`fire`]: `true` when this caller moved the tick.
async fn move_tick<C: sea_orm::ConnectionTrait>(
    conn: &C,
    routine: &routine::Model,
    tick: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    status: RoutineStatus,
) -> DomainResult<bool> {
    let moved = routine::Entity::update_many()
        .col_expr(routine::Column::NextRunAt, Expr::value(next))
        .col_expr(routine::Column::Status, Expr::value(status.as_str()))
        .filter(routine::Column::Id.eq(routine.id))
        .filter(routine::Column::Status.eq(RoutineStatus::Active.as_str()))
        .filter(routine::Column::NextRunAt.eq(tick))
        .exec(conn)
        .await
        .map_err(db_error)?;
    Ok(moved.rows_affected == 1)
}
