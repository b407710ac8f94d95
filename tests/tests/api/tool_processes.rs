//! Tool calls across processes: two processes' workers share the replies
//! and each call is made once; a process that stops in the middle of a
//! call leaves it to another, which makes it again under the same
//! idempotency key and finishes the reply — one step, one answer.

use std::collections::HashSet;

use orbit_tests::llm::{Behaviour, FakeTurn};
use orbit_tests::url_receiver::Answer;
use orbit_tests::{TestApp, eventually, spawn_shareable_app_with};
use serde_json::{Value, json};

use crate::agent_tools::tool_world;

const REPLY: &str = "query($id: ID!) { agentReply(id: $id) { status message { content } steps { callId status } } }";

async fn ended_on(app: &TestApp, sk: Option<&str>, id: &str) -> Value {
    let read = || async { app.gql_ok(sk, REPLY, json!({ "id": id })).await["agentReply"].clone() };
    eventually("the reply ends", || async {
        !matches!(
            read().await["status"].as_str(),
            Some("QUEUED" | "RUNNING" | "AWAITING_APPROVAL")
        )
    })
    .await;
    read().await
}

#[tokio::test]
async fn two_processes_share_the_replies_and_make_each_call_once() {
    let first = spawn_shareable_app_with(|s| s.run_worker = true).await;
    let tw = tool_world(first, vec![FakeTurn::text("unused")], 8).await;
    tw.llm.set(Behaviour::CallThenAnswer {
        name: "get_weather".into(),
        arguments: json!({ "city": "Oslo" }),
        text: "Sunny.".into(),
    });
    let second = tw.app.another_process(|s| s.run_worker = true).await;
    let mut replies = Vec::new();
    for n in 0..8 {
        replies.push(tw.ask(&format!("Weather, please ({n})")).await);
    }
    second.services.wake_worker();
    for reply in &replies {
        let ended = tw.ended(reply).await;
        assert_eq!(ended["status"], "COMPLETED", "{ended}");
        assert_eq!(ended["message"]["content"], "Sunny.");
        assert_eq!(ended["steps"].as_array().unwrap().len(), 1, "{ended}");
    }
    // One request to the tool per reply, each under its own key.
    let calls = tw.tool.calls();
    assert_eq!(calls.len(), replies.len(), "{calls:?}");
    let keys: HashSet<&str> = calls
        .iter()
        .map(|call| call.headers["idempotency-key"].as_str())
        .collect();
    assert_eq!(keys.len(), replies.len());
}

#[tokio::test]
async fn a_process_that_stops_mid_call_leaves_it_to_another_under_the_same_key() {
    let first = spawn_shareable_app_with(|s| s.run_worker = true).await;
    let tw = tool_world(
        first,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text("Sunny, in the end."),
        ],
        8,
    )
    .await;
    // The tool takes the first request and does not answer it.
    tw.tool.set(Answer::Hold);
    let reply = tw.ask("Weather in Oslo?").await;
    tw.tool.wait_for_calls(1).await;
    let sk = tw.w.keys.secret_key.clone();

    // Requests from now on are answered; the first stays out.
    tw.tool.set(Answer::Status(
        200,
        json!({ "forecast": "sunny" }).to_string(),
    ));
    // The process stops while the call is out (its reply goes back to the
    // queue); another process takes the reply.
    let second = tw.app.another_process(|s| s.run_worker = true).await;
    tw.app.stop().await;
    tw.tool.release();
    second.services.wake_worker();
    let ended = ended_on(&second, Some(&sk), &reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert_eq!(ended["message"]["content"], "Sunny, in the end.");
    let steps = ended["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{ended}");
    assert_eq!(steps[0]["status"], "COMPLETED");
    // The tool was asked twice, under one key: it can tell the repeat.
    let calls = tw.tool.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[0].headers["idempotency-key"],
        calls[1].headers["idempotency-key"]
    );
}
