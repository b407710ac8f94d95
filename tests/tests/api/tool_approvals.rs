//! Tools that require approval: the reply pauses on the call
//! (`agent_reply.approval_requested`, status AWAITING_APPROVAL), and goes on
//! once someone allowed decides (`decideToolCall`) or the wait expires; a
//! refused or expired call is never made and the model is told why.

use chrono::Duration as Span;
use orbit_tests::llm::FakeTurn;
use orbit_tests::ws::WsClient;
use orbit_tests::{TestApp, assert_error, eventually, spawn_app};
use serde_json::{Value, json};

use crate::agent_tools::{ToolWorld, stored_events_until_end, tool_world, types};

const DECIDE: &str = "mutation($input: DecideToolCallInput!) { decideToolCall(input: $input) { reply { id status } call { callId status error decidedAt decidedByUserId } } }";
const PAUSED: &str = "query($id: ID!) { agentReply(id: $id) { status attempts steps { callId status approvalExpiresAt decidedAt decidedByUserId error } } }";

/// A world whose `get_weather` requires approval; the model calls it once,
/// then says `after`.
async fn approval_world(app: TestApp, after: &str) -> ToolWorld {
    let tw = tool_world(
        app,
        vec![
            FakeTurn::call("call_1", "get_weather", json!({ "city": "Oslo" })),
            FakeTurn::text(after),
        ],
        8,
    )
    .await;
    let updated = tw
        .app
        .gql_ok(
            tw.sk(),
            "mutation($input: UpdateToolInput!) { updateTool(input: $input) { tool { requiresApproval } } }",
            json!({ "input": { "id": tw.tool_id, "requiresApproval": true } }),
        )
        .await;
    assert_eq!(updated["updateTool"]["tool"]["requiresApproval"], true);
    tw
}

/// The stored events up to and including the first of type `until`.
async fn events_until(client: &mut WsClient, id: &str, until: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = client.next_payload(id).await["data"]["threadEvents"].clone();
        if event["type"] == "agent_reply.delta" {
            continue;
        }
        let done = event["type"] == until;
        events.push(event);
        if done {
            return events;
        }
    }
}

async fn paused(tw: &ToolWorld, reply: &str) -> Value {
    eventually("the reply pauses for approval", || async {
        tw.reply(reply).await["status"] == "AWAITING_APPROVAL"
    })
    .await;
    tw.app.gql_ok(tw.sk(), PAUSED, json!({ "id": reply })).await["agentReply"].clone()
}

fn decide(reply: &str, call: &str, approve: bool) -> Value {
    json!({ "input": { "replyId": reply, "callId": call, "approve": approve } })
}

#[tokio::test]
async fn a_call_that_needs_approval_waits_and_is_made_once_approved() {
    let tw = approval_world(spawn_app().await, "Sunny.").await;
    let mut live = tw.watch().await;
    let reply = tw.ask("Weather in Oslo?").await;

    let seen = events_until(&mut live, "t", "agent_reply.approval_requested").await;
    assert_eq!(
        types(&seen),
        ["message.created", "agent_reply.approval_requested"]
    );
    let requested = &seen[1];
    assert_eq!(requested["__typename"], "AgentApprovalRequestedEvent");
    assert_eq!(requested["callId"], "call_1");
    assert_eq!(requested["toolName"], "get_weather");
    assert_eq!(requested["arguments"], json!({ "city": "Oslo" }));
    assert!(requested["approvalExpiresAt"].is_string(), "{requested}");

    let waiting = paused(&tw, &reply).await;
    assert_eq!(waiting["attempts"], 1);
    assert_eq!(waiting["steps"][0]["status"], "AWAITING_APPROVAL");
    assert_eq!(
        waiting["steps"][0]["approvalExpiresAt"],
        requested["approvalExpiresAt"]
    );
    assert!(tw.tool.calls().is_empty(), "not made before approval");

    // A member who neither manages the thread nor asked may not decide.
    let refused = tw
        .app
        .gql(tw.w.member.token(), DECIDE, decide(&reply, "call_1", true))
        .await;
    assert_error(&refused, "FORBIDDEN", None);
    // A call the reply does not have.
    let unknown = tw
        .app
        .gql(tw.w.author.token(), DECIDE, decide(&reply, "call_9", true))
        .await;
    assert_error(&unknown, "NOT_FOUND", Some("callId"));
    // Another app's key does not see the reply at all.
    let other = tw.app.new_team_world().await;
    let elsewhere = tw
        .app
        .gql(
            Some(other.keys.secret_key.as_str()),
            DECIDE,
            decide(&reply, "call_1", true),
        )
        .await;
    assert_error(&elsewhere, "NOT_FOUND", Some("replyId"));

    // The person who asked approves.
    let decided = tw
        .app
        .gql_ok(tw.w.author.token(), DECIDE, decide(&reply, "call_1", true))
        .await["decideToolCall"]
        .clone();
    assert_eq!(decided["call"]["status"], "RUNNING", "{decided}");
    assert_eq!(
        decided["call"]["decidedByUserId"],
        tw.w.author.user_id.as_str()
    );
    assert!(decided["call"]["decidedAt"].is_string());

    let rest = stored_events_until_end(&mut live, "t").await;
    assert_eq!(
        types(&rest),
        [
            "agent_reply.tool_call.started",
            "agent_reply.tool_call.completed",
            "message.created",
            "agent_reply.completed",
        ],
        "{rest:?}"
    );
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    // Going on after the pause was a claim, not a failed attempt.
    assert_eq!(ended["attempts"], 2);
    assert_eq!(ended["message"]["content"], "Sunny.");
    assert_eq!(ended["steps"][0]["status"], "COMPLETED");
    assert_eq!(tw.tool.calls().len(), 1, "made once");

    // Decided once: a second answer is refused.
    let again = tw
        .app
        .gql(tw.w.author.token(), DECIDE, decide(&reply, "call_1", false))
        .await;
    assert_error(&again, "CONFLICT", Some("callId"));
}

