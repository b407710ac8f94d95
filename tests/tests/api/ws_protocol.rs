//! `graphql-transport-ws` as its PROTOCOL.md says, including where
//! async-graphql's own handler differs, the legacy `graphql-ws`
//! subprotocol, and the per-socket limits.

use std::time::Duration;

use orbit_tests::ws::{Protocol, WsClient};
use orbit_tests::{SEND_MESSAGE, spawn_app, spawn_app_with};
use serde_json::json;

const ME: &str = "{ me { id } }";

#[tokio::test]
async fn no_connection_init_within_the_timeout_closes_with_4408() {
    let app =
        spawn_app_with(|settings| settings.ws_init_timeout = Duration::from_millis(200)).await;
    let mut client = WsClient::connect(&app.ws_url(), Protocol::TransportWs).await;
    assert_eq!(client.expect_close().await.0, 4408);
}

#[tokio::test]
async fn a_second_connection_init_closes_with_4429() {
    let app = spawn_app().await;
    let mut client = WsClient::connected(&app.ws_url(), None).await;
    client.send_json(json!({ "type": "connection_init" })).await;
    assert_eq!(client.expect_close().await.0, 4429);
}

#[tokio::test]
async fn subscribe_before_the_ack_closes_with_4401() {
    let app = spawn_app().await;
    let mut client = WsClient::connect(&app.ws_url(), Protocol::TransportWs).await;
    client.subscribe("1", ME, json!({})).await;
    assert_eq!(client.expect_close().await.0, 4401);
}

#[tokio::test]
async fn a_running_subscription_id_used_again_closes_with_4409() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = WsClient::connected(&app.ws_url(), w.member.token()).await;
    let query = "subscription($id: ID!) { threadEvents(threadId: $id) { __typename } }";
    client
        .subscribe("same", query, json!({ "id": w.thread_id }))
        .await;
    client.ping().await;
    client
        .subscribe("same", query, json!({ "id": w.thread_id }))
        .await;
    assert_eq!(client.expect_close().await.0, 4409);
}

#[tokio::test]
async fn malformed_messages_close_with_4400() {
    let app = spawn_app().await;
    for bad in [
        "not json",
        r#"{"no":"type"}"#,
        r#"{"type":"launch_missiles"}"#,
        r#"{"type":"subscribe","payload":{"query":"{ me { id } }"}}"#,
        r#"{"type":"subscribe","id":"1","payload":"not an object"}"#,
    ] {
        let mut client = WsClient::connected(&app.ws_url(), None).await;
        client.send_text(bad).await;
        assert_eq!(client.expect_close().await.0, 4400, "for {bad}");
    }
    let mut client = WsClient::connect(&app.ws_url(), Protocol::TransportWs).await;
    client
        .send_json(json!({ "type": "connection_init", "payload": "a string" }))
        .await;
    assert_eq!(client.expect_close().await.0, 4400);
}

#[tokio::test]
async fn ping_is_answered_with_pong_and_queries_and_mutations_run_over_the_socket() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = WsClient::connected(&app.ws_url(), w.member.token()).await;
    client.ping().await;
    client.subscribe("q", ME, json!({})).await;
    let me = client.next_payload("q").await;
    assert_eq!(me["data"]["me"]["id"], w.member.user_id.as_str());
    client.expect_complete("q").await;

    client
        .subscribe(
            "m",
            SEND_MESSAGE,
            json!({ "input": { "threadId": w.thread_id, "content": "over the socket" } }),
        )
        .await;
    let sent = client.next_payload("m").await;
    assert_eq!(
        sent["data"]["sendMessage"]["message"]["content"],
        "over the socket"
    );
    client.expect_complete("m").await;

    // A finished id may be used again.
    client.subscribe("q", ME, json!({})).await;
    client.next_payload("q").await;
    client.expect_complete("q").await;
}

#[tokio::test]
async fn a_bad_credential_in_connection_init_closes_with_4403() {
    let app = spawn_app().await;
    let mut client = WsClient::connect(&app.ws_url(), Protocol::TransportWs).await;
    client
        .send_json(json!({ "type": "connection_init", "payload": { "authorization": "Bearer not-a-token" } }))
        .await;
    assert_eq!(client.expect_close().await.0, 4403);
}

