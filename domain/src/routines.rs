//! Routines: what makes an agent act without being asked in a thread. A
//! routine has a trigger (a cron expression in a time zone, a fixed
//! interval, once at a time, or an event of the app) and an action (prompt
//! the agent into a thread, post a fixed message as the agent, or call a
//! URL). This module holds their rules: the values stored as text, the
//! triggers' and actions' checks, when a trigger fires next, and which
//! events may start a routine.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agents::stored_enum;
use crate::events::EventType;
use crate::ids::{TeamId, ThreadId};
use crate::schedule::{CronSchedule, next_interval, time_zone};
use crate::validation;
use crate::{DomainError, DomainResult};

/// The shortest interval: the resolution of cron too, and enough to keep a
/// routine from flooding a thread or a URL.
pub const MIN_INTERVAL_SECS: i64 = 60;
/// The longest interval (a year and a day).
pub const MAX_INTERVAL_SECS: i64 = 366 * 24 * 60 * 60;
/// How long a run may take unless the routine says otherwise.
pub const DEFAULT_TIMEOUT_SECS: i32 = 300;
pub const MAX_TIMEOUT_SECS: i32 = 3_600;
/// A `callUrl` body, at most.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// What a run keeps of its output (an answer, a response body), at most.
pub const MAX_OUTPUT_CHARS: usize = 4_096;
/// What a run keeps of its error, at most.
pub const MAX_ERROR_CHARS: usize = 1_000;

stored_enum!(
    /// A draft waits to be activated; an active routine fires; a paused
    /// one does not; a `once` routine is completed after its run.
    RoutineStatus {
        Draft => "draft",
        Active => "active",
        Paused => "paused",
        Completed => "completed",
    }
);
stored_enum!(
    /// Where a run stands. `queued` and `running` are the lease states of
    /// `persistence::leases`; the others are final.
    RunStatus {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);
stored_enum!(
    /// Why a run happened: its schedule came, someone asked (`runRoutine`),
    /// or an event matched its trigger.
    RunCause { Schedule => "schedule", Manual => "manual", Event => "event" }
);
stored_enum!(
    /// The methods `callUrl` may use.
    HttpMethod {
        Get => "GET",
        Post => "POST",
        Put => "PUT",
        Patch => "PATCH",
        Delete => "DELETE",
    }
);

impl RunStatus {
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

impl Serialize for HttpMethod {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown method {text}")))
    }
}

/// When a routine fires. Stored as JSON in the API's own shape
/// (`{"cron": {"expression", "timezone"}}`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Trigger {
    /// Five-field cron in an IANA zone, with Vixie cron's daylight-saving
    /// rules (`crate::schedule`).
    Cron {
        expression: String,
        timezone: String,
    },
    /// Every `seconds`, counted from when the routine was activated.
    Interval { seconds: i64 },
    /// Once, at `at`.
    Once { at: DateTime<Utc> },
    /// Each committed event of `type` in the app, narrowed to a team or a
    /// thread when given.
    Event {
        #[serde(rename = "type")]
        event_type: String,
        team_id: Option<TeamId>,
        thread_id: Option<ThreadId>,
    },
}

/// What a routine does when it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Action {
    /// The agent answers `prompt` into the thread, as it answers messages.
    PromptAgent { thread_id: ThreadId, prompt: String },
    /// `content` is posted into the thread as the agent's message.
    PostMessage {
        thread_id: ThreadId,
        content: String,
    },
    /// An HTTP request; the body is sent as given (JSON or text), or, when
    /// there is none, a JSON description of the run.
    CallUrl {
        url: String,
        method: HttpMethod,
        body: Option<String>,
    },
}

impl Action {
    /// The action with `{{vars.NAME}}` put in from `value_of` (in a prompt,
    /// a message, a URL and a body); `Err` names the first variable it lacks.
    pub fn with_vars(self, value_of: impl Fn(&str) -> Option<String>) -> Result<Action, String> {
        let put_in = |text: &str| crate::app_vars::substitute(text, &value_of);
        Ok(match self {
            Action::PromptAgent { thread_id, prompt } => Action::PromptAgent {
                thread_id,
                prompt: put_in(&prompt)?,
            },
            Action::PostMessage { thread_id, content } => Action::PostMessage {
                thread_id,
                content: put_in(&content)?,
            },
            Action::CallUrl { url, method, body } => Action::CallUrl {
                url: put_in(&url)?,
                method,
                body: body.as_deref().map(put_in).transpose()?,
            },
        })
    }

