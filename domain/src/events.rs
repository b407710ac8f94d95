//! Events: what happened, one definition per type. Each type has its name
//! (part of the API: subscribers see it in `type`, webhooks subscribe to
//! it), its payload as a type, how far it travels ([`Reach`]) and its
//! topics. Producers build an [`Event`]; the log stores its name and its
//! payload as JSON; readers get the same [`Event`] back with
//! [`Event::from_parts`]. Adding a type is one line in [`define_events!`],
//! its payload type, and its topics in [`Event::topics`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{
    AgentId, AgentReplyId, ApiKeyId, AppId, MessageId, RoutineId, RoutineRunId, SessionId, TeamId,
    ThreadId, ToolId, UserId,
};
use crate::roles::TeamRole;

/// How far an event travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Stored in the log with its topic's next sequence number, replayed on
    /// resume, shown to subscribers; webhooks and routines may take it.
    Stored,
    /// Stored and published like [`Reach::Stored`], but only the server's
    /// own connections act on it (a revoked session's sockets close);
    /// never shown to subscribers nor sent anywhere.
    Internal,
    /// Published to the topic's subscribers at once and never stored, so
    /// never replayed (typing, presence, the pieces of a streaming reply).
    Ephemeral,
}

macro_rules! define_events {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $payload:ty, $reach:ident; )*) => {
        /// An event with its payload. Serialised as `{"type", "payload"}`,
        /// the form the broker carries.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "payload")]
        pub enum Event {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($payload), )*
        }

        /// An event's type without its payload: what webhooks subscribe to
        /// and routines trigger on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $( $(#[$doc])* $variant, )*
        }

        impl EventType {
            /// Every type, in definition order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }

            pub fn reach(self) -> Reach {
                match self { $(EventType::$variant => Reach::$reach,)* }
            }

            /// The type named `name`, if there is one.
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(EventType::$variant),)* _ => None }
            }
        }

        impl Event {
            pub fn event_type(&self) -> EventType {
                match self { $(Event::$variant(_) => EventType::$variant,)* }
            }

            /// The payload as stored and as webhooks carry it.
            pub fn payload(&self) -> Value {
                // Payloads are plain data (strings, numbers, times, JSON
                // values with string keys): serialising them cannot fail.
                match self { $(Event::$variant(payload) => serde_json::to_value(payload).unwrap_or(Value::Null),)* }
            }

            /// An event as the log stores it: its type's name and payload.
            pub fn from_parts(name: &str, payload: Value) -> Result<Self, EventDecodeError> {
                let malformed = |error: serde_json::Error| EventDecodeError::Payload {
                    event_type: name.to_owned(),
                    reason: error.to_string(),
                };
                match name {
                    $($name => serde_json::from_value(payload).map(Event::$variant).map_err(malformed),)*
                    other => Err(EventDecodeError::UnknownType(other.to_owned())),
                }
            }
        }
    };
}

define_events! {
    MessageCreated = "message.created", MessageSnapshot, Stored;
    MessageEdited = "message.edited", MessageSnapshot, Stored;
    /// The message as deleted: no content, no metadata.
    MessageDeleted = "message.deleted", MessageSnapshot, Stored;
    ThreadCreated = "thread.created", ThreadSnapshot, Stored;
    ThreadUpdated = "thread.updated", ThreadSnapshot, Stored;
    ThreadDeleted = "thread.deleted", ThreadSnapshot, Stored;
    ParticipantAdded = "participant.added", Participation, Stored;
    ParticipantRemoved = "participant.removed", Participation, Stored;
    MemberJoined = "member.joined", Membership, Stored;
    MemberLeft = "member.left", Membership, Stored;
    MemberRoleChanged = "member.role_changed", Membership, Stored;
    ThreadRead = "thread.read", ReadMarker, Stored;
    /// An agent's reply finished; its message was stored.
    AgentReplyCompleted = "agent_reply.completed", ReplyEnded, Stored;
    /// An agent's reply ended without an answer: failed or cancelled.
    AgentReplyFailed = "agent_reply.failed", ReplyEnded, Stored;
    /// An agent's reply is calling a tool.
    AgentToolCallStarted = "agent_reply.tool_call.started", ToolCallStep, Stored;
    /// A tool call answered; `result` holds what it said.
    AgentToolCallCompleted = "agent_reply.tool_call.completed", ToolCallStep, Stored;
    /// A tool call failed; `error` says why, as the model was told.
    AgentToolCallFailed = "agent_reply.tool_call.failed", ToolCallStep, Stored;
    /// A tool call waits for a person to approve it (`decideToolCall`)
    /// before `approvalExpiresAt`; the reply pauses meanwhile.
    AgentApprovalRequested = "agent_reply.approval_requested", ToolCallStep, Stored;
    /// A routine's run began (again, for a retried run).
    RoutineRunStarted = "routine_run.started", RunSnapshot, Stored;
    /// A routine's run did what it was for.
    RoutineRunSucceeded = "routine_run.succeeded", RunSnapshot, Stored;
    /// A routine's run failed; its `error` says why.
    RoutineRunFailed = "routine_run.failed", RunSnapshot, Stored;
    /// Open sockets of the session (or of every session of the user, when
    /// `sessionId` is null) close.
    SessionRevoked = "session.revoked", SessionRevocation, Internal;
    /// Sockets opened with that API key close.
    ApiKeyRevoked = "api_key.revoked", KeyRevocation, Internal;
    /// The app is gone; every socket of it closes.
    AppDeleted = "app.deleted", AppDeletion, Internal;
    TypingStarted = "typing.started", Typing, Ephemeral;
    TypingStopped = "typing.stopped", Typing, Ephemeral;
    /// Published on each team of the user, which the event does not name.
    PresenceChanged = "presence.changed", Presence, Ephemeral;
    /// The next piece of an agent's reply as it streams.
    AgentReplyDelta = "agent_reply.delta", ReplyDelta, Ephemeral;
}

