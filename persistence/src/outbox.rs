//! The event log: events are written in the transaction of the change they
//! record, so an event exists exactly when its change committed. Each
//! topic's events are numbered without gaps; `unpublished_events` holds
//! what the relay has not yet handed to the broker. The log knows nothing of
//! what reacts to its events (see `reaction`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbit_domain::entities::event;
use orbit_domain::events::{Event, EventType};
use orbit_domain::ids::{AppScope, EventId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement, Value as SqlValue,
};
use uuid::Uuid;

use crate::committed::AppendedEvent;
use crate::kept_connections;
use crate::reaction::Happened;
use crate::{Db, db_error};

/// Events not yet handed to the broker; the relay empties it.
const UNPUBLISHED: &str = "unpublished_events";

/// What appending wrote, and which reactions want it.
#[derive(Debug, Default)]
pub struct Appended {
    /// Every row, in the order given.
    pub rows: Vec<AppendedEvent>,
    /// Each event once, under its first row's id.
    pub happened: Vec<Happened>,
    /// `(reaction, event type)` pairs the app declared interest in, among
    /// the reactions asked about and the types appended.
    pub wanted: Vec<(String, EventType)>,
}

/// What one call appends, as both ways of writing it take it.
struct Batch<'a> {
    scope: AppScope,
    now: DateTime<Utc>,
    rows: &'a [Row],
    events: &'a [Arc<Event>],
    /// Each event's payload, by the index rows name.
    payloads: &'a [serde_json::Value],
    /// The distinct types appended.
    types: &'a [EventType],
    /// The reactions to read the app's interest of.
    reactions: &'a [&'a str],
}

/// Sequences per row, and `(reaction, type)` interests.
type Written = (Vec<i64>, Vec<(String, EventType)>);

/// One event on one of its topics, before it is written.
struct Row {
    id: Uuid,
    topic: String,
    /// Which of the call's events it is.
    event: usize,
}

/// Appends `events`, each on its topics, with the next sequence numbers of
/// those topics, and reads which of `reactions` the app declared interest
/// in for their types.
///
/// The sequence upserts take row locks in Postgres, so concurrent writers to
/// one topic queue behind each other's commit and the sequence has no gaps
/// or repeats; they are taken in topic order, so two changes that write the
/// same topics never wait on each other in a circle. On Postgres all of it is
/// one statement, whatever the number of events.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    scope: AppScope,
    now: DateTime<Utc>,
    events: Vec<Arc<Event>>,
    reactions: &[&str],
) -> DomainResult<Appended> {
    let planned = Planned::new(scope, now, events)?;
    if planned.rows.is_empty() {
        return Ok(Appended::default());
    }
    let (seqs, wanted) = match txn.get_database_backend() {
        DbBackend::Postgres => {
            append_in_one_statement(txn, &planned.batch(reactions), None).await?
        }
        _ => append_statement_by_statement(txn, &planned.batch(reactions)).await?,
    };
    Ok(planned.appended(seqs, wanted))
}

/// What [`write_and_append_unless_wanted`] did.
#[derive(Debug)]
pub(crate) enum UnlessWanted {
    /// Written, appended and committed.
    Committed(Vec<AppendedEvent>),
    /// One of the reactions asked about wants the events: nothing written.
    Wanted,
    /// The write's precondition did not hold: nothing written.
    Refused,
}

/// Postgres: `write`, the events appended after it and the commit, in one
/// statement outside any transaction — unless one of `reactions` wants the
/// events, when nothing is written at all (the change then needs a
/// transaction for the reactions to run in), or the write's precondition
/// does not hold.
pub(crate) async fn write_and_append_unless_wanted<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    now: DateTime<Utc>,
    write: &GuardedWrite,
    events: Vec<Arc<Event>>,
    reactions: &[&str],
) -> Result<UnlessWanted, WriteError> {
    let planned = Planned::new(scope, now, events)?;
    if planned.rows.is_empty() {
        return Err(DomainError::internal("a one-statement change must append events").into());
    }
    let (seqs, wanted) =
        append_in_one_statement(conn, &planned.batch(reactions), Some(write)).await?;
    if !wanted.is_empty() {
        return Ok(UnlessWanted::Wanted);
    }
    if seqs.is_empty() {
        // Events are always appended when nothing wants them: the
        // precondition did not hold.
        return Ok(UnlessWanted::Refused);
    }
    Ok(UnlessWanted::Committed(planned.appended(seqs, wanted).rows))
}

/// Writes a change makes in the statement that appends its events
/// (Postgres): data-modifying `WITH` items, each acting only where
/// [`MAY_WRITE`] holds, with their parameters numbered from `$1`.
#[derive(Debug, Default)]
pub struct GuardedWrite {
    pub(crate) items: Vec<String>,
    pub(crate) values: Vec<SqlValue>,
    /// What must hold, besides no reaction wanting the events, for anything
    /// to be written (an SQL condition over the same parameters): that the
    /// caller may make the change, say. `None`: nothing more.
    pub(crate) precondition: Option<String>,
}