    /// The thread the action writes into.
    pub fn thread(&self) -> Option<ThreadId> {
        match self {
            Action::PromptAgent { thread_id, .. } | Action::PostMessage { thread_id, .. } => {
                Some(*thread_id)
            }
            Action::CallUrl { .. } => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::PromptAgent { .. } => "prompt_agent",
            Action::PostMessage { .. } => "post_message",
            Action::CallUrl { .. } => "call_url",
        }
    }
}

impl Action {
    /// An action as stored with its routine.
    pub fn from_stored(stored: &serde_json::Value) -> crate::DomainResult<Self> {
        serde_json::from_value(stored.clone()).map_err(crate::DomainError::internal)
    }
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Cron { .. } => "cron",
            Trigger::Interval { .. } => "interval",
            Trigger::Once { .. } => "once",
            Trigger::Event { .. } => "event",
        }
    }

    /// The first time after `after` that a routine with this trigger,
    /// active since `anchor`, fires; `None` when it never does again
    /// (event triggers fire on events, a `once` whose time has passed, a
    /// cron expression with no date within five years).
    pub fn next_after(&self, anchor: DateTime<Utc>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Cron {
                expression,
                timezone,
            } => {
                let schedule: CronSchedule = expression.parse().ok()?;
                schedule.next_after(after, time_zone(timezone).ok()?)
            }
            Trigger::Interval { seconds } => {
                Some(next_interval(anchor, Duration::seconds(*seconds), after))
            }
            Trigger::Once { at } => (*at > after).then_some(*at),
            Trigger::Event { .. } => None,
        }
    }

    /// Whether firing ends the routine.
    pub fn fires_once(&self) -> bool {
        matches!(self, Trigger::Once { .. })
    }

    /// The event type of an event trigger.
    pub fn event_type(&self) -> Option<EventType> {
        match self {
            Trigger::Event { event_type, .. } => trigger_event_type(event_type),
            _ => None,
        }
    }
}

/// The anchor of interval ticks and the time every schedule is computed
/// from: whole seconds, so a stored time compares equal to itself on every
/// backend.
pub fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::seconds(1)).unwrap_or(at)
}

/// Checks a cron trigger: the expression (`trigger.cron.expression`), the
/// zone (`trigger.cron.timezone`, default `UTC`), and that it fires at all.
pub fn cron_trigger(
    expression: &str,
    timezone: Option<&str>,
    now: DateTime<Utc>,
) -> DomainResult<Trigger> {
    let schedule: CronSchedule = expression
        .parse()
        .map_err(|e: crate::schedule::ScheduleError| e.on_field("trigger.cron.expression"))?;
    let zone_name = timezone.map(str::trim).unwrap_or("UTC");
    let zone = time_zone(zone_name).map_err(|e| e.on_field("trigger.cron.timezone"))?;
    if schedule.next_after(now, zone).is_none() {
        return Err(DomainError::bad_input(
            "trigger.cron.expression",
            "never fires (no matching date within five years)",
        ));
    }
    Ok(Trigger::Cron {
        expression: schedule.to_string(),
        timezone: zone.name().to_owned(),
    })
}

pub fn interval_trigger(seconds: i64) -> DomainResult<Trigger> {
    if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&seconds) {
        return Err(DomainError::bad_input(
            "trigger.interval.seconds",
            format!("must be between {MIN_INTERVAL_SECS} and {MAX_INTERVAL_SECS}"),
        ));
    }
    Ok(Trigger::Interval { seconds })
}

pub fn once_trigger(at: DateTime<Utc>, now: DateTime<Utc>) -> DomainResult<Trigger> {
    if at <= now {
        return Err(DomainError::bad_input(
            "trigger.once.at",
            "must be in the future",
        ));
    }
    Ok(Trigger::Once { at })
}

/// Events that may start a routine: changes people make to the app's
/// threads, messages and teams. Left out: read markers (one person's),
/// internal ones, and what agents and routines do themselves
/// (`agent_reply.*`, `routine_run.*`), so that a routine cannot set itself
/// off in a loop.
pub const ROUTINE_TRIGGER_TYPES: &[EventType] = &[
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
];

fn trigger_event_type(name: &str) -> Option<EventType> {
    ROUTINE_TRIGGER_TYPES
        .iter()
        .copied()
        .find(|event_type| event_type.as_str() == name)
}

