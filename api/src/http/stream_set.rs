//! A set of streams polled as one, each only when it woke: what a socket's
//! task waits on beside the client (its operations, its feeds, its
//! credential watches).
//!
//! `futures`' `SelectAll` does the same, but it hands each stream back to
//! its `FuturesUnordered` after every item, which allocates a new task for
//! it, and stopping one stream needs an `Abortable` around it (an atomic
//! waker registered on every poll). A feed yields one item per delivery,
//! so on a socket that is most of the work besides writing. Here a stream
//! keeps its slot and its waker for as long as it runs, and is stopped by
//! removing it with the key it was inserted under.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use futures::stream::BoxStream;
use futures::task::{ArcWake, AtomicWaker};

/// Names one stream of a [`StreamSet`] for as long as it is in the set; a
/// key of a stream that ended or was removed names nothing, even once its
/// slot holds another stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StreamKey {
    index: usize,
    generation: u32,
}

pub(super) struct StreamSet<T> {
    slots: Vec<Slot<T>>,
    /// Slots free for the next insert.
    free: Vec<usize>,
    /// Streams to poll on the next `poll_next`: newly inserted, or one that
    /// just yielded (it may have more ready).
    due: VecDeque<usize>,
    woken: Arc<Woken>,
}

struct Slot<T> {
    generation: u32,
    running: Option<Running<T>>,
}

struct Running<T> {
    stream: BoxStream<'static, T>,
    waker: Arc<SlotWaker>,
    /// `waker` as a `Waker`, made once.
    task_waker: Waker,
}

/// The slots whose streams woke since the set was last polled, and the
/// task that polls the set.
#[derive(Default)]
struct Woken {
    slots: Mutex<Vec<usize>>,
    task: AtomicWaker,
}

struct SlotWaker {
    index: usize,
    /// Already listed in `Woken::slots` and not yet polled: a stream woken
    /// many times between two polls is listed once.
    listed: AtomicBool,
    woken: Arc<Woken>,
}

impl ArcWake for SlotWaker {
    fn wake_by_ref(this: &Arc<Self>) {
        if !this.listed.swap(true, Ordering::AcqRel) {
            this.woken
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(this.index);
        }
        this.woken.task.wake();
    }
}

impl<T> Default for StreamSet<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            due: VecDeque::new(),
            woken: Arc::default(),
        }
    }
}

