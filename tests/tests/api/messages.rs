//! Messages: sending, idempotent retries, edits, soft deletes, unread counts.

use orbit_tests::{
    DELETE_MESSAGE, EDIT_MESSAGE, MARK_THREAD_READ, REMOVE_TEAM_MEMBER, SEND_MESSAGE, THREAD,
    TestApp, assert_error, missing_id, no_data, spawn_app,
};
use serde_json::{Value, json};

async fn messages(app: &TestApp, token: &str, thread_id: &str) -> Vec<Value> {
    let data = app
        .gql_ok(
            Some(token),
            "query($id: ID!) { thread(id: $id) { messages(first: 100) { edges { node { id content deletedAt editedAt author { ... on User { id } } } } } } }",
            json!({ "id": thread_id }),
        )
        .await;
    data["thread"]["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn unread(app: &TestApp, token: &str, thread_id: &str) -> i64 {
    let data = app
        .gql_ok(Some(token), THREAD, json!({ "id": thread_id }))
        .await;
    data["thread"]["unreadCount"].as_i64().unwrap()
}

fn send(thread_id: &str, content: &str, key: Option<&str>) -> Value {
    json!({ "input": { "threadId": thread_id, "content": content, "idempotencyKey": key } })
}

#[tokio::test]
async fn send_message_returns_the_stored_message() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let data = app
        .gql_ok(
            w.member.token(),
            SEND_MESSAGE,
            json!({ "input": { "threadId": w.thread_id, "content": "hi all", "metadata": { "mood": "happy", "n": 3 } } }),
        )
        .await;
    let message = &data["sendMessage"]["message"];
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(message["content"], "hi all");
    assert_eq!(message["metadata"], json!({ "mood": "happy", "n": 3 }));
    assert_eq!(message["status"], "SENT");
    assert_eq!(message["thread"]["id"], w.thread_id.as_str());
    assert_eq!(message["author"]["id"], w.member.user_id.as_str());
    assert!(message["editedAt"].is_null());
    assert!(message["deletedAt"].is_null());
    let created: chrono::DateTime<chrono::Utc> =
        message["createdAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(created, orbit_tests::start_time());

    let all = messages(&app, &w.owner.access_token, &w.thread_id).await;
    let ids: Vec<&str> = all.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![w.message_id.as_str(), message["id"].as_str().unwrap()]
    );

    let thread = app
        .gql_ok(w.owner.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert!(thread["thread"]["lastMessageAt"].is_string());
}

#[tokio::test]
async fn only_viewers_of_the_thread_can_send() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let response = app
        .gql(
            w.outsider.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "let me in", None),
        )
        .await;
    assert_error(&response, "NOT_FOUND", Some("threadId"));
    assert!(no_data(&response, "sendMessage"));

    // A participant of a user's thread can send.
    let own = app
        .gql_ok(
            w.member.token(),
            orbit_tests::CREATE_THREAD,
            json!({ "input": { "title": "Pair", "participantIds": [w.admin.user_id] } }),
        )
        .await;
    let own = own["createThread"]["thread"]["id"].as_str().unwrap();
    let id = app
        .send_message(&w.admin.access_token, own, "hello from a participant")
        .await;
    let all = messages(&app, &w.member.access_token, own).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["id"], id.as_str());
    assert_eq!(all[0]["author"]["id"], w.admin.user_id.as_str());

    assert_eq!(
        messages(&app, &w.owner.access_token, &w.thread_id)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_first_message() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let first = app
        .gql_ok(
            w.member.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "once", Some("key-1")),
        )
        .await;
    let first_id = first["sendMessage"]["message"]["id"].as_str().unwrap();
    for _ in 0..3 {
        let retry = app
            .gql_ok(
                w.member.token(),
                SEND_MESSAGE,
                send(&w.thread_id, "once", Some("key-1")),
            )
            .await;
        assert_eq!(retry["sendMessage"]["message"]["id"], first_id);
        assert_eq!(retry["sendMessage"]["message"]["content"], "once");
    }
    let all = messages(&app, &w.owner.access_token, &w.thread_id).await;
    let ids: Vec<&str> = all.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![w.message_id.as_str(), first_id],
        "the retries created messages"
    );

    // A different key is a different message.
    let other = app
        .gql_ok(
            w.member.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "once", Some("key-2")),
        )
        .await;
    assert_ne!(other["sendMessage"]["message"]["id"], first_id);
    assert_eq!(
        messages(&app, &w.owner.access_token, &w.thread_id)
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn the_same_key_with_other_content_is_a_conflict() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    app.gql_ok(
        w.member.token(),
        SEND_MESSAGE,
        send(&w.thread_id, "original", Some("k")),
    )
    .await;
    let response = app
        .gql(
            w.member.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "changed", Some("k")),
        )
        .await;
    assert_error(&response, "CONFLICT", Some("idempotencyKey"));
    assert!(no_data(&response, "sendMessage"));
    let all = messages(&app, &w.owner.access_token, &w.thread_id).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["content"], "original");
}

