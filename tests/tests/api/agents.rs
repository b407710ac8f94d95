//! Agents replying in threads: management, streaming to subscribers, the
//! stored reply, mention mode, loops, provider failures and timeouts,
//! cancelling, and exactly one reply per message with several processes.

use chrono::Duration as Span;
use orbit_tests::llm::{Behaviour, FAKE_MODEL, FakeLlm};
use orbit_tests::ws::WsClient;
use orbit_tests::{
    RedisServer, TeamWorld, TestApp, assert_error, eventually, spawn_app, spawn_cluster,
    spawn_shareable_app_with,
};
use serde_json::{Value, json};

pub const CREATE_PROVIDER: &str = "mutation($input: CreateModelProviderInput!) { createModelProvider(input: $input) { modelProvider { id name kind baseUrl hasApiKey script requestTimeoutSeconds idleTimeoutSeconds } } }";
pub const CREATE_AGENT: &str = "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id name handle instructions replyMode status model { model temperature maxTokens provider { id } } } } }";
const UPDATE_AGENT: &str = "mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { agent { id name handle replyMode status model { model } } } }";
const ADD_AGENT: &str = "mutation($input: AddThreadParticipantInput!) { addThreadParticipant(input: $input) { thread { id participants { user { id } agent { id handle } } } } }";
const SEND: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id agentReplies { id status agent { id } } } } }";
const REPLY: &str = "query($id: ID!) { agentReply(id: $id) { id status attempts error model usage { promptTokens completionTokens totalTokens } message { id content status model usage { promptTokens completionTokens } author { ... on Agent { id handle } } } } }";
const CANCEL: &str = "mutation($input: CancelAgentReplyInput!) { cancelAgentReply(input: $input) { reply { id status } } }";
const EVENTS: &str = "subscription($id: ID!) { threadEvents(threadId: $id) { __typename ... on Event { type } ... on AgentReplyDeltaEvent { replyId attempt sequence delta agent { handle } } ... on AgentReplyCompletedEvent { replyId attempt message { id content status author { ... on Agent { handle } } } usage { completionTokens } } ... on AgentReplyFailedEvent { replyId status error message { content status } } ... on MessageCreatedEvent { message { id content author { __typename } } } } }";

/// A team world with an agent in its thread, set up with the secret key.
struct AgentWorld {
    app: TestApp,
    w: TeamWorld,
    provider: String,
    agent: String,
}

impl AgentWorld {
    fn sk(&self) -> Option<&str> {
        Some(self.w.keys.secret_key.as_str())
    }

    async fn send(&self, content: &str) -> Value {
        let data = self
            .app
            .gql_ok(
                self.w.author.token(),
                SEND,
                json!({ "input": { "threadId": self.w.thread_id, "content": content } }),
            )
            .await;
        data["sendMessage"]["message"].clone()
    }

    /// The id of the one reply `content` asked for.
    async fn ask(&self, content: &str) -> String {
        let message = self.send(content).await;
        let replies = message["agentReplies"].as_array().unwrap();
        assert_eq!(replies.len(), 1, "{message}");
        replies[0]["id"].as_str().unwrap().to_owned()
    }

    async fn reply(&self, id: &str) -> Value {
        self.app.gql_ok(self.sk(), REPLY, json!({ "id": id })).await["agentReply"].clone()
    }

    /// Waits until the reply has ended, and returns it.
    async fn ended(&self, id: &str) -> Value {
        eventually("the reply ends", || async {
            let status = self.reply(id).await["status"].clone();
            !matches!(status.as_str(), Some("QUEUED" | "RUNNING"))
        })
        .await;
        self.reply(id).await
    }

    async fn watch(&self) -> WsClient {
        let mut client = WsClient::connected(&self.app.ws_url(), self.w.member.token()).await;
        client
            .subscribe("t", EVENTS, json!({ "id": self.w.thread_id }))
            .await;
        client.ping().await;
        client
    }
}

