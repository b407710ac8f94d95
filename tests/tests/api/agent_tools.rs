//! Agents calling tools: the fake model asks for tool calls in the real
//! streaming format, the worker calls a fake HTTP tool on loopback and
//! sends the results back, steps are stored with the reply; bad calls,
//! failing tools and the step limit end in words the model (and the
//! developer) can read; a call a dead process left is made again with the
//! same idempotency key, never twice under two.

use chrono::Duration as Span;
use orbit_domain::ids::{AgentReplyId, ToolId};
use orbit_tests::llm::{Behaviour, FakeLlm, FakeTurn};
use orbit_tests::url_receiver::{Answer, UrlReceiver};
use orbit_tests::{TeamWorld, TestApp, eventually, spawn_app, spawn_shareable_app_with};
use serde_json::{Value, json};

use crate::agents::{CREATE_AGENT, CREATE_PROVIDER};

const ADD_AGENT: &str = "mutation($input: AddThreadParticipantInput!) { addThreadParticipant(input: $input) { thread { id } } }";
const SEND: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id agentReplies { id } } } }";
const REPLY: &str = "query($id: ID!) { agentReply(id: $id) { id status attempts error usage { promptTokens completionTokens } message { content } steps { callId step toolName toolId arguments status result error startedAt finishedAt } } }";
const CREATE_TOOL: &str =
    "mutation($input: CreateToolInput!) { createTool(input: $input) { tool { id } } }";
const SET_TOOLS: &str =
    "mutation($input: SetAgentToolsInput!) { setAgentTools(input: $input) { agent { id } } }";

pub(crate) struct ToolWorld {
    pub(crate) app: TestApp,
    pub(crate) w: TeamWorld,
    pub(crate) llm: FakeLlm,
    pub(crate) tool: UrlReceiver,
    pub(crate) tool_id: String,
    pub(crate) agent: String,
}

impl ToolWorld {
    pub(crate) fn sk(&self) -> Option<&str> {
        Some(self.w.keys.secret_key.as_str())
    }

