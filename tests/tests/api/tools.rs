//! Tools of an app: created, read, changed and deleted by the app's
//! managers; secret header values sealed and never returned; bad input
//! answered on the field at fault; tools given to agents; another app's
//! tools answering like ones that do not exist.

use orbit_domain::entities::tool;
use orbit_tests::{TestApp, assert_error, spawn_app};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::agents::{CREATE_AGENT, CREATE_PROVIDER};

const TOOL_FIELDS: &str = "id name description inputSchema kind http { url method headers { name value secret } } createdAt updatedAt";
const SET_AGENT_TOOLS: &str = "mutation($input: SetAgentToolsInput!) { setAgentTools(input: $input) { agent { id tools { id name } } } }";
const AGENT_TOOLS: &str = "query($id: ID!) { agent(id: $id) { id tools { id name } } }";

pub const CREATE_TOOL: &str =
    "mutation($input: CreateToolInput!) { createTool(input: $input) { tool { id } } }";
pub const UPDATE_TOOL: &str =
    "mutation($input: UpdateToolInput!) { updateTool(input: $input) { tool { id } } }";

fn create_tool_mutation() -> String {
    format!(
        "mutation($input: CreateToolInput!) {{ createTool(input: $input) {{ tool {{ {TOOL_FIELDS} }} }} }}"
    )
}

fn update_tool_mutation() -> String {
    format!(
        "mutation($input: UpdateToolInput!) {{ updateTool(input: $input) {{ tool {{ {TOOL_FIELDS} }} }} }}"
    )
}

const DELETE_TOOL: &str =
    "mutation($input: DeleteToolInput!) { deleteTool(input: $input) { deletedToolId } }";
const TOOL: &str = "query($id: ID!) { tool(id: $id) { id name } }";
const TOOLS: &str = "query($first: Int, $after: String) { tools(first: $first, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }";

fn weather_schema() -> Value {
    json!({
        "type": "object",
        "properties": { "city": { "type": "string" } },
        "required": ["city"]
    })
}

fn weather_tool(name: &str) -> Value {
    json!({
        "name": name,
        "description": "The weather in a city, today.",
        "inputSchema": weather_schema(),
        "http": {
            "url": "https://tools.example.com/weather",
            "headers": [
                { "name": "Authorization", "value": "Bearer tool-secret-value", "secret": true },
                { "name": "X-Client", "value": "orbit" }
            ]
        }
    })
}

async fn create_tool(app: &TestApp, sk: &str, input: Value) -> Value {
    app.gql_ok(Some(sk), &create_tool_mutation(), json!({ "input": input }))
        .await["createTool"]["tool"]
        .clone()
}

