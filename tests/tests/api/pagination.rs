//! Keyset pagination: every message once, in order, in both directions; and
//! threads ordered by activity.

use std::collections::HashSet;

use orbit_tests::{TestApp, node_ids, spawn_app};
use serde_json::{Value, json};

const PAGE_QUERY: &str =
    "query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  thread(id: $id) {
    messages(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id content } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}";

async fn page(app: &TestApp, token: &str, variables: Value) -> Value {
    let data = app.gql_ok(Some(token), PAGE_QUERY, variables).await;
    data["thread"]["messages"].clone()
}

#[tokio::test]
async fn three_hundred_messages_walk_forward_and_backward_without_gaps() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.member.access_token.clone();
    let thread = app.create_thread(&token, "Long", None).await;
    let mut sent = Vec::with_capacity(300);
    for i in 0..300 {
        // Every few messages share a timestamp: order must not rely on time alone.
        if i % 7 == 0 {
            app.clock.advance(chrono::Duration::seconds(1));
        }
        sent.push(app.send_message(&token, &thread, &format!("m{i:03}")).await);
    }

    // Forward, 50 at a time.
    let mut forward = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let connection = page(
            &app,
            &token,
            json!({ "id": thread, "first": 50, "after": after }),
        )
        .await;
        pages += 1;
        let ids = node_ids(&connection);
        assert_eq!(ids.len(), 50, "page {pages} is short");
        let edges = connection["edges"].as_array().unwrap();
        assert_eq!(connection["pageInfo"]["startCursor"], edges[0]["cursor"]);
        assert_eq!(connection["pageInfo"]["endCursor"], edges[49]["cursor"]);
        for (j, edge) in edges.iter().enumerate() {
            let index = forward.len() + j;
            assert_eq!(edge["node"]["content"], format!("m{index:03}"));
        }
        forward.extend(ids);
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert!(pages < 10, "forward pagination does not end");
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(pages, 6);
    assert_eq!(forward, sent, "forward walk differs from send order");

    // Backward, 50 at a time, from the end.
    let mut backward: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    let mut pages = 0;
    loop {
        let connection = page(
            &app,
            &token,
            json!({ "id": thread, "last": 50, "before": before }),
        )
        .await;
        pages += 1;
        let ids = node_ids(&connection);
        assert_eq!(ids.len(), 50, "backward page {pages} is short");
        // Each page is itself oldest first.
        let expected_end = 300 - backward.len();
        assert_eq!(
            ids,
            sent[expected_end - 50..expected_end].to_vec(),
            "backward page {pages}"
        );
        let mut merged = ids;
        merged.extend(backward);
        backward = merged;
        if !connection["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        assert!(pages < 10, "backward pagination does not end");
        before = connection["pageInfo"]["startCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(pages, 6);
    assert_eq!(backward, sent, "backward walk differs from send order");
    let unique: HashSet<&String> = backward.iter().collect();
    assert_eq!(unique.len(), 300);
}

#[tokio::test]
async fn page_edges_report_neighbours() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.member.access_token.clone();
    let thread = app.create_thread(&token, "Short", None).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(app.send_message(&token, &thread, &format!("s{i}")).await);
    }
    let all = page(&app, &token, json!({ "id": thread, "first": 10 })).await;
    assert_eq!(node_ids(&all), sent);
    assert_eq!(all["pageInfo"]["hasNextPage"], false);

    let head = page(&app, &token, json!({ "id": thread, "first": 2 })).await;
    assert_eq!(node_ids(&head), sent[..2].to_vec());
    assert_eq!(head["pageInfo"]["hasNextPage"], true);

    let middle = page(
        &app,
        &token,
        json!({ "id": thread, "first": 2, "after": head["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(node_ids(&middle), sent[2..4].to_vec());

    let tail = page(&app, &token, json!({ "id": thread, "last": 2 })).await;
    assert_eq!(node_ids(&tail), sent[3..].to_vec());
    assert_eq!(tail["pageInfo"]["hasPreviousPage"], true);

    let before_tail = page(
        &app,
        &token,
        json!({ "id": thread, "last": 10, "before": tail["pageInfo"]["startCursor"] }),
    )
    .await;
    assert_eq!(node_ids(&before_tail), sent[..3].to_vec());
    assert_eq!(before_tail["pageInfo"]["hasPreviousPage"], false);

    // A new message shows up after the last cursor, exactly once.
    let newest = app.send_message(&token, &thread, "late").await;
    let after_all = page(
        &app,
        &token,
        json!({ "id": thread, "first": 10, "after": all["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(node_ids(&after_all), vec![newest]);
}

#[tokio::test]
async fn first_and_last_are_bounded_and_exclusive() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.member.access_token.clone();
    for (variables, field) in [
        (json!({ "id": w.thread_id, "first": 0 }), "first"),
        (json!({ "id": w.thread_id, "first": 101 }), "first"),
        (json!({ "id": w.thread_id, "first": -1 }), "first"),
        (json!({ "id": w.thread_id, "last": 0 }), "last"),
        (json!({ "id": w.thread_id, "last": 101 }), "last"),
    ] {
        let response = app.gql(Some(&token), PAGE_QUERY, variables.clone()).await;
        orbit_tests::assert_error(&response, "BAD_USER_INPUT", Some(field));
    }
    let both = app
        .gql(
            Some(&token),
            PAGE_QUERY,
            json!({ "id": w.thread_id, "first": 10, "last": 10 }),
        )
        .await;
    orbit_tests::assert_error(&both, "BAD_USER_INPUT", None);

    let bad_cursor = app
        .gql(
            Some(&token),
            PAGE_QUERY,
            json!({ "id": w.thread_id, "first": 10, "after": "not a cursor" }),
        )
        .await;
    orbit_tests::assert_error(&bad_cursor, "BAD_USER_INPUT", Some("after"));

    let ok = page(&app, &token, json!({ "id": w.thread_id, "first": 100 })).await;
    assert_eq!(node_ids(&ok), vec![w.message_id.clone()]);
}

async fn thread_order(app: &TestApp, token: &str) -> Vec<String> {
    let data = app
        .gql_ok(
            Some(token),
            "{ threads(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    node_ids(&data["threads"])
}

#[tokio::test]
async fn threads_are_ordered_by_latest_activity() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.owner.access_token.clone();
    let mut created = Vec::new();
    for title in ["one", "two", "three"] {
        app.clock.advance(chrono::Duration::seconds(10));
        created.push(app.create_thread(&token, title, Some(&w.team_id)).await);
    }
    let (one, two, three) = (&created[0], &created[1], &created[2]);
    // The world's thread had its message before any of these were created.
    assert_eq!(
        thread_order(&app, &token).await,
        vec![three.clone(), two.clone(), one.clone(), w.thread_id.clone()]
    );

    app.clock.advance(chrono::Duration::seconds(10));
    app.send_message(&token, one, "bump").await;
    assert_eq!(
        thread_order(&app, &token).await,
        vec![one.clone(), three.clone(), two.clone(), w.thread_id.clone()]
    );

    app.clock.advance(chrono::Duration::seconds(10));
    app.send_message(&w.member.access_token, &w.thread_id, "revive")
        .await;
    let order = vec![w.thread_id.clone(), one.clone(), three.clone(), two.clone()];
    assert_eq!(thread_order(&app, &token).await, order);
    // Every viewer sees the same order.
    assert_eq!(thread_order(&app, &w.member.access_token).await, order);

    // Paging through threads two at a time gives the same list.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .gql_ok(
                Some(&token),
                "query($after: String) { threads(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        walked.extend(node_ids(&data["threads"]));
        if !data["threads"]["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap()
        {
            break;
        }
        assert!(
            walked.len() <= order.len(),
            "thread pagination does not end"
        );
        after = data["threads"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(walked, order);
}

#[tokio::test]
async fn thread_pages_continue_from_the_cursor() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.owner.access_token.clone();
    let mut created = Vec::new();
    for i in 0..5 {
        app.clock.advance(chrono::Duration::seconds(1));
        created.push(app.create_thread(&token, &format!("t{i}"), None).await);
    }
    let first_page = app
        .gql_ok(
            Some(&token),
            "{ threads(first: 3) { edges { node { id } } pageInfo { endCursor hasNextPage } } }",
            json!({}),
        )
        .await;
    let ids = node_ids(&first_page["threads"]);
    assert_eq!(
        ids,
        vec![created[4].clone(), created[3].clone(), created[2].clone()]
    );
    assert_eq!(first_page["threads"]["pageInfo"]["hasNextPage"], true);

    let rest = app
        .gql_ok(
            Some(&token),
            "query($after: String) { threads(first: 10, after: $after) { edges { node { id } } } }",
            json!({ "after": first_page["threads"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        node_ids(&rest["threads"]),
        vec![created[1].clone(), created[0].clone(), w.thread_id.clone()]
    );
}

/// The cursors of the first page of a list, read with `query` at `path`.
async fn cursors(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    path: &[&str],
) -> Vec<String> {
    let mut connection = app.gql_ok(Some(token), query, variables).await;
    for key in path {
        connection = connection[*key].clone();
    }
    let cursors: Vec<String> = connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["cursor"].as_str().unwrap().to_owned())
        .collect();
    assert!(!cursors.is_empty(), "{query}: no edges");
    cursors
}

#[tokio::test]
async fn a_cursor_works_only_on_the_list_it_came_from() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.author.access_token.clone();
    let secret = w.keys.secret_key.clone();
    for n in 2..=4 {
        app.send_message(&token, &w.thread_id, &format!("a{n}"))
            .await;
    }
    let other = app.create_thread(&token, "Other", Some(&w.team_id)).await;
    for n in 1..=3 {
        app.send_message(&token, &other, &format!("b{n}")).await;
    }

    let of_a = cursors(
        &app,
        &token,
        PAGE_QUERY,
        json!({ "id": w.thread_id, "first": 4 }),
        &["thread", "messages"],
    )
    .await;
    let threads = "query($team: ID, $after: String) { threads(first: 5, teamId: $team, after: $after) { edges { cursor } } }";
    let of_threads = cursors(&app, &token, threads, json!({}), &["threads"]).await;
    let of_team_threads = cursors(
        &app,
        &token,
        threads,
        json!({ "team": w.team_id }),
        &["threads"],
    )
    .await;
    let users = "query($search: String, $after: String) { users(first: 10, search: $search, after: $after) { edges { cursor } } }";
    let of_users = cursors(&app, &secret, users, json!({}), &["users"]).await;
    let of_teams = cursors(
        &app,
        &secret,
        "{ teams(first: 5) { edges { cursor } } }",
        json!({}),
        &["teams"],
    )
    .await;
    // Before cursors named their list, a cursor was the bare 16-byte key.
    let unbound = {
        use base64::Engine;
        let hex = w.message_id.split_once('_').unwrap().1;
        let key = uuid::Uuid::parse_str(hex).unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
    };

    // Each refused on the argument that carried it, never read as a place
    // in this list.
    let refused = [
        // Thread A's message cursor on thread B, both ways.
        (
            PAGE_QUERY,
            json!({ "id": other, "first": 2, "after": of_a[0] }),
            "after",
        ),
        (
            PAGE_QUERY,
            json!({ "id": other, "last": 2, "before": of_a[3] }),
            "before",
        ),
        // The threads list's cursor on messages.
        (
            PAGE_QUERY,
            json!({ "id": w.thread_id, "first": 2, "after": of_threads[0] }),
            "after",
        ),
        (
            PAGE_QUERY,
            json!({ "id": w.thread_id, "first": 2, "after": unbound }),
            "after",
        ),
        // Another filter is another list.
        (threads, json!({ "after": of_team_threads[0] }), "after"),
        (
            threads,
            json!({ "team": w.team_id, "after": of_threads[0] }),
            "after",
        ),
        (threads, json!({ "after": of_users[0] }), "after"),
        (users, json!({ "after": of_teams[0] }), "after"),
        (
            users,
            json!({ "search": "a", "after": of_users[0] }),
            "after",
        ),
    ];
    for (query, variables, field) in refused {
        let caller = if query == users { &secret } else { &token };
        let response = app.gql(Some(caller), query, variables.clone()).await;
        orbit_tests::assert_error(&response, "BAD_USER_INPUT", Some(field));
        assert!(
            response["data"].is_null()
                || response["data"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(Value::is_null),
            "{variables}: {response}"
        );
    }

    // The right cursor still pages, both ways.
    let forward = page(
        &app,
        &token,
        json!({ "id": w.thread_id, "first": 10, "after": of_a[1] }),
    )
    .await;
    let contents: Vec<&str> = forward["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["a3", "a4"]);
    let backward = page(
        &app,
        &token,
        json!({ "id": w.thread_id, "last": 10, "before": of_a[2] }),
    )
    .await;
    let contents: Vec<&str> = backward["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["hello team", "a2"]);
    let next = app
        .gql_ok(
            Some(&token),
            threads,
            json!({ "team": w.team_id, "after": of_team_threads[0] }),
        )
        .await;
    assert_eq!(
        next["threads"]["edges"].as_array().unwrap().len(),
        of_team_threads.len() - 1
    );
    let next = app
        .gql_ok(Some(&secret), users, json!({ "after": of_users[0] }))
        .await;
    assert_eq!(
        next["users"]["edges"].as_array().unwrap().len(),
        of_users.len() - 1
    );
}