    /// Sends a message and returns the id of the reply it asked for.
    pub(crate) async fn ask(&self, content: &str) -> String {
        let data = self
            .app
            .gql_ok(
                self.w.author.token(),
                SEND,
                json!({ "input": { "threadId": self.w.thread_id, "content": content } }),
            )
            .await;
        data["sendMessage"]["message"]["agentReplies"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) async fn reply(&self, id: &str) -> Value {
        self.app.gql_ok(self.sk(), REPLY, json!({ "id": id })).await["agentReply"].clone()
    }

    /// A member's socket subscribed to the thread's events as `t`, live.
    pub(crate) async fn watch(&self) -> orbit_tests::ws::WsClient {
        let mut client =
            orbit_tests::ws::WsClient::connected(&self.app.ws_url(), self.w.member.token()).await;
        client
            .subscribe("t", EVENTS, json!({ "id": self.w.thread_id }))
            .await;
        client.ping().await;
        client
    }

    pub(crate) async fn ended(&self, id: &str) -> Value {
        eventually("the reply ends", || async {
            let status = self.reply(id).await["status"].clone();
            !matches!(
                status.as_str(),
                Some("QUEUED" | "RUNNING" | "AWAITING_APPROVAL")
            )
        })
        .await;
        self.reply(id).await
    }
}

/// An agent with one tool (`get_weather`, at the fake tool, with a secret
/// `Authorization` header) in the world's thread, speaking to a fake model
/// that takes `turns`.
pub(crate) async fn tool_world(app: TestApp, turns: Vec<FakeTurn>, max_steps: i32) -> ToolWorld {
    let llm = FakeLlm::start(Behaviour::Turns(turns)).await;
    let tool = UrlReceiver::start(Answer::Status(
        200,
        json!({ "forecast": "sunny", "high": 21 }).to_string(),
    ))
    .await;
    let tool_url = format!("{}/tool", tool.url);
    let w = app.new_team_world().await;
    let sk = Some(w.keys.secret_key.as_str());
    let provider = app
        .gql_ok(
            sk,
            CREATE_PROVIDER,
            json!({ "input": { "name": "Fake", "kind": "OPENAI_COMPATIBLE", "baseUrl": llm.base_url } }),
        )
        .await["createModelProvider"]["modelProvider"]["id"]
        .clone();
    let agent = app
        .gql_ok(
            sk,
            CREATE_AGENT,
            json!({ "input": {
                "name": "Helper", "handle": "helper", "instructions": "Use your tools.",
                "model": { "provider": provider, "model": "demo-1" },
            } }),
        )
        .await["createAgent"]["agent"]["id"]
        .clone();
    if max_steps != 8 {
        app.gql_ok(
            sk,
            "mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { agent { id } } }",
            json!({ "input": { "id": agent, "maxSteps": max_steps } }),
        )
        .await;
    }
    let tool_id = app
        .gql_ok(
            sk,
            CREATE_TOOL,
            json!({ "input": {
                "name": "get_weather",
                "description": "Today's weather in a city.",
                "inputSchema": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] },
                "http": { "url": tool_url, "headers": [{ "name": "Authorization", "value": "Bearer t0ken", "secret": true }] },
            } }),
        )
        .await["createTool"]["tool"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql_ok(
        sk,
        SET_TOOLS,
        json!({ "input": { "agentId": agent, "toolIds": [tool_id] } }),
    )
    .await;
    app.gql_ok(
        sk,
        ADD_AGENT,
        json!({ "input": { "threadId": w.thread_id, "agentId": agent } }),
    )
    .await;
    ToolWorld {
        app,
        w,
        llm,
        tool,
        tool_id,
        agent: agent.as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn an_agent_calls_a_tool_and_answers_with_its_result() {
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("Sunny in Oslo, 21 degrees."),
        ],
        8,
    )
    .await;
    let reply = tw.ask("Weather in Oslo?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert_eq!(ended["message"]["content"], "Sunny in Oslo, 21 degrees.");
    // Usage is summed over both model turns (20+10, 8+5).
    assert_eq!(
        ended["usage"],
        json!({ "promptTokens": 30, "completionTokens": 13 })
    );
    let steps = ended["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{ended}");
    assert_eq!(steps[0]["callId"], "call_1");
    assert_eq!(steps[0]["step"], 0);
    assert_eq!(steps[0]["toolName"], "get_weather");
    assert_eq!(steps[0]["toolId"], tw.tool_id.as_str());
    assert_eq!(steps[0]["arguments"], json!({ "city": "Oslo" }));
    assert_eq!(steps[0]["status"], "COMPLETED");
    assert_eq!(
        steps[0]["result"],
        json!({ "forecast": "sunny", "high": 21 })
    );
    assert!(steps[0]["finishedAt"].is_string());

    // The tool got the arguments as JSON, its secret header opened, and a
    // key naming this call.
    let calls = tw.tool.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].path, "/tool");
    let body: Value = serde_json::from_str(&calls[0].body).unwrap();
    assert_eq!(body, json!({ "city": "Oslo" }));
    let header = |name: &str| calls[0].headers.get(name).cloned();
    assert_eq!(header("authorization").as_deref(), Some("Bearer t0ken"));
    assert!(header("idempotency-key").is_some_and(|k| !k.is_empty()));

    // The model was offered the tool, then shown its call and the result.
    let requests = tw.llm.received();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body["tools"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(
        requests[0].body["tools"][0]["function"]["parameters"]["required"],
        json!(["city"])
    );
    let messages = requests[1].body["messages"].as_array().unwrap();
    let asking = &messages[messages.len() - 2];
    assert_eq!(asking["role"], "assistant");
    assert_eq!(asking["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        asking["tool_calls"][0]["function"]["arguments"],
        json!({ "city": "Oslo" }).to_string()
    );
    let answer = &messages[messages.len() - 1];
    assert_eq!(answer["role"], "tool");
    assert_eq!(answer["tool_call_id"], "call_1");
    assert!(answer["content"].as_str().unwrap().contains("sunny"));
}

#[tokio::test]
async fn bad_calls_fail_as_steps_the_model_reads_and_the_reply_goes_on() {
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::ToolCalls {
                calls: vec![
                    ("call_a".into(), "launch_rockets".into(), "{}".into()),
                    (
                        "call_b".into(),
                        "get_weather".into(),
                        r#"{"city": 7}"#.into(),
                    ),
                    ("call_c".into(), "get_weather".into(), "not json".into()),
                ],
                usage: (5, 5),
            },
            FakeTurn::text("I could not check."),
        ],
        8,
    )
    .await;
    let reply = tw.ask("Weather?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let steps = ended["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    for step in steps {
        assert_eq!(step["status"], "FAILED", "{step}");
    }
    let error = |index: usize| steps[index]["error"].as_str().unwrap().to_owned();
    assert!(
        error(0).contains("no tool named \"launch_rockets\""),
        "{}",
        error(0)
    );
    assert!(steps[0]["toolId"].is_null());
    assert!(error(1).contains("do not fit"), "{}", error(1));
    assert!(error(2).contains("not a JSON object"), "{}", error(2));
    assert_eq!(steps[2]["arguments"], "not json");
    assert!(tw.tool.calls().is_empty(), "no bad call reached the tool");
    // The model read each error.
    let requests = tw.llm.received();
    let tool_turns: Vec<&Value> = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(tool_turns.len(), 3);
    assert!(
        tool_turns
            .iter()
            .all(|m| m["content"].as_str().unwrap().starts_with("error: "))
    );
}

