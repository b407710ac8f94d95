//! Subscriptions: `userEvents`, `teamEvents`, `threadEvents`. Each returns a
//! union of typed events; every event implements `Event`, whose `cursor`
//! resumes the subscription behind it (`after:`).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Interface, Object, Subscription, Union};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use orbit_domain::entities::message;
use orbit_domain::events::Topic;
use orbit_domain::ids::{AgentId, AppScope, MessageId, TeamId, ThreadId, UserId};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::outbox;
use serde_json::Value;

use super::agents::{AgentNode, AgentReplyStatus, TokenUsage, load_agent};
use super::loaders::ThreadLoader;
use super::routines::{RoutineRunCause, RoutineRunStatus};
use super::types::{MessageNode, TeamRole, ThreadNode, UserNode, load_user};
use super::{GqlResult, access, loader, loader_error, services, viewer};
use crate::Services;
use crate::realtime::envelope::Envelope;
use crate::realtime::feed::{AccessCheck, AccessWatch, Feed, FeedItem};
use crate::viewer::Viewer;
use orbit_domain::policy::AppAction;

/// A cursor names its topic and a position in it, so it cannot be replayed
/// against another topic by mistake.
fn encode_cursor(topic: &str, seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{topic}#{seq}"))
}

fn decode_cursor(topic: &str, cursor: &str) -> DomainResult<i64> {
    let invalid = || DomainError::bad_input("after", "not a cursor of this subscription");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (cursor_topic, seq) = text.rsplit_once('#').ok_or_else(invalid)?;
    if cursor_topic != topic {
        return Err(invalid());
    }
    seq.parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
        .ok_or_else(invalid)
}

/// What every event carries, plus its payload for the typed fields.
/// The envelope is shared with every other local subscriber of the topic.
pub struct EventBase {
    envelope: Arc<Envelope>,
    /// Where the subscriber resumes behind this event (its cursor, which is
    /// made only when selected).
    position: i64,
}

impl EventBase {
    fn new(envelope: Arc<Envelope>, position: i64) -> Self {
        Self { envelope, position }
    }

    fn cursor(&self) -> String {
        encode_cursor(&self.envelope.topic, self.position)
    }

    fn payload(&self) -> &Value {
        &self.envelope.payload
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.payload().get(key).and_then(Value::as_str)
    }

    fn id(&self, key: &str) -> ID {
        ID(self.text(key).unwrap_or_default().to_owned())
    }

    fn uuid_of<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.text(key).and_then(|value| value.parse().ok())
    }

    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        match self.uuid_of::<UserId>("userId") {
            Some(user) => load_user(ctx, user.uuid()).await,
            None => Ok(None),
        }
    }

    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> {
        let Some(thread) = self.uuid_of::<ThreadId>("threadId") else {
            return Ok(None);
        };
        Ok(loader::<ThreadLoader>(ctx)
            .load_one(thread.uuid())
            .await
            .map_err(loader_error)?
            .map(ThreadNode))
    }

    /// The message as it was when the event happened; it travels whole in
    /// the payload so that no subscriber reads it back.
    fn message(&self) -> GqlResult<MessageNode> {
        self.message_at(self.payload())
    }

    /// A message carried in `payload` (the event's own, or a part of it).
    fn message_at(&self, payload: &Value) -> GqlResult<MessageNode> {
        let broken = || DomainError::internal("a message event without its message");
        let text = |key: &str| payload.get(key).and_then(Value::as_str);
        let uuid_of = |key: &str| text(key).and_then(|value| value.parse().ok());
        let id: MessageId = uuid_of("messageId").ok_or_else(broken)?;
        let thread: ThreadId = text("threadId")
            .and_then(|value| value.parse().ok())
            .ok_or_else(broken)?;
        let time = |key: &str| {
            payload
                .get(key)
                .cloned()
                .and_then(|value| serde_json::from_value::<DateTime<Utc>>(value).ok())
        };
        let count = |key: &str| {
            payload
                .get(key)
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
        };
        Ok(MessageNode(message::Model {
            id: id.uuid(),
            app_id: self.envelope.app,
            thread_id: thread.uuid(),
            author_user_id: text("authorId")
                .and_then(|value| value.parse::<UserId>().ok())
                .map(UserId::uuid),
            author_agent_id: text("authorAgentId")
                .and_then(|value| value.parse::<AgentId>().ok())
                .map(AgentId::uuid),
            content: text("content").map(str::to_owned),
            metadata: payload.get("metadata").filter(|v| !v.is_null()).cloned(),
            status: text("status").unwrap_or("sent").to_owned(),
            idempotency_key: None,
            created_at: time("createdAt").ok_or_else(broken)?,
            edited_at: time("editedAt"),
            deleted_at: time("deletedAt"),
            model: text("model").map(str::to_owned),
            prompt_tokens: count("promptTokens"),
            completion_tokens: count("completionTokens"),
        }))
    }

    fn time(&self, key: &str) -> Option<DateTime<Utc>> {
        self.payload()
            .get(key)
            .cloned()
            .and_then(|value| serde_json::from_value(value).ok())
    }

    fn optional_id(&self, key: &str) -> Option<ID> {
        self.text(key).map(|value| ID(value.to_owned()))
    }

    fn number(&self, key: &str) -> i32 {
        self.payload()
            .get(key)
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or_default()
    }

    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> {
        match self.uuid_of::<AgentId>("agentId") {
            Some(agent) => load_agent(ctx, agent.uuid()).await,
            None => Ok(None),
        }
    }
}

