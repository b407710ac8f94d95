//! Webhooks end to end: a receiver on loopback checks every delivery's
//! signature with the secret `createWebhook` gave, and answers from a
//! script; the test moves the clock for retries and wakes the worker.

use chrono::{DateTime, Duration, Utc};
use orbit_domain::Clock;
use orbit_domain::ids::{AppId, AppScope, ThreadId, UserId};
use orbit_persistence::messages::{self, NewMessage};
use orbit_tests::webhook_receiver::{Reply, WebhookReceiver};
use orbit_tests::{
    SharedDatabase, TestApp, assert_error, eventually, missing_id, spawn_app, spawn_app_with,
    start_time,
};
use serde_json::{Value, json};

pub const CREATE_WEBHOOK: &str = "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { signingSecret webhook { id url eventTypes enabled createdAt } } }";
pub const UPDATE_WEBHOOK: &str = "mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { id url eventTypes enabled disabledReason } } }";
pub const DELETE_WEBHOOK: &str =
    "mutation($input: DeleteWebhookInput!) { deleteWebhook(input: $input) { deletedWebhookId } }";
pub const ROTATE_SECRET: &str = "mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { signingSecret webhook { id previousSecretExpiresAt } } }";
pub const REDELIVER: &str = "mutation($input: RedeliverWebhookDeliveryInput!) { redeliverWebhookDelivery(input: $input) { delivery { id status nextAttemptAt } } }";
pub const WEBHOOKS: &str =
    "query($appId: ID) { webhooks(appId: $appId, first: 50) { edges { node { id url } } } }";
const DELIVERIES: &str = "query($id: ID!) { webhook(id: $id) { enabled disabledReason deliveries(first: 50) { edges { node { id webhookId eventId eventType status nextAttemptAt retriesUntil finishedAt failureReason payload attempts { attemptedAt durationMs statusCode error succeeded } } } } } }";

/// Creates a webhook with `credential` (a secret key); returns its id and
/// signing secret.
pub async fn create_webhook(
    app: &TestApp,
    credential: &str,
    url: &str,
    event_types: &[&str],
) -> (String, String) {
    let data = app
        .gql_ok(
            Some(credential),
            CREATE_WEBHOOK,
            json!({ "input": { "url": url, "eventTypes": event_types } }),
        )
        .await;
    let created = &data["createWebhook"];
    (
        created["webhook"]["id"].as_str().unwrap().to_owned(),
        created["signingSecret"].as_str().unwrap().to_owned(),
    )
}

