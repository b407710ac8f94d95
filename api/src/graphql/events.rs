//! The events subscriptions stream (`subscriptions.rs`): each topic's
//! union of typed events; every event implements `Event`,
//! whose `cursor` resumes the subscription behind it (`after:`).
//!
//! Each GraphQL event object reads one payload type of
//! `orbit_domain::events::Event` and names the event types it shows; each
//! topic's union lists its objects, and picks the object for an event from
//! those names. A new event type is its definition in the domain, its
//! object here (with `event_object!`) and a line in the unions that show it.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Interface, Object, Union};
use chrono::{DateTime, Utc};
use orbit_domain::DomainError;
use orbit_domain::entities::message;
use orbit_domain::events::{
    Event as DomainEvent, EventType, Membership, MessageSnapshot, Participation, Presence,
    ReadMarker, ReplyDelta, ReplyEnded, RunSnapshot, ThreadSnapshot, ToolCallStep, Typing,
};
use orbit_domain::ids::{AppId, AppScope, ThreadId};
use orbit_persistence::agent_replies;

use super::agents::{AgentNode, AgentReplyNode, AgentReplyStatus, TokenUsage, load_agent};
use super::loaders::ThreadLoader;
use super::matched::Matched;
use super::routines::{RoutineRunCause, RoutineRunStatus};
use super::scalars::Json;
use super::types::{MessageNode, TeamRole, ThreadNode, UserNode, load_user};
use super::{GqlResult, loader, loader_error, services};
use crate::realtime::envelope::Envelope;
use crate::realtime::subscribe::encode_cursor;

/// What every event carries. The envelope is shared with every other local
/// subscriber of the topic.
pub struct EventBase {
    envelope: Arc<Envelope>,
    /// Where the subscriber resumes behind this event (its cursor, which is
    /// made only when selected).
    position: i64,
}

impl EventBase {
    pub(super) fn new(envelope: Arc<Envelope>, position: i64) -> Self {
        Self { envelope, position }
    }

    fn cursor(&self) -> String {
        encode_cursor(&self.envelope.topic, self.position)
    }

    fn event(&self) -> &DomainEvent {
        &self.envelope.event
    }

    fn event_type(&self) -> EventType {
        self.envelope.event_type()
    }

    /// The message as it was when the event happened; it travels whole in
    /// the payload so that no subscriber reads it back.
    fn message(&self, message: &MessageSnapshot) -> MessageNode {
        MessageNode(message::Model {
            id: message.message_id.uuid(),
            app_id: self.envelope.app,
            thread_id: message.thread_id.uuid(),
            author_user_id: message.author_id.map(|user| user.uuid()),
            author_agent_id: message.author_agent_id.map(|agent| agent.uuid()),
            content: message.content.clone(),
            metadata: message.metadata.clone(),
            status: message.status.clone(),
            idempotency_key: None,
            created_at: message.created_at,
            edited_at: message.edited_at,
            deleted_at: message.deleted_at,
            model: message.model.clone(),
            prompt_tokens: message.prompt_tokens,
            completion_tokens: message.completion_tokens,
        })
    }
}

async fn thread_node(ctx: &Context<'_>, thread: ThreadId) -> GqlResult<Option<ThreadNode>> {
    Ok(loader::<ThreadLoader>(ctx)
        .load_one(thread.uuid())
        .await
        .map_err(loader_error)?
        .map(ThreadNode))
}

fn id(value: impl std::fmt::Display) -> ID {
    ID(value.to_string())
}