macro_rules! event_object {
    ($(#[$doc:meta])* $name:ident, $graphql_name:literal { $($fields:tt)* }) => {
        $(#[$doc])*
        pub struct $name(EventBase);

        #[Object(name = $graphql_name)]
        impl $name {
            /// Pass as `after` to resume behind this event.
            async fn cursor(&self) -> String {
                self.0.cursor()
            }
            /// Dotted lower case, as webhooks name it: `message.created`, ...
            #[graphql(name = "type")]
            async fn event_type(&self) -> &str {
                &self.0.envelope.event_type
            }
            async fn occurred_at(&self) -> DateTime<Utc> {
                self.0.envelope.occurred_at
            }
            $($fields)*
        }
    };
}

event_object!(
    /// `message.created`
    MessageCreatedEvent, "MessageCreatedEvent" {
    async fn message(&self) -> GqlResult<MessageNode> { self.0.message() }
});
event_object!(
    /// `message.edited`
    MessageEditedEvent, "MessageEditedEvent" {
    async fn message(&self) -> GqlResult<MessageNode> { self.0.message() }
});
event_object!(
    /// `message.deleted`: the message as deleted (no content).
    MessageDeletedEvent, "MessageDeletedEvent" {
    async fn message(&self) -> GqlResult<MessageNode> { self.0.message() }
});
event_object!(
    /// `thread.created`
    ThreadCreatedEvent, "ThreadCreatedEvent" {
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    /// Null if it was deleted since.
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> { self.0.thread(ctx).await }
});
event_object!(
    /// `thread.updated`
    ThreadUpdatedEvent, "ThreadUpdatedEvent" {
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    /// The title after the change.
    async fn title(&self) -> Option<&str> { self.0.text("title") }
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> { self.0.thread(ctx).await }
});
event_object!(
    /// `thread.deleted`: a `threadEvents` subscription completes after it.
    ThreadDeletedEvent, "ThreadDeletedEvent" {
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
});
event_object!(
    /// `participant.added`: a user (`userId`) or an agent (`agentId`).
    ParticipantAddedEvent, "ParticipantAddedEvent" {
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    async fn user_id(&self) -> Option<ID> { self.0.optional_id("userId") }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { self.0.user(ctx).await }
    async fn agent_id(&self) -> Option<ID> { self.0.optional_id("agentId") }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { self.0.agent(ctx).await }
});
event_object!(
    /// `participant.removed`: a user (`userId`) or an agent (`agentId`).
    ParticipantRemovedEvent, "ParticipantRemovedEvent" {
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    async fn user_id(&self) -> Option<ID> { self.0.optional_id("userId") }
    async fn agent_id(&self) -> Option<ID> { self.0.optional_id("agentId") }
});
event_object!(
    /// `agent_reply.delta`: the next piece of an agent's reply as it
    /// streams. Ephemeral: never stored nor replayed; `agent_reply.completed`
    /// or `agent_reply.failed` ends every reply and is stored. Pieces of one
    /// attempt come in `sequence` order from 1; a higher `attempt` starts
    /// the reply over (its process stopped and another took it on).
    AgentReplyDeltaEvent, "AgentReplyDeltaEvent" {
    async fn reply_id(&self) -> ID { self.0.id("replyId") }
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    async fn agent_id(&self) -> ID { self.0.id("agentId") }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { self.0.agent(ctx).await }
    async fn trigger_message_id(&self) -> Option<ID> { self.0.optional_id("triggerMessageId") }
    async fn attempt(&self) -> i32 { self.0.number("attempt") }
    async fn sequence(&self) -> i32 { self.0.number("sequence") }
    /// The text to append.
    async fn delta(&self) -> &str { self.0.text("delta").unwrap_or_default() }
});
event_object!(
    /// `agent_reply.completed`: the reply is whole and stored as `message`
    /// (which also comes as `message.created`).
    AgentReplyCompletedEvent, "AgentReplyCompletedEvent" {
    async fn reply_id(&self) -> ID { self.0.id("replyId") }
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    async fn agent_id(&self) -> ID { self.0.id("agentId") }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { self.0.agent(ctx).await }
    async fn trigger_message_id(&self) -> Option<ID> { self.0.optional_id("triggerMessageId") }
    async fn attempt(&self) -> i32 { self.0.number("attempt") }
    async fn message(&self) -> GqlResult<MessageNode> { self.0.message_at(&self.0.payload()["message"]) }
    async fn usage(&self) -> GqlResult<Option<TokenUsage>> {
        let message = self.0.message_at(&self.0.payload()["message"])?.0;
        Ok(TokenUsage::of(message.prompt_tokens, message.completion_tokens))
    }
});
event_object!(
    /// `agent_reply.failed`: the reply ended without an answer, FAILED (the
    /// provider failed; `error` says why) or CANCELLED. `message` holds
    /// what the agent said before, when it said anything.
    AgentReplyFailedEvent, "AgentReplyFailedEvent" {
    async fn reply_id(&self) -> ID { self.0.id("replyId") }
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    async fn agent_id(&self) -> ID { self.0.id("agentId") }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { self.0.agent(ctx).await }
    async fn trigger_message_id(&self) -> Option<ID> { self.0.optional_id("triggerMessageId") }
    async fn attempt(&self) -> i32 { self.0.number("attempt") }
    async fn status(&self) -> AgentReplyStatus {
        if self.0.text("status") == Some("cancelled") { AgentReplyStatus::Cancelled } else { AgentReplyStatus::Failed }
    }
    async fn error(&self) -> Option<&str> { self.0.text("error") }
    async fn message(&self) -> GqlResult<Option<MessageNode>> {
        let message = &self.0.payload()["message"];
        if message.is_null() { return Ok(None); }
        self.0.message_at(message).map(Some)
    }
});
/// The fields every `routine_run.*` event carries: the run as it stood.
macro_rules! routine_run_event {
    ($(#[$doc:meta])* $name:ident, $graphql_name:literal) => {
        event_object!(
            $(#[$doc])*
            $name, $graphql_name {
            async fn run_id(&self) -> ID { self.0.id("runId") }
            async fn routine_id(&self) -> ID { self.0.id("routineId") }
            async fn routine_name(&self) -> Option<&str> { self.0.text("routineName") }
            async fn agent_id(&self) -> ID { self.0.id("agentId") }
            /// The thread the routine writes into, if it does.
            async fn thread_id(&self) -> Option<ID> { self.0.optional_id("threadId") }
            async fn status(&self) -> RoutineRunStatus { RoutineRunStatus::of(self.0.text("status").unwrap_or_default()) }
            async fn cause(&self) -> RoutineRunCause { RoutineRunCause::of(self.0.text("cause").unwrap_or_default()) }
            async fn attempt(&self) -> i32 { self.0.number("attempt") }
            async fn scheduled_for(&self) -> Option<DateTime<Utc>> { self.0.time("scheduledFor") }
            async fn started_at(&self) -> Option<DateTime<Utc>> { self.0.time("startedAt") }
            async fn finished_at(&self) -> Option<DateTime<Utc>> { self.0.time("finishedAt") }
            async fn output(&self) -> Option<&str> { self.0.text("output") }
            async fn error(&self) -> Option<&str> { self.0.text("error") }
            async fn http_status(&self) -> Option<i32> {
                self.0.payload().get("httpStatus").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
            }
            async fn message_id(&self) -> Option<ID> { self.0.optional_id("messageId") }
        });
    };
}

routine_run_event!(
    /// `routine_run.started`: a run began (again, with a higher `attempt`,
    /// when another process took it over).
    RoutineRunStartedEvent, "RoutineRunStartedEvent"
);
routine_run_event!(
    /// `routine_run.succeeded`
    RoutineRunSucceededEvent, "RoutineRunSucceededEvent"
);
routine_run_event!(
    /// `routine_run.failed`: `error` says why.
    RoutineRunFailedEvent, "RoutineRunFailedEvent"
);

event_object!(
    /// `member.joined`
    MemberJoinedEvent, "MemberJoinedEvent" {
    async fn team_id(&self) -> ID { self.0.id("teamId") }
    async fn user_id(&self) -> ID { self.0.id("userId") }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { self.0.user(ctx).await }
    async fn role(&self) -> Option<TeamRole> { team_role(&self.0) }
});
event_object!(
    /// `member.left`: removed, left, or the team was deleted.
    MemberLeftEvent, "MemberLeftEvent" {
    async fn team_id(&self) -> ID { self.0.id("teamId") }
    async fn user_id(&self) -> ID { self.0.id("userId") }
});
event_object!(
    /// `member.role_changed`
    MemberRoleChangedEvent, "MemberRoleChangedEvent" {
    async fn team_id(&self) -> ID { self.0.id("teamId") }
    async fn user_id(&self) -> ID { self.0.id("userId") }
    async fn role(&self) -> Option<TeamRole> { team_role(&self.0) }
});
event_object!(
    /// `thread.read`: the viewer's read marker moved (on their own topic).
    ThreadReadEvent, "ThreadReadEvent" {
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    async fn message_id(&self) -> ID { self.0.id("messageId") }
});
event_object!(
    /// `typing.started` / `typing.stopped`: ephemeral, never replayed.
    TypingEvent, "TypingEvent" {
    async fn thread_id(&self) -> ID { self.0.id("threadId") }
    async fn user_id(&self) -> ID { self.0.id("userId") }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { self.0.user(ctx).await }
    async fn typing(&self) -> bool { self.0.envelope.event_type == "typing.started" }
});
event_object!(
    /// `presence.changed`: ephemeral, never replayed.
    PresenceChangedEvent, "PresenceChangedEvent" {
    async fn user_id(&self) -> ID { self.0.id("userId") }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { self.0.user(ctx).await }
    async fn status(&self) -> PresenceStatus { presence_status(&self.0) }
});

fn team_role(base: &EventBase) -> Option<TeamRole> {
    base.text("role")
        .and_then(|role| role.parse::<orbit_domain::roles::TeamRole>().ok())
        .map(TeamRole::from)
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "PresenceStatus")]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

impl From<orbit_realtime::PresenceStatus> for PresenceStatus {
    fn from(status: orbit_realtime::PresenceStatus) -> Self {
        match status {
            orbit_realtime::PresenceStatus::Online => PresenceStatus::Online,
            orbit_realtime::PresenceStatus::Away => PresenceStatus::Away,
            orbit_realtime::PresenceStatus::Offline => PresenceStatus::Offline,
        }
    }
}

fn presence_status(base: &EventBase) -> PresenceStatus {
    match base.text("status") {
        Some("online") => PresenceStatus::Online,
        Some("away") => PresenceStatus::Away,
        _ => PresenceStatus::Offline,
    }
}

/// Every event: `... on Event { cursor type occurredAt }` works on every topic.
/// Events reach clients through the topic unions; this enum only declares
/// the interface to the schema.
#[derive(Interface)]
#[graphql(
    name = "Event",
    field(name = "cursor", ty = "String"),
    field(name = "type", method = "event_type", ty = "&str"),
    field(name = "occurred_at", ty = "DateTime<Utc>")
)]
pub enum Event {
    MessageCreated(MessageCreatedEvent),
    MessageEdited(MessageEditedEvent),
    MessageDeleted(MessageDeletedEvent),
    ThreadCreated(ThreadCreatedEvent),
    ThreadUpdated(ThreadUpdatedEvent),
    ThreadDeleted(ThreadDeletedEvent),
    ParticipantAdded(ParticipantAddedEvent),
    ParticipantRemoved(ParticipantRemovedEvent),
    MemberJoined(MemberJoinedEvent),
    MemberLeft(MemberLeftEvent),
    MemberRoleChanged(MemberRoleChangedEvent),
    ThreadRead(ThreadReadEvent),
    Typing(TypingEvent),
    PresenceChanged(PresenceChangedEvent),
    AgentReplyDelta(AgentReplyDeltaEvent),
    AgentReplyCompleted(AgentReplyCompletedEvent),
    AgentReplyFailed(AgentReplyFailedEvent),
    RoutineRunStarted(RoutineRunStartedEvent),
    RoutineRunSucceeded(RoutineRunSucceededEvent),
    RoutineRunFailed(RoutineRunFailedEvent),
}

/// What happens in a thread.
#[derive(Union)]
#[graphql(name = "ThreadEvent")]
pub enum ThreadEvent {
    MessageCreated(MessageCreatedEvent),
    MessageEdited(MessageEditedEvent),
    MessageDeleted(MessageDeletedEvent),
    ThreadUpdated(ThreadUpdatedEvent),
    ThreadDeleted(ThreadDeletedEvent),
    ParticipantAdded(ParticipantAddedEvent),
    ParticipantRemoved(ParticipantRemovedEvent),
    Typing(TypingEvent),
    AgentReplyDelta(AgentReplyDeltaEvent),
    AgentReplyCompleted(AgentReplyCompletedEvent),
    AgentReplyFailed(AgentReplyFailedEvent),
    RoutineRunStarted(RoutineRunStartedEvent),
    RoutineRunSucceeded(RoutineRunSucceededEvent),
    RoutineRunFailed(RoutineRunFailedEvent),
}

/// What the app's builders follow: its routines' runs.
#[derive(Union)]
#[graphql(name = "AppEvent")]
pub enum AppEvent {
    Started(RoutineRunStartedEvent),
    Succeeded(RoutineRunSucceededEvent),
    Failed(RoutineRunFailedEvent),
}

/// What happens in a team: its members, its threads, who is online.
#[derive(Union)]
#[graphql(name = "TeamEvent")]
pub enum TeamEvent {
    MemberJoined(MemberJoinedEvent),
    MemberLeft(MemberLeftEvent),
    MemberRoleChanged(MemberRoleChangedEvent),
    ThreadCreated(ThreadCreatedEvent),
    ThreadUpdated(ThreadUpdatedEvent),
    ThreadDeleted(ThreadDeletedEvent),
    PresenceChanged(PresenceChangedEvent),
}

/// What happens to the viewer: their own threads, memberships, read markers.
#[derive(Union)]
#[graphql(name = "UserEvent")]
pub enum UserEvent {
    ThreadCreated(ThreadCreatedEvent),
    ThreadUpdated(ThreadUpdatedEvent),
    ThreadDeleted(ThreadDeletedEvent),
    ParticipantAdded(ParticipantAddedEvent),
    ParticipantRemoved(ParticipantRemovedEvent),
    MemberJoined(MemberJoinedEvent),
    MemberLeft(MemberLeftEvent),
    MemberRoleChanged(MemberRoleChangedEvent),
    ThreadRead(ThreadReadEvent),
}

/// Types a topic's union leaves out (internal ones included) yield `None`
/// and are skipped.
fn thread_event(base: EventBase) -> Option<ThreadEvent> {
    Some(match base.envelope.event_type.as_str() {
        "message.created" => ThreadEvent::MessageCreated(MessageCreatedEvent(base)),
        "message.edited" => ThreadEvent::MessageEdited(MessageEditedEvent(base)),
        "message.deleted" => ThreadEvent::MessageDeleted(MessageDeletedEvent(base)),
        "thread.updated" => ThreadEvent::ThreadUpdated(ThreadUpdatedEvent(base)),
        "thread.deleted" => ThreadEvent::ThreadDeleted(ThreadDeletedEvent(base)),
        "participant.added" => ThreadEvent::ParticipantAdded(ParticipantAddedEvent(base)),
        "participant.removed" => ThreadEvent::ParticipantRemoved(ParticipantRemovedEvent(base)),
        "typing.started" | "typing.stopped" => ThreadEvent::Typing(TypingEvent(base)),
        "agent_reply.delta" => ThreadEvent::AgentReplyDelta(AgentReplyDeltaEvent(base)),
        "agent_reply.completed" => ThreadEvent::AgentReplyCompleted(AgentReplyCompletedEvent(base)),
        "agent_reply.failed" => ThreadEvent::AgentReplyFailed(AgentReplyFailedEvent(base)),
        "routine_run.started" => ThreadEvent::RoutineRunStarted(RoutineRunStartedEvent(base)),
        "routine_run.succeeded" => ThreadEvent::RoutineRunSucceeded(RoutineRunSucceededEvent(base)),
        "routine_run.failed" => ThreadEvent::RoutineRunFailed(RoutineRunFailedEvent(base)),
        _ => return None,
    })
}

fn app_event(base: EventBase) -> Option<AppEvent> {
    Some(match base.envelope.event_type.as_str() {
        "routine_run.started" => AppEvent::Started(RoutineRunStartedEvent(base)),
        "routine_run.succeeded" => AppEvent::Succeeded(RoutineRunSucceededEvent(base)),
        "routine_run.failed" => AppEvent::Failed(RoutineRunFailedEvent(base)),
        _ => return None,
    })
}

fn team_event(base: EventBase) -> Option<TeamEvent> {
    Some(match base.envelope.event_type.as_str() {
        "member.joined" => TeamEvent::MemberJoined(MemberJoinedEvent(base)),
        "member.left" => TeamEvent::MemberLeft(MemberLeftEvent(base)),
        "member.role_changed" => TeamEvent::MemberRoleChanged(MemberRoleChangedEvent(base)),
        "thread.created" => TeamEvent::ThreadCreated(ThreadCreatedEvent(base)),
        "thread.updated" => TeamEvent::ThreadUpdated(ThreadUpdatedEvent(base)),
        "thread.deleted" => TeamEvent::ThreadDeleted(ThreadDeletedEvent(base)),
        "presence.changed" => TeamEvent::PresenceChanged(PresenceChangedEvent(base)),
        _ => return None,
    })
}

fn user_event(base: EventBase) -> Option<UserEvent> {
    Some(match base.envelope.event_type.as_str() {
        "thread.created" => UserEvent::ThreadCreated(ThreadCreatedEvent(base)),
        "thread.updated" => UserEvent::ThreadUpdated(ThreadUpdatedEvent(base)),
        "thread.deleted" => UserEvent::ThreadDeleted(ThreadDeletedEvent(base)),
        "participant.added" => UserEvent::ParticipantAdded(ParticipantAddedEvent(base)),
        "participant.removed" => UserEvent::ParticipantRemoved(ParticipantRemovedEvent(base)),
        "member.joined" => UserEvent::MemberJoined(MemberJoinedEvent(base)),
        "member.left" => UserEvent::MemberLeft(MemberLeftEvent(base)),
        "member.role_changed" => UserEvent::MemberRoleChanged(MemberRoleChangedEvent(base)),
        "thread.read" => UserEvent::ThreadRead(ThreadReadEvent(base)),
        _ => return None,
    })
}

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The viewer's own events. Needs a user's access token.
    async fn user_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<UserEvent>>, DomainError> {
        if let Some(rendered) = render_one(ctx, user_event) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let user = viewer.require_user()?;
        let feed = open_feed(ctx, &viewer, viewer.app(), Topic::User(user), after, None).await?;
        Ok(stream_or_hand_off(ctx, feed, user_event))
    }

    /// A team's events: members, threads, presence. Members and the secret key.
    async fn team_events(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<TeamEvent>>, DomainError> {
        if let Some(rendered) = render_one(ctx, team_event) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let team = TeamId::parse_field(&team_id, "teamId")?;
        let may_read = move |services: Services| async move {
            access::team(&services, &viewer, team, "teamId")
                .await
                .map(drop)
        };
        let feed = guarded_feed(ctx, &viewer, Topic::Team(team), after, may_read).await?;
        Ok(stream_or_hand_off(ctx, feed, team_event))
    }

    /// A thread's messages, participants and typing. Whoever may read the thread.
    async fn thread_events(
        &self,
        ctx: &Context<'_>,
        thread_id: ID,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<ThreadEvent>>, DomainError> {
        if let Some(rendered) = render_one(ctx, thread_event) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let thread = ThreadId::parse_field(&thread_id, "threadId")?;
        let may_read = move |services: Services| async move {
            access::thread(&services, &viewer, thread, "threadId")
                .await
                .map(drop)
        };
        let feed = guarded_feed(ctx, &viewer, Topic::Thread(thread), after, may_read).await?;
        Ok(stream_or_hand_off(ctx, feed, thread_event))
    }

    /// The app's routine runs as they start and end: for its secret key
    /// and developers, who name the app in `appId`.
    async fn app_events(
        &self,
        ctx: &Context<'_>,
        app_id: Option<ID>,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<AppEvent>>, DomainError> {
        if let Some(rendered) = render_one(ctx, app_event) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let (scope, _) = access::managed_app(
            services(ctx),
            &viewer,
            app_id.as_ref().map(|id| id.as_str()),
            AppAction::View,
        )
        .await?;
        let feed = open_feed(
            ctx,
            &viewer,
            scope,
            Topic::Builders(scope.app_id()),
            after,
            None,
        )
        .await?;
        Ok(stream_or_hand_off(ctx, feed, app_event))
    }
}

/// Put in a subscription's request by the WebSocket handler, which delivers
/// the feed itself so that subscribers who ask the same share each event's
/// rendering (`http::shared_delivery`): the resolver checks access, opens
/// the feed, and leaves it here instead of streaming it.
#[derive(Default)]
pub(crate) struct FeedHandoff(std::sync::Mutex<Option<HandedFeed>>);

pub(crate) struct HandedFeed {
    pub feed: Feed,
    pub shows: ShowsEvent,
}

/// Whether the subscription's union shows an event of this type.
pub(crate) type ShowsEvent = Box<dyn Fn(&Arc<Envelope>) -> bool + Send + Sync>;

impl FeedHandoff {
    pub(crate) fn take(&self) -> Option<HandedFeed> {
        self.0.lock().ok().and_then(|mut handed| handed.take())
    }
}

/// Put in a request that renders one event of a handed-off feed: the
/// subscription field yields just that event, with the feed's position.
pub(crate) struct RenderEvent(std::sync::Mutex<Option<(Arc<Envelope>, i64)>>);

impl RenderEvent {
    pub(crate) fn new(envelope: Arc<Envelope>, position: i64) -> Self {
        Self(std::sync::Mutex::new(Some((envelope, position))))
    }
}

fn render_one<T: Send + 'static>(
    ctx: &Context<'_>,
    select: fn(EventBase) -> Option<T>,
) -> Option<BoxStream<'static, GqlResult<T>>> {
    let event = ctx
        .data_opt::<RenderEvent>()?
        .0
        .lock()
        .ok()
        .and_then(|mut event| event.take());
    let rendered =
        event.and_then(|(envelope, position)| select(EventBase::new(envelope, position)));
    Some(futures::stream::iter(rendered.map(Ok)).boxed())
}

fn stream_or_hand_off<T: Send + 'static>(
    ctx: &Context<'_>,
    feed: Feed,
    select: fn(EventBase) -> Option<T>,
) -> BoxStream<'static, GqlResult<T>> {
    let Some(handoff) = ctx.data_opt::<Arc<FeedHandoff>>() else {
        return typed(feed, select).boxed();
    };
    let shows = Box::new(move |envelope: &Arc<Envelope>| {
        select(EventBase::new(envelope.clone(), 0)).is_some()
    });
    if let Ok(mut handed) = handoff.0.lock() {
        *handed = Some(HandedFeed { feed, shows });
    }
    futures::stream::empty().boxed()
}