/// The webhook's deliveries, newest first.
async fn deliveries(app: &TestApp, credential: &str, webhook: &str) -> Vec<Value> {
    webhook_state(app, credential, webhook).await["deliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// The deliveries once `done` holds for them (the worker records an
/// attempt just after the receiver answered it).
async fn deliveries_once(
    app: &TestApp,
    credential: &str,
    webhook: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let done = &done;
    eventually(what, || async move {
        done(&deliveries(app, credential, webhook).await)
    })
    .await;
    deliveries(app, credential, webhook).await
}

/// `createWebhook`'s whole response, for inputs it should refuse.
async fn try_create(app: &TestApp, credential: &str, url: &str, event_types: Value) -> Value {
    app.gql(
        Some(credential),
        CREATE_WEBHOOK,
        json!({ "input": { "url": url, "eventTypes": event_types } }),
    )
    .await
}

/// One delivery, tried once.
fn one_attempted(nodes: &[Value]) -> bool {
    nodes.len() == 1
        && nodes[0]["attempts"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
}

#[track_caller]
fn assert_mentions(text: &Value, needle: &str) {
    assert!(
        text.as_str().is_some_and(|text| text.contains(needle)),
        "`{needle}` not in {text}"
    );
}

/// The webhook as the app's secret key reads it, with its deliveries.
async fn webhook_state(app: &TestApp, credential: &str, webhook: &str) -> Value {
    let data = app
        .gql_ok(Some(credential), DELIVERIES, json!({ "id": webhook }))
        .await;
    data["webhook"].clone()
}

fn statuses(nodes: &[Value]) -> Vec<&str> {
    nodes
        .iter()
        .map(|node| node["status"].as_str().unwrap())
        .collect()
}

fn attempt_codes(node: &Value) -> Vec<Value> {
    node["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["statusCode"].clone())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(
        value
            .as_str()
            .unwrap_or_else(|| panic!("not a time: {value}")),
    )
    .unwrap()
    .with_timezone(&Utc)
}

/// Sends a message with the app's secret key, which outlives access tokens
/// when a test moves the clock by hours.
async fn post_as_app(app: &TestApp, w: &orbit_tests::TeamWorld, content: &str) {
    app.gql_ok(
        Some(&w.keys.secret_key),
        orbit_tests::SEND_MESSAGE,
        json!({ "input": { "threadId": w.thread_id, "authorId": w.author.user_id, "content": content } }),
    )
    .await;
}

/// Moves the server's clock and lets the worker look for due work.
fn advance(app: &TestApp, by: Duration) {
    app.clock.advance(by);
    app.services.wake_worker();
}

#[tokio::test]
async fn a_message_is_delivered_signed_with_its_event_id() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (webhook, secret) = create_webhook(&app, sk, &receiver.url(), &["message.created"]).await;
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    receiver.trust(&secret);

    let message = app
        .send_message(&w.author.access_token, &w.thread_id, "ship it")
        .await;
    let got = receiver.next().await;
    assert!(got.verified(), "{got:?}");
    assert_eq!(got.signatures, 1);
    let signature = got.header("orbit-signature").unwrap();
    assert!(
        signature.starts_with(&format!("t={},v1=", start_time().timestamp())),
        "{signature}"
    );
    let body = got.json();
    let event_id = body["id"].as_str().unwrap();
    assert!(event_id.starts_with("evt_"), "{body}");
    assert_eq!(body["type"], "message.created");
    assert_eq!(body["appId"], w.keys.app_id.as_str());
    assert_eq!(body["createdAt"], "2026-01-01T00:00:00.000Z");
    assert_eq!(body["data"]["messageId"], message.as_str());
    assert_eq!(body["data"]["threadId"], w.thread_id.as_str());
    assert_eq!(body["data"]["authorId"], w.author.user_id.as_str());
    assert_eq!(body["data"]["content"], "ship it");
    assert_eq!(got.header("orbit-event-id"), Some(event_id));
    assert_eq!(got.header("idempotency-key"), Some(event_id));
    assert_eq!(got.header("orbit-event-type"), Some("message.created"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert!(
        got.header("user-agent")
            .is_some_and(|agent| agent.starts_with("Orbit-Webhooks/"))
    );

    let nodes = deliveries_once(&app, sk, &webhook, "the delivery succeeds", |nodes| {
        statuses(nodes) == ["SUCCEEDED"]
    })
    .await;
    let delivery = &nodes[0];
    assert_eq!(got.header("orbit-delivery-id"), delivery["id"].as_str());
    assert_eq!(delivery["webhookId"], webhook.as_str());
    assert_eq!(delivery["eventId"], event_id);
    assert_eq!(delivery["eventType"], "message.created");
    assert_eq!(
        delivery["payload"], body,
        "the payload listed is the body sent"
    );
    assert!(delivery["nextAttemptAt"].is_null());
    assert_eq!(time(&delivery["finishedAt"]), start_time());
    assert_eq!(
        time(&delivery["retriesUntil"]),
        start_time() + Duration::days(1)
    );
    let attempt = &delivery["attempts"][0];
    assert_eq!(attempt_codes(delivery), [json!(200)]);
    assert_eq!(attempt["succeeded"], true);
    assert!(attempt["error"].is_null());
    assert_eq!(time(&attempt["attemptedAt"]), start_time());
    assert!(attempt["durationMs"].as_i64().unwrap() >= 0);
}

#[tokio::test]
async fn the_receiver_answers_500_then_200_then_410() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(
        app.clock.clone(),
        [Reply::Status(500), Reply::Status(200), Reply::Status(410)],
    )
    .await;
    let (webhook, secret) = create_webhook(&app, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&secret);

    // 500: tried again after its backoff, and only then.
    app.send_message(&w.author.access_token, &w.thread_id, "first")
        .await;
    let refused = receiver.next().await;
    assert!(refused.verified(), "{refused:?}");
    assert_eq!(refused.reply, Reply::Status(500));
    let nodes = deliveries_once(&app, sk, &webhook, "the 500 is recorded", one_attempted).await;
    let waiting = &nodes[0];
    assert_eq!(waiting["status"], "QUEUED");
    assert_eq!(attempt_codes(waiting), [json!(500)]);
    assert_eq!(waiting["attempts"][0]["succeeded"], false);
    assert_mentions(&waiting["attempts"][0]["error"], "500");
    let retry_at = time(&waiting["nextAttemptAt"]);
    let now = app.clock.now();
    assert!(
        retry_at >= now + Duration::seconds(1) && retry_at <= now + Duration::seconds(30),
        "the first retry waits up to 30 s (full jitter): {retry_at}"
    );
    advance(&app, retry_at - now);
    let accepted = receiver.next().await;
    assert!(accepted.verified(), "{accepted:?}");
    assert_eq!(accepted.reply, Reply::Status(200));
    assert_eq!(
        accepted.body, refused.body,
        "every attempt sends the same body"
    );
    assert_eq!(
        accepted.header("orbit-event-id"),
        refused.header("orbit-event-id")
    );
    let nodes = deliveries_once(&app, sk, &webhook, "the retry succeeds", |nodes| {
        statuses(nodes) == ["SUCCEEDED"]
    })
    .await;
    assert_eq!(attempt_codes(&nodes[0]), [json!(500), json!(200)]);

    // 410: given up at once, and the webhook turned off.
    app.send_message(&w.author.access_token, &w.thread_id, "second")
        .await;
    let gone = receiver.next().await;
    assert_eq!(gone.reply, Reply::Status(410));
    let nodes = deliveries_once(&app, sk, &webhook, "the 410 ends the delivery", |nodes| {
        statuses(nodes) == ["FAILED", "SUCCEEDED"]
    })
    .await;
    assert_eq!(attempt_codes(&nodes[0]), [json!(410)]);
    assert!(nodes[0]["nextAttemptAt"].is_null());
    assert_mentions(&nodes[0]["failureReason"], "410");
    let data = webhook_state(&app, sk, &webhook).await;
    assert_eq!(data["enabled"], false);
    assert_mentions(&data["disabledReason"], "410");

    // A webhook that is off gets no deliveries, however far time goes.
    app.send_message(&w.author.access_token, &w.thread_id, "third")
        .await;
    advance(&app, Duration::days(2));
    assert_eq!(deliveries(&app, sk, &webhook).await.len(), 2);
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test]
async fn a_delivery_is_given_up_after_a_day_of_failures() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), [Reply::Status(503); 10]).await;
    let (webhook, secret) = create_webhook(&app, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&secret);
    app.send_message(&w.author.access_token, &w.thread_id, "doomed")
        .await;
    receiver.next().await;
    let nodes = deliveries_once(
        &app,
        sk,
        &webhook,
        "the first failure is recorded",
        one_attempted,
    )
    .await;
    assert_eq!(nodes[0]["status"], "QUEUED");

    advance(&app, Duration::days(1) + Duration::minutes(1));
    let last = receiver.next().await;
    assert_eq!(last.reply, Reply::Status(503));
    let nodes = deliveries_once(&app, sk, &webhook, "the delivery is given up", |nodes| {
        statuses(nodes) == ["FAILED"]
    })
    .await;
    assert_eq!(attempt_codes(&nodes[0]), [json!(503), json!(503)]);
    assert!(nodes[0]["nextAttemptAt"].is_null());
    assert_mentions(&nodes[0]["failureReason"], "24 hours");
    // Giving up on one delivery leaves the webhook on.
    let data = webhook_state(&app, sk, &webhook).await;
    assert_eq!(data["enabled"], true);
}