async fn create_provider(app: &TestApp, sk: &str, input: Value) -> String {
    let data = app
        .gql_ok(Some(sk), CREATE_PROVIDER, json!({ "input": input }))
        .await;
    data["createModelProvider"]["modelProvider"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create_agent(app: &TestApp, sk: &str, provider: &str, handle: &str, mode: &str) -> String {
    let data = app
        .gql_ok(
            Some(sk),
            CREATE_AGENT,
            json!({ "input": {
                "name": format!("Agent {handle}"), "handle": handle, "instructions": "Be brief.",
                "model": { "provider": provider, "model": "demo-1", "temperature": 0.2, "maxTokens": 200 },
                "replyMode": mode,
            } }),
        )
        .await;
    data["createAgent"]["agent"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn add_agent(app: &TestApp, sk: &str, thread: &str, agent: &str) {
    app.gql_ok(
        Some(sk),
        ADD_AGENT,
        json!({ "input": { "threadId": thread, "agentId": agent } }),
    )
    .await;
}

/// An agent in the world's thread speaking through `provider` (its input).
async fn agent_world_on(app: TestApp, provider: Value, mode: &str) -> AgentWorld {
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.clone();
    let provider = create_provider(&app, &sk, provider).await;
    let agent = create_agent(&app, &sk, &provider, "helper", mode).await;
    add_agent(&app, &sk, &w.thread_id, &agent).await;
    AgentWorld {
        app,
        w,
        provider,
        agent,
    }
}

fn scripted() -> Value {
    json!({ "name": "Script", "kind": "SCRIPTED", "script": {
        "rules": [{ "when": "weather", "reply": "Sunny all day." }],
        "default": "You said: {{message}}", "chunkChars": 4,
    } })
}

fn openai(llm: &FakeLlm, key: Option<&str>, idle: i32) -> Value {
    json!({ "name": "Fake OpenAI", "kind": "OPENAI_COMPATIBLE", "baseUrl": llm.base_url,
            "apiKey": key, "idleTimeoutSeconds": idle })
}

/// Events of the subscription until a reply ends (completed or failed).
async fn events_until_end(client: &mut WsClient) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = client.next_payload("t").await["data"]["threadEvents"].clone();
        let end = matches!(
            event["type"].as_str(),
            Some("agent_reply.completed" | "agent_reply.failed")
        );
        events.push(event);
        if end {
            return events;
        }
    }
}

fn deltas(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "agent_reply.delta")
        .collect()
}

#[tokio::test]
async fn a_reply_streams_to_subscribers_then_is_stored() {
    let aw = agent_world_on(spawn_app().await, scripted(), "ALWAYS").await;
    let mut client = aw.watch().await;
    let reply = aw.ask("what about the weather?").await;

    let mut events = Vec::new();
    // The asking message first, then the reply's pieces in order, the
    // agent's message and the end of the reply.
    while events.len() < 2
        || events.last().map(|e: &Value| e["type"].clone()) != Some(json!("agent_reply.completed"))
    {
        events.extend(events_until_end(&mut client).await);
    }
    assert_eq!(events[0]["type"], "message.created");
    let pieces = deltas(&events);
    let sequences: Vec<i64> = pieces
        .iter()
        .map(|d| d["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=pieces.len() as i64).collect::<Vec<_>>());
    let text: String = pieces
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Sunny all day.");
    assert!(
        pieces
            .iter()
            .all(|d| d["replyId"] == reply.as_str() && d["attempt"] == 1)
    );
    assert_eq!(pieces[0]["delta"], "Sunn", "pieces of chunkChars");
    assert_eq!(pieces[0]["agent"]["handle"], "helper");
    let created = &events[events.len() - 2];
    assert_eq!(created["type"], "message.created");
    assert_eq!(created["message"]["author"]["__typename"], "Agent");
    let completed = events.last().unwrap();
    assert_eq!(completed["replyId"], reply.as_str());
    assert_eq!(completed["message"]["content"], "Sunny all day.");
    assert_eq!(completed["message"]["status"], "COMPLETE");
    assert_eq!(completed["message"]["author"]["handle"], "helper");
    assert_eq!(completed["message"]["id"], created["message"]["id"]);

    let stored = aw.reply(&reply).await;
    assert_eq!(stored["status"], "COMPLETED");
    assert_eq!(stored["attempts"], 1);
    assert_eq!(stored["model"], "demo-1");
    assert_eq!(stored["message"]["content"], "Sunny all day.");
    assert_eq!(stored["message"]["status"], "COMPLETE");
    assert_eq!(stored["message"]["author"]["id"], aw.agent.as_str());
    assert_eq!(stored["message"]["usage"]["completionTokens"], 4);
    assert!(stored["usage"]["promptTokens"].as_i64().unwrap() > 0);

    // The thread holds the agent's message, as any member reads it.
    let thread = aw
        .app
        .gql_ok(
            aw.w.member.token(),
            "query($id: ID!) { thread(id: $id) { messages(last: 1) { edges { node { content model author { __typename ... on Agent { name handle instructions model { model } } } } } } } }",
            json!({ "id": aw.w.thread_id }),
        )
        .await;
    let last = &thread["thread"]["messages"]["edges"][0]["node"];
    assert_eq!(last["content"], "Sunny all day.");
    assert_eq!(last["model"], "demo-1");
    assert_eq!(last["author"]["handle"], "helper");
    assert!(
        last["author"]["instructions"].is_null(),
        "users do not see instructions"
    );
    assert!(last["author"]["model"].is_null());
}

#[tokio::test]
async fn an_openai_compatible_provider_streams_with_its_key_and_usage() {
    let llm = FakeLlm::streaming("Hello from the model.", 5).await;
    let aw = agent_world_on(
        spawn_app().await,
        openai(&llm, Some("sk-test-secret-123"), 30),
        "ALWAYS",
    )
    .await;
    let mut client = aw.watch().await;
    let reply = aw.ask("hi @helper").await;
    let mut events = events_until_end(&mut client).await;
    while events.last().unwrap()["type"] != "agent_reply.completed" {
        events = events_until_end(&mut client).await;
    }
    let text: String = deltas(&events)
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello from the model.");

    let received = llm.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].authorization.as_deref(),
        Some("Bearer sk-test-secret-123")
    );
    let body = &received[0].body;
    assert_eq!(body["model"], "demo-1");
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 200);
    assert_eq!(
        body["messages"][0],
        json!({ "role": "system", "content": "Be brief." })
    );
    let last = body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last, json!({ "role": "user", "content": "hi @helper" }));

    let stored = aw.reply(&reply).await;
    assert_eq!(stored["model"], FAKE_MODEL, "the model the provider named");
    assert_eq!(
        stored["usage"],
        json!({ "promptTokens": 11, "completionTokens": 7, "totalTokens": 18 })
    );
}

