//! What a document costs as it would execute, and the limits on it.
//!
//! A fragment may spread another twice, which may spread another twice: 1 KB
//! of text then stands for millions of fields, and any walk that expands
//! fragments where they are spread (async-graphql's depth and complexity
//! checks, its validation rules, execution itself) takes exponential time
//! and memory. So before anything else looks at a parsed document, each
//! fragment's cost is computed once, from the costs of the fragments it
//! spreads, and each operation's from those: time and memory linear in the
//! document's size. A document over a limit is refused before validation.
//!
//! Introspection (`__schema`, `__type`) is counted apart, under limits of its
//! own: the query GraphiQL and code generators send nests `ofType` deeper
//! than any query of the API needs, and is answered from memory.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Name, ServerError, Value};

use crate::config::QueryLimits;

/// The limits every parsed document is held to (HTTP, each entry of a
/// batch, and WebSocket `subscribe`), checked by the handlers before the
/// document reaches async-graphql: its own walks (recursion depth,
/// directives, validation) expand every fragment where it is spread,
/// which is exponential in the size of the document until these limits
/// have bounded it.
#[derive(Debug, Clone, Copy)]
pub struct QueryShapeLimits {
    pub limits: QueryLimits,
    /// `ORBIT_INTROSPECTION`: off, a document that introspects is refused
    /// with a message that says so (async-graphql alone answers `null`).
    pub introspection: bool,
}

impl QueryShapeLimits {
    /// Refuses a document over a limit with `BAD_USER_INPUT` and the limit
    /// in `extensions.details`.
    pub fn check(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        let QueryShapeLimits {
            mut limits,
            introspection,
        } = *self;
        if !introspection {
            limits.introspection_max_fields = 0;
        }
        check(document, &limits).map_err(LimitExceeded::into_server_error)
    }
}

/// What a selection costs with its fragments expanded. Sums saturate: a
/// cost past `u64::MAX` is over every limit all the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    fields: u64,
    aliases: u64,
    depth: u64,
    /// Fields at the selection's own level: an operation's root fields.
    top_fields: u64,
    introspection_fields: u64,
    introspection_depth: u64,
}

impl Cost {
    /// Two selections side by side.
    fn beside(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
            depth: self.depth.max(other.depth),
            top_fields: self.top_fields.saturating_add(other.top_fields),
            introspection_fields: self
                .introspection_fields
                .saturating_add(other.introspection_fields),
            introspection_depth: self.introspection_depth.max(other.introspection_depth),
        }
    }

    /// The same selection on an introspection type (`... on __Type`):
    /// everything in it is introspection.
    fn as_introspection(self) -> Cost {
        Cost {
            fields: 0,
            depth: 0,
            introspection_fields: self.introspection_fields.saturating_add(self.fields),
            introspection_depth: self.introspection_depth.max(self.depth),
            ..self
        }
    }

    /// A field selecting `below`.
    fn field(name: &str, aliased: bool, below: Cost) -> Cost {
        let aliases = below.aliases.saturating_add(u64::from(aliased));
        if matches!(name, "__schema" | "__type") {
            // Everything below an introspection root is introspection.
            return Cost {
                fields: 0,
                aliases,
                depth: 0,
                top_fields: 1,
                introspection_fields: below
                    .fields
                    .saturating_add(below.introspection_fields)
                    .saturating_add(1),
                introspection_depth: below.depth.max(below.introspection_depth) + 1,
            };
        }
        Cost {
            fields: below.fields.saturating_add(1),
            aliases,
            depth: below.depth + 1,
            top_fields: 1,
            introspection_fields: below.introspection_fields,
            introspection_depth: match below.introspection_depth {
                0 => 0,
                depth => depth + 1,
            },
        }
    }
}

/// A document over one of the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitExceeded {
    /// The limit's name in `extensions.details.limit`.
    pub limit: &'static str,
    /// The limit's value.
    pub max: usize,
    /// What the document needs (at least; counting stops at the first limit passed).
    pub found: u64,
    message: String,
}

impl LimitExceeded {
    fn new(limit: &'static str, max: usize, found: u64, unit: &str) -> Self {
        Self {
            limit,
            max,
            found,
            message: format!(
                "the document is over the limit `{limit}` of {max}: it has {found} {unit}"
            ),
        }
    }

