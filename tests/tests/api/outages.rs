//! A dependency down is not a bad credential: with the database refusing
//! connections, requests with valid credentials answer 503 `UNAVAILABLE`
//! with `Retry-After`, new sockets close with 1013, the OAuth endpoints say
//! `temporarily_unavailable`; nobody is told to sign out (401, 4401, 4403).
//! On Postgres the database comes back and so does the server, without a
//! restart, and nothing committed is lost.

use orbit_tests::ws::WsClient;
use orbit_tests::{error_code, spawn_app_with_breakable_database};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ME: &str = "{ me { id } }";

async fn post(
    app: &orbit_tests::TestApp,
    token: &str,
    query: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = app
        .client
        .post(app.graphql_url())
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

#[tokio::test]
async fn an_outage_is_unavailable_never_a_bad_credential() {
    let (app, outage) = spawn_app_with_breakable_database(|_| {}).await;
    let w = app.new_team_world().await;
    let keys = &w.keys;
    let mut before = WsClient::connected(&app.ws_url(), w.owner.token()).await;
    before
        .subscribe(
            "thread",
            "subscription S($t: ID!) { threadEvents(threadId: $t) { ... on MessageCreatedEvent { message { content } } } }",
            json!({ "t": w.thread_id }),
        )
        .await;
    before.ping().await;

    outage.begin(&app).await;

    for credential in [w.owner.access_token.as_str(), keys.secret_key.as_str()] {
        let (status, retry_after, body) = post(&app, credential, ME).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(retry_after.as_deref(), Some("5"), "{body}");
        assert_eq!(error_code(&body).as_deref(), Some("UNAVAILABLE"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["details"]["retryAfter"], 5);
    }

    // A new socket cannot be served: 1013, try again later (not 4403).
    let mut socket = WsClient::connect(&app.ws_url(), orbit_tests::ws::Protocol::TransportWs).await;
    socket
        .send_json(json!({ "type": "connection_init", "payload": { "authorization": w.owner.access_token } }))
        .await;
    let (code, _) = socket.expect_close().await;
    assert_eq!(code, 1013);

    // The OAuth token endpoint: 503 temporarily_unavailable, not invalid_grant.
    let response = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", w.owner.refresh_token.as_str()),
            ("client_id", keys.publishable_key.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    // Readiness says so too.
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    if !outage.can_end() {
        return;
    }
    outage.end();
    // Back without a restart: the same token works, and a message sent now
    // reaches the socket opened before the outage.
    let (status, _, body) = post(&app, &w.owner.access_token, ME).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["me"]["id"], w.owner.user_id.as_str(), "{body}");
    app.send_message(&w.owner.access_token, &w.thread_id, "after the outage")
        .await;
    let payload = before.next_payload("thread").await;
    assert_eq!(
        payload["data"]["threadEvents"]["message"]["content"], "after the outage",
        "{payload}"
    );
}

/// How far [`send_through_failures`] is: messages answered, and requests
/// refused because the database was down.
#[derive(Debug, Clone, Copy, Default)]
struct SendProgress {
    sent: usize,
    refused: usize,
}

/// Sends `count` messages one after another, each retried with its
/// idempotency key until it is answered (within 30 s), publishing its
/// progress so the test can act on it rather than on the clock.
async fn send_through_failures(
    app: &orbit_tests::TestApp,
    token: &str,
    thread: &str,
    count: usize,
    progress: &tokio::sync::watch::Sender<SendProgress>,
) {
    for n in 0..count {
        let input = json!({ "input": {
            "threadId": thread, "content": format!("m{n}"), "idempotencyKey": format!("k{n}"),
        }});
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut retry = tokio::time::interval(std::time::Duration::from_millis(100));
        loop {
            retry.tick().await;
            let (status, body) = app
                .post_graphql(
                    Some(token),
                    &json!({ "query": orbit_tests::SEND_MESSAGE, "variables": input }),
                )
                .await;
            if status == StatusCode::OK && body["data"]["sendMessage"]["message"].is_object() {
                break;
            }
            // Only a dependency down may refuse it; never a bad credential.
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "m{n}: {body}");
            progress.send_modify(|progress| progress.refused += 1);
            assert!(
                tokio::time::Instant::now() < deadline,
                "m{n} still refused after 30 s: {body}"
            );
        }
        progress.send_modify(|progress| progress.sent = n + 1);
    }
}

/// Postgres only (SQLite lives in the server's process: neither its
/// connections nor its backends can be cut from outside).
#[tokio::test]
async fn connections_cut_and_backends_terminated_mid_stream_lose_and_repeat_nothing() {
    let (app, outage) = spawn_app_with_breakable_database(|_| {}).await;
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty() && outage.can_end())
    else {
        eprintln!("runs on Postgres (TEST_DATABASE_URL)");
        return;
    };
    let w = app.new_team_world().await;
    let mut watcher = WsClient::connected(&app.ws_url(), w.member.token()).await;
    watcher
        .subscribe(
            "t",
            "subscription S($t: ID!) { threadEvents(threadId: $t) { ... on MessageCreatedEvent { cursor message { content } } } }",
            json!({ "t": w.thread_id }),
        )
        .await;
    watcher.ping().await;

    const COUNT: usize = 40;
    let (progress, watch_progress) = tokio::sync::watch::channel(SendProgress::default());
    let database = url::Url::parse(app.settings.database_url.as_ref().unwrap().expose())
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let chaos = async {
        let mut watch_progress = watch_progress;
        let mut reached = async |holds: fn(&SendProgress) -> bool| {
            watch_progress
                .wait_for(holds)
                .await
                .expect("the sender runs until the chaos is over");
        };
        reached(|p| p.sent >= 10).await;
        outage.begin(&app).await;
        // Cut until the sender has seen it: a send refused mid-stream.
        reached(|p| p.refused >= 1).await;
        outage.end();
        reached(|p| p.sent >= 25).await;
        // Every connection the server holds, ended by Postgres itself (57P01).
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(
            &admin,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            ),
        )
        .await
        .unwrap();
        let _ = admin.close().await;
    };
    tokio::join!(
        send_through_failures(&app, &w.owner.access_token, &w.thread_id, COUNT, &progress),
        chaos
    );

    // The subscriber that never reconnected: every message once, in order.
    for n in 0..COUNT {
        let payload = watcher.next_payload("t").await;
        assert_eq!(
            payload["data"]["threadEvents"]["message"]["content"],
            format!("m{n}"),
            "{payload}"
        );
    }
    watcher
        .expect_silence(Some("t"), std::time::Duration::from_millis(500))
        .await;
    // And the thread holds each exactly once.
    let stored = app
        .gql_ok(
            w.owner.token(),
            "query($id: ID!) { thread(id: $id) { messages(first: 100) { edges { node { content } } } } }",
            json!({ "id": w.thread_id }),
        )
        .await;
    let contents: Vec<&str> = stored["thread"]["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["content"].as_str().unwrap())
        .collect();
    // After the message the world starts with.
    let expected: Vec<String> = std::iter::once("hello team".to_owned())
        .chain((0..COUNT).map(|n| format!("m{n}")))
        .collect();
    assert_eq!(contents, expected);
}