#[tokio::test]
async fn another_author_reusing_a_key_does_not_get_the_first_message() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mine = app
        .gql_ok(
            w.member.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "same", Some("shared")),
        )
        .await;
    let theirs = app
        .gql(
            w.admin.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "same", Some("shared")),
        )
        .await;
    // Whatever the server decides, it must not hand out the member's message.
    if theirs["errors"].is_null() {
        let their_message = &theirs["data"]["sendMessage"]["message"];
        assert_ne!(their_message["id"], mine["sendMessage"]["message"]["id"]);
        assert_eq!(their_message["author"]["id"], w.admin.user_id.as_str());
    } else {
        assert!(no_data(&theirs, "sendMessage"));
    }
}

/// Most sends check access in the statement that writes them; what that
/// statement refuses is answered by the long way's checks, and nothing of
/// it is written.
#[tokio::test]
async fn access_lost_or_an_unknown_author_writes_nothing() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    app.send_message(&w.member.access_token, &w.thread_id, "while a member")
        .await;
    app.gql_ok(
        w.owner.token(),
        REMOVE_TEAM_MEMBER,
        json!({ "input": { "teamId": w.team_id, "userId": w.member.user_id } }),
    )
    .await;
    let after_removal = app
        .gql(
            w.member.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "after removal", None),
        )
        .await;
    assert_error(&after_removal, "NOT_FOUND", Some("threadId"));

    let sk = Some(w.keys.secret_key.as_str());
    let unknown_author = app
        .gql(
            sk,
            SEND_MESSAGE,
            json!({ "input": { "threadId": w.thread_id, "content": "from nobody",
                "authorId": missing_id("usr") } }),
        )
        .await;
    assert_error(&unknown_author, "NOT_FOUND", Some("authorId"));
    let unknown_thread = app
        .gql(
            sk,
            SEND_MESSAGE,
            json!({ "input": { "threadId": missing_id("thr"),
                "content": "into nothing", "authorId": w.admin.user_id } }),
        )
        .await;
    assert_error(&unknown_thread, "NOT_FOUND", Some("threadId"));

    let contents: Vec<Value> = messages(&app, &w.owner.access_token, &w.thread_id)
        .await
        .into_iter()
        .map(|message| message["content"].clone())
        .collect();
    assert_eq!(
        contents.len(),
        2,
        "only the member's first message was added: {contents:?}"
    );
    assert!(contents.contains(&json!("while a member")));
}