/// A team's or thread's feed: `may_read` is checked at subscribe time, and
/// again whenever the feed learns that access may have changed, where a
/// failure ends the feed.
async fn guarded_feed<Check>(
    ctx: &Context<'_>,
    viewer: &Viewer,
    topic: Topic,
    after: Option<String>,
    may_read: impl Fn(Services) -> Check + Send + Sync + 'static,
) -> GqlResult<Feed>
where
    Check: Future<Output = DomainResult<()>> + Send + 'static,
{
    let services = services(ctx).clone();
    may_read(services.clone()).await?;
    let recheck: AccessCheck = Box::new(move || {
        let checked = may_read(services.clone());
        Box::pin(async move { checked.await.map_err(lost_access) })
    });
    open_feed(ctx, viewer, viewer.app(), topic, after, Some(recheck)).await
}

fn lost_access(error: DomainError) -> DomainError {
    match error.code {
        orbit_domain::ErrorCode::NotFound => DomainError::forbidden("access to this topic ended")
            .with_field(error.field.unwrap_or_default()),
        _ => error,
    }
}

/// Put in a subscription's request by the WebSocket handler; fired once the
/// feed listens, so that the socket handles its next frame (a `ping`, say)
/// only after that: a client's pong then means "subscribed".
pub(crate) struct SubscriptionReady(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>);