#[tokio::test]
async fn a_change_written_to_several_topics_is_delivered_once() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (webhook, secret) = create_webhook(
        &app,
        sk,
        &receiver.url(),
        &["member.joined", "participant.added"],
    )
    .await;
    receiver.trust(&secret);

    // member.joined goes to the team's topic and the user's.
    let team = app
        .create_team(&w.member.access_token, "Side project")
        .await;
    // participant.added goes to the thread's topic and the participant's.
    app.gql_ok(
        Some(sk),
        orbit_tests::ADD_THREAD_PARTICIPANT,
        json!({ "input": { "threadId": w.thread_id, "userId": w.outsider.user_id } }),
    )
    .await;
    // Deliveries are written with their change: all are there already.
    let nodes = deliveries(&app, sk, &webhook).await;
    let types: Vec<&str> = nodes
        .iter()
        .map(|node| node["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["participant.added", "member.joined"]);
    assert_eq!(nodes[1]["payload"]["data"]["teamId"], team.as_str());
    assert_eq!(
        nodes[0]["payload"]["data"]["userId"],
        w.outsider.user_id.as_str()
    );

    deliveries_once(&app, sk, &webhook, "both are delivered", |nodes| {
        statuses(nodes) == ["SUCCEEDED", "SUCCEEDED"]
    })
    .await;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one request per change");
    assert!(received.iter().all(|got| got.verified()));
    assert_ne!(
        received[0].header("orbit-event-id"),
        received[1].header("orbit-event-id")
    );
}

#[tokio::test]
async fn webhooks_receive_the_types_they_subscribe_to_and_never_internal_ones() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (threads_hook, threads_secret) =
        create_webhook(&app, sk, &receiver.url(), &["thread.created"]).await;
    let (messages_hook, messages_secret) = create_webhook(
        &app,
        sk,
        &receiver.url(),
        &["message.created", "message.edited"],
    )
    .await;
    receiver.trust(&threads_secret);
    receiver.trust(&messages_secret);

    let thread = app
        .create_thread(&w.author.access_token, "Launch", Some(&w.team_id))
        .await;
    let message = app
        .send_message(&w.author.access_token, &thread, "draft")
        .await;
    app.gql_ok(
        w.author.token(),
        orbit_tests::EDIT_MESSAGE,
        json!({ "input": { "id": message, "content": "final" } }),
    )
    .await;
    app.gql_ok(
        w.author.token(),
        orbit_tests::LOG_OUT,
        json!({ "input": { "allSessions": true } }),
    )
    .await;

    let types = |nodes: Vec<Value>| -> Vec<String> {
        nodes
            .iter()
            .map(|node| node["eventType"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        types(deliveries(&app, sk, &threads_hook).await),
        ["thread.created"]
    );
    assert_eq!(
        types(deliveries(&app, sk, &messages_hook).await),
        ["message.edited", "message.created"]
    );

    // Changing the types changes what comes next.
    app.gql_ok(
        Some(sk),
        UPDATE_WEBHOOK,
        json!({ "input": { "id": messages_hook, "eventTypes": ["thread.updated"] } }),
    )
    .await;
    app.send_message(&w.owner.access_token, &thread, "not delivered")
        .await;
    assert_eq!(deliveries(&app, sk, &messages_hook).await.len(), 2);

    // Only types webhooks carry can be subscribed to.
    for (types, why) in [
        (json!([]), "no type"),
        (json!(["session.revoked"]), "internal"),
        (json!(["typing.started"]), "ephemeral"),
        (json!(["presence.changed"]), "ephemeral"),
        (json!(["message.created", "message.exploded"]), "unknown"),
    ] {
        let response = try_create(&app, sk, &receiver.url(), types).await;
        assert_error(&response, "BAD_USER_INPUT", Some("eventTypes"));
        assert!(response["data"].is_null(), "{why}: {response}");
    }
    for url in [
        "ftp://example.com/hooks",
        "not a url",
        "https://user:pw@example.com/",
    ] {
        let response = try_create(&app, sk, url, json!(["message.created"])).await;
        assert_error(&response, "BAD_USER_INPUT", Some("url"));
    }
    let listed = app.gql_ok(Some(sk), WEBHOOKS, json!({})).await;
    assert_eq!(orbit_tests::node_ids(&listed["webhooks"]).len(), 2);
}

#[tokio::test]
async fn webhooks_are_listed_turned_off_and_on_and_deleted() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (first, secret) = create_webhook(&app, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&secret);
    let (second, _) =
        create_webhook(&app, sk, "https://example.com/orbit", &["thread.created"]).await;
    let listed = app.gql_ok(Some(sk), WEBHOOKS, json!({})).await;
    assert_eq!(
        orbit_tests::node_ids(&listed["webhooks"]),
        [first.clone(), second.clone()]
    );

    let off = app
        .gql_ok(
            Some(sk),
            UPDATE_WEBHOOK,
            json!({ "input": { "id": first, "enabled": false, "url": format!("{}?v=2", receiver.url()) } }),
        )
        .await;
    let updated = &off["updateWebhook"]["webhook"];
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["disabledReason"], "turned off with updateWebhook");
    assert!(updated["url"].as_str().unwrap().ends_with("/hooks?v=2"));
    app.send_message(&w.author.access_token, &w.thread_id, "while off")
        .await;
    assert!(deliveries(&app, sk, &first).await.is_empty());

    app.gql_ok(
        Some(sk),
        UPDATE_WEBHOOK,
        json!({ "input": { "id": first, "enabled": true } }),
    )
    .await;
    app.send_message(&w.author.access_token, &w.thread_id, "back on")
        .await;
    let got = receiver.next().await;
    assert!(got.verified());
    assert_eq!(got.json()["data"]["content"], "back on");

    let deleted = app
        .gql_ok(
            Some(sk),
            DELETE_WEBHOOK,
            json!({ "input": { "id": first } }),
        )
        .await;
    assert_eq!(deleted["deleteWebhook"]["deletedWebhookId"], first.as_str());
    let response = app.gql(Some(sk), DELIVERIES, json!({ "id": first })).await;
    assert_error(&response, "NOT_FOUND", Some("id"));
    let again = app
        .gql(
            Some(sk),
            DELETE_WEBHOOK,
            json!({ "input": { "id": first } }),
        )
        .await;
    assert_error(&again, "NOT_FOUND", Some("id"));
    let wrong_kind = app
        .gql(
            Some(sk),
            DELETE_WEBHOOK,
            json!({ "input": { "id": w.thread_id } }),
        )
        .await;
    assert_error(&wrong_kind, "BAD_USER_INPUT", Some("id"));
    let listed = app.gql_ok(Some(sk), WEBHOOKS, json!({})).await;
    assert_eq!(orbit_tests::node_ids(&listed["webhooks"]), [second]);
}

