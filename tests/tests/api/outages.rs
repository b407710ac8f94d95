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
