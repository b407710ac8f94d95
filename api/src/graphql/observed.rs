//! Which operation a request ran, for `/metrics` and the access log: its
//! type and name, read from the document async-graphql parsed (once, by
//! the limits extension) rather than parsing it again.

use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ServerResult, Variables};
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

/// Where [`Observe`] leaves the operation; the handler keeps a clone and
/// reads it after execution.
#[derive(Debug, Clone, Default)]
pub struct OperationSlot(Arc<OnceLock<Operation>>);

impl OperationSlot {
    /// What was observed; a request that stopped before parsing is
    /// `unknown`, named as the request named it.
    pub fn get(&self, requested_name: Option<&str>) -> Operation {
        match self.0.get() {
            Some(operation) => operation.clone(),
            None => Operation {
                kind: "unknown",
                name: crate::telemetry::operation_label(requested_name),
            },
        }
    }
}

pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension)
    }
}

struct ObserveExtension;

#[async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(slot) = ctx.data_opt::<OperationSlot>() {
            let requested = ctx.data_opt::<RequestedName>().and_then(|n| n.0.as_deref());
            let _ = slot.0.set(operation(&document, requested));
        }
        Ok(document)
    }
}

/// The request's `operationName`, handed to the extension (which sees the
/// document but not the request).
#[derive(Debug, Clone)]
pub struct RequestedName(pub Option<String>);

fn operation(document: &ExecutableDocument, requested: Option<&str>) -> Operation {
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
        None => Operation {
            kind: "unknown",
            name: crate::telemetry::operation_label(requested),
        },
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
