//! Subscriptions over `graphql-transport-ws`: what each topic delivers, to
//! whom, resuming with a cursor, and access that ends mid-stream.

use std::time::Duration;

use orbit_domain::Clock;
use orbit_tests::ws::WsClient;
use orbit_tests::{
    DELETE_MESSAGE, EDIT_MESSAGE, LOG_OUT, REMOVE_TEAM_MEMBER, SET_TEAM_MEMBER_ROLE, TestApp,
    spawn_app,
};
use serde_json::{Value, json};

pub const THREAD_EVENTS: &str = "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { __typename ... on Event { cursor type occurredAt } ... on MessageCreatedEvent { message { id content author { ... on User { id } } } } ... on MessageEditedEvent { message { id content editedAt } } ... on MessageDeletedEvent { message { id content deletedAt } } ... on TypingEvent { userId typing } ... on ThreadDeletedEvent { threadId } } }";
pub const TEAM_EVENTS: &str = "subscription($id: ID!, $after: String) { teamEvents(teamId: $id, after: $after) { __typename ... on Event { cursor type } ... on MemberJoinedEvent { userId role } ... on MemberLeftEvent { userId } ... on MemberRoleChangedEvent { userId role } ... on ThreadCreatedEvent { threadId thread { title } } } }";
pub const USER_EVENTS: &str = "subscription($after: String) { userEvents(after: $after) { __typename ... on Event { cursor type } ... on ThreadReadEvent { threadId messageId } ... on ParticipantAddedEvent { threadId userId } ... on MemberJoinedEvent { teamId role } } }";

fn event(payload: &Value, field: &str) -> Value {
    assert!(
        payload.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {payload}"
    );
    payload["data"][field].clone()
}

/// The next event of the "team" subscription other than presence, which
/// comes and goes as the test's own sockets connect.
async fn next_team_event(client: &mut WsClient) -> Value {
    loop {
        let event = event(&client.next_payload("team").await, "teamEvents");
        if event["__typename"] != "PresenceChangedEvent" {
            return event;
        }
    }
}

/// A socket of `auth` subscribed to `thread`'s events as "t", listening.
async fn watching_thread(app: &TestApp, thread: &str, auth: Option<&str>) -> WsClient {
    let mut client = WsClient::connected(&app.ws_url(), auth).await;
    client
        .subscribe("t", THREAD_EVENTS, json!({ "id": thread }))
        .await;
    client.ping().await;
    client
}

