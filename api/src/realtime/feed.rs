//! One subscriber's view of a topic: live events from the broker, checked
//! against the events table so that nothing is missed or repeated.
//!
//! The broker is fast but may drop (a lagging receiver, a Redis outage) or
//! repeat (the relay is at-least-once) events; the table is the truth. The
//! feed keeps the last sequence it delivered: the next one in order is
//! delivered, an older one is a duplicate and dropped, and a broker `Gap`
//! makes it read what it missed from the table first.
//!
//! A jump (a sequence past the one due, arriving before it) is most often
//! not a loss but a race: with several processes, each publishes what it
//! committed, so a topic's events reach the broker in commit order only per
//! process, and one process's relay may hand on seq 8 while another's is
//! still publishing seq 7. The feed holds such an event for up to
//! `ORBIT_REORDER_WAIT` (50 ms) for the ones before it to arrive live, and
//! reads the table only when they do not: under load, reading at every jump
//! made every feed on every process read the table for most events.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use orbit_domain::events::EventType;
use orbit_domain::ids::{AppScope, UserId};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::outbox;
use orbit_realtime::{Delivery, Subscription};

use super::envelope::Envelope;
use crate::Services;

/// Events read from the table per round trip while catching up.
const CATCH_UP_PAGE: u64 = 200;
/// Events held ahead of their turn at most; one more reads the table at once.
const REORDER_HELD: usize = 64;

/// Re-checks that the subscriber may still see the topic; an error ends the feed.
pub type AccessCheck = Box<dyn Fn() -> BoxFuture<'static, DomainResult<()>> + Send + Sync>;

/// Watches the subscriber's own user topic for changes to their access.
pub struct AccessWatch {
    pub user: UserId,
    pub user_topic: Subscription,
    pub check: AccessCheck,
}

pub struct Feed {
    services: Services,
    scope: AppScope,
    topic: String,
    /// The last sequence delivered (or skipped over, when starting live).
    last_seq: i64,
    live: Subscription,
    /// Events to hand out, each with the feed's position once it is delivered.
    backlog: VecDeque<(Arc<Envelope>, i64)>,
    /// Read the table before taking the next live message.
    catch_up: bool,
    /// Events that came ahead of their turn (boxed: rare, and there is a
    /// feed per subscription).
    held: Option<Box<HeldAhead>>,
    /// When the gap being caught up began: a read begun after it holds
    /// what was missed, so feeds of the topic may share it.
    gap_since: Instant,
    access: Option<AccessWatch>,
    /// Set once the feed must end after its backlog drains.
    ending: Option<Option<DomainError>>,
}

/// An event and the sequence a subscriber resumes after to continue behind
/// it (its own for stored events; the position reached for ephemeral ones).
/// An error ends the feed.
pub type FeedItem = Result<(Arc<Envelope>, i64), DomainError>;

impl Feed {
    /// `live` must be subscribed before `start_after` is read, so that nothing
    /// committed in between is lost: events up to `start_after` that also
    /// arrive live are dropped as duplicates.
    pub fn new(
        services: Services,
        scope: AppScope,
        live: Subscription,
        start_after: i64,
        replay: bool,
        access: Option<AccessWatch>,
    ) -> Self {
        Self {
            services,
            scope,
            topic: live.topic().to_owned(),
            last_seq: start_after,
            live,
            backlog: VecDeque::new(),
            catch_up: replay,
            held: None,
            gap_since: Instant::now(),
            access,
            ending: None,
        }
    }

    pub fn into_stream(self) -> impl futures::Stream<Item = FeedItem> + Send {
        futures::stream::unfold(self, |mut feed| async move {
            feed.next().await.map(|item| (item, feed))
        })
    }

    pub async fn next(&mut self) -> Option<FeedItem> {
        loop {
            if let Some(delivered) = self.backlog.pop_front() {
                return Some(Ok(delivered));
            }
            if let Some(ending) = self.ending.take() {
                // Keep ending on later polls too.
                self.ending = Some(None);
                return ending.map(Err);
            }
            // The rare paths that read the database are boxed, so that a
            // feed waiting for its next event stays small (there is one per
            // subscription).
            if self.catch_up {
                if let Err(error) = Box::pin(self.read_table()).await {
                    self.ending = Some(Some(error));
                }
                if !self.catch_up {
                    Box::pin(self.release_held_after_read()).await;
                }
                continue;
            }
            let woke = match self.held.as_ref().map(|held| held.deadline) {
                // The timer only while something is held, boxed so that a
                // feed waiting for its next event stays small.
                Some(deadline) => {
                    let timer = Box::pin(tokio::time::sleep_until(deadline));
                    Box::pin(wake(&mut self.live, &mut self.access, timer)).await
                }
                None => wake(&mut self.live, &mut self.access, std::future::pending()).await,
            };
            match woke {
                Woke::Live(None) | Woke::AccessTopicClosed => return None,
                Woke::Live(Some(Delivery::Gap { since })) => self.missed(since),
                Woke::Live(Some(Delivery::Message(bytes))) => {
                    if let Some(envelope) = Envelope::decode_shared(&bytes) {
                        self.accept(envelope).await;
                    }
                }
                Woke::AccessChange(change) => {
                    let user = self.access.as_ref().map(|watch| watch.user);
                    if user.is_some_and(|user| access_may_have_changed(&change, user)) {
                        Box::pin(self.access_changed_elsewhere()).await;
                    }
                }
                Woke::HeldTooLong => {
                    if let Some(held) = &self.held {
                        self.missed(held.first_seen);
                    }
                }
            }
        }
    }