    fn cycle(fragment: &str) -> Self {
        Self {
            limit: "fragmentCycles",
            max: 0,
            found: 1,
            message: format!("fragment `{fragment}` spreads itself"),
        }
    }

    /// `BAD_USER_INPUT` with the limit and its value in `extensions.details`.
    fn into_server_error(self) -> ServerError {
        let mut error = ServerError::new(self.message, None);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "BAD_USER_INPUT");
        let mut details = async_graphql::indexmap::IndexMap::new();
        details.insert(Name::new("limit"), Value::from(self.limit));
        details.insert(Name::new("value"), Value::from(self.max as u64));
        details.insert(Name::new("found"), Value::from(self.found));
        extensions.set("details", Value::Object(details));
        error.extensions = Some(extensions);
        error
    }
}

/// Checks every operation and every fragment of `document` against `limits`
/// (an unused fragment is still walked by validation, so it is held to the
/// same limits), and the document's own size.
pub(crate) fn check(
    document: &ExecutableDocument,
    limits: &QueryLimits,
) -> Result<(), LimitExceeded> {
    let mut selections: u64 = 0;
    let fragments = fragment_costs(document, &mut selections)?;
    for (_, operation) in document.operations.iter() {
        let cost = selection_set_cost(
            &operation.node.selection_set.node,
            &fragments,
            &mut selections,
        );
        check_cost(&cost, limits)?;
        if cost.top_fields > limits.max_root_fields as u64 {
            return Err(LimitExceeded::new(
                "maxRootFields",
                limits.max_root_fields,
                cost.top_fields,
                "root fields (fragments counted where they are spread)",
            ));
        }
    }
    for cost in fragments.values() {
        check_cost(cost, limits)?;
    }
    // Validation compares fields within each selection set written, so the
    // text itself is bounded too: every selection written is executed at
    // least once where it is used, so this only refuses unused bulk.
    let written_max = limits
        .max_fields
        .saturating_add(limits.introspection_max_fields);
    if selections > written_max as u64 {
        return Err(LimitExceeded::new(
            "maxFields",
            written_max,
            selections,
            "selections written",
        ));
    }
    Ok(())
}

fn check_cost(cost: &Cost, limits: &QueryLimits) -> Result<(), LimitExceeded> {
    let checks: [(&'static str, usize, u64, &str); 5] = [
        ("maxDepth", limits.max_depth, cost.depth, "levels of fields"),
        (
            "maxAliases",
            limits.max_aliases,
            cost.aliases,
            "aliases (fragments counted where they are spread)",
        ),
        (
            "maxFields",
            limits.max_fields,
            cost.fields,
            "fields (fragments counted where they are spread)",
        ),
        (
            "maxIntrospectionDepth",
            limits.introspection_max_depth,
            cost.introspection_depth,
            "levels of introspection fields",
        ),
        (
            "maxIntrospectionFields",
            limits.introspection_max_fields,
            cost.introspection_fields,
            "introspection fields",
        ),
    ];
    if limits.introspection_max_fields == 0 && cost.introspection_fields > 0 {
        return Err(LimitExceeded {
            limit: "introspection",
            max: 0,
            found: cost.introspection_fields,
            message: "introspection is switched off on this server".to_owned(),
        });
    }
    for (limit, max, found, what) in checks {
        if found > max as u64 {
            return Err(LimitExceeded::new(limit, max, found, what));
        }
    }
    Ok(())
}

/// The cost of each fragment, each computed once, after the fragments it
/// spreads (a depth-first walk with its own stack: a chain of thousands of
/// fragments must not overflow the thread's). A spread of an unknown
/// fragment costs nothing here; validation reports it.
fn fragment_costs<'a>(
    document: &'a ExecutableDocument,
    selections: &mut u64,
) -> Result<HashMap<&'a str, Cost>, LimitExceeded> {
    let definitions: HashMap<&str, &SelectionSet> = document
        .fragments
        .iter()
        .map(|(name, fragment)| (name.as_str(), &fragment.node.selection_set.node))
        .collect();
    // Fragments on `__Type`, `__Field`, ...: introspection wherever they are spread.
    let introspection_types: std::collections::HashSet<&str> = document
        .fragments
        .iter()
        .filter(|(_, fragment)| fragment.node.type_condition.node.on.node.starts_with("__"))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut done: HashMap<&str, Cost> = HashMap::with_capacity(definitions.len());
    let mut visiting: HashMap<&str, ()> = HashMap::new();
    for &start in definitions.keys() {
        if done.contains_key(start) {
            continue;
        }
        // (fragment, the fragments it spreads, how many of them are done)
        let mut stack: Vec<(&str, Vec<&str>, usize)> = Vec::new();
        visiting.insert(start, ());
        stack.push((start, spreads_in(definitions[start]), 0));
        while let Some((name, spreads, next)) = stack.last_mut() {
            if let Some(&spread) = spreads.get(*next) {
                *next += 1;
                if done.contains_key(spread) || !definitions.contains_key(spread) {
                    continue;
                }
                if visiting.contains_key(spread) {
                    return Err(LimitExceeded::cycle(spread));
                }
                visiting.insert(spread, ());
                let below = spreads_in(definitions[spread]);
                stack.push((spread, below, 0));
                continue;
            }
            let name = *name;
            let mut cost = selection_set_cost(definitions[name], &done, selections);
            if introspection_types.contains(name) {
                cost = cost.as_introspection();
            }
            visiting.remove(name);
            done.insert(name, cost);
            stack.pop();
        }
    }
    Ok(done)
}