#[tokio::test]
async fn api_keys_are_sealed_and_never_returned() {
    use orbit_domain::entities::model_provider;
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let llm = FakeLlm::streaming("ok", 2).await;
    let created = app
        .gql_ok(
            Some(&w.keys.secret_key),
            CREATE_PROVIDER,
            json!({ "input": openai(&llm, Some("sk-very-secret-key"), 30) }),
        )
        .await;
    let text = created.to_string();
    assert!(!text.contains("sk-very-secret-key"), "{text}");
    assert_eq!(
        created["createModelProvider"]["modelProvider"]["hasApiKey"],
        true
    );
    let schema = app
        .gql_ok(
            None,
            "{ __type(name: \"ModelProvider\") { fields { name } } }",
            json!({}),
        )
        .await;
    let fields: Vec<&str> = schema["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(!fields.contains(&"apiKey"), "{fields:?}");

    let rows = model_provider::Entity::find()
        .all(app.services.db().conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let sealed = rows[0].api_key_sealed.as_deref().unwrap();
    assert!(!sealed.contains("sk-very-secret-key"));
    assert!(sealed.len() > "sk-very-secret-key".len());

    // Removing the key.
    let id = created["createModelProvider"]["modelProvider"]["id"].clone();
    let updated = app
        .gql_ok(
            Some(&w.keys.secret_key),
            "mutation($input: UpdateModelProviderInput!) { updateModelProvider(input: $input) { modelProvider { hasApiKey } } }",
            json!({ "input": { "id": id, "apiKey": "" } }),
        )
        .await;
    assert_eq!(
        updated["updateModelProvider"]["modelProvider"]["hasApiKey"],
        false
    );
}

#[tokio::test]
async fn agents_are_managed_and_inputs_checked() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.clone();
    let provider = create_provider(&app, &sk, scripted()).await;
    let agent = create_agent(&app, &sk, &provider, "Helper", "MENTION").await;
    let read = app
        .gql_ok(Some(&sk), "query($id: ID!) { agent(id: $id) { handle replyMode status instructions model { model temperature maxTokens provider { id kind } } } agents(first: 10) { edges { node { id } } } }", json!({ "id": agent }))
        .await;
    assert_eq!(read["agent"]["handle"], "helper", "handles are lower case");
    assert_eq!(read["agent"]["replyMode"], "MENTION");
    assert_eq!(read["agent"]["status"], "ACTIVE");
    assert_eq!(read["agent"]["instructions"], "Be brief.");
    assert_eq!(read["agent"]["model"]["provider"]["kind"], "SCRIPTED");
    assert_eq!(read["agent"]["model"]["maxTokens"], 200);
    assert_eq!(orbit_tests::node_ids(&read["agents"]), vec![agent.clone()]);

    let updated = app
        .gql_ok(
            Some(&sk),
            UPDATE_AGENT,
            json!({ "input": { "id": agent, "name": "Renamed", "status": "PAUSED" } }),
        )
        .await;
    assert_eq!(updated["updateAgent"]["agent"]["name"], "Renamed");
    assert_eq!(updated["updateAgent"]["agent"]["status"], "PAUSED");

    // A user of the app sees the public side.
    let as_user = app
        .gql_ok(w.member.token(), "{ agents(first: 10) { edges { node { handle instructions model { model } replies { edges { node { id } } } } } } }", json!({}))
        .await;
    let node = &as_user["agents"]["edges"][0]["node"];
    assert_eq!(node["handle"], "helper");
    assert!(node["instructions"].is_null() && node["model"].is_null() && node["replies"].is_null());

    let model = |provider: &str| json!({ "provider": provider, "model": "m" });
    let bad: Vec<(Value, &str, &str)> = vec![
        (
            json!({ "name": "A", "handle": "x", "model": model(&provider) }),
            "BAD_USER_INPUT",
            "handle",
        ),
        (
            json!({ "name": "A", "handle": "9lives", "model": model(&provider) }),
            "BAD_USER_INPUT",
            "handle",
        ),
        (
            json!({ "name": "A", "handle": "has space", "model": model(&provider) }),
            "BAD_USER_INPUT",
            "handle",
        ),
        (
            json!({ "name": "A", "handle": "helper", "model": model(&provider) }),
            "CONFLICT",
            "handle",
        ),
        (
            json!({ "name": " ", "handle": "fresh", "model": model(&provider) }),
            "BAD_USER_INPUT",
            "name",
        ),
        (
            json!({ "name": "A", "handle": "fresh", "model": model(&orbit_tests::missing_id("mpr")) }),
            "NOT_FOUND",
            "model.provider",
        ),
        (
            json!({ "name": "A", "handle": "fresh", "model": model(&w.team_id) }),
            "BAD_USER_INPUT",
            "model.provider",
        ),
        (
            json!({ "name": "A", "handle": "fresh", "model": { "provider": provider, "model": "m", "temperature": 3.0 } }),
            "BAD_USER_INPUT",
            "model.temperature",
        ),
        (
            json!({ "name": "A", "handle": "fresh", "model": { "provider": provider, "model": "m", "maxTokens": 0 } }),
            "BAD_USER_INPUT",
            "model.maxTokens",
        ),
        (
            json!({ "name": "A", "handle": "fresh", "model": { "provider": provider, "model": "" } }),
            "BAD_USER_INPUT",
            "model.model",
        ),
    ];
    for (input, code, field) in bad {
        let response = app
            .gql(Some(&sk), CREATE_AGENT, json!({ "input": input }))
            .await;
        assert_error(&response, code, Some(field));
    }
    // Another app's provider is as unknown as a missing one.
    let other = app.create_app("Other").await;
    let foreign = create_provider(&app, &other.secret_key, scripted()).await;
    let response = app
        .gql(
            Some(&sk),
            CREATE_AGENT,
            json!({ "input": { "name": "A", "handle": "fresh", "model": model(&foreign) } }),
        )
        .await;
    assert_error(&response, "NOT_FOUND", Some("model.provider"));

    let bad_providers: Vec<(Value, &str)> = vec![
        (
            json!({ "name": "P", "kind": "OPENAI_COMPATIBLE" }),
            "baseUrl",
        ),
        (
            json!({ "name": "P", "kind": "OPENAI_COMPATIBLE", "baseUrl": "ftp://x.example" }),
            "baseUrl",
        ),
        (
            json!({ "name": "P", "kind": "OPENAI_COMPATIBLE", "baseUrl": "https://api.example.com/v1", "script": {} }),
            "script",
        ),
        (
            json!({ "name": "P", "kind": "SCRIPTED", "baseUrl": "https://api.example.com/v1" }),
            "baseUrl",
        ),
        (
            json!({ "name": "P", "kind": "SCRIPTED", "script": { "rulez": [] } }),
            "script",
        ),
        (
            json!({ "name": "P", "kind": "SCRIPTED", "idleTimeoutSeconds": 0 }),
            "idleTimeoutSeconds",
        ),
    ];
    for (input, field) in bad_providers {
        let response = app
            .gql(Some(&sk), CREATE_PROVIDER, json!({ "input": input }))
            .await;
        assert_error(&response, "BAD_USER_INPUT", Some(field));
    }

    // A provider in use stays; the agent goes, then the provider may.
    let delete_provider = "mutation($input: DeleteModelProviderInput!) { deleteModelProvider(input: $input) { deletedModelProviderId } }";
    let refused = app
        .gql(
            Some(&sk),
            delete_provider,
            json!({ "input": { "id": provider } }),
        )
        .await;
    assert_error(&refused, "CONFLICT", Some("id"));
    app.gql_ok(
        Some(&sk),
        "mutation($input: DeleteAgentInput!) { deleteAgent(input: $input) { deletedAgentId } }",
        json!({ "input": { "id": agent } }),
    )
    .await;
    let gone = app
        .gql(
            Some(&sk),
            "query($id: ID!) { agent(id: $id) { id } }",
            json!({ "id": agent }),
        )
        .await;
    assert_error(&gone, "NOT_FOUND", Some("id"));
    app.gql_ok(
        Some(&sk),
        delete_provider,
        json!({ "input": { "id": provider } }),
    )
    .await;
}

#[tokio::test]
async fn private_base_urls_need_the_server_setting() {
    let app = orbit_tests::spawn_app_with(|s| s.webhook_allow_private = false).await;
    let w = app.new_team_world().await;
    let response = app
        .gql(
            Some(&w.keys.secret_key),
            CREATE_PROVIDER,
            json!({ "input": { "name": "Local", "kind": "OPENAI_COMPATIBLE", "baseUrl": "http://127.0.0.1:11434/v1" } }),
        )
        .await;
    assert_error(&response, "BAD_USER_INPUT", Some("baseUrl"));
}

#[tokio::test]
async fn mention_mode_answers_only_when_mentioned() {
    let aw = agent_world_on(spawn_app().await, scripted(), "MENTION").await;
    let quiet = aw.send("no one is called here, mail bob@helper.com").await;
    assert_eq!(quiet["agentReplies"], json!([]));
    let reply = aw.ask("@Helper what is the weather?").await;
    assert_eq!(
        aw.ended(&reply).await["message"]["content"],
        "Sunny all day."
    );
    // A paused agent answers nothing new.
    aw.app
        .gql_ok(
            aw.sk(),
            UPDATE_AGENT,
            json!({ "input": { "id": aw.agent, "status": "PAUSED" } }),
        )
        .await;
    assert_eq!(aw.send("@helper again?").await["agentReplies"], json!([]));
}

#[tokio::test]
async fn agents_do_not_answer_themselves_or_each_other() {
    let aw = agent_world_on(spawn_app().await, scripted(), "ALWAYS").await;
    let sk = aw.w.keys.secret_key.clone();
    let second = create_agent(&aw.app, &sk, &aw.provider, "echo", "ALWAYS").await;
    add_agent(&aw.app, &sk, &aw.w.thread_id, &second).await;
    let message = aw.send("hello both").await;
    let replies: Vec<String> = message["agentReplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(replies.len(), 2);
    for reply in &replies {
        assert_eq!(aw.ended(reply).await["status"], "COMPLETED");
    }
    // Their messages asked nobody; the thread holds the question and two answers.
    aw.app.services.wake_worker();
    let thread = aw
        .app
        .gql_ok(aw.sk(), "query($id: ID!) { thread(id: $id) { messages(first: 50) { edges { node { content agentReplies { id } author { __typename } } } } } }", json!({ "id": aw.w.thread_id }))
        .await;
    let edges = thread["thread"]["messages"]["edges"].as_array().unwrap();
    assert_eq!(
        edges.len(),
        4,
        "hello team, the question, two answers: {thread}"
    );
    for edge in &edges[2..] {
        assert_eq!(edge["node"]["author"]["__typename"], "Agent");
        assert_eq!(edge["node"]["agentReplies"], json!([]));
    }
}

#[tokio::test]
async fn a_failing_provider_is_retried_with_backoff_then_the_reply_fails() {
    let llm = FakeLlm::start(Behaviour::Fail {
        status: 503,
        message: "overloaded".into(),
        retry_after: Some("20".into()),
    })
    .await;
    let aw = agent_world_on(spawn_app().await, openai(&llm, None, 30), "ALWAYS").await;
    let reply = aw.ask("anyone?").await;
    for attempt in 1..4 {
        llm.wait_for_requests(attempt).await;
        eventually("the reply waits for its retry", || async {
            aw.reply(&reply).await["status"] == "QUEUED"
        })
        .await;
        let waiting = aw.reply(&reply).await;
        assert!(
            waiting["error"].as_str().unwrap().contains("503"),
            "{waiting}"
        );
        // Not before Retry-After.
        aw.app.clock.advance(Span::seconds(19));
        aw.app.services.wake_worker();
        assert_eq!(llm.received().len(), attempt);
        aw.app.clock.advance(Span::seconds(1));
        aw.app.services.wake_worker();
    }
    let failed = aw.ended(&reply).await;
    assert_eq!(llm.received().len(), 4);
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["attempts"], 4);
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("503") && error.contains("overloaded") && error.contains("4 attempts"),
        "{error}"
    );
    assert_eq!(failed["message"]["status"], "FAILED");
    assert_eq!(failed["message"]["content"], "");
}