    async fn accept(&mut self, envelope: Arc<Envelope>) {
        if envelope.app != self.scope.uuid() || envelope.topic != self.topic {
            tracing::warn!(topic = %self.topic, "dropping an event of another app or topic");
            return;
        }
        match envelope.seq {
            None => self.backlog.push_back((envelope, self.last_seq)),
            Some(seq) if seq <= self.last_seq => {}
            Some(seq) if seq == self.last_seq + 1 => {
                self.last_seq = seq;
                self.deliver(envelope).await;
                if self.held.is_some() {
                    Box::pin(self.release_held()).await;
                }
            }
            // Something in between is on its way or was missed.
            Some(seq) => self.hold(seq, envelope),
        }
    }

    /// Keeps an event that came ahead of its turn until the ones before it
    /// arrive, or the wait or the room runs out and the table is read.
    fn hold(&mut self, seq: i64, envelope: Arc<Envelope>) {
        self.services.count_event_held_ahead();
        let reorder_wait = self.services.reorder_wait();
        let now = Instant::now();
        let held = self.held.get_or_insert_with(|| {
            Box::new(HeldAhead {
                events: BTreeMap::new(),
                first_seen: now,
                last_seen: now,
                // Only a message the broker lost waits this out (an outage
                // is a `Gap`, read at once).
                deadline: tokio::time::Instant::from_std(now) + reorder_wait,
            })
        });
        held.events.insert(seq, envelope);
        held.last_seen = now;
        if held.events.len() > REORDER_HELD {
            let since = held.first_seen;
            self.missed(since);
        }
    }

    /// Delivers the held events that are now next in turn, and forgets the
    /// ones already delivered.
    async fn release_held(&mut self) {
        if self.ending.is_some() {
            // Nothing is shown after what ended the feed.
            self.held = None;
        }
        while let Some(held) = &mut self.held {
            let Some(entry) = held.events.first_entry() else {
                self.held = None;
                return;
            };
            let seq = *entry.key();
            if seq > self.last_seq + 1 {
                return;
            }
            let envelope = entry.remove();
            if seq == self.last_seq + 1 {
                self.last_seq = seq;
                self.deliver(envelope).await;
                if self.ending.is_some() {
                    self.held = None;
                    return;
                }
            }
        }
    }

    /// After a read of the table: what it held is delivered, and so is what
    /// is held beyond it (the table had nothing more, so nothing is owed
    /// before those: they were pruned, say), rather than waiting again.
    /// That holds because the read began after the last held event was
    /// taken (see `read_table`).
    async fn release_held_after_read(&mut self) {
        self.release_held().await;
        while let Some(held) = &mut self.held {
            let Some((seq, envelope)) = held.events.pop_first() else {
                self.held = None;
                return;
            };
            self.last_seq = seq;
            self.deliver(envelope).await;
            if self.ending.is_some() {
                self.held = None;
                return;
            }
            self.release_held().await;
        }
    }

    /// Events may have been missed, all of them committed before `since`.
    fn missed(&mut self, since: Instant) {
        // A second gap while catching up: the read must begin after both.
        self.gap_since = if self.catch_up {
            self.gap_since.max(since)
        } else {
            since
        };
        self.catch_up = true;
    }

    /// One page of the topic's stored events after `last_seq`.
    async fn stored_since_last(&self) -> DomainResult<Vec<orbit_domain::entities::event::Model>> {
        outbox::since(
            self.services.db(),
            self.scope,
            &self.topic,
            self.last_seq,
            CATCH_UP_PAGE,
        )
        .await
    }

