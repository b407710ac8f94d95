#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The operator's view end to end: `GET /metrics` after real traffic.
//!
//! The metrics recorder is global to a process, and every server a test
//! starts reports into it. Counters are only ever checked to have grown
//! (other tests of this binary add to them); the socket gauges are checked
//! exactly, which holds because only one test here opens sockets.

use orbit_tests::webhook_receiver::WebhookReceiver;
use orbit_tests::ws::WsClient;
use orbit_tests::{TestApp, eventually, metric, missing_id, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

const THREAD_EVENTS: &str =
    "subscription MetricsThread($id: ID!) { threadEvents(threadId: $id) { __typename } }";

#[tokio::test]
async fn operations_are_counted_by_type_name_and_outcome_code() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.member.token();
    let ok = app
        .gql(token, "query MetricsViewer { viewer { kind } }", json!({}))
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    let missing = app
        .gql(
            token,
            "query MetricsMissingThread($id: ID!) { thread(id: $id) { id } }",
            json!({ "id": missing_id("thr") }),
        )
        .await;
    let code = missing["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error code in {missing}"))
        .to_owned();
    app.gql(
        token,
        "mutation MetricsTeam($name: String!) { createTeam(input: { name: $name }) { team { id } } }",
        json!({ "name": "Metrics" }),
    )
    .await;
    // No credential of the right form: refused before any operation runs.
    let (status, _) = app
        .post_graphql(
            Some("not a token"),
            &json!({ "query": "{ viewer { kind } }" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let text = app.metrics().await;
    let operations =
        |labels: &[(&str, &str)]| metric(&text, "orbit_graphql_operations_total", labels);
    assert!(
        operations(&[
            ("type", "query"),
            ("operation", "MetricsViewer"),
            ("code", "OK")
        ]) >= Some(1.0),
        "{text}"
    );
    assert!(
        operations(&[
            ("type", "query"),
            ("operation", "MetricsMissingThread"),
            ("code", code.as_str())
        ]) >= Some(1.0),
        "{code}: {text}"
    );
    assert_eq!(
        operations(&[("operation", "MetricsMissingThread"), ("code", "OK")]),
        None,
        "{text}"
    );
    assert!(
        operations(&[
            ("type", "mutation"),
            ("operation", "MetricsTeam"),
            ("code", "OK")
        ]) >= Some(1.0),
        "{text}"
    );
    assert!(
        operations(&[("type", "unknown"), ("code", "UNAUTHENTICATED")]) >= Some(1.0),
        "{text}"
    );
    // The latency histogram: buckets, a count and a sum for the operation.
    let viewer = [("type", "query"), ("operation", "MetricsViewer")];
    assert!(
        metric(
            &text,
            "orbit_graphql_operation_duration_seconds_count",
            &viewer
        ) >= Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "orbit_graphql_operation_duration_seconds_bucket",
            &[("operation", "MetricsViewer"), ("le", "+Inf")]
        ) >= Some(1.0),
        "{text}"
    );
    assert!(text.contains("# TYPE orbit_graphql_operation_duration_seconds histogram"));
    // Every routed request, by route pattern and status.
    assert!(
        metric(
            &text,
            "orbit_http_requests_total",
            &[("route", "/graphql"), ("status", "200")]
        ) >= Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "orbit_http_request_duration_seconds_count",
            &[("route", "/graphql")]
        ) >= Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn unnamed_and_unruly_operation_names_are_bounded() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.member.token();
    app.gql(token, "{ viewer { kind } }", json!({})).await;
    // Not a name a label takes: counted as anonymous, not as itself.
    let (status, _) = app
        .post_graphql(
            token,
            &json!({ "query": "query A { viewer { kind } }", "operationName": "x y" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = app.metrics().await;
    assert!(
        metric(
            &text,
            "orbit_graphql_operations_total",
            &[
                ("type", "query"),
                ("operation", "anonymous"),
                ("code", "OK")
            ]
        ) >= Some(1.0),
        "{text}"
    );
    assert!(!text.contains("operation=\"x y\""), "{text}");
}

#[tokio::test]
async fn open_sockets_and_subscriptions_move_with_a_websocket() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let gauges = || async {
        let text = app.metrics().await;
        (
            metric(&text, "orbit_websocket_connections", &[]).unwrap_or(0.0),
            metric(&text, "orbit_subscriptions", &[]).unwrap_or(0.0),
        )
    };
    assert_eq!(gauges().await, (0.0, 0.0));

    let mut client = WsClient::connected(&app.ws_url(), w.member.token()).await;
    client
        .subscribe("t", THREAD_EVENTS, json!({ "id": w.thread_id }))
        .await;
    client.ping().await;
    eventually("the socket and its subscription are counted", || async {
        gauges().await == (1.0, 1.0)
    })
    .await;
    // The subscribe is an operation like any over HTTP; so is a refused one.
    client
        .subscribe("missing", THREAD_EVENTS, json!({ "id": missing_id("thr") }))
        .await;
    let refused = client.expect_error("missing").await;
    let refused_code = refused[0]["extensions"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("subscriptions are counted as operations", || async {
        let text = app.metrics().await;
        let operations = |code: &str| {
            metric(
                &text,
                "orbit_graphql_operations_total",
                &[
                    ("type", "subscription"),
                    ("operation", "MetricsThread"),
                    ("code", code),
                ],
            )
        };
        operations("OK") >= Some(1.0) && operations(&refused_code) >= Some(1.0)
    })
    .await;
    // An event for the subscription comes through the broker.
    let received = || async {
        metric(&app.metrics().await, "orbit_broker_received_total", &[]).unwrap_or(0.0)
    };
    let before = received().await;
    app.send_message(&w.author.access_token, &w.thread_id, "through the broker")
        .await;
    client.next_payload("t").await;
    assert!(received().await > before);

    client.complete("t").await;
    client.ping().await;
    eventually("the subscription ended", || async {
        gauges().await == (1.0, 0.0)
    })
    .await;

    drop(client);
    eventually("the socket closed", || async {
        gauges().await == (0.0, 0.0)
    })
    .await;
}

#[tokio::test]
async fn rate_limit_refusals_are_counted_by_limit() {
    let app = spawn_app().await;
    let limit = orbit_api::limits::DEVICE_AUTHORIZATIONS_PER_ADDRESS;
    let mut last = StatusCode::OK;
    for _ in 0..=limit.max {
        last = app
            .client
            .post(format!("{}/oauth/device/authorize", app.address))
            .form(&[("client_id", "orbit-cli")])
            .send()
            .await
            .unwrap()
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let text = app.metrics().await;
    assert!(
        metric(
            &text,
            "orbit_rate_limit_refusals_total",
            &[("limit", limit.name)]
        ) >= Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "orbit_http_requests_total",
            &[("route", "/oauth/device/authorize"), ("status", "429")]
        ) >= Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn webhook_outcomes_relay_and_queues_are_reported() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let created = app
        .gql_ok(
            Some(&w.keys.secret_key),
            "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { signingSecret } }",
            json!({ "input": { "url": receiver.url(), "eventTypes": ["message.created"] } }),
        )
        .await;
    receiver.trust(created["createWebhook"]["signingSecret"].as_str().unwrap());
    app.send_message(&w.author.access_token, &w.thread_id, "measured")
        .await;
    assert!(receiver.next().await.verified());

    eventually("the delivery is counted", || async {
        let text = app.metrics().await;
        metric(
            &text,
            "orbit_webhook_deliveries_total",
            &[("outcome", "succeeded")],
        ) >= Some(1.0)
    })
    .await;
    let text = app.metrics().await;
    assert!(
        metric(&text, "orbit_webhook_delivery_duration_seconds_count", &[]) >= Some(1.0),
        "{text}"
    );
    // The relay published the message's events through the broker.
    assert!(
        metric(&text, "orbit_relay_published_total", &[]) >= Some(1.0),
        "{text}"
    );
    assert!(
        metric(&text, "orbit_relay_lag_seconds_count", &[]) >= Some(1.0),
        "{text}"
    );
    assert!(
        metric(&text, "orbit_broker_published_total", &[("outcome", "ok")]) >= Some(1.0),
        "{text}"
    );
    // Read from this server's database at the scrape: every queue is there,
    // and the delivery is done, so none waits.
    for queue in ["webhook_deliveries", "agent_replies", "routine_runs"] {
        for status in ["queued", "running"] {
            assert!(
                metric(
                    &text,
                    "orbit_worker_queue_depth",
                    &[("queue", queue), ("status", status)]
                )
                .is_some(),
                "{queue} {status}: {text}"
            );
        }
    }
    assert_eq!(
        metric(
            &text,
            "orbit_worker_queue_depth",
            &[("queue", "webhook_deliveries"), ("status", "queued")]
        ),
        Some(0.0),
        "{text}"
    );
    assert!(
        metric(&text, "orbit_outbox_backlog", &[]).is_some(),
        "{text}"
    );
    assert!(
        metric(&text, "orbit_db_pool_max_connections", &[]) >= Some(1.0),
        "{text}"
    );
    assert!(
        metric(&text, "orbit_db_pool_connections", &[("state", "idle")]).is_some(),
        "{text}"
    );
}

#[tokio::test]
async fn queued_work_shows_in_the_queue_depth() {
    // No worker here: the delivery stays queued.
    let app = spawn_app_with(|settings| settings.run_worker = false).await;
    let w = app.new_team_world().await;
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    app.gql_ok(
        Some(&w.keys.secret_key),
        "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { signingSecret } }",
        json!({ "input": { "url": receiver.url(), "eventTypes": ["message.created"] } }),
    )
    .await;
    app.send_message(&w.author.access_token, &w.thread_id, "waiting")
        .await;
    let text = app.metrics().await;
    assert_eq!(
        metric(
            &text,
            "orbit_worker_queue_depth",
            &[("queue", "webhook_deliveries"), ("status", "queued")]
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_can_want_a_token_or_be_off() {
    let app = spawn_app_with(|settings| {
        settings.metrics_token = Some(orbit_api::config::Secret::new("scrape-me"));
    })
    .await;
    assert_eq!(app.get("/metrics").await.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("scrape-you")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert!(
        right
            .text()
            .await
            .unwrap()
            .contains("orbit_db_pool_max_connections"),
        "the exposition"
    );

    let off = spawn_app_with(|settings| settings.metrics = false).await;
    assert_eq!(off.get("/metrics").await.status(), StatusCode::NOT_FOUND);
}

/// The exposition is Prometheus text: `# HELP` and `# TYPE` lines, and the
/// content type scrapers expect.
#[tokio::test]
async fn the_exposition_is_prometheus_text() {
    let app: TestApp = spawn_app().await;
    let response = app.get("/metrics").await;
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE orbit_db_pool_max_connections gauge"),
        "{text}"
    );
    assert!(text.contains("# HELP orbit_outbox_backlog "), "{text}");
}

#[tokio::test]
async fn a_claim_past_another_lease_counts_as_a_takeover() {
    // No worker: this test claims as two processes would.
    let app = spawn_app_with(|settings| settings.run_worker = false).await;
    let w = app.new_team_world().await;
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    app.gql_ok(
        Some(&w.keys.secret_key),
        "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { signingSecret } }",
        json!({ "input": { "url": receiver.url(), "eventTypes": ["message.created"] } }),
    )
    .await;
    app.send_message(&w.author.access_token, &w.thread_id, "taken over")
        .await;
    let db = app.services.db();
    let now = orbit_domain::Clock::now(&*app.clock);
    let lease = chrono::Duration::minutes(1);
    let first = orbit_persistence::webhooks::claim_due(db, "died", now, lease, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let before = metric(
        &app.metrics().await,
        "orbit_lease_takeovers_total",
        &[("queue", "webhook_deliveries")],
    )
    .unwrap_or(0.0);
    // Still leased: nothing to take.
    let early = orbit_persistence::webhooks::claim_due(db, "other", now, lease, 10)
        .await
        .unwrap();
    assert!(early.is_empty());
    let later = now + chrono::Duration::minutes(2);
    let taken = orbit_persistence::webhooks::claim_due(db, "other", later, lease, 10)
        .await
        .unwrap();
    assert_eq!(taken, first);
    let after = metric(
        &app.metrics().await,
        "orbit_lease_takeovers_total",
        &[("queue", "webhook_deliveries")],
    );
    assert!(after >= Some(before + 1.0), "{before} then {after:?}");
}

/// With `ORBIT_DATABASE_OPEN_AHEAD` a starting server opens its kept
/// Postgres connections before any write asks for one; without it (as in
/// the other tests) it opens them as writes need them.
#[tokio::test]
async fn a_server_opens_its_kept_connections_as_it_starts_when_told() {
    // More than a starting server opens in its pool (one, a few at most).
    const KEPT: usize = 8;
    let ahead = spawn_app_with(|settings| {
        settings.database_kept_connections = KEPT;
        settings.database_open_ahead = true;
    })
    .await;
    if ahead.services.db().backend() != orbit_persistence::Backend::Postgres {
        eprintln!("kept connections are Postgres's: set TEST_DATABASE_URL");
        return;
    }
    let not_ahead = spawn_app_with(|settings| settings.database_kept_connections = KEPT).await;
    // The pool opens one at the start; the kept ones come on top of it.
    eventually("the kept connections are open", || async {
        ahead.services.db().pool_status().size > KEPT as u32
    })
    .await;
    assert!(
        not_ahead.services.db().pool_status().size <= KEPT as u32,
        "{:?}",
        not_ahead.services.db().pool_status()
    );
}