/// A GraphQL event object: the fields every event has, then its own, read
/// from its payload type (`data()`), for the event types it names.
macro_rules! event_object {
    ($(#[$doc:meta])* $name:ident, $graphql_name:literal, $payload:ty, [$($variant:ident),+] { $($fields:tt)* }) => {
        $(#[$doc])*
        pub struct $name(EventBase);

        impl $name {
            /// The event types this object shows.
            const TYPES: &'static [EventType] = &[$(EventType::$variant),+];

            fn data(&self) -> GqlResult<&$payload> {
                match self.0.event() {
                    $(DomainEvent::$variant(data))|+ => Ok(data),
                    _ => Err(DomainError::internal(concat!("not an event of ", $graphql_name))),
                }
            }
        }

        #[Object(name = $graphql_name)]
        impl $name {
            /// Pass as `after` to resume behind this event.
            async fn cursor(&self) -> String {
                self.0.cursor()
            }
            /// Dotted lower case, as webhooks name it: `message.created`, ...
            #[graphql(name = "type")]
            async fn event_type(&self) -> &str {
                self.0.event_type().as_str()
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
    MessageCreatedEvent, "MessageCreatedEvent", MessageSnapshot, [MessageCreated] {
    async fn message(&self) -> GqlResult<Option<MessageNode>> { Ok(Some(self.0.message(self.data()?))) }
});
event_object!(
    /// `message.edited`
    MessageEditedEvent, "MessageEditedEvent", MessageSnapshot, [MessageEdited] {
    async fn message(&self) -> GqlResult<Option<MessageNode>> { Ok(Some(self.0.message(self.data()?))) }
});
event_object!(
    /// `message.deleted`: the message as deleted (no content).
    MessageDeletedEvent, "MessageDeletedEvent", MessageSnapshot, [MessageDeleted] {
    async fn message(&self) -> GqlResult<Option<MessageNode>> { Ok(Some(self.0.message(self.data()?))) }
});
event_object!(
    /// `thread.created`
    ThreadCreatedEvent, "ThreadCreatedEvent", ThreadSnapshot, [ThreadCreated] {
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    /// Null if it was deleted since.
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> { thread_node(ctx, self.data()?.thread_id).await }
});
event_object!(
    /// `thread.updated`
    ThreadUpdatedEvent, "ThreadUpdatedEvent", ThreadSnapshot, [ThreadUpdated] {
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    /// The title after the change.
    async fn title(&self) -> GqlResult<Option<&str>> { Ok(Some(self.data()?.title.as_str())) }
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> { thread_node(ctx, self.data()?.thread_id).await }
});
event_object!(
    /// `thread.deleted`: a `threadEvents` subscription completes after it.
    ThreadDeletedEvent, "ThreadDeletedEvent", ThreadSnapshot, [ThreadDeleted] {
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
});
event_object!(
    /// `participant.added`: a user (`userId`) or an agent (`agentId`).
    ParticipantAddedEvent, "ParticipantAddedEvent", Participation, [ParticipantAdded] {
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    async fn user_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.user_id.map(id)) }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        match self.data()?.user_id { Some(user) => load_user(ctx, user.uuid()).await, None => Ok(None) }
    }
    async fn agent_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.agent_id.map(id)) }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> {
        match self.data()?.agent_id { Some(agent) => load_agent(ctx, agent.uuid()).await, None => Ok(None) }
    }
});
event_object!(
    /// `participant.removed`: a user (`userId`) or an agent (`agentId`).
    ParticipantRemovedEvent, "ParticipantRemovedEvent", Participation, [ParticipantRemoved] {
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    async fn user_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.user_id.map(id)) }
    async fn agent_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.agent_id.map(id)) }
});
event_object!(
    /// `agent_reply.delta`: the next piece of an agent's reply as it
    /// streams. Ephemeral: never stored nor replayed; `agent_reply.completed`
    /// or `agent_reply.failed` ends every reply and is stored. Pieces of one
    /// attempt come in `sequence` order from 1; a higher `attempt` starts
    /// the reply over (its process stopped and another took it on).
    AgentReplyDeltaEvent, "AgentReplyDeltaEvent", ReplyDelta, [AgentReplyDelta] {
    async fn reply_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.reply_id)) }
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    async fn agent_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.agent_id))) }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { load_agent(ctx, self.data()?.agent_id.uuid()).await }
    async fn trigger_message_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.trigger_message_id.map(id)) }
    async fn attempt(&self) -> GqlResult<i32> { Ok(self.data()?.attempt) }
    async fn sequence(&self) -> GqlResult<i32> { Ok(i32::try_from(self.data()?.sequence).unwrap_or(i32::MAX)) }
    /// The text to append.
    async fn delta(&self) -> GqlResult<&str> { Ok(self.data()?.delta.as_str()) }
});
event_object!(
    /// `agent_reply.completed`: the reply is whole and stored as `message`
    /// (which also comes as `message.created`).
    AgentReplyCompletedEvent, "AgentReplyCompletedEvent", ReplyEnded, [AgentReplyCompleted] {
    async fn reply_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.reply_id)) }
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    async fn agent_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.agent_id))) }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { load_agent(ctx, self.data()?.agent_id.uuid()).await }
    async fn trigger_message_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.trigger_message_id.map(id)) }
    async fn attempt(&self) -> GqlResult<i32> { Ok(self.data()?.attempt) }
    async fn message(&self) -> GqlResult<Option<MessageNode>> {
        let message = self.data()?.message.as_ref()
            .ok_or_else(|| DomainError::internal("a completed reply without its message"))?;
        Ok(Some(self.0.message(message)))
    }
    async fn usage(&self) -> GqlResult<Option<TokenUsage>> {
        Ok(self.data()?.message.as_ref().and_then(|message| TokenUsage::of(message.prompt_tokens, message.completion_tokens)))
    }
});
event_object!(
    /// `agent_reply.failed`: the reply ended without an answer, FAILED (the
    /// provider failed; `error` says why) or CANCELLED. `message` holds
    /// what the agent said before, when it said anything.
    AgentReplyFailedEvent, "AgentReplyFailedEvent", ReplyEnded, [AgentReplyFailed] {
    async fn reply_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.reply_id)) }
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    async fn agent_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.agent_id))) }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { load_agent(ctx, self.data()?.agent_id.uuid()).await }
    async fn trigger_message_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.trigger_message_id.map(id)) }
    async fn attempt(&self) -> GqlResult<i32> { Ok(self.data()?.attempt) }
    /// FAILED or CANCELLED.
    async fn reply_status(&self) -> GqlResult<AgentReplyStatus> {
        Ok(if self.data()?.status == "cancelled" { AgentReplyStatus::Cancelled } else { AgentReplyStatus::Failed })
    }
    #[graphql(deprecation = "use replyStatus: a selection of the ThreadEvent union cannot take `status` from this event and a routine run's (two types)")]
    async fn status(&self) -> GqlResult<AgentReplyStatus> {
        Ok(if self.data()?.status == "cancelled" { AgentReplyStatus::Cancelled } else { AgentReplyStatus::Failed })
    }
    async fn error(&self) -> GqlResult<Option<&str>> { Ok(self.data()?.error.as_deref()) }
    async fn message(&self) -> GqlResult<Option<MessageNode>> {
        Ok(self.data()?.message.as_ref().map(|message| self.0.message(message)))
    }
});
/// The fields every `agent_reply.tool_call.*` event carries: the call as it
/// stood.
macro_rules! tool_call_event {
    ($(#[$doc:meta])* $name:ident, $graphql_name:literal, $variant:ident) => {
        event_object!(
            $(#[$doc])*
            $name, $graphql_name, ToolCallStep, [$variant] {
            async fn reply_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.reply_id)) }
            /// The reply making the call; null once it is gone (its agent deleted).
            async fn reply(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentReplyNode>> {
                let scope = AppScope::new(AppId(self.0.envelope.app));
                let reply = agent_replies::find(services(ctx).db(), scope, self.data()?.reply_id).await?;
                Ok(reply.map(AgentReplyNode))
            }
            async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
            async fn agent_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.agent_id))) }
            async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { load_agent(ctx, self.data()?.agent_id.uuid()).await }
            async fn attempt(&self) -> GqlResult<i32> { Ok(self.data()?.attempt) }
            /// The model's id for the call: `AgentReply.steps` has it too.
            async fn call_id(&self) -> GqlResult<&str> { Ok(self.data()?.call_id.as_str()) }
            /// The model turn that asked for it, from 0.
            async fn step(&self) -> GqlResult<i32> { Ok(self.data()?.step) }
            async fn tool_name(&self) -> GqlResult<&str> { Ok(self.data()?.tool_name.as_str()) }
            async fn tool_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.tool_id.map(id)) }
            /// As the model sent them (a string when they were not JSON).
            async fn arguments(&self) -> GqlResult<Json> { Ok(Json(self.data()?.arguments.clone())) }
            /// What the tool answered: set on `agent_reply.tool_call.completed`.
            async fn result(&self) -> GqlResult<Option<Json>> { Ok(self.data()?.result.clone().map(Json)) }
            /// Why it failed: set on `agent_reply.tool_call.failed`.
            async fn error(&self) -> GqlResult<Option<&str>> { Ok(self.data()?.error.as_deref()) }
            /// For a call that waits for approval: when it counts as
            /// refused if no one decided (`decideToolCall`).
            async fn approval_expires_at(&self) -> GqlResult<Option<DateTime<Utc>>> { Ok(self.data()?.approval_expires_at) }
        });
    };
}

