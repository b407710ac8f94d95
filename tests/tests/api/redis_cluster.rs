//! Orbit on a Redis Cluster of the test's own (three masters, each with a
//! replica; see `orbit_tests::redis_cluster`): sharded pub/sub between
//! brokers and between `orbit` processes, presence on a cluster, a
//! credential's end pushed across processes, and a master failing over
//! while messages are sent. Like `cluster.rs`, these run with or without
//! `TEST_DATABASE_URL` (the processes share one SQLite file without it).

use std::collections::HashSet;
use std::time::Duration;

use PresenceStatus::{Away, Offline, Online};
use orbit_domain::events::Topic;
use orbit_domain::ids::ThreadId;
use orbit_realtime::{Broker, Delivery, PresenceStatus, PresenceUser, Subscription};
use orbit_tests::redis_cluster::RedisCluster;
use orbit_tests::ws::WsClient;
use orbit_tests::{TestApp, eventually, spawn_cluster};
use serde_json::json;

const SHARDS: usize = 3;
/// For one delivery to reach a broker's subscriber.
const DELIVERY_WITHIN: Duration = Duration::from_secs(10);

pub(crate) async fn next_delivery(subscription: &mut Subscription) -> Delivery {
    match tokio::time::timeout(DELIVERY_WITHIN, subscription.recv()).await {
        Ok(Some(delivery)) => delivery,
        Ok(None) => panic!("the broker closed"),
        Err(_) => panic!("nothing arrived on {}", subscription.topic()),
    }
}

/// The next message's text, past any gaps.
async fn next_text(subscription: &mut Subscription) -> String {
    loop {
        if let Delivery::Message(bytes) = next_delivery(subscription).await {
            return String::from_utf8(bytes.to_vec()).unwrap();
        }
    }
}

async fn link_up(broker: &Broker) {
    eventually("the broker's pub/sub link is up", || async {
        broker.is_connected()
    })
    .await;
}

/// Topics made up until there are `at_least` and they fall on every shard.
async fn topics_on_every_shard(cluster: &RedisCluster, at_least: usize) -> Vec<String> {
    let mut topics = Vec::new();
    let mut shards = HashSet::new();
    while topics.len() < at_least || shards.len() < SHARDS {
        let topic = format!("test:cluster:{}", uuid::Uuid::now_v7());
        shards.insert(cluster.master_of(&topic).await);
        topics.push(topic);
    }
    topics
}

/// Publishes until the broker takes it: right after a failover, the first
/// try may meet the old master's closed connection.
async fn publish_until_taken(broker: &Broker, topic: &str, text: &str) {
    for _ in 0..5 {
        if broker.publish(topic, text.to_owned().into()).await.is_ok() {
            return;
        }
    }
    panic!("{topic}: the cluster did not take {text:?}");
}