/// The names of the fragments spread in `set`, at any depth below it but
/// not through other fragments. (Fields nest at most as deep as the parser
/// allows, so recursion here is bounded.)
fn spreads_in(set: &SelectionSet) -> Vec<&str> {
    let mut found = Vec::new();
    collect_spreads(set, &mut found);
    found
}

fn collect_spreads<'a>(set: &'a SelectionSet, found: &mut Vec<&'a str>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => collect_spreads(&field.node.selection_set.node, found),
            Selection::InlineFragment(fragment) => {
                collect_spreads(&fragment.node.selection_set.node, found)
            }
            Selection::FragmentSpread(spread) => {
                found.push(spread.node.fragment_name.node.as_str())
            }
        }
    }
}

/// The cost of `set`, given the costs of the fragments it spreads; counts
/// the selections written in it into `selections`.
fn selection_set_cost(
    set: &SelectionSet,
    fragments: &HashMap<&str, Cost>,
    selections: &mut u64,
) -> Cost {
    set.items.iter().fold(Cost::default(), |cost, item| {
        *selections = selections.saturating_add(1);
        let item_cost = match &item.node {
            Selection::Field(field) => Cost::field(
                field.node.name.node.as_str(),
                field.node.alias.is_some(),
                selection_set_cost(&field.node.selection_set.node, fragments, selections),
            ),
            Selection::InlineFragment(fragment) => {
                let cost =
                    selection_set_cost(&fragment.node.selection_set.node, fragments, selections);
                let on_introspection = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .is_some_and(|condition| condition.node.on.node.starts_with("__"));
                if on_introspection {
                    cost.as_introspection()
                } else {
                    cost
                }
            }
            Selection::FragmentSpread(spread) => fragments
                .get(spread.node.fragment_name.node.as_str())
                .copied()
                .unwrap_or_default(),
        };
        cost.beside(item_cost)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check_text(text: &str) -> Result<(), LimitExceeded> {
        let document = async_graphql::parser::parse_query(text).unwrap();
        check(&document, &QueryLimits::default())
    }

    /// `fragment L{n} on Query { ...L{n-1} ...L{n-1} }`, `levels` deep.
    fn doubling_fragments(levels: usize, aliased: bool) -> String {
        let leaf = if aliased {
            "a: __typename"
        } else {
            "__typename"
        };
        let mut text = format!("query {{ ...L{levels} }}\nfragment L0 on Query {{ {leaf} }}\n");
        for level in 1..=levels {
            let below = level - 1;
            text.push_str(&format!(
                "fragment L{level} on Query {{ ...L{below} ...L{below} }}\n"
            ));
        }
        text
    }

    #[test]
    fn doubling_fragments_are_counted_as_executed() {
        let refused = check_text(&doubling_fragments(24, false)).unwrap_err();
        assert_eq!(refused.limit, "maxFields");
        assert_eq!(refused.found, 1 << 24, "the operation, as executed");
        // Far past u64: the sums saturate and the check still ends at once.
        assert_eq!(
            check_text(&doubling_fragments(200, false))
                .unwrap_err()
                .limit,
            "maxFields"
        );
        let refused = check_text(&doubling_fragments(24, true)).unwrap_err();
        assert_eq!(refused.limit, "maxAliases");
        assert_eq!(refused.found, 1 << 24);
        assert!(check_text(&doubling_fragments(4, false)).is_ok());
    }

    #[test]
    fn cost_per_operation() {
        let text = "query Q($id: ID!) { thread(id: $id) { ...T title } a: me { id } }
                    fragment T on Thread { id messages(first: 5) { edges { node { id content } } } }";
        let document = async_graphql::parser::parse_query(text).unwrap();
        let mut selections = 0;
        let fragments = fragment_costs(&document, &mut selections).unwrap();
        let (_, operation) = document.operations.iter().next().unwrap();
        let cost = selection_set_cost(
            &operation.node.selection_set.node,
            &fragments,
            &mut selections,
        );
        assert_eq!(
            cost,
            Cost {
                // thread, id, messages, edges, node, id, content, title, me, id
                fields: 10,
                aliases: 1,
                // thread > messages > edges > node > id
                depth: 5,
                top_fields: 2,
                introspection_fields: 0,
                introspection_depth: 0,
            }
        );
    }

    #[test]
    fn depth_counts_through_fragments() {
        let mut text = String::from("{ ...F0 }\n");
        for level in 0..13 {
            text.push_str(&format!(
                "fragment F{level} on Query {{ viewer {{ ...F{} }} }}\n",
                level + 1
            ));
        }
        text.push_str("fragment F13 on Query { __typename }\n");
        // viewer is not really of type Query; the cost does not care.
        let refused = check_text(&text).unwrap_err();
        assert_eq!(refused.limit, "maxDepth");
    }

    #[test]
    fn cycles_and_long_chains() {
        assert_eq!(
            check_text("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
                .unwrap_err()
                .limit,
            "fragmentCycles"
        );
        // A chain of 20,000 fragments: no recursion per fragment.
        let mut text = String::from("{ ...F0 }\n");
        for level in 0..20_000 {
            text.push_str(&format!(
                "fragment F{level} on Query {{ ...F{} }}\n",
                level + 1
            ));
        }
        text.push_str("fragment F20000 on Query { __typename }\n");
        assert_eq!(check_text(&text).unwrap_err().limit, "maxFields");
    }

    #[test]
    fn unused_fragments_are_held_to_the_limits() {
        let mut text = doubling_fragments(24, false);
        text = text.replacen("query { ...L24 }", "query { __typename }", 1);
        assert_eq!(check_text(&text).unwrap_err().limit, "maxFields");
    }

    #[test]
    fn root_fields_are_counted_through_fragments() {
        let fields: String = (0..21).map(|n| format!("f{n}: __typename ")).collect();
        let text = format!("{{ ...R }} fragment R on Query {{ {fields} }}");
        let limits = QueryLimits {
            max_aliases: 100,
            ..QueryLimits::default()
        };
        let document = async_graphql::parser::parse_query(&text).unwrap();
        assert_eq!(
            check(&document, &limits).unwrap_err().limit,
            "maxRootFields"
        );
    }

    #[test]
    fn introspection_has_limits_of_its_own() {
        // 16 levels below __schema: over the API's depth, within introspection's.
        let mut nested = String::from("name");
        for _ in 0..14 {
            nested = format!("kind ofType {{ {nested} }}");
        }
        let text = format!("{{ __schema {{ types {{ {nested} }} }} }}");
        assert!(check_text(&text).is_ok());
        let cost_text =
            format!("{{ __schema {{ types {{ {nested} }} }} thread(id: \"x\") {{ id }} }}");
        assert!(check_text(&cost_text).is_ok());
        let mut deeper = String::from("name");
        for _ in 0..30 {
            deeper = format!("ofType {{ {deeper} }}");
        }
        let refused = check_text(&format!("{{ __type(name: \"X\") {{ {deeper} }} }}")).unwrap_err();
        assert_eq!(refused.limit, "maxIntrospectionDepth");
    }
}
