//! The outbox: events are written in the transaction of the change they
//! record, so an event exists exactly when its change committed.

use chrono::{DateTime, Utc};
use orbit_domain::entities::event;
use orbit_domain::events::NewEvent;
use orbit_domain::ids::{AppScope, EventId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::{Db, db_error, routine_runs, webhooks};

/// Events not yet handed to the broker; the relay empties it.
const UNPUBLISHED: &str = "unpublished_events";

/// Appends `events` with the next sequence number of each one's topic. The
/// upsert on `topic_sequences` takes a row lock in Postgres, so concurrent
/// writers to one topic queue and the sequence has no gaps or repeats.
///
/// The same transaction queues the webhook deliveries of the change and
/// the runs of routines whose event trigger it matches, so a committed
/// change is never lost and a rolled-back one never sent or acted on.
/// Events of one call with the same type and payload are one change
/// written to several topics (`member.joined` on the team and on the
/// user): webhooks and routines get it once, under the first event's id.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    scope: AppScope,
    now: DateTime<Utc>,
    events: Vec<NewEvent>,
) -> DomainResult<()> {
    let mut changes: Vec<webhooks::Change> = Vec::new();
    for new_event in events {
        let topic = new_event.topic.key();
        let next = Query::insert()
            .into_table("topic_sequences")
            .columns(["topic", "last_seq"])
            .values_panic([topic.clone().into(), 1i64.into()])
            .on_conflict(
                OnConflict::column("topic")
                    .value(
                        "last_seq",
                        Expr::col(("topic_sequences", "last_seq")).add(1i64),
                    )
                    .to_owned(),
            )
            .returning_col("last_seq")
            .to_owned();
        let row = txn
            .query_one(&next)
            .await
            .map_err(db_error)?
            .ok_or_else(|| DomainError::internal("topic sequence upsert returned no row"))?;
        let seq: i64 = row.try_get("", "last_seq").map_err(db_error)?;
        let id = EventId::generate().uuid();
        let repeats_a_change = changes.iter().any(|change| {
            change.event_type == new_event.event_type && change.data == new_event.payload
        });
        if !repeats_a_change {
            changes.push(webhooks::Change {
                event_id: id,
                event_type: new_event.event_type,
                data: new_event.payload.clone(),
            });
        }
        event::Entity::insert(event::ActiveModel {
            id: Set(id),
            app_id: Set(scope.uuid()),
            topic: Set(topic),
            seq: Set(seq),
            event_type: Set(new_event.event_type.as_str().to_owned()),
            payload: Set(new_event.payload),
            occurred_at: Set(now),
        })
        .exec_without_returning(txn)
        .await
        .map_err(db_error)?;
        let unpublished = Query::insert()
            .into_table(UNPUBLISHED)
            .columns(["event_id"])
            .values_panic([id.into()])
            .to_owned();
        txn.execute(&unpublished).await.map_err(db_error)?;
    }
    webhooks::enqueue(txn, scope, now, &changes).await?;
    routine_runs::queue_for_events(txn, scope, now, &changes).await?;
    Ok(())
}

/// The oldest events still waiting for the relay, oldest first.
pub async fn unpublished(db: &Db, limit: u64) -> DomainResult<Vec<event::Model>> {
    let waiting = Query::select()
        .column("event_id")
        .from(UNPUBLISHED)
        .order_by("event_id", Order::Asc)
        .limit(limit)
        .to_owned();
    event::Entity::find()
        .filter(event::Column::Id.in_subquery(waiting))
        .order_by_asc(event::Column::Id)
        .all(db.conn())
        .await
        .map_err(db_error)
}

/// How many events wait for the relay (for `/metrics`).
pub async fn backlog(db: &Db) -> DomainResult<i64> {
    let count = Query::select()
        .expr_as(Expr::col("event_id").count(), "n")
        .from(UNPUBLISHED)
        .to_owned();
    let row = db.conn().query_one(&count).await.map_err(db_error)?;
    match row {
        Some(row) => row.try_get::<i64>("", "n").map_err(db_error),
        None => Ok(0),
    }
}

