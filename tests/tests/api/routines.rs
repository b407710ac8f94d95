//! Routines: validation, the lifecycle, the scheduler under a test clock
//! (cron, interval, once, daylight saving, catch-up after downtime), event
//! triggers, the three actions, `runRoutine`'s idempotency, exactly-once
//! runs with two processes, takeover after a lease, timeouts, and the run
//! events subscribers see.

use chrono::{DateTime, Duration as Span, Utc};
use orbit_domain::Clock;
use orbit_tests::llm::{Behaviour, FakeLlm};
use orbit_tests::url_receiver::{Answer, UrlReceiver};
use orbit_tests::ws::WsClient;
use orbit_tests::{
    RedisServer, TeamWorld, TestApp, assert_error, eventually, spawn_app, spawn_app_with,
    spawn_cluster, spawn_shareable_app_with,
};
use serde_json::{Value, json};

use crate::agents::{CREATE_AGENT, CREATE_PROVIDER};

const CREATE: &str = "mutation($input: CreateRoutineInput!) { createRoutine(input: $input) { routine { id name status nextRunAt timeoutSeconds agent { handle } trigger { __typename ... on CronTrigger { expression timezone } ... on IntervalTrigger { seconds } ... on OnceTrigger { at } ... on EventTrigger { type teamId threadId } } action { __typename ... on PromptAgentAction { threadId prompt } ... on PostMessageAction { threadId content } ... on CallUrlAction { url method body } } } } }";
const UPDATE: &str = "mutation($input: UpdateRoutineInput!) { updateRoutine(input: $input) { routine { id name status nextRunAt trigger { __typename } } } }";
const ACTIVATE: &str = "mutation($input: RoutineIdInput!) { activateRoutine(input: $input) { routine { id status nextRunAt } } }";
const PAUSE: &str = "mutation($input: RoutineIdInput!) { pauseRoutine(input: $input) { routine { id status nextRunAt } } }";
const DELETE: &str =
    "mutation($input: RoutineIdInput!) { deleteRoutine(input: $input) { deletedRoutineId } }";
const RUN: &str =
    "mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id status cause } } }";
const RUNS: &str = "query($id: ID!) { routine(id: $id) { status nextRunAt runs(first: 100) { edges { node { id status cause scheduledFor attempts startedAt finishedAt output error httpStatus messageId replyId event } } } } }";
const RUN_BY_ID: &str = "query($id: ID!) { routineRun(id: $id) { id status attempts output error httpStatus messageId replyId } }";
const APP_EVENTS: &str = "subscription($a: ID) { appEvents(appId: $a) { __typename ... on Event { type } ... on RoutineRunStartedEvent { runId routineId routineName status attempt } ... on RoutineRunSucceededEvent { runId status output messageId finishedAt } ... on RoutineRunFailedEvent { runId status error } } }";
const THREAD_EVENTS: &str = "subscription($id: ID!) { threadEvents(threadId: $id) { __typename ... on Event { type } ... on RoutineRunStartedEvent { runId threadId } ... on RoutineRunSucceededEvent { runId output } ... on MessageCreatedEvent { message { content author { __typename } } } } }";

/// An app with a team world and an agent that answers from a script. The
/// agent takes part in no thread: its routines write into threads anyway.
struct RoutineWorld {
    app: TestApp,
    w: TeamWorld,
    agent: String,
}