#[tokio::test]
async fn a_server_started_on_the_same_database_sends_what_was_committed_before_a_crash() {
    let database = SharedDatabase::new().await;
    let first = database.spawn().await;
    let w = first.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(database.clock.clone(), []).await;
    let (webhook, secret) = create_webhook(&first, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&secret);

    // The first server goes down with its worker; a change commits as a
    // request did just before the crash, and no process is left to send it.
    first.stop().await;
    let app: AppId = w.keys.app_id.parse().unwrap();
    messages::send(
        first.services.db(),
        AppScope::new(app),
        database.clock.now(),
        NewMessage {
            thread: w.thread_id.parse::<ThreadId>().unwrap(),
            author: w.author.user_id.parse::<UserId>().unwrap(),
            content: "committed before the crash".to_owned(),
            metadata: None,
            idempotency_key: None,
        },
    )
    .await
    .unwrap();
    assert!(receiver.received().is_empty());

    let second = database.spawn().await;
    let got = receiver.next().await;
    assert!(got.verified(), "{got:?}");
    assert_eq!(got.json()["data"]["content"], "committed before the crash");
    deliveries_once(
        &second,
        sk,
        &webhook,
        "the next server delivers it",
        |nodes| statuses(nodes) == ["SUCCEEDED"],
    )
    .await;
}

