//! At most two sends into one thread in the database at once, per process.
//!
//! A send locks its thread's row and its topic's sequence row until it
//! commits. Postgres queues the other sends into that thread on the
//! holder's transaction, and when it commits it wakes every one of them;
//! they race for the row again, one wins and the rest go back to sleep. With
//! thirty-two sends waiting that is thirty-one wake-ups to lose for every
//! message, on the same cores that should be committing the next one, and
//! one thread's rate fell as senders were added (docs/benchmarks.md, "Sends
//! into one thread, queued in the process").
//!
//! So sends into one thread wait here, where a wait costs a queue entry,
//! and the database sees at most [`IN_DATABASE_AT_ONCE`] of them: one
//! holding the row and one waiting to take it the moment it commits, so
//! there is no gap between one commit and the next and nobody to herd. A
//! send holds its place only for its statement (or its transaction), never
//! longer than the row lock it stands for; dropped (the request gone), it
//! gives the place up.
//!
//! Places are kept per stripe of threads, not per thread, so the memory is
//! fixed: two busy threads on one stripe share its places, which slows them
//! a little and is never wrong. Other processes have gates of their own.

use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

/// One send holding the thread's rows, one waiting right behind it.
pub(crate) const IN_DATABASE_AT_ONCE: usize = 2;

/// Enough that busy threads rarely share a stripe.
const STRIPES: usize = 1024;

/// The places of every thread, by stripe.
pub(crate) struct ThreadGates {
    stripes: Box<[Semaphore]>,
}

impl Default for ThreadGates {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES)
                .map(|_| Semaphore::new(IN_DATABASE_AT_ONCE))
                .collect(),
        }
    }
}

impl std::fmt::Debug for ThreadGates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadGates")
            .field("stripes", &self.stripes.len())
            .finish()
    }
}

/// A send's place in its thread's gate, given up when dropped.
pub(crate) struct Place<'a> {
    _permit: Option<SemaphorePermit<'a>>,
}

impl ThreadGates {
    /// Waits for a place to send into `thread`.
    pub(crate) async fn enter(&self, thread: Uuid) -> Place<'_> {
        // UUIDv7: the low bits are random, so stripes fill evenly.
        let stripe = (thread.as_u128() % STRIPES as u128) as usize;
        // The semaphores are never closed, so acquiring fails never; were
        // one closed, the send would go on ungated rather than fail.
        Place {
            _permit: self.stripes[stripe].acquire().await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn holds(place: &Place<'_>) -> bool {
        place._permit.is_some()
    }

    #[tokio::test]
    async fn a_third_send_into_a_thread_waits_until_one_is_done() {
        let gates = ThreadGates::default();
        let thread = Uuid::now_v7();
        let first = gates.enter(thread).await;
        let second = gates.enter(thread).await;
        assert!(holds(&first) && holds(&second));
        let third = tokio::time::timeout(Duration::from_millis(50), gates.enter(thread)).await;
        assert!(third.is_err(), "two are in the database already");
        drop(first);
        let third = gates.enter(thread).await;
        assert!(holds(&third));
    }

    #[tokio::test]
    async fn other_threads_do_not_wait() {
        let gates = ThreadGates::default();
        let busy = Uuid::from_u128(7);
        let _first = gates.enter(busy).await;
        let _second = gates.enter(busy).await;
        let other = Uuid::from_u128(8);
        let entered = tokio::time::timeout(Duration::from_secs(5), gates.enter(other)).await;
        assert!(entered.is_ok_and(|place| holds(&place)));
    }
}
