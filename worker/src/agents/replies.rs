//! The reply loop: claims due replies under a lease, streams each one, and
//! ends it exactly once.
//!
//! - Claiming ([`agent_replies::claim`]) gives a reply to one process until
//!   its lease ends; the process renews it every [`HEARTBEAT`] while it
//!   streams and, on the same beat, looks whether the reply was cancelled
//!   (the API also wakes the local loop, so a cancel here is seen at once).
//! - Deltas go to the thread's subscribers as they come (ephemeral
//!   `agent_reply.delta` events with the reply id, the attempt and a
//!   sequence); nothing of them is stored.
//! - [`agent_replies::finish`] stores the message and the final event in the
//!   transaction that ends the lease, and only while this process holds it.
//! - A provider that fails before its first token with a 429, a 5xx or a
//!   connection error is asked again later (exponential backoff, or its
//!   `Retry-After`); after the first token, or after [`MAX_ATTEMPTS`]
//!   claims, the reply fails with the reason stored. A process that dies
//!   mid-reply leaves its lease to lapse; another process claims the reply
//!   again and starts it over (a new attempt), so nothing hangs.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use chrono::{DateTime, Utc};
use orbit_domain::agents::{ProviderKind, ReplyStatus, Script};
use orbit_domain::app_vars::substitute;
use orbit_domain::entities::{agent, agent_reply, agent_tool_call, model_provider, tool};
use orbit_domain::events::{Event, ReplyDelta};
use orbit_domain::ids::{
    AgentId, AgentReplyId, AppId, AppScope, MessageId, ModelProviderId, ThreadId, ToolId,
};
use orbit_domain::{DomainResult, SealContext};
use orbit_persistence::agent_replies::{self, Outcome};
use orbit_persistence::queues::Queue;
use orbit_persistence::tool_calls::{self, AskedCall, CallEnd, CallStatus};
use orbit_persistence::{agents, model_providers};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::builtins::Caller;
use super::context;
use super::providers::openai::OpenAiCompatible;
use super::providers::scripted::Scripted;
use super::providers::{
    ChatMessage, ChatProvider, ChatRequest, ChatStream, ProviderError, Retry, Role, ToolCall,
    ToolCallPiece, ToolSpec, Usage, estimate_message_tokens, estimate_tokens,
};
use super::tools;
use crate::WorkerContext;

/// How long a claim holds a reply without renewal (by the clock).
pub const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// How often a streaming reply renews its lease and looks for a cancel.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// Claims of one reply before it is failed: retries and takeovers count.
pub const MAX_ATTEMPTS: i32 = 4;
/// Replies one process streams at once.
pub const MAX_RUNNING: usize = 16;
/// The longest wait before a retry, whatever `Retry-After` says.
const MAX_BACKOFF: chrono::Duration = chrono::Duration::minutes(10);

/// Claims and runs replies until `shutdown`; waits for the running ones,
/// which hand their replies back to the queue.
pub async fn run(ctx: WorkerContext, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_RUNNING));
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free > 0 {
            let now = ctx.clock.now();
            match agent_replies::claim(&ctx.db, &ctx.process_id, now, LEASE, free as u64).await {
                Ok(claimed) => {
                    for id in claimed {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let ctx = ctx.clone();
                        let shutdown = shutdown.clone();
                        let reply = AgentReplyId(id);
                        let span = tracing::info_span!("agent_reply", %reply);
                        running.spawn(
                            async move {
                                if let Err(error) = run_one(&ctx, id, shutdown).await {
                                    tracing::error!(%reply, ?error, "an agent reply could not be stored");
                                }
                                drop(slot);
                                // A slot is free: look for more work.
                                ctx.wake.queue(Queue::AgentReplies);
                            }
                            .instrument(span),
                        );
                    }
                }
                Err(error) => {
                    tracing::warn!(?error, "could not claim agent replies");
                    ctx.wake.retry_soon(Queue::AgentReplies);
                }
            }
        }
        if !ctx.wake.next(Queue::AgentReplies, &mut shutdown).await {
            break;
        }
    }
    while running.join_next().await.is_some() {}
}

