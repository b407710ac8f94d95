//! The event core's short path: what one `sendMessage` costs the database,
//! counted on the wire (statements, not time).

use orbit_persistence::outbox;
use orbit_tests::webhook_receiver::WebhookReceiver;
use orbit_tests::ws::WsClient;
use orbit_tests::{eventually, spawn_app, spawn_app_with_breakable_database};

use crate::webhooks::create_webhook;
use serde_json::{Value, json};

const SEND: &str =
    "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";
const WATCH: &str = "subscription($id: ID!) { threadEvents(threadId: $id) { __typename ... on MessageCreatedEvent { message { id } } } }";

/// Sends timed here, after a warm-up send.
const SENDS: u64 = 20;
/// Everything one send causes on Postgres: the request (the thread with
/// the caller's access to it), the change (one statement when nothing
/// reacts to it: the message with its thread's move up, the events with
/// their sequences and markers, and the reactions' interest; else BEGIN,
/// the message, the events, the reactions, COMMIT), the relay clearing the
/// markers and the worker (which nothing woke). Measured: 2 a send.
const MOST_STATEMENTS_PER_SEND: u64 = 8;
/// What the common send costs, whether a user or a secret key sends it:
/// the change in one statement that also checks access, and the relay's
/// delete of its marker (one a send here, as each send waits for its
/// delivery). An access check of its own would make three; the server's
/// own timers may add a statement or two to the window, never one a send.
const COMMON_SEND_STATEMENTS: u64 = 2;
const FEWER_THAN_A_SEPARATE_CHECK: u64 = COMMON_SEND_STATEMENTS + 1;
/// The common send's round trips: its two statements, each on a connection
/// kept out of the pool that goes back without sqlx's ping. With the ping
/// on return it would be four.
const FEWER_ROUND_TRIPS_THAN_WITH_PINGS: u64 = COMMON_SEND_STATEMENTS + 1;
/// The test's own look at the relay's backlog goes through the pool: its
/// statement, the ping on return, and perhaps one on checkout.
const MOST_ROUND_TRIPS_A_POLL: u64 = 3;

#[tokio::test]
async fn a_send_costs_two_statements_everything_it_causes_included() {
    let (app, database) = spawn_app_with_breakable_database(|settings| {
        // No sweep inside the counted window: only what the sends cause.
        settings.idle_sweep = std::time::Duration::from_secs(3600);
    })
    .await;
    let Some(_) = database.statements_sent() else {
        eprintln!("statements are counted on the Postgres wire: set TEST_DATABASE_URL");
        return;
    };
    let w = app.new_team_world().await;
    let token = w.author.access_token.as_str();
    let mut client = WsClient::connected(&app.ws_url(), Some(token)).await;
    client
        .subscribe("t", WATCH, json!({ "id": w.thread_id }))
        .await;
    client.ping().await;
    // From the user, and from the app's backend naming the user.
    let as_user = (token, None);
    let as_backend = (w.keys.secret_key.as_str(), Some(w.author.user_id.as_str()));
    let send = |(credential, author): (&str, Option<&str>), content: String| {
        let app = &app;
        let mut input = json!({ "threadId": w.thread_id, "content": content });
        if let Some(author) = author {
            input["authorId"] = json!(author);
        }
        let credential = credential.to_owned();
        async move {
            let data = app
                .gql_ok(Some(&credential), SEND, json!({ "input": input }))
                .await;
            data["sendMessage"]["message"]["id"]
                .as_str()
                .expect("a message id")
                .to_owned()
        }
    };
    // Warm up: statements prepared, caches filled, the relay's first sweep done.
    for sender in [as_user, as_backend] {
        let first = send(sender, "warm-up".to_owned()).await;
        assert_eq!(delivered_id(&client.next_payload("t").await), first);
    }
    // Each look at the relay's backlog is one statement of the test's own.
    let polls = std::cell::Cell::new(0u64);
    let settled = || {
        polls.set(polls.get() + 1);
        let db = app.services.db().clone();
        async move { outbox::backlog(&db).await.expect("the backlog") == 0 }
    };
    eventually("the relay cleared its markers", settled).await;

    for (who, sender) in [("a user", as_user), ("a secret key", as_backend)] {
        let before = database.statements_sent().expect("counted");
        let trips_before = database.round_trips().expect("counted");
        let polls_before = polls.get();
        for n in 0..SENDS {
            let id = send(sender, format!("message {n}")).await;
            assert_eq!(delivered_id(&client.next_payload("t").await), id);
        }
        eventually("the relay cleared its markers", settled).await;
        let made =
            database.statements_sent().expect("counted") - before - (polls.get() - polls_before);
        let per_send = made as f64 / SENDS as f64;
        assert!(
            made <= SENDS * MOST_STATEMENTS_PER_SEND,
            "{made} statements for {SENDS} sends from {who}: {per_send:.2} a send"
        );
        assert!(
            made < SENDS * FEWER_THAN_A_SEPARATE_CHECK,
            "{made} statements for {SENDS} sends from {who}: {per_send:.2} a send, \
             more than the access check folded into the send's statement allows"
        );
        eprintln!("{made} statements for {SENDS} sends from {who}: {per_send:.2} a send");
        let polls = polls.get() - polls_before;
        let trips = (database.round_trips().expect("counted") - trips_before)
            .saturating_sub(polls * MOST_ROUND_TRIPS_A_POLL);
        assert!(
            trips < SENDS * FEWER_ROUND_TRIPS_THAN_WITH_PINGS,
            "{trips} round trips for {SENDS} sends from {who}: a ping on return to the pool?"
        );
        eprintln!("at most {trips} round trips for {SENDS} sends from {who}");
    }
}

fn delivered_id(payload: &Value) -> String {
    payload["data"]["threadEvents"]["message"]["id"]
        .as_str()
        .expect("a message.created")
        .to_owned()
}

/// A send nothing reacts to is made without a transaction, in a statement
/// that writes only if no reaction wants its event; a webhook created
/// between two sends therefore gets the second, which a transaction makes
/// with its delivery.
#[tokio::test]
async fn a_webhook_created_between_two_sends_receives_the_second() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.author.access_token.as_str();
    app.send_message(token, &w.thread_id, "before the webhook")
        .await;
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (_, secret) = create_webhook(
        &app,
        &w.keys.secret_key,
        &receiver.url(),
        &["message.created"],
    )
    .await;
    receiver.trust(&secret);

    let after = app.send_message(token, &w.thread_id, "after it").await;
    let got = receiver.next().await;
    assert!(got.verified(), "{got:?}");
    let body = got.json();
    assert_eq!(body["data"]["messageId"], after.as_str(), "{body}");
    assert_eq!(body["data"]["content"], "after it", "{body}");
    assert_eq!(receiver.received().len(), 1);

    // And every later send, each once.
    let last = app.send_message(token, &w.thread_id, "and after").await;
    assert_eq!(
        receiver.next().await.json()["data"]["messageId"],
        last.as_str()
    );
}
