//! Input errors name their field; request limits hold; errors never leak
//! internals.

use orbit_tests::{
    SEND_MESSAGE, TEAM, THREAD, assert_error, error_code, no_data, node_ids, spawn_app,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn an_id_with_the_wrong_prefix_is_bad_input_on_its_field() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.owner.token();

    let team = app.gql(token, TEAM, json!({ "id": w.thread_id })).await;
    assert_error(&team, "BAD_USER_INPUT", Some("id"));
    assert!(no_data(&team, "team"));
    let thread = app.gql(token, THREAD, json!({ "id": w.team_id })).await;
    assert_error(&thread, "BAD_USER_INPUT", Some("id"));
    let user = app
        .gql(
            token,
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": "usr_nothex" }),
        )
        .await;
    assert_error(&user, "BAD_USER_INPUT", Some("id"));
    let send = app
        .gql(
            token,
            SEND_MESSAGE,
            json!({ "input": { "threadId": w.message_id, "content": "x" } }),
        )
        .await;
    assert_error(&send, "BAD_USER_INPUT", Some("threadId"));
    let threads = app
        .gql(
            token,
            "query($t: ID) { threads(teamId: $t) { edges { node { id } } } }",
            json!({ "t": w.thread_id }),
        )
        .await;
    assert_error(&threads, "BAD_USER_INPUT", Some("teamId"));
    let node = app
        .gql(
            token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": "zzz_123" }),
        )
        .await;
    assert_error(&node, "BAD_USER_INPUT", Some("id"));
    // Upper-case hex is another spelling of an id: refused rather than aliased.
    let upper = w.team_id.replacen("team_", "", 1).to_uppercase();
    let shouted = app
        .gql(token, TEAM, json!({ "id": format!("team_{upper}") }))
        .await;
    assert!(
        error_code(&shouted).is_some() && no_data(&shouted, "team"),
        "{shouted}"
    );
}

#[tokio::test]
async fn a_missing_object_is_not_found_on_its_field() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let token = w.owner.token();
    let team = app
        .gql(
            token,
            TEAM,
            json!({ "id": orbit_tests::missing_id("team") }),
        )
        .await;
    assert_error(&team, "NOT_FOUND", Some("id"));
    let send = app
        .gql(
            token,
            SEND_MESSAGE,
            json!({ "input": { "threadId": orbit_tests::missing_id("thr"), "content": "x" } }),
        )
        .await;
    assert_error(&send, "NOT_FOUND", Some("threadId"));
    let node = app
        .gql_ok(
            token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": orbit_tests::missing_id("msg") }),
        )
        .await;
    assert!(node["node"].is_null());
}

#[tokio::test]
async fn a_too_deep_query_is_refused() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    // threads > edges > node > messages > edges > node > thread > ... : depth 15.
    let deep = "{ threads { edges { node { messages { edges { node { thread { messages { edges { node { thread { messages { edges { node { id } } } } } } } } } } } } } } }";
    let response = app.gql(w.owner.token(), deep, json!({})).await;
    let code = error_code(&response);
    assert!(
        code.is_some() && code.as_deref() != Some("INTERNAL"),
        "deep query: {response}"
    );
    assert!(response["data"].is_null(), "deep query ran: {response}");

    // A reasonable depth still runs.
    let shallow = "{ threads { edges { node { id messages { edges { node { id } } } } } } }";
    let data = app.gql_ok(w.owner.token(), shallow, json!({})).await;
    assert_eq!(node_ids(&data["threads"]), vec![w.thread_id.clone()]);
}

