//! Agents, model providers and replies: the values stored as text, the rules
//! their inputs follow, and the scripted provider's script, which the API
//! checks and the worker runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DomainError, DomainResult};

pub const MAX_HANDLE_CHARS: usize = 32;
pub const MAX_INSTRUCTIONS_CHARS: usize = 20_000;
pub const MAX_MODEL_CHARS: usize = 200;
pub const MAX_API_KEY_CHARS: usize = 4_096;
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
pub const MAX_OUTPUT_TOKENS: i32 = 32_768;
/// Bounds of a provider's timeouts, in seconds.
pub const MAX_REQUEST_TIMEOUT_SECS: i32 = 3_600;
pub const MAX_IDLE_TIMEOUT_SECS: i32 = 600;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: i32 = 300;
pub const DEFAULT_IDLE_TIMEOUT_SECS: i32 = 60;
/// Model turns a reply may take: each may call tools, the last answers.
pub const DEFAULT_MAX_STEPS: i32 = 8;
pub const MAX_MAX_STEPS: i32 = 32;

/// An agent's `maxSteps`: 1 to [`MAX_MAX_STEPS`].
pub fn max_steps(field: &str, value: i32) -> DomainResult<i32> {
    if !(1..=MAX_MAX_STEPS).contains(&value) {
        return Err(DomainError::bad_input(
            field,
            format!("must be 1 to {MAX_MAX_STEPS}"),
        ));
    }
    Ok(value)
}

macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(DomainError::internal(format!(
                        concat!("unknown ", stringify!($name), " `{}`"),
                        other
                    ))),
                }
            }
        }
    };
}

// Routines store their states the same way.
pub(crate) use stored_enum;

stored_enum!(
    /// When an agent in a thread answers.
    ReplyMode { Always => "always", Mention => "mention" }
);
stored_enum!(
    /// A paused agent stays in its threads but answers nothing new.
    AgentStatus { Active => "active", Paused => "paused" }
);
stored_enum!(ProviderKind { OpenAiCompatible => "openai_compatible", Scripted => "scripted" });
stored_enum!(
    /// Where a reply stands. `queued` and `running` are the lease states of
    /// `persistence::leases`; the others are final.
    ReplyStatus {
        Queued => "queued",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);
stored_enum!(
    /// A message's status: people's messages are `sent`; an agent's reply is
    /// stored once it ends.
    MessageStatus {
        Sent => "sent",
        Complete => "complete",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

impl ReplyStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReplyStatus::Completed | ReplyStatus::Failed | ReplyStatus::Cancelled
        )
    }
}

/// A handle: 2 to 32 of `a-z`, `0-9`, `_` and `-`, starting with a letter.
/// Given in any case, stored in lower case.
pub fn handle(field: &str, value: &str) -> DomainResult<String> {
    let handle = value.trim().trim_start_matches('@').to_lowercase();
    let ok = (2..=MAX_HANDLE_CHARS).contains(&handle.len())
        && handle.starts_with(|c: char| c.is_ascii_lowercase())
        && handle.bytes().all(is_handle_byte);
    if !ok {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be 2 to {MAX_HANDLE_CHARS} letters, digits, `_` or `-`, starting with a letter"
            ),
        ));
    }
    Ok(handle)
}

fn is_handle_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
}

/// Whether `content` mentions `@handle`: the `@` starts the text or follows
/// a character that cannot be in a handle (so `ada@example.com` mentions no
/// one), and the handle ends there. Case does not matter.
pub fn mentions(content: &str, handle: &str) -> bool {
    let text = content.to_lowercase();
    let bytes = text.as_bytes();
    let wanted = format!("@{handle}");
    let mut from = 0;
    while let Some(found) = text[from..].find(&wanted) {
        let start = from + found;
        let end = start + wanted.len();
        let clean_start = start == 0 || !is_handle_byte(bytes[start - 1]);
        let clean_end = end == bytes.len() || !is_handle_byte(bytes[end]);
        if clean_start && clean_end {
            return true;
        }
        from = start + 1;
    }
    false
}

pub fn instructions(field: &str, value: &str) -> DomainResult<String> {
    if value.chars().count() > MAX_INSTRUCTIONS_CHARS {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_INSTRUCTIONS_CHARS} characters"),
        ));
    }
    Ok(value.to_owned())
}