#[tokio::test]
async fn the_secret_key_sends_for_a_named_author() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = Some(w.keys.secret_key.as_str());
    let missing = app
        .gql(sk, SEND_MESSAGE, send(&w.thread_id, "from nobody", None))
        .await;
    assert_error(&missing, "BAD_USER_INPUT", Some("authorId"));

    let data = app
        .gql_ok(
            sk,
            SEND_MESSAGE,
            json!({ "input": { "threadId": w.thread_id, "content": "on behalf", "authorId": w.admin.user_id } }),
        )
        .await;
    assert_eq!(
        data["sendMessage"]["message"]["author"]["id"],
        w.admin.user_id.as_str()
    );

    let by_user = app
        .gql(
            w.member.token(),
            SEND_MESSAGE,
            json!({ "input": { "threadId": w.thread_id, "content": "as admin", "authorId": w.admin.user_id } }),
        )
        .await;
    assert_error(&by_user, "FORBIDDEN", Some("authorId"));
    assert_eq!(
        messages(&app, &w.owner.access_token, &w.thread_id)
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn send_message_validates_content() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    for content in ["".to_owned(), "x".repeat(10_001)] {
        let response = app
            .gql(
                w.member.token(),
                SEND_MESSAGE,
                send(&w.thread_id, &content, None),
            )
            .await;
        assert_error(&response, "BAD_USER_INPUT", Some("content"));
    }
    let long_key = "k".repeat(129);
    let response = app
        .gql(
            w.member.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "hi", Some(&long_key)),
        )
        .await;
    assert_error(&response, "BAD_USER_INPUT", Some("idempotencyKey"));
    let wrong_kind = app
        .gql(w.member.token(), SEND_MESSAGE, send(&w.team_id, "hi", None))
        .await;
    assert_error(&wrong_kind, "BAD_USER_INPUT", Some("threadId"));
    assert_eq!(
        messages(&app, &w.owner.access_token, &w.thread_id)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn only_the_author_or_the_secret_key_edits() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    app.clock.advance(chrono::Duration::minutes(5));
    let edit = |content: &str| json!({ "input": { "id": w.message_id, "content": content } });

    let data = app
        .gql_ok(w.author.token(), EDIT_MESSAGE, edit("hello, team"))
        .await;
    let message = &data["editMessage"]["message"];
    assert_eq!(message["content"], "hello, team");
    let edited: chrono::DateTime<chrono::Utc> =
        message["editedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        edited,
        orbit_tests::start_time() + chrono::Duration::minutes(5)
    );

    for who in [&w.owner, &w.admin, &w.member] {
        let response = app.gql(who.token(), EDIT_MESSAGE, edit("hijacked")).await;
        assert_error(&response, "FORBIDDEN", None);
    }
    let outsider = app
        .gql(w.outsider.token(), EDIT_MESSAGE, edit("hijacked"))
        .await;
    assert_error(&outsider, "NOT_FOUND", None);
    let empty = app.gql(w.author.token(), EDIT_MESSAGE, edit("")).await;
    assert_error(&empty, "BAD_USER_INPUT", Some("content"));

    let data = app
        .gql_ok(Some(&w.keys.secret_key), EDIT_MESSAGE, edit("moderated"))
        .await;
    assert_eq!(data["editMessage"]["message"]["content"], "moderated");
    let all = messages(&app, &w.member.access_token, &w.thread_id).await;
    assert_eq!(all[0]["content"], "moderated");
}

#[tokio::test]
async fn delete_is_soft_and_keeps_the_messages_place() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let second = app
        .send_message(&w.member.access_token, &w.thread_id, "second")
        .await;
    app.clock.advance(chrono::Duration::minutes(1));

    let data = app
        .gql_ok(
            w.author.token(),
            DELETE_MESSAGE,
            json!({ "input": { "id": w.message_id } }),
        )
        .await;
    let deleted = &data["deleteMessage"]["message"];
    assert_eq!(deleted["id"], w.message_id.as_str());
    assert!(deleted["content"].is_null(), "content kept: {deleted}");
    let at: chrono::DateTime<chrono::Utc> = deleted["deletedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, orbit_tests::start_time() + chrono::Duration::minutes(1));

    let all = messages(&app, &w.member.access_token, &w.thread_id).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["id"], w.message_id.as_str());
    assert!(all[0]["content"].is_null());
    assert!(all[0]["deletedAt"].is_string());
    assert_eq!(all[1]["id"], second.as_str());
    assert_eq!(all[1]["content"], "second");
}