/// Checks an event trigger's type and filters (their objects are checked
/// against the app by the caller).
pub fn event_trigger(
    event_type: &str,
    team_id: Option<TeamId>,
    thread_id: Option<ThreadId>,
) -> DomainResult<Trigger> {
    let Some(parsed) = trigger_event_type(event_type.trim()) else {
        let names: Vec<&str> = ROUTINE_TRIGGER_TYPES.iter().map(|t| t.as_str()).collect();
        return Err(DomainError::bad_input(
            "trigger.event.type",
            format!("must be one of {}", names.join(", ")),
        ));
    };
    let about_members = matches!(
        parsed,
        EventType::MemberJoined | EventType::MemberLeft | EventType::MemberRoleChanged
    );
    if about_members && thread_id.is_some() {
        return Err(DomainError::bad_input(
            "trigger.event.threadId",
            "member events belong to a team, not a thread",
        ));
    }
    Ok(Trigger::Event {
        event_type: parsed.as_str().to_owned(),
        team_id,
        thread_id,
    })
}

/// An event that an agent caused (its message, which a routine's
/// `postMessage` or `promptAgent` writes): it never starts a routine, so a
/// routine that answers messages cannot answer its own.
pub fn caused_by_agent(payload: &Value) -> bool {
    payload
        .get("authorAgentId")
        .is_some_and(|agent| !agent.is_null())
}

pub fn prompt(field: &str, value: &str) -> DomainResult<String> {
    validation::message_content(field, value)
}

/// A `callUrl` body: at most [`MAX_BODY_BYTES`].
pub fn body(field: &str, value: &str) -> DomainResult<String> {
    if value.len() > MAX_BODY_BYTES {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(value.to_owned())
}

pub fn timeout_secs(field: &str, value: i32) -> DomainResult<i32> {
    if !(1..=MAX_TIMEOUT_SECS).contains(&value) {
        return Err(DomainError::bad_input(
            field,
            format!("must be between 1 and {MAX_TIMEOUT_SECS}"),
        ));
    }
    Ok(value)
}

/// At most `max` characters of `text`, marked when cut.
pub fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap()
    }

    #[test]
    fn triggers_round_trip_in_the_api_shape() {
        let thread = ThreadId::generate();
        let trigger = event_trigger("message.created", None, Some(thread)).unwrap();
        let json = serde_json::to_value(&trigger).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "event": { "type": "message.created", "teamId": null, "threadId": thread.to_string() } })
        );
        assert_eq!(serde_json::from_value::<Trigger>(json).unwrap(), trigger);
        let action = Action::CallUrl {
            url: "https://example.com/hook".into(),
            method: HttpMethod::Post,
            body: None,
        };
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["callUrl"]["method"], "POST");
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), action);
    }

    #[test]
    fn next_runs_follow_each_kind() {
        let cron = cron_trigger("*/15 * * * *", None, at(10, 0)).unwrap();
        assert_eq!(cron.next_after(at(0, 0), at(10, 7)), Some(at(10, 15)));
        let interval = interval_trigger(600).unwrap();
        assert_eq!(interval.next_after(at(9, 55), at(10, 7)), Some(at(10, 15)));
        let once = once_trigger(at(12, 0), at(10, 0)).unwrap();
        assert_eq!(once.next_after(at(0, 0), at(10, 0)), Some(at(12, 0)));
        assert_eq!(once.next_after(at(0, 0), at(12, 0)), None);
        let event = event_trigger("thread.created", None, None).unwrap();
        assert_eq!(event.next_after(at(0, 0), at(10, 0)), None);
    }

    #[test]
    fn bad_triggers_name_their_field() {
        let now = at(10, 0);
        let field = |result: DomainResult<Trigger>| result.unwrap_err().field.unwrap();
        assert_eq!(
            field(cron_trigger("61 * * * *", None, now)),
            "trigger.cron.expression"
        );
        assert_eq!(
            field(cron_trigger("0 0 30 2 *", None, now)),
            "trigger.cron.expression"
        );
        assert_eq!(
            field(cron_trigger("* * * * *", Some("Mars/Base"), now)),
            "trigger.cron.timezone"
        );
        assert_eq!(field(interval_trigger(59)), "trigger.interval.seconds");
        assert_eq!(field(once_trigger(now, now)), "trigger.once.at");
        assert_eq!(
            field(event_trigger("agent_reply.completed", None, None)),
            "trigger.event.type"
        );
        assert_eq!(
            field(event_trigger(
                "member.joined",
                None,
                Some(ThreadId::generate())
            )),
            "trigger.event.threadId"
        );
    }

    #[test]
    fn outputs_are_bounded() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("abcdefghij", 5), "abcd…");
    }
}