#[tokio::test]
async fn a_refused_request_fails_at_once_with_the_providers_words() {
    let llm = FakeLlm::start(Behaviour::Fail {
        status: 401,
        message: "Incorrect API key provided".into(),
        retry_after: None,
    })
    .await;
    let aw = agent_world_on(
        spawn_app().await,
        openai(&llm, Some("sk-wrong"), 30),
        "ALWAYS",
    )
    .await;
    let mut client = aw.watch().await;
    let reply = aw.ask("hello?").await;
    let events = events_until_end(&mut client).await;
    let mut end = events.last().unwrap().clone();
    if end["type"] != "agent_reply.failed" {
        end = events_until_end(&mut client).await.last().unwrap().clone();
    }
    assert_eq!(end["status"], "FAILED");
    assert_eq!(end["replyId"], reply.as_str());
    let error = end["error"].as_str().unwrap();
    assert!(
        error.contains("401") && error.contains("Incorrect API key provided"),
        "{error}"
    );
    assert!(!error.contains("sk-wrong"));
    assert_eq!(llm.received().len(), 1, "a 401 is not retried");
    assert_eq!(aw.reply(&reply).await["attempts"], 1);
}

#[tokio::test]
async fn a_provider_that_goes_quiet_times_out_and_keeps_what_it_said() {
    let llm = FakeLlm::start(Behaviour::StallAfter {
        pieces: vec!["Let me ".into(), "think".into()],
    })
    .await;
    let aw = agent_world_on(spawn_app().await, openai(&llm, None, 1), "ALWAYS").await;
    let reply = aw.ask("a hard question").await;
    let failed = aw.ended(&reply).await;
    llm.release();
    assert_eq!(failed["status"], "FAILED");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("sent nothing for 1 s"), "{error}");
    assert_eq!(failed["message"]["content"], "Let me think");
    assert_eq!(failed["message"]["status"], "FAILED");
    assert_eq!(failed["attempts"], 1, "no retry after the first token");
}