pub fn model_name(field: &str, value: &str) -> DomainResult<String> {
    let trimmed = value.trim();
    let ok = !trimmed.is_empty()
        && trimmed.chars().count() <= MAX_MODEL_CHARS
        && !trimmed.chars().any(char::is_control);
    if !ok {
        return Err(DomainError::bad_input(
            field,
            format!("must be a model name of 1 to {MAX_MODEL_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

pub fn temperature(field: &str, value: f64) -> DomainResult<f64> {
    if !(0.0..=2.0).contains(&value) {
        return Err(DomainError::bad_input(field, "must be between 0 and 2"));
    }
    Ok(value)
}

pub fn max_tokens(field: &str, value: i32) -> DomainResult<i32> {
    if !(1..=MAX_OUTPUT_TOKENS).contains(&value) {
        return Err(DomainError::bad_input(
            field,
            format!("must be between 1 and {MAX_OUTPUT_TOKENS}"),
        ));
    }
    Ok(value)
}

pub fn api_key(field: &str, value: &str) -> DomainResult<String> {
    let ok = value.chars().count() <= MAX_API_KEY_CHARS
        && !value.chars().any(|c| c.is_control() || c.is_whitespace());
    if !ok {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_API_KEY_CHARS} characters, without spaces"),
        ));
    }
    Ok(value.to_owned())
}

pub fn timeout_secs(field: &str, value: i32, max: i32) -> DomainResult<i32> {
    if !(1..=max).contains(&value) {
        return Err(DomainError::bad_input(
            field,
            format!("must be between 1 and {max} seconds"),
        ));
    }
    Ok(value)
}

/// What the scripted provider says: the first rule whose `when` occurs in
/// the last message it answers (case does not matter) gives the reply,
/// else `default`. `{{message}}` in a reply is replaced by that message.
/// The reply streams in pieces of `chunkChars` characters. With `fail`, every
/// request fails with that text, as a provider error would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub rules: Vec<ScriptRule>,
    #[serde(default = "Script::default_reply")]
    pub default: String,
    #[serde(default = "Script::default_chunk")]
    pub chunk_chars: usize,
    #[serde(default)]
    pub fail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptRule {
    pub when: String,
    pub reply: String,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default: Self::default_reply(),
            chunk_chars: Self::default_chunk(),
            fail: None,
        }
    }
}

impl Script {
    fn default_reply() -> String {
        "You said: {{message}}".to_owned()
    }

    fn default_chunk() -> usize {
        8
    }

    /// Reads a stored or given script; `None` is the default script.
    pub fn parse(field: &str, value: Option<&Value>) -> DomainResult<Self> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Self::default());
        };
        let size = serde_json::to_vec(value).map_or(usize::MAX, |b| b.len());
        if size > MAX_SCRIPT_BYTES {
            return Err(DomainError::bad_input(
                field,
                format!("must be at most {MAX_SCRIPT_BYTES} bytes of JSON"),
            ));
        }
        let script: Script = serde_json::from_value(value.clone()).map_err(|error| {
            DomainError::bad_input(
                field,
                format!("must be {{\"rules\": [{{\"when\", \"reply\"}}], \"default\", \"chunkChars\", \"fail\"}}: {error}"),
            )
        })?;
        if !(1..=1000).contains(&script.chunk_chars) {
            return Err(DomainError::bad_input(
                field,
                "chunkChars must be between 1 and 1000",
            ));
        }
        Ok(script)
    }

    /// The reply to `message`.
    pub fn reply_to(&self, message: &str) -> String {
        let lowered = message.to_lowercase();
        let template = self
            .rules
            .iter()
            .find(|rule| lowered.contains(&rule.when.to_lowercase()))
            .map_or(self.default.as_str(), |rule| rule.reply.as_str());
        template.replace("{{message}}", message)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn handles() {
        assert_eq!(handle("handle", " @Helper_2 ").unwrap(), "helper_2");
        for bad in ["a", "2fast", "with space", "ünï", "x!", &"a".repeat(33)] {
            assert_eq!(
                handle("handle", bad).unwrap_err().field.as_deref(),
                Some("handle"),
                "{bad}"
            );
        }
    }

    #[test]
    fn mentions_need_clean_edges() {
        assert!(mentions("hey @helper, help", "helper"));
        assert!(mentions("@Helper", "helper"));
        assert!(mentions("(@helper)", "helper"));
        assert!(!mentions("mail me at bob@helper.com", "helper"));
        assert!(!mentions("@helpers", "helper"));
        assert!(!mentions("@help", "helper"));
        assert!(mentions("@helpers and @helper", "helper"));
    }

    #[test]
    fn scripts() {
        let script = Script::parse(
            "script",
            Some(&serde_json::json!({"rules": [{"when": "Weather", "reply": "Sunny."}], "chunkChars": 3})),
        )
        .unwrap();
        assert_eq!(script.reply_to("what's the weather?"), "Sunny.");
        assert_eq!(script.reply_to("hi"), "You said: hi");
        assert_eq!(script.chunk_chars, 3);
        assert!(Script::parse("script", Some(&serde_json::json!({"rulez": []}))).is_err());
        assert!(Script::parse("script", Some(&serde_json::json!({"chunkChars": 0}))).is_err());
        assert_eq!(Script::parse("script", None).unwrap(), Script::default());
    }
}
