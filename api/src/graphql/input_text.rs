//! Refuses text that Postgres cannot store: the NUL character (U+0000).
//! Postgres `text` and `jsonb` reject it, so without this check a NUL in a
//! message, a name or a search reached the database and came back as
//! INTERNAL, while SQLite stored it. One check before execution covers every
//! string the request gives, wherever it sits: arguments written in the
//! document or passed as variables, inside input objects and lists, and in
//! JSON scalars such as `metadata` (their keys too). It answers
//! `BAD_USER_INPUT` with `details.field` naming the input the way resolvers
//! do: the input object's field path without the `input` argument
//! (`content`, `action.postMessage.content`), else the argument (`search`),
//! and a JSON scalar as a whole (`metadata`). Resolvers keep their own
//! checks (`orbit_domain::validation`); this one is what makes them
//! unnecessary for NUL, including in inputs no resolver validates.

use std::collections::HashSet;

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Pos, Positioned, ServerError, Variables};
// The parser's values: arguments may still hold variables.
use async_graphql_value::{ConstValue, Value};
use orbit_domain::DomainError;

const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// How deep fragments may nest before the walk stops following them
/// (validation, which runs later, refuses cycles).
const MAX_FRAGMENT_DEPTH: usize = 64;

/// Refuses a request whose inputs hold a NUL, with `BAD_USER_INPUT` and
/// the input in `details.field`. `registry` gives the arguments' types:
/// input objects are walked field by field, a JSON scalar is one input.
pub(crate) fn refuse_nul(
    registry: &Registry,
    document: &ExecutableDocument,
    variables: &Variables,
) -> Result<(), ServerError> {
    let Some((field, pos)) = find_nul(registry, document, variables) else {
        return Ok(());
    };
    let mut error =
        async_graphql::Error::new_with_source(DomainError::bad_input(field, NUL_MESSAGE))
            .into_server_error(pos.unwrap_or_default());
    if pos.is_none() {
        error.locations.clear();
    }
    Err(error)
}

/// The first input holding a NUL: its field, and the argument's position
/// in the document when the walk found it there.
fn find_nul(
    registry: &Registry,
    document: &ExecutableDocument,
    variables: &Variables,
) -> Option<(String, Option<Pos>)> {
    let mut used = HashSet::new();
    for (_, operation) in document.operations.iter() {
        let walk = Walk {
            registry,
            document,
            variables,
            operation: &operation.node,
        };
        let root = match operation.node.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        let found = walk
            .directives(&operation.node.directives, &mut used)
            .or_else(|| walk.selection_set(&operation.node.selection_set.node, root, 0, &mut used));
        if let Some((field, pos)) = found {
            return Some((field, Some(pos)));
        }
    }
    // What the walk did not reach (a variable no argument uses is refused by
    // validation later, but never let a NUL through unchecked).
    variables.iter().find_map(|(name, value)| {
        (!used.contains(name.as_str()) && has_nul(value)).then(|| (name.to_string(), None))
    })
}

struct Walk<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    operation: &'a OperationDefinition,
}