tool_call_event!(
    /// `agent_reply.tool_call.started`: an agent's reply is calling a tool.
    AgentToolCallStartedEvent, "AgentToolCallStartedEvent", AgentToolCallStarted
);
tool_call_event!(
    /// `agent_reply.tool_call.completed`: the tool answered (`result`).
    AgentToolCallCompletedEvent, "AgentToolCallCompletedEvent", AgentToolCallCompleted
);
tool_call_event!(
    /// `agent_reply.tool_call.failed`: the call failed (`error`, as the
    /// model was told): the tool failed or timed out, or the model named a
    /// tool the agent lacks or sent arguments that do not fit.
    AgentToolCallFailedEvent, "AgentToolCallFailedEvent", AgentToolCallFailed
);
tool_call_event!(
    /// `agent_reply.approval_requested`: the call's tool requires approval.
    /// The reply pauses until someone answers with `decideToolCall` or
    /// `approvalExpiresAt` passes (then the call counts as refused).
    AgentApprovalRequestedEvent, "AgentApprovalRequestedEvent", AgentApprovalRequested
);

/// The fields every `routine_run.*` event carries: the run as it stood.
macro_rules! routine_run_event {
    ($(#[$doc:meta])* $name:ident, $graphql_name:literal, $variant:ident) => {
        event_object!(
            $(#[$doc])*
            $name, $graphql_name, RunSnapshot, [$variant] {
            async fn run_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.run_id)) }
            async fn routine_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.routine_id)) }
            async fn routine_name(&self) -> GqlResult<Option<&str>> { Ok(self.data()?.routine_name.as_deref()) }
            async fn agent_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.agent_id))) }
            /// The thread the routine writes into, if it does.
            async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.thread_id.map(id)) }
            async fn run_status(&self) -> GqlResult<RoutineRunStatus> { Ok(RoutineRunStatus::of(&self.data()?.status)) }
            #[graphql(deprecation = "use runStatus: a selection of the ThreadEvent union cannot take `status` from this event and an agent reply's (two types)")]
            async fn status(&self) -> GqlResult<RoutineRunStatus> { Ok(RoutineRunStatus::of(&self.data()?.status)) }
            async fn cause(&self) -> GqlResult<RoutineRunCause> { Ok(RoutineRunCause::of(&self.data()?.cause)) }
            async fn attempt(&self) -> GqlResult<i32> { Ok(self.data()?.attempt) }
            async fn scheduled_for(&self) -> GqlResult<Option<DateTime<Utc>>> { Ok(self.data()?.scheduled_for) }
            async fn started_at(&self) -> GqlResult<Option<DateTime<Utc>>> { Ok(self.data()?.started_at) }
            async fn finished_at(&self) -> GqlResult<Option<DateTime<Utc>>> { Ok(self.data()?.finished_at) }
            async fn output(&self) -> GqlResult<Option<&str>> { Ok(self.data()?.output.as_deref()) }
            async fn error(&self) -> GqlResult<Option<&str>> { Ok(self.data()?.error.as_deref()) }
            async fn http_status(&self) -> GqlResult<Option<i32>> { Ok(self.data()?.http_status) }
            async fn message_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.message_id.map(id)) }
        });
    };
}

