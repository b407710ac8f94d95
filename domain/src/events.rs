//! Event types and topics. The type names are part of the API: subscribers
//! see them in `type` and webhooks subscribe to them.

use serde_json::Value;

use crate::ids::{AppId, TeamId, ThreadId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    MessageCreated,
    MessageEdited,
    MessageDeleted,
    ThreadCreated,
    ThreadUpdated,
    ThreadDeleted,
    ParticipantAdded,
    ParticipantRemoved,
    MemberJoined,
    MemberLeft,
    MemberRoleChanged,
    ThreadRead,
    /// Internal: tells open sockets of the session (or of every session of
    /// the user, when the payload's `sessionId` is null) to close. Never
    /// delivered to subscribers.
    SessionRevoked,
    /// An agent's reply finished; its message was stored.
    AgentReplyCompleted,
    /// An agent's reply ended without an answer: failed or cancelled.
    AgentReplyFailed,
    /// Internal, on the app's topic: sockets opened with that API key
    /// (payload `keyId`) close. Never delivered to subscribers.
    ApiKeyRevoked,
    /// Internal, on the app's topic: the app is gone; every socket of it
    /// closes. Never delivered to subscribers.
    AppDeleted,
    /// A routine's run began (again, for a retried run).
    RoutineRunStarted,
    /// A routine's run did what it was for.
    RoutineRunSucceeded,
    /// A routine's run failed; its `error` says why.
    RoutineRunFailed,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageCreated => "message.created",
            EventType::MessageEdited => "message.edited",
            EventType::MessageDeleted => "message.deleted",
            EventType::ThreadCreated => "thread.created",
            EventType::ThreadUpdated => "thread.updated",
            EventType::ThreadDeleted => "thread.deleted",
            EventType::ParticipantAdded => "participant.added",
            EventType::ParticipantRemoved => "participant.removed",
            EventType::MemberJoined => "member.joined",
            EventType::MemberLeft => "member.left",
            EventType::MemberRoleChanged => "member.role_changed",
            EventType::ThreadRead => "thread.read",
            EventType::SessionRevoked => "session.revoked",
            EventType::AgentReplyCompleted => "agent_reply.completed",
            EventType::AgentReplyFailed => "agent_reply.failed",
            EventType::ApiKeyRevoked => "api_key.revoked",
            EventType::AppDeleted => "app.deleted",
            EventType::RoutineRunStarted => "routine_run.started",
            EventType::RoutineRunSucceeded => "routine_run.succeeded",
            EventType::RoutineRunFailed => "routine_run.failed",
        }
    }

    /// Events that only tell the server's own connections what changed:
    /// never shown to subscribers, nor sent to webhooks.
    pub fn is_internal(self) -> bool {
        matches!(
            self,
            EventType::SessionRevoked | EventType::ApiKeyRevoked | EventType::AppDeleted
        )
    }

    /// The type a webhook subscribes to by `name`, if webhooks carry it.
    pub fn webhook_type(name: &str) -> Option<EventType> {
        WEBHOOK_EVENT_TYPES
            .iter()
            .copied()
            .find(|event_type| event_type.as_str() == name)
    }

    /// Whether webhooks carry this type.
    pub fn goes_to_webhooks(self) -> bool {
        WEBHOOK_EVENT_TYPES.contains(&self)
    }
}

/// The stored events apps may receive by webhook: one line each, so offering
/// a new type to webhooks is a line here. Internal types (`session.revoked`)
/// stay out, and ephemeral ones (typing, presence, reply deltas) are never
/// stored, so never sent.
pub const WEBHOOK_EVENT_TYPES: &[EventType] = &[
    EventType::MessageCreated,
    EventType::MessageEdited,
    EventType::MessageDeleted,
    EventType::ThreadCreated,
    EventType::ThreadUpdated,
    EventType::ThreadDeleted,
    EventType::ParticipantAdded,
    EventType::ParticipantRemoved,
    EventType::MemberJoined,
    EventType::MemberLeft,
    EventType::MemberRoleChanged,
    EventType::ThreadRead,
    EventType::AgentReplyCompleted,
    EventType::AgentReplyFailed,
    EventType::RoutineRunStarted,
    EventType::RoutineRunSucceeded,
    EventType::RoutineRunFailed,
];

/// A piece of an agent's reply as it streams: published on the thread's
/// topic, never stored (the finished reply is, with `agent_reply.completed`).
pub const AGENT_REPLY_DELTA: &str = "agent_reply.delta";

/// A topic subscribers listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    User(UserId),
    Team(TeamId),
    Thread(ThreadId),
    /// The app's own internal topic: what every connection of the app must
    /// hear (a revoked key, the app deleted). No subscription reads it.
    App(AppId),
    /// What the app's builders follow (its routines' runs): its secret key
    /// and developers subscribe (`appEvents`), never its users. Apart from
    /// the internal topic, which every socket of the app listens on.
    Builders(AppId),
}

impl Topic {
    pub fn key(self) -> String {
        match self {
            Topic::User(id) => format!("user:{id}"),
            Topic::Team(id) => format!("team:{id}"),
            Topic::Thread(id) => format!("thread:{id}"),
            Topic::App(id) => format!("app:{id}"),
            Topic::Builders(id) => format!("builders:{id}"),
        }
    }
}

/// An event to be written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub topic: Topic,
    pub event_type: EventType,
    pub payload: Value,
}

impl NewEvent {
    pub fn new(topic: Topic, event_type: EventType, payload: Value) -> Self {
        Self {
            topic,
            event_type,
            payload,
        }
    }
}