impl EventType {
    /// Types only the server's own connections act on.
    pub fn is_internal(self) -> bool {
        self.reach() == Reach::Internal
    }

    /// Types written to the log (stored and internal ones).
    pub fn is_stored(self) -> bool {
        self.reach() != Reach::Ephemeral
    }

    /// The type a webhook subscribes to by `name`, if webhooks carry it.
    pub fn webhook_type(name: &str) -> Option<EventType> {
        EventType::parse(name).filter(|event_type| event_type.goes_to_webhooks())
    }

    /// Types that can take a user's access to a team or thread away: a
    /// feed that sees one about its viewer checks access again.
    pub fn may_end_access(self) -> bool {
        matches!(
            self,
            EventType::MemberLeft | EventType::ParticipantRemoved | EventType::ThreadDeleted
        )
    }

    /// Whether webhooks carry this type: every stored type that subscribers
    /// see (internal and ephemeral ones never leave the server's sockets).
    pub fn goes_to_webhooks(self) -> bool {
        self.reach() == Reach::Stored
    }
}

/// The stored events apps may receive by webhook, in definition order.
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
    EventType::AgentToolCallStarted,
    EventType::AgentToolCallCompleted,
    EventType::AgentToolCallFailed,
    EventType::AgentApprovalRequested,
    EventType::RoutineRunStarted,
    EventType::RoutineRunSucceeded,
    EventType::RoutineRunFailed,
];

/// Why a stored or published event could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventDecodeError {
    /// Written by a newer version of Orbit, say, during a rolling deploy.
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    #[error("malformed `{event_type}` payload: {reason}")]
    Payload { event_type: String, reason: String },
}

impl Event {
    /// Whether the event ends credentials (a session, an API key, a whole
    /// app's): every process that trusts credentials it checked before
    /// must hear of it.
    pub fn ends_credentials(&self) -> bool {
        matches!(
            self,
            Event::SessionRevoked(_) | Event::ApiKeyRevoked(_) | Event::AppDeleted(_)
        )
    }