routine_run_event!(
    /// `routine_run.started`: a run began (again, with a higher `attempt`,
    /// when another process took it over).
    RoutineRunStartedEvent, "RoutineRunStartedEvent", RoutineRunStarted
);
routine_run_event!(
    /// `routine_run.succeeded`
    RoutineRunSucceededEvent, "RoutineRunSucceededEvent", RoutineRunSucceeded
);
routine_run_event!(
    /// `routine_run.failed`: `error` says why.
    RoutineRunFailedEvent, "RoutineRunFailedEvent", RoutineRunFailed
);

event_object!(
    /// `member.joined`
    MemberJoinedEvent, "MemberJoinedEvent", Membership, [MemberJoined] {
    async fn team_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.team_id)) }
    async fn user_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.user_id))) }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { load_user(ctx, self.data()?.user_id.uuid()).await }
    async fn role(&self) -> GqlResult<Option<TeamRole>> { Ok(self.data()?.role.map(TeamRole::from)) }
});
event_object!(
    /// `member.left`: removed, left, or the team was deleted.
    MemberLeftEvent, "MemberLeftEvent", Membership, [MemberLeft] {
    async fn team_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.team_id)) }
    async fn user_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.user_id))) }
});
event_object!(
    /// `member.role_changed`
    MemberRoleChangedEvent, "MemberRoleChangedEvent", Membership, [MemberRoleChanged] {
    async fn team_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.team_id)) }
    async fn user_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.user_id))) }
    async fn role(&self) -> GqlResult<Option<TeamRole>> { Ok(self.data()?.role.map(TeamRole::from)) }
});
event_object!(
    /// `thread.read`: the viewer's read marker moved (on their own topic).
    ThreadReadEvent, "ThreadReadEvent", ReadMarker, [ThreadRead] {
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    async fn message_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.message_id)) }
});
event_object!(
    /// `typing.started` / `typing.stopped`: ephemeral, never replayed.
    TypingEvent, "TypingEvent", Typing, [TypingStarted, TypingStopped] {
    async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.thread_id))) }
    async fn user_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.user_id))) }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { load_user(ctx, self.data()?.user_id.uuid()).await }
    async fn typing(&self) -> bool { self.0.event_type() == EventType::TypingStarted }
});
event_object!(
    /// `presence.changed`: ephemeral, never replayed.
    PresenceChangedEvent, "PresenceChangedEvent", Presence, [PresenceChanged] {
    async fn user_id(&self) -> GqlResult<Option<ID>> { Ok(Some(id(self.data()?.user_id))) }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { load_user(ctx, self.data()?.user_id.uuid()).await }
    async fn status(&self) -> GqlResult<PresenceStatus> { Ok(PresenceStatus::of(&self.data()?.status)) }
});

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "PresenceStatus")]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

