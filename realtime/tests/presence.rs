#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The presence store on its own, with time passed in: in process always,
//! and over Redis when `TEST_REDIS_URL` is set (as CI's second pass does).
//! Each case runs the same steps on both, since the server uses whichever
//! the broker is.

use std::time::Duration;

use PresenceStatus::{Away, Offline, Online};
use orbit_realtime::{Broker, Presence, PresenceStatus, PresenceUser};

const TTL: Duration = Duration::from_secs(30);
const TTL_MS: i64 = 30_000;
const T0: i64 = 1_800_000_000_000;

fn user(name: &str) -> PresenceUser {
    PresenceUser {
        app: uuid::Uuid::now_v7().to_string(),
        user: name.to_owned(),
    }
}

/// The stores to run a case on; Redis keys under a prefix of their own.
fn stores() -> Vec<(&'static str, Presence)> {
    let mut stores = vec![("in process", Broker::in_process().presence("unused", TTL))];
    match std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => {
            let prefix = format!("orbit-presence-test-{}", uuid::Uuid::now_v7().simple());
            let broker = Broker::redis(&url).unwrap();
            stores.push(("redis", broker.presence(&prefix, TTL)));
        }
        None => eprintln!("TEST_REDIS_URL is not set: the Redis store runs in CI's Redis pass"),
    }
    stores
}

async fn status(store: &Presence, user: &PresenceUser, now: i64) -> PresenceStatus {
    store
        .statuses(std::slice::from_ref(user), now)
        .await
        .unwrap()[0]
}

#[tokio::test]
async fn the_first_socket_brings_a_user_online_and_the_last_takes_them_offline() {
    for (name, store) in stores() {
        let alice = user("alice");
        assert_eq!(status(&store, &alice, T0).await, Offline, "{name}");

        assert_eq!(
            store.connect(&alice, "a1", T0).await.unwrap(),
            Some(Online),
            "{name}"
        );
        assert_eq!(
            store.connect(&alice, "a2", T0).await.unwrap(),
            None,
            "{name}: already online"
        );
        assert_eq!(status(&store, &alice, T0).await, Online, "{name}");

        assert_eq!(
            store.disconnect(&alice, "a1", T0).await.unwrap(),
            None,
            "{name}: a2 is open"
        );
        assert_eq!(status(&store, &alice, T0).await, Online, "{name}");
        assert_eq!(
            store.disconnect(&alice, "a2", T0).await.unwrap(),
            Some(Offline),
            "{name}"
        );
        assert_eq!(status(&store, &alice, T0).await, Offline, "{name}");
        // Closing again (or a socket never seen) changes nothing.
        assert_eq!(
            store.disconnect(&alice, "a2", T0).await.unwrap(),
            None,
            "{name}"
        );
    }
}

#[tokio::test]
async fn away_holds_while_a_socket_is_open_and_goes_with_the_last_one() {
    for (name, store) in stores() {
        let bob = user("bob");
        assert_eq!(
            store.set_away(&bob, true, T0).await.unwrap(),
            (Offline, false),
            "{name}: no socket, nothing stored"
        );
        store.connect(&bob, "b1", T0).await.unwrap();
        assert_eq!(
            status(&store, &bob, T0).await,
            Online,
            "{name}: away was not kept"
        );

        assert_eq!(
            store.set_away(&bob, true, T0).await.unwrap(),
            (Away, true),
            "{name}"
        );
        assert_eq!(
            store.set_away(&bob, true, T0).await.unwrap(),
            (Away, false),
            "{name}"
        );
        assert_eq!(status(&store, &bob, T0).await, Away, "{name}");
        assert_eq!(
            store.set_away(&bob, false, T0).await.unwrap(),
            (Online, true),
            "{name}"
        );
        assert_eq!(
            store.set_away(&bob, false, T0).await.unwrap(),
            (Online, false),
            "{name}"
        );

        store.set_away(&bob, true, T0).await.unwrap();
        assert_eq!(
            store.disconnect(&bob, "b1", T0).await.unwrap(),
            Some(Offline),
            "{name}"
        );
        assert_eq!(
            store.connect(&bob, "b2", T0).await.unwrap(),
            Some(Online),
            "{name}"
        );
        assert_eq!(
            status(&store, &bob, T0).await,
            Online,
            "{name}: a new start"
        );
    }
}

#[tokio::test]
async fn connections_that_are_not_renewed_lapse_and_one_sweep_reports_them() {
    for (name, store) in stores() {
        let carol = user("carol");
        let dave = user("dave");
        store.connect(&carol, "dead-process-1", T0).await.unwrap();
        store.connect(&dave, "dead-process-2", T0).await.unwrap();
        store.connect(&dave, "live-process-1", T0).await.unwrap();

        // The live process renews its connection; the dead one does not.
        let renewed = T0 + TTL_MS / 3;
        let back = store
            .renew(&[(dave.clone(), "live-process-1".to_owned())], renewed)
            .await
            .unwrap();
        assert!(back.is_empty(), "{name}: nobody was gone");

        let before_lapse = T0 + TTL_MS - 1;
        assert!(
            store.sweep(before_lapse).await.unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(status(&store, &carol, before_lapse).await, Online, "{name}");

        let lapsed = T0 + TTL_MS;
        assert_eq!(
            status(&store, &carol, lapsed).await,
            Offline,
            "{name}: lapsed reads offline"
        );
        let gone = store.sweep(lapsed).await.unwrap();
        assert!(gone.contains(&carol), "{name}: {gone:?}");
        assert!(
            !gone.contains(&dave),
            "{name}: dave is still connected elsewhere"
        );
        assert_eq!(status(&store, &dave, lapsed).await, Online, "{name}");
        assert!(
            !store.sweep(lapsed).await.unwrap().contains(&carol),
            "{name}: reported once"
        );
    }
}

#[tokio::test]
async fn a_connection_swept_while_its_process_lived_comes_back_on_renewal() {
    for (name, store) in stores() {
        let erin = user("erin");
        store.connect(&erin, "e1", T0).await.unwrap();
        // The process could not renew in time (Redis was unreachable, say).
        let late = T0 + TTL_MS + 1_000;
        assert_eq!(
            store.sweep(late).await.unwrap(),
            vec![erin.clone()],
            "{name}"
        );
        let back = store
            .renew(&[(erin.clone(), "e1".to_owned())], late)
            .await
            .unwrap();
        assert_eq!(back, vec![erin.clone()], "{name}");
        assert_eq!(status(&store, &erin, late).await, Online, "{name}");
    }
}

#[tokio::test]
async fn the_same_user_id_in_two_apps_is_two_users() {
    for (name, store) in stores() {
        let first = user("same");
        let second = user("same");
        store.connect(&first, "c1", T0).await.unwrap();
        assert_eq!(status(&store, &first, T0).await, Online, "{name}");
        assert_eq!(status(&store, &second, T0).await, Offline, "{name}");
        let statuses = store
            .statuses(&[second.clone(), first.clone()], T0)
            .await
            .unwrap();
        assert_eq!(
            statuses,
            vec![Offline, Online],
            "{name}: in the order asked"
        );
    }
}