impl Walk<'_> {
    fn selection_set(
        &self,
        set: &SelectionSet,
        parent: Option<&str>,
        depth: usize,
        used: &mut HashSet<String>,
    ) -> Option<(String, Pos)> {
        if depth > MAX_FRAGMENT_DEPTH {
            return None;
        }
        let parent_type = parent.and_then(|name| self.registry.types.get(name));
        for item in &set.items {
            let found = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let meta = parent_type.and_then(|t| t.field_by_name(&field.name.node));
                    let found = field.arguments.iter().find_map(|(name, value)| {
                        let ty = meta
                            .and_then(|m| m.args.get(name.node.as_str()))
                            .map(|arg| arg.ty.as_str());
                        self.argument(&name.node, value, ty, used)
                    });
                    found
                        .or_else(|| self.directives(&field.directives, used))
                        .or_else(|| {
                            let child = meta.map(|m| MetaTypeName::concrete_typename(&m.ty));
                            self.selection_set(&field.selection_set.node, child, depth + 1, used)
                        })
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let on = fragment
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(parent);
                    self.directives(&fragment.directives, used).or_else(|| {
                        self.selection_set(&fragment.selection_set.node, on, depth + 1, used)
                    })
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    self.directives(&spread.directives, used).or_else(|| {
                        self.document
                            .fragments
                            .get(&spread.fragment_name.node)
                            .and_then(|fragment| {
                                let fragment = &fragment.node;
                                let on = fragment.type_condition.node.on.node.as_str();
                                self.directives(&fragment.directives, used).or_else(|| {
                                    self.selection_set(
                                        &fragment.selection_set.node,
                                        Some(on),
                                        depth + 1,
                                        used,
                                    )
                                })
                            })
                    })
                }
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Directive arguments, untyped (none of ours takes text).
    fn directives(
        &self,
        directives: &[Positioned<async_graphql::parser::types::Directive>],
        used: &mut HashSet<String>,
    ) -> Option<(String, Pos)> {
        directives.iter().find_map(|directive| {
            directive
                .node
                .arguments
                .iter()
                .find_map(|(name, value)| self.argument(&name.node, value, None, used))
        })
    }

    /// One argument, of GraphQL type `ty` when the schema knows it.
    fn argument(
        &self,
        name: &Name,
        value: &Positioned<Value>,
        ty: Option<&str>,
        used: &mut HashSet<String>,
    ) -> Option<(String, Pos)> {
        let pos = value.pos;
        let value = self.resolve(&value.node, used);
        // `input` is the argument of every mutation: clients see the fields
        // inside it (`content`), as the resolvers' own checks name them.
        let is_input_object = ty.is_some_and(|ty| {
            matches!(
                self.registry.types.get(MetaTypeName::concrete_typename(ty)),
                Some(MetaType::InputObject { .. })
            )
        });
        let mut path = Vec::new();
        if !(name.as_str() == "input" && is_input_object) {
            path.push(name.to_string());
        }
        self.value(&value, ty, &mut path).map(|field| (field, pos))
    }

    /// The argument's value with its variables put in (or their defaults).
    fn resolve(&self, value: &Value, used: &mut HashSet<String>) -> ConstValue {
        value
            .clone()
            .into_const_with(|variable| {
                used.insert(variable.to_string());
                let given = self.variables.get(&variable).cloned();
                let default = || {
                    self.operation
                        .variable_definitions
                        .iter()
                        .find(|d| d.node.name.node == variable)
                        .and_then(|d| d.node.default_value.as_ref())
                        .map(|v| v.node.clone())
                };
                Ok::<_, std::convert::Infallible>(given.or_else(default).unwrap_or_default())
            })
            .unwrap_or_else(|never| match never {})
    }

    /// The field path of the first NUL in `value` of type `ty`, if any.
    fn value(
        &self,
        value: &ConstValue,
        ty: Option<&str>,
        path: &mut Vec<String>,
    ) -> Option<String> {
        let named = ty.map(MetaTypeName::concrete_typename);
        let input_fields = match named.and_then(|name| self.registry.types.get(name)) {
            Some(MetaType::InputObject { input_fields, .. }) => Some(input_fields),
            _ => None,
        };
        match value {
            ConstValue::String(text) => text.contains('\0').then(|| field_name(path)),
            ConstValue::List(items) => {
                // Items share the list's name, as `participantIds` does.
                let item = ty.and_then(list_item);
                items
                    .iter()
                    .find_map(|v| self.value(v, item.as_deref(), path))
            }
            ConstValue::Object(fields) => match input_fields {
                Some(input_fields) => fields.iter().find_map(|(key, v)| {
                    // An unknown key is refused by validation; its name may
                    // itself hold the NUL, so it is not put in the path.
                    let Some(meta) = input_fields.get(key.as_str()) else {
                        return has_nul(v).then(|| field_name(path));
                    };
                    path.push(key.to_string());
                    let found = self.value(v, Some(&meta.ty), path);
                    path.pop();
                    found
                }),
                // A JSON scalar (or a type the schema does not know): the
                // whole value is the one input, keys included.
                None => has_nul(value).then(|| field_name(path)),
            },
            _ => None,
        }
    }
}

/// `[T!]!` → `T!`: the type of a list's items.
fn list_item(ty: &str) -> Option<String> {
    let ty = ty.strip_suffix('!').unwrap_or(ty);
    ty.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .map(str::to_owned)
}

fn field_name(path: &[String]) -> String {
    path.join(".")
}

/// Whether a NUL is anywhere in `value`, object keys included.
fn has_nul(value: &ConstValue) -> bool {
    match value {
        ConstValue::String(text) => text.contains('\0'),
        ConstValue::List(items) => items.iter().any(has_nul),
        ConstValue::Object(fields) => fields
            .iter()
            .any(|(key, v)| key.contains('\0') || has_nul(v)),
        _ => false,
    }
}