#[tokio::test]
async fn a_malformed_cluster_url_is_refused_at_start_without_its_password() {
    for url in [
        "redis+cluster://orbit:secret@",
        "redis+cluster://orbit:secret@10.0.0.1",
        "redis+cluster://orbit:secret@10.0.0.1:7000,,10.0.0.2:7001",
        "redis+cluster://orbit:secret@10.0.0.1:7000/3",
    ] {
        let Err(error) = Broker::redis(url) else {
            panic!("{url} was taken");
        };
        let error = error.to_string();
        assert!(error.starts_with("the Redis URL is not valid: "), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
}

#[tokio::test]
async fn sharded_pub_sub_carries_every_topic_between_brokers_with_one_subscription_per_process() {
    let cluster = RedisCluster::start().await;
    let first = Broker::redis(&cluster.url()).unwrap();
    let second = Broker::redis(&cluster.url()).unwrap();
    link_up(&first).await;
    link_up(&second).await;
    let topics = topics_on_every_shard(&cluster, 12).await;
    // Per topic: two subscribers on the first broker, one on the second.
    let mut subscribers = Vec::new();
    for topic in &topics {
        subscribers.push(first.subscribe(topic).await);
        subscribers.push(first.subscribe(topic).await);
        subscribers.push(second.subscribe(topic).await);
    }
    for topic in &topics {
        assert_eq!(
            cluster.shard_subscribers(topic).await,
            2,
            "{topic}: one subscription per process, on the topic's shard"
        );
    }

    for (n, topic) in topics.iter().enumerate() {
        let publisher = if n % 2 == 0 { &first } else { &second };
        publisher
            .publish(topic, format!("message {n}").into())
            .await
            .unwrap();
    }
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        assert_eq!(
            next_text(subscriber).await,
            format!("message {}", index / 3)
        );
    }

    // The first broker's last subscriber of a topic leaving ends that
    // broker's subscription, and only that one.
    drop(subscribers.drain(..2));
    eventually("the first broker unsubscribed from the topic", || async {
        cluster.shard_subscribers(&topics[0]).await == 1
    })
    .await;
    assert_eq!(first.local_topic_count(), topics.len() - 1);
}

#[tokio::test]
async fn when_a_master_fails_over_every_subscriber_gets_a_gap_then_messages_again() {
    let mut cluster = RedisCluster::start().await;
    let listening = Broker::redis(&cluster.url()).unwrap();
    let publisher = Broker::redis(&cluster.url()).unwrap();
    link_up(&listening).await;
    let topics = topics_on_every_shard(&cluster, 9).await;
    let mut subscribers = Vec::new();
    for topic in &topics {
        subscribers.push(listening.subscribe(topic).await);
    }

    let failover = cluster.stop_master_of(&topics[0]).await;
    eventually("the link notices the master is gone", || async {
        !listening.is_connected()
    })
    .await;
    cluster.wait_until_promoted(&failover).await;
    link_up(&listening).await;

    // What was published meanwhile is in the source of truth; the Gap says
    // to read it, and comes once every topic is heard again.
    for subscriber in &mut subscribers {
        let delivery = next_delivery(subscriber).await;
        assert!(
            matches!(delivery, Delivery::Gap { .. }),
            "{}: {delivery:?}",
            subscriber.topic()
        );
    }
    for topic in &topics {
        assert_eq!(
            cluster.shard_subscribers(topic).await,
            1,
            "{topic}: subscribed once, on the shard as it is now"
        );
    }
    for (n, topic) in topics.iter().enumerate() {
        publish_until_taken(&publisher, topic, &format!("after {n}")).await;
    }
    for (n, subscriber) in subscribers.iter_mut().enumerate() {
        assert_eq!(next_text(subscriber).await, format!("after {n}"));
    }
}

const TTL: Duration = Duration::from_secs(30);
const T0: i64 = 1_800_000_000_000;

fn user_of(app: &str, name: &str) -> PresenceUser {
    PresenceUser {
        app: app.to_owned(),
        user: name.to_owned(),
    }
}

/// Every presence operation is one transaction or pipeline, across users
/// and the shared index of lapses: on a cluster they work only because
/// every presence key is in one slot.
#[tokio::test]
async fn presence_works_on_a_cluster() {
    let cluster = RedisCluster::start().await;
    let broker = Broker::redis(&cluster.url()).unwrap();
    let store = broker.presence(
        &format!("orbit-presence-test-{}", uuid::Uuid::now_v7().simple()),
        TTL,
    );
    let apps = [
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    ];
    let alice = user_of(&apps[0], "alice");
    let bob = user_of(&apps[1], "bob");
    let carol = user_of(&apps[0], "carol");
    let everyone = [alice.clone(), bob.clone(), carol.clone()];

    assert_eq!(store.connect(&alice, "a1", T0).await.unwrap(), Some(Online));
    assert_eq!(store.connect(&alice, "a2", T0).await.unwrap(), None);
    assert_eq!(store.connect(&bob, "b1", T0).await.unwrap(), Some(Online));
    assert_eq!(
        store.statuses(&everyone, T0).await.unwrap(),
        [Online, Online, Offline]
    );

    assert_eq!(
        store.set_away(&alice, true, T0).await.unwrap(),
        (Away, true)
    );
    assert_eq!(
        store.set_away(&carol, true, T0).await.unwrap(),
        (Offline, false)
    );
    assert_eq!(
        store.statuses(&everyone, T0).await.unwrap(),
        [Away, Online, Offline]
    );

    assert_eq!(store.disconnect(&alice, "a1", T0).await.unwrap(), None);
    assert_eq!(
        store.disconnect(&alice, "a2", T0).await.unwrap(),
        Some(Offline)
    );

    // Bob's process renews his connection; then it dies and stops.
    let renewed_at = T0 + 20_000;
    assert!(
        store
            .renew(&[(bob.clone(), "b1".to_owned())], renewed_at)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.sweep(T0 + 31_000).await.unwrap().is_empty());
    assert_eq!(store.sweep(renewed_at + 31_000).await.unwrap(), [bob]);
    assert_eq!(
        store
            .statuses(&everyone, renewed_at + 31_000)
            .await
            .unwrap(),
        [Offline, Offline, Offline]
    );
}

const MESSAGES: &str = "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { ... on MessageCreatedEvent { cursor message { content } } } }";

async fn watching(app: &TestApp, thread: &str, token: Option<&str>) -> WsClient {
    let mut client = WsClient::connected(&app.ws_url(), token).await;
    client
        .subscribe("t", MESSAGES, json!({ "id": thread, "after": null }))
        .await;
    client.ping().await;
    client
}

async fn next_message(client: &mut WsClient) -> String {
    let payload = client.next_payload("t").await;
    payload["data"]["threadEvents"]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("not a message: {payload}"))
        .to_owned()
}

