//! Event types and topics. The type names are part of the API: subscribers
//! see them in `type` and webhooks subscribe to them.

use serde_json::Value;

use crate::ids::{TeamId, ThreadId, UserId};

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
        }
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
];

/// A topic subscribers listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    User(UserId),
    Team(TeamId),
    Thread(ThreadId),
}

impl Topic {
    pub fn key(self) -> String {
        match self {
            Topic::User(id) => format!("user:{id}"),
            Topic::Team(id) => format!("team:{id}"),
            Topic::Thread(id) => format!("thread:{id}"),
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
