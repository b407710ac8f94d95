//! Which operation a request ran, for `/metrics` and the access log: its
//! type and name, read from the document the handler already holds parsed.

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use metrics::SharedString;

/// The type and label of the operation a request ran.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `query`, `mutation`, `subscription`, or `unknown` when the document
    /// did not parse or names no operation it holds.
    pub kind: &'static str,
    /// The operation's name as a bounded label (`telemetry::operation_label`).
    pub name: SharedString,
}

impl Operation {
    /// A request whose document could not be had or did not parse, named
    /// as the request named it.
    pub fn unknown(requested: Option<&str>) -> Self {
        Operation {
            kind: "unknown",
            name: crate::telemetry::operation_label(requested),
        }
    }
}

/// The operation `document` runs for a request that names `requested`.
pub fn operation(document: &ExecutableDocument, requested: Option<&str>) -> Operation {
    let found = match (&document.operations, requested) {
        (DocumentOperations::Single(operation), None) => Some((None, &operation.node)),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(key, _)| key.as_str() == name)
            .map(|(key, operation)| (Some(key.as_str()), &operation.node)),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .iter()
            .next()
            .map(|(key, operation)| (Some(key.as_str()), &operation.node)),
        _ => None,
    };
    match found {
        Some((name, operation)) => Operation {
            kind: match operation.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            },
            name: crate::telemetry::operation_label(name),
        },
        None => Operation::unknown(requested),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(text: &str, requested: Option<&str>) -> (&'static str, String) {
        let document = async_graphql::parser::parse_query(text).expect("the document parses");
        let operation = operation(&document, requested);
        (operation.kind, operation.name.into_owned())
    }

    #[test]
    fn type_and_name_come_from_the_operation_run() {
        assert_eq!(
            observed("{ viewer { kind } }", None),
            ("query", "anonymous".into())
        );
        assert_eq!(
            observed("mutation Send { a }", None),
            ("mutation", "Send".into())
        );
        assert_eq!(
            observed("query A { a } subscription B { b }", Some("B")),
            ("subscription", "B".into())
        );
        // Two operations and no name: nothing runs.
        assert_eq!(
            observed("query A { a } query B { b }", None),
            ("unknown", "anonymous".into())
        );
        assert_eq!(
            observed("query A { a }", Some("Missing")),
            ("unknown", "Missing".into())
        );
    }
}
