//! The event core's short path: what one `sendMessage` costs the database,
//! counted on the wire (statements, not time).

use orbit_persistence::outbox;
use orbit_tests::webhook_receiver::WebhookReceiver;
use orbit_tests::ws::WsClient;
use orbit_tests::{
    DatabaseOutage, TeamWorld, TestApp, eventually, spawn_app, spawn_app_counting_statements,
    spawn_app_with,
};

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
/// delete of its marker (at most one a send: markers published within a
/// few milliseconds of each other are cleared together). An access check
/// of its own would make three; the server's own timers may add a
/// statement or two to the window, never one a send.
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
    let Some((app, database, w, mut client)) = watched_thread().await else {
        return;
    };
    let token = w.author.access_token.as_str();
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
        async move { send_for_id(app, &credential, input).await }
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

/// Sends made at once, each delivered as it commits; their markers are
/// cleared together (one delete for all that the relay published within a
/// few milliseconds), not one delete a send.
#[tokio::test]
async fn markers_of_sends_made_at_once_are_cleared_together() {
    const AT_ONCE: u64 = 40;
    let Some((app, database, w, mut client)) = watched_thread().await else {
        return;
    };
    let token = w.author.access_token.as_str();
    let first = app.send_message(token, &w.thread_id, "warm-up").await;
    assert_eq!(delivered_id(&client.next_payload("t").await), first);
    let db = app.services.db().clone();
    let backlog = || {
        let db = db.clone();
        async move { outbox::backlog(&db).await.expect("the backlog") }
    };
    eventually("the relay cleared the warm-up's marker", || async {
        backlog().await == 0
    })
    .await;

    let before = database.statements_sent().expect("counted");
    let sends = (0..AT_ONCE).map(|n| {
        let input = json!({ "threadId": w.thread_id, "content": format!("at once {n}") });
        send_for_id(&app, token, input)
    });
    let mut sent: Vec<String> = futures::future::join_all(sends).await;
    let mut delivered = Vec::new();
    for _ in 0..AT_ONCE {
        delivered.push(delivered_id(&client.next_payload("t").await));
    }
    sent.sort();
    delivered.sort();
    assert_eq!(delivered, sent, "every send delivered once");
    let mut looks = 0;
    eventually("the relay cleared the markers", || {
        looks += 1;
        async { backlog().await == 0 }
    })
    .await;
    let made = database.statements_sent().expect("counted") - before - looks;
    // One statement a send for the change; the rest are marker deletes.
    let deletes = made.saturating_sub(AT_ONCE);
    eprintln!("{made} statements for {AT_ONCE} sends at once: {deletes} beside the sends'");
    assert!(
        deletes <= AT_ONCE / 4,
        "{made} statements for {AT_ONCE} sends made at once: {deletes} beside the sends' \
         own: the markers were not cleared together"
    );
}

/// A stopping server clears the markers of everything it published before
/// it ends, rather than leaving them for a sweep to publish again (or
/// another process: the sweep publishes what two of its looks found).
#[tokio::test]
async fn a_stopping_server_clears_the_markers_of_what_it_published() {
    let app = spawn_app_with(|settings| {
        // Only the stop could clear them: no sweep runs meanwhile.
        settings.idle_sweep = std::time::Duration::from_secs(3600);
    })
    .await;
    let w = app.new_team_world().await;
    let token = w.author.access_token.as_str();
    // The stop comes within a few milliseconds of the last send's
    // publication, while its marker is still gathered for clearing.
    for n in 0..3 {
        app.send_message(token, &w.thread_id, &format!("last {n}"))
            .await;
    }
    app.stop().await;
    let db = app.services.db().clone();
    assert_eq!(outbox::backlog(&db).await.expect("the backlog"), 0);
}

/// A server whose statements are counted (Postgres only), a team's
/// thread, and its author's socket subscribed to it as `t`.
async fn watched_thread() -> Option<(TestApp, DatabaseOutage, TeamWorld, WsClient)> {
    let (app, database) = spawn_app_counting_statements().await?;
    let w = app.new_team_world().await;
    let mut client = WsClient::connected(&app.ws_url(), Some(&w.author.access_token)).await;
    client
        .subscribe("t", WATCH, json!({ "id": w.thread_id }))
        .await;
    client.ping().await;
    Some((app, database, w, client))
}

/// Sends `input` as `credential`, asking only for the message's id (so the
/// answer reads nothing more), and answers that id.
async fn send_for_id(app: &TestApp, credential: &str, input: Value) -> String {
    let data = app
        .gql_ok(Some(credential), SEND, json!({ "input": input }))
        .await;
    data["sendMessage"]["message"]["id"]
        .as_str()
        .expect("a message id")
        .to_owned()
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
