//! Several `orbit` processes on one database and one Redis: each test runs
//! two (or three) servers that share nothing else, and a Redis of its own
//! that it may stop, as an outage would.

use std::time::Duration;

use orbit_api::config::Secret;
use orbit_domain::Clock;
use orbit_domain::events::Topic;
use orbit_domain::ids::ThreadId;
use orbit_realtime::{Delivery, Subscription};
use orbit_tests::ws::WsClient;
use orbit_tests::{
    RedisServer, TestApp, eventually, spawn_cluster, spawn_cluster_with, spawn_processes,
};
use serde_json::{Value, json};

const MESSAGES: &str = "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { ... on MessageCreatedEvent { cursor message { content } } } }";

pub(crate) async fn watching(
    app: &TestApp,
    thread: &str,
    token: Option<&str>,
    after: Option<&str>,
) -> WsClient {
    let mut client = WsClient::connected(&app.ws_url(), token).await;
    client
        .subscribe("t", MESSAGES, json!({ "id": thread, "after": after }))
        .await;
    client.ping().await;
    client
}

/// A new thread of the world's team, made by its author through `app`.
async fn new_thread(app: &TestApp, w: &orbit_tests::TeamWorld, n: usize) -> String {
    let data = app
        .gql_ok(
            w.author.token(),
            "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }",
            json!({ "input": { "title": format!("thread {n}"), "teamId": w.team_id } }),
        )
        .await;
    data["createThread"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The next message's content and cursor.
pub(crate) async fn next_message(client: &mut WsClient) -> (String, String) {
    let payload = client.next_payload("t").await;
    let event: &Value = &payload["data"]["threadEvents"];
    (
        event["message"]["content"]
            .as_str()
            .unwrap_or_else(|| panic!("not a message: {payload}"))
            .to_owned(),
        event["cursor"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_message_sent_through_one_server_reaches_subscribers_on_both() {
    let redis = RedisServer::start().await;
    message_through_one_process_reaches_both(&redis.url()).await;
}

/// Two processes on the Redis at `redis_url` (one Redis, or a cluster).
pub(crate) async fn message_through_one_process_reaches_both(redis_url: &str) {
    let (first, second) = spawn_cluster(redis_url).await;
    let w = first.new_team_world().await;
    let mut on_first = watching(&first, &w.thread_id, w.member.token(), None).await;
    let mut on_second = watching(&second, &w.thread_id, w.admin.token(), None).await;

    first
        .send_message(&w.author.access_token, &w.thread_id, "from the first")
        .await;
    second
        .send_message(&w.author.access_token, &w.thread_id, "from the second")
        .await;
    for client in [&mut on_first, &mut on_second] {
        assert_eq!(next_message(client).await.0, "from the first");
        assert_eq!(next_message(client).await.0, "from the second");
        client
            .expect_silence(Some("t"), Duration::from_millis(300))
            .await;
    }
}

#[tokio::test]
async fn with_redis_down_mutations_succeed_and_nothing_is_lost() {
    let mut redis = RedisServer::start().await;
    let (first, second) = spawn_cluster(&redis.url()).await;
    let w = first.new_team_world().await;
    let mut watcher = watching(&second, &w.thread_id, w.member.token(), None).await;
    first
        .send_message(&w.author.access_token, &w.thread_id, "before")
        .await;
    let (_, before) = next_message(&mut watcher).await;

    redis.stop();
    let during = ["during 1", "during 2", "during 3"];
    for content in during {
        first
            .send_message(&w.author.access_token, &w.thread_id, content)
            .await;
    }
    redis.restart().await;

    // The same subscription, never reconnected, gets what it missed, in
    // order and once each: from the relay's retry or the feed's catch-up.
    for content in during {
        assert_eq!(next_message(&mut watcher).await.0, content);
    }
    first
        .send_message(&w.author.access_token, &w.thread_id, "after")
        .await;
    assert_eq!(next_message(&mut watcher).await.0, "after");
    watcher
        .expect_silence(Some("t"), Duration::from_millis(500))
        .await;

    // A client that was away resumes with its cursor on either server.
    let mut resumed = watching(&first, &w.thread_id, w.admin.token(), Some(&before)).await;
    for content in during.iter().chain(&["after"]) {
        assert_eq!(next_message(&mut resumed).await.0, *content);
    }
    resumed
        .expect_silence(Some("t"), Duration::from_millis(300))
        .await;
}

const PRESENCE: &str = "subscription($id: ID!) { teamEvents(teamId: $id) { ... on PresenceChangedEvent { userId status } } }";

/// The next presence change of `user` the watcher hears, skipping others.
async fn next_presence_of(watcher: &mut WsClient, user: &str) -> String {
    loop {
        let payload = watcher.next_payload("p").await;
        let event = &payload["data"]["teamEvents"];
        if event["userId"] == user {
            return event["status"].as_str().unwrap().to_owned();
        }
    }
}

#[tokio::test]
async fn presence_spans_servers_and_a_dead_servers_users_go_offline_when_it_lapses() {
    let redis = RedisServer::start().await;
    presence_spans_processes(&redis.url()).await;
}

/// Two processes on the Redis at `redis_url` (one Redis, or a cluster).
pub(crate) async fn presence_spans_processes(redis_url: &str) {
    let (first, second) = spawn_cluster(redis_url).await;
    let w = first.new_team_world().await;
    let mut watcher = WsClient::connected(&second.ws_url(), w.member.token()).await;
    watcher
        .subscribe("p", PRESENCE, json!({ "id": w.team_id }))
        .await;
    watcher.ping().await;
    let presence_of = |user: String| {
        let app = &second;
        let key = w.keys.secret_key.clone();
        async move {
            let data = app
                .gql_ok(
                    Some(&key),
                    "query($id: ID!) { user(id: $id) { presence } }",
                    json!({ "id": user }),
                )
                .await;
            data["user"]["presence"].as_str().unwrap().to_owned()
        }
    };

    // A socket on one server; its team hears it on the other.
    let socket = WsClient::connected(&first.ws_url(), w.admin.token()).await;
    assert_eq!(
        next_presence_of(&mut watcher, &w.admin.user_id).await,
        "ONLINE"
    );
    assert_eq!(presence_of(w.admin.user_id.clone()).await, "ONLINE");
    drop(socket);
    assert_eq!(
        next_presence_of(&mut watcher, &w.admin.user_id).await,
        "OFFLINE"
    );

    // What a server that dies leaves behind: a connection of the author's
    // that it recorded and will never renew nor close.
    let viewer = first
        .gql_ok(
            Some(&w.author.access_token),
            "{ viewer { app { id } } }",
            json!({}),
        )
        .await;
    let app_id: orbit_domain::ids::AppId = viewer["viewer"]["app"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let in_app = |user: &str| {
        let user: orbit_domain::ids::UserId = user.parse().unwrap();
        orbit_realtime::PresenceUser {
            app: app_id.0.to_string(),
            user: user.0.to_string(),
        }
    };
    let author = in_app(&w.author.user_id);
    let member = in_app(&w.member.user_id);
    let ttl = std::time::Duration::from_secs(30);
    let store = orbit_realtime::Broker::redis(redis_url)
        .unwrap()
        .presence(&first.settings.redis_prefix, ttl);
    let recorded_at = first.clock.now().timestamp_millis();
    store
        .connect(&author, "ws-of-a-server-that-died", recorded_at)
        .await
        .unwrap();
    assert_eq!(presence_of(w.author.user_id.clone()).await, "ONLINE");

    // Before anything lapses, the server holding the watcher's socket renews
    // its connection on a tick: wait for that renewal itself (the connection
    // is then still live a little past the dead one's lapse).
    first.clock.advance(chrono::Duration::seconds(25));
    let past_the_lapse = recorded_at + 31_000;
    eventually("the watcher's connection is renewed", || async {
        store
            .statuses(std::slice::from_ref(&member), past_the_lapse)
            .await
            .unwrap()
            == [orbit_realtime::PresenceStatus::Online]
    })
    .await;
    first.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(
        next_presence_of(&mut watcher, &w.author.user_id).await,
        "OFFLINE"
    );
    assert_eq!(presence_of(w.author.user_id.clone()).await, "OFFLINE");
    assert_eq!(
        presence_of(w.member.user_id.clone()).await,
        "ONLINE",
        "the watcher's own connection was renewed all along"
    );
}

/// Two servers where the test decides what reaches the first, and in
/// which order: the second publishes to a Redis the first does not hear,
/// and the test hands its envelopes on to the first's broker itself.
struct Arranged {
    first: TestApp,
    second: TestApp,
    w: orbit_tests::TeamWorld,
    /// A member watching the thread on the first server.
    watcher: WsClient,
    topic: String,
    /// The thread's topic on the Redis only the second publishes to.
    relayed: Subscription,
    /// What the second published, in the order it was sent.
    sent: Vec<Delivery>,
    _redis: (RedisServer, RedisServer),
}

impl Arranged {
    /// The first server waits `reorder_wait` for an event ahead of its turn:
    /// long enough for a loaded machine to keep the order the test makes.
    async fn start(reorder_wait: Duration) -> Self {
        let heard = RedisServer::start().await;
        let unheard = RedisServer::start().await;
        let unheard_url = unheard.url();
        let (first, second) = spawn_cluster_with(
            &heard.url(),
            |settings| settings.reorder_wait = reorder_wait,
            |settings| settings.redis_url = Some(Secret::new(unheard_url)),
        )
        .await;
        let w = first.new_team_world().await;
        let watcher = watching(&first, &w.thread_id, w.member.token(), None).await;
        let topic = Topic::Thread(w.thread_id.parse::<ThreadId>().unwrap()).key();
        let relayed = second.services.broker().subscribe(&topic).await;
        Self {
            first,
            second,
            w,
            watcher,
            topic,
            relayed,
            sent: Vec::new(),
            _redis: (heard, unheard),
        }
    }

    /// Sends `content` through the second server and keeps what it
    /// published, without handing it to the first.
    async fn send(&mut self, content: &str) {
        self.second
            .send_message(&self.w.author.access_token, &self.w.thread_id, content)
            .await;
        let delivery = crate::redis_cluster::next_delivery(&mut self.relayed).await;
        assert!(
            matches!(delivery, Delivery::Message(_)),
            "a gap on a Redis nobody stopped"
        );
        self.sent.push(delivery);
    }

    /// Hands the `n`th message sent on to the first server.
    async fn publish(&self, n: usize) {
        let Delivery::Message(bytes) = &self.sent[n] else {
            unreachable!("only messages are kept");
        };
        self.first
            .services
            .broker()
            .publish(&self.topic, bytes.clone())
            .await
            .unwrap();
    }

    /// Hands the `n`th message on, and waits until the watcher holds it
    /// ahead of its turn.
    async fn publish_held(&self, n: usize) {
        let held_before = self.first.services.events_held_ahead();
        self.publish(n).await;
        eventually("the watcher holds it", || async {
            self.first.services.events_held_ahead() == held_before + 1
        })
        .await;
    }
}

/// With several processes, a topic's events reach the broker in commit
/// order only per process: one that comes ahead of its turn waits for the
/// one before it instead of sending every feed to the table; one whose
/// predecessor never comes is caught up from the table, once.
#[tokio::test]
async fn an_event_ahead_of_its_turn_waits_for_the_one_before_it_instead_of_reading_the_table() {
    let mut arranged = Arranged::start(Duration::from_secs(2)).await;
    for content in ["one", "two", "three", "four"] {
        arranged.send(content).await;
    }
    let reads_before = arranged.first.services.catch_up_reads_performed();

    arranged.publish_held(1).await;
    arranged.publish(0).await;
    assert_eq!(next_message(&mut arranged.watcher).await.0, "one");
    assert_eq!(next_message(&mut arranged.watcher).await.0, "two");
    assert_eq!(
        arranged.first.services.catch_up_reads_performed(),
        reads_before,
        "the event ahead of its turn waited; nothing was read"
    );

    // "three" never comes live: "four" waits for it a while, then the
    // table has it.
    arranged.publish(3).await;
    assert_eq!(next_message(&mut arranged.watcher).await.0, "three");
    assert_eq!(next_message(&mut arranged.watcher).await.0, "four");
    assert_eq!(
        arranged.first.services.catch_up_reads_performed(),
        reads_before + 1,
        "one read for the event that never came"
    );
    // Coming late after all, it is a repeat.
    arranged.publish(2).await;
    arranged
        .watcher
        .expect_silence(Some("t"), Duration::from_millis(300))
        .await;
}

/// A feed holding events ahead of their turn catches up from a read of the
/// table; one shared with another feed must have begun after the last event
/// it holds came, or it may lack one committed in between, which handing
/// out what is held beyond the read would skip for good.
#[tokio::test]
async fn a_feed_holding_events_never_skips_one_committed_after_a_read_it_shares() {
    // The wait is the window in which the test arranges a read for another
    // feed and two more commits.
    let mut arranged = Arranged::start(Duration::from_secs(5)).await;
    arranged.send("zero").await;
    arranged.publish(0).await;
    let (_, after_zero) = next_message(&mut arranged.watcher).await;
    arranged.send("one").await;
    arranged.send("two").await;
    arranged.publish_held(2).await;

    // Another subscriber resuming after "zero" reads the table now, at the
    // watcher's position: that read holds "one" and "two" only.
    let (first, w) = (&arranged.first, &arranged.w);
    let mut resumer = watching(first, &w.thread_id, w.member.token(), Some(&after_zero)).await;
    assert_eq!(next_message(&mut resumer).await.0, "one");
    assert_eq!(next_message(&mut resumer).await.0, "two");
    // "three" commits after that read; "four" comes live, "three" does not.
    arranged.send("three").await;
    arranged.send("four").await;
    arranged.publish(4).await;

    for content in ["one", "two", "three", "four"] {
        assert_eq!(next_message(&mut arranged.watcher).await.0, content);
    }
    for content in ["three", "four"] {
        assert_eq!(next_message(&mut resumer).await.0, content);
    }
}

/// Subscribers of each thread in the test below, on each server.
const SUBSCRIBERS_PER_THREAD_PER_SERVER: usize = 50;
const THREADS: usize = 10;

#[tokio::test]
async fn after_a_redis_restart_each_process_reads_a_topic_once_for_all_its_feeds() {
    let mut redis = RedisServer::start().await;
    let (first, second) = spawn_cluster(&redis.url()).await;
    let w = first.new_team_world().await;
    let mut threads = vec![w.thread_id.clone()];
    for n in 1..THREADS {
        threads.push(new_thread(&first, &w, n).await);
    }
    // 1,000 subscribers: 50 of each thread on each server.
    let mut watchers = Vec::new();
    for thread in &threads {
        for server in [&first, &second] {
            for _ in 0..SUBSCRIBERS_PER_THREAD_PER_SERVER {
                watchers.push((
                    thread.clone(),
                    watching(server, thread, w.member.token(), None).await,
                ));
            }
        }
    }
    let reads_before = [
        first.services.catch_up_reads_performed(),
        second.services.catch_up_reads_performed(),
    ];

    redis.stop();
    let during = ["during 1", "during 2", "during 3"];
    for thread in &threads {
        for content in during {
            first
                .send_message(&w.author.access_token, thread, content)
                .await;
        }
    }
    redis.restart().await;

    // Every subscriber gets what it missed, in order and once each; the
    // message sent after comes next, so nothing was repeated in between.
    for (thread, watcher) in &mut watchers {
        for content in during {
            assert_eq!(next_message(watcher).await.0, content, "on {thread}");
        }
    }
    for thread in &threads {
        first
            .send_message(&w.author.access_token, thread, "after")
            .await;
    }
    for (thread, watcher) in &mut watchers {
        assert_eq!(next_message(watcher).await.0, "after", "on {thread}");
    }

    // Each process read each topic's missed events at most once for its
    // 50 feeds of it, not once a feed.
    for (server, before) in [(&first, reads_before[0]), (&second, reads_before[1])] {
        let reads = server.services.catch_up_reads_performed() - before;
        assert!(
            reads <= THREADS as u64,
            "{reads} catch-up reads for {THREADS} topics"
        );
    }
}

const PROCESSES: usize = 3;
const SPREAD_THREADS: usize = 4;
/// Subscribers of each thread on each process.
const SUBSCRIBERS_PER_PROCESS: usize = 3;
/// Messages each process sends into each thread.
const SENDS_PER_PROCESS: usize = 5;

/// `orbit-bench ws-processes` at a small rate: every process both sends
/// and serves subscribers, all at once.
#[tokio::test]
async fn three_processes_deliver_what_any_of_them_commits_to_every_subscriber_once_in_one_order() {
    let redis = RedisServer::start().await;
    let servers = spawn_processes(&redis.url(), PROCESSES).await;
    let w = servers[0].new_team_world().await;
    let mut threads = Vec::new();
    for n in 0..SPREAD_THREADS {
        // Threads made through each process in turn.
        threads.push(new_thread(&servers[n % PROCESSES], &w, n).await);
    }
    let mut watchers = Vec::new();
    for thread in &threads {
        for server in &servers {
            for _ in 0..SUBSCRIBERS_PER_PROCESS {
                watchers.push((
                    thread.clone(),
                    watching(server, thread, w.member.token(), None).await,
                ));
            }
        }
    }

    // Each process sends into every thread at the same time as the others,
    // so commits through different processes interleave on each topic.
    let sends = servers.iter().enumerate().map(|(p, server)| {
        let (threads, token) = (&threads, &w.author.access_token);
        async move {
            for n in 0..SENDS_PER_PROCESS {
                for thread in threads {
                    server
                        .send_message(token, thread, &format!("process {p} message {n}"))
                        .await;
                }
            }
        }
    });
    futures::future::join_all(sends).await;

    let mut sent: Vec<String> = (0..PROCESSES)
        .flat_map(|p| (0..SENDS_PER_PROCESS).map(move |n| format!("process {p} message {n}")))
        .collect();
    sent.sort();
    // The first subscriber of a thread heard it in the order its topic's
    // sequence gave; every other, on whichever process, must hear the same.
    let mut heard_first: std::collections::HashMap<String, Vec<(String, String)>> =
        std::collections::HashMap::new();
    for (thread, watcher) in &mut watchers {
        let mut heard = Vec::new();
        for _ in 0..PROCESSES * SENDS_PER_PROCESS {
            heard.push(next_message(watcher).await);
        }
        watcher
            .expect_silence(Some("t"), Duration::from_millis(100))
            .await;
        match heard_first.get(thread) {
            Some(first) => assert_eq!(&heard, first, "on {thread}"),
            None => {
                let mut contents: Vec<String> = heard.iter().map(|(c, _)| c.clone()).collect();
                contents.sort();
                assert_eq!(contents, sent, "each message once on {thread}");
                heard_first.insert(thread.clone(), heard);
            }
        }
    }
}
