//! MCP servers an app registers: Orbit connects to each over the Streamable
//! HTTP transport, lists its tools and keeps one tool row per listed tool,
//! so agents are given them, call them, and have calls approved exactly as
//! with HTTP tools.
//!
//! A listed tool is named `<server>__<tool>` in the app: models see one
//! flat namespace of function names, and two servers may well both offer
//! `search`. The double underscore cannot occur in a server's name, so the
//! split is never ambiguous. A listed tool that cannot become a tool of the
//! app (its joined name is not one a model accepts, its schema breaks the
//! rules HTTP tools follow) is left out and reported, never half-stored.

use crate::agents::stored_enum;
use crate::tools::{self, MAX_TOOL_NAME_CHARS};
use crate::{DomainError, DomainResult};

/// A server's name: short enough that `<server>__<tool>` leaves room for
/// the tool's own name within the 64 characters models accept.
pub const MAX_SERVER_NAME_CHARS: usize = 24;
/// Tools kept from one server: each one's schema may go into every request
/// to the model of an agent given it.
pub const MAX_SERVER_TOOLS: usize = 128;
/// The seal purpose of a server's secret header value; the row is
/// `<server id>/<header name, lowercase>`.
pub const HEADER_SEAL_PURPOSE: &str = "mcp_server.header";
/// Between a server's name and its tool's in the name models call.
pub const NAME_SEPARATOR: &str = "__";

stored_enum!(
    /// How the last look at a server went.
    ServerStatus { Ready => "ready", Failed => "failed" }
);

/// A server's name: 1 to 24 of `A-Z a-z 0-9 _ -`, without `__` and not
/// ending in `_` (either would make the joined tool names ambiguous).
pub fn server_name(field: &str, value: &str) -> DomainResult<String> {
    let valid = !value.is_empty()
        && value.len() <= MAX_SERVER_NAME_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !value.contains(NAME_SEPARATOR)
        && !value.ends_with('_');
    if !valid {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be 1 to {MAX_SERVER_NAME_CHARS} letters, digits, `_` or `-`, without `__` and not ending in `_` (its tools are named <server>__<tool>)"
            ),
        ));
    }
    Ok(value.to_owned())
}

/// The name a model calls a server's tool by, or why it cannot have one.
pub fn joined_tool_name(server: &str, tool: &str) -> Result<String, String> {
    let joined = format!("{server}{NAME_SEPARATOR}{tool}");
    tools::tool_name("name", &joined).map_err(|_| {
        format!(
            "\"{tool}\" cannot be named for a model: <server>__<tool> must be at most {MAX_TOOL_NAME_CHARS} letters, digits, `_` or `-`"
        )
    })
}

/// The server's tool name back from the name a model called.
pub fn server_tool_of<'a>(server: &str, joined: &'a str) -> Option<&'a str> {
    joined
        .strip_prefix(server)
        .and_then(|rest| rest.strip_prefix(NAME_SEPARATOR))
}

/// A tool as a server listed it, checked as a tool of the app.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTool {
    /// The server's own name for it (what a call sends).
    pub server_name: String,
    /// `<server>__<tool>`.
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
}

/// A tool the server listed that the app cannot have, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub server_name: String,
    pub reason: String,
}

/// What a look at a server found.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    Listed {
        tools: Vec<ListedTool>,
        left_out: Vec<LeftOut>,
    },
    /// It could not be reached or did not speak MCP: the tools kept from
    /// the last good look stay, and calls of them fail until it answers.
    Failed(String),
}

/// Checks each tool a server listed (its name, description and schema as
/// for an HTTP tool), keeping at most [`MAX_SERVER_TOOLS`].
pub fn check_listing(
    server: &str,
    listed: impl IntoIterator<Item = (String, Option<String>, serde_json::Value)>,
) -> Listing {
    let mut tools_kept = Vec::new();
    let mut left_out = Vec::new();
    for (name, description, schema) in listed {
        let checked = joined_tool_name(server, &name).and_then(|joined| {
            // A server may list a tool without a description; the model
            // then reads its name.
            let description = description
                .filter(|text| !text.trim().is_empty())
                .unwrap_or_else(|| name.clone());
            let description = tools::tool_description("description", &description)
                .map_err(|error| error.message)?;
            tools::input_schema("inputSchema", &schema)
                .map_err(|error| format!("its input schema {}", error.message))?;
            Ok(ListedTool {
                server_name: name.clone(),
                name: joined,
                description,
                input_schema: schema,
            })
        });
        match checked {
            Ok(_) if tools_kept.len() >= MAX_SERVER_TOOLS => left_out.push(LeftOut {
                server_name: name,
                reason: format!("a server's tools are kept up to {MAX_SERVER_TOOLS}"),
            }),
            Ok(tool) => tools_kept.push(tool),
            Err(reason) => left_out.push(LeftOut {
                server_name: name,
                reason,
            }),
        }
    }
    Listing::Listed {
        tools: tools_kept,
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_names_keep_joined_names_unambiguous() {
        assert!(server_name("name", "github").is_ok());
        assert!(server_name("name", "my-docs_2").is_ok());
        for bad in ["", "a__b", "docs_", "a b", &"a".repeat(25)] {
            assert!(server_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tool_is_named_after_its_server_and_found_again() {
        assert_eq!(
            joined_tool_name("docs", "search").as_deref(),
            Ok("docs__search")
        );
        assert_eq!(server_tool_of("docs", "docs__search"), Some("search"));
        assert_eq!(server_tool_of("docs", "doc__search"), None);
        assert!(joined_tool_name("docs", "read file").is_err());
        assert!(joined_tool_name("docs", &"x".repeat(60)).is_err());
    }

    #[test]
    fn a_listing_keeps_what_fits_and_says_why_the_rest_was_left_out() {
        let object = json!({"type": "object", "properties": {}});
        let listing = check_listing(
            "docs",
            [
                (
                    "search".to_owned(),
                    Some("Searches".to_owned()),
                    object.clone(),
                ),
                ("no_description".to_owned(), None, object.clone()),
                ("bad name".to_owned(), None, object.clone()),
                ("scalar".to_owned(), None, json!({"type": "string"})),
            ],
        );
        let Listing::Listed { tools, left_out } = listing else {
            panic!("a listing");
        };
        let names: Vec<_> = tools.iter().map(|tool| tool.name.as_str()).collect();
        assert_eq!(names, ["docs__search", "docs__no_description"]);
        assert_eq!(tools[1].description, "no_description");
        let out: Vec<_> = left_out
            .iter()
            .map(|left| left.server_name.as_str())
            .collect();
        assert_eq!(out, ["bad name", "scalar"]);
        assert!(
            left_out[1].reason.contains("object"),
            "{}",
            left_out[1].reason
        );
    }
}
