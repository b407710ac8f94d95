//! `/mcp`: Orbit as an MCP server. Outside agents speak JSON-RPC over
//! Streamable HTTP, as the wire has it (raw requests here), and through the
//! official SDK's client (the one the worker uses for MCP servers): they
//! list and read threads, post in them, and ask an agent and wait for its
//! reply — as the key or user they hold, under the same rules as GraphQL.

use std::collections::HashMap;

use orbit_domain::mcp::Listing;
use orbit_tests::llm::FakeTurn;
use orbit_tests::{TestApp, spawn_app};
use orbit_worker::agents::tools::ToolLimits;
use orbit_worker::mcp::{Endpoint, call, look};
use orbit_worker::outbound::Outbound;
use serde_json::{Value, json};

use crate::agent_tools::tool_world;

/// One JSON-RPC request to `/mcp` with `credential` as a bearer token:
/// the HTTP status and the JSON-RPC answer (null when there is none).
async fn rpc(app: &TestApp, credential: Option<&str>, method: &str, params: Value) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/mcp", app.address))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }));
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Calls `tool` and returns its result: `(isError, structured content or text)`.
async fn tool(
    app: &TestApp,
    credential: Option<&str>,
    name: &str,
    arguments: Value,
) -> (bool, Value) {
    let (status, answer) = rpc(
        app,
        credential,
        "tools/call",
        json!({ "name": name, "arguments": arguments }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let result = &answer["result"];
    let failed = result["isError"] == true;
    let value = if failed {
        result["content"][0]["text"].clone()
    } else {
        result["structuredContent"].clone()
    };
    (failed, value)
}

#[tokio::test]
async fn mcp_wants_the_secret_key_or_a_users_token() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    for credential in [
        None,
        Some(w.keys.publishable_key.as_str()),
        Some("not-a-token"),
    ] {
        let response = app
            .client
            .post(format!("{}/mcp", app.address))
            .header("accept", "application/json, text/event-stream")
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }));
        let response = match credential {
            Some(credential) => response.bearer_auth(credential),
            None => response,
        }
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 401, "{credential:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer",
            "{credential:?}"
        );
    }
    let (status, listed) = rpc(&app, Some(&w.keys.secret_key), "tools/list", json!({})).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "list_threads",
            "read_thread",
            "post_message",
            "ask_agent",
            "get_agent_reply",
            "list_agents"
        ]
    );
    let (status, init) = rpc(
        &app,
        w.author.token(),
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "an IDE", "version": "1" }
        }),
    )
    .await;
    assert_eq!(status, 200, "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "orbit");
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
}

#[tokio::test]
async fn a_user_lists_reads_and_posts_in_their_threads_and_no_one_elses() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let (failed, listed) = tool(&app, w.author.token(), "list_threads", json!({})).await;
    assert!(!failed, "{listed}");
    let ids: Vec<&str> = listed["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|thread| thread["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&w.thread_id.as_str()), "{listed}");

    let (failed, posted) = tool(
        &app,
        w.author.token(),
        "post_message",
        json!({ "threadId": w.thread_id, "content": "Posted from an IDE" }),
    )
    .await;
    assert!(!failed, "{posted}");
    let message_id = posted["message"]["id"].as_str().unwrap().to_owned();

    let (failed, read) = tool(
        &app,
        w.author.token(),
        "read_thread",
        json!({ "threadId": w.thread_id, "last": 5 }),
    )
    .await;
    assert!(!failed, "{read}");
    let last = read["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["id"], message_id.as_str());
    assert_eq!(last["content"], "Posted from an IDE");
    // The message is the user's, as if sent over GraphQL.
    assert_eq!(last["author"]["__typename"], "User");
    assert_eq!(last["author"]["id"], w.author.user_id.as_str());

    // The same rules as GraphQL: an outsider of the team and another app's
    // key see no such thread; bad arguments name the argument.
    let (failed, error) = tool(
        &app,
        w.outsider.token(),
        "read_thread",
        json!({ "threadId": w.thread_id }),
    )
    .await;
    assert!(failed);
    assert!(error.as_str().unwrap().starts_with("NOT_FOUND"), "{error}");
    let (failed, error) = tool(
        &app,
        w.outsider.token(),
        "post_message",
        json!({ "threadId": w.thread_id, "content": "let me in" }),
    )
    .await;
    assert!(failed);
    assert!(error.as_str().unwrap().starts_with("NOT_FOUND"), "{error}");
    let other = app.new_team_world().await;
    let (failed, error) = tool(
        &app,
        Some(&other.keys.secret_key),
        "read_thread",
        json!({ "threadId": w.thread_id }),
    )
    .await;
    assert!(failed);
    assert!(error.as_str().unwrap().starts_with("NOT_FOUND"), "{error}");
    let (failed, error) = tool(&app, w.author.token(), "read_thread", json!({})).await;
    assert!(failed);
    assert_eq!(error, "BAD_USER_INPUT on threadId: is required");
    let (failed, error) = tool(
        &app,
        w.author.token(),
        "post_message",
        json!({ "threadId": w.thread_id, "content": "" }),
    )
    .await;
    assert!(failed);
    assert!(
        error
            .as_str()
            .unwrap()
            .starts_with("BAD_USER_INPUT on content"),
        "{error}"
    );
    // A tool that does not exist is a protocol error, not a tool's.
    let (_, unknown) = rpc(
        &app,
        w.author.token(),
        "tools/call",
        json!({ "name": "drop_tables", "arguments": {} }),
    )
    .await;
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("drop_tables"),
        "{unknown}"
    );
}

