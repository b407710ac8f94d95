//! Tools an app's agents may call: the rules their inputs follow, and how
//! their headers are stored.
//!
//! A tool's name is what a model calls it by, so it follows the function
//! names OpenAI-compatible APIs accept (`[A-Za-z0-9_-]`, at most 64). Its
//! input schema is a JSON Schema of an object (the arguments), checked
//! against its meta-schema when saved and compiled without fetching
//! anything: a `$ref` to another document is refused, since the server
//! would otherwise call out wherever a schema pointed it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agents::stored_enum;
use crate::validation::{self, json_has_nul};
use crate::{DomainError, DomainResult};

pub const MAX_TOOL_NAME_CHARS: usize = 64;
pub const MAX_TOOL_DESCRIPTION_CHARS: usize = 2_000;
pub const MAX_INPUT_SCHEMA_BYTES: usize = 32 * 1024;
pub const MAX_TOOL_HEADERS: usize = 20;
pub const MAX_HEADER_NAME_CHARS: usize = 128;
pub const MAX_HEADER_VALUE_CHARS: usize = 4_096;
/// The most tools one agent may be given: each one's schema goes into
/// every request to the model.
pub const MAX_AGENT_TOOLS: usize = 32;
/// The seal purpose of a tool's secret header value; the row is
/// `<tool id>/<header name, lowercase>`.
pub const HEADER_SEAL_PURPOSE: &str = "tool.header";

stored_enum!(
    /// How a tool is called: a URL of the app's, or a tool of one of its
    /// MCP servers.
    ToolKind { Http => "http", Mcp => "mcp" }
);

/// Headers the server sets itself, or that would change how the request
/// travels: a tool may not set them.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "content-type",
    "host",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A tool's name: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub fn tool_name(field: &str, value: &str) -> DomainResult<String> {
    let valid = !value.is_empty()
        && value.chars().count() <= MAX_TOOL_NAME_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be 1 to {MAX_TOOL_NAME_CHARS} letters, digits, `_` or `-` (models call tools by this name)"
            ),
        ));
    }
    Ok(value.to_owned())
}

/// What the tool does, as the model reads it: not blank, at most 2,000
/// characters; line breaks allowed.
pub fn tool_description(field: &str, value: &str) -> DomainResult<String> {
    validation::no_nul(field, value)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::bad_input(
            field,
            "must say what the tool does: the model chooses tools by it",
        ));
    }
    if trimmed.chars().count() > MAX_TOOL_DESCRIPTION_CHARS {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_TOOL_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A JSON Schema of the arguments: an object schema (`"type": "object"`),
/// valid against its meta-schema, at most 32 KiB, referring to no other
/// document.
pub fn input_schema(field: &str, value: &Value) -> DomainResult<()> {
    let Value::Object(schema) = value else {
        return Err(DomainError::bad_input(
            field,
            "must be a JSON Schema object, such as {\"type\": \"object\", \"properties\": {...}}",
        ));
    };
    if schema.get("type") != Some(&Value::String("object".to_owned())) {
        return Err(DomainError::bad_input(
            field,
            "must describe an object (\"type\": \"object\"): a model passes its arguments as one",
        ));
    }
    if json_has_nul(value) {
        return Err(DomainError::bad_input(
            field,
            "must not contain the NUL character (U+0000)",
        ));
    }
    let size = serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_INPUT_SCHEMA_BYTES {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_INPUT_SCHEMA_BYTES} bytes as JSON"),
        ));
    }
    if let Err(error) = jsonschema::meta::validate(value) {
        return Err(DomainError::bad_input(
            field,
            format!("is not a valid JSON Schema: {error}"),
        ));
    }
    // Compiling resolves `$ref`s; with no retriever set up, one that names
    // another document fails here.
    jsonschema::validator_for(value).map_err(|error| {
        DomainError::bad_input(field, format!("does not compile as a JSON Schema: {error}"))
    })?;
    Ok(())
}

/// Whether `arguments` fit a tool's input schema; `Err` names the first
/// few misfits and where they are, in words the model can act on.
pub fn check_arguments(schema: &Value, arguments: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|error| format!("the tool's input schema does not compile: {error}"))?;
    let misfits: Vec<String> = validator
        .iter_errors(arguments)
        .take(3)
        .map(|error| {
            let at = error.instance_path().to_string();
            if at.is_empty() {
                error.to_string()
            } else {
                format!("at {at}: {error}")
            }
        })
        .collect();
    if misfits.is_empty() {
        Ok(())
    } else {
        Err(misfits.join("; "))
    }
}

/// A header name a tool may set: an HTTP token, not one the server sets.
pub fn header_name(field: &str, value: &str) -> DomainResult<String> {
    let token = !value.is_empty()
        && value.len() <= MAX_HEADER_NAME_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, at most {MAX_HEADER_NAME_CHARS})"
            ),
        ));
    }
    let lower = value.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err(DomainError::bad_input(
            field,
            format!("`{value}` is set by the server, not by a tool"),
        ));
    }
    Ok(value.to_owned())
}

/// A header value: visible ASCII, spaces and tabs, at most 4,096.
pub fn header_value(field: &str, value: &str) -> DomainResult<String> {
    let valid = value.len() <= MAX_HEADER_VALUE_CHARS
        && value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    if !valid {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be at most {MAX_HEADER_VALUE_CHARS} visible ASCII characters, spaces or tabs"
            ),
        ));
    }
    Ok(value.to_owned())
}

/// A header as stored: a plain value, or a secret one sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

impl StoredHeader {
    pub fn is_secret(&self) -> bool {
        self.sealed.is_some()
    }

    /// The stored list; a value that does not read is an internal error.
    pub fn read_all(stored: Option<&Value>) -> DomainResult<Vec<StoredHeader>> {
        match stored {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(value) => serde_json::from_value(value.clone()).map_err(DomainError::internal),
        }
    }

    /// The seal row of a tool's header: header names are case-insensitive.
    pub fn seal_row(tool: impl std::fmt::Display, name: &str) -> String {
        format!("{tool}/{}", name.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_what_models_accept() {
        assert!(tool_name("name", "get_weather-2").is_ok());
        for bad in ["", "get weather", "météo", "a.b", &"a".repeat(65)] {
            assert!(tool_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_schema_must_be_a_valid_object_schema_of_one_document() {
        let good = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        assert!(input_schema("inputSchema", &good).is_ok());
        for bad in [
            json!("object"),
            json!({"type": "string"}),
            json!({"properties": {}}),
            json!({"type": "object", "properties": {"a": {"type": 12}}}),
            json!({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}),
        ] {
            assert!(input_schema("inputSchema", &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arguments_are_checked_against_the_schema() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        assert!(check_arguments(&schema, &json!({"city": "Oslo"})).is_ok());
        let missing = check_arguments(&schema, &json!({})).expect_err("city is required");
        assert!(missing.contains("city"), "{missing}");
        let wrong = check_arguments(&schema, &json!({"city": 7})).expect_err("city is a string");
        assert!(wrong.contains("/city"), "{wrong}");
    }

    #[test]
    fn headers_are_tokens_and_visible_values() {
        assert!(header_name("h", "X-Api-Key").is_ok());
        for bad in ["", "X Api", "Host", "content-type", "X:Y"] {
            assert!(header_name("h", bad).is_err(), "{bad}");
        }
        assert!(header_value("v", "Bearer abc\tdef").is_ok());
        assert!(header_value("v", "a\r\nInjected: 1").is_err());
        assert!(header_value("v", "é").is_err());
    }
}
