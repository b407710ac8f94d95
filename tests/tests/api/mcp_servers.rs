//! MCP servers: an app registers a real MCP server (the official SDK's
//! server side on loopback), Orbit lists its tools over Streamable HTTP and
//! keeps them as tools of the app, agents call them through the same loop
//! as HTTP tools, and a refresh keeps them in step with what the server
//! lists now — while a server that is down keeps the tools it had.

use orbit_tests::llm::FakeTurn;
use orbit_tests::mcp_server::{FakeMcpServer, default_tools, tool};
use orbit_tests::{assert_error, eventually, spawn_app};
use serde_json::{Value, json};

use crate::agent_tools::{ToolWorld, tool_world};

const CREATE: &str = "mutation($input: CreateMcpServerInput!) { createMcpServer(input: $input) { mcpServer { id name url status lastError syncedAt headers { name value secret } leftOutTools { name reason } tools { id name kind mcpToolName description inputSchema mcpServer { id } } } } }";
const REFRESH: &str = "mutation($input: RefreshMcpServerInput!) { refreshMcpServer(input: $input) { mcpServer { id status lastError tools { id name description } } } }";
const DELETE: &str = "mutation($input: DeleteMcpServerInput!) { deleteMcpServer(input: $input) { deletedMcpServerId } }";
const SERVER: &str = "query($id: ID!) { mcpServer(id: $id) { id name status tools { name } } }";
const SERVERS: &str = "{ mcpServers(first: 10) { edges { node { id name } } } }";
const SET_TOOLS: &str = "mutation($input: SetAgentToolsInput!) { setAgentTools(input: $input) { agent { tools { name } } } }";
const TOOLS: &str = "{ tools(first: 50) { edges { node { name kind } } } }";

/// Registers `mcp` as the app's server `docs`, with a secret
/// `Authorization` header; returns the server as created.
async fn register(tw: &ToolWorld, mcp: &FakeMcpServer) -> Value {
    tw.app
        .gql_ok(
            tw.sk(),
            CREATE,
            json!({ "input": {
                "name": "docs",
                "url": mcp.url,
                "headers": [{ "name": "Authorization", "value": "Bearer s3cret", "secret": true }],
            } }),
        )
        .await["createMcpServer"]["mcpServer"]
        .clone()
}

fn tool_id(server: &Value, name: &str) -> String {
    server["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {server}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn names(tools: &Value) -> Vec<String> {
    tools
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn refresh(tw: &ToolWorld, id: &str) -> Value {
    tw.app
        .gql_ok(tw.sk(), REFRESH, json!({ "input": { "id": id } }))
        .await["refreshMcpServer"]["mcpServer"]
        .clone()
}

/// The names of the tools the world's agent has.
async fn agent_tools(tw: &ToolWorld) -> Vec<String> {
    let agent = tw
        .app
        .gql_ok(
            tw.sk(),
            "query($id: ID!) { agent(id: $id) { tools { name } } }",
            json!({ "id": tw.agent }),
        )
        .await;
    names(&agent["agent"]["tools"])
}

/// Gives the world's agent its HTTP tool and these tools of the server.
async fn give(tw: &ToolWorld, tool_ids: &[String]) -> Value {
    let mut ids = vec![tw.tool_id.clone()];
    ids.extend(tool_ids.iter().cloned());
    tw.app
        .gql_ok(
            tw.sk(),
            SET_TOOLS,
            json!({ "input": { "agentId": tw.agent, "toolIds": ids } }),
        )
        .await["setAgentTools"]["agent"]["tools"]
        .clone()
}

#[tokio::test]
async fn an_mcp_servers_tools_are_listed_given_to_an_agent_and_called_on_it() {
    let mcp = FakeMcpServer::start().await;
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::call("call_1", "docs__add", json!({ "a": 2, "b": 3 })),
            FakeTurn::call("call_2", "docs__structured", json!({})),
            FakeTurn::text("2 + 3 = 5."),
        ],
        8,
    )
    .await;
    let server = register(&tw, &mcp).await;
    assert_eq!(server["status"], "READY", "{server}");
    assert_eq!(server["lastError"], Value::Null);
    assert!(server["syncedAt"].is_string());
    // The secret header is never returned.
    assert_eq!(
        server["headers"],
        json!([{ "name": "Authorization", "value": null, "secret": true }])
    );
    assert_eq!(
        names(&server["tools"]),
        ["docs__add", "docs__fail", "docs__structured"]
    );
    let add = &server["tools"][0];
    assert_eq!(add["kind"], "MCP");
    assert_eq!(add["mcpToolName"], "add");
    assert_eq!(add["description"], "Adds two numbers");
    assert_eq!(add["inputSchema"]["required"], json!(["a", "b"]));
    assert_eq!(add["mcpServer"]["id"], server["id"]);
    // They are tools of the app like any other.
    let listed = tw.app.gql_ok(tw.sk(), TOOLS, json!({})).await;
    let kinds: Vec<(String, String)> = listed["tools"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| {
            (
                edge["node"]["name"].as_str().unwrap().to_owned(),
                edge["node"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("docs__add".to_owned(), "MCP".to_owned())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("get_weather".to_owned(), "HTTP".to_owned())),
        "{kinds:?}"
    );

    give(
        &tw,
        &[
            tool_id(&server, "docs__add"),
            tool_id(&server, "docs__structured"),
        ],
    )
    .await;
    let reply = tw.ask("What is 2 + 3?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert_eq!(ended["message"]["content"], "2 + 3 = 5.");
    let steps = ended["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{ended}");
    assert_eq!(steps[0]["toolName"], "docs__add");
    assert_eq!(steps[0]["status"], "COMPLETED");
    // The server answered JSON as text: the model reads it as JSON.
    assert_eq!(steps[0]["result"], json!({ "sum": 5.0 }));
    // Structured content wins over the text beside it.
    assert_eq!(steps[1]["result"], json!({ "ok": true }));

    // The server got the arguments, the secret header opened, and a key
    // naming the call.
    let calls = mcp.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].tool, "add");
    assert_eq!(calls[0].arguments, json!({ "a": 2, "b": 3 }));
    assert_eq!(calls[0].authorization.as_deref(), Some("Bearer s3cret"));
    let key = calls[0]
        .idempotency_key
        .clone()
        .expect("an idempotency key");
    assert_ne!(Some(key), calls[1].idempotency_key);
    // The model was sent the server's tools under their joined names.
    let request = &tw.llm.received()[0].body;
    let offered: Vec<&str> = request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["docs__add", "docs__structured", "get_weather"]);
}

