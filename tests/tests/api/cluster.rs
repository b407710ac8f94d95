//! Several `orbit` processes on one database and one Redis: each test runs
//! two servers that share nothing else, and a Redis of its own that it may
//! stop, as an outage would.

use std::time::Duration;

use orbit_tests::ws::WsClient;
use orbit_tests::{RedisServer, TestApp, spawn_cluster};
use serde_json::{Value, json};

const MESSAGES: &str = "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { ... on MessageCreatedEvent { cursor message { content } } } }";

async fn watching(
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

/// The next message's content and cursor.
async fn next_message(client: &mut WsClient) -> (String, String) {
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
    let (first, second) = spawn_cluster(&redis.url()).await;
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