#[tokio::test]
async fn an_outside_agent_asks_an_agent_and_gets_its_reply() {
    let tw = tool_world(
        spawn_app().await,
        vec![FakeTurn::text("Hello from the helper.")],
        8,
    )
    .await;
    let (failed, asked) = tool(
        &tw.app,
        tw.w.author.token(),
        "ask_agent",
        json!({ "threadId": tw.w.thread_id, "content": "@helper say hello", "agentHandle": "helper" }),
    )
    .await;
    assert!(!failed, "{asked}");
    assert_eq!(asked["reply"]["status"], "COMPLETED", "{asked}");
    assert_eq!(
        asked["reply"]["message"]["content"],
        "Hello from the helper."
    );
    assert_eq!(asked["reply"]["agent"]["handle"], "helper");
    let reply_id = asked["reply"]["id"].as_str().unwrap();
    let (failed, again) = tool(
        &tw.app,
        tw.w.author.token(),
        "get_agent_reply",
        json!({ "replyId": reply_id }),
    )
    .await;
    assert!(!failed, "{again}");
    assert_eq!(again["reply"]["status"], "COMPLETED");

    // With the secret key, on a user's behalf; naming an agent the thread
    // does not have is said plainly, with the message that was posted.
    let (failed, error) = tool(
        &tw.app,
        Some(&tw.w.keys.secret_key),
        "ask_agent",
        json!({ "threadId": tw.w.thread_id, "content": "anyone?", "agentHandle": "nobody", "authorId": tw.w.author.user_id }),
    )
    .await;
    assert!(failed);
    assert!(
        error
            .as_str()
            .unwrap()
            .contains("@nobody does not answer it"),
        "{error}"
    );
    let (failed, agents) = tool(
        &tw.app,
        Some(&tw.w.keys.secret_key),
        "list_agents",
        json!({}),
    )
    .await;
    assert!(!failed, "{agents}");
    assert_eq!(agents["agents"][0]["handle"], "helper");
}

#[tokio::test]
async fn the_official_sdk_client_lists_and_calls_orbits_tools() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let outbound = Outbound::new(true);
    let endpoint = || Endpoint {
        url: format!("{}/mcp", app.address).parse().unwrap(),
        headers: HashMap::from([(
            "authorization".parse().unwrap(),
            format!("Bearer {}", w.author.access_token).parse().unwrap(),
        )]),
    };
    let Listing::Listed { tools, left_out } =
        look(&outbound, ToolLimits::default(), "orbit", endpoint()).await
    else {
        panic!("Orbit's /mcp could not be listed by the SDK's client");
    };
    assert!(left_out.is_empty(), "{left_out:?}");
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_str()).collect();
    assert!(names.contains(&"orbit__read_thread"), "{names:?}");
    let read = call(
        &outbound,
        ToolLimits::default(),
        endpoint(),
        "read_thread",
        &json!({ "threadId": w.thread_id }),
        "key-1",
    )
    .await
    .expect("read_thread answers");
    assert_eq!(read["id"], w.thread_id.as_str());
    assert!(!read["messages"].as_array().unwrap().is_empty(), "{read}");
}