#[tokio::test]
async fn a_reply_can_be_cancelled_mid_stream() {
    let llm = FakeLlm::start(Behaviour::StallAfter {
        pieces: vec!["Once upon".into()],
    })
    .await;
    let aw = agent_world_on(spawn_app().await, openai(&llm, None, 600), "ALWAYS").await;
    let mut client = aw.watch().await;
    let reply = aw.ask("tell me a story").await;
    loop {
        let event = client.next_payload("t").await["data"]["threadEvents"].clone();
        if event["type"] == "agent_reply.delta" {
            assert_eq!(event["delta"], "Once upon");
            break;
        }
    }
    // Not the requester, not a manager.
    let refused = aw
        .app
        .gql(
            aw.w.member.token(),
            CANCEL,
            json!({ "input": { "replyId": reply } }),
        )
        .await;
    assert_error(&refused, "FORBIDDEN", None);
    // The person who asked may.
    let cancelled = aw
        .app
        .gql_ok(
            aw.w.author.token(),
            CANCEL,
            json!({ "input": { "replyId": reply } }),
        )
        .await;
    assert_eq!(cancelled["cancelAgentReply"]["reply"]["id"], reply.as_str());
    let events = events_until_end(&mut client).await;
    let end = events.last().unwrap();
    assert_eq!(end["type"], "agent_reply.failed");
    assert_eq!(end["status"], "CANCELLED");
    assert_eq!(end["message"]["content"], "Once upon");
    assert_eq!(end["message"]["status"], "CANCELLED");
    let stored = aw.reply(&reply).await;
    assert_eq!(stored["status"], "CANCELLED");
    llm.release();
    let again = aw
        .app
        .gql(
            aw.w.author.token(),
            CANCEL,
            json!({ "input": { "replyId": reply } }),
        )
        .await;
    assert_error(&again, "CONFLICT", Some("replyId"));
}