/// The condition each item of a [`GuardedWrite`] writes under: no reaction
/// wants the change's events and its precondition holds.
pub(crate) const MAY_WRITE: &str = "(SELECT ok FROM may_write)";

/// A one-statement write failed: the database's own error (a constraint,
/// say, for the caller to tell apart), or Orbit's.
#[derive(Debug)]
pub(crate) enum WriteError {
    Database(sea_orm::DbErr),
    Domain(DomainError),
}

impl From<DomainError> for WriteError {
    fn from(error: DomainError) -> Self {
        Self::Domain(error)
    }
}

/// A call's rows, planned before they are written.
struct Planned {
    scope: AppScope,
    now: DateTime<Utc>,
    events: Vec<Arc<Event>>,
    rows: Vec<Row>,
    happened: Vec<Happened>,
    payloads: Vec<serde_json::Value>,
    types: Vec<EventType>,
}

impl Planned {
    fn new(scope: AppScope, now: DateTime<Utc>, events: Vec<Arc<Event>>) -> DomainResult<Self> {
        let mut rows = Vec::new();
        let mut happened = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let topics = event.topics(scope.app_id());
            if !event.event_type().is_stored() || topics.is_empty() {
                return Err(DomainError::internal(format!(
                    "`{}` is not written to the log",
                    event.event_type().as_str()
                )));
            }
            for (n, topic) in topics.into_iter().enumerate() {
                let id = EventId::generate().uuid();
                if n == 0 {
                    happened.push(Happened {
                        event_id: id,
                        event: event.clone(),
                    });
                }
                rows.push(Row {
                    id,
                    topic: topic.key(),
                    event: index,
                });
            }
        }
        let payloads = events.iter().map(|event| event.payload()).collect();
        let mut types: Vec<EventType> = events.iter().map(|event| event.event_type()).collect();
        types.sort_by_key(|event_type| event_type.as_str());
        types.dedup();
        Ok(Self {
            scope,
            now,
            events,
            rows,
            happened,
            payloads,
            types,
        })
    }

    fn batch<'a>(&'a self, reactions: &'a [&'a str]) -> Batch<'a> {
        Batch {
            scope: self.scope,
            now: self.now,
            rows: &self.rows,
            events: &self.events,
            payloads: &self.payloads,
            types: &self.types,
            reactions,
        }
    }

    fn appended(self, seqs: Vec<i64>, wanted: Vec<(String, EventType)>) -> Appended {
        let Self {
            scope,
            now,
            events,
            rows,
            happened,
            ..
        } = self;
        let rows = rows
            .into_iter()
            .zip(seqs)
            .map(|(row, seq)| AppendedEvent {
                id: row.id,
                app: scope.uuid(),
                topic: row.topic,
                seq,
                event: events[row.event].clone(),
                occurred_at: now,
            })
            .collect();
        Appended {
            rows,
            happened,
            wanted,
        }
    }
}

/// How many rows after each row share its topic: its sequence is the
/// topic's new last one minus that.
fn later_on_same_topic(rows: &[Row]) -> Vec<i64> {
    let mut seen: BTreeMap<&str, i64> = BTreeMap::new();
    let mut later = vec![0; rows.len()];
    for (index, row) in rows.iter().enumerate().rev() {
        let count = seen.entry(row.topic.as_str()).or_default();
        later[index] = *count;
        *count += 1;
    }
    later
}