#[tokio::test]
async fn a_failing_tool_is_a_failed_step_not_a_failed_reply() {
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("The weather service is down."),
        ],
        8,
    )
    .await;
    tw.tool.set(Answer::Status(503, "maintenance".into()));
    let reply = tw.ask("Weather?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let step = &ended["steps"][0];
    assert_eq!(step["status"], "FAILED");
    let error = step["error"].as_str().unwrap();
    assert!(
        error.contains("answered 503") && error.contains("maintenance"),
        "{error}"
    );
}

#[tokio::test]
async fn the_last_step_may_call_no_tool_and_must_answer() {
    // A model that would call tools for ever.
    let tw = tool_world(
        spawn_app().await,
        vec![FakeTurn::call(
            "call_1",
            "get_weather",
            json!({ "city": "Oslo" }),
        )],
        2,
    )
    .await;
    let reply = tw.ask("Weather?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "FAILED", "{ended}");
    let error = ended["error"].as_str().unwrap();
    assert!(error.contains("last step (2: its maxSteps"), "{error}");
    let requests = tw.llm.received();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].body.get("tools").is_some());
    assert!(requests[0].body.get("tool_choice").is_none());
    // The last step lists the tools (the conversation holds a call of one)
    // but may call none.
    assert!(requests[1].body.get("tools").is_some());
    assert_eq!(requests[1].body["tool_choice"], "none");
    assert_eq!(tw.tool.calls().len(), 1);
}