/// What one attempt came to.
enum Attempt {
    Done(Outcome),
    /// Ask the provider again at this time.
    RetryAt(DateTime<Utc>, String),
    /// The lease is gone (taken over, or the reply deleted): write nothing.
    Lost,
    /// The server is stopping: give the reply back to the queue.
    Stopping,
    /// A tool call waits for a person's approval: give the reply back until
    /// it is decided or expires.
    AwaitingApproval,
}

async fn run_one(
    ctx: &WorkerContext,
    id: Uuid,
    shutdown: watch::Receiver<bool>,
) -> DomainResult<()> {
    let Some(reply) = agent_replies::claimed(&ctx.db, id).await? else {
        return Ok(());
    };
    let owner = ctx.process_id.as_str();
    let attempt = match attempt(ctx, &reply, shutdown).await? {
        Attempt::Done(outcome) => outcome,
        Attempt::RetryAt(due, error) => {
            agent_replies::retry_later(&ctx.db, id, owner, due, &error).await?;
            return Ok(());
        }
        Attempt::Stopping => {
            let now = ctx.clock.now();
            let why = "the server stopped during the reply; it starts over";
            agent_replies::retry_later(&ctx.db, id, owner, now, why).await?;
            return Ok(());
        }
        Attempt::AwaitingApproval => {
            agent_replies::pause(&ctx.db, id, owner, ctx.clock.now()).await?;
            return Ok(());
        }
        Attempt::Lost => return Ok(()),
    };
    let finished = agent_replies::finish(&ctx.db, &reply, owner, attempt, ctx.clock.now()).await?;
    if !finished {
        tracing::info!(reply = %AgentReplyId(id), "lost the lease of a reply: another process has it");
    }
    Ok(())
}

fn ended(status: ReplyStatus, content: String, error: Option<String>) -> Attempt {
    Attempt::Done(Outcome {
        status,
        content,
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
        error,
    })
}

fn failed(error: impl Into<String>) -> Attempt {
    ended(ReplyStatus::Failed, String::new(), Some(error.into()))
}