#[tokio::test]
async fn a_tool_error_or_a_server_that_is_down_is_a_failed_step_the_model_reads() {
    let mcp = FakeMcpServer::start().await;
    let tw = tool_world(
        spawn_app().await,
        // Two replies: the n-th request to the model gets the n-th turn.
        vec![
            FakeTurn::call("call_1", "docs__fail", json!({})),
            FakeTurn::text("It failed."),
            FakeTurn::call("call_2", "docs__add", json!({ "a": 1, "b": 1 })),
            FakeTurn::text("The server is down."),
        ],
        8,
    )
    .await;
    let server = register(&tw, &mcp).await;
    give(
        &tw,
        &[
            tool_id(&server, "docs__fail"),
            tool_id(&server, "docs__add"),
        ],
    )
    .await;
    let reply = tw.ask("Try it.").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let steps = ended["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "FAILED");
    let error = steps[0]["error"].as_str().unwrap();
    assert!(error.contains("the disk is full"), "{error}");
    assert!(error.contains("docs__fail"), "{error}");

    mcp.stop();
    let reply = tw.ask("Again?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let step = &ended["steps"][0];
    assert_eq!(step["status"], "FAILED", "{ended}");
    let error = step["error"].as_str().unwrap();
    assert!(error.contains("MCP server \"docs\""), "{error}");
    assert!(error.contains("503"), "{error}");
}

#[tokio::test]
async fn a_refresh_keeps_tools_in_step_and_a_server_that_is_down_keeps_its_tools() {
    let mcp = FakeMcpServer::start().await;
    let tw = tool_world(spawn_app().await, vec![FakeTurn::text("Hi.")], 8).await;
    let server = register(&tw, &mcp).await;
    let id = server["id"].as_str().unwrap().to_owned();
    let add_id = tool_id(&server, "docs__add");
    let given = give(&tw, &[add_id.clone(), tool_id(&server, "docs__fail")]).await;
    assert_eq!(names(&given), ["docs__add", "docs__fail", "get_weather"]);

    // The server changes: `add` is described anew, `fail` is gone, `search`
    // is new, and one tool has a name no model accepts.
    let object = json!({ "type": "object" });
    mcp.set_tools(vec![
        tool(
            "add",
            "Adds two numbers, exactly",
            Value::Object(default_tools()[0].input_schema.as_ref().clone()),
        ),
        tool("search", "Searches the docs", object.clone()),
        tool("read file", "Has a space in its name", object),
    ]);
    let refreshed = refresh(&tw, &id).await;
    assert_eq!(refreshed["status"], "READY", "{refreshed}");
    assert_eq!(names(&refreshed["tools"]), ["docs__add", "docs__search"]);
    // `add` is the same tool, changed: agents keep it.
    assert_eq!(tool_id(&refreshed, "docs__add"), add_id);
    assert_eq!(
        refreshed["tools"][0]["description"],
        "Adds two numbers, exactly"
    );
    assert_eq!(agent_tools(&tw).await, ["docs__add", "get_weather"]);
    let left_out = tw
        .app
        .gql_ok(
            tw.sk(),
            "query($id: ID!) { mcpServer(id: $id) { leftOutTools { name reason } } }",
            json!({ "id": id }),
        )
        .await["mcpServer"]["leftOutTools"]
        .clone();
    assert_eq!(left_out[0]["name"], "read file", "{left_out}");
    assert!(
        left_out[0]["reason"].as_str().unwrap().contains("64"),
        "{left_out}"
    );

    // Down: the look fails, says why, and the tools stay.
    mcp.stop();
    let down = refresh(&tw, &id).await;
    assert_eq!(down["status"], "FAILED", "{down}");
    assert!(
        down["lastError"].as_str().unwrap().contains("503"),
        "{down}"
    );
    assert_eq!(names(&down["tools"]), ["docs__add", "docs__search"]);
    mcp.restart();
    let up = refresh(&tw, &id).await;
    assert_eq!(up["status"], "READY");
    assert_eq!(up["lastError"], Value::Null);

    // Deleting the server deletes its tools; agents lose them.
    let deleted = tw
        .app
        .gql_ok(tw.sk(), DELETE, json!({ "input": { "id": id } }))
        .await;
    assert_eq!(
        deleted["deleteMcpServer"]["deletedMcpServerId"],
        id.as_str()
    );
    assert_eq!(agent_tools(&tw).await, ["get_weather"]);
    let gone = tw.app.gql(tw.sk(), SERVER, json!({ "id": id })).await;
    assert_error(&gone, "NOT_FOUND", Some("id"));
}

#[tokio::test]
async fn a_server_that_lists_a_tool_it_does_not_answer_is_a_failed_step() {
    let mcp = FakeMcpServer::start().await;
    // It lists `ghost`, but refuses calls of it (a JSON-RPC error), and
    // `add` answers arguments its schema does not allow.
    let mut listed = default_tools();
    listed.push(tool(
        "ghost",
        "Listed, never answered",
        json!({ "type": "object" }),
    ));
    mcp.set_tools(listed);
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::call("call_1", "docs__ghost", json!({})),
            FakeTurn::call("call_2", "docs__add", json!({ "a": "two", "b": 3 })),
            FakeTurn::text("Neither worked."),
        ],
        8,
    )
    .await;
    let server = register(&tw, &mcp).await;
    give(
        &tw,
        &[
            tool_id(&server, "docs__ghost"),
            tool_id(&server, "docs__add"),
        ],
    )
    .await;
    let reply = tw.ask("Try them").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let ghost = ended["steps"][0]["error"].as_str().unwrap();
    assert!(ghost.contains("no tool named ghost"), "{ghost}");
    // Arguments that do not fit the listed schema never reach the server.
    let misfit = ended["steps"][1]["error"].as_str().unwrap();
    assert!(misfit.contains("do not fit"), "{misfit}");
    assert_eq!(mcp.calls().len(), 1, "only the ghost call went out");
}

