//! The topics this process has subscribers for, each with its one
//! broadcast channel and a count of subscribers.

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
        let (sender, receiver) = broadcast::channel(self.capacity);
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
