//! Which apps' changes some reaction wanted lately (see
//! `unit_of_work::in_one_statement`).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use orbit_domain::events::EventType;
use orbit_domain::ids::AppScope;
use uuid::Uuid;

/// Apps whose changes of a type some reaction wanted lately: their next such
/// change goes straight to a transaction instead of trying a statement that
/// would write nothing. Only a guess to save a round trip; the statement
/// itself decides.
#[derive(Debug, Default)]
pub(crate) struct WantedLately(Mutex<HashMap<(Uuid, EventType), DateTime<Utc>>>);

impl WantedLately {
    /// How long a want is remembered before the one statement is tried
    /// again. `event_interest` rows stay until their app goes, so a want
    /// rarely stops; this mostly lets apps that went quiet be forgotten.
    const FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
    /// At most this many are remembered.
    const MOST: usize = 4_096;

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, EventType), DateTime<Utc>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn remembers(
        &self,
        scope: AppScope,
        event_type: EventType,
        now: DateTime<Utc>,
    ) -> bool {
        self.entries()
            .get(&(scope.uuid(), event_type))
            .is_some_and(|at| now - *at < Self::FOR)
    }

    pub(crate) fn remember(&self, scope: AppScope, event_type: EventType, now: DateTime<Utc>) {
        let mut wanted = self.entries();
        if wanted.len() >= Self::MOST {
            wanted.retain(|_, at| now - *at < Self::FOR);
            if wanted.len() >= Self::MOST {
                wanted.clear();
            }
        }
        wanted.insert((scope.uuid(), event_type), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orbit_domain::ids::AppId;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a time")
    }

    #[test]
    fn a_want_is_remembered_for_a_minute_per_app_and_type() {
        let wanted = WantedLately::default();
        let app = AppScope::new(AppId::generate());
        let other = AppScope::new(AppId::generate());
        wanted.remember(app, EventType::MessageCreated, at(0));
        assert!(wanted.remembers(app, EventType::MessageCreated, at(59)));
        assert!(!wanted.remembers(app, EventType::MessageCreated, at(60)));
        assert!(!wanted.remembers(app, EventType::MessageEdited, at(1)));
        assert!(!wanted.remembers(other, EventType::MessageCreated, at(1)));
    }

    #[test]
    fn it_never_holds_more_than_its_most() {
        let wanted = WantedLately::default();
        for _ in 0..(WantedLately::MOST * 2) {
            wanted.remember(
                AppScope::new(AppId::generate()),
                EventType::MessageCreated,
                at(0),
            );
            assert!(wanted.entries().len() <= WantedLately::MOST);
        }
    }
}