fn first_error_code(errors: &Value) -> String {
    errors[0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn thread_subscribers_see_messages_created_edited_and_deleted_in_order() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = WsClient::connected(&app.ws_url(), w.member.token()).await;
    client
        .subscribe("t", THREAD_EVENTS, json!({ "id": w.thread_id }))
        .await;
    // The subscription is live once the server has answered something after
    // it; a ping round trip orders that.
    client.ping().await;

    let id = app
        .send_message(&w.author.access_token, &w.thread_id, "first")
        .await;
    let created = event(&client.next_payload("t").await, "threadEvents");
    assert_eq!(created["__typename"], "MessageCreatedEvent");
    assert_eq!(created["type"], "message.created");
    assert_eq!(created["message"]["id"], id.as_str());
    assert_eq!(created["message"]["content"], "first");
    assert_eq!(
        created["message"]["author"]["id"],
        w.author.user_id.as_str()
    );
    assert!(created["cursor"].as_str().is_some_and(|c| !c.is_empty()));

    app.gql_ok(
        Some(&w.author.access_token),
        EDIT_MESSAGE,
        json!({ "input": { "id": id, "content": "first, edited" } }),
    )
    .await;
    let edited = event(&client.next_payload("t").await, "threadEvents");
    assert_eq!(edited["type"], "message.edited");
    assert_eq!(edited["message"]["content"], "first, edited");
    assert!(edited["message"]["editedAt"].is_string());

    app.gql_ok(
        Some(&w.author.access_token),
        DELETE_MESSAGE,
        json!({ "input": { "id": id } }),
    )
    .await;
    let deleted = event(&client.next_payload("t").await, "threadEvents");
    assert_eq!(deleted["type"], "message.deleted");
    assert!(deleted["message"]["content"].is_null());
    assert!(deleted["message"]["deletedAt"].is_string());
    assert_ne!(created["cursor"], edited["cursor"]);
    client
        .expect_silence(Some("t"), Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn a_secret_key_subscribes_to_any_thread_of_its_app() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = watching_thread(&app, &w.thread_id, Some(&w.keys.secret_key)).await;
    app.send_message(&w.author.access_token, &w.thread_id, "for the server")
        .await;
    let created = event(&client.next_payload("t").await, "threadEvents");
    assert_eq!(created["message"]["content"], "for the server");
}

#[tokio::test]
async fn who_may_not_read_a_thread_may_not_subscribe_to_it() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let other = app.new_team_world().await;

    // A user of the same app outside the team.
    let mut outsider = WsClient::connected(&app.ws_url(), w.outsider.token()).await;
    outsider
        .subscribe("t", THREAD_EVENTS, json!({ "id": w.thread_id }))
        .await;
    assert_eq!(
        first_error_code(&outsider.expect_error("t").await),
        "NOT_FOUND"
    );

    // Another app's user, and another app's secret key: as if it did not exist.
    for auth in [
        other.owner.access_token.as_str(),
        other.keys.secret_key.as_str(),
    ] {
        let mut stranger = WsClient::connected(&app.ws_url(), Some(auth)).await;
        stranger
            .subscribe("t", THREAD_EVENTS, json!({ "id": w.thread_id }))
            .await;
        let errors = stranger.expect_error("t").await;
        assert_eq!(first_error_code(&errors), "NOT_FOUND");
        assert_eq!(errors[0]["extensions"]["details"]["field"], "threadId");
    }

    // A publishable key and no credential at all.
    for auth in [Some(w.keys.publishable_key.as_str()), None] {
        let mut client = WsClient::connected(&app.ws_url(), auth).await;
        client
            .subscribe("t", THREAD_EVENTS, json!({ "id": w.thread_id }))
            .await;
        assert_eq!(
            first_error_code(&client.expect_error("t").await),
            "UNAUTHENTICATED"
        );
    }

    // The members of the other app's team hear nothing of this one.
    let mut watcher = watching_thread(&app, &other.thread_id, other.member.token()).await;
    app.send_message(&w.author.access_token, &w.thread_id, "private")
        .await;
    watcher
        .expect_silence(None, Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn resuming_after_a_cursor_replays_what_was_missed_then_continues_live() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut first = watching_thread(&app, &w.thread_id, w.member.token()).await;
    app.send_message(&w.author.access_token, &w.thread_id, "m1")
        .await;
    let m1 = event(&first.next_payload("t").await, "threadEvents");
    drop(first);

    // Sent while the client was away.
    for content in ["m2", "m3", "m4"] {
        app.send_message(&w.author.access_token, &w.thread_id, content)
            .await;
    }

    let mut second = WsClient::connected(&app.ws_url(), w.member.token()).await;
    second
        .subscribe(
            "t",
            THREAD_EVENTS,
            json!({ "id": w.thread_id, "after": m1["cursor"] }),
        )
        .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let e = event(&second.next_payload("t").await, "threadEvents");
        seen.push(e["message"]["content"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["m2", "m3", "m4"]);
    app.send_message(&w.author.access_token, &w.thread_id, "m5")
        .await;
    let live = event(&second.next_payload("t").await, "threadEvents");
    assert_eq!(live["message"]["content"], "m5");
    second
        .expect_silence(Some("t"), Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn a_cursor_of_another_topic_or_past_retention_is_refused() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = watching_thread(&app, &w.thread_id, w.member.token()).await;
    app.send_message(&w.author.access_token, &w.thread_id, "kept")
        .await;
    let kept = event(&client.next_payload("t").await, "threadEvents");
    let cursor = kept["cursor"].as_str().unwrap().to_owned();

    // Another topic's subscription.
    client
        .subscribe(
            "team",
            TEAM_EVENTS,
            json!({ "id": w.team_id, "after": cursor }),
        )
        .await;
    let errors = client.expect_error("team").await;
    assert_eq!(first_error_code(&errors), "BAD_USER_INPUT");
    assert_eq!(errors[0]["extensions"]["details"]["field"], "after");

    // Garbage.
    client
        .subscribe(
            "junk",
            THREAD_EVENTS,
            json!({ "id": w.thread_id, "after": "%%%" }),
        )
        .await;
    assert_eq!(
        first_error_code(&client.expect_error("junk").await),
        "BAD_USER_INPUT"
    );

    // Events past retention are pruned; a cursor from before them is too old.
    app.send_message(&w.author.access_token, &w.thread_id, "later")
        .await;
    let later = event(&client.next_payload("t").await, "threadEvents");
    drop(client);
    // A month on, everyone's tokens have lapsed: log in again.
    app.clock.advance(chrono::Duration::days(30));
    let author = app.log_in(&w.keys.publishable_key, &w.author.email).await;
    let member = app.log_in(&w.keys.publishable_key, &w.member.email).await;
    app.send_message(&author.access_token, &w.thread_id, "much later")
        .await;
    let pruned = orbit_persistence::outbox::prune(
        app.services.db(),
        app.clock.now() - chrono::Duration::days(7),
    )
    .await
    .unwrap();
    assert!(pruned >= 2, "pruned {pruned}");
    let mut client = WsClient::connected(&app.ws_url(), member.token()).await;
    client
        .subscribe(
            "old",
            THREAD_EVENTS,
            json!({ "id": w.thread_id, "after": cursor }),
        )
        .await;
    let errors = client.expect_error("old").await;
    assert_eq!(first_error_code(&errors), "BAD_USER_INPUT");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("retention"),
        "{errors}"
    );
    // The newest cursor before the kept event still resumes.
    client
        .subscribe(
            "recent",
            THREAD_EVENTS,
            json!({ "id": w.thread_id, "after": later["cursor"] }),
        )
        .await;
    let resumed = event(&client.next_payload("recent").await, "threadEvents");
    assert_eq!(resumed["message"]["content"], "much later");
}

#[tokio::test]
async fn team_subscribers_see_members_and_threads_and_a_removed_member_is_cut_off() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut owner = WsClient::connected(&app.ws_url(), w.owner.token()).await;
    owner
        .subscribe("team", TEAM_EVENTS, json!({ "id": w.team_id }))
        .await;
    let mut member = WsClient::connected(&app.ws_url(), w.member.token()).await;
    member
        .subscribe("team", TEAM_EVENTS, json!({ "id": w.team_id }))
        .await;
    member
        .subscribe("thread", THREAD_EVENTS, json!({ "id": w.thread_id }))
        .await;
    owner.ping().await;
    member.ping().await;

    app.gql_ok(
        Some(&w.owner.access_token),
        SET_TEAM_MEMBER_ROLE,
        json!({ "input": { "teamId": w.team_id, "userId": w.member.user_id, "role": "ADMIN" } }),
    )
    .await;
    for client in [&mut owner, &mut member] {
        let changed = next_team_event(client).await;
        assert_eq!(changed["__typename"], "MemberRoleChangedEvent");
        assert_eq!(changed["userId"], w.member.user_id.as_str());
        assert_eq!(changed["role"], "ADMIN");
    }

    let thread = app
        .create_thread(&w.owner.access_token, "Roadmap", Some(&w.team_id))
        .await;
    let created = next_team_event(&mut owner).await;
    assert_eq!(created["__typename"], "ThreadCreatedEvent");
    assert_eq!(created["threadId"], thread.as_str());
    assert_eq!(created["thread"]["title"], "Roadmap");
    next_team_event(&mut member).await;

    app.gql_ok(
        Some(&w.owner.access_token),
        REMOVE_TEAM_MEMBER,
        json!({ "input": { "teamId": w.team_id, "userId": w.member.user_id } }),
    )
    .await;
    let left = next_team_event(&mut owner).await;
    assert_eq!(left["__typename"], "MemberLeftEvent");
    assert_eq!(left["userId"], w.member.user_id.as_str());

    // The removed member learns it, then both their subscriptions end.
    let own_left = next_team_event(&mut member).await;
    assert_eq!(own_left["userId"], w.member.user_id.as_str());
    assert_eq!(
        first_error_code(&member.expect_error("team").await),
        "FORBIDDEN"
    );
    assert_eq!(
        first_error_code(&member.expect_error("thread").await),
        "FORBIDDEN"
    );

    // Nothing of the team or its thread reaches them any more.
    app.send_message(&w.author.access_token, &w.thread_id, "after you left")
        .await;
    app.create_thread(&w.owner.access_token, "Secret", Some(&w.team_id))
        .await;
    member
        .expect_silence(None, Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn user_events_carry_the_viewers_own_changes() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = WsClient::connected(&app.ws_url(), w.member.token()).await;
    client.subscribe("me", USER_EVENTS, json!({})).await;
    client.ping().await;

    app.gql_ok(
        Some(&w.member.access_token),
        orbit_tests::MARK_THREAD_READ,
        json!({ "input": { "threadId": w.thread_id, "messageId": w.message_id } }),
    )
    .await;
    let read = event(&client.next_payload("me").await, "userEvents");
    assert_eq!(read["__typename"], "ThreadReadEvent");
    assert_eq!(read["threadId"], w.thread_id.as_str());
    assert_eq!(read["messageId"], w.message_id.as_str());

    // A thread a teammate starts with the viewer in it.
    let data = app
        .gql_ok(
            Some(&w.owner.access_token),
            orbit_tests::CREATE_THREAD,
            json!({ "input": { "title": "Side chat", "participantIds": [w.member.user_id] } }),
        )
        .await;
    let thread = data["createThread"]["thread"]["id"].as_str().unwrap();
    let added = event(&client.next_payload("me").await, "userEvents");
    assert_eq!(added["__typename"], "ParticipantAddedEvent");
    assert_eq!(added["threadId"], thread);
    assert_eq!(added["userId"], w.member.user_id.as_str());

    // Others' read markers are not the viewer's business.
    app.gql_ok(
        Some(&w.author.access_token),
        orbit_tests::MARK_THREAD_READ,
        json!({ "input": { "threadId": w.thread_id, "messageId": w.message_id } }),
    )
    .await;
    client
        .expect_silence(Some("me"), Duration::from_millis(300))
        .await;

    // userEvents needs a user.
    let mut server = WsClient::connected(&app.ws_url(), Some(&w.keys.secret_key)).await;
    server.subscribe("me", USER_EVENTS, json!({})).await;
    assert_eq!(
        first_error_code(&server.expect_error("me").await),
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn typing_is_announced_and_lapses_without_renewal() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut watcher = watching_thread(&app, &w.thread_id, w.member.token()).await;
    let set_typing = "mutation($input: SetTypingInput!) { setTyping(input: $input) { typing } }";
    app.gql_ok(
        Some(&w.author.access_token),
        set_typing,
        json!({ "input": { "threadId": w.thread_id, "typing": true } }),
    )
    .await;
    let started = event(&watcher.next_payload("t").await, "threadEvents");
    assert_eq!(started["__typename"], "TypingEvent");
    assert_eq!(started["type"], "typing.started");
    assert_eq!(started["userId"], w.author.user_id.as_str());
    assert_eq!(started["typing"], true);

    // No renewal: once the clock passes the lapse, the server says stopped.
    app.clock.advance(chrono::Duration::seconds(6));
    let stopped = event(&watcher.next_payload("t").await, "threadEvents");
    assert_eq!(stopped["type"], "typing.stopped");
    assert_eq!(stopped["typing"], false);

    // Typing is ephemeral: a resume does not replay it.
    let mut later = WsClient::connected(&app.ws_url(), w.member.token()).await;
    later
        .subscribe(
            "t",
            THREAD_EVENTS,
            json!({ "id": w.thread_id, "after": started["cursor"] }),
        )
        .await;
    later
        .expect_silence(Some("t"), Duration::from_millis(300))
        .await;

    // Only those who may post can say they type.
    let response = app
        .gql(
            Some(&w.outsider.access_token),
            set_typing,
            json!({ "input": { "threadId": w.thread_id, "typing": true } }),
        )
        .await;
    orbit_tests::assert_error(&response, "NOT_FOUND", Some("threadId"));
}

#[tokio::test]
async fn logging_out_or_token_expiry_closes_the_socket_with_4403() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = watching_thread(&app, &w.thread_id, w.member.token()).await;
    app.gql_ok(
        Some(&w.member.access_token),
        LOG_OUT,
        json!({ "input": {} }),
    )
    .await;
    assert_eq!(client.expect_close().await.0, 4403);

    // A fresh session; its access token lapses after 15 minutes.
    let session = app.log_in(&w.keys.publishable_key, &w.author.email).await;
    let mut client = WsClient::connected(&app.ws_url(), session.token()).await;
    client.ping().await;
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(client.expect_close().await.0, 4403);

    // A revoked or expired credential is refused at init.
    let mut refused =
        WsClient::connect(&app.ws_url(), orbit_tests::ws::Protocol::TransportWs).await;
    refused
        .send_json(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", w.member.access_token) } }))
        .await;
    assert_eq!(refused.expect_close().await.0, 4403);
}

#[tokio::test]
async fn a_deleted_thread_completes_its_subscriptions() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut client = watching_thread(&app, &w.thread_id, w.member.token()).await;
    app.gql_ok(
        Some(&w.owner.access_token),
        orbit_tests::DELETE_THREAD,
        json!({ "input": { "id": w.thread_id } }),
    )
    .await;
    let deleted = event(&client.next_payload("t").await, "threadEvents");
    assert_eq!(deleted["__typename"], "ThreadDeletedEvent");
    assert_eq!(deleted["threadId"], w.thread_id.as_str());
    client.expect_complete("t").await;
}
