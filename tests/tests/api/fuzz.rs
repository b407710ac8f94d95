//! A bounded fuzz run of the GraphQL endpoint: documents generated from
//! `schema.graphql` (random root fields, arguments of the right shape and
//! of the wrong one, nested selections, fragments on union members), sent
//! with every kind of credential. Whatever they ask, the server answers
//! with a well-formed response: never a 5xx, never `INTERNAL`, and it is
//! still there afterwards. `ORBIT_FUZZ_SEED` and `ORBIT_FUZZ_CASES` rerun a
//! failure or run longer.

use std::collections::HashMap;
use std::fmt::Write as _;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use orbit_tests::spawn_app;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SCHEMA: &str = include_str!("../../../schema.graphql");

/// Root fields left out: each ends the run's own credentials or world
/// (its session, key, app, team or thread), after which every later case
/// would only be refused. They have tests of their own.
const ENDS_THE_RUN: &[&str] = &[
    "logOut",
    "revokeSession",
    "changePassword",
    "disableUser",
    "deleteApp",
    "revokeApiKey",
    "deleteThread",
    "deleteTeam",
    "removeTeamMember",
    "removeThreadParticipant",
    "setTeamMemberRole",
];

struct Field {
    name: String,
    args: Vec<(String, Type)>,
    ty: Type,
}

enum Shape {
    Scalar,
    Enum(Vec<String>),
    Object(Vec<Field>),
    Abstract(Vec<String>),
    Input(Vec<(String, Type)>),
}

struct Schema {
    types: HashMap<String, Shape>,
    roots: Vec<(&'static str, String)>,
}

fn read_schema() -> Schema {
    let document = async_graphql::parser::parse_schema(SCHEMA).expect("schema.graphql parses");
    let mut types = HashMap::new();
    let mut roots = Vec::new();
    for definition in document.definitions {
        match definition {
            TypeSystemDefinition::Schema(schema) => {
                let schema = schema.node;
                if let Some(query) = schema.query {
                    roots.push(("query", query.node.to_string()));
                }
                if let Some(mutation) = schema.mutation {
                    roots.push(("mutation", mutation.node.to_string()));
                }
            }
            TypeSystemDefinition::Type(definition) => {
                let definition = definition.node;
                let fields = |fields: Vec<
                    async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>,
                >| {
                    fields
                        .into_iter()
                        .map(|field| Field {
                            name: field.node.name.node.to_string(),
                            args: field
                                .node
                                .arguments
                                .into_iter()
                                .map(|arg| (arg.node.name.node.to_string(), arg.node.ty.node))
                                .collect(),
                            ty: field.node.ty.node,
                        })
                        .collect()
                };
                let shape = match definition.kind {
                    TypeKind::Scalar => Shape::Scalar,
                    TypeKind::Enum(values) => Shape::Enum(
                        values
                            .values
                            .into_iter()
                            .map(|v| v.node.value.node.to_string())
                            .collect(),
                    ),
                    TypeKind::Object(object) => Shape::Object(fields(object.fields)),
                    TypeKind::Interface(interface) => Shape::Object(fields(interface.fields)),
                    TypeKind::Union(union) => Shape::Abstract(
                        union
                            .members
                            .into_iter()
                            .map(|m| m.node.to_string())
                            .collect(),
                    ),
                    TypeKind::InputObject(input) => Shape::Input(
                        input
                            .fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect(),
                    ),
                };
                types.insert(definition.name.node.to_string(), shape);
            }
            TypeSystemDefinition::Directive(_) => {}
        }
    }
    Schema { types, roots }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

struct Generator<'a> {
    schema: &'a Schema,
    rng: StdRng,
    ids: Vec<String>,
}

impl Generator<'_> {
    fn string(&mut self) -> String {
        let pick = self.rng.random_range(0..20);
        let text = match pick {
            0 => String::new(),
            1 => "x".repeat(self.rng.random_range(1..3_000)),
            2 => "\u{202e}\u{1f600} \t\n\"\\".to_owned(),
            3 => format!("thr_{:032x}", self.rng.random::<u128>()),
            4 => "0 0 * * *".to_owned(),
            5 => "http://127.0.0.1:9/".to_owned(),
            6 => "2026-12-03T10:00:00Z".to_owned(),
            7 => "a@b.co".to_owned(),
            _ => (0..self.rng.random_range(1..20))
                .map(|_| char::from(self.rng.random_range(b' '..b'~')))
                .collect(),
        };
        serde_json::to_string(&text).expect("a string serialises")
    }

    fn value(&mut self, ty: &Type, depth: usize) -> String {
        // Now and then the wrong shape altogether.
        if self.rng.random_ratio(1, 40) {
            return match self.rng.random_range(0..4) {
                0 => "null".to_owned(),
                1 => "12345678901234567890".to_owned(),
                2 => "[1, \"two\", {three: 3}]".to_owned(),
                _ => self.string(),
            };
        }
        if let BaseType::List(inner) = &ty.base {
            let items: Vec<String> = (0..self.rng.random_range(0..4))
                .map(|_| self.value(inner, depth + 1))
                .collect();
            return format!("[{}]", items.join(", "));
        }
        let name = named(ty);
        match name {
            "Int" => [
                "0",
                "-1",
                "1",
                "5",
                "20",
                "20",
                "100",
                "101",
                "2147483647",
                "-2147483648",
            ][self.rng.random_range(0..10)]
            .to_owned(),
            "Float" => ["0.0", "-1.5", "1e308", "0.7"][self.rng.random_range(0..4)].to_owned(),
            "Boolean" => self.rng.random::<bool>().to_string(),
            "ID" => {
                if !self.ids.is_empty() && self.rng.random_ratio(9, 10) {
                    let id = self.ids[self.rng.random_range(0..self.ids.len())].clone();
                    serde_json::to_string(&id).expect("an id serialises")
                } else {
                    self.string()
                }
            }
            "JSON" => {
                if depth > 2 {
                    "1".to_owned()
                } else {
                    let inner = self.string();
                    format!("{{ key: {inner}, n: [1, 2, {{ deep: true }}] }}")
                }
            }
            _ => match self.schema.types.get(name) {
                Some(Shape::Enum(values)) => values[self.rng.random_range(0..values.len())].clone(),
                Some(Shape::Input(fields)) if depth < 4 => {
                    let mut parts = Vec::new();
                    for (field, field_ty) in fields {
                        if !field_ty.nullable || self.rng.random_ratio(1, 2) {
                            let value = self.value(field_ty, depth + 1);
                            parts.push(format!("{field}: {value}"));
                        }
                    }
                    format!("{{ {} }}", parts.join(", "))
                }
                _ => self.string(),
            },
        }
    }

