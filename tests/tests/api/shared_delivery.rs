//! An event is rendered once for every subscriber who sent the same
//! document, and the text shared: what depends on the subscriber (an email
//! only some may see, a role) must still reach each as their own.

use orbit_tests::ws::WsClient;
use orbit_tests::{TestApp, spawn_app};
use serde_json::{Value, json};

const MESSAGES_WITH_EMAILS: &str = "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { ... on MessageCreatedEvent { cursor message { id content author { ... on User { id displayName email } } } } } }";
const MESSAGES: &str = "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { ... on MessageCreatedEvent { cursor message { id content author { ... on User { id displayName } } } } } }";
const THREADS_WITH_ROLES: &str = "subscription($id: ID!) { teamEvents(teamId: $id) { ... on ThreadCreatedEvent { threadId thread { title team { id viewerRole } } } } }";

async fn subscribed(app: &TestApp, auth: &str, query: &str, variables: Value) -> WsClient {
    let mut client = WsClient::connected(&app.ws_url(), Some(auth)).await;
    client.subscribe("s", query, variables).await;
    client.ping().await;
    client
}

fn data(payload: Value, field: &str) -> Value {
    assert!(
        payload.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {payload}"
    );
    payload["data"][field].clone()
}

#[tokio::test]
async fn a_field_only_some_may_see_reaches_only_them_whoever_renders_first() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let variables = json!({ "id": w.thread_id });
    let mut server = subscribed(
        &app,
        &w.keys.secret_key,
        MESSAGES_WITH_EMAILS,
        variables.clone(),
    )
    .await;
    let mut member = subscribed(
        &app,
        &w.member.access_token,
        MESSAGES_WITH_EMAILS,
        variables.clone(),
    )
    .await;
    let mut author = subscribed(
        &app,
        &w.author.access_token,
        MESSAGES_WITH_EMAILS,
        variables,
    )
    .await;

    for n in 0..3 {
        let content = format!("note {n}");
        app.send_message(&w.author.access_token, &w.thread_id, &content)
            .await;
        let seen_by_server = data(server.next_payload("s").await, "threadEvents");
        let seen_by_member = data(member.next_payload("s").await, "threadEvents");
        let seen_by_author = data(author.next_payload("s").await, "threadEvents");
        for seen in [&seen_by_server, &seen_by_member, &seen_by_author] {
            assert_eq!(seen["message"]["content"], content.as_str());
            assert_eq!(seen["message"]["author"]["id"], w.author.user_id.as_str());
        }
        // The secret key and the author themself see the address; a team
        // mate does not, whichever of them the event was rendered for first.
        assert!(seen_by_server["message"]["author"]["email"].is_string());
        assert!(seen_by_author["message"]["author"]["email"].is_string());
        assert!(seen_by_member["message"]["author"]["email"].is_null());
    }
}

#[tokio::test]
async fn each_subscriber_sees_their_own_role() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let variables = json!({ "id": w.team_id });
    let mut owner = subscribed(
        &app,
        &w.owner.access_token,
        THREADS_WITH_ROLES,
        variables.clone(),
    )
    .await;
    let mut admin = subscribed(
        &app,
        &w.admin.access_token,
        THREADS_WITH_ROLES,
        variables.clone(),
    )
    .await;
    let mut server = subscribed(&app, &w.keys.secret_key, THREADS_WITH_ROLES, variables).await;

    let thread = app
        .create_thread(&w.member.access_token, "Roadmap", Some(&w.team_id))
        .await;
    let mut roles = Vec::new();
    for client in [&mut owner, &mut admin, &mut server] {
        // Presence comes and goes on team topics; it renders to nothing here.
        let created = loop {
            let event = data(client.next_payload("s").await, "teamEvents");
            if event.get("threadId").is_some() {
                break event;
            }
        };
        assert_eq!(created["threadId"], thread.as_str());
        assert_eq!(created["thread"]["title"], "Roadmap");
        assert_eq!(created["thread"]["team"]["id"], w.team_id.as_str());
        roles.push(created["thread"]["team"]["viewerRole"].clone());
    }
    assert_eq!(roles, vec![json!("OWNER"), json!("ADMIN"), Value::Null]);
}

#[tokio::test]
async fn subscribers_of_one_document_get_the_same_event_whatever_cursor_they_resumed_from() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut live = subscribed(
        &app,
        &w.member.access_token,
        MESSAGES,
        json!({ "id": w.thread_id }),
    )
    .await;
    app.send_message(&w.author.access_token, &w.thread_id, "before")
        .await;
    let before = data(live.next_payload("s").await, "threadEvents");

    // Resumed from the cursor of "before": nothing to replay, then live.
    let mut resumed = subscribed(
        &app,
        &w.owner.access_token,
        MESSAGES,
        json!({ "id": w.thread_id, "after": before["cursor"] }),
    )
    .await;
    // A third thread's subscriber sends the same document too.
    let other_thread = app
        .create_thread(&w.author.access_token, "Elsewhere", Some(&w.team_id))
        .await;
    let mut elsewhere = subscribed(
        &app,
        &w.admin.access_token,
        MESSAGES,
        json!({ "id": other_thread }),
    )
    .await;

    app.send_message(&w.author.access_token, &w.thread_id, "after")
        .await;
    app.send_message(&w.author.access_token, &other_thread, "over there")
        .await;
    let seen_live = data(live.next_payload("s").await, "threadEvents");
    let seen_resumed = data(resumed.next_payload("s").await, "threadEvents");
    assert_eq!(seen_live, seen_resumed);
    assert_eq!(seen_live["message"]["content"], "after");
    let seen_elsewhere = data(elsewhere.next_payload("s").await, "threadEvents");
    assert_eq!(seen_elsewhere["message"]["content"], "over there");
    assert_ne!(seen_elsewhere["cursor"], seen_live["cursor"]);
}
