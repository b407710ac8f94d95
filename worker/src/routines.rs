//! The routine loop: fires due routines, then claims due runs under a lease
//! and runs each within its routine's timeout, in its app's scope.
//!
//! - Firing ([`routines::fire`]) is a compare-and-set on the routine's next
//!   tick, so of several processes one fires each tick; the next tick is
//!   the first after *now*, so a routine that missed ticks while no process
//!   ran fires once for all of them.
//! - A run is claimed by one process, which holds it for the routine's
//!   timeout and a grace period; a process that dies leaves the lease to
//!   lapse and another claims the run again (at most [`MAX_ATTEMPTS`]
//!   claims). `postMessage` writes its message with the run's end, so it
//!   posts once; `callUrl` may call again after a takeover (the request
//!   carries the run's id as `Idempotency-Key`); `promptAgent` queues the
//!   agent's reply with the run's hand-off, and the reply ends the run.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use chrono::{DateTime, Utc};
use orbit_domain::DomainResult;
use orbit_domain::agents::{AgentStatus, ReplyStatus};
use orbit_domain::entities::{routine, routine_run};
use orbit_domain::ids::{AgentId, AgentReplyId, AppId, AppScope, RoutineId, RoutineRunId};
use orbit_domain::routines::{Action, HttpMethod, MAX_OUTPUT_CHARS};
use orbit_persistence::queues::Queue;
use orbit_persistence::routine_runs::{self, Outcome};
use orbit_persistence::{agent_replies, agents, routines};
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::WorkerContext;

/// How long a claim holds a run before it is started (by the clock).
pub const CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// How long past its timeout a started run stays with its process before
/// another may take it over.
pub const LEASE_GRACE: chrono::Duration = chrono::Duration::seconds(30);
/// Claims of one run before it is failed: takeovers count.
pub const MAX_ATTEMPTS: i32 = 3;
/// Runs one process works on at once.
pub const MAX_RUNNING: usize = 8;
/// Routines fired per look, at most (the rest at the next).
const FIRE_BATCH: u64 = 100;

/// Fires and runs until `shutdown`; waits for the runs in progress.
pub async fn run(ctx: WorkerContext, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_RUNNING));
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let now = ctx.clock.now();
        fire_due(&ctx, now).await;
        let free = slots.available_permits();
        if free > 0 {
            match routine_runs::claim(&ctx.db, &ctx.process_id, now, CLAIM_LEASE, free as u64).await
            {
                Ok(claimed) => {
                    for id in claimed {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let ctx = ctx.clone();
                        let shutdown = shutdown.clone();
                        let span = tracing::info_span!("routine_run", run = %RoutineRunId(id));
                        running.spawn(
                            async move {
                                if let Err(error) = run_one(&ctx, id, shutdown).await {
                                    tracing::error!(run = %RoutineRunId(id), ?error, "a routine run could not be stored");
                                }
                                drop(slot);
                                ctx.wake.queue(Queue::RoutineRuns);
                            }
                            .instrument(span),
                        );
                    }
                }
                Err(error) => {
                    tracing::warn!(?error, "could not claim routine runs");
                    ctx.wake.retry_soon(Queue::RoutineRuns);
                }
            }
        }
        if !ctx.wake.next(Queue::RoutineRuns, &mut shutdown).await {
            break;
        }
    }
    while running.join_next().await.is_some() {}
}

/// Fires every routine due at `now`.
async fn fire_due(ctx: &WorkerContext, now: DateTime<Utc>) {
    loop {
        let due = match routines::due(&ctx.db, now, FIRE_BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(?error, "could not look for due routines");
                return;
            }
        };
        for routine in &due {
            match routines::fire(&ctx.db, routine, now).await {
                Ok(Some(run)) => tracing::debug!(
                    routine = %RoutineId(routine.id),
                    run = %RoutineRunId(run.id),
                    "fired"
                ),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(routine = %RoutineId(routine.id), ?error, "could not fire a routine");
                    // Leave the rest for the next look rather than spin on a failing one.
                    return;
                }
            }
        }
        if (due.len() as u64) < FIRE_BATCH {
            return;
        }
    }
}