#[tokio::test]
async fn a_refused_call_is_not_made_and_the_model_is_told() {
    let tw = approval_world(spawn_app().await, "I will not check, then.").await;
    let reply = tw.ask("Weather in Oslo?").await;
    paused(&tw, &reply).await;

    let decided = tw
        .app
        .gql_ok(tw.sk(), DECIDE, decide(&reply, "call_1", false))
        .await["decideToolCall"]
        .clone();
    assert_eq!(decided["call"]["status"], "FAILED", "{decided}");
    assert!(
        decided["call"]["decidedByUserId"].is_null(),
        "the app's key decided"
    );

    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert_eq!(ended["message"]["content"], "I will not check, then.");
    assert_eq!(ended["steps"][0]["status"], "FAILED");
    assert!(tw.tool.calls().is_empty(), "a refused call is never made");
    let requests = tw.llm.received();
    assert_eq!(requests.len(), 2);
    let messages = requests[1].body["messages"].as_array().unwrap();
    let told = &messages[messages.len() - 1];
    assert_eq!(told["role"], "tool");
    assert!(
        told["content"].as_str().unwrap().contains("refused"),
        "{told}"
    );
}

#[tokio::test]
async fn an_undecided_call_counts_as_refused_once_the_wait_expires() {
    let app = orbit_tests::spawn_app_with(|s| {
        s.tool_limits.approval_timeout = std::time::Duration::from_secs(60);
    })
    .await;
    let tw = approval_world(app, "No one let me look.").await;
    let reply = tw.ask("Weather in Oslo?").await;
    paused(&tw, &reply).await;

    tw.app.clock.advance(Span::seconds(61));
    tw.app.services.wake_worker();
    let ended = tw.ended(&reply).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert_eq!(ended["steps"][0]["status"], "FAILED");
    let error = ended["steps"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("no one approved this call within 60 s"),
        "{error}"
    );
    assert!(tw.tool.calls().is_empty());

    let late = tw
        .app
        .gql(tw.w.author.token(), DECIDE, decide(&reply, "call_1", true))
        .await;
    assert_error(&late, "CONFLICT", Some("callId"));
}

#[tokio::test]
async fn cancelling_a_paused_reply_ends_the_call_it_waited_on() {
    let tw = approval_world(spawn_app().await, "unused").await;
    let mut live = tw.watch().await;
    let reply = tw.ask("Weather in Oslo?").await;
    paused(&tw, &reply).await;
    let cancelled = tw
        .app
        .gql_ok(
            tw.sk(),
            "mutation($input: CancelAgentReplyInput!) { cancelAgentReply(input: $input) { reply { status } } }",
            json!({ "input": { "replyId": reply } }),
        )
        .await;
    assert_eq!(
        cancelled["cancelAgentReply"]["reply"]["status"],
        "CANCELLED"
    );
    let after = tw.app.gql_ok(tw.sk(), PAUSED, json!({ "id": reply })).await["agentReply"].clone();
    let step = &after["steps"][0];
    assert_eq!(step["status"], "FAILED", "{after}");
    assert!(
        step["error"].as_str().unwrap().contains("cancelled"),
        "{after}"
    );
    // Subscribers hear the call end, then the reply.
    let events = events_until(&mut live, "t", "agent_reply.failed").await;
    let kinds = types(&events);
    let failed_call = kinds
        .iter()
        .position(|kind| *kind == "agent_reply.tool_call.failed")
        .expect("the call's end is announced");
    assert!(failed_call < kinds.len() - 1, "{kinds:?}");
    // A decision now finds nothing waiting.
    let late = tw
        .app
        .gql(tw.sk(), DECIDE, decide(&reply, "call_1", true))
        .await;
    assert_error(&late, "CONFLICT", None);
    assert!(tw.tool.calls().is_empty());
}