/// A new app on `app`'s server with a team world and an agent speaking
/// through `provider`.
async fn world_with_agent(app: &TestApp, provider: Value) -> (TeamWorld, String) {
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.clone();
    let provider = app
        .gql_ok(Some(&sk), CREATE_PROVIDER, json!({ "input": provider }))
        .await["createModelProvider"]["modelProvider"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent = app
        .gql_ok(
            Some(&sk),
            CREATE_AGENT,
            json!({ "input": { "name": "Helper", "handle": "helper", "instructions": "Be brief.",
                "model": { "provider": provider, "model": "demo-1" }, "replyMode": "MENTION" } }),
        )
        .await["createAgent"]["agent"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (w, agent)
}

fn scripted() -> Value {
    json!({ "name": "Script", "kind": "SCRIPTED", "script": {
        "rules": [{ "when": "weather", "reply": "Sunny all day." }],
        "default": "You said: {{message}}", "chunkChars": 4,
    } })
}

fn post(thread: &str, content: &str) -> Value {
    json!({ "postMessage": { "threadId": thread, "content": content } })
}

fn every_minute() -> Value {
    json!({ "cron": { "expression": "* * * * *", "timezone": "UTC" } })
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// An RFC 3339 time from the API, as a UTC instant.
fn instant(value: &Value) -> DateTime<Utc> {
    utc(value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}")))
}

impl RoutineWorld {
    async fn new(app: TestApp) -> Self {
        Self::with_provider(app, scripted()).await
    }

    async fn with_provider(app: TestApp, provider: Value) -> Self {
        let (w, agent) = world_with_agent(&app, provider).await;
        Self { app, w, agent }
    }

    fn sk(&self) -> Option<&str> {
        Some(self.w.keys.secret_key.as_str())
    }

    async fn create_response(&self, trigger: Value, action: Value) -> Value {
        self.app
            .gql(
                self.sk(),
                CREATE,
                json!({ "input": { "agentId": self.agent, "name": "Routine", "trigger": trigger, "action": action } }),
            )
            .await
    }

    /// A draft routine; returns it.
    async fn create(&self, trigger: Value, action: Value) -> Value {
        let response = self.create_response(trigger, action).await;
        assert!(response["errors"].is_null(), "{response}");
        response["data"]["createRoutine"]["routine"].clone()
    }

    /// An active routine; returns its id and next run.
    async fn active(&self, trigger: Value, action: Value) -> (String, Value) {
        let id = self.create(trigger, action).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let activated = self.activate(&id).await;
        assert_eq!(activated["status"], "ACTIVE");
        (id, activated["nextRunAt"].clone())
    }

    async fn activate(&self, id: &str) -> Value {
        self.app
            .gql_ok(self.sk(), ACTIVATE, json!({ "input": { "id": id } }))
            .await["activateRoutine"]["routine"]
            .clone()
    }

    async fn run_now(&self, id: &str, key: Option<&str>) -> Value {
        self.app
            .gql_ok(
                self.sk(),
                RUN,
                json!({ "input": { "id": id, "idempotencyKey": key } }),
            )
            .await["runRoutine"]["run"]
            .clone()
    }

    async fn routine(&self, id: &str) -> Value {
        self.app.gql_ok(self.sk(), RUNS, json!({ "id": id })).await["routine"].clone()
    }

    /// The routine's runs, oldest first.
    async fn runs(&self, id: &str) -> Vec<Value> {
        let mut runs: Vec<Value> = self.routine(id).await["runs"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"].clone())
            .collect();
        runs.reverse();
        runs
    }

    async fn run(&self, id: &str) -> Value {
        self.app
            .gql_ok(self.sk(), RUN_BY_ID, json!({ "id": id }))
            .await["routineRun"]
            .clone()
    }

    /// Waits until the routine has `count` runs, all ended; returns them,
    /// oldest first.
    async fn settled(&self, id: &str, count: usize) -> Vec<Value> {
        eventually(&format!("{count} ended run(s)"), || async {
            let runs = self.runs(id).await;
            runs.len() == count
                && runs
                    .iter()
                    .all(|r| matches!(r["status"].as_str(), Some("SUCCEEDED" | "FAILED")))
        })
        .await;
        self.runs(id).await
    }

    /// Waits until the run has ended; returns it.
    async fn ended(&self, run: &str) -> Value {
        eventually("the run ends", || async {
            matches!(
                self.run(run).await["status"].as_str(),
                Some("SUCCEEDED" | "FAILED")
            )
        })
        .await;
        self.run(run).await
    }

    /// Moves the clock and lets the worker look.
    fn tick(&self, by: Span) {
        self.app.clock.advance(by);
        self.app.services.wake_worker();
    }

    fn set_clock(&self, to: DateTime<Utc>) {
        self.app.clock.set(to);
        self.app.services.wake_worker();
    }

    /// The thread's messages the agent wrote, oldest first.
    async fn agent_messages(&self, thread: &str) -> Vec<String> {
        let data = self
            .app
            .gql_ok(
                self.sk(),
                "query($id: ID!) { thread(id: $id) { messages(first: 100) { edges { node { content author { __typename ... on Agent { id } } } } } } }",
                json!({ "id": thread }),
            )
            .await;
        data["thread"]["messages"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["author"]["id"] == self.agent.as_str())
            .map(|e| e["node"]["content"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn routines_check_their_inputs() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let thread = rw.w.thread_id.clone();
    let past = (rw.app.clock.now() - Span::hours(1)).to_rfc3339();
    let cases: Vec<(Value, Value, &str, &str)> = vec![
        (
            json!({ "cron": { "expression": "61 * * * *" } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.cron.expression",
        ),
        (
            json!({ "cron": { "expression": "* * *" } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.cron.expression",
        ),
        (
            json!({ "cron": { "expression": "0 0 30 2 *" } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.cron.expression",
        ),
        (
            json!({ "cron": { "expression": "0 9 * * *", "timezone": "Europe/Atlantis" } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.cron.timezone",
        ),
        (
            json!({ "interval": { "seconds": 59 } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.interval.seconds",
        ),
        (
            json!({ "once": { "at": past } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.once.at",
        ),
        (
            json!({ "event": { "type": "agent_reply.completed" } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.event.type",
        ),
        (
            json!({ "event": { "type": "member.joined", "threadId": thread } }),
            post(&thread, "x"),
            "BAD_USER_INPUT",
            "trigger.event.threadId",
        ),
        (
            json!({ "event": { "type": "message.created", "teamId": orbit_tests::missing_id("team") } }),
            post(&thread, "x"),
            "NOT_FOUND",
            "trigger.event.teamId",
        ),
        (
            every_minute(),
            post(&orbit_tests::missing_id("thr"), "x"),
            "NOT_FOUND",
            "action.postMessage.threadId",
        ),
        (
            every_minute(),
            post(&thread, "   "),
            "BAD_USER_INPUT",
            "action.postMessage.content",
        ),
        (
            every_minute(),
            json!({ "promptAgent": { "threadId": rw.w.team_id, "prompt": "hi" } }),
            "BAD_USER_INPUT",
            "action.promptAgent.threadId",
        ),
        (
            every_minute(),
            json!({ "callUrl": { "url": "ftp://example.com/x" } }),
            "BAD_USER_INPUT",
            "action.callUrl.url",
        ),
        (
            every_minute(),
            json!({ "callUrl": { "url": "https://example.com/x", "method": "GET", "body": "{}" } }),
            "BAD_USER_INPUT",
            "action.callUrl.body",
        ),
    ];
    for (trigger, action, code, field) in cases {
        let response = rw.create_response(trigger.clone(), action).await;
        assert_error(&response, code, Some(field));
        assert!(
            response["data"].is_null(),
            "{trigger}: nothing made: {response}"
        );
    }

    // oneOf: exactly one member.
    let two = rw
        .create_response(
            json!({ "cron": { "expression": "* * * * *" }, "interval": { "seconds": 60 } }),
            post(&thread, "x"),
        )
        .await;
    assert_error(&two, "BAD_USER_INPUT", None);
    let none = rw.create_response(json!({}), post(&thread, "x")).await;
    assert_error(&none, "BAD_USER_INPUT", None);
    let two_actions = rw
        .create_response(
            every_minute(),
            json!({ "postMessage": { "threadId": thread, "content": "x" }, "callUrl": { "url": "https://example.com" } }),
        )
        .await;
    assert_error(&two_actions, "BAD_USER_INPUT", None);

    let timeout = rw
        .app
        .gql(
            rw.sk(),
            CREATE,
            json!({ "input": { "agentId": rw.agent, "name": "R", "trigger": every_minute(), "action": post(&thread, "x"), "timeoutSeconds": 0 } }),
        )
        .await;
    assert_error(&timeout, "BAD_USER_INPUT", Some("timeoutSeconds"));

    // Another app's agent and thread are as unknown as missing ones.
    let (other, other_agent) = world_with_agent(&rw.app, scripted()).await;
    let foreign_agent = rw
        .app
        .gql(
            rw.sk(),
            CREATE,
            json!({ "input": { "agentId": other_agent, "name": "R", "trigger": every_minute(), "action": post(&thread, "x") } }),
        )
        .await;
    assert_error(&foreign_agent, "NOT_FOUND", Some("agentId"));
    let foreign_thread = rw
        .create_response(every_minute(), post(&other.thread_id, "x"))
        .await;
    assert_error(
        &foreign_thread,
        "NOT_FOUND",
        Some("action.postMessage.threadId"),
    );
    let foreign_filter = rw
        .create_response(
            json!({ "event": { "type": "message.created", "threadId": other.thread_id } }),
            post(&thread, "x"),
        )
        .await;
    assert_error(&foreign_filter, "NOT_FOUND", Some("trigger.event.threadId"));

    // What was accepted reads back in the API's shape.
    let made = rw
        .create(
            json!({ "cron": { "expression": "*/15 9-17 * * MON-FRI", "timezone": " Europe/Paris" } }),
            json!({ "callUrl": { "url": "https://example.com/hook" } }),
        )
        .await;
    assert_eq!(made["status"], "DRAFT");
    assert!(made["nextRunAt"].is_null());
    assert_eq!(made["timeoutSeconds"], 300);
    assert_eq!(made["agent"]["handle"], "helper");
    assert_eq!(
        made["trigger"],
        json!({ "__typename": "CronTrigger", "expression": "*/15 9-17 * * MON-FRI", "timezone": "Europe/Paris" })
    );
    assert_eq!(
        made["action"],
        json!({ "__typename": "CallUrlAction", "url": "https://example.com/hook", "method": "POST", "body": null })
    );
}

#[tokio::test]
async fn urls_are_checked_against_private_addresses() {
    let rw = RoutineWorld::new(spawn_app_with(|s| s.webhook_allow_private = false).await).await;
    for (form, url) in crate::outbound_addresses::PRIVATE_FORMS {
        let refused = rw
            .create_response(every_minute(), json!({ "callUrl": { "url": url } }))
            .await;
        crate::outbound_addresses::assert_refused(&refused, "action.callUrl.url", form);
    }
    // A name is checked where it resolves, when the run calls it.
    let named = rw
        .create(
            every_minute(),
            json!({ "callUrl": { "url": "http://localhost:9/hook" } }),
        )
        .await;
    let run = rw.run_now(named["id"].as_str().unwrap(), None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "FAILED");
    let error = ended["error"].as_str().unwrap();
    assert!(error.contains("not a public address"), "{error}");
}

#[tokio::test]
async fn a_routine_goes_from_draft_to_active_to_paused() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let routine = rw.create(every_minute(), post(&rw.w.thread_id, "hi")).await;
    let id = routine["id"].as_str().unwrap();
    let paused_draft = rw
        .app
        .gql(rw.sk(), PAUSE, json!({ "input": { "id": id } }))
        .await;
    assert_error(&paused_draft, "CONFLICT", Some("id"));

    let active = rw.activate(id).await;
    assert_eq!(active["status"], "ACTIVE");
    assert_eq!(instant(&active["nextRunAt"]), utc("2026-01-01T00:01:00Z"));
    assert_eq!(
        rw.activate(id).await,
        active,
        "activating again changes nothing"
    );

    let paused = rw
        .app
        .gql_ok(rw.sk(), PAUSE, json!({ "input": { "id": id } }))
        .await["pauseRoutine"]["routine"]
        .clone();
    assert_eq!(paused["status"], "PAUSED");
    assert!(paused["nextRunAt"].is_null());
    // Paused: its ticks pass without a run.
    rw.tick(Span::minutes(3));
    let renamed = rw
        .app
        .gql_ok(
            rw.sk(),
            UPDATE,
            json!({ "input": { "id": id, "name": "Renamed", "trigger": { "interval": { "seconds": 3600 } } } }),
        )
        .await["updateRoutine"]["routine"]
        .clone();
    assert_eq!(renamed["name"], "Renamed");
    assert_eq!(renamed["status"], "PAUSED");
    assert_eq!(renamed["trigger"]["__typename"], "IntervalTrigger");
    // Activating schedules from now: an hour after 00:03.
    let again = rw.activate(id).await;
    assert_eq!(instant(&again["nextRunAt"]), utc("2026-01-01T01:03:00Z"));
    assert!(rw.runs(id).await.is_empty());

    // An active routine whose trigger changes is scheduled again from now.
    let changed = rw
        .app
        .gql_ok(
            rw.sk(),
            UPDATE,
            json!({ "input": { "id": id, "trigger": every_minute() } }),
        )
        .await["updateRoutine"]["routine"]
        .clone();
    assert_eq!(instant(&changed["nextRunAt"]), utc("2026-01-01T00:04:00Z"));

    let listed = rw
        .app
        .gql_ok(
            rw.sk(),
            "query($a: ID) { routines(agentId: $a, first: 10) { edges { node { id } } } }",
            json!({ "a": rw.agent }),
        )
        .await;
    assert_eq!(
        orbit_tests::node_ids(&listed["routines"]),
        vec![id.to_owned()]
    );

    rw.app
        .gql_ok(rw.sk(), DELETE, json!({ "input": { "id": id } }))
        .await;
    let gone = rw.app.gql(rw.sk(), RUNS, json!({ "id": id })).await;
    assert_error(&gone, "NOT_FOUND", Some("id"));
}

/// The guide's example (docs/agents.md): a one-minute cron posting into a thread.
#[tokio::test]
async fn a_one_minute_cron_posts_into_a_thread() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let (id, next) = rw
        .active(
            json!({ "cron": { "expression": "* * * * *", "timezone": "Europe/Paris" } }),
            post(&rw.w.thread_id, "Stand-up in five minutes!"),
        )
        .await;
    assert_eq!(instant(&next), utc("2026-01-01T00:01:00Z"));
    // Not before its minute.
    rw.tick(Span::seconds(59));
    rw.app.services.wake_worker();
    assert!(rw.runs(&id).await.is_empty());

    rw.tick(Span::seconds(1));
    let runs = rw.settled(&id, 1).await;
    let run = &runs[0];
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["cause"], "SCHEDULE");
    assert_eq!(instant(&run["scheduledFor"]), utc("2026-01-01T00:01:00Z"));
    assert_eq!(run["output"], "Stand-up in five minutes!");
    assert_eq!(run["attempts"], 1);
    assert!(run["startedAt"].is_string() && run["finishedAt"].is_string());
    assert_eq!(
        instant(&rw.routine(&id).await["nextRunAt"]),
        utc("2026-01-01T00:02:00Z")
    );

    rw.tick(Span::minutes(1));
    rw.settled(&id, 2).await;
    assert_eq!(
        rw.agent_messages(&rw.w.thread_id).await,
        vec!["Stand-up in five minutes!"; 2]
    );
    // Members of the thread read the agent's message like any other.
    let as_member = rw
        .app
        .gql_ok(
            rw.w.member.token(),
            "query($id: ID!) { thread(id: $id) { messages(last: 1) { edges { node { id content status author { ... on Agent { handle } } } } } } }",
            json!({ "id": rw.w.thread_id }),
        )
        .await;
    let last = &as_member["thread"]["messages"]["edges"][0]["node"];
    assert_eq!(last["author"]["handle"], "helper");
    assert_eq!(last["status"], "SENT");
    assert_eq!(last["id"], rw.runs(&id).await[1]["messageId"]);
}

#[tokio::test]
async fn an_interval_fires_on_its_grid() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    rw.tick(Span::seconds(30));
    let (id, next) = rw
        .active(
            json!({ "interval": { "seconds": 300 } }),
            post(&rw.w.thread_id, "ping"),
        )
        .await;
    assert_eq!(instant(&next), utc("2026-01-01T00:05:30Z"));
    rw.tick(Span::minutes(5));
    rw.settled(&id, 1).await;
    // A late look does not move the grid.
    rw.tick(Span::minutes(5) + Span::seconds(20));
    let runs = rw.settled(&id, 2).await;
    let ticks: Vec<DateTime<Utc>> = runs.iter().map(|r| instant(&r["scheduledFor"])).collect();
    assert_eq!(
        ticks,
        vec![utc("2026-01-01T00:05:30Z"), utc("2026-01-01T00:10:30Z")]
    );
    assert_eq!(
        instant(&rw.routine(&id).await["nextRunAt"]),
        utc("2026-01-01T00:15:30Z")
    );
}

#[tokio::test]
async fn a_once_routine_fires_once_then_completes() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let (id, next) = rw
        .active(
            json!({ "once": { "at": "2026-01-01T10:00:00Z" } }),
            post(&rw.w.thread_id, "Happy new year"),
        )
        .await;
    assert_eq!(instant(&next), utc("2026-01-01T10:00:00Z"));
    rw.tick(Span::hours(10));
    let runs = rw.settled(&id, 1).await;
    assert_eq!(
        instant(&runs[0]["scheduledFor"]),
        utc("2026-01-01T10:00:00Z")
    );
    let routine = rw.routine(&id).await;
    assert_eq!(routine["status"], "COMPLETED");
    assert!(routine["nextRunAt"].is_null());
    rw.tick(Span::days(2));
    rw.app.services.wake_worker();
    assert_eq!(rw.runs(&id).await.len(), 1);
    // Its time has passed: it needs a new one to run again.
    let refused = rw
        .app
        .gql(rw.sk(), ACTIVATE, json!({ "input": { "id": id } }))
        .await;
    assert_error(&refused, "CONFLICT", Some("id"));
}

/// A routine at 02:30 in New York over the week clocks go forward
/// (2026-03-08: 02:00 EST becomes 03:00 EDT), then over the night they go
/// back (2026-11-01: 02:00 EDT becomes 01:00 EST).
#[tokio::test]
async fn cron_fires_at_the_right_instants_across_daylight_saving() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    rw.set_clock(utc("2026-03-05T12:00:00Z"));
    let (id, next) = rw
        .active(
            json!({ "cron": { "expression": "30 2 * * *", "timezone": "America/New_York" } }),
            post(&rw.w.thread_id, "nightly"),
        )
        .await;
    let mut next = instant(&next);
    let mut fired = Vec::new();
    for count in 1..=7 {
        rw.set_clock(next);
        rw.settled(&id, count).await;
        fired.push(next);
        next = instant(&rw.routine(&id).await["nextRunAt"]);
    }
    let expected: Vec<DateTime<Utc>> = [
        "2026-03-06T07:30:00Z", // 02:30 EST
        "2026-03-07T07:30:00Z",
        "2026-03-08T07:00:00Z", // 02:30 does not exist: at 03:00 EDT, when clocks pass it
        "2026-03-09T06:30:00Z", // 02:30 EDT
        "2026-03-10T06:30:00Z",
        "2026-03-11T06:30:00Z",
        "2026-03-12T06:30:00Z",
    ]
    .iter()
    .map(|t| utc(t))
    .collect();
    assert_eq!(fired, expected);
    let scheduled: Vec<DateTime<Utc>> = rw
        .runs(&id)
        .await
        .iter()
        .map(|r| instant(&r["scheduledFor"]))
        .collect();
    assert_eq!(scheduled, expected);

    rw.app
        .gql_ok(rw.sk(), PAUSE, json!({ "input": { "id": id } }))
        .await;

    // Clocks go back: 01:30 happens twice, the routine fires once.
    let (back, next) = rw
        .active(
            json!({ "cron": { "expression": "30 1 * * *", "timezone": "America/New_York" } }),
            post(&rw.w.thread_id, "once a night"),
        )
        .await;
    assert_eq!(instant(&next), utc("2026-03-13T05:30:00Z"));
    rw.app
        .gql_ok(rw.sk(), PAUSE, json!({ "input": { "id": back } }))
        .await;
    rw.set_clock(utc("2026-10-31T12:00:00Z"));
    let resumed = rw.activate(&back).await;
    assert_eq!(instant(&resumed["nextRunAt"]), utc("2026-11-01T05:30:00Z"));
    rw.set_clock(utc("2026-11-01T05:30:00Z"));
    rw.settled(&back, 1).await;
    assert_eq!(
        instant(&rw.routine(&back).await["nextRunAt"]),
        utc("2026-11-02T06:30:00Z"),
        "not again at 06:30 UTC, the second 01:30"
    );
}

/// No process ran for hours: the routine fires once for what it missed,
/// then keeps its schedule.
#[tokio::test]
async fn after_downtime_a_routine_fires_once_for_what_it_missed() {
    let api = spawn_shareable_app_with(|s| s.run_worker = false).await;
    let rw = RoutineWorld::new(api).await;
    let (id, _) = rw
        .active(every_minute(), post(&rw.w.thread_id, "tick"))
        .await;
    rw.tick(Span::hours(5) + Span::seconds(30));
    let worker = rw.app.another_process(|s| s.run_worker = true).await;
    worker.services.wake_worker();
    let runs = rw.settled(&id, 1).await;
    assert_eq!(
        instant(&runs[0]["scheduledFor"]),
        utc("2026-01-01T00:01:00Z")
    );
    assert_eq!(
        instant(&rw.routine(&id).await["nextRunAt"]),
        utc("2026-01-01T05:01:00Z")
    );
    worker.services.wake_worker();
    assert_eq!(rw.runs(&id).await.len(), 1);
    assert_eq!(rw.agent_messages(&rw.w.thread_id).await, vec!["tick"]);
    rw.app.clock.advance(Span::seconds(30));
    worker.services.wake_worker();
    let runs = rw.settled(&id, 2).await;
    assert_eq!(
        instant(&runs[1]["scheduledFor"]),
        utc("2026-01-01T05:01:00Z")
    );
}

#[tokio::test]
async fn events_start_routines_within_their_filters() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let w = &rw.w;
    let author = w.author.access_token.clone();
    let personal = rw.app.create_thread(&author, "Notes", None).await;

    // Messages of one thread, answered in that thread: its own answers must
    // not set it off again.
    let (in_thread, _) = rw
        .active(
            json!({ "event": { "type": "message.created", "threadId": w.thread_id } }),
            post(&w.thread_id, "Noted."),
        )
        .await;
    // Messages anywhere in the team.
    let (in_team, _) = rw
        .active(
            json!({ "event": { "type": "message.created", "teamId": w.team_id } }),
            post(&personal, "Seen in the team"),
        )
        .await;
    // Threads created in the team.
    let (new_threads, _) = rw
        .active(
            json!({ "event": { "type": "thread.created", "teamId": w.team_id } }),
            post(&personal, "A new team thread"),
        )
        .await;
    rw.app
        .gql_ok(rw.sk(), PAUSE, json!({ "input": { "id": in_team } }))
        .await;

    let message = rw.app.send_message(&author, &w.thread_id, "hello?").await;
    // The run was queued with the message, in its transaction.
    let runs = rw.runs(&in_thread).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["cause"], "EVENT");
    assert_eq!(runs[0]["event"]["type"], "message.created");
    assert_eq!(runs[0]["event"]["data"]["messageId"], message.as_str());
    rw.app.services.wake_worker();
    let runs = rw.settled(&in_thread, 1).await;
    assert_eq!(runs[0]["status"], "SUCCEEDED");
    // The agent's "Noted." was committed with the run's end: had it started
    // the routine, that run would be there now.
    assert_eq!(rw.runs(&in_thread).await.len(), 1);
    assert_eq!(rw.agent_messages(&w.thread_id).await, vec!["Noted."]);
    assert!(rw.runs(&in_team).await.is_empty(), "paused");

    // Outside the filters: another thread, a personal thread.
    rw.app.send_message(&author, &personal, "private").await;
    assert_eq!(rw.runs(&in_thread).await.len(), 1);

    // The team filter reaches a message through its thread's team.
    rw.activate(&in_team).await;
    rw.app
        .send_message(&w.member.access_token, &w.thread_id, "again")
        .await;
    assert_eq!(rw.runs(&in_team).await.len(), 1);
    rw.app
        .send_message(&author, &personal, "still private")
        .await;
    assert_eq!(rw.runs(&in_team).await.len(), 1);

    rw.app
        .create_thread(&author, "Team plans", Some(&w.team_id))
        .await;
    rw.app.create_thread(&author, "My plans", None).await;
    let created = rw.runs(&new_threads).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["event"]["data"]["title"], "Team plans");

    // A replayed message is no new change: no new run.
    let send =
        "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";
    let keyed =
        json!({ "input": { "threadId": w.thread_id, "content": "once", "idempotencyKey": "k-1" } });
    let before = rw.runs(&in_thread).await.len();
    rw.app.gql_ok(Some(&author), send, keyed.clone()).await;
    rw.app.gql_ok(Some(&author), send, keyed).await;
    assert_eq!(rw.runs(&in_thread).await.len(), before + 1);
}

#[tokio::test]
async fn prompt_agent_answers_into_the_thread() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let routine = rw
        .create(
            every_minute(),
            json!({ "promptAgent": { "threadId": rw.w.thread_id, "prompt": "What is the weather?" } }),
        )
        .await;
    let run = rw.run_now(routine["id"].as_str().unwrap(), None).await;
    assert_eq!(run["cause"], "MANUAL");
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    assert_eq!(ended["output"], "Sunny all day.");
    let reply = rw
        .app
        .gql_ok(
            rw.sk(),
            "query($id: ID!) { agentReply(id: $id) { status prompt message { id } } }",
            json!({ "id": ended["replyId"] }),
        )
        .await["agentReply"]
        .clone();
    assert_eq!(reply["status"], "COMPLETED");
    assert_eq!(reply["prompt"], "What is the weather?");
    assert_eq!(reply["message"]["id"], ended["messageId"]);
    assert_eq!(
        rw.agent_messages(&rw.w.thread_id).await,
        vec!["Sunny all day."]
    );
}

#[tokio::test]
async fn a_failed_reply_fails_its_run() {
    let llm = FakeLlm::start(Behaviour::Fail {
        status: 401,
        message: "Incorrect API key provided".into(),
        retry_after: None,
    })
    .await;
    let provider = json!({ "name": "Fake", "kind": "OPENAI_COMPATIBLE", "baseUrl": llm.base_url });
    let rw = RoutineWorld::with_provider(spawn_app().await, provider).await;
    let routine = rw
        .create(
            every_minute(),
            json!({ "promptAgent": { "threadId": rw.w.thread_id, "prompt": "Anyone?" } }),
        )
        .await;
    let run = rw.run_now(routine["id"].as_str().unwrap(), None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "FAILED");
    let error = ended["error"].as_str().unwrap();
    assert!(
        error.contains("the agent's reply failed") && error.contains("401"),
        "{error}"
    );
}

#[tokio::test]
async fn call_url_records_the_status_and_the_body() {
    let receiver = UrlReceiver::start(Answer::Status(201, "{\"ok\":true}".into())).await;
    let rw = RoutineWorld::new(spawn_app().await).await;
    let routine = rw
        .create(
            every_minute(),
            json!({ "callUrl": { "url": format!("{}/hooks/daily", receiver.url) } }),
        )
        .await;
    let id = routine["id"].as_str().unwrap().to_owned();
    let run = rw.run_now(&id, None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    assert_eq!(ended["httpStatus"], 201);
    assert_eq!(ended["output"], "{\"ok\":true}");
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/hooks/daily");
    assert_eq!(call.headers["idempotency-key"], run["id"].as_str().unwrap());
    assert_eq!(call.headers["x-orbit-routine-id"], id);
    assert_eq!(call.headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(body["runId"], run["id"]);
    assert_eq!(body["routineId"], id.as_str());
    assert_eq!(body["cause"], "manual");

    // A body of its own, sent as given; an error status fails the run.
    receiver.set(Answer::Status(503, "busy".into()));
    rw.app
        .gql_ok(
            rw.sk(),
            UPDATE,
            json!({ "input": { "id": id, "action": { "callUrl": { "url": receiver.url, "method": "PUT", "body": "plain words" } } } }),
        )
        .await;
    let run = rw.run_now(&id, None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "FAILED");
    assert_eq!(ended["httpStatus"], 503);
    assert_eq!(ended["output"], "busy");
    assert!(ended["error"].as_str().unwrap().contains("503"), "{ended}");
    let call = receiver.calls().pop().unwrap();
    assert_eq!(call.method, "PUT");
    assert_eq!(call.body, "plain words");
    assert!(call.headers["content-type"].starts_with("text/plain"));
}

#[tokio::test]
async fn run_routine_is_idempotent() {
    let rw = RoutineWorld::new(spawn_app_with(|s| s.run_worker = false).await).await;
    let first = rw
        .create(every_minute(), post(&rw.w.thread_id, "one"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = rw
        .create(every_minute(), post(&rw.w.thread_id, "two"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = rw.run_now(&first, Some("nightly-2026-01-01")).await;
    assert_eq!(run["status"], "QUEUED");
    let retry = rw.run_now(&first, Some("nightly-2026-01-01")).await;
    assert_eq!(retry["id"], run["id"]);
    let other = rw
        .app
        .gql(
            rw.sk(),
            RUN,
            json!({ "input": { "id": second, "idempotencyKey": "nightly-2026-01-01" } }),
        )
        .await;
    assert_error(&other, "CONFLICT", Some("idempotencyKey"));
    let bad = rw
        .app
        .gql(
            rw.sk(),
            RUN,
            json!({ "input": { "id": first, "idempotencyKey": "" } }),
        )
        .await;
    assert_error(&bad, "BAD_USER_INPUT", Some("idempotencyKey"));
    // Without a key, every call is a run.
    rw.run_now(&first, None).await;
    rw.run_now(&first, None).await;
    assert_eq!(rw.runs(&first).await.len(), 3);
    assert!(rw.runs(&second).await.is_empty());
}

#[tokio::test]
async fn two_processes_fire_each_tick_once() {
    let redis = RedisServer::start().await;
    let (first, second) = spawn_cluster(&redis.url()).await;
    let rw = RoutineWorld::new(first).await;
    let (id, _) = rw
        .active(every_minute(), post(&rw.w.thread_id, "tick"))
        .await;
    let manual = rw
        .create(every_minute(), post(&rw.w.thread_id, "asked"))
        .await;
    let manual = manual["id"].as_str().unwrap();
    for minute in 1..=5 {
        rw.app.clock.advance(Span::minutes(1));
        rw.app.services.wake_worker();
        second.services.wake_worker();
        rw.run_now(manual, None).await;
        second.services.wake_worker();
        let runs = rw.settled(&id, minute).await;
        assert!(runs.iter().all(|r| r["attempts"] == 1), "{runs:?}");
    }
    rw.settled(manual, 5).await;
    assert_eq!(rw.agent_messages(&rw.w.thread_id).await.len(), 10);
}

#[tokio::test]
async fn a_run_whose_process_died_is_taken_over_after_its_lease() {
    let api = spawn_shareable_app_with(|s| s.run_worker = false).await;
    let rw = RoutineWorld::new(api).await;
    let routine = rw
        .create(every_minute(), post(&rw.w.thread_id, "still here"))
        .await;
    let run = rw.run_now(routine["id"].as_str().unwrap(), None).await;
    let now = rw.app.clock.now();
    let claimed = orbit_persistence::routine_runs::claim(
        rw.app.services.db(),
        "dead-process",
        now,
        Span::seconds(60),
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let worker = rw.app.another_process(|s| s.run_worker = true).await;
    worker.services.wake_worker();
    let id = run["id"].as_str().unwrap();
    assert_eq!(rw.run(id).await["status"], "RUNNING", "the lease holds");
    rw.app.clock.advance(Span::seconds(61));
    worker.services.wake_worker();
    let ended = rw.ended(id).await;
    assert_eq!(ended["status"], "SUCCEEDED");
    assert_eq!(ended["attempts"], 2);
    assert_eq!(rw.agent_messages(&rw.w.thread_id).await, vec!["still here"]);
}

#[tokio::test]
async fn a_run_that_waits_too_long_for_its_agent_times_out() {
    let llm = FakeLlm::start(Behaviour::StallAfter {
        pieces: vec!["Thinking".into()],
    })
    .await;
    let provider = json!({ "name": "Slow", "kind": "OPENAI_COMPATIBLE", "baseUrl": llm.base_url, "idleTimeoutSeconds": 600 });
    let rw = RoutineWorld::with_provider(spawn_app().await, provider).await;
    let routine = rw
        .app
        .gql_ok(
            rw.sk(),
            CREATE,
            json!({ "input": { "agentId": rw.agent, "name": "Slow", "timeoutSeconds": 30, "trigger": every_minute(),
                "action": { "promptAgent": { "threadId": rw.w.thread_id, "prompt": "Think hard" } } } }),
        )
        .await["createRoutine"]["routine"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = rw.run_now(&routine, None).await;
    let id = run["id"].as_str().unwrap();
    llm.wait_for_requests(1).await;
    rw.tick(Span::seconds(29));
    assert_eq!(rw.run(id).await["status"], "RUNNING");
    rw.tick(Span::seconds(1));
    let ended = rw.ended(id).await;
    assert_eq!(ended["status"], "FAILED");
    let error = ended["error"].as_str().unwrap();
    assert!(
        error.contains("timed out") && error.contains("30 s"),
        "{error}"
    );
    // The reply it waited for is stopped.
    let reply = ended["replyId"].clone();
    eventually("the reply is cancelled", || async {
        rw.app
            .gql_ok(
                rw.sk(),
                "query($id: ID!) { agentReply(id: $id) { status } }",
                json!({ "id": reply }),
            )
            .await["agentReply"]["status"]
            == "CANCELLED"
    })
    .await;
    llm.release();
    assert_eq!(rw.run(id).await["status"], "FAILED", "the run stays failed");
}

#[tokio::test]
async fn a_call_that_takes_too_long_times_out() {
    let receiver = UrlReceiver::start(Answer::Hold).await;
    let rw = RoutineWorld::new(spawn_app().await).await;
    let routine = rw
        .app
        .gql_ok(
            rw.sk(),
            CREATE,
            json!({ "input": { "agentId": rw.agent, "name": "Hook", "timeoutSeconds": 1, "trigger": every_minute(),
                "action": { "callUrl": { "url": receiver.url } } } }),
        )
        .await["createRoutine"]["routine"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = rw.run_now(&routine, None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    receiver.release();
    assert_eq!(ended["status"], "FAILED");
    assert!(
        ended["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{ended}"
    );
}

#[tokio::test]
async fn run_events_reach_the_app_and_the_thread() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let routine = rw
        .create(every_minute(), post(&rw.w.thread_id, "Good morning"))
        .await;
    let routine_id = routine["id"].as_str().unwrap();
    let developer = rw.app.developer(&rw.w.keys.app_id, "viewer").await;
    let mut builders = WsClient::connected(&rw.app.ws_url(), developer.token()).await;
    builders
        .subscribe("a", APP_EVENTS, json!({ "a": rw.w.keys.app_id }))
        .await;
    builders.ping().await;
    let mut members = WsClient::connected(&rw.app.ws_url(), rw.w.member.token()).await;
    members
        .subscribe("t", THREAD_EVENTS, json!({ "id": rw.w.thread_id }))
        .await;
    members.ping().await;
    // Users of the app do not follow its routines.
    let mut user = WsClient::connected(&rw.app.ws_url(), rw.w.member.token()).await;
    user.subscribe("u", APP_EVENTS, json!({ "a": null })).await;
    let refused = user.expect_error("u").await;
    assert_eq!(refused[0]["extensions"]["code"], "FORBIDDEN", "{refused}");

    let run = rw.run_now(routine_id, None).await;
    let run_id = run["id"].as_str().unwrap();
    let started = builders.next_payload("a").await["data"]["appEvents"].clone();
    assert_eq!(started["type"], "routine_run.started");
    assert_eq!(started["runId"], run_id);
    assert_eq!(started["routineId"], routine_id);
    assert_eq!(started["routineName"], "Routine");
    assert_eq!(started["status"], "RUNNING");
    assert_eq!(started["attempt"], 1);
    let succeeded = builders.next_payload("a").await["data"]["appEvents"].clone();
    assert_eq!(succeeded["type"], "routine_run.succeeded");
    assert_eq!(succeeded["status"], "SUCCEEDED");
    assert_eq!(succeeded["output"], "Good morning");

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(members.next_payload("t").await["data"]["threadEvents"].clone());
    }
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "routine_run.started",
            "message.created",
            "routine_run.succeeded"
        ]
    );
    assert_eq!(seen[0]["threadId"], rw.w.thread_id.as_str());
    assert_eq!(seen[1]["message"]["author"]["__typename"], "Agent");
    assert_eq!(seen[2]["runId"], run_id);
}

#[tokio::test]
async fn runs_fail_clearly_when_their_thread_is_gone_or_their_agent_paused() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let thread = rw
        .app
        .create_thread(&rw.w.author.access_token, "Doomed", Some(&rw.w.team_id))
        .await;
    let routine = rw.create(every_minute(), post(&thread, "hello")).await;
    let id = routine["id"].as_str().unwrap();
    rw.app
        .gql_ok(
            rw.sk(),
            orbit_tests::DELETE_THREAD,
            json!({ "input": { "id": thread } }),
        )
        .await;
    let run = rw.run_now(id, None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "FAILED");
    let error = ended["error"].as_str().unwrap();
    assert!(
        error.contains(&thread) && error.contains("no longer exists"),
        "{error}"
    );

    let other = rw.create(every_minute(), post(&rw.w.thread_id, "hi")).await;
    rw.app
        .gql_ok(
            rw.sk(),
            "mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { agent { id } } }",
            json!({ "input": { "id": rw.agent, "status": "PAUSED" } }),
        )
        .await;
    let run = rw.run_now(other["id"].as_str().unwrap(), None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "FAILED");
    assert!(
        ended["error"]
            .as_str()
            .unwrap()
            .contains("@helper is paused"),
        "{ended}"
    );
}

#[tokio::test]
async fn deleting_a_routine_or_its_agent_cancels_queued_runs() {
    let rw = RoutineWorld::new(spawn_app_with(|s| s.run_worker = false).await).await;
    let routine = rw.create(every_minute(), post(&rw.w.thread_id, "x")).await;
    let id = routine["id"].as_str().unwrap();
    let run = rw.run_now(id, None).await;
    rw.app
        .gql_ok(rw.sk(), DELETE, json!({ "input": { "id": id } }))
        .await;
    let gone = rw
        .app
        .gql(rw.sk(), RUN_BY_ID, json!({ "id": run["id"] }))
        .await;
    assert_error(&gone, "NOT_FOUND", Some("id"));

    let kept = rw.create(every_minute(), post(&rw.w.thread_id, "y")).await;
    let run = rw.run_now(kept["id"].as_str().unwrap(), None).await;
    rw.app
        .gql_ok(
            rw.sk(),
            "mutation($input: DeleteAgentInput!) { deleteAgent(input: $input) { deletedAgentId } }",
            json!({ "input": { "id": rw.agent } }),
        )
        .await;
    for (query, id) in [(RUNS, &kept["id"]), (RUN_BY_ID, &run["id"])] {
        let gone = rw.app.gql(rw.sk(), query, json!({ "id": id })).await;
        assert_error(&gone, "NOT_FOUND", Some("id"));
    }
}

#[tokio::test]
async fn developers_name_the_app_they_manage() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let app_id = rw.w.keys.app_id.clone();
    let developer = rw.app.developer(&app_id, "developer").await;
    let made = rw
        .app
        .gql_ok(
            developer.token(),
            CREATE,
            json!({ "input": { "appId": app_id, "agentId": rw.agent, "name": "Dev routine",
                "trigger": { "interval": { "seconds": 3600 } }, "action": post(&rw.w.thread_id, "hourly") } }),
        )
        .await["createRoutine"]["routine"]
        .clone();
    let id = made["id"].as_str().unwrap();
    let run = rw
        .app
        .gql_ok(
            developer.token(),
            RUN,
            json!({ "input": { "appId": app_id, "id": id } }),
        )
        .await["runRoutine"]["run"]
        .clone();
    let runs = rw
        .app
        .gql_ok(
            developer.token(),
            "query($id: ID!, $a: ID) { routine(id: $id, appId: $a) { runs { edges { node { id } } } } }",
            json!({ "id": id, "a": app_id }),
        )
        .await;
    assert_eq!(
        orbit_tests::node_ids(&runs["routine"]["runs"]),
        vec![run["id"].as_str().unwrap().to_owned()]
    );
}

/// Webhooks subscribe to `routine_run.*`: one delivery per run event,
/// though the event is written to the thread's topic and the builders'.
#[tokio::test]
async fn webhooks_receive_each_run_event_once() {
    use orbit_tests::webhook_receiver::WebhookReceiver;
    let rw = RoutineWorld::new(spawn_app().await).await;
    let receiver = WebhookReceiver::start(rw.app.clock.clone(), []).await;
    let (_, secret) = crate::webhooks::create_webhook(
        &rw.app,
        &rw.w.keys.secret_key,
        &receiver.url(),
        &[
            "routine_run.started",
            "routine_run.succeeded",
            "routine_run.failed",
        ],
    )
    .await;
    receiver.trust(&secret);
    let routine = rw
        .create(every_minute(), post(&rw.w.thread_id, "Ship it"))
        .await;
    let run = rw.run_now(routine["id"].as_str().unwrap(), None).await;
    rw.ended(run["id"].as_str().unwrap()).await;
    let mut received = [receiver.next().await, receiver.next().await];
    assert!(received.iter().all(|r| r.verified()));
    // Deliveries are sent independently: in any order.
    received.sort_by_key(|r| r.json()["type"] != "routine_run.started");
    let (started, succeeded) = (received[0].json(), received[1].json());
    assert_eq!(started["type"], "routine_run.started");
    assert_eq!(started["data"]["runId"], run["id"]);
    assert_eq!(succeeded["type"], "routine_run.succeeded");
    assert_eq!(succeeded["data"]["output"], "Ship it");
    assert_eq!(succeeded["data"]["threadId"], rw.w.thread_id.as_str());
    // Nothing more: a second run's events come next, not copies of these.
    let second = rw.run_now(routine["id"].as_str().unwrap(), None).await;
    assert_eq!(receiver.next().await.json()["data"]["runId"], second["id"]);
}

#[tokio::test]
async fn a_routine_puts_the_apps_variables_into_its_action_when_it_runs() {
    let rw = RoutineWorld::new(spawn_app().await).await;
    let set = "mutation($input: SetAppVarInput!) { setAppVar(input: $input) { appVar { name } } }";
    rw.app
        .gql_ok(
            rw.sk(),
            set,
            json!({ "input": { "name": "GREETING", "value": "Stand-up in five minutes!" } }),
        )
        .await;
    // A name the app lacks is refused when the routine is saved.
    let refused = rw
        .create_response(every_minute(), post(&rw.w.thread_id, "{{vars.NOPE}}"))
        .await;
    assert_error(
        &refused,
        "BAD_USER_INPUT",
        Some("action.postMessage.content"),
    );

    let (id, _) = rw
        .active(every_minute(), post(&rw.w.thread_id, "{{ vars.GREETING }}"))
        .await;
    let run = rw.run_now(&id, None).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    assert_eq!(ended["output"], "Stand-up in five minutes!");

    // Deleted since: the run fails, saying which variable is missing.
    rw.app
        .gql_ok(
            rw.sk(),
            "mutation($input: DeleteAppVarInput!) { deleteAppVar(input: $input) { deletedAppVarName } }",
            json!({ "input": { "name": "GREETING" } }),
        )
        .await;
    let run = rw.run_now(&id, Some("again")).await;
    let ended = rw.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "FAILED", "{ended}");
    assert!(
        ended["error"]
            .as_str()
            .is_some_and(|error| error.contains("{{vars.GREETING}}")),
        "{ended}"
    );
}