#[tokio::test]
async fn the_worker_keeps_a_servers_tools_in_step_on_its_own() {
    let mcp = FakeMcpServer::start().await;
    let tw = tool_world(spawn_app().await, vec![FakeTurn::text("Hi.")], 8).await;
    let server = register(&tw, &mcp).await;
    let id = server["id"].as_str().unwrap().to_owned();
    mcp.set_tools(vec![tool(
        "search",
        "Searches the docs",
        json!({ "type": "object" }),
    )]);
    let listed = || async {
        names(&tw.app.gql_ok(tw.sk(), SERVER, json!({ "id": id })).await["mcpServer"]["tools"])
    };
    // Not before the interval (ORBIT_MCP_REFRESH_INTERVAL, 10 minutes).
    tw.app.clock.advance(chrono::Duration::minutes(9));
    tw.app.services.wake_worker();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(listed().await.len(), 3);
    tw.app.clock.advance(chrono::Duration::minutes(2));
    tw.app.services.wake_worker();
    eventually("the worker lists the server again", || async {
        listed().await == ["docs__search"]
    })
    .await;
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_stored_failed_with_why() {
    let mcp = FakeMcpServer::start().await;
    mcp.stop();
    let tw = tool_world(spawn_app().await, vec![FakeTurn::text("Hi.")], 8).await;
    let server = register(&tw, &mcp).await;
    assert_eq!(server["status"], "FAILED", "{server}");
    let why = server["lastError"].as_str().unwrap();
    assert!(why.contains("503"), "{why}");
    assert_eq!(server["tools"], json!([]));
    assert_eq!(server["syncedAt"], Value::Null);
    mcp.restart();
    let id = server["id"].as_str().unwrap();
    let up = refresh(&tw, id).await;
    assert_eq!(up["status"], "READY", "{up}");
    assert_eq!(up["tools"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn mcp_servers_check_their_input_and_stay_in_their_app() {
    let mcp = FakeMcpServer::start().await;
    let tw = tool_world(spawn_app().await, vec![FakeTurn::text("Hi.")], 8).await;
    let create = |input: Value| {
        let tw = &tw;
        async move { tw.app.gql(tw.sk(), CREATE, json!({ "input": input })).await }
    };
    let refused = create(json!({ "name": "a__b", "url": mcp.url })).await;
    assert_error(&refused, "BAD_USER_INPUT", Some("name"));
    let refused = create(json!({ "name": "docs", "url": "ftp://example.com/mcp" })).await;
    assert_error(&refused, "BAD_USER_INPUT", Some("url"));
    let refused = create(json!({ "name": "docs", "url": "{{vars.MISSING}}/mcp" })).await;
    assert_error(&refused, "BAD_USER_INPUT", Some("url"));
    let refused = create(json!({
        "name": "docs", "url": mcp.url,
        "headers": [{ "name": "Host", "value": "x" }],
    }))
    .await;
    assert_error(&refused, "BAD_USER_INPUT", Some("headers.0.name"));

    let server = register(&tw, &mcp).await;
    let id = server["id"].as_str().unwrap().to_owned();
    let again = create(json!({ "name": "docs", "url": mcp.url })).await;
    assert_error(&again, "CONFLICT", Some("name"));

    // A server's tool is as the server lists it: only whether it needs
    // approval is set here, and it goes with its server.
    let add = tool_id(&server, "docs__add");
    let renamed = tw
        .app
        .gql(
            tw.sk(),
            "mutation($input: UpdateToolInput!) { updateTool(input: $input) { tool { id } } }",
            json!({ "input": { "id": add, "name": "plus" } }),
        )
        .await;
    assert_error(&renamed, "BAD_USER_INPUT", Some("name"));
    let approval = tw
        .app
        .gql_ok(
            tw.sk(),
            "mutation($input: UpdateToolInput!) { updateTool(input: $input) { tool { requiresApproval } } }",
            json!({ "input": { "id": add, "requiresApproval": true } }),
        )
        .await;
    assert_eq!(approval["updateTool"]["tool"]["requiresApproval"], true);
    let deleted = tw
        .app
        .gql(
            tw.sk(),
            "mutation($input: DeleteToolInput!) { deleteTool(input: $input) { deletedToolId } }",
            json!({ "input": { "id": add } }),
        )
        .await;
    assert_error(&deleted, "BAD_USER_INPUT", Some("id"));

    // Another app sees nothing of it; its users cannot manage servers.
    let other = tw.app.new_team_world().await;
    let other_sk = Some(other.keys.secret_key.as_str());
    let hidden = tw.app.gql(other_sk, SERVER, json!({ "id": id })).await;
    assert_error(&hidden, "NOT_FOUND", Some("id"));
    let hidden = tw
        .app
        .gql(other_sk, REFRESH, json!({ "input": { "id": id } }))
        .await;
    assert_error(&hidden, "NOT_FOUND", Some("id"));
    let hidden = tw
        .app
        .gql(other_sk, DELETE, json!({ "input": { "id": id } }))
        .await;
    assert_error(&hidden, "NOT_FOUND", Some("id"));
    let listed = tw.app.gql_ok(other_sk, SERVERS, json!({})).await;
    assert_eq!(listed["mcpServers"]["edges"], json!([]));
    let listed = tw.app.gql_ok(tw.sk(), SERVERS, json!({})).await;
    assert_eq!(listed["mcpServers"]["edges"][0]["node"]["name"], "docs");
    let by_user = tw
        .app
        .gql(
            tw.w.member.token(),
            CREATE,
            json!({ "input": { "name": "mine", "url": mcp.url } }),
        )
        .await;
    assert!(orbit_tests::error_code(&by_user).is_some(), "{by_user}");
    assert_eq!(mcp.calls().len(), 0);
}