    /// The user the event is about, when it is about one.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Event::ParticipantAdded(participation) | Event::ParticipantRemoved(participation) => {
                participation.user_id
            }
            Event::MemberJoined(membership)
            | Event::MemberLeft(membership)
            | Event::MemberRoleChanged(membership) => Some(membership.user_id),
            Event::ThreadRead(marker) => Some(marker.user_id),
            Event::SessionRevoked(revocation) => Some(revocation.user_id),
            Event::TypingStarted(typing) | Event::TypingStopped(typing) => Some(typing.user_id),
            Event::PresenceChanged(presence) => Some(presence.user_id),
            _ => None,
        }
    }

    /// The topics the event is written to, in the order its topic
    /// sequences are taken. Presence is published on the user's teams,
    /// which only its publisher knows: it has none here.
    pub fn topics(&self, app: AppId) -> Vec<Topic> {
        match self {
            Event::MessageCreated(message)
            | Event::MessageEdited(message)
            | Event::MessageDeleted(message) => vec![Topic::Thread(message.thread_id)],
            // Nobody follows a thread before it exists: its owner hears.
            Event::ThreadCreated(thread) => vec![thread.owner_topic()],
            Event::ThreadUpdated(thread) | Event::ThreadDeleted(thread) => {
                vec![thread.owner_topic(), Topic::Thread(thread.thread_id)]
            }
            Event::ParticipantAdded(participation) | Event::ParticipantRemoved(participation) => {
                let mut topics = vec![Topic::Thread(participation.thread_id)];
                topics.extend(participation.user_id.map(Topic::User));
                topics
            }
            Event::MemberJoined(membership)
            | Event::MemberLeft(membership)
            | Event::MemberRoleChanged(membership) => {
                vec![
                    Topic::Team(membership.team_id),
                    Topic::User(membership.user_id),
                ]
            }
            Event::ThreadRead(marker) => vec![Topic::User(marker.user_id)],
            Event::AgentReplyCompleted(ended) | Event::AgentReplyFailed(ended) => {
                vec![Topic::Thread(ended.thread_id)]
            }
            Event::AgentToolCallStarted(step)
            | Event::AgentToolCallCompleted(step)
            | Event::AgentToolCallFailed(step)
            | Event::AgentApprovalRequested(step) => vec![Topic::Thread(step.thread_id)],
            Event::RoutineRunStarted(run)
            | Event::RoutineRunSucceeded(run)
            | Event::RoutineRunFailed(run) => {
                let mut topics: Vec<Topic> = run.thread_id.map(Topic::Thread).into_iter().collect();
                topics.push(Topic::Builders(app));
                topics
            }
            Event::SessionRevoked(revocation) => vec![Topic::User(revocation.user_id)],
            Event::ApiKeyRevoked(_) | Event::AppDeleted(_) => vec![Topic::App(app)],
            Event::TypingStarted(typing) | Event::TypingStopped(typing) => {
                vec![Topic::Thread(typing.thread_id)]
            }
            Event::PresenceChanged(_) => Vec::new(),
            Event::AgentReplyDelta(delta) => vec![Topic::Thread(delta.thread_id)],
        }
    }
}

/// A message as it was when the event happened. It travels whole, so the
/// many subscribers of a thread render it without reading it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSnapshot {
    pub message_id: MessageId,
    pub thread_id: ThreadId,
    /// The user who wrote it; null for an agent's message.
    pub author_id: Option<UserId>,
    pub author_agent_id: Option<AgentId>,
    pub model: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub content: Option<String>,
    pub metadata: Option<Value>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSnapshot {
    pub thread_id: ThreadId,
    pub title: String,
    /// The team that owns the thread, or null for a user's own thread.
    pub team_id: Option<TeamId>,
    pub owner_id: Option<UserId>,
}

impl ThreadSnapshot {
    /// Where the thread's owner hears of it: its team, or its user.
    pub fn owner_topic(&self) -> Topic {
        match (self.team_id, self.owner_id) {
            (Some(team), _) => Topic::Team(team),
            (None, Some(user)) => Topic::User(user),
            // A thread has one owner or the other (a check in the schema).
            (None, None) => Topic::Thread(self.thread_id),
        }
    }
}

/// A user or an agent joining or leaving a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participation {
    pub thread_id: ThreadId,
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    pub team_id: TeamId,
    pub user_id: UserId,
    /// The role after the change; null when the member left.
    pub role: Option<TeamRole>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadMarker {
    pub thread_id: ThreadId,
    pub user_id: UserId,
    pub message_id: MessageId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyEnded {
    pub reply_id: AgentReplyId,
    pub agent_id: AgentId,
    pub thread_id: ThreadId,
    pub trigger_message_id: Option<MessageId>,
    pub attempt: i32,
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    pub error: Option<String>,
    /// The reply's message; for a failed reply, what the agent said before
    /// it failed, if anything.
    pub message: Option<MessageSnapshot>,
}

/// One tool call of an agent's reply, as it started or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallStep {
    pub reply_id: AgentReplyId,
    pub agent_id: AgentId,
    pub thread_id: ThreadId,
    pub trigger_message_id: Option<MessageId>,
    pub attempt: i32,
    /// The model's id for the call.
    pub call_id: String,
    /// The model turn that asked for it, from 0.
    pub step: i32,
    pub tool_name: String,
    /// `None` when the model named no tool of the agent's.
    pub tool_id: Option<ToolId>,
    pub arguments: Value,
    pub result: Option<Value>,
    pub error: Option<String>,
    /// For a call that waits for approval: when it counts as refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_expires_at: Option<DateTime<Utc>>,
}