#[tokio::test]
async fn too_many_aliases_or_root_fields_are_refused() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let aliases: String = (0..31)
        .map(|i| format!("a{i}: viewer {{ kind }} "))
        .collect();
    let response = app
        .gql(w.owner.token(), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert!(
        error_code(&response).is_some(),
        "31 aliases ran: {response}"
    );
    assert!(response["data"].is_null());

    // Many aliased logins in one request: a brute-force vector.
    let logins: String = (0..50)
        .map(|i| {
            format!(
                "l{i}: logIn(input: {{ email: \"{}\", password: \"guess-{i}-xxxxx\" }}) {{ accessToken }} ",
                w.member.email
            )
        })
        .collect();
    let response = app
        .gql(
            Some(&w.keys.publishable_key),
            &format!("mutation {{ {logins} }}"),
            json!({}),
        )
        .await;
    assert!(error_code(&response).is_some(), "50 logins ran: {response}");
    assert!(response["data"].is_null(), "50 logins ran: {response}");
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let padding = "x".repeat(1024 * 1024 + 1);
    let response = app
        .client
        .post(app.graphql_url())
        .bearer_auth(&w.owner.access_token)
        .json(&json!({
            "query": SEND_MESSAGE,
            "variables": { "input": { "threadId": w.thread_id, "content": padding } },
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // Refused before parsing.
    } else {
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(
            error_code(&body).is_some_and(|c| c != "INTERNAL"),
            "oversized body: status {status}, body {body}"
        );
    }
    let ids = app
        .message_ids(&w.owner.access_token, &w.thread_id, 10)
        .await;
    assert_eq!(
        ids,
        vec![w.message_id.clone()],
        "the oversized message was stored"
    );
}

#[tokio::test]
async fn malformed_bodies_are_bad_input_not_internal() {
    let app = spawn_app().await;
    for body in ["{not json", "42", "{\"query\": 1}"] {
        let response = app
            .client
            .post(app.graphql_url())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_client_error() || status == StatusCode::OK,
            "{body}: {status}"
        );
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = error_code(&value);
        assert!(
            code.is_some_and(|c| c != "INTERNAL") || status.is_client_error(),
            "{body}: {status} {text}"
        );
    }
    let unknown = app.gql(None, "{ noSuchField }", json!({})).await;
    assert_error(&unknown, "BAD_USER_INPUT", None);
    let syntax = app.gql(None, "{ viewer { kind ", json!({})).await;
    assert_error(&syntax, "BAD_USER_INPUT", None);
}

#[tokio::test]
async fn first_over_one_hundred_is_bad_input_on_first() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    for query in [
        "{ threads(first: 101) { edges { node { id } } } }",
        "{ teams(first: 101) { edges { node { id } } } }",
        "{ users(first: 101) { edges { node { id } } } }",
    ] {
        let response = app.gql(w.owner.token(), query, json!({})).await;
        assert_error(&response, "BAD_USER_INPUT", Some("first"));
    }
    let messages = app
        .gql(
            w.owner.token(),
            "query($id: ID!) { thread(id: $id) { messages(first: 101) { edges { node { id } } } } }",
            json!({ "id": w.thread_id }),
        )
        .await;
    assert_error(&messages, "BAD_USER_INPUT", Some("first"));
    let hundred = app
        .gql_ok(
            w.owner.token(),
            "{ threads(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(node_ids(&hundred["threads"]).len(), 1);
}

#[tokio::test]
async fn metadata_over_eight_kib_is_bad_input_on_metadata() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let send = |metadata: Value| json!({ "input": { "threadId": w.thread_id, "content": "with metadata", "metadata": metadata } });
    let big = json!({ "blob": "m".repeat(8 * 1024 + 1) });
    let response = app.gql(w.member.token(), SEND_MESSAGE, send(big)).await;
    assert_error(&response, "BAD_USER_INPUT", Some("metadata"));

    let fits = json!({ "blob": "m".repeat(4 * 1024) });
    let data = app
        .gql_ok(w.member.token(), SEND_MESSAGE, send(fits.clone()))
        .await;
    assert_eq!(data["sendMessage"]["message"]["metadata"], fits);

    let ids = app
        .message_ids(&w.owner.access_token, &w.thread_id, 10)
        .await;
    assert_eq!(ids.len(), 2, "only the message that fits was stored");
}

#[tokio::test]
async fn batches_are_limited_to_ten_operations() {
    let app = spawn_app().await;
    let keys = app.create_app("Batch").await;
    let operation = json!({ "query": "{ viewer { kind } }" });

    let ten: Vec<Value> = (0..10).map(|_| operation.clone()).collect();
    let (status, body) = app
        .post_graphql(Some(&keys.secret_key), &Value::Array(ten))
        .await;
    assert_eq!(status, StatusCode::OK);
    let responses = body.as_array().expect("a batch answers with an array");
    assert_eq!(responses.len(), 10);
    for response in responses {
        assert_eq!(response["data"]["viewer"]["kind"], "APP_SECRET");
    }

    let eleven: Vec<Value> = (0..11).map(|_| operation.clone()).collect();
    let (status, body) = app
        .post_graphql(Some(&keys.secret_key), &Value::Array(eleven))
        .await;
    assert!(status.is_client_error(), "status {status}: {body}");
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert!(!body.is_array(), "the batch ran: {body}");
}

#[tokio::test]
async fn invalid_credentials_answer_401_in_the_graphql_shape() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_graphql(Some("nonsense"), &json!({ "query": "{ viewer { kind } }" }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    assert!(body["data"].is_null());
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.is_empty());
}

#[tokio::test]
async fn error_messages_do_not_leak_internals() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    // A batch of failures of each kind; none may mention SQL, the database or a panic.
    let responses = vec![
        app.gql(w.owner.token(), TEAM, json!({ "id": orbit_tests::missing_id("team") })).await,
        app.gql(w.owner.token(), TEAM, json!({ "id": "team_x" })).await,
        app.gql(w.member.token(), orbit_tests::DELETE_TEAM, json!({ "input": { "id": w.team_id } })).await,
        app.gql(
            Some(&w.keys.publishable_key),
            orbit_tests::SIGN_UP,
            json!({ "input": { "email": w.member.email, "password": orbit_tests::PASSWORD, "displayName": "Again" } }),
        )
        .await,
    ];
    for response in responses {
        let text = response.to_string().to_lowercase();
        for leak in [
            "sql",
            "sqlx",
            "postgres",
            "sqlite",
            "constraint",
            "panicked",
            "unique",
            "stack",
        ] {
            assert!(!text.contains(leak), "`{leak}` leaked: {response}");
        }
        assert!(error_code(&response).is_some(), "{response}");
    }
}