    /// Reads one page of what came after `last_seq`: a read shared with
    /// the topic's other feeds at the same position (see `catch_up`).
    async fn read_table(&mut self) -> DomainResult<()> {
        // Everything before an event was committed before that event was,
        // so a read begun after the last held event came holds everything
        // owed before any of them. A shared read begun earlier (after only
        // the first) may lack one committed in between, and handing out
        // what is held beyond the read would then skip it for good.
        let not_before = match &self.held {
            Some(held) => self.gap_since.max(held.last_seen),
            None => self.gap_since,
        };
        let page = self
            .services
            .catch_up_reads()
            .since(
                self.services.db(),
                self.scope,
                &self.topic,
                self.last_seq,
                CATCH_UP_PAGE,
                not_before,
            )
            .await?;
        self.catch_up = page.len() as u64 == CATCH_UP_PAGE;
        for event in page.iter() {
            self.last_seq = event.seq;
            if let Some(envelope) = Envelope::stored(event) {
                self.deliver(Arc::new(envelope)).await;
            }
            if self.ending.is_some() {
                self.catch_up = false;
                break;
            }
        }
        Ok(())
    }

    async fn deliver(&mut self, envelope: Arc<Envelope>) {
        if envelope.event_type().is_internal() {
            return;
        }
        // A deleted thread's feed has nothing more to say.
        let ends_topic = envelope.event_type() == EventType::ThreadDeleted
            && envelope.topic.starts_with("thread:");
        let touches_viewer = self.touches_viewer(&envelope);
        self.backlog.push_back((envelope, self.last_seq));
        if ends_topic {
            self.ending = Some(None);
        } else if touches_viewer {
            Box::pin(self.recheck_access()).await;
        }
    }

    /// Whether the event changes the subscriber's own access (their
    /// removal from the team or thread).
    fn touches_viewer(&self, envelope: &Envelope) -> bool {
        envelope.event_type().may_end_access()
            && self
                .access
                .as_ref()
                .is_some_and(|watch| envelope.event.user_id() == Some(watch.user))
    }

    /// The user's own topic announced a change, which may reach the feed
    /// before this topic's record of it. When access is gone, this topic's
    /// events up to and including that record (the `member.left` on a team
    /// topic, say) are still shown, so the subscriber learns why; nothing
    /// after it is.
    async fn access_changed_elsewhere(&mut self) {
        let Some(watch) = &self.access else { return };
        let Err(error) = (watch.check)().await else {
            return;
        };
        let page = self.stored_since_last().await.unwrap_or_default();
        let envelopes: Vec<Arc<Envelope>> = page
            .iter()
            .filter_map(Envelope::stored)
            .map(Arc::new)
            .collect();
        if let Some(end) = envelopes.iter().position(|e| self.touches_viewer(e)) {
            for envelope in envelopes.into_iter().take(end + 1) {
                if let Some(seq) = envelope.seq {
                    self.last_seq = seq;
                }
                if !envelope.event_type().is_internal() {
                    self.backlog.push_back((envelope, self.last_seq));
                }
            }
        }
        self.catch_up = false;
        self.ending = Some(Some(error));
    }

    async fn recheck_access(&mut self) {
        let Some(watch) = &self.access else { return };
        if let Err(error) = (watch.check)().await {
            // Nothing after the change that took access away is shown.
            self.catch_up = false;
            self.ending = Some(Some(error));
        }
    }
}

/// Events a feed received ahead of their turn.
struct HeldAhead {
    events: BTreeMap<i64, Arc<Envelope>>,
    /// When the first of them came: what it waits for was committed before.
    first_seen: Instant,
    /// When the last of them came: everything before any of them was
    /// committed before.
    last_seen: Instant,
    /// When the feed stops waiting for the rest and reads the table.
    deadline: tokio::time::Instant,
}

/// What woke a waiting feed.
enum Woke {
    Live(Option<Delivery>),
    AccessChange(Delivery),
    AccessTopicClosed,
    HeldTooLong,
}

/// Waits for the topic's next delivery, a change on the subscriber's own
/// topic, or `held_too_long` (never, unless events are held).
async fn wake(
    live: &mut Subscription,
    access: &mut Option<AccessWatch>,
    held_too_long: impl Future<Output = ()>,
) -> Woke {
    match access {
        Some(watch) => tokio::select! {
            delivery = live.recv() => Woke::Live(delivery),
            change = watch.user_topic.recv() => match change {
                Some(change) => Woke::AccessChange(change),
                None => Woke::AccessTopicClosed,
            },
            () = held_too_long => Woke::HeldTooLong,
        },
        None => tokio::select! {
            delivery = live.recv() => Woke::Live(delivery),
            () = held_too_long => Woke::HeldTooLong,
        },
    }
}

fn access_may_have_changed(change: &Delivery, user: UserId) -> bool {
    match change {
        // Missed messages may have included a change.
        Delivery::Gap { .. } => true,
        Delivery::Message(bytes) => Envelope::decode_shared(bytes).is_some_and(|envelope| {
            let event_type = envelope.event_type();
            event_type.may_end_access()
                && (envelope.event.user_id() == Some(user)
                    || event_type == EventType::ThreadDeleted)
        }),
    }
}
