//! Orbit's built-in tools, as an agent calls them: each acts with the
//! agent's own access — only threads the agent takes part in, only the
//! agent's own routines — whatever the user who asked may do. A thread or
//! routine outside that answers as one that does not exist, so a model
//! cannot probe for other threads. Each is exactly once under the call's
//! key: a call made again after a takeover finds what the first one did.

use chrono::{DateTime, Utc};
use orbit_domain::builtin_tools::{BuiltinTool, MAX_READ_MESSAGES};
use orbit_domain::entities::{message, tool};
use orbit_domain::ids::{AgentId, AppScope, MessageId, RoutineId, ThreadId};
use orbit_domain::validation;
use orbit_persistence::queues::Queue;
use orbit_persistence::{PageArgs, messages, routine_runs, routines, threads};
use serde_json::{Value, json};

use crate::WorkerContext;

/// Who calls a built-in tool: the agent, replying in a thread.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub agent: AgentId,
    pub thread: ThreadId,
}

/// The built-in tools `agent` has, as tools to offer the model (never
/// stored: their ids are [`BuiltinTool::id`]).
pub fn offered(
    scope: AppScope,
    builtin_tools: &str,
    now: DateTime<Utc>,
) -> orbit_domain::DomainResult<Vec<tool::Model>> {
    Ok(BuiltinTool::read(builtin_tools)?
        .into_iter()
        .map(|builtin| tool::Model {
            id: builtin.id(),
            app_id: scope.uuid(),
            name: builtin.name(),
            description: builtin.description().to_owned(),
            input_schema: builtin.input_schema(),
            kind: "builtin".to_owned(),
            http_url: None,
            http_method: None,
            http_headers: None,
            requires_approval: false,
            mcp_server_id: None,
            mcp_tool_name: None,
            created_at: now,
            updated_at: now,
        })
        .collect())
}

/// The built-in tool `tool` stands for, when it is one.
pub fn builtin_of(tool: &tool::Model) -> Option<BuiltinTool> {
    BuiltinTool::named(&tool.name).filter(|builtin| builtin.id() == tool.id)
}

/// Runs `builtin` with the model's arguments (already checked against its
/// schema); `Err` is what to tell the model.
pub async fn call(
    ctx: &WorkerContext,
    scope: AppScope,
    caller: Caller,
    builtin: BuiltinTool,
    arguments: &Value,
    key: &str,
) -> Result<Value, String> {
    let result = match builtin {
        BuiltinTool::ReadThread => read_thread(ctx, scope, caller, arguments).await,
        BuiltinTool::PostMessage => post_message(ctx, scope, caller, arguments, key).await,
        BuiltinTool::RunRoutine => run_routine(ctx, scope, caller, arguments, key).await,
    };
    result.map_err(|why| format!("{}: {why}", builtin.name()))
}

/// A thread the agent takes part in, named by `field` (or the reply's own
/// thread when `field` is absent and `default_here`).
async fn thread_of(
    ctx: &WorkerContext,
    scope: AppScope,
    caller: Caller,
    arguments: &Value,
    default_here: bool,
) -> Result<ThreadId, String> {
    let thread = match arguments.get("threadId").and_then(Value::as_str) {
        Some(id) => id
            .parse::<ThreadId>()
            .map_err(|_| format!("\"{id}\" is not a thread id (thr_...)"))?,
        None if default_here => caller.thread,
        None => return Err("threadId is required".to_owned()),
    };
    let takes_part = threads::agent_takes_part(&ctx.db, scope, thread, caller.agent)
        .await
        .map_err(|_| "the thread could not be read; try again".to_owned())?;
    if !takes_part {
        return Err(format!("there is no thread {thread} that you take part in"));
    }
    Ok(thread)
}

async fn read_thread(
    ctx: &WorkerContext,
    scope: AppScope,
    caller: Caller,
    arguments: &Value,
) -> Result<Value, String> {
    let thread = thread_of(ctx, scope, caller, arguments, true).await?;
    let last = arguments
        .get("last")
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .clamp(1, MAX_READ_MESSAGES);
    let page = messages::list(
        &ctx.db,
        scope,
        thread,
        PageArgs::Backward { before: None, last },
    )
    .await
    .map_err(|_| "the messages could not be read; try again".to_owned())?;
    let messages: Vec<Value> = page.items.iter().map(shown).collect();
    Ok(json!({
        "threadId": thread.to_string(),
        "messages": messages,
        "hasOlder": page.has_previous_page,
    }))
}

/// A message as the model reads it: who wrote it (`you` for the agent's
/// own), what it says (null once deleted), and when.
fn shown(message: &message::Model) -> Value {
    let from = match (message.author_user_id, message.author_agent_id) {
        (Some(user), _) => format!("user {}", orbit_domain::ids::UserId(user)),
        (None, Some(agent)) => format!("agent {}", AgentId(agent)),
        (None, None) => "unknown".to_owned(),
    };
    json!({
        "id": MessageId(message.id).to_string(),
        "from": from,
        "content": message.deleted_at.is_none().then(|| message.content.clone()).flatten(),
        "createdAt": message.created_at,
    })
}

async fn post_message(
    ctx: &WorkerContext,
    scope: AppScope,
    caller: Caller,
    arguments: &Value,
    key: &str,
) -> Result<Value, String> {
    let thread = thread_of(ctx, scope, caller, arguments, false).await?;
    let content = arguments
        .get("content")
        .and_then(Value::as_str)
        .ok_or("content is required")?;
    let content = validation::message_content("content", content).map_err(|error| error.message)?;
    let message = messages::post_as_agent(
        &ctx.db,
        scope,
        thread,
        caller.agent,
        content,
        key,
        ctx.clock.now(),
    )
    .await
    .map_err(|_| "the message could not be posted; try again".to_owned())?;
    Ok(json!({
        "messageId": MessageId(message.id).to_string(),
        "threadId": thread.to_string(),
    }))
}

async fn run_routine(
    ctx: &WorkerContext,
    scope: AppScope,
    caller: Caller,
    arguments: &Value,
    key: &str,
) -> Result<Value, String> {
    let id = arguments
        .get("routineId")
        .and_then(Value::as_str)
        .ok_or("routineId is required")?;
    let routine_id: RoutineId = id
        .parse()
        .map_err(|_| format!("\"{id}\" is not a routine id (rtn_...)"))?;
    let routine = routines::find(&ctx.db, scope, routine_id)
        .await
        .map_err(|_| "the routine could not be read; try again".to_owned())?
        .filter(|routine| routine.agent_id == caller.agent.uuid())
        .ok_or_else(|| format!("you have no routine {id}"))?;
    let run = routine_runs::request(
        &ctx.db,
        scope,
        &routine,
        Some(format!("tool-call:{key}")),
        ctx.clock.now(),
    )
    .await
    .map_err(|error| error.message)?;
    ctx.wake.queue(Queue::RoutineRuns);
    Ok(json!({
        "runId": orbit_domain::ids::RoutineRunId(run.id).to_string(),
        "routine": routine.name,
        "status": run.status,
    }))
}