impl PresenceStatus {
    fn of(text: &str) -> Self {
        match text {
            "online" => PresenceStatus::Online,
            "away" => PresenceStatus::Away,
            _ => PresenceStatus::Offline,
        }
    }
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
    AgentToolCallStarted(AgentToolCallStartedEvent),
    AgentToolCallCompleted(AgentToolCallCompletedEvent),
    AgentToolCallFailed(AgentToolCallFailedEvent),
    AgentApprovalRequested(AgentApprovalRequestedEvent),
    RoutineRunStarted(RoutineRunStartedEvent),
    RoutineRunSucceeded(RoutineRunSucceededEvent),
    RoutineRunFailed(RoutineRunFailedEvent),
}

/// A topic's union: the objects it shows. An event none of them names
/// (internal ones included) is skipped.
macro_rules! event_union {
    ($(#[$doc:meta])* $union:ident, $graphql_name:literal { $($object:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Union)]
        #[graphql(name = $graphql_name)]
        // Variants named as the objects they hold, which end in `Event`.
        #[allow(clippy::enum_variant_names)]
        pub enum $union {
            $($object($object)),+
        }

        impl $union {
            pub(super) fn select(base: EventBase) -> Option<Matched<Self>> {
                let event_type = base.event_type();
                $(
                    if $object::TYPES.contains(&event_type) {
                        return Some(Matched($union::$object($object(base))));
                    }
                )+
                None
            }
        }
    };
}

event_union!(
    /// What happens in a thread.
    ThreadEvent, "ThreadEvent" {
    MessageCreatedEvent,
    MessageEditedEvent,
    MessageDeletedEvent,
    ThreadUpdatedEvent,
    ThreadDeletedEvent,
    ParticipantAddedEvent,
    ParticipantRemovedEvent,
    TypingEvent,
    AgentReplyDeltaEvent,
    AgentReplyCompletedEvent,
    AgentReplyFailedEvent,
    AgentToolCallStartedEvent,
    AgentToolCallCompletedEvent,
    AgentToolCallFailedEvent,
    AgentApprovalRequestedEvent,
    RoutineRunStartedEvent,
    RoutineRunSucceededEvent,
    RoutineRunFailedEvent,
});

event_union!(
    /// What the app's builders follow: its routines' runs.
    AppEvent, "AppEvent" {
    RoutineRunStartedEvent,
    RoutineRunSucceededEvent,
    RoutineRunFailedEvent,
});

event_union!(
    /// What happens in a team: its members, its threads, who is online.
    TeamEvent, "TeamEvent" {
    MemberJoinedEvent,
    MemberLeftEvent,
    MemberRoleChangedEvent,
    ThreadCreatedEvent,
    ThreadUpdatedEvent,
    ThreadDeletedEvent,
    PresenceChangedEvent,
});

event_union!(
    /// What happens to the viewer: their own threads, memberships, read markers.
    UserEvent, "UserEvent" {
    ThreadCreatedEvent,
    ThreadUpdatedEvent,
    ThreadDeletedEvent,
    ParticipantAddedEvent,
    ParticipantRemovedEvent,
    MemberJoinedEvent,
    MemberLeftEvent,
    MemberRoleChangedEvent,
    ThreadReadEvent,
});