#[tokio::test]
async fn a_delivery_whose_request_never_ended_is_sent_again_when_its_lease_ends() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), [Reply::Hang]).await;
    let (webhook, secret) = create_webhook(&app, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&secret);
    app.send_message(&w.author.access_token, &w.thread_id, "stuck")
        .await;
    let stuck = receiver.next().await;
    assert_eq!(stuck.reply, Reply::Hang);
    assert_eq!(statuses(&deliveries(&app, sk, &webhook).await), ["SENDING"]);

    // As if the sender had died: once its lease (2 minutes) ends, the
    // delivery is claimed and sent again under the same event id.
    advance(&app, Duration::minutes(3));
    let again = receiver.next().await;
    assert!(again.verified());
    assert_eq!(again.reply, Reply::Status(200));
    assert_eq!(
        again.header("orbit-event-id"),
        stuck.header("orbit-event-id")
    );
    let nodes = deliveries_once(&app, sk, &webhook, "the new claim succeeds", |nodes| {
        statuses(nodes) == ["SUCCEEDED"]
    })
    .await;
    let codes = attempt_codes(&nodes[0]);
    assert_eq!(codes.last(), Some(&json!(200)), "{codes:?}");
}

#[tokio::test]
async fn redelivery_sends_the_same_event_again_now() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (webhook, secret) = create_webhook(&app, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&secret);
    app.send_message(&w.author.access_token, &w.thread_id, "once more")
        .await;
    let first = receiver.next().await;
    let nodes = deliveries_once(&app, sk, &webhook, "the delivery succeeds", |nodes| {
        statuses(nodes) == ["SUCCEEDED"]
    })
    .await;
    let delivery = nodes[0]["id"].as_str().unwrap().to_owned();

    app.clock.advance(Duration::hours(3));
    let redelivered = app
        .gql_ok(Some(sk), REDELIVER, json!({ "input": { "id": delivery } }))
        .await;
    let queued = &redelivered["redeliverWebhookDelivery"]["delivery"];
    assert_eq!(queued["id"], delivery.as_str());
    assert_eq!(time(&queued["nextAttemptAt"]), app.clock.now());
    let second = receiver.next().await;
    assert!(second.verified());
    assert_eq!(second.body, first.body);
    assert_eq!(
        second.header("orbit-event-id"),
        first.header("orbit-event-id")
    );
    let nodes = deliveries_once(&app, sk, &webhook, "the redelivery succeeds", |nodes| {
        statuses(nodes) == ["SUCCEEDED"] && attempt_codes(&nodes[0]).len() == 2
    })
    .await;
    assert_eq!(
        time(&nodes[0]["retriesUntil"]),
        app.clock.now() + Duration::days(1)
    );

    let missing = app
        .gql(
            Some(sk),
            REDELIVER,
            json!({ "input": { "id": missing_id("dlv") } }),
        )
        .await;
    assert_error(&missing, "NOT_FOUND", Some("id"));
    let malformed = app
        .gql(Some(sk), REDELIVER, json!({ "input": { "id": webhook } }))
        .await;
    assert_error(&malformed, "BAD_USER_INPUT", Some("id"));
    app.gql_ok(
        Some(sk),
        UPDATE_WEBHOOK,
        json!({ "input": { "id": webhook, "enabled": false } }),
    )
    .await;
    let off = app
        .gql(Some(sk), REDELIVER, json!({ "input": { "id": delivery } }))
        .await;
    assert_error(&off, "CONFLICT", Some("id"));
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_until_it_expires() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (webhook, old) = create_webhook(&app, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&old);

    let rotated = app
        .gql_ok(
            Some(sk),
            ROTATE_SECRET,
            json!({ "input": { "id": webhook } }),
        )
        .await;
    let new = rotated["rotateWebhookSecret"]["signingSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    let overlap_ends = time(&rotated["rotateWebhookSecret"]["webhook"]["previousSecretExpiresAt"]);
    assert_eq!(overlap_ends, start_time() + Duration::hours(24));
    receiver.trust(&new);

    app.send_message(&w.author.access_token, &w.thread_id, "during")
        .await;
    let during = receiver.next().await;
    assert_eq!(during.signatures, 2);
    assert_eq!(during.verified_by, [0, 1], "both secrets verify");

    advance(&app, Duration::hours(24));
    receiver.distrust(&old);
    post_as_app(&app, &w, "after").await;
    let after = receiver.next().await;
    assert_eq!(after.signatures, 1);
    assert!(after.verified(), "{after:?}");
    let data = app
        .gql_ok(
            Some(sk),
            "query($id: ID!) { webhook(id: $id) { previousSecretExpiresAt } }",
            json!({ "id": webhook }),
        )
        .await;
    assert!(data["webhook"]["previousSecretExpiresAt"].is_null());

    // A rotation without overlap, as after a leak: the old secret stops at once.
    let leaked = app
        .gql_ok(
            Some(sk),
            ROTATE_SECRET,
            json!({ "input": { "id": webhook, "previousSecretValidForSeconds": 0 } }),
        )
        .await;
    let newest = leaked["rotateWebhookSecret"]["signingSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(leaked["rotateWebhookSecret"]["webhook"]["previousSecretExpiresAt"].is_null());
    receiver.distrust(&new);
    receiver.trust(&newest);
    post_as_app(&app, &w, "after the leak").await;
    let got = receiver.next().await;
    assert_eq!(got.signatures, 1);
    assert!(got.verified(), "{got:?}");

    for seconds in [-1, 604_801] {
        let response = app
            .gql(
                Some(sk),
                ROTATE_SECRET,
                json!({ "input": { "id": webhook, "previousSecretValidForSeconds": seconds } }),
            )
            .await;
        assert_error(
            &response,
            "BAD_USER_INPUT",
            Some("previousSecretValidForSeconds"),
        );
    }
}

#[tokio::test]
async fn private_addresses_are_refused_unless_the_server_allows_them() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = false).await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.as_str();
    for url in [
        "http://127.0.0.1:8080/hooks",
        "http://10.1.2.3/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
    ] {
        let response = try_create(&app, sk, url, json!(["message.created"])).await;
        assert_error(&response, "BAD_USER_INPUT", Some("url"));
    }
    // A name is only resolved when sending: the refusal is the attempt's.
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let by_name = receiver.url().replace("127.0.0.1", "localhost");
    let (webhook, _) = create_webhook(&app, sk, &by_name, &["message.created"]).await;
    let to_private = app
        .gql(
            Some(sk),
            UPDATE_WEBHOOK,
            json!({ "input": { "id": webhook, "url": receiver.url() } }),
        )
        .await;
    assert_error(&to_private, "BAD_USER_INPUT", Some("url"));

    app.send_message(&w.author.access_token, &w.thread_id, "secret plans")
        .await;
    let nodes = deliveries_once(&app, sk, &webhook, "the refusal is recorded", one_attempted).await;
    let attempt = &nodes[0]["attempts"][0];
    assert!(attempt["statusCode"].is_null());
    assert_mentions(&attempt["error"], "is not a public address");
    assert_eq!(
        nodes[0]["status"], "QUEUED",
        "retried, in case the name moves"
    );
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn developers_manage_webhooks_of_the_app_they_name() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let developer = app.developer(&w.keys.app_id, "developer").await;
    let token = developer.access_token.as_str();
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let without_app = app
        .gql(
            Some(token),
            CREATE_WEBHOOK,
            json!({ "input": { "url": receiver.url(), "eventTypes": ["message.created"] } }),
        )
        .await;
    assert_error(&without_app, "BAD_USER_INPUT", Some("appId"));
    let created = app
        .gql_ok(
            Some(token),
            CREATE_WEBHOOK,
            json!({ "input": { "appId": w.keys.app_id, "url": receiver.url(), "eventTypes": ["message.created"] } }),
        )
        .await;
    receiver.trust(created["createWebhook"]["signingSecret"].as_str().unwrap());
    let listed = app
        .gql_ok(Some(token), WEBHOOKS, json!({ "appId": w.keys.app_id }))
        .await;
    assert_eq!(orbit_tests::node_ids(&listed["webhooks"]).len(), 1);
    app.send_message(&w.author.access_token, &w.thread_id, "for the developer")
        .await;
    assert!(receiver.next().await.verified());
    // The app's own data stays the app's: its secret key sees the same webhook.
    let by_key = app
        .gql_ok(Some(&w.keys.secret_key), WEBHOOKS, json!({}))
        .await;
    assert_eq!(by_key, listed);
}