/// Forgets events the broker has taken.
pub async fn mark_published(db: &Db, ids: &[Uuid]) -> DomainResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let delete = Query::delete()
        .from_table(UNPUBLISHED)
        .and_where(Expr::col("event_id").is_in(ids.iter().copied()))
        .to_owned();
    db.conn().execute(&delete).await.map_err(db_error)?;
    Ok(())
}

/// A topic's events after `after_seq`, in order: what a resuming subscriber
/// missed, or what fills a gap in the live stream.
pub async fn since(
    db: &Db,
    scope: AppScope,
    topic: &str,
    after_seq: i64,
    limit: u64,
) -> DomainResult<Vec<event::Model>> {
    event::Entity::find()
        .filter(event::Column::Topic.eq(topic))
        .filter(event::Column::Seq.gt(after_seq))
        .filter(event::Column::AppId.eq(scope.uuid()))
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(db.conn())
        .await
        .map_err(db_error)
}

/// Where a topic stands: the last sequence written (0 before its first
/// event) and the first still kept (None when retention removed them all).
pub async fn position(db: &Db, topic: &str) -> DomainResult<TopicPosition> {
    let last = Query::select()
        .column("last_seq")
        .from("topic_sequences")
        .and_where(Expr::col("topic").eq(topic))
        .to_owned();
    let last_seq = match db.conn().query_one(&last).await.map_err(db_error)? {
        Some(row) => row.try_get::<i64>("", "last_seq").map_err(db_error)?,
        None => 0,
    };
    let first = event::Entity::find()
        .select_only()
        .column(event::Column::Seq)
        .filter(event::Column::Topic.eq(topic))
        .order_by_asc(event::Column::Seq)
        .limit(1)
        .into_tuple::<i64>()
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(TopicPosition {
        last_seq,
        first_kept_seq: first,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicPosition {
    pub last_seq: i64,
    pub first_kept_seq: Option<i64>,
}

impl TopicPosition {
    /// Whether every event after `after_seq` is still stored.
    pub fn can_resume_after(&self, after_seq: i64) -> bool {
        let first_needed = after_seq + 1;
        match self.first_kept_seq {
            Some(first) => first <= first_needed,
            None => first_needed > self.last_seq,
        }
    }
}

/// Deletes every event of the app (with its place in the relay's queue),
/// within the transaction that deletes the app.
pub async fn delete_app_events<C: ConnectionTrait>(txn: &C, scope: AppScope) -> DomainResult<()> {
    let its_events = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::AppId.eq(scope.uuid()))
        .into_query();
    let forget = Query::delete()
        .from_table(UNPUBLISHED)
        .and_where(Expr::col("event_id").in_subquery(its_events))
        .to_owned();
    txn.execute(&forget).await.map_err(db_error)?;
    event::Entity::delete_many()
        .filter(event::Column::AppId.eq(scope.uuid()))
        .exec(txn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Deletes events that occurred before `before` (published or not: an event
/// that old is past any subscriber's resume window). Returns how many went.
pub async fn prune(db: &Db, before: DateTime<Utc>) -> DomainResult<u64> {
    let old = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::OccurredAt.lt(before))
        .into_query();
    let forget = Query::delete()
        .from_table(UNPUBLISHED)
        .and_where(Expr::col("event_id").in_subquery(old))
        .to_owned();
    db.conn().execute(&forget).await.map_err(db_error)?;
    let deleted = event::Entity::delete_many()
        .filter(event::Column::OccurredAt.lt(before))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok(deleted.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::TopicPosition;

    #[test]
    fn resume_needs_every_later_event_kept() {
        let kept_from_5 = TopicPosition {
            last_seq: 9,
            first_kept_seq: Some(5),
        };
        assert!(kept_from_5.can_resume_after(4));
        assert!(kept_from_5.can_resume_after(9));
        assert!(!kept_from_5.can_resume_after(3));
        let all_pruned = TopicPosition {
            last_seq: 9,
            first_kept_seq: None,
        };
        assert!(all_pruned.can_resume_after(9));
        assert!(!all_pruned.can_resume_after(8));
        let empty = TopicPosition {
            last_seq: 0,
            first_kept_seq: None,
        };
        assert!(empty.can_resume_after(0));
    }
}
