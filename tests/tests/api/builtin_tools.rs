//! Orbit's built-in tools: an agent given them reads a thread, posts in
//! another thread it takes part in, and runs one of its routines — each
//! with the agent's own reach (its threads, its routines), whatever the
//! model asks for.

use orbit_tests::llm::FakeTurn;
use orbit_tests::{assert_error, eventually, spawn_app};
use serde_json::{Value, json};

use crate::agent_tools::{ToolWorld, tool_world};

const SET_TOOLS: &str = "mutation($input: SetAgentToolsInput!) { setAgentTools(input: $input) { agent { builtinTools tools { name } } } }";
const ADD_AGENT: &str = "mutation($input: AddThreadParticipantInput!) { addThreadParticipant(input: $input) { thread { id } } }";
const CREATE_THREAD: &str =
    "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }";
const CREATE_ROUTINE: &str =
    "mutation($input: CreateRoutineInput!) { createRoutine(input: $input) { routine { id } } }";
const MESSAGES: &str = "query($id: ID!) { thread(id: $id) { messages(last: 5) { edges { node { content author { __typename ... on Agent { handle } } } } } } }";

/// Gives the world's agent every built-in tool beside its HTTP tool.
async fn give_builtins(tw: &ToolWorld) -> Value {
    tw.app
        .gql_ok(
            tw.sk(),
            SET_TOOLS,
            json!({ "input": {
                "agentId": tw.agent,
                "toolIds": [tw.tool_id],
                "builtinTools": ["READ_THREAD", "POST_MESSAGE", "RUN_ROUTINE"],
            } }),
        )
        .await["setAgentTools"]["agent"]
        .clone()
}