impl SubscriptionReady {
    pub(crate) fn new(ready: tokio::sync::oneshot::Sender<()>) -> Self {
        Self(std::sync::Mutex::new(Some(ready)))
    }

    fn fire(&self) {
        let sender = self.0.lock().ok().and_then(|mut sender| sender.take());
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
    }
}

/// Subscribes to the broker first, then reads where the topic stands, so
/// that nothing committed in between falls through.
async fn open_feed(
    ctx: &Context<'_>,
    viewer: &Viewer,
    scope: AppScope,
    topic: Topic,
    after: Option<String>,
    check: Option<AccessCheck>,
) -> GqlResult<Feed> {
    let services = services(ctx);
    let key = topic.key();
    let live = services.broker().subscribe(&key).await;
    let position = outbox::position(services.db(), &key).await?;
    let (start_after, replay) = match after {
        Some(cursor) => {
            let after_seq = decode_cursor(&key, &cursor)?;
            if after_seq > position.last_seq {
                return Err(DomainError::bad_input(
                    "after",
                    "not a cursor of this subscription",
                ));
            }
            if !position.can_resume_after(after_seq) {
                return Err(DomainError::bad_input(
                    "after",
                    "this cursor is older than the event retention: resubscribe without `after` and refetch",
                ));
            }
            (after_seq, true)
        }
        None => (position.last_seq, false),
    };
    // Team and thread feeds also watch the viewer's own topic, where a
    // removal that ends their access is announced.
    let access = match (viewer.user(), check) {
        (Some(user), Some(check)) if !matches!(topic, Topic::User(_)) => Some(AccessWatch {
            user,
            user_topic: services.broker().subscribe(&Topic::User(user).key()).await,
            check,
        }),
        _ => None,
    };
    if let Some(ready) = ctx.data_opt::<SubscriptionReady>() {
        ready.fire();
    }
    Ok(Feed::new(
        services.clone(),
        scope,
        live,
        start_after,
        replay,
        access,
    ))
}