#[tokio::test]
async fn the_server_caps_every_agents_steps() {
    // The agent allows 8 steps; the server (ORBIT_TOOL_MAX_STEPS) 3.
    let app = orbit_tests::spawn_app_with(|s| s.tool_limits.max_steps = 3).await;
    let tw = tool_world(
        app,
        vec![FakeTurn::call(
            "call_1",
            "get_weather",
            json!({ "city": "Oslo" }),
        )],
        8,
    )
    .await;
    let reply = tw.ask("Weather?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "FAILED", "{ended}");
    let error = ended["error"].as_str().unwrap();
    assert!(error.contains("last step (3:"), "{error}");
    assert_eq!(tw.llm.received().len(), 3);
}

#[tokio::test]
async fn a_call_a_dead_process_left_is_made_again_with_the_same_key() {
    use orbit_persistence::tool_calls::{self, AskedCall};
    // This process serves requests only; a "dead" one claims the reply,
    // records the model's call and dies while calling.
    let api = spawn_shareable_app_with(|s| s.run_worker = false).await;
    let tw = tool_world(api, vec![FakeTurn::text("Sunny, as the tool said.")], 8).await;
    let reply = tw.ask("Weather in Oslo?").await;
    let db = tw.app.services.db();
    let now = orbit_domain::Clock::now(tw.app.clock.as_ref());
    let claimed =
        orbit_persistence::agent_replies::claim(db, "dead-process", now, Span::seconds(60), 10)
            .await
            .unwrap();
    assert_eq!(claimed.len(), 1);
    let row = orbit_persistence::agent_replies::claimed(db, claimed[0])
        .await
        .unwrap()
        .unwrap();
    let recorded = tool_calls::record(
        db,
        &row,
        "dead-process",
        0,
        vec![AskedCall {
            call_id: "call_1".into(),
            tool: Some(ToolId::parse_field(&tw.tool_id, "id").unwrap()),
            tool_name: "get_weather".into(),
            arguments: json!({ "city": "Oslo" }),
            approval_expires_at: None,
        }],
        now + Span::seconds(60),
        now,
    )
    .await
    .unwrap()
    .expect("the dead process held the lease");
    let key = recorded[0].id.to_string();

    let worker = tw.app.another_process(|s| s.run_worker = true).await;
    tw.app.clock.advance(Span::seconds(61));
    worker.services.wake_worker();
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert_eq!(ended["message"]["content"], "Sunny, as the tool said.");
    let calls = tw.tool.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].headers.get("idempotency-key").map(String::as_str),
        Some(key.as_str())
    );
    // The model was not asked again for the call: its one request holds
    // the call and the result.
    let requests = tw.llm.received();
    assert_eq!(requests.len(), 1);
    let messages = requests[0].body["messages"].as_array().unwrap();
    assert_eq!(messages[messages.len() - 1]["role"], "tool");
    // The dead process can write nothing more.
    let lost = tool_calls::finish(
        db,
        &row,
        "dead-process",
        recorded[0].clone(),
        tool_calls::CallEnd::Failed("too late".into()),
        now,
        now,
    )
    .await
    .unwrap();
    assert!(!lost);
    let id = AgentReplyId::parse_field(&reply, "id").unwrap();
    assert_eq!(ended["steps"][0]["status"], "COMPLETED", "{id}");
}

pub(crate) const EVENTS: &str = "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { __typename ... on Event { cursor type } ... on AgentToolCallStartedEvent { callId step toolName toolId arguments reply { id } } ... on AgentToolCallCompletedEvent { callId toolName result } ... on AgentToolCallFailedEvent { callId error } ... on AgentApprovalRequestedEvent { callId toolName arguments approvalExpiresAt } ... on MessageCreatedEvent { message { id content } } } }";

/// The stored events of the subscription until the reply ends (deltas,
/// which are never stored, left out).
pub(crate) async fn stored_events_until_end(
    client: &mut orbit_tests::ws::WsClient,
    id: &str,
) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = client.next_payload(id).await["data"]["threadEvents"].clone();
        if event["type"] == "agent_reply.delta" {
            continue;
        }
        let end = event["type"] == "agent_reply.completed" || event["type"] == "agent_reply.failed";
        events.push(event);
        if end {
            return events;
        }
    }
}

pub(crate) fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