/// A thread of the world's author, with the agent in it when `with_agent`.
async fn another_thread(tw: &ToolWorld, title: &str, with_agent: bool) -> String {
    let thread = tw
        .app
        .gql_ok(
            tw.w.author.token(),
            CREATE_THREAD,
            json!({ "input": { "title": title } }),
        )
        .await["createThread"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    if with_agent {
        tw.app
            .gql_ok(
                tw.sk(),
                ADD_AGENT,
                json!({ "input": { "threadId": thread, "agentId": tw.agent } }),
            )
            .await;
    }
    thread
}

/// A routine of `agent` that posts "Routine ran." into the world's thread.
async fn routine_of(tw: &ToolWorld, agent: &str) -> String {
    tw.app
        .gql_ok(
            tw.sk(),
            CREATE_ROUTINE,
            json!({ "input": {
                "agentId": agent, "name": "Ping",
                "trigger": { "cron": { "expression": "0 0 1 1 *", "timezone": "UTC" } },
                "action": { "postMessage": { "threadId": tw.w.thread_id, "content": "Routine ran." } },
            } }),
        )
        .await["createRoutine"]["routine"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn contents(tw: &ToolWorld, thread: &str) -> Vec<String> {
    let data = tw
        .app
        .gql_ok(tw.sk(), MESSAGES, json!({ "id": thread }))
        .await;
    data["thread"]["messages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| {
            edge["node"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn an_agent_reads_its_thread_posts_in_another_and_runs_its_routine() {
    // The turns name a thread and a routine made below: the world is
    // built with placeholders, and the model is given the real ids.
    let app = spawn_app().await;
    let tw = tool_world(app, vec![FakeTurn::text("placeholder")], 8).await;
    let agent = give_builtins(&tw).await;
    assert_eq!(
        agent["builtinTools"],
        json!(["READ_THREAD", "POST_MESSAGE", "RUN_ROUTINE"])
    );
    let elsewhere = another_thread(&tw, "Elsewhere", true).await;
    let routine = routine_of(&tw, &tw.agent).await;
    tw.llm.set(orbit_tests::llm::Behaviour::Turns(vec![
        FakeTurn::call("call_1", "orbit_read_thread", json!({ "last": 3 })),
        FakeTurn::call(
            "call_2",
            "orbit_post_message",
            json!({ "threadId": elsewhere, "content": "Hello from the helper" }),
        ),
        FakeTurn::call(
            "call_3",
            "orbit_run_routine",
            json!({ "routineId": routine }),
        ),
        FakeTurn::text("Done."),
    ]));
    let reply = tw.ask("Please tidy up").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let steps = ended["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{ended}");
    for step in steps {
        assert_eq!(step["status"], "COMPLETED", "{step}");
    }
    // It read this thread, the asking message last.
    let read = &steps[0]["result"];
    assert_eq!(read["threadId"], tw.w.thread_id.as_str());
    let last = read["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["content"], "Please tidy up");
    assert!(
        last["from"].as_str().unwrap().starts_with("user usr_"),
        "{last}"
    );
    // It posted there, as itself, once.
    assert_eq!(contents(&tw, &elsewhere).await, ["Hello from the helper"]);
    assert_eq!(steps[1]["result"]["threadId"], elsewhere.as_str());
    // The routine ran, posting into the world's thread.
    assert!(
        steps[2]["result"]["runId"]
            .as_str()
            .unwrap()
            .starts_with("run_")
    );
    eventually("the routine posts", || async {
        contents(&tw, &tw.w.thread_id)
            .await
            .contains(&"Routine ran.".to_owned())
    })
    .await;
    // The model was offered them by name beside the app's tool.
    let offered: Vec<String> = tw.llm.received()[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        offered,
        [
            "get_weather",
            "orbit_read_thread",
            "orbit_post_message",
            "orbit_run_routine"
        ]
    );
}

#[tokio::test]
async fn built_in_tools_reach_only_the_agents_threads_and_routines() {
    let app = spawn_app().await;
    let tw = tool_world(app, vec![FakeTurn::text("placeholder")], 8).await;
    give_builtins(&tw).await;
    let not_in = another_thread(&tw, "Private", false).await;
    let other_agent = tw
        .app
        .gql_ok(
            tw.sk(),
            "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }",
            json!({ "input": {
                "name": "Other", "handle": "other", "instructions": "x",
                "model": { "provider": tw.app.gql_ok(tw.sk(), "{ modelProviders(first: 1) { edges { node { id } } } }", json!({})).await["modelProviders"]["edges"][0]["node"]["id"], "model": "demo-1" },
            } }),
        )
        .await["createAgent"]["agent"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let not_mine = routine_of(&tw, &other_agent).await;
    tw.llm.set(orbit_tests::llm::Behaviour::Turns(vec![
        FakeTurn::call("call_1", "orbit_read_thread", json!({ "threadId": not_in })),
        FakeTurn::call(
            "call_2",
            "orbit_post_message",
            json!({ "threadId": not_in, "content": "sneaking in" }),
        ),
        FakeTurn::call(
            "call_3",
            "orbit_run_routine",
            json!({ "routineId": not_mine }),
        ),
        FakeTurn::call(
            "call_4",
            "orbit_read_thread",
            json!({ "threadId": "nonsense" }),
        ),
        FakeTurn::text("I could not."),
    ]));
    let reply = tw.ask("Try").await;
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    let errors: Vec<&str> = ended["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            assert_eq!(step["status"], "FAILED", "{step}");
            step["error"].as_str().unwrap()
        })
        .collect();
    assert!(
        errors[0].contains("no thread") && errors[0].contains("take part in"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("orbit_post_message: there is no thread"),
        "{errors:?}"
    );
    assert!(errors[2].contains("you have no routine"), "{errors:?}");
    assert!(errors[3].contains("not a thread id"), "{errors:?}");
    assert!(contents(&tw, &not_in).await.is_empty());

    // Without them, the agent has no such tools; the prefix is Orbit's.
    tw.app
        .gql_ok(
            tw.sk(),
            SET_TOOLS,
            json!({ "input": { "agentId": tw.agent, "toolIds": [], "builtinTools": [] } }),
        )
        .await;
    tw.llm.set(orbit_tests::llm::Behaviour::Turns(vec![
        FakeTurn::call("call_5", "orbit_read_thread", json!({})),
        FakeTurn::text("No tools."),
    ]));
    let reply = tw.ask("Again").await;
    let ended = tw.ended(&reply).await;
    let error = ended["steps"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("no tool named \"orbit_read_thread\""),
        "{error}"
    );
    let reserved = tw
        .app
        .gql(
            tw.sk(),
            "mutation($input: CreateToolInput!) { createTool(input: $input) { tool { id } } }",
            json!({ "input": {
                "name": "orbit_delete_everything", "description": "no",
                "inputSchema": { "type": "object" },
                "http": { "url": "http://127.0.0.1:1/x" },
            } }),
        )
        .await;
    assert_error(&reserved, "BAD_USER_INPUT", Some("name"));
    // Users of the app do not see an agent's tools.
    let seen = tw
        .app
        .gql_ok(
            tw.w.author.token(),
            "query($id: ID!) { agent(id: $id) { builtinTools } }",
            json!({ "id": tw.agent }),
        )
        .await;
    assert_eq!(seen["agent"]["builtinTools"], Value::Null);
}