async fn attempt(
    ctx: &WorkerContext,
    reply: &agent_reply::Model,
    shutdown: watch::Receiver<bool>,
) -> DomainResult<Attempt> {
    let scope = AppScope::new(AppId(reply.app_id));
    if reply.cancel_requested_at.is_some() {
        return Ok(ended(
            ReplyStatus::Cancelled,
            String::new(),
            Some("cancelled".to_owned()),
        ));
    }
    if tries(reply) > MAX_ATTEMPTS {
        let last = reply
            .error
            .as_deref()
            .unwrap_or("the process working on it stopped before it finished");
        return Ok(failed(format!(
            "gave up after {MAX_ATTEMPTS} attempts; the last: {last}"
        )));
    }
    let Some(agent) = agents::find(&ctx.db, scope, AgentId(reply.agent_id)).await? else {
        // Deleted with its agent: the row went too.
        return Ok(Attempt::Lost);
    };
    let Some(provider) =
        model_providers::find(&ctx.db, scope, ModelProviderId(agent.provider_id)).await?
    else {
        return Ok(failed("the agent's model provider no longer exists"));
    };
    let chat = match provider_for(ctx, scope, &provider) {
        Ok(chat) => chat,
        Err(error) => return Ok(failed(error.message)),
    };
    let through = reply.trigger_message_id.unwrap_or(reply.id);
    let history = agent_replies::context(
        &ctx.db,
        scope,
        ThreadId(reply.thread_id),
        through,
        context::CONTEXT_MESSAGES,
    )
    .await?;
    let mut tools = orbit_persistence::tools::of_agent(&ctx.db, scope, AgentId(agent.id)).await?;
    tools.extend(super::builtins::offered(
        scope,
        &agent.builtin_tools,
        agent.updated_at,
    )?);
    let vars = match crate::vars::for_run(&ctx.db, ctx.sealer.as_ref(), scope).await? {
        Ok(vars) => vars,
        Err(unreadable) => return Ok(failed(unreadable)),
    };
    let instructions = match substitute(&agent.instructions, |name| vars.get(name).cloned()) {
        Ok(instructions) => instructions,
        Err(name) => {
            return Ok(failed(format!(
                "the agent's instructions refer to {{{{vars.{name}}}}}, which the app no longer has"
            )));
        }
    };
    let request = ChatRequest {
        model: agent.model.clone(),
        messages: context::build(
            &instructions,
            agent.id,
            &history,
            reply.prompt.as_deref(),
            context::CONTEXT_BUDGET_TOKENS,
        ),
        temperature: agent.temperature,
        max_tokens: agent.max_tokens,
        tools: tools
            .iter()
            .map(|tool| ToolSpec {
                name: tool.name.clone(),
                description: tool.description.clone(),
                parameters: tool.input_schema.clone(),
            })
            .collect(),
        may_call_tools: true,
    };
    let limits = Limits {
        idle: Duration::from_secs(u64::try_from(provider.idle_timeout_secs).unwrap_or(60)),
        total: Duration::from_secs(u64::try_from(provider.request_timeout_secs).unwrap_or(300)),
    };
    let streamer = Streamer {
        ctx,
        reply,
        agent: &agent,
        tools: &tools,
        vars: &vars,
        scope,
        text: String::new(),
        sequence: 0,
        usage: None,
        model: None,
    };
    streamer
        .stream(chat.as_ref(), request, limits, shutdown)
        .await
}

fn provider_for(
    ctx: &WorkerContext,
    scope: AppScope,
    provider: &model_provider::Model,
) -> Result<Box<dyn ChatProvider>, ProviderError> {
    let broken = |what: &str| {
        ProviderError::fatal(format!(
            "model provider \"{}\" is misconfigured: {what}",
            provider.name
        ))
    };
    match provider.kind.parse::<ProviderKind>() {
        Ok(ProviderKind::Scripted) => {
            let script = Script::parse("script", provider.script.as_ref())
                .map_err(|error| broken(&error.message))?;
            Ok(Box::new(Scripted::new(script)))
        }
        Ok(ProviderKind::OpenAiCompatible) => {
            let base_url = provider
                .base_url
                .clone()
                .ok_or_else(|| broken("no base URL"))?;
            let api_key = match &provider.api_key_sealed {
                Some(sealed) => {
                    let context = SealContext::new(
                        scope.app_id(),
                        "model_provider.api_key",
                        ModelProviderId(provider.id),
                    );
                    let key = ctx.sealer.open(sealed, &context).map_err(|error| {
                        tracing::error!(?error, provider = %ModelProviderId(provider.id), "a provider key does not open");
                        broken("its API key cannot be read (was ORBIT_SECRETS_KEY changed?): set it again")
                    })?;
                    Some(key)
                }
                None => None,
            };
            Ok(Box::new(OpenAiCompatible::new(
                ctx.outbound.clone(),
                provider.name.clone(),
                base_url,
                api_key,
            )))
        }
        Err(_) => Err(broken("an unknown kind")),
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Longest wait for the response or for the next piece of it.
    idle: Duration,
    /// Longest the whole attempt may take.
    total: Duration,
}

/// One attempt's stream and what it has said so far.
struct Streamer<'a> {
    ctx: &'a WorkerContext,
    reply: &'a agent_reply::Model,
    agent: &'a agent::Model,
    /// The agent's tools, callable on every turn but the last.
    tools: &'a [tool::Model],
    /// The app's variables, put into the tools' URLs and headers.
    vars: &'a std::collections::HashMap<String, String>,
    scope: AppScope,
    text: String,
    sequence: i64,
    /// Summed over the attempt's model turns.
    usage: Option<Usage>,
    model: Option<String>,
}

