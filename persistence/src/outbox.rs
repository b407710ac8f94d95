//! The outbox: events are written in the transaction of the change they
//! record, so an event exists exactly when its change committed.

use chrono::{DateTime, Utc};
use orbit_domain::entities::event;
use orbit_domain::events::NewEvent;
use orbit_domain::ids::{AppScope, EventId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::db_error;

/// Appends `events` with the next sequence number of each one's topic. The
/// upsert on `topic_sequences` takes a row lock in Postgres, so concurrent
/// writers to one topic queue and the sequence has no gaps or repeats.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    scope: AppScope,
    now: DateTime<Utc>,
    events: Vec<NewEvent>,
) -> DomainResult<()> {
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
        event::Entity::insert(event::ActiveModel {
            id: Set(EventId::generate().uuid()),
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
    }
    Ok(())
}
