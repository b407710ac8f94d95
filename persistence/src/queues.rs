//! The queues the worker drains, and the signal that one was written to.
//! A commit that queued work wakes only that queue's loop: in this process
//! directly, in the others through whoever forwards [`WorkSignals::outgoing`]
//! (the server publishes it on the broker). A commit that queued nothing
//! wakes nobody.

use std::sync::Mutex;

use tokio::sync::Notify;

/// A table of work claimed under a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    AgentReplies,
    WebhookDeliveries,
    RoutineRuns,
}

impl Queue {
    pub const ALL: [Queue; 3] = [
        Queue::AgentReplies,
        Queue::WebhookDeliveries,
        Queue::RoutineRuns,
    ];

    /// Its name in `/metrics` and on the broker: the name of the table its
    /// items are kept in, claimed under a lease.
    pub const fn as_str(self) -> &'static str {
        match self {
            Queue::AgentReplies => "agent_replies",
            Queue::WebhookDeliveries => "webhook_deliveries",
            Queue::RoutineRuns => "routine_runs",
        }
    }

    pub fn parse(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|queue| queue.as_str() == name)
    }

    fn bit(self) -> u8 {
        1 << self.index()
    }

    fn index(self) -> usize {
        match self {
            Queue::AgentReplies => 0,
            Queue::WebhookDeliveries => 1,
            Queue::RoutineRuns => 2,
        }
    }
}

/// Some of the queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSet(u8);

impl QueueSet {
    pub fn of(queue: Queue) -> Self {
        Self(queue.bit())
    }

    /// Every queue.
    pub fn all() -> Self {
        Self(
            Queue::ALL
                .iter()
                .map(|queue| queue.bit())
                .fold(0, |all, bit| all | bit),
        )
    }

    pub fn insert(&mut self, queue: Queue) {
        self.0 |= queue.bit();
    }

    pub fn extend(&mut self, other: QueueSet) {
        self.0 |= other.0;
    }

    pub fn contains(self, queue: Queue) -> bool {
        self.0 & queue.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Queue> {
        Queue::ALL
            .into_iter()
            .filter(move |queue| self.contains(*queue))
    }
}

/// Wakes the loop of each queue written to, and collects what to tell the
/// other processes.
#[derive(Debug, Default)]
pub struct WorkSignals {
    wake: [Notify; 3],
    outgoing: Mutex<QueueSet>,
    outgoing_ready: Notify,
}

impl WorkSignals {
    /// A commit wrote to `queues`: wake their loops here and tell the others.
    pub fn written(&self, queues: QueueSet) {
        if queues.is_empty() {
            return;
        }
        self.wake_local(queues);
        let mut outgoing = self
            .outgoing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        outgoing.extend(queues);
        self.outgoing_ready.notify_one();
    }

    /// Another process wrote to `queues` (or a test moved the clock).
    pub fn wake_local(&self, queues: QueueSet) {
        // One loop drains each queue: a permit kept while it is busy makes
        // it look again when done, so no write waits for the idle sweep.
        for queue in queues.iter() {
            self.wake[queue.index()].notify_one();
        }
    }

    /// Returns when `queue` is written to (at once if it was since the
    /// last call). For the one loop that drains the queue.
    #[orbit_macros::boxed]
    pub async fn written_to(&self, queue: Queue) {
        self.wake[queue.index()].notified().await;
    }

    /// Waits for writes to tell other processes of, and takes them (several
    /// commits close together are told once).
    #[orbit_macros::boxed]
    pub async fn next_outgoing(&self) -> QueueSet {
        loop {
            {
                let mut outgoing = self
                    .outgoing
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if !outgoing.is_empty() {
                    return std::mem::take(&mut *outgoing);
                }
            }
            self.outgoing_ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_what_was_put_in() {
        let mut set = QueueSet::default();
        assert!(set.is_empty());
        set.insert(Queue::RoutineRuns);
        set.extend(QueueSet::of(Queue::AgentReplies));
        assert!(set.contains(Queue::RoutineRuns));
        assert!(!set.contains(Queue::WebhookDeliveries));
        let queues: Vec<Queue> = set.iter().collect();
        assert_eq!(queues, [Queue::AgentReplies, Queue::RoutineRuns]);
        for queue in Queue::ALL {
            assert_eq!(Queue::parse(queue.as_str()), Some(queue));
        }
    }

    #[tokio::test]
    async fn writes_are_told_once_and_wake_only_their_queue() {
        let signals = WorkSignals::default();
        let replies = signals.written_to(Queue::AgentReplies);
        let webhooks = signals.written_to(Queue::WebhookDeliveries);
        tokio::pin!(replies, webhooks);
        // Register both waiters before the write.
        assert!(futures_poll(&mut replies).is_pending());
        assert!(futures_poll(&mut webhooks).is_pending());
        signals.written(QueueSet::of(Queue::AgentReplies));
        signals.written(QueueSet::of(Queue::RoutineRuns));
        assert!(futures_poll(&mut replies).is_ready());
        assert!(futures_poll(&mut webhooks).is_pending());
        let told = signals.next_outgoing().await;
        assert!(told.contains(Queue::AgentReplies) && told.contains(Queue::RoutineRuns));
    }

    fn futures_poll<F: std::future::Future + Unpin>(future: &mut F) -> std::task::Poll<F::Output> {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        std::pin::Pin::new(future).poll(&mut context)
    }
}