/// A routine's run as it stood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSnapshot {
    pub run_id: RoutineRunId,
    pub routine_id: RoutineId,
    pub routine_name: Option<String>,
    pub agent_id: AgentId,
    /// The thread the routine writes into, if it does.
    pub thread_id: Option<ThreadId>,
    pub cause: String,
    pub status: String,
    pub attempt: i32,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub http_status: Option<i32>,
    pub message_id: Option<MessageId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevocation {
    /// Whose sockets close.
    pub user_id: UserId,
    /// Only this session's; null for every session of the user.
    pub session_id: Option<SessionId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRevocation {
    pub key_id: ApiKeyId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppDeletion {
    pub app_id: AppId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    pub thread_id: ThreadId,
    pub user_id: UserId,
    /// When a `typing.started` lapses unless renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    pub user_id: UserId,
    /// `online`, `away` or `offline`.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyDelta {
    pub reply_id: AgentReplyId,
    pub agent_id: AgentId,
    pub thread_id: ThreadId,
    pub trigger_message_id: Option<MessageId>,
    pub attempt: i32,
    /// From 1 within an attempt.
    pub sequence: i64,
    /// The text to append.
    pub delta: String,
}

/// A topic subscribers listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// An event to be written in the same transaction as the change it records,
/// on one of its topics.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub topic: Topic,
    pub event: Event,
}

impl NewEvent {
    /// The event on each of its topics.
    pub fn on_its_topics(app: AppId, event: Event) -> Vec<NewEvent> {
        event
            .topics(app)
            .into_iter()
            .map(|topic| NewEvent {
                topic,
                event: event.clone(),
            })
            .collect()
    }

    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_type_has_one_name_that_parses_back() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.as_str()), Some(*event_type));
        }
        assert_eq!(EventType::parse("message.exploded"), None);
    }

    #[test]
    fn webhooks_carry_exactly_the_stored_types() {
        let stored: Vec<EventType> = EventType::ALL
            .iter()
            .copied()
            .filter(|event_type| event_type.reach() == Reach::Stored)
            .collect();
        assert_eq!(stored, WEBHOOK_EVENT_TYPES);
        assert_eq!(EventType::webhook_type("session.revoked"), None);
        assert_eq!(EventType::webhook_type("typing.started"), None);
    }

    /// The payload is the stored form: what was written before payloads
    /// were types still reads, and reads as the same JSON.
    #[test]
    fn a_stored_message_payload_reads_back_as_written() {
        let stored = serde_json::json!({
            "messageId": "msg_0193a0a0a0a07000800000000000000a",
            "threadId": "thr_0193a0a0a0a07000800000000000000b",
            "authorId": "usr_0193a0a0a0a07000800000000000000c",
            "authorAgentId": null,
            "model": null,
            "promptTokens": null,
            "completionTokens": null,
            "content": "hello",
            "metadata": {"k": 1},
            "status": "sent",
            "createdAt": "2026-12-03T20:00:00Z",
            "editedAt": null,
            "deletedAt": null,
        });
        let event = Event::from_parts("message.created", stored.clone()).unwrap();
        assert_eq!(event.event_type(), EventType::MessageCreated);
        let Event::MessageCreated(message) = &event else {
            panic!("not a message.created");
        };
        assert_eq!(message.content.as_deref(), Some("hello"));
        let written: DateTime<Utc> = "2026-12-03T20:00:00Z".parse().unwrap();
        assert_eq!(message.created_at, written);
        assert_eq!(
            serde_json::from_value::<MessageSnapshot>(event.payload()).unwrap(),
            *message
        );
        let app = AppId::generate();
        assert_eq!(event.topics(app), vec![Topic::Thread(message.thread_id)]);
    }

    #[test]
    fn unknown_and_malformed_events_are_errors_not_panics() {
        assert!(matches!(
            Event::from_parts("message.exploded", Value::Null),
            Err(EventDecodeError::UnknownType(_))
        ));
        assert!(matches!(
            Event::from_parts("message.created", serde_json::json!({"messageId": 3})),
            Err(EventDecodeError::Payload { .. })
        ));
    }

    #[test]
    fn the_broker_form_is_type_and_payload() {
        let event = Event::AppDeleted(AppDeletion {
            app_id: AppId::generate(),
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "app.deleted");
        assert_eq!(json["payload"], event.payload());
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }
}