#[tokio::test]
async fn two_processes_give_each_message_exactly_one_reply() {
    let redis = RedisServer::start().await;
    let (first, second) = spawn_cluster(&redis.url()).await;
    let aw = agent_world_on(first, scripted(), "ALWAYS").await;
    let mut replies = Vec::new();
    for n in 0..6 {
        let process = if n % 2 == 0 { &aw.app } else { &second };
        let data = process
            .gql_ok(aw.w.author.token(), SEND, json!({ "input": { "threadId": aw.w.thread_id, "content": format!("question {n}") } }))
            .await;
        let asked = data["sendMessage"]["message"]["agentReplies"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(asked.len(), 1);
        replies.push(asked[0]["id"].as_str().unwrap().to_owned());
        second.services.wake_worker();
    }
    for reply in &replies {
        let ended = aw.ended(reply).await;
        assert_eq!(ended["status"], "COMPLETED");
        assert_eq!(ended["attempts"], 1, "claimed once: {ended}");
    }
    let thread = aw
        .app
        .gql_ok(aw.sk(), "query($id: ID!) { thread(id: $id) { messages(first: 100) { edges { node { content author { __typename } } } } } }", json!({ "id": aw.w.thread_id }))
        .await;
    let answers: Vec<String> = thread["thread"]["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["author"]["__typename"] == "Agent")
        .map(|e| e["node"]["content"].as_str().unwrap().to_owned())
        .collect();
    let mut expected: Vec<String> = (0..6).map(|n| format!("You said: question {n}")).collect();
    let mut sorted = answers.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "one answer per question");
}

/// The process that takes a message has no worker; the one with a worker
/// never sweeps (an hour between looks): only the commit's signal, which
/// travels on the broker, can set it to work.
#[tokio::test]
async fn a_commit_that_queues_a_reply_wakes_the_reply_loop_of_another_process() {
    let redis = orbit_tests::RedisServer::start().await;
    let (api, _worker) = orbit_tests::spawn_cluster_with(
        &redis.url(),
        |api| api.run_worker = false,
        |worker| worker.idle_sweep = std::time::Duration::from_secs(3600),
    )
    .await;
    let aw = agent_world_on(api, scripted(), "ALWAYS").await;
    let reply = aw.ask("anyone there?").await;
    let ended = aw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED");
    assert_eq!(ended["message"]["content"], "You said: anyone there?");
}

#[tokio::test]
async fn a_reply_whose_process_died_is_taken_over_after_its_lease() {
    // This process serves requests only; the "dead" one claims the reply.
    let api = spawn_shareable_app_with(|s| s.run_worker = false).await;
    let aw = agent_world_on(api, scripted(), "ALWAYS").await;
    let reply = aw.ask("still there?").await;
    let now = orbit_domain::Clock::now(aw.app.clock.as_ref());
    let db = aw.app.services.db();
    let claimed =
        orbit_persistence::agent_replies::claim(db, "dead-process", now, Span::seconds(60), 10)
            .await
            .unwrap();
    assert_eq!(claimed.len(), 1);

    let worker = aw.app.another_process(|s| s.run_worker = true).await;
    worker.services.wake_worker();
    assert_eq!(
        aw.reply(&reply).await["status"],
        "RUNNING",
        "the lease holds"
    );
    aw.app.clock.advance(Span::seconds(61));
    worker.services.wake_worker();
    let ended = aw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED");
    assert_eq!(ended["attempts"], 2);
    assert_eq!(ended["message"]["content"], "You said: still there?");
    // The dead process cannot write over it.
    let lost = orbit_persistence::agent_replies::heartbeat(
        db,
        orbit_domain::ids::AgentReplyId::parse_field(&reply, "id")
            .unwrap()
            .uuid(),
        "dead-process",
        now,
    )
    .await
    .unwrap();
    assert_eq!(lost, None);
}

#[tokio::test]
async fn a_queued_reply_is_cancelled_at_once() {
    let api = spawn_shareable_app_with(|s| s.run_worker = false).await;
    let aw = agent_world_on(api, scripted(), "ALWAYS").await;
    let reply = aw.ask("never mind").await;
    let cancelled = aw
        .app
        .gql_ok(aw.sk(), CANCEL, json!({ "input": { "replyId": reply } }))
        .await;
    assert_eq!(
        cancelled["cancelAgentReply"]["reply"]["status"],
        "CANCELLED"
    );
    let stored = aw.reply(&reply).await;
    assert!(stored["message"].is_null(), "nothing was said: {stored}");
    assert_eq!(stored["error"], "cancelled before it started");
}

/// The entry point routines use: a reply to a prompt that is not a message.
#[tokio::test]
async fn an_agent_answers_a_prompt_into_a_thread() {
    use orbit_domain::ids::{AgentId, AppId, AppScope, ThreadId};
    let aw = agent_world_on(spawn_app().await, scripted(), "MENTION").await;
    let scope = AppScope::new(aw.w.keys.app_id.parse::<AppId>().unwrap());
    let now = orbit_domain::Clock::now(aw.app.clock.as_ref());
    let reply = orbit_persistence::agent_replies::enqueue_prompt(
        aw.app.services.db().conn(),
        scope,
        aw.agent.parse::<AgentId>().unwrap(),
        aw.w.thread_id.parse::<ThreadId>().unwrap(),
        "Summarise the weather".to_owned(),
        now,
    )
    .await
    .unwrap();
    aw.app.services.wake_worker();
    let id = orbit_domain::ids::AgentReplyId(reply.id).to_string();
    let ended = aw.ended(&id).await;
    assert_eq!(ended["status"], "COMPLETED");
    assert_eq!(ended["message"]["content"], "Sunny all day.");
    let prompt = aw
        .app
        .gql_ok(
            aw.sk(),
            "query($id: ID!) { agentReply(id: $id) { prompt triggerMessage { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(prompt["agentReply"]["prompt"], "Summarise the weather");
    assert!(prompt["agentReply"]["triggerMessage"].is_null());
}
