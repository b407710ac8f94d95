//! The topics this process has subscribers for, each with its one
//! broadcast channel and a count of subscribers.
//!
//! A broadcast channel allocates all its slots when it is made (about 70
//! bytes each), so its capacity is a cost per topic: 1,024 slots are ~70 KB.
//! That suits a thread, which many subscribers share and where a reply's
//! deltas come fast, but not a user's own topic: every signed-in socket
//! watches one, few share it, and little is published on it. Those get
//! [`USER_TOPIC_CAPACITY`] slots. A receiver that falls further behind
//! gets a `Gap` and its feed reads what it missed from the events table,
//! so a smaller channel costs a read in a burst, never an event.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::Delivery;

struct Entry {
    sender: broadcast::Sender<Delivery>,
    subscribers: usize,
}

pub(crate) struct Registry {
    topics: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

/// Slots of a user's own topic (`user:…`).
pub(crate) const USER_TOPIC_CAPACITY: usize = 32;

/// Slots of `topic`'s channel, at most `capacity`.
fn capacity_of(topic: &str, capacity: usize) -> usize {
    if topic.starts_with("user:") {
        capacity.min(USER_TOPIC_CAPACITY)
    } else {
        capacity
    }
}

impl Registry {
    pub fn new(capacity: usize) -> Self {
        Self {
            topics: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a subscriber; `true` when it is the topic's first.
    pub fn join(&self, topic: &str) -> (broadcast::Receiver<Delivery>, bool) {
        let mut topics = self.lock();
        if let Some(entry) = topics.get_mut(topic) {
            entry.subscribers += 1;
            return (entry.sender.subscribe(), false);
        }
        let (sender, receiver) = broadcast::channel(capacity_of(topic, self.capacity));
        topics.insert(
            topic.to_owned(),
            Entry {
                sender,
                subscribers: 1,
            },
        );
        (receiver, true)
    }

    /// Removes a subscriber; `true` when it was the topic's last.
    pub fn leave(&self, topic: &str) -> bool {
        let mut topics = self.lock();
        let Some(entry) = topics.get_mut(topic) else {
            return false;
        };
        entry.subscribers -= 1;
        if entry.subscribers == 0 {
            topics.remove(topic);
            return true;
        }
        false
    }

    /// Hands `delivery` to the topic's subscribers; whether it has any.
    pub fn deliver(&self, topic: &str, delivery: Delivery) -> bool {
        // Sending under the lock is cheap (no await) and keeps a topic from
        // being removed halfway.
        match self.lock().get(topic) {
            Some(entry) => {
                let _ = entry.sender.send(delivery);
                true
            }
            None => false,
        }
    }

    pub fn contains(&self, topic: &str) -> bool {
        self.lock().contains_key(topic)
    }

    pub fn topics(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Tells every subscriber it may have missed messages.
    pub fn gap_everywhere(&self) {
        // One instant for every topic: feeds of a topic that share a read
        // begun after it (see `Delivery::Gap`).
        let since = std::time::Instant::now();
        for entry in self.lock().values() {
            let _ = entry.sender.send(Delivery::Gap { since });
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_own_topic_gets_a_small_channel_and_others_the_full_one() {
        assert_eq!(capacity_of("user:usr_1", 1024), USER_TOPIC_CAPACITY);
        assert_eq!(capacity_of("user:usr_1", 4), 4);
        for topic in ["thread:thr_1", "team:tm_1", "app:app_1", "builders:app_1"] {
            assert_eq!(capacity_of(topic, 1024), 1024, "{topic}");
        }
    }

    #[test]
    fn a_user_topic_receiver_past_its_slots_lags_rather_than_holding_more() {
        let registry = Registry::new(1024);
        let (mut receiver, first) = registry.join("user:usr_1");
        assert!(first);
        for n in 0..USER_TOPIC_CAPACITY + 1 {
            registry.deliver(
                "user:usr_1",
                Delivery::Message(bytes::Bytes::from(n.to_string())),
            );
        }
        assert!(matches!(
            receiver.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(1))
        ));
    }
}
