//! Catch-up reads shared by the feeds of one topic in this process.
//!
//! When the broker link drops and comes back, every feed of every topic
//! learns of a gap at once; each reading the topic's missed events on its
//! own would make N reads of the same rows for N subscribers (a herd on the
//! database just as it matters most). Feeds of one topic that stand at the
//! same position ask the same question, so one read answers them all.
//!
//! A read answers a feed only if it began at or after the moment the feed's
//! gap began (`not_before`, from [`orbit_realtime::Delivery::Gap`], or when
//! the feed saw a sequence jump): what the feed missed was committed before
//! then, and a topic's events are committed in sequence order, so such a
//! read holds all of it (up to its page size; the feed reads on from there).
//! An older read is never reused, however recent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orbit_domain::DomainResult;
use orbit_domain::entities::event;
use orbit_domain::ids::AppScope;
use orbit_persistence::Db;
use orbit_persistence::outbox;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// How long a finished read stays for feeds that come to it late (a feed
/// first hands out what it holds, then looks at the gap).
const KEPT_FOR: Duration = Duration::from_secs(10);
/// Reads older than [`KEPT_FOR`] are swept out at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct CatchUpReads {
    reads: Mutex<Reads>,
    /// Reads made of the events table (for tests and the metric).
    performed: AtomicU64,
}

struct Reads {
    by_key: HashMap<ReadKey, Arc<SharedRead>>,
    swept: Instant,
}

impl Default for CatchUpReads {
    fn default() -> Self {
        Self {
            reads: Mutex::new(Reads {
                by_key: HashMap::new(),
                swept: Instant::now(),
            }),
            performed: AtomicU64::new(0),
        }
    }
}

#[derive(Hash, PartialEq, Eq)]
struct ReadKey {
    app: Uuid,
    topic: String,
    after: i64,
}

struct SharedRead {
    began: Instant,
    /// `None` when the read failed: each feed then reads on its own, and
    /// learns the error itself.
    page: OnceCell<Option<Arc<Vec<event::Model>>>>,
}

impl CatchUpReads {
    /// Up to `limit` of the topic's events after `after`, from a read that
    /// began no earlier than `not_before`: one in flight or just made for
    /// another feed, or a new one.
    pub async fn since(
        &self,
        db: &Db,
        scope: AppScope,
        topic: &str,
        after: i64,
        limit: u64,
        not_before: Instant,
    ) -> DomainResult<Arc<Vec<event::Model>>> {
        let read = self.read_for(scope, topic, after, not_before);
        let page = read
            .page
            .get_or_init(|| async {
                self.performed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("orbit_feed_catch_up_reads_total").increment(1);
                outbox::since(db, scope, topic, after, limit)
                    .await
                    .ok()
                    .map(Arc::new)
            })
            .await;
        match page {
            Some(page) => Ok(page.clone()),
            None => outbox::since(db, scope, topic, after, limit)
                .await
                .map(Arc::new),
        }
    }

    /// Reads of the events table made so far by this process's feeds.
    pub fn performed(&self) -> u64 {
        self.performed.load(Ordering::Relaxed)
    }

    fn read_for(
        &self,
        scope: AppScope,
        topic: &str,
        after: i64,
        not_before: Instant,
    ) -> Arc<SharedRead> {
        let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        let key = ReadKey {
            app: scope.uuid(),
            topic: topic.to_owned(),
            after,
        };
        if let Some(read) = reads.by_key.get(&key)
            && read.began >= not_before
        {
            return read.clone();
        }
        let now = Instant::now();
        if now.duration_since(reads.swept) >= SWEEP_EVERY {
            reads
                .by_key
                .retain(|_, read| now.duration_since(read.began) < KEPT_FOR);
            reads.swept = now;
        }
        let read = Arc::new(SharedRead {
            began: now,
            page: OnceCell::new(),
        });
        reads.by_key.insert(key, read.clone());
        read
    }
}