async fn run_one(
    ctx: &WorkerContext,
    id: Uuid,
    shutdown: watch::Receiver<bool>,
) -> DomainResult<()> {
    let Some(run) = routine_runs::claimed(&ctx.db, id).await? else {
        return Ok(());
    };
    // Deleted with its routine (or agent): the run went too.
    let Some(routine) = routine_runs::routine_of(&ctx.db, &run).await? else {
        return Ok(());
    };
    let owner = ctx.process_id.as_str();
    let now = ctx.clock.now();
    if let Some(reply) = run.reply_id {
        return waited_too_long(ctx, &run, &routine, reply).await;
    }
    if run.attempts > MAX_ATTEMPTS {
        let gave_up = format!(
            "gave up after {MAX_ATTEMPTS} attempts: the process running it stopped each time"
        );
        routine_runs::finish(
            &ctx.db,
            &run,
            &routine,
            owner,
            Outcome::failed(gave_up),
            now,
        )
        .await?;
        return Ok(());
    }
    let timeout = chrono::Duration::seconds(i64::from(routine.timeout_secs));
    let Some(run) = routine_runs::start(
        &ctx.db,
        &run,
        &routine,
        owner,
        now,
        now + timeout + LEASE_GRACE,
    )
    .await?
    else {
        return Ok(());
    };
    let scope = AppScope::new(AppId(run.app_id));
    let fail = |error: String| {
        routine_runs::finish(&ctx.db, &run, &routine, owner, Outcome::failed(error), now)
    };
    let Some(agent) = agents::find(&ctx.db, scope, AgentId(routine.agent_id)).await? else {
        fail("the routine's agent no longer exists".to_owned()).await?;
        return Ok(());
    };
    if agent.status.parse::<AgentStatus>()? == AgentStatus::Paused {
        fail(format!(
            "the agent @{} is paused: activate it, or pause the routine",
            agent.handle
        ))
        .await?;
        return Ok(());
    }
    let vars = match crate::vars::for_run(&ctx.db, ctx.sealer.as_ref(), scope).await? {
        Ok(vars) => vars,
        Err(unreadable) => {
            fail(unreadable.to_owned()).await?;
            return Ok(());
        }
    };
    let action = match routines::action_of(&routine)?.with_vars(|name| vars.get(name).cloned()) {
        Ok(action) => action,
        Err(name) => {
            fail(format!(
                "the routine refers to {{{{vars.{name}}}}}, which the app no longer has"
            ))
            .await?;
            return Ok(());
        }
    };
    match action {
        Action::PostMessage { thread_id, content } => {
            let now = ctx.clock.now();
            routine_runs::post_message(&ctx.db, &run, &routine, owner, thread_id, &content, now)
                .await?;
        }
        Action::PromptAgent { thread_id, prompt } => {
            let deadline = now + timeout;
            // Its commit wakes the reply loop; a lost lease leaves nothing to do.
            routine_runs::hand_to_agent(
                &ctx.db, &run, &routine, owner, thread_id, &prompt, deadline, now,
            )
            .await?;
        }
        Action::CallUrl { url, method, body } => {
            let call = CallUrl {
                url,
                method,
                body,
                timeout: Duration::from_secs(u64::try_from(routine.timeout_secs).unwrap_or(1)),
            };
            match call.send(ctx, &run, &routine, shutdown).await {
                Some(outcome) => {
                    let now = ctx.clock.now();
                    routine_runs::finish(&ctx.db, &run, &routine, owner, outcome, now).await?;
                }
                None => {
                    // The server is stopping: another process (or the next
                    // start) runs it again.
                    routine_runs::requeue(&ctx.db, run.id, owner, ctx.clock.now()).await?;
                }
            }
        }
    }
    Ok(())
}

/// A `promptAgent` run claimed again: the reply it waits for did not end
/// within the routine's timeout (or its process's lease lapsed first). The
/// run fails; the reply, if it is still coming, is cancelled.
async fn waited_too_long(
    ctx: &WorkerContext,
    run: &routine_run::Model,
    routine: &routine::Model,
    reply: Uuid,
) -> DomainResult<()> {
    let scope = AppScope::new(AppId(run.app_id));
    let now = ctx.clock.now();
    let reply = agent_replies::find(&ctx.db, scope, AgentReplyId(reply)).await?;
    let error = match &reply {
        None => "the agent's reply is gone: its thread was deleted before it answered".to_owned(),
        Some(_) => format!(
            "timed out: the agent did not answer within {} s (the routine's timeoutSeconds)",
            routine.timeout_secs
        ),
    };
    let owner = ctx.process_id.as_str();
    let ended =
        routine_runs::finish(&ctx.db, run, routine, owner, Outcome::failed(error), now).await?;
    if let Some(reply) = reply
        && ended
        && !reply.status.parse::<ReplyStatus>()?.is_final()
    {
        if let Err(error) = agent_replies::request_cancel(&ctx.db, scope, &reply, now).await {
            // It ended meanwhile: nothing to stop.
            tracing::debug!(?error, "a timed-out run's reply could not be cancelled");
        }
        ctx.wake.now();
    }
    Ok(())
}