#[tokio::test]
async fn tool_calls_stream_as_stored_events_that_a_reconnecting_client_replays() {
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("Sunny."),
        ],
        8,
    )
    .await;
    let mut live = tw.watch().await;
    let reply = tw.ask("Weather in Oslo?").await;
    let seen = stored_events_until_end(&mut live, "t").await;
    assert_eq!(
        types(&seen),
        [
            "message.created",
            "agent_reply.tool_call.started",
            "agent_reply.tool_call.completed",
            "message.created",
            "agent_reply.completed",
        ],
        "{seen:?}"
    );
    let started = &seen[1];
    assert_eq!(started["__typename"], "AgentToolCallStartedEvent");
    assert_eq!(started["callId"], "call_1");
    assert_eq!(started["step"], 0);
    assert_eq!(started["toolName"], "get_weather");
    assert_eq!(started["toolId"], tw.tool_id.as_str());
    assert_eq!(started["arguments"], json!({ "city": "Oslo" }));
    assert_eq!(started["reply"]["id"], reply.as_str());
    let completed = &seen[2];
    assert_eq!(completed["__typename"], "AgentToolCallCompletedEvent");
    assert_eq!(
        completed["result"],
        json!({ "forecast": "sunny", "high": 21 })
    );

    // A client that saw only the question resumes behind it and is shown
    // every step, from the log.
    let mut later =
        orbit_tests::ws::WsClient::connected(&tw.app.ws_url(), tw.w.member.token()).await;
    later
        .subscribe(
            "r",
            EVENTS,
            json!({ "id": tw.w.thread_id, "after": seen[0]["cursor"] }),
        )
        .await;
    let replayed = stored_events_until_end(&mut later, "r").await;
    assert_eq!(types(&replayed), types(&seen)[1..], "{replayed:?}");
    assert_eq!(replayed[0]["cursor"], seen[1]["cursor"]);
}

#[tokio::test]
async fn a_failed_call_is_an_event_with_its_error() {
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::call("call_x", "launch_rockets", json!({})),
            FakeTurn::text("I cannot."),
        ],
        8,
    )
    .await;
    let mut live = tw.watch().await;
    tw.ask("Launch?").await;
    let seen = stored_events_until_end(&mut live, "t").await;
    let failed = seen
        .iter()
        .find(|e| e["type"] == "agent_reply.tool_call.failed")
        .expect("a failed call event");
    assert_eq!(failed["__typename"], "AgentToolCallFailedEvent");
    assert_eq!(failed["callId"], "call_x");
    assert!(
        failed["error"].as_str().unwrap().contains("no tool named"),
        "{failed}"
    );
}

