//! Limits async-graphql does not have: aliases and root fields per operation.
//! Without them one request can hide hundreds of login attempts or
//! expensive lookups behind aliases.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

pub const MAX_ALIASES: usize = 30;
pub const MAX_ROOT_FIELDS: usize = 20;

pub struct QueryShapeLimits;

impl ExtensionFactory for QueryShapeLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryShapeLimitsExtension)
    }
}

struct QueryShapeLimitsExtension;

fn count_aliases(
    selection_set: &SelectionSet,
    document: &ExecutableDocument,
    depth: usize,
) -> usize {
    if depth > 64 {
        return 0;
    }
    selection_set
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node, document, depth + 1)
            }
            Selection::InlineFragment(fragment) => {
                count_aliases(&fragment.node.selection_set.node, document, depth + 1)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map(|fragment| {
                    count_aliases(&fragment.node.selection_set.node, document, depth + 1)
                })
                .unwrap_or(0),
        })
        .sum()
}

#[async_trait::async_trait]
impl Extension for QueryShapeLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        for (_, operation) in document.operations.iter() {
            let root = &operation.node.selection_set.node;
            if root.items.len() > MAX_ROOT_FIELDS {
                return Err(ServerError::new(
                    format!("an operation may select at most {MAX_ROOT_FIELDS} root fields"),
                    None,
                ));
            }
            if count_aliases(root, &document, 0) > MAX_ALIASES {
                return Err(ServerError::new(
                    format!("an operation may use at most {MAX_ALIASES} aliases"),
                    None,
                ));
            }
        }
        Ok(document)
    }
}