#[tokio::test]
async fn the_legacy_protocol_runs_nothing_before_its_init_and_works_after() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut early = WsClient::connect(&app.ws_url(), Protocol::LegacyGraphqlWs).await;
    early.subscribe("1", ME, json!({})).await;
    assert_eq!(early.expect_close().await.0, 4401);

    let mut client = WsClient::connect(&app.ws_url(), Protocol::LegacyGraphqlWs).await;
    client.init(w.member.token()).await;
    client
        .subscribe(
            "t",
            "subscription($id: ID!) { threadEvents(threadId: $id) { ... on MessageCreatedEvent { message { content } } } }",
            json!({ "id": w.thread_id }),
        )
        .await;
    client.subscribe("q", ME, json!({})).await;
    let me = client.next_payload("q").await;
    assert_eq!(me["data"]["me"]["id"], w.member.user_id.as_str());
    app.send_message(&w.author.access_token, &w.thread_id, "legacy hello")
        .await;
    let event = client.next_payload("t").await;
    assert_eq!(
        event["data"]["threadEvents"]["message"]["content"],
        "legacy hello"
    );
    client.complete("t").await;
    client.expect_complete("t").await;
}

#[tokio::test]
async fn operations_per_socket_are_limited() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = WsClient::connected(&app.ws_url(), w.member.token()).await;
    let query = "subscription($id: ID!) { threadEvents(threadId: $id) { __typename } }";
    for n in 0..100 {
        client
            .subscribe(&format!("s{n}"), query, json!({ "id": w.thread_id }))
            .await;
    }
    client
        .subscribe("one-too-many", query, json!({ "id": w.thread_id }))
        .await;
    let errors = client.expect_error("one-too-many").await;
    assert_eq!(errors[0]["extensions"]["code"], "RATE_LIMITED");
    // Ending one makes room.
    client.complete("s0").await;
    client.ping().await;
    client.subscribe("room", ME, json!({})).await;
    client.next_payload("room").await;
}

#[tokio::test]
async fn an_oversized_message_closes_the_socket() {
    let app = spawn_app().await;
    let mut client = WsClient::connected(&app.ws_url(), None).await;
    let huge = format!(
        r#"{{"type":"subscribe","id":"1","payload":{{"query":"{{ me {{ id }} }}","variables":{{"pad":"{}"}}}}}}"#,
        "x".repeat(300 * 1024)
    );
    client.send_text(&huge).await;
    let (code, _) = client.expect_close().await;
    assert!(code == 1009 || code == 1006, "closed with {code}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_others_keep_receiving() {
    // A short queue, so the test does not have to fill a long one.
    let app = spawn_app_with(|settings| settings.ws_send_queue = 16).await;
    let w = app.new_team_world().await;
    let query = "subscription($id: ID!) { threadEvents(threadId: $id) { ... on MessageCreatedEvent { message { content } } } }";
    let mut stalled = WsClient::connected(&app.ws_url(), w.member.token()).await;
    stalled
        .subscribe("t", query, json!({ "id": w.thread_id }))
        .await;
    stalled.ping().await;
    let mut reader = WsClient::connected(&app.ws_url(), w.admin.token()).await;
    reader
        .subscribe("t", query, json!({ "id": w.thread_id }))
        .await;
    reader.ping().await;

    // Big messages fill the stalled client's socket buffers, then the
    // server's queue for it; the reader drains as it goes.
    let content = "z".repeat(9_000);
    let mut received = 0;
    for _ in 0..1000 {
        app.send_message(&w.author.access_token, &w.thread_id, &content)
            .await;
        let event = reader.next_payload("t").await;
        assert_eq!(
            event["data"]["threadEvents"]["message"]["content"]
                .as_str()
                .map(str::len),
            Some(9_000)
        );
        received += 1;
    }
    assert_eq!(received, 1000);
    let closed = stalled.drain_until_closed().await;
    assert!(closed, "the stalled socket was never dropped");
}