/// The topic of a thread, by its GraphQL id.
fn thread_topic(thread: &str) -> String {
    Topic::Thread(thread.parse::<ThreadId>().unwrap()).key()
}

async fn create_thread(app: &TestApp, token: Option<&str>, team: &str, title: &str) -> String {
    let data = app
        .gql_ok(
            token,
            "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }",
            json!({ "input": { "title": title, "teamId": team } }),
        )
        .await;
    data["createThread"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_message_sent_through_one_server_reaches_subscribers_on_both() {
    let cluster = RedisCluster::start().await;
    super::cluster::message_through_one_process_reaches_both(&cluster.url()).await;
}

#[tokio::test]
async fn presence_spans_servers_and_a_dead_servers_users_go_offline_when_it_lapses() {
    let cluster = RedisCluster::start().await;
    super::cluster::presence_spans_processes(&cluster.url()).await;
}

#[tokio::test]
async fn an_end_of_credentials_on_one_process_takes_effect_on_the_other() {
    let cluster = RedisCluster::start().await;
    super::credentials::an_end_on_one_process_ends_it_on_the_other(&cluster.url()).await;
}

/// Threads of the failover test at the least; more are made until their
/// topics fall on every shard.
const FAILOVER_THREADS: usize = 6;
/// Subscribers of each thread on each server.
const WATCHERS_PER_SERVER: usize = 1;
/// For the replica to take over, at the most.
const FAILOVER_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_master_failing_over_while_messages_are_sent_loses_and_repeats_nothing() {
    let mut cluster = RedisCluster::start().await;
    let (first, second) = spawn_cluster(&cluster.url()).await;
    let w = first.new_team_world().await;
    let mut threads = vec![w.thread_id.clone()];
    let mut shards = HashSet::from([cluster.master_of(&thread_topic(&w.thread_id)).await]);
    while threads.len() < FAILOVER_THREADS || shards.len() < SHARDS {
        assert!(
            threads.len() < 60,
            "thread topics never fell on every shard"
        );
        let title = format!("thread {}", threads.len());
        let thread = create_thread(&first, w.author.token(), &w.team_id, &title).await;
        shards.insert(cluster.master_of(&thread_topic(&thread)).await);
        threads.push(thread);
    }
    let mut watchers = Vec::new();
    for thread in &threads {
        for server in [&first, &second] {
            for _ in 0..WATCHERS_PER_SERVER {
                watchers.push((
                    thread.clone(),
                    watching(server, thread, w.member.token()).await,
                ));
            }
        }
    }
    for thread in &threads {
        first
            .send_message(&w.author.access_token, thread, "before")
            .await;
    }
    for (thread, watcher) in &mut watchers {
        assert_eq!(next_message(watcher).await, "before", "on {thread}");
    }

    // Rounds of messages, through each server in turn, from the kill until
    // the replica has taken over, and one round after.
    let failover = cluster.stop_master_of(&thread_topic(&threads[0])).await;
    let started = tokio::time::Instant::now();
    let mut rounds = 0;
    loop {
        let promoted = cluster.promoted(&failover).await;
        let server = if rounds % 2 == 0 { &first } else { &second };
        for thread in &threads {
            server
                .send_message(&w.author.access_token, thread, &format!("round {rounds}"))
                .await;
        }
        rounds += 1;
        if promoted {
            break;
        }
        assert!(
            started.elapsed() < FAILOVER_WITHIN,
            "the replica did not take over within {FAILOVER_WITHIN:?}"
        );
    }

    // Every subscriber, on both servers and every shard, gets every round
    // once and in order, whether live or from its feed's catch-up.
    for (thread, watcher) in &mut watchers {
        for round in 0..rounds {
            assert_eq!(
                next_on(watcher, thread, &cluster, [&first, &second]).await,
                format!("round {round}"),
                "on {thread}"
            );
        }
    }
    // And the cluster as it is now carries what comes next, right behind:
    // a round heard twice would come before it.
    for thread in &threads {
        second
            .send_message(&w.author.access_token, thread, "after")
            .await;
    }
    for (thread, watcher) in &mut watchers {
        assert_eq!(
            next_on(watcher, thread, &cluster, [&first, &second]).await,
            "after",
            "on {thread}"
        );
        watcher
            .expect_silence(Some("t"), Duration::from_millis(100))
            .await;
    }
}

/// The next message a watcher of `thread` hears; when none comes, fails
/// saying where the thread's topic is subscribed.
async fn next_on(
    watcher: &mut WsClient,
    thread: &str,
    cluster: &RedisCluster,
    servers: [&TestApp; 2],
) -> String {
    // Within the socket's own step timeout, to fail here with more to say.
    let within = orbit_tests::ws::STEP_TIMEOUT - Duration::from_secs(1);
    match tokio::time::timeout(within, next_message(watcher)).await {
        Ok(text) => text,
        Err(_) => {
            let topic = thread_topic(thread);
            panic!(
                "nothing on {thread} within {within:?}; its shard's subscriptions by node: {:?}; links up: {:?}",
                cluster.shard_subscribers_by_node(&topic).await,
                servers.map(|server| server.services.broker().is_connected()),
            );
        }
    }
}

/// Publishes in flight at once in the test below: enough that, unguarded,
/// the redis crate's cluster connection wedges when the master dies.
const PUBLISHES_IN_FLIGHT: usize = 300;

/// How many of one publish on each topic, all in flight at once, failed.
async fn failed_publishes(broker: &Broker, topics: &[String]) -> usize {
    let publishes = topics
        .iter()
        .map(|topic| broker.publish(topic, "load".to_owned().into()));
    futures::future::join_all(publishes)
        .await
        .iter()
        .filter(|published| published.is_err())
        .count()
}

#[tokio::test]
async fn publishing_resumes_after_a_failover_met_with_many_publishes_in_flight() {
    let mut cluster = RedisCluster::start().await;
    let publisher = Broker::redis(&cluster.url()).unwrap();
    let topics = topics_on_every_shard(&cluster, PUBLISHES_IN_FLIGHT).await;
    assert_eq!(failed_publishes(&publisher, &topics).await, 0);

    let failover = cluster.stop_master_of(&topics[0]).await;
    let started = tokio::time::Instant::now();
    loop {
        let promoted = cluster.promoted(&failover).await;
        failed_publishes(&publisher, &topics).await;
        if promoted {
            break;
        }
        assert!(
            started.elapsed() < FAILOVER_WITHIN,
            "the replica did not take over within {FAILOVER_WITHIN:?}"
        );
    }
    eventually("every publish is taken again", || async {
        failed_publishes(&publisher, &topics).await == 0
    })
    .await;
}