fn typed<T: Send + 'static>(
    feed: Feed,
    select: fn(EventBase) -> Option<T>,
) -> impl Stream<Item = GqlResult<T>> + Send + use<T> {
    feed.into_stream().filter_map(move |item: FeedItem| {
        let out = match item {
            Ok((envelope, position)) => select(EventBase::new(envelope, position)).map(Ok),
            Err(error) => Some(Err(error)),
        };
        std::future::ready(out)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_belong_to_their_topic() {
        let cursor = encode_cursor("thread:thr_a", 42);
        assert_eq!(decode_cursor("thread:thr_a", &cursor).unwrap(), 42);
        assert!(decode_cursor("thread:thr_b", &cursor).is_err());
        assert!(decode_cursor("thread:thr_a", "garbage!").is_err());
    }

    proptest::proptest! {
        #[test]
        fn event_cursors_never_panic_and_belong_to_their_topic(
            text in "\\PC{0,60}",
            seq in proptest::prelude::any::<i64>(),
            topic in "[a-z]{1,8}:[a-z0-9_#]{1,20}",
        ) {
            let _ = decode_cursor(&topic, &text);
            let cursor = encode_cursor(&topic, seq);
            if seq >= 0 {
                proptest::prop_assert_eq!(decode_cursor(&topic, &cursor).unwrap(), seq);
            }
            let other = format!("{topic}x");
            proptest::prop_assert!(decode_cursor(&other, &cursor).is_err());
        }
    }
}