async fn append_in_one_statement<C: ConnectionTrait>(
    txn: &C,
    batch: &Batch<'_>,
    write: Option<&GuardedWrite>,
) -> Result<Written, WriteError> {
    let Batch {
        scope,
        now,
        rows,
        events,
        payloads,
        types,
        reactions,
    } = *batch;
    // The write's own parameters come first, numbered as it wrote them.
    let mut values: Vec<SqlValue> = write.map(|write| write.values.clone()).unwrap_or_default();
    values.push(scope.uuid().into());
    let app = format!("${}", values.len());
    values.push(now.into());
    let occurred_at = format!("${}", values.len());
    let mut input = Vec::with_capacity(rows.len());
    for (ord, row) in rows.iter().enumerate() {
        let at = values.len();
        input.push(format!(
            "(${}::uuid, ${}::text, ${}::bigint, ${}::text, ${}::jsonb)",
            at + 1,
            at + 2,
            at + 3,
            at + 4,
            at + 5
        ));
        values.push(row.id.into());
        values.push(row.topic.clone().into());
        values.push((ord as i64).into());
        values.push(events[row.event].event_type().as_str().into());
        values.push(payloads[row.event].clone().into());
    }
    let mut placeholders = |items: Vec<SqlValue>| {
        let list: Vec<String> = items
            .into_iter()
            .map(|item| {
                values.push(item);
                format!("${}", values.len())
            })
            .collect();
        list.join(", ")
    };
    let type_list = placeholders(types.iter().map(|t| t.as_str().into()).collect());
    let reaction_list = placeholders(reactions.iter().map(|r| (*r).into()).collect());
    let interest = if reactions.is_empty() {
        "SELECT NULL::text AS reaction, NULL::text AS event_type WHERE false".to_owned()
    } else {
        format!(
            "SELECT reaction, event_type FROM event_interest \
             WHERE app_id = {app} AND event_type IN ({type_list}) AND reaction IN ({reaction_list})"
        )
    };
    // Guarded, the write and the append happen only where nothing wants
    // the events; otherwise the reactions run after this, in its transaction.
    let (guarded_items, guard) = match write {
        Some(write) => (
            format!(
                "may_write (ok) AS (SELECT NOT EXISTS (SELECT 1 FROM wanted) AND ({})), {}",
                write.precondition.as_deref().unwrap_or("true"),
                write
                    .items
                    .iter()
                    .enumerate()
                    .map(|(n, item)| format!("write{n} AS ({item}), "))
                    .collect::<String>()
            ),
            format!(" WHERE {MAY_WRITE}"),
        ),
        None => (String::new(), String::new()),
    };
    let sql = format!(
        "WITH wanted (reaction, event_type) AS ({interest}), {guarded_items}\
         input (id, topic, ord, event_type, payload) AS (VALUES {input}), \
         counts AS (SELECT topic, count(*) AS n FROM input{guard} GROUP BY topic), \
         seqs AS (INSERT INTO topic_sequences (topic, last_seq) \
            SELECT topic, n FROM counts ORDER BY topic \
            ON CONFLICT (topic) DO UPDATE SET last_seq = topic_sequences.last_seq + EXCLUDED.last_seq \
            RETURNING topic, last_seq), \
         written AS (INSERT INTO events (id, app_id, topic, seq, event_type, payload, occurred_at) \
            SELECT i.id, {app}, i.topic, \
              s.last_seq - (SELECT count(*) FROM input j WHERE j.topic = i.topic AND j.ord > i.ord), \
              i.event_type, i.payload, {occurred_at} \
            FROM input i JOIN seqs s ON s.topic = i.topic \
            RETURNING id, seq), \
         marked AS (INSERT INTO {UNPUBLISHED} (event_id) SELECT id FROM written) \
         SELECT id, seq, NULL::text AS reaction, NULL::text AS interest_type FROM written \
         UNION ALL SELECT NULL::uuid, NULL::bigint, reaction, event_type FROM wanted",
        input = input.join(", "),
    );
    let result = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .map_err(WriteError::Database)?;
    let mut seq_of: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut wanted = Vec::new();
    for row in result {
        let id: Option<Uuid> = row.try_get("", "id").map_err(db_error)?;
        match id {
            Some(id) => {
                let seq: i64 = row.try_get("", "seq").map_err(db_error)?;
                seq_of.insert(id, seq);
            }
            None => {
                let reaction: String = row.try_get("", "reaction").map_err(db_error)?;
                let name: String = row.try_get("", "interest_type").map_err(db_error)?;
                if let Some(event_type) = EventType::parse(&name) {
                    wanted.push((reaction, event_type));
                }
            }
        }
    }
    if write.is_some() && (!wanted.is_empty() || seq_of.is_empty()) {
        // Nothing was written: there are no sequences to read.
        return Ok((Vec::new(), wanted));
    }
    let seqs = rows
        .iter()
        .map(|row| {
            seq_of
                .get(&row.id)
                .copied()
                .ok_or_else(|| DomainError::internal("an appended event got no sequence"))
        })
        .collect::<DomainResult<Vec<i64>>>()?;
    Ok((seqs, wanted))
}

impl From<WriteError> for DomainError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Database(error) => db_error(error),
            WriteError::Domain(error) => error,
        }
    }
}

