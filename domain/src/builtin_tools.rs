//! Tools Orbit itself offers an agent, over the app's own data: read a
//! thread, post in a thread, run a routine. An agent has the ones its
//! managers give it (`setAgentTools`), and each acts with the agent's own
//! access, which is narrower than any user's: only threads the agent takes
//! part in, only routines that are the agent's.
//!
//! They are offered to the model as `orbit_<name>`; the `orbit_` prefix is
//! kept for them (no tool of an app may take it), so a name never means
//! two tools.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::agents::stored_enum;
use crate::{DomainError, DomainResult};

/// What no tool of an app may be named with: built-in tools' prefix.
pub const RESERVED_PREFIX: &str = "orbit_";
/// The most messages `orbit_read_thread` returns at once.
pub const MAX_READ_MESSAGES: u64 = 50;

stored_enum!(
    /// A built-in tool, as stored in an agent's `builtin_tools`.
    BuiltinTool {
        ReadThread => "read_thread",
        PostMessage => "post_message",
        RunRoutine => "run_routine",
    }
);

impl BuiltinTool {
    pub const ALL: [BuiltinTool; 3] = [
        BuiltinTool::ReadThread,
        BuiltinTool::PostMessage,
        BuiltinTool::RunRoutine,
    ];

    /// What the model calls it.
    pub fn name(self) -> String {
        format!("{RESERVED_PREFIX}{}", self.as_str())
    }

    /// The built-in tool a model's call names, if any.
    pub fn named(name: &str) -> Option<Self> {
        let bare = name.strip_prefix(RESERVED_PREFIX)?;
        BuiltinTool::ALL
            .into_iter()
            .find(|tool| tool.as_str() == bare)
    }

    /// Stands for the tool where a tool id is kept (a call's `tool_id`):
    /// fixed, and never the id of a stored tool (those are UUIDv7).
    pub fn id(self) -> Uuid {
        let n = match self {
            BuiltinTool::ReadThread => 1,
            BuiltinTool::PostMessage => 2,
            BuiltinTool::RunRoutine => 3,
        };
        Uuid::from_u128(0x6f72_6269_7400_0000_0000_0000_0000_0000 | n)
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltinTool::ReadThread => {
                "Reads the latest messages of a thread you take part in (this one when threadId is left out), oldest first."
            }
            BuiltinTool::PostMessage => {
                "Posts a message as you in a thread you take part in (another thread than this one; here, just answer)."
            }
            BuiltinTool::RunRoutine => {
                "Starts one of your routines now, by its id (see its list in your instructions or ask the user)."
            }
        }
    }

    /// The JSON Schema of its arguments.
    pub fn input_schema(self) -> Value {
        match self {
            BuiltinTool::ReadThread => json!({
                "type": "object",
                "properties": {
                    "threadId": { "type": "string", "description": "thr_...; this thread when left out" },
                    "last": { "type": "integer", "minimum": 1, "maximum": MAX_READ_MESSAGES }
                },
                "additionalProperties": false
            }),
            BuiltinTool::PostMessage => json!({
                "type": "object",
                "properties": {
                    "threadId": { "type": "string", "description": "thr_..." },
                    "content": { "type": "string" }
                },
                "required": ["threadId", "content"],
                "additionalProperties": false
            }),
            BuiltinTool::RunRoutine => json!({
                "type": "object",
                "properties": {
                    "routineId": { "type": "string", "description": "rtn_..." }
                },
                "required": ["routineId"],
                "additionalProperties": false
            }),
        }
    }

    /// The stored list (`read_thread,post_message`), in a fixed order.
    pub fn store(tools: &[BuiltinTool]) -> String {
        BuiltinTool::ALL
            .into_iter()
            .filter(|tool| tools.contains(tool))
            .map(BuiltinTool::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The list back from storage; a name this server does not know is
    /// an internal error.
    pub fn read(stored: &str) -> DomainResult<Vec<BuiltinTool>> {
        stored
            .split(',')
            .filter(|part| !part.is_empty())
            .map(str::parse)
            .collect()
    }
}

/// Refuses a tool name that takes the built-in tools' prefix.
pub fn not_reserved(field: &str, name: &str) -> DomainResult<()> {
    if name.to_ascii_lowercase().starts_with(RESERVED_PREFIX) {
        return Err(DomainError::bad_input(
            field,
            format!("names starting with `{RESERVED_PREFIX}` are kept for Orbit's built-in tools"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{input_schema, tool_name};

    #[test]
    fn each_builtin_is_a_valid_tool_found_by_its_name() {
        for tool in BuiltinTool::ALL {
            assert!(tool_name("name", &tool.name()).is_ok());
            assert!(input_schema("inputSchema", &tool.input_schema()).is_ok());
            assert_eq!(BuiltinTool::named(&tool.name()), Some(tool));
            assert_ne!(tool.id().get_version_num(), 7);
        }
        assert_eq!(BuiltinTool::named("read_thread"), None);
        assert_eq!(BuiltinTool::named("orbit_drop_tables"), None);
    }

    #[test]
    fn the_stored_list_reads_back_in_a_fixed_order() {
        let stored = BuiltinTool::store(&[BuiltinTool::RunRoutine, BuiltinTool::ReadThread]);
        assert_eq!(stored, "read_thread,run_routine");
        assert_eq!(
            BuiltinTool::read(&stored).expect("reads"),
            [BuiltinTool::ReadThread, BuiltinTool::RunRoutine]
        );
        assert_eq!(BuiltinTool::read("").expect("reads"), []);
        assert!(BuiltinTool::read("format_disk").is_err());
    }

    #[test]
    fn the_prefix_is_kept() {
        assert!(not_reserved("name", "Orbit_things").is_err());
        assert!(not_reserved("name", "orbital").is_ok());
    }
}