async fn create_agent(app: &TestApp, sk: &str) -> String {
    let provider = app
        .gql_ok(
            Some(sk),
            CREATE_PROVIDER,
            json!({ "input": { "name": "Script", "kind": "SCRIPTED", "script": { "default": "ok" } } }),
        )
        .await["createModelProvider"]["modelProvider"]["id"]
        .clone();
    app.gql_ok(
        Some(sk),
        CREATE_AGENT,
        json!({ "input": {
            "name": "Helper", "handle": "helper", "instructions": "Help.",
            "model": { "provider": provider, "model": "demo-1" },
        } }),
    )
    .await["createAgent"]["agent"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_tool_is_created_read_changed_and_deleted() {
    let app = spawn_app().await;
    let sk = app.create_app("Tools").await.secret_key;
    let tool = create_tool(&app, &sk, weather_tool("get_weather")).await;
    let id = tool["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tol_"), "{id}");
    assert_eq!(tool["name"], "get_weather");
    assert_eq!(tool["description"], "The weather in a city, today.");
    assert_eq!(tool["inputSchema"], weather_schema());
    assert_eq!(tool["kind"], "HTTP");
    assert_eq!(tool["http"]["url"], "https://tools.example.com/weather");
    // POST unless said otherwise.
    assert_eq!(tool["http"]["method"], "POST");
    assert_eq!(
        tool["http"]["headers"],
        json!([
            { "name": "Authorization", "value": null, "secret": true },
            { "name": "X-Client", "value": "orbit", "secret": false }
        ])
    );

    let read = app.gql_ok(Some(&sk), TOOL, json!({ "id": id })).await;
    assert_eq!(read["tool"]["name"], "get_weather");
    let listed = app.gql_ok(Some(&sk), TOOLS, json!({})).await;
    assert_eq!(listed["tools"]["edges"][0]["node"]["id"], id.as_str());

    // A secret header given without its value keeps the value saved before;
    // the rest of the call is replaced as a whole.
    let before = stored_headers(&app).await;
    let updated = app
        .gql_ok(
            Some(&sk),
            &update_tool_mutation(),
            json!({ "input": {
                "id": id,
                "name": "weather_today",
                "http": {
                    "url": "https://tools.example.com/v2/weather",
                    "method": "GET",
                    "headers": [{ "name": "authorization", "secret": true }]
                }
            } }),
        )
        .await["updateTool"]["tool"]
        .clone();
    assert_eq!(updated["name"], "weather_today");
    assert_eq!(updated["description"], "The weather in a city, today.");
    assert_eq!(updated["http"]["method"], "GET");
    assert_eq!(
        updated["http"]["headers"],
        json!([{ "name": "authorization", "value": null, "secret": true }])
    );
    let after = stored_headers(&app).await;
    assert_eq!(
        after[0]["sealed"], before[0]["sealed"],
        "the secret value is kept as it was sealed"
    );

    let deleted = app
        .gql_ok(Some(&sk), DELETE_TOOL, json!({ "input": { "id": id } }))
        .await;
    assert_eq!(deleted["deleteTool"]["deletedToolId"], id.as_str());
    let gone = app.gql(Some(&sk), TOOL, json!({ "id": id })).await;
    assert_error(&gone, "NOT_FOUND", Some("id"));
}

/// The headers of the one tool stored, as stored.
async fn stored_headers(app: &TestApp) -> Vec<Value> {
    let rows = tool::Entity::find()
        .all(app.services.db().conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows[0]
        .http_headers
        .clone()
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn secret_header_values_are_sealed_and_never_returned() {
    let app = spawn_app().await;
    let sk = app.create_app("Tools").await.secret_key;
    create_tool(&app, &sk, weather_tool("get_weather")).await;
    let stored = stored_headers(&app).await;
    let text = serde_json::to_string(&stored).unwrap();
    assert!(!text.contains("tool-secret-value"), "{text}");
    assert!(stored[0]["sealed"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(stored[1]["value"], "orbit");
    // No field of the schema returns it either.
    let listed = app
        .gql_ok(
            Some(&sk),
            "{ tools { edges { node { http { headers { name value secret } } } } } }",
            json!({}),
        )
        .await;
    assert!(!listed.to_string().contains("tool-secret-value"));
}

#[tokio::test]
async fn bad_tool_input_is_refused_on_its_field() {
    let app = spawn_app().await;
    let sk = app.create_app("Tools").await.secret_key;
    let mutation = create_tool_mutation();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "a name with a space",
            json!({ "name": "get weather" }),
            "BAD_USER_INPUT",
            "name",
        ),
        (
            "a blank description",
            json!({ "description": "  " }),
            "BAD_USER_INPUT",
            "description",
        ),
        (
            "a schema of a string",
            json!({ "inputSchema": { "type": "string" } }),
            "BAD_USER_INPUT",
            "inputSchema",
        ),
        (
            "a schema that is not JSON Schema",
            json!({ "inputSchema": { "type": "object", "properties": { "a": { "type": 7 } } } }),
            "BAD_USER_INPUT",
            "inputSchema",
        ),
        (
            "a schema pointing at another document",
            json!({ "inputSchema": { "type": "object", "properties": { "a": { "$ref": "https://example.com/a.json" } } } }),
            "BAD_USER_INPUT",
            "inputSchema",
        ),
        (
            "a URL that is not http(s)",
            json!({ "http": { "url": "ftp://tools.example.com/x" } }),
            "BAD_USER_INPUT",
            "http.url",
        ),
        (
            "a header the server sets",
            json!({ "http": { "url": "https://tools.example.com/x", "headers": [{ "name": "Host", "value": "x" }] } }),
            "BAD_USER_INPUT",
            "http.headers.0.name",
        ),
        (
            "a header value with a line break",
            json!({ "http": { "url": "https://tools.example.com/x", "headers": [{ "name": "X-A", "value": "a\r\nX-B: b" }] } }),
            "BAD_USER_INPUT",
            "http.headers.0.value",
        ),
        (
            "a new secret header without its value",
            json!({ "http": { "url": "https://tools.example.com/x", "headers": [{ "name": "X-Key", "secret": true }] } }),
            "BAD_USER_INPUT",
            "http.headers.0.value",
        ),
        (
            "a header given twice",
            json!({ "http": { "url": "https://tools.example.com/x", "headers": [{ "name": "X-A", "value": "1" }, { "name": "x-a", "value": "2" }] } }),
            "BAD_USER_INPUT",
            "http.headers.1.name",
        ),
    ];
    for (what, change, code, field) in cases {
        let mut input = weather_tool("get_weather");
        for (key, value) in change.as_object().unwrap() {
            input[key] = value.clone();
        }
        let response = app
            .gql(Some(&sk), &mutation, json!({ "input": input }))
            .await;
        assert_error(&response, code, Some(field));
        assert!(
            response["data"].is_null(),
            "{what}: nothing is created: {response}"
        );
    }
    let listed = app.gql_ok(Some(&sk), TOOLS, json!({})).await;
    assert_eq!(
        listed["tools"]["edges"],
        json!([]),
        "nothing was half-written"
    );

    create_tool(&app, &sk, weather_tool("get_weather")).await;
    let again = app
        .gql(
            Some(&sk),
            &mutation,
            json!({ "input": weather_tool("get_weather") }),
        )
        .await;
    assert_error(&again, "CONFLICT", Some("name"));
}

#[tokio::test]
async fn agents_are_given_tools_of_their_app() {
    let app = spawn_app().await;
    let sk = app.create_app("Tools").await.secret_key;
    let weather = create_tool(&app, &sk, weather_tool("weather")).await["id"].clone();
    let calendar = create_tool(&app, &sk, weather_tool("calendar")).await["id"].clone();
    let agent = create_agent(&app, &sk).await;

    let set = app
        .gql_ok(
            Some(&sk),
            SET_AGENT_TOOLS,
            json!({ "input": { "agentId": agent, "toolIds": [weather, calendar, weather] } }),
        )
        .await;
    // By name, each once.
    assert_eq!(
        set["setAgentTools"]["agent"]["tools"],
        json!([{ "id": calendar, "name": "calendar" }, { "id": weather, "name": "weather" }])
    );

    // Another app's tool is not found, and nothing changes.
    let other_sk = app.create_app("Other").await.secret_key;
    let foreign = create_tool(&app, &other_sk, weather_tool("weather")).await["id"].clone();
    let refused = app
        .gql(
            Some(&sk),
            SET_AGENT_TOOLS,
            json!({ "input": { "agentId": agent, "toolIds": [weather, foreign] } }),
        )
        .await;
    assert_error(&refused, "NOT_FOUND", Some("toolIds"));
    let read = app
        .gql_ok(Some(&sk), AGENT_TOOLS, json!({ "id": agent }))
        .await;
    assert_eq!(read["agent"]["tools"].as_array().unwrap().len(), 2);

    // A deleted tool leaves its agents.
    app.gql_ok(
        Some(&sk),
        DELETE_TOOL,
        json!({ "input": { "id": calendar } }),
    )
    .await;
    let read = app
        .gql_ok(Some(&sk), AGENT_TOOLS, json!({ "id": agent }))
        .await;
    assert_eq!(
        read["agent"]["tools"],
        json!([{ "id": weather, "name": "weather" }])
    );

    // An empty list takes them all away.
    let cleared = app
        .gql_ok(
            Some(&sk),
            SET_AGENT_TOOLS,
            json!({ "input": { "agentId": agent, "toolIds": [] } }),
        )
        .await;
    assert_eq!(cleared["setAgentTools"]["agent"]["tools"], json!([]));
}

#[tokio::test]
async fn another_apps_tools_answer_like_ones_that_do_not_exist() {
    let app = spawn_app().await;
    let sk = app.create_app("Mine").await.secret_key;
    let other_sk = app.create_app("Theirs").await.secret_key;
    let theirs = create_tool(&app, &other_sk, weather_tool("weather")).await["id"].clone();
    let agent = create_agent(&app, &sk).await;

    let read = app.gql(Some(&sk), TOOL, json!({ "id": theirs })).await;
    assert_error(&read, "NOT_FOUND", Some("id"));
    let update = app
        .gql(
            Some(&sk),
            &update_tool_mutation(),
            json!({ "input": { "id": theirs, "name": "mine_now" } }),
        )
        .await;
    assert_error(&update, "NOT_FOUND", Some("id"));
    let delete = app
        .gql(Some(&sk), DELETE_TOOL, json!({ "input": { "id": theirs } }))
        .await;
    assert_error(&delete, "NOT_FOUND", Some("id"));
    let listed = app.gql_ok(Some(&sk), TOOLS, json!({})).await;
    assert_eq!(listed["tools"]["edges"], json!([]));
    // Their secret key cannot give tools to my agent.
    let set = app
        .gql(
            Some(&other_sk),
            SET_AGENT_TOOLS,
            json!({ "input": { "agentId": agent, "toolIds": [theirs] } }),
        )
        .await;
    assert_error(&set, "NOT_FOUND", Some("agentId"));
    // Theirs is untouched.
    let still = app
        .gql_ok(Some(&other_sk), TOOL, json!({ "id": theirs }))
        .await;
    assert_eq!(still["tool"]["name"], "weather");
}

#[tokio::test]
async fn users_of_the_app_cannot_manage_tools_nor_see_an_agents() {
    let app = spawn_app().await;
    let keys = app.create_app("Tools").await;
    let sk = keys.secret_key.clone();
    let tool = create_tool(&app, &sk, weather_tool("weather")).await["id"].clone();
    let agent = create_agent(&app, &sk).await;
    app.gql_ok(
        Some(&sk),
        SET_AGENT_TOOLS,
        json!({ "input": { "agentId": agent, "toolIds": [tool] } }),
    )
    .await;
    let user = app
        .sign_up(&keys.publishable_key, &orbit_tests::email("user"), "User")
        .await;
    let created = app
        .gql(
            user.token(),
            &create_tool_mutation(),
            json!({ "input": weather_tool("mine") }),
        )
        .await;
    assert_error(&created, "FORBIDDEN", None);
    let listed = app.gql(user.token(), TOOLS, json!({})).await;
    assert_error(&listed, "FORBIDDEN", None);
    let publishable = app.gql(Some(&keys.publishable_key), TOOLS, json!({})).await;
    assert_error(&publishable, "UNAUTHENTICATED", None);
    // Users meet agents in threads: the agent's tools are not theirs to see.
    let seen = app
        .gql(user.token(), AGENT_TOOLS, json!({ "id": agent }))
        .await;
    assert!(seen["agent"]["tools"].is_null(), "{seen}");
}