/// SQLite: the same, a statement at a time (they cost no round trip).
async fn append_statement_by_statement<C: ConnectionTrait>(
    txn: &C,
    batch: &Batch<'_>,
) -> DomainResult<Written> {
    let Batch {
        scope,
        now,
        rows,
        events,
        payloads,
        types,
        reactions,
    } = *batch;
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for row in rows {
        *counts.entry(row.topic.as_str()).or_default() += 1;
    }
    let mut last_of: BTreeMap<&str, i64> = BTreeMap::new();
    for (topic, count) in counts {
        let next = Query::insert()
            .into_table("topic_sequences")
            .columns(["topic", "last_seq"])
            .values_panic([topic.into(), count.into()])
            .on_conflict(
                OnConflict::column("topic")
                    .value(
                        "last_seq",
                        Expr::col(("topic_sequences", "last_seq")).add(count),
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
        last_of.insert(topic, row.try_get("", "last_seq").map_err(db_error)?);
    }
    let later = later_on_same_topic(rows);
    let seqs: Vec<i64> = rows
        .iter()
        .zip(&later)
        .map(|(row, later)| last_of.get(row.topic.as_str()).copied().unwrap_or_default() - later)
        .collect();
    event::Entity::insert_many(rows.iter().zip(&seqs).map(|(row, seq)| event::ActiveModel {
        id: Set(row.id),
        app_id: Set(scope.uuid()),
        topic: Set(row.topic.clone()),
        seq: Set(*seq),
        event_type: Set(events[row.event].event_type().as_str().to_owned()),
        payload: Set(payloads[row.event].clone()),
        occurred_at: Set(now),
    }))
    .exec_without_returning(txn)
    .await
    .map_err(db_error)?;
    let mut unpublished = Query::insert();
    unpublished.into_table(UNPUBLISHED).columns(["event_id"]);
    for row in rows {
        unpublished.values_panic([row.id.into()]);
    }
    txn.execute(&unpublished).await.map_err(db_error)?;
    let mut wanted = Vec::new();
    if !reactions.is_empty() {
        let interest = Query::select()
            .columns(["reaction", "event_type"])
            .from("event_interest")
            .and_where(Expr::col("app_id").eq(scope.uuid()))
            .and_where(Expr::col("event_type").is_in(types.iter().map(|t| t.as_str())))
            .and_where(Expr::col("reaction").is_in(reactions.iter().copied()))
            .to_owned();
        for row in txn.query_all(&interest).await.map_err(db_error)? {
            let reaction: String = row.try_get("", "reaction").map_err(db_error)?;
            let name: String = row.try_get("", "event_type").map_err(db_error)?;
            if let Some(event_type) = EventType::parse(&name) {
                wanted.push((reaction, event_type));
            }
        }
    }
    Ok((seqs, wanted))
}

/// The oldest events still waiting for the relay, oldest first.
#[orbit_macros::boxed]
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
#[orbit_macros::boxed]
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
///
/// On Postgres the delete commits without waiting for its WAL to reach the
/// disk (`synchronous_commit` off for its own transaction only): were it
/// lost in a crash, the markers would come back and the sweep would
/// publish those events again, which subscribers drop as repeats (the
/// relay is at-least-once anyway). Waiting for the flush made the relay
/// queue behind the sends' own flushes before publishing its next batch,
/// and under load the disk's slowest flushes are tens to hundreds of
/// milliseconds (docs/benchmarks.md, "The tail explained").
#[orbit_macros::boxed]
pub async fn mark_published(db: &Db, ids: &[Uuid]) -> DomainResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut delete = Query::delete()
        .from_table(UNPUBLISHED)
        .and_where(Expr::col("event_id").is_in(ids.iter().copied()))
        .to_owned();
    match db.kept_connections() {
        Some(kept) => {
            delete.and_where(Expr::cust(
                kept_connections::COMMIT_WITHOUT_WAITING_FOR_THE_DISK,
            ));
            kept.execute(&delete).await
        }
        None => db.conn().execute(&delete).await,
    }
    .map_err(db_error)?;
    Ok(())
}

/// A topic's events after `after_seq`, in order: what a resuming subscriber
/// missed, or what fills a gap in the live stream. Only the app's own.
#[orbit_macros::boxed]
pub async fn since(
    db: &Db,
    scope: AppScope,
    topic: &str,
    after_seq: i64,
    limit: u64,
) -> DomainResult<Vec<event::Model>> {
    // The app is checked on the rows read rather than in the query: given
    // `app_id = $3` too, Postgres may AND the `(topic, seq)` index with
    // `(app_id, id)` and walk every event of the app for each read (it did
    // in a young database whose statistics lagged: 1 ms a read at 12,000
    // events, growing with the app).
    // A topic names one thread, team or user, whose IDs are unique across
    // apps, so no row of another app is expected; one would be dropped.
    let mut page = event::Entity::find()
        .filter(event::Column::Topic.eq(topic))
        .filter(event::Column::Seq.gt(after_seq))
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .all(db.conn())
        .await
        .map_err(db_error)?;
    let app = scope.uuid();
    if page.iter().any(|event| event.app_id != app) {
        tracing::error!(
            topic,
            "events of another app on this app's topic; not shown"
        );
        page.retain(|event| event.app_id == app);
    }
    Ok(page)
}

/// Where a topic stands: the last sequence written (0 before its first
/// event) and the first still kept (None when retention removed them all).
#[orbit_macros::boxed]
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
#[orbit_macros::boxed]
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