#[tokio::test]
async fn a_tool_that_does_not_answer_in_time_fails_its_call() {
    let app = orbit_tests::spawn_app_with(|s| {
        s.tool_limits.timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let tw = tool_world(
        app,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("The weather service is slow."),
        ],
        8,
    )
    .await;
    tw.tool.set(Answer::Hold);
    let reply = tw.ask("Weather?").await;
    let ended = tw.ended(&reply).await;
    tw.tool.release();
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let error = ended["steps"][0]["error"].as_str().unwrap();
    assert!(error.contains("did not answer within 1 s"), "{error}");
    assert_eq!(ended["message"]["content"], "The weather service is slow.");
}

#[tokio::test]
async fn a_tool_that_answers_too_much_fails_its_call() {
    let app = orbit_tests::spawn_app_with(|s| s.tool_limits.max_result_bytes = 64).await;
    let tw = tool_world(
        app,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("Too much to read."),
        ],
        8,
    )
    .await;
    tw.tool.set(Answer::Status(200, "x".repeat(65)));
    let reply = tw.ask("Weather?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let error = ended["steps"][0]["error"].as_str().unwrap();
    assert!(error.contains("more than 64 bytes"), "{error}");
}

const SET_VAR: &str = "mutation($input: SetAppVarInput!) { setAppVar(input: $input) { appVar { name value secret } } }";

#[tokio::test]
async fn app_variables_are_put_in_when_the_agent_runs() {
    // Two replies, each a call and an answer.
    let tw = tool_world(
        spawn_app().await,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("Sunny."),
            FakeTurn::call("call_2", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("I could not check."),
        ],
        8,
    )
    .await;
    for (name, value, secret) in [
        ("TOOL_BASE", tw.tool.url.as_str(), false),
        ("TOKEN", "s3cret-value", true),
        ("LANG", "Norwegian", false),
    ] {
        tw.app
            .gql_ok(
                tw.sk(),
                SET_VAR,
                json!({ "input": { "name": name, "value": value, "secret": secret } }),
            )
            .await;
    }
    tw.app
        .gql_ok(
            tw.sk(),
            "mutation($input: UpdateToolInput!) { updateTool(input: $input) { tool { http { url headers { name value } } } } }",
            json!({ "input": { "id": tw.tool_id, "http": {
                "url": "{{vars.TOOL_BASE}}/tool",
                "headers": [{ "name": "Authorization", "value": "Bearer {{ vars.TOKEN }}", "secret": true }],
            } } }),
        )
        .await;
    tw.app
        .gql_ok(
            tw.sk(),
            "mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { agent { instructions } } }",
            json!({ "input": { "id": tw.agent, "instructions": "Answer in {{vars.LANG}}." } }),
        )
        .await;
    let reply = tw.ask("Weather?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert_eq!(ended["steps"][0]["status"], "COMPLETED", "{ended}");
    let calls = tw.tool.calls();
    assert_eq!(calls[0].path, "/tool");
    assert_eq!(
        calls[0].headers.get("authorization").map(String::as_str),
        Some("Bearer s3cret-value")
    );
    let system = &tw.llm.received()[0].body["messages"][0];
    assert_eq!(system["role"], "system");
    assert_eq!(system["content"], "Answer in Norwegian.");

    // A variable deleted afterwards: the call that needs it fails, saying which.
    tw.app
        .gql_ok(
            tw.sk(),
            "mutation($input: DeleteAppVarInput!) { deleteAppVar(input: $input) { deletedAppVarName } }",
            json!({ "input": { "name": "TOKEN" } }),
        )
        .await;
    let reply = tw.ask("Weather again?").await;
    let ended = tw.ended(&reply).await;
    let error = ended["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("{{vars.TOKEN}}"), "{ended}");
    assert_eq!(
        tw.tool.calls().len(),
        1,
        "the call without its key was not made"
    );
}

#[tokio::test]
async fn a_secret_variable_that_no_longer_opens_fails_the_reply_at_once() {
    use orbit_domain::entities::app_var;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let tw = tool_world(spawn_app().await, vec![FakeTurn::text("never")], 8).await;
    tw.app
        .gql_ok(
            tw.sk(),
            SET_VAR,
            json!({ "input": { "name": "PERSONA", "value": "a pirate", "secret": true } }),
        )
        .await;
    tw.app
        .gql_ok(
            tw.sk(),
            "mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { agent { id } } }",
            json!({ "input": { "id": tw.agent, "instructions": "Speak as {{vars.PERSONA}}." } }),
        )
        .await;
    // As if the server's ORBIT_SECRETS_KEY had changed under it.
    app_var::Entity::update_many()
        .col_expr(
            app_var::Column::ValueSealed,
            Expr::value("not-a-sealed-value"),
        )
        .filter(app_var::Column::Name.eq("PERSONA"))
        .exec(tw.app.services.db().conn())
        .await
        .unwrap();
    let reply = tw.ask("Ahoy?").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "FAILED", "{ended}");
    assert_eq!(ended["attempts"], 1, "failed at once, not retried: {ended}");
    assert!(
        ended["error"]
            .as_str()
            .is_some_and(|error| error.contains("cannot be read")),
        "{ended}"
    );
    assert!(tw.llm.received().is_empty(), "the model was not asked");
}