#[tokio::test]
async fn thread_managers_delete_others_messages_members_do_not() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let by_member = app
        .gql(
            w.member.token(),
            DELETE_MESSAGE,
            json!({ "input": { "id": w.message_id } }),
        )
        .await;
    assert_error(&by_member, "FORBIDDEN", None);
    let by_outsider = app
        .gql(
            w.outsider.token(),
            DELETE_MESSAGE,
            json!({ "input": { "id": w.message_id } }),
        )
        .await;
    assert_error(&by_outsider, "NOT_FOUND", None);
    let still = messages(&app, &w.member.access_token, &w.thread_id).await;
    assert_eq!(still[0]["content"], "hello team");

    let data = app
        .gql_ok(
            w.admin.token(),
            DELETE_MESSAGE,
            json!({ "input": { "id": w.message_id } }),
        )
        .await;
    assert!(data["deleteMessage"]["message"]["deletedAt"].is_string());

    let other = app
        .send_message(&w.member.access_token, &w.thread_id, "mine")
        .await;
    let data = app
        .gql_ok(
            Some(&w.keys.secret_key),
            DELETE_MESSAGE,
            json!({ "input": { "id": other } }),
        )
        .await;
    assert!(data["deleteMessage"]["message"]["content"].is_null());
}

#[tokio::test]
async fn unread_counts_follow_the_read_marker_and_ignore_own_messages() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let t = &w.thread_id;
    // The author wrote one message already; nothing is unread for them.
    assert_eq!(unread(&app, &w.author.access_token, t).await, 0);
    assert_eq!(unread(&app, &w.member.access_token, t).await, 1);

    let m2 = app.send_message(&w.author.access_token, t, "two").await;
    let m3 = app.send_message(&w.author.access_token, t, "three").await;
    assert_eq!(unread(&app, &w.member.access_token, t).await, 3);
    assert_eq!(unread(&app, &w.author.access_token, t).await, 0);

    let data = app
        .gql_ok(
            w.member.token(),
            MARK_THREAD_READ,
            json!({ "input": { "threadId": t, "messageId": m2 } }),
        )
        .await;
    assert_eq!(data["markThreadRead"]["thread"]["id"], t.as_str());
    assert_eq!(unread(&app, &w.member.access_token, t).await, 1);

    // The member's own message does not count for them, but does for the author.
    app.send_message(&w.member.access_token, t, "reply").await;
    assert_eq!(unread(&app, &w.member.access_token, t).await, 1);
    assert_eq!(unread(&app, &w.author.access_token, t).await, 1);

    app.gql_ok(
        w.member.token(),
        MARK_THREAD_READ,
        json!({ "input": { "threadId": t, "messageId": m3 } }),
    )
    .await;
    assert_eq!(unread(&app, &w.member.access_token, t).await, 0);
    // Others' markers are untouched: the admin has read nothing of the four.
    assert_eq!(unread(&app, &w.admin.access_token, t).await, 4);
    // The secret key has no read marker.
    assert_eq!(unread(&app, &w.keys.secret_key, t).await, 0);

    let wrong_kind = app
        .gql(
            w.member.token(),
            MARK_THREAD_READ,
            json!({ "input": { "threadId": t, "messageId": w.team_id } }),
        )
        .await;
    assert_error(&wrong_kind, "BAD_USER_INPUT", Some("messageId"));
    let outsider = app
        .gql(
            w.outsider.token(),
            MARK_THREAD_READ,
            json!({ "input": { "threadId": t, "messageId": m3 } }),
        )
        .await;
    assert_error(&outsider, "NOT_FOUND", Some("threadId"));
}