/// A `callUrl` action's request.
struct CallUrl {
    url: String,
    method: HttpMethod,
    body: Option<String>,
    timeout: Duration,
}

impl CallUrl {
    /// Sends the request and tells how the run ended; `None` when the
    /// server began stopping first.
    async fn send(
        self,
        ctx: &WorkerContext,
        run: &routine_run::Model,
        routine: &routine::Model,
        mut shutdown: watch::Receiver<bool>,
    ) -> Option<Outcome> {
        let url = match url::Url::parse(&self.url) {
            Ok(url) => url,
            Err(_) => return Some(Outcome::failed("the routine's URL is not valid")),
        };
        if let Err(refused) = ctx.outbound.check(&url) {
            return Some(Outcome::failed(format!(
                "{refused}: the server calls public addresses only (ORBIT_WEBHOOK_ALLOW_PRIVATE allows others)"
            )));
        }
        let method = match self.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let run_id = RoutineRunId(run.id).to_string();
        let mut request = ctx
            .outbound
            .client()
            .request(method, url)
            .header("Idempotency-Key", &run_id)
            .header("X-Orbit-Routine-Id", RoutineId(routine.id).to_string())
            .header("X-Orbit-Run-Id", &run_id);
        let body = match (self.method, self.body) {
            (HttpMethod::Get, _) => None,
            (_, Some(body)) => Some(body),
            (_, None) => Some(run_description(run, routine).to_string()),
        };
        if let Some(body) = body {
            let content_type = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            request = request.header("Content-Type", content_type).body(body);
        }
        let timeout = self.timeout;
        let call = async move {
            let mut response = request.send().await?;
            let status = response.status();
            let mut body = Vec::new();
            // Enough of the body to show what the URL said, no more.
            while body.len() < MAX_OUTPUT_CHARS * 4 {
                match response.chunk().await? {
                    Some(chunk) => body.extend_from_slice(&chunk),
                    None => break,
                }
            }
            Ok::<_, reqwest::Error>((status, body))
        };
        let finished = tokio::select! {
            finished = tokio::time::timeout(timeout, call) => finished,
            _ = stopping(&mut shutdown) => return None,
        };
        Some(match finished {
            Err(_) => Outcome::failed(format!(
                "no answer within {} s (the routine's timeoutSeconds)",
                timeout.as_secs()
            )),
            Ok(Err(error)) => Outcome::failed(format!("the call failed: {}", describe(&error))),
            Ok(Ok((status, body))) => {
                let output = String::from_utf8_lossy(&body).into_owned();
                let code = i32::from(status.as_u16());
                if status.is_success() {
                    Outcome {
                        succeeded: true,
                        output: Some(output),
                        http_status: Some(code),
                        ..Outcome::default()
                    }
                } else {
                    Outcome {
                        output: Some(output),
                        http_status: Some(code),
                        ..Outcome::failed(format!("the URL answered {status}"))
                    }
                }
            }
        })
    }
}

/// Returns once the server is stopping.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() || shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// What a `callUrl` run sends when the routine gives no body.
fn run_description(run: &routine_run::Model, routine: &routine::Model) -> serde_json::Value {
    json!({
        "runId": RoutineRunId(run.id).to_string(),
        "routineId": RoutineId(routine.id).to_string(),
        "routineName": routine.name,
        "cause": run.cause,
        "scheduledFor": run.scheduled_for,
        "event": run.event,
    })
}

/// A failed call in words: the error and its causes, without the URL
/// (the routine shows it already).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_connect() {
        "could not connect".to_owned()
    } else if error.is_timeout() {
        "timed out".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