impl<T> StreamSet<T> {
    /// Adds `stream`; it is polled on the set's next poll.
    pub(super) fn insert(&mut self, stream: BoxStream<'static, T>) -> StreamKey {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                generation: 0,
                running: None,
            });
            self.slots.len() - 1
        });
        let waker = Arc::new(SlotWaker {
            index,
            listed: AtomicBool::new(false),
            woken: self.woken.clone(),
        });
        let task_waker = futures::task::waker(waker.clone());
        let slot = &mut self.slots[index];
        slot.running = Some(Running {
            stream,
            waker,
            task_waker,
        });
        self.due.push_back(index);
        StreamKey {
            index,
            generation: slot.generation,
        }
    }

    /// Stops the stream `key` names (it is dropped here); `false` when it
    /// already ended or was removed.
    pub(super) fn remove(&mut self, key: StreamKey) -> bool {
        match self.slots.get(key.index) {
            Some(slot) if slot.generation == key.generation && slot.running.is_some() => {
                self.vacate(key.index);
                true
            }
            _ => false,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.running.is_some())
            .count()
    }

    fn vacate(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        slot.running = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
    }

    /// The next item of any stream that has one. Streams that end leave
    /// the set. `Pending` when none has an item (also when the set is
    /// empty: a stream inserted later wakes the task).
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        self.woken.task.register(cx.waker());
        loop {
            let index = match self.due.pop_front() {
                Some(index) => index,
                None => {
                    let mut woken = self
                        .woken
                        .slots
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if woken.is_empty() {
                        return Poll::Pending;
                    }
                    self.due.extend(woken.drain(..));
                    continue;
                }
            };
            let Some(running) = self.slots[index].running.as_mut() else {
                // Woken after it ended: nothing to poll.
                continue;
            };
            // Cleared before polling, so a wake during the poll lists it again.
            running.waker.listed.store(false, Ordering::Release);
            let mut stream_cx = Context::from_waker(&running.task_waker);
            match Pin::new(&mut running.stream).poll_next(&mut stream_cx) {
                Poll::Ready(Some(item)) => {
                    // It may have more ready: it is polled first next time.
                    self.due.push_front(index);
                    return Poll::Ready(item);
                }
                Poll::Ready(None) => self.vacate(index),
                Poll::Pending => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use futures::task::noop_waker;

    use super::*;

    fn poll<T>(set: &mut StreamSet<T>) -> Poll<T> {
        let waker = noop_waker();
        set.poll_next(&mut Context::from_waker(&waker))
    }

    #[test]
    fn every_item_of_every_stream_comes_out_and_ended_streams_leave() {
        let mut set = StreamSet::default();
        set.insert(futures::stream::iter([1, 2]).boxed());
        set.insert(futures::stream::iter([10]).boxed());
        let mut items = Vec::new();
        while let Poll::Ready(item) = poll(&mut set) {
            items.push(item);
        }
        items.sort_unstable();
        assert_eq!(items, [1, 2, 10]);
        assert_eq!(set.len(), 0);
    }

    #[tokio::test]
    async fn a_stream_is_polled_again_when_it_wakes_and_not_before() {
        let mut set = StreamSet::default();
        let (first_tx, first_rx) = futures::channel::mpsc::unbounded::<u32>();
        let (second_tx, second_rx) = futures::channel::mpsc::unbounded::<u32>();
        set.insert(first_rx.boxed());
        set.insert(second_rx.boxed());
        assert!(poll(&mut set).is_pending());
        assert!(set.woken.slots.lock().expect("not poisoned").is_empty());

        second_tx.unbounded_send(7).expect("open");
        assert_eq!(
            *set.woken.slots.lock().expect("not poisoned"),
            [1],
            "only the second woke"
        );
        assert_eq!(poll(&mut set), Poll::Ready(7));
        first_tx.unbounded_send(3).expect("open");
        first_tx.unbounded_send(4).expect("open");
        assert_eq!(
            *set.woken.slots.lock().expect("not poisoned"),
            [0],
            "listed once for two wakes"
        );
        assert_eq!(poll(&mut set), Poll::Ready(3));
        assert_eq!(poll(&mut set), Poll::Ready(4));
        assert!(poll(&mut set).is_pending());
        assert_eq!(set.len(), 2);
    }

    #[tokio::test]
    async fn a_removed_stream_is_dropped_and_its_key_does_not_name_the_next_in_its_slot() {
        let mut set = StreamSet::default();
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let key = set.insert(rx.boxed());
        assert!(poll(&mut set).is_pending());
        assert!(set.remove(key));
        assert!(tx.is_closed(), "the stream was dropped");
        assert!(!set.remove(key));

        let (next_tx, next_rx) = futures::channel::mpsc::unbounded::<u32>();
        let next = set.insert(next_rx.boxed());
        assert_eq!(next.index, key.index, "the slot is reused");
        assert!(!set.remove(key), "the old key names nothing");
        next_tx.unbounded_send(1).expect("open");
        assert_eq!(poll(&mut set), Poll::Ready(1));
    }

    #[tokio::test]
    async fn the_task_is_woken_when_any_of_its_streams_wakes() {
        let mut set = StreamSet::<u32>::default();
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        set.insert(rx.boxed());
        let task = tokio::spawn(async move { std::future::poll_fn(|cx| set.poll_next(cx)).await });
        tokio::task::yield_now().await;
        tx.unbounded_send(5).expect("open");
        assert_eq!(task.await.expect("the task ends"), 5);
    }
}