#[tokio::test]
async fn concurrent_retries_with_one_key_make_one_message() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let attempt = || {
        app.gql(
            w.member.token(),
            SEND_MESSAGE,
            send(&w.thread_id, "racing", Some("race-key")),
        )
    };
    let (a, b, c, d) = tokio::join!(attempt(), attempt(), attempt(), attempt());
    let ids: Vec<Value> = [a, b, c, d]
        .iter()
        .map(|r| {
            assert!(r["errors"].is_null(), "a retry failed: {r}");
            r["data"]["sendMessage"]["message"]["id"].clone()
        })
        .collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "different ids: {ids:?}");
    assert_eq!(
        messages(&app, &w.owner.access_token, &w.thread_id)
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn the_secret_keys_retries_are_idempotent_too() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let input = json!({ "input": {
        "threadId": w.thread_id, "content": "from the backend",
        "authorId": w.admin.user_id, "idempotencyKey": "backend-1",
    } });
    let sk = Some(w.keys.secret_key.as_str());
    let first = app.gql_ok(sk, SEND_MESSAGE, input.clone()).await;
    let second = app.gql_ok(sk, SEND_MESSAGE, input).await;
    assert_eq!(
        first["sendMessage"]["message"]["id"],
        second["sendMessage"]["message"]["id"]
    );
    assert_eq!(
        messages(&app, &w.owner.access_token, &w.thread_id)
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn mark_thread_read_wants_a_message_of_that_thread() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let other = app
        .create_thread(&w.member.access_token, "Other", Some(&w.team_id))
        .await;
    let elsewhere = app
        .send_message(&w.owner.access_token, &other, "elsewhere")
        .await;
    let response = app
        .gql(
            w.member.token(),
            MARK_THREAD_READ,
            json!({ "input": { "threadId": w.thread_id, "messageId": elsewhere } }),
        )
        .await;
    assert!(
        matches!(
            orbit_tests::error_code(&response).as_deref(),
            Some("NOT_FOUND" | "BAD_USER_INPUT")
        ),
        "{response}"
    );
    assert_eq!(
        orbit_tests::error_field(&response).as_deref(),
        Some("messageId"),
        "{response}"
    );
    assert_eq!(unread(&app, &w.member.access_token, &w.thread_id).await, 1);
}

#[tokio::test]
async fn a_deleted_message_cannot_be_edited_back() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    app.gql_ok(
        w.author.token(),
        DELETE_MESSAGE,
        json!({ "input": { "id": w.message_id } }),
    )
    .await;
    let response = app
        .gql(
            w.author.token(),
            EDIT_MESSAGE,
            json!({ "input": { "id": w.message_id, "content": "resurrected" } }),
        )
        .await;
    assert!(orbit_tests::error_code(&response).is_some(), "{response}");
    assert!(no_data(&response, "editMessage"));
    let all = messages(&app, &w.member.access_token, &w.thread_id).await;
    assert!(all[0]["content"].is_null(), "content came back: {}", all[0]);
    assert_eq!(
        unread(&app, &w.member.access_token, &w.thread_id).await,
        0,
        "a deleted message counts as unread"
    );
}

#[tokio::test]
async fn a_stale_read_marker_never_moves_read_state_backward() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let t = &w.thread_id;
    let m2 = app.send_message(&w.author.access_token, t, "two").await;
    let m3 = app.send_message(&w.author.access_token, t, "three").await;
    for newest in [&m3, &m2, &w.message_id] {
        app.gql_ok(
            w.member.token(),
            MARK_THREAD_READ,
            json!({ "input": { "threadId": t, "messageId": newest } }),
        )
        .await;
    }
    // Marked up to the newest first; the later, older marks change nothing.
    assert_eq!(unread(&app, &w.member.access_token, t).await, 0);
    app.send_message(&w.author.access_token, t, "four").await;
    assert_eq!(unread(&app, &w.member.access_token, t).await, 1);
}