/// How one model turn ended.
enum Turn {
    /// It answered: the reply is complete.
    Answered,
    /// It asked for these tools.
    Called(Vec<ToolCall>),
    Failed(ProviderError),
    Interrupted(Interrupt),
}

/// What interrupted a wait for the provider, or the run of a turn's calls.
enum Interrupt {
    Lost,
    Cancelled,
    Stopping,
    /// A call waits for approval; the others of its turn were made.
    AwaitingApproval,
}

impl Streamer<'_> {
    /// The attempt: model turns, each of which may call tools, up to the
    /// agent's `max_steps`; on the last turn the model may call no tool
    /// (`tool_choice: "none"`), so it answers. Calls an earlier attempt recorded are replayed to the
    /// model, not made again (one it left running is made again, with the
    /// same idempotency key).
    async fn stream(
        mut self,
        chat: &dyn ChatProvider,
        mut request: ChatRequest,
        limits: Limits,
        mut shutdown: watch::Receiver<bool>,
    ) -> DomainResult<Attempt> {
        let deadline = tokio::time::Instant::now() + limits.total;
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.tick().await;
        // The agent's maxSteps, within the server's ORBIT_TOOL_MAX_STEPS.
        let max_steps = self
            .agent
            .max_steps
            .clamp(1, self.ctx.tool_limits.max_steps.max(1));
        let mut step = 0;
        let earlier = tool_calls::of_reply(&self.ctx.db, self.scope, self.reply.id).await?;
        for (turn, calls) in by_step(earlier) {
            let calls = match self
                .run_calls(calls, limits, deadline, &mut beat, &mut shutdown)
                .await?
            {
                Ok(calls) => calls,
                Err(interrupt) => return Ok(self.interrupted(interrupt)),
            };
            request.messages.extend(turn_messages(&calls));
            step = turn + 1;
        }
        loop {
            // The last turn still lists the tools (the conversation may
            // hold calls of them, which some servers refuse without their
            // definitions) but may not call one: it answers.
            request.may_call_tools = step + 1 < max_steps;
            let calls = match self
                .turn(chat, &request, limits, deadline, &mut beat, &mut shutdown)
                .await?
            {
                Turn::Answered => return Ok(self.completed(&request)),
                Turn::Failed(error) => return Ok(self.provider_failed(error)),
                Turn::Interrupted(interrupt) => return Ok(self.interrupted(interrupt)),
                Turn::Called(calls) => calls,
            };
            if step + 1 >= max_steps {
                return Ok(failed(format!(
                    "the agent asked for tools on its last step ({max_steps}: its maxSteps, within ORBIT_TOOL_MAX_STEPS) instead of answering"
                )));
            }
            let asked = calls.into_iter().map(|call| self.asked(call)).collect();
            let until = self.ctx.clock.now() + LEASE;
            let now = self.ctx.clock.now();
            let Some(recorded) = tool_calls::record(
                &self.ctx.db,
                self.reply,
                &self.ctx.process_id,
                step,
                asked,
                until,
                now,
            )
            .await?
            else {
                return Ok(Attempt::Lost);
            };
            let calls = match self
                .run_calls(recorded, limits, deadline, &mut beat, &mut shutdown)
                .await?
            {
                Ok(calls) => calls,
                Err(interrupt) => return Ok(self.interrupted(interrupt)),
            };
            request.messages.extend(turn_messages(&calls));
            step += 1;
        }
    }

    /// One model turn: streams its text to subscribers, and gathers the
    /// tool calls it asks for.
    async fn turn(
        &mut self,
        chat: &dyn ChatProvider,
        request: &ChatRequest,
        limits: Limits,
        deadline: tokio::time::Instant,
        beat: &mut tokio::time::Interval,
        shutdown: &mut watch::Receiver<bool>,
    ) -> DomainResult<Turn> {
        let started = self
            .wait(chat.start(request), limits, deadline, beat, shutdown)
            .await?;
        let mut stream: Box<dyn ChatStream> = match started {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Ok(Turn::Failed(error)),
            Err(interrupt) => return Ok(Turn::Interrupted(interrupt)),
        };
        let mut pieces: Vec<ToolCallPiece> = Vec::new();
        loop {
            let next = self
                .wait(stream.next(), limits, deadline, beat, shutdown)
                .await?;
            match next {
                Ok(Ok(Some(chunk))) => {
                    if let Some(usage) = chunk.usage {
                        let sum = self.usage.unwrap_or_default();
                        self.usage = Some(Usage {
                            prompt_tokens: sum.prompt_tokens.saturating_add(usage.prompt_tokens),
                            completion_tokens: sum
                                .completion_tokens
                                .saturating_add(usage.completion_tokens),
                        });
                    }
                    if chunk.model.is_some() {
                        self.model = chunk.model;
                    }
                    if !chunk.text.is_empty() {
                        self.publish_delta(&chunk.text).await;
                        self.text.push_str(&chunk.text);
                    }
                    pieces.extend(chunk.tool_calls);
                }
                Ok(Ok(None)) => {
                    let calls = assemble(pieces);
                    return Ok(if calls.is_empty() {
                        Turn::Answered
                    } else {
                        Turn::Called(calls)
                    });
                }
                Ok(Err(error)) => return Ok(Turn::Failed(error)),
                Err(interrupt) => return Ok(Turn::Interrupted(interrupt)),
            }
        }
    }

    /// A call as it is recorded: the agent's tool of that name, the
    /// arguments as JSON (text that is not JSON is kept as a string, and
    /// the call then fails saying so), and, for a tool that requires
    /// approval, when the wait for it ends.
    fn asked(&self, call: ToolCall) -> AskedCall {
        let tool = self.tools.iter().find(|tool| tool.name == call.name);
        let approval_expires_at = tool.filter(|tool| tool.requires_approval).map(|_| {
            self.ctx.clock.now()
                + chrono::Duration::from_std(self.ctx.tool_limits.approval_timeout)
                    .unwrap_or(chrono::Duration::MAX)
        });
        let tool = tool.map(|tool| ToolId(tool.id));
        let arguments = if call.arguments.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&call.arguments)
                .unwrap_or(serde_json::Value::String(call.arguments))
        };
        AskedCall {
            call_id: call.id,
            tool,
            tool_name: call.name,
            arguments,
            approval_expires_at,
        }
    }

    /// Runs the calls still running, one after another, storing each end;
    /// a call whose wait for approval expired fails as refused. When a
    /// call still waits for approval, the others made, the turn is
    /// interrupted: the reply pauses.
    async fn run_calls(
        &self,
        calls: Vec<agent_tool_call::Model>,
        limits: Limits,
        deadline: tokio::time::Instant,
        beat: &mut tokio::time::Interval,
        shutdown: &mut watch::Receiver<bool>,
    ) -> DomainResult<Result<Vec<agent_tool_call::Model>, Interrupt>> {
        let mut ended = Vec::with_capacity(calls.len());
        let mut waiting = false;
        for call in calls {
            let expired = call.status == CallStatus::AwaitingApproval.as_str()
                && call
                    .approval_expires_at
                    .is_none_or(|expires| expires <= self.ctx.clock.now());
            if call.status == CallStatus::AwaitingApproval.as_str() && !expired {
                waiting = true;
                continue;
            }
            if call.status != CallStatus::Running.as_str() && !expired {
                ended.push(call);
                continue;
            }
            let tool_limits = Limits {
                idle: self.ctx.tool_limits.timeout + Duration::from_secs(5),
                total: limits.total,
            };
            let work = async {
                Ok::<_, ProviderError>(if expired {
                    CallEnd::Failed(self.expired())
                } else {
                    self.call(&call).await
                })
            };
            let end = match self
                .wait(work, tool_limits, deadline, beat, shutdown)
                .await?
            {
                Ok(Ok(end)) => end,
                Ok(Err(timed_out)) => CallEnd::Failed(timed_out.message),
                Err(interrupt) => return Ok(Err(interrupt)),
            };
            let mut stored = call.clone();
            match &end {
                CallEnd::Completed(result) => {
                    stored.status = CallStatus::Completed.as_str().to_owned();
                    stored.result = Some(result.clone());
                }
                CallEnd::Failed(error) => {
                    stored.status = CallStatus::Failed.as_str().to_owned();
                    stored.error = Some(error.clone());
                }
            }
            let until = self.ctx.clock.now() + LEASE;
            let now = self.ctx.clock.now();
            let finished = tool_calls::finish(
                &self.ctx.db,
                self.reply,
                &self.ctx.process_id,
                call,
                end,
                until,
                now,
            )
            .await?;
            if !finished {
                return Ok(Err(Interrupt::Lost));
            }
            ended.push(stored);
        }
        if waiting {
            return Ok(Err(Interrupt::AwaitingApproval));
        }
        Ok(Ok(ended))
    }

    /// What the model is told of a call no one decided on in time.
    fn expired(&self) -> String {
        format!(
            "no one approved this call within {} s (ORBIT_TOOL_APPROVAL_TIMEOUT): it was not made",
            self.ctx.tool_limits.approval_timeout.as_secs()
        )
    }

    /// One call: its tool, if the agent still has it, with its arguments.
    async fn call(&self, call: &agent_tool_call::Model) -> CallEnd {
        let Some(tool) = call
            .tool_id
            .and_then(|id| self.tools.iter().find(|tool| tool.id == id))
        else {
            return CallEnd::Failed(format!(
                "the agent has no tool named \"{}\"",
                call.tool_name
            ));
        };
        if !call.arguments.is_object() {
            return CallEnd::Failed(
                "the arguments are not a JSON object: call the tool again with a JSON object"
                    .to_owned(),
            );
        }
        let key = call.id.to_string();
        let caller = Caller {
            agent: AgentId(self.agent.id),
            thread: ThreadId(self.reply.thread_id),
        };
        match tools::call(
            self.ctx,
            self.scope,
            caller,
            tool,
            &call.arguments,
            &key,
            self.vars,
        )
        .await
        {
            Ok(result) => CallEnd::Completed(result),
            Err(error) => CallEnd::Failed(error),
        }
    }

    /// Waits for `work` within the limits, keeping the lease alive and
    /// watching for a cancel and for shutdown meanwhile. A timeout is the
    /// provider's failure.
    async fn wait<T>(
        &self,
        work: impl Future<Output = Result<T, ProviderError>>,
        limits: Limits,
        deadline: tokio::time::Instant,
        beat: &mut tokio::time::Interval,
        shutdown: &mut watch::Receiver<bool>,
    ) -> DomainResult<Result<Result<T, ProviderError>, Interrupt>> {
        let idle_until = (tokio::time::Instant::now() + limits.idle).min(deadline);
        let mut work = std::pin::pin!(tokio::time::timeout_at(idle_until, work));
        loop {
            tokio::select! {
                done = &mut work => {
                    return Ok(Ok(done.unwrap_or_else(|_| Err(self.timed_out(limits, deadline)))));
                }
                _ = beat.tick() => {
                    if let Some(interrupt) = self.heartbeat().await? {
                        return Ok(Err(interrupt));
                    }
                }
                () = self.ctx.wake.notified() => {
                    if let Some(interrupt) = self.heartbeat().await? {
                        return Ok(Err(interrupt));
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return Ok(Err(Interrupt::Stopping));
                    }
                }
            }
        }
    }

    async fn heartbeat(&self) -> DomainResult<Option<Interrupt>> {
        let until = self.ctx.clock.now() + LEASE;
        let beat =
            agent_replies::heartbeat(&self.ctx.db, self.reply.id, &self.ctx.process_id, until)
                .await?;
        Ok(match beat {
            None => Some(Interrupt::Lost),
            Some(true) => Some(Interrupt::Cancelled),
            Some(false) => None,
        })
    }

    fn timed_out(&self, limits: Limits, deadline: tokio::time::Instant) -> ProviderError {
        let message = if tokio::time::Instant::now() >= deadline {
            format!(
                "the reply took longer than {} s (the provider's requestTimeoutSeconds)",
                limits.total.as_secs()
            )
        } else {
            format!(
                "the model provider sent nothing for {} s (the provider's idleTimeoutSeconds; raise it for slow models)",
                limits.idle.as_secs()
            )
        };
        // Before the first token a slow provider may be busy: worth a retry.
        ProviderError::transient(message, None)
    }

    async fn publish_delta(&mut self, delta: &str) {
        self.sequence += 1;
        let event = Event::AgentReplyDelta(ReplyDelta {
            reply_id: AgentReplyId(self.reply.id),
            agent_id: AgentId(self.agent.id),
            thread_id: ThreadId(self.reply.thread_id),
            trigger_message_id: self.reply.trigger_message_id.map(MessageId),
            attempt: self.reply.attempts,
            sequence: self.sequence,
            delta: delta.to_owned(),
        });
        let published = self
            .ctx
            .events
            .publish(self.scope, event, self.ctx.clock.now())
            .await;
        if let Err(error) = published {
            // Deltas are a preview: the stored reply is what counts.
            tracing::warn!(%error, "could not publish an agent reply delta");
        }
    }

    fn completed(self, request: &ChatRequest) -> Attempt {
        let usage = self.usage.unwrap_or_else(|| Usage {
            prompt_tokens: request
                .messages
                .iter()
                .map(estimate_message_tokens)
                .fold(0, i32::saturating_add),
            completion_tokens: estimate_tokens(&self.text),
        });
        Attempt::Done(Outcome {
            status: ReplyStatus::Completed,
            content: self.text,
            model: Some(self.model.unwrap_or_else(|| request.model.clone())),
            prompt_tokens: Some(usage.prompt_tokens),
            completion_tokens: Some(usage.completion_tokens),
            error: None,
        })
    }

    fn provider_failed(self, error: ProviderError) -> Attempt {
        let retry = match error.retry {
            Retry::Later(after) if self.text.is_empty() && tries(self.reply) < MAX_ATTEMPTS => {
                Some(after)
            }
            _ => None,
        };
        if let Some(after) = retry {
            let due = self.ctx.clock.now() + backoff(tries(self.reply), after);
            return Attempt::RetryAt(due, error.message);
        }
        let message = if tries(self.reply) > 1 && matches!(error.retry, Retry::Later(_)) {
            format!("{} (after {} attempts)", error.message, tries(self.reply))
        } else {
            error.message
        };
        let mut outcome = self.partial();
        outcome.status = ReplyStatus::Failed;
        outcome.error = Some(message);
        Attempt::Done(outcome)
    }

    fn interrupted(self, interrupt: Interrupt) -> Attempt {
        match interrupt {
            Interrupt::Lost => Attempt::Lost,
            Interrupt::Stopping => Attempt::Stopping,
            Interrupt::AwaitingApproval => Attempt::AwaitingApproval,
            Interrupt::Cancelled => {
                let mut outcome = self.partial();
                outcome.status = ReplyStatus::Cancelled;
                outcome.error = Some("cancelled".to_owned());
                Attempt::Done(outcome)
            }
        }
    }

    /// What was said so far, as the end of a reply that did not complete.
    fn partial(self) -> Outcome {
        let said = !self.text.is_empty();
        Outcome {
            status: ReplyStatus::Failed,
            completion_tokens: said.then(|| estimate_tokens(&self.text)),
            model: said.then(|| self.model.unwrap_or_else(|| self.agent.model.clone())),
            content: self.text,
            prompt_tokens: None,
            error: None,
        }
    }
}

