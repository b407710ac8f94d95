#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The broker on its own: in process always, and over Redis when
//! `TEST_REDIS_URL` is set (as CI does).

use std::time::Duration;

use bytes::Bytes;
use orbit_realtime::{Broker, Delivery, Subscription};

const DEADLINE: Duration = Duration::from_secs(5);

fn topic(name: &str) -> String {
    format!("test:{name}:{}", uuid::Uuid::now_v7())
}

async fn next_message(subscription: &mut Subscription) -> Bytes {
    loop {
        match tokio::time::timeout(DEADLINE, subscription.recv()).await {
            Ok(Some(Delivery::Message(bytes))) => return bytes,
            Ok(Some(Delivery::Gap { .. })) => continue,
            Ok(None) => panic!("the broker closed"),
            Err(_) => panic!("nothing arrived on {}", subscription.topic()),
        }
    }
}

async fn assert_silent(subscription: &mut Subscription) {
    if let Ok(delivery) =
        tokio::time::timeout(Duration::from_millis(200), subscription.recv()).await
    {
        panic!(
            "expected nothing on {}, got {delivery:?}",
            subscription.topic()
        );
    }
}

#[tokio::test]
async fn in_process_fan_out_shares_one_copy_of_each_message() {
    let broker = Broker::in_process();
    let news = topic("news");
    let mut first = broker.subscribe(&news).await;
    let mut second = broker.subscribe(&news).await;
    let mut elsewhere = broker.subscribe(&topic("other")).await;
    broker
        .publish(&news, Bytes::from_static(b"hello"))
        .await
        .unwrap();
    let a = next_message(&mut first).await;
    let b = next_message(&mut second).await;
    assert_eq!(a, "hello");
    assert_eq!(a.as_ptr(), b.as_ptr(), "subscribers share the bytes");
    assert_silent(&mut elsewhere).await;
}

#[tokio::test]
async fn a_topic_is_forgotten_when_its_last_subscriber_leaves() {
    let broker = Broker::in_process();
    let news = topic("news");
    let first = broker.subscribe(&news).await;
    let second = broker.subscribe(&news).await;
    assert_eq!(broker.local_topic_count(), 1);
    drop(first);
    assert_eq!(broker.local_topic_count(), 1);
    drop(second);
    assert_eq!(broker.local_topic_count(), 0);
    // Publishing to nobody is fine.
    broker
        .publish(&news, Bytes::from_static(b"x"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lagging_subscriber_gets_a_gap_then_continues() {
    let broker = Broker::in_process_with_capacity(4);
    let news = topic("news");
    let mut slow = broker.subscribe(&news).await;
    for n in 0..10 {
        broker
            .publish(&news, Bytes::from(format!("m{n}")))
            .await
            .unwrap();
    }
    assert!(matches!(slow.recv().await, Some(Delivery::Gap { .. })));
    // Then the newest messages that were kept.
    let mut rest = Vec::new();
    while let Ok(Some(Delivery::Message(bytes))) =
        tokio::time::timeout(Duration::from_millis(100), slow.recv()).await
    {
        rest.push(bytes);
    }
    assert_eq!(rest.last().unwrap(), "m9");
}

fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("TEST_REDIS_URL is not set: Redis broker tests run in CI's Redis pass");
    }
    url
}

async fn subscriber_count(url: &str, topic: &str) -> i64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(topic)
        .query_async(&mut connection)
        .await
        .unwrap();
    count
}

async fn wait_for_count(url: &str, topic: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while subscriber_count(url, topic).await != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "PUBSUB NUMSUB {topic} never became {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn redis_carries_messages_between_processes_with_one_subscription_per_topic() {
    let Some(url) = redis_url() else { return };
    let a = Broker::redis(&url).unwrap();
    let b = Broker::redis(&url).unwrap();
    let news = topic("news");
    let mut on_b1 = b.subscribe(&news).await;
    let mut on_b2 = b.subscribe(&news).await;
    // Two local subscribers, one Redis subscription.
    wait_for_count(&url, &news, 1).await;
    a.publish(&news, Bytes::from_static(b"across"))
        .await
        .unwrap();
    let first = next_message(&mut on_b1).await;
    let second = next_message(&mut on_b2).await;
    assert_eq!(first, "across");
    assert_eq!(first.as_ptr(), second.as_ptr());
    drop(on_b1);
    wait_for_count(&url, &news, 1).await;
    drop(on_b2);
    wait_for_count(&url, &news, 0).await;
    assert_eq!(b.local_topic_count(), 0);
}

#[tokio::test]
async fn an_unreachable_redis_starts_and_fails_publishes_quickly() {
    let broker = Broker::redis("redis://127.0.0.1:1").unwrap();
    assert!(!broker.is_connected());
    let news = topic("news");
    // Subscribing does not hang while Redis is down.
    let _subscription = tokio::time::timeout(DEADLINE, broker.subscribe(&news))
        .await
        .expect("subscribe returns while Redis is down");
    let result = tokio::time::timeout(DEADLINE, broker.publish(&news, Bytes::from_static(b"x")))
        .await
        .expect("publish gives up within its timeout");
    assert!(result.is_err());
    assert!(Broker::redis("not a url").is_err());
}

#[tokio::test]
async fn after_the_link_drops_subscribers_get_a_gap_and_then_new_messages() {
    let Some(url) = redis_url() else { return };
    let broker = Broker::redis(&url).unwrap();
    let news = topic("reconnect");
    let mut subscription = broker.subscribe(&news).await;
    wait_for_count(&url, &news, 1).await;

    // Kill this broker's pub/sub connection (and any other's: they must
    // all survive a reconnect).
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .unwrap();

    let gap = tokio::time::timeout(DEADLINE, subscription.recv())
        .await
        .unwrap();
    assert!(matches!(gap, Some(Delivery::Gap { .. })), "got {gap:?}");
    wait_for_count(&url, &news, 1).await;
    broker
        .publish(&news, Bytes::from_static(b"back"))
        .await
        .unwrap();
    assert_eq!(next_message(&mut subscription).await, "back");
}
