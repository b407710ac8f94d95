//! Subscriptions: `userEvents`, `teamEvents`, `threadEvents`, `appEvents`.
//! Each returns a union of typed events; every event implements `Event`,
//! whose `cursor` resumes the subscription behind it (`after:`).
//!
//! Each GraphQL event object reads one payload type of
//! `orbit_domain::events::Event` and names the event types it shows; each
//! topic's union lists its objects, and picks the object for an event from
//! those names. A new event type is its definition in the domain, its
//! object here (with `event_object!`) and a line in the unions that show it.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Interface, Object, Subscription, Union};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use orbit_domain::entities::message;
use orbit_domain::events::{
    Event as DomainEvent, EventType, Membership, MessageSnapshot, Participation, Presence,
    ReadMarker, ReplyDelta, ReplyEnded, RunSnapshot, ThreadSnapshot, Topic, Typing,
};
use orbit_domain::ids::{AppScope, TeamId, ThreadId};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::outbox;

use super::agents::{AgentNode, AgentReplyStatus, TokenUsage, load_agent};
use super::loaders::ThreadLoader;
use super::matched::Matched;
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

/// What every event carries. The envelope is shared with every other local
/// subscriber of the topic.
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
    async fn message(&self) -> GqlResult<MessageNode> { Ok(self.0.message(self.data()?)) }
});
event_object!(
    /// `message.edited`
    MessageEditedEvent, "MessageEditedEvent", MessageSnapshot, [MessageEdited] {
    async fn message(&self) -> GqlResult<MessageNode> { Ok(self.0.message(self.data()?)) }
});
event_object!(
    /// `message.deleted`: the message as deleted (no content).
    MessageDeletedEvent, "MessageDeletedEvent", MessageSnapshot, [MessageDeleted] {
    async fn message(&self) -> GqlResult<MessageNode> { Ok(self.0.message(self.data()?)) }
});
event_object!(
    /// `thread.created`
    ThreadCreatedEvent, "ThreadCreatedEvent", ThreadSnapshot, [ThreadCreated] {
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
    /// Null if it was deleted since.
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> { thread_node(ctx, self.data()?.thread_id).await }
});
event_object!(
    /// `thread.updated`
    ThreadUpdatedEvent, "ThreadUpdatedEvent", ThreadSnapshot, [ThreadUpdated] {
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
    /// The title after the change.
    async fn title(&self) -> GqlResult<Option<&str>> { Ok(Some(self.data()?.title.as_str())) }
    async fn thread(&self, ctx: &Context<'_>) -> GqlResult<Option<ThreadNode>> { thread_node(ctx, self.data()?.thread_id).await }
});
event_object!(
    /// `thread.deleted`: a `threadEvents` subscription completes after it.
    ThreadDeletedEvent, "ThreadDeletedEvent", ThreadSnapshot, [ThreadDeleted] {
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
});
event_object!(
    /// `participant.added`: a user (`userId`) or an agent (`agentId`).
    ParticipantAddedEvent, "ParticipantAddedEvent", Participation, [ParticipantAdded] {
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
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
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
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
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
    async fn agent_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.agent_id)) }
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
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
    async fn agent_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.agent_id)) }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { load_agent(ctx, self.data()?.agent_id.uuid()).await }
    async fn trigger_message_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.trigger_message_id.map(id)) }
    async fn attempt(&self) -> GqlResult<i32> { Ok(self.data()?.attempt) }
    async fn message(&self) -> GqlResult<MessageNode> {
        let message = self.data()?.message.as_ref()
            .ok_or_else(|| DomainError::internal("a completed reply without its message"))?;
        Ok(self.0.message(message))
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
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
    async fn agent_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.agent_id)) }
    async fn agent(&self, ctx: &Context<'_>) -> GqlResult<Option<AgentNode>> { load_agent(ctx, self.data()?.agent_id.uuid()).await }
    async fn trigger_message_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.trigger_message_id.map(id)) }
    async fn attempt(&self) -> GqlResult<i32> { Ok(self.data()?.attempt) }
    async fn status(&self) -> GqlResult<AgentReplyStatus> {
        Ok(if self.data()?.status == "cancelled" { AgentReplyStatus::Cancelled } else { AgentReplyStatus::Failed })
    }
    async fn error(&self) -> GqlResult<Option<&str>> { Ok(self.data()?.error.as_deref()) }
    async fn message(&self) -> GqlResult<Option<MessageNode>> {
        Ok(self.data()?.message.as_ref().map(|message| self.0.message(message)))
    }
});
/// The fields every `routine_run.*` event carries: the run as it stood.
macro_rules! routine_run_event {
    ($(#[$doc:meta])* $name:ident, $graphql_name:literal, $variant:ident) => {
        event_object!(
            $(#[$doc])*
            $name, $graphql_name, RunSnapshot, [$variant] {
            async fn run_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.run_id)) }
            async fn routine_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.routine_id)) }
            async fn routine_name(&self) -> GqlResult<Option<&str>> { Ok(self.data()?.routine_name.as_deref()) }
            async fn agent_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.agent_id)) }
            /// The thread the routine writes into, if it does.
            async fn thread_id(&self) -> GqlResult<Option<ID>> { Ok(self.data()?.thread_id.map(id)) }
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
    async fn user_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.user_id)) }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { load_user(ctx, self.data()?.user_id.uuid()).await }
    async fn role(&self) -> GqlResult<Option<TeamRole>> { Ok(self.data()?.role.map(TeamRole::from)) }
});
event_object!(
    /// `member.left`: removed, left, or the team was deleted.
    MemberLeftEvent, "MemberLeftEvent", Membership, [MemberLeft] {
    async fn team_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.team_id)) }
    async fn user_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.user_id)) }
});
event_object!(
    /// `member.role_changed`
    MemberRoleChangedEvent, "MemberRoleChangedEvent", Membership, [MemberRoleChanged] {
    async fn team_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.team_id)) }
    async fn user_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.user_id)) }
    async fn role(&self) -> GqlResult<Option<TeamRole>> { Ok(self.data()?.role.map(TeamRole::from)) }
});
event_object!(
    /// `thread.read`: the viewer's read marker moved (on their own topic).
    ThreadReadEvent, "ThreadReadEvent", ReadMarker, [ThreadRead] {
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
    async fn message_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.message_id)) }
});
event_object!(
    /// `typing.started` / `typing.stopped`: ephemeral, never replayed.
    TypingEvent, "TypingEvent", Typing, [TypingStarted, TypingStopped] {
    async fn thread_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.thread_id)) }
    async fn user_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.user_id)) }
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> { load_user(ctx, self.data()?.user_id.uuid()).await }
    async fn typing(&self) -> bool { self.0.event_type() == EventType::TypingStarted }
});
event_object!(
    /// `presence.changed`: ephemeral, never replayed.
    PresenceChangedEvent, "PresenceChangedEvent", Presence, [PresenceChanged] {
    async fn user_id(&self) -> GqlResult<ID> { Ok(id(self.data()?.user_id)) }
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
            fn select(base: EventBase) -> Option<Matched<Self>> {
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

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The viewer's own events. Needs a user's access token.
    async fn user_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<UserEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, UserEvent::select) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let user = viewer.require_user()?;
        let feed = open_feed(ctx, &viewer, viewer.app(), Topic::User(user), after, None).await?;
        Ok(stream_or_hand_off(ctx, feed, UserEvent::select))
    }

    /// A team's events: members, threads, presence. Members and the secret key.
    async fn team_events(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<TeamEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, TeamEvent::select) {
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
        Ok(stream_or_hand_off(ctx, feed, TeamEvent::select))
    }

    /// A thread's messages, participants and typing. Whoever may read the thread.
    async fn thread_events(
        &self,
        ctx: &Context<'_>,
        thread_id: ID,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<ThreadEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, ThreadEvent::select) {
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
        Ok(stream_or_hand_off(ctx, feed, ThreadEvent::select))
    }

    /// The app's routine runs as they start and end: for its secret key
    /// and developers, who name the app in `appId`.
    async fn app_events(
        &self,
        ctx: &Context<'_>,
        app_id: Option<ID>,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<AppEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, AppEvent::select) {
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
        Ok(stream_or_hand_off(ctx, feed, AppEvent::select))
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