/// Claims of the reply that count against [`MAX_ATTEMPTS`]: going on after
/// a pause for approval does not.
fn tries(reply: &agent_reply::Model) -> i32 {
    reply.attempts - reply.pauses
}

/// Recorded calls grouped by the model turn that asked for them, in order.
fn by_step(calls: Vec<agent_tool_call::Model>) -> Vec<(i32, Vec<agent_tool_call::Model>)> {
    let mut turns: Vec<(i32, Vec<agent_tool_call::Model>)> = Vec::new();
    for call in calls {
        match turns.last_mut() {
            Some((step, calls)) if *step == call.step => calls.push(call),
            _ => turns.push((call.step, vec![call])),
        }
    }
    turns
}

/// What a turn of calls adds to the conversation: the assistant's turn
/// asking for them, then each call's result (or its error) as a tool turn.
fn turn_messages(calls: &[agent_tool_call::Model]) -> Vec<ChatMessage> {
    let asking = ChatMessage {
        role: Role::Assistant,
        content: String::new(),
        tool_calls: calls
            .iter()
            .map(|call| ToolCall {
                id: call.call_id.clone(),
                name: call.tool_name.clone(),
                arguments: match &call.arguments {
                    serde_json::Value::String(raw) => raw.clone(),
                    other => other.to_string(),
                },
            })
            .collect(),
        tool_call_id: None,
    };
    let answers = calls.iter().map(|call| {
        let content = match (&call.result, &call.error) {
            (Some(result), _) => result.to_string(),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => "error: the call did not finish".to_owned(),
        };
        ChatMessage {
            role: Role::Tool,
            content,
            tool_calls: Vec::new(),
            tool_call_id: Some(call.call_id.clone()),
        }
    });
    std::iter::once(asking).chain(answers).collect()
}