    fn arguments(&mut self, args: &[(String, Type)]) -> String {
        let mut parts = Vec::new();
        for (name, ty) in args {
            if !ty.nullable || self.rng.random_ratio(1, 2) {
                let value = self.value(ty, 0);
                parts.push(format!("{name}: {value}"));
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("({})", parts.join(", "))
        }
    }

    fn selection(&mut self, type_name: &str, depth: usize) -> String {
        match self.schema.types.get(type_name) {
            Some(Shape::Object(fields)) => {
                if depth > 4 {
                    return "{ __typename }".to_owned();
                }
                let mut out = String::from("{ __typename");
                for _ in 0..self.rng.random_range(1..4) {
                    let field = &fields[self.rng.random_range(0..fields.len())];
                    let args = self.arguments(&field.args);
                    let below = self.selection(named(&field.ty), depth + 1);
                    let _ = write!(out, " {}{args} {below}", field.name);
                }
                out.push_str(" }");
                out
            }
            Some(Shape::Abstract(members)) => {
                let mut out = String::from("{ __typename");
                let member = members[self.rng.random_range(0..members.len())].clone();
                let below = self.selection(&member, depth + 1);
                let _ = write!(out, " ... on {member} {below} }}");
                out
            }
            _ => String::new(),
        }
    }

    fn document(&mut self) -> String {
        let (kind, root) =
            self.schema.roots[self.rng.random_range(0..self.schema.roots.len())].clone();
        let Some(Shape::Object(fields)) = self.schema.types.get(&root) else {
            return "{ __typename }".to_owned();
        };
        let mut out = format!("{kind} Fuzz {{");
        let fields: Vec<&Field> = fields
            .iter()
            .filter(|field| !ENDS_THE_RUN.contains(&field.name.as_str()))
            .collect();
        for n in 0..self.rng.random_range(1..=2) {
            let field = fields[self.rng.random_range(0..fields.len())];
            let args = self.arguments(&field.args);
            let below = self.selection(named(&field.ty), 1);
            let _ = write!(out, " f{n}: {}{args} {below}", field.name);
        }
        out.push_str(" }");
        out
    }
}

#[tokio::test]
async fn generated_documents_never_break_the_server() {
    let seed = std::env::var("ORBIT_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(20261203_u64);
    let cases: usize = std::env::var("ORBIT_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(400);
    let schema = read_schema();
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let credentials: [Option<&str>; 4] = [
        None,
        Some(&w.keys.publishable_key),
        Some(&w.keys.secret_key),
        Some(&w.member.access_token),
    ];
    let mut generator = Generator {
        schema: &schema,
        rng: StdRng::seed_from_u64(seed),
        ids: vec![
            w.thread_id.clone(),
            w.team_id.clone(),
            w.member.user_id.clone(),
            w.owner.user_id.clone(),
        ],
    };
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    for case in 0..cases {
        let document = generator.document();
        // Mostly the credentials that may do the most.
        let credential = credentials[[0, 1, 2, 2, 3, 3, 3][case % 7]];
        let (status, body) = app
            .post_graphql(credential, &json!({ "query": document }))
            .await;
        let context = format!("seed {seed}, case {case}: {document}\n-> {status} {body}");
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{context}"
        );
        assert!(
            body.get("data").is_some() || body.get("errors").is_some(),
            "not a GraphQL response: {context}"
        );
        let outcome = match body["errors"][0]["extensions"]["code"].as_str() {
            Some(code) => code.to_owned(),
            None => "ok".to_owned(),
        };
        *outcomes.entry(outcome).or_default() += 1;
        if let Some(errors) = body["errors"].as_array() {
            for error in errors {
                assert_ne!(error["extensions"]["code"], "INTERNAL", "{context}");
                assert!(
                    error["extensions"]["code"].is_string(),
                    "an error without a code: {context}"
                );
            }
        }
    }
    // What the run reached, for whoever reads the log: a run that only
    // ever hit validation errors would exercise little. A document refused
    // as BAD_USER_INPUT may not have reached a resolver; every other
    // outcome (data, or a refusal by access or lookup) ran one. (Counting
    // only data made the check hang on how many operations the schema
    // has: each new one shifts what the seed generates.)
    println!("fuzz outcomes (seed {seed}, {cases} cases): {outcomes:?}");
    let refused_as_input = outcomes.get("BAD_USER_INPUT").copied().unwrap_or(0);
    assert!(
        cases - refused_as_input >= cases / 4 && outcomes.get("ok").copied().unwrap_or(0) > 0,
        "too few documents ran: {outcomes:?}"
    );
    let alive: Value = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(alive["data"]["__typename"], "Query");
}
