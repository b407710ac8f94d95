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
use orbit_domain::entities::{agent, agent_reply, model_provider};
use orbit_domain::events::{Event, ReplyDelta};
use orbit_domain::ids::{
    AgentId, AgentReplyId, AppId, AppScope, MessageId, ModelProviderId, ThreadId,
};
use orbit_domain::{DomainResult, SealContext};
use orbit_persistence::agent_replies::{self, Outcome};
use orbit_persistence::queues::Queue;
use orbit_persistence::{agents, model_providers};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::context;
use super::providers::openai::OpenAiCompatible;
use super::providers::scripted::Scripted;
use super::providers::{
    ChatProvider, ChatRequest, ChatStream, ProviderError, Retry, Usage, estimate_message_tokens,
    estimate_tokens,
};
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
    if reply.attempts > MAX_ATTEMPTS {
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
    let request = ChatRequest {
        model: agent.model.clone(),
        messages: context::build(
            &agent.instructions,
            agent.id,
            &history,
            reply.prompt.as_deref(),
            context::CONTEXT_BUDGET_TOKENS,
        ),
        temperature: agent.temperature,
        max_tokens: agent.max_tokens,
    };
    let limits = Limits {
        idle: Duration::from_secs(u64::try_from(provider.idle_timeout_secs).unwrap_or(60)),
        total: Duration::from_secs(u64::try_from(provider.request_timeout_secs).unwrap_or(300)),
    };
    let streamer = Streamer {
        ctx,
        reply,
        agent: &agent,
        scope,
        text: String::new(),
        sequence: 0,
        usage: None,
        model: None,
    };
    streamer
        .stream(chat.as_ref(), &request, limits, shutdown)
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
    scope: AppScope,
    text: String,
    sequence: i64,
    usage: Option<Usage>,
    model: Option<String>,
}

/// What interrupted a wait for the provider.
enum Interrupt {
    Lost,
    Cancelled,
    Stopping,
}

impl Streamer<'_> {
    async fn stream(
        mut self,
        chat: &dyn ChatProvider,
        request: &ChatRequest,
        limits: Limits,
        mut shutdown: watch::Receiver<bool>,
    ) -> DomainResult<Attempt> {
        let deadline = tokio::time::Instant::now() + limits.total;
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.tick().await;
        let started = self
            .wait(
                chat.start(request),
                limits,
                deadline,
                &mut beat,
                &mut shutdown,
            )
            .await?;
        let mut stream: Box<dyn ChatStream> = match started {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Ok(self.provider_failed(error)),
            Err(interrupt) => return Ok(self.interrupted(interrupt)),
        };
        loop {
            let next = self
                .wait(stream.next(), limits, deadline, &mut beat, &mut shutdown)
                .await?;
            match next {
                Ok(Ok(Some(chunk))) => {
                    if chunk.usage.is_some() {
                        self.usage = chunk.usage;
                    }
                    if chunk.model.is_some() {
                        self.model = chunk.model;
                    }
                    if !chunk.text.is_empty() {
                        self.publish_delta(&chunk.text).await;
                        self.text.push_str(&chunk.text);
                    }
                }
                Ok(Ok(None)) => return Ok(self.completed(request)),
                Ok(Err(error)) => return Ok(self.provider_failed(error)),
                Err(interrupt) => return Ok(self.interrupted(interrupt)),
            }
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
            Retry::Later(after) if self.text.is_empty() && self.reply.attempts < MAX_ATTEMPTS => {
                Some(after)
            }
            _ => None,
        };
        if let Some(after) = retry {
            let due = self.ctx.clock.now() + backoff(self.reply.attempts, after);
            return Attempt::RetryAt(due, error.message);
        }
        let message = if self.reply.attempts > 1 && matches!(error.retry, Retry::Later(_)) {
            format!("{} (after {} attempts)", error.message, self.reply.attempts)
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