/// Whole calls from the pieces a turn streamed, by their index; a call
/// without an id gets one (some local servers send none), and one without
/// a name is dropped.
fn assemble(pieces: Vec<ToolCallPiece>) -> Vec<ToolCall> {
    let mut calls: std::collections::BTreeMap<usize, ToolCall> = Default::default();
    for piece in pieces {
        let call = calls.entry(piece.index).or_insert_with(|| ToolCall {
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
        });
        if let Some(id) = piece.id {
            call.id = id;
        }
        if let Some(name) = piece.name {
            call.name.push_str(&name);
        }
        call.arguments.push_str(&piece.arguments);
    }
    calls
        .into_iter()
        .filter(|(_, call)| !call.name.is_empty())
        .map(|(index, mut call)| {
            if call.id.is_empty() {
                call.id = format!("call_{index}");
            }
            call
        })
        .collect()
}

/// The wait before attempt `attempt + 1`: the provider's `Retry-After` when
/// it gave one, else 2 s doubling per attempt up to a minute.
pub fn backoff(attempt: i32, retry_after: Option<Duration>) -> chrono::Duration {
    let wait = match retry_after {
        Some(after) => chrono::Duration::from_std(after).unwrap_or(MAX_BACKOFF),
        None => {
            let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 5)).unwrap_or(5);
            chrono::Duration::seconds(2 * 2_i64.pow(doublings)).min(chrono::Duration::minutes(1))
        }
    };
    wait.min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_retry_after() {
        assert_eq!(backoff(1, None), chrono::Duration::seconds(2));
        assert_eq!(backoff(2, None), chrono::Duration::seconds(4));
        assert_eq!(backoff(3, None), chrono::Duration::seconds(8));
        assert_eq!(backoff(9, None), chrono::Duration::minutes(1));
        assert_eq!(
            backoff(1, Some(Duration::from_secs(30))),
            chrono::Duration::seconds(30)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(86_400))), MAX_BACKOFF);
    }
}
