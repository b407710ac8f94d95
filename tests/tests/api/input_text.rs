//! Text Postgres cannot store: a NUL (U+0000) anywhere in a request's text
//! or JSON is `BAD_USER_INPUT` naming the input, on every backend, and
//! nothing is stored. A property test sends NULs at random places in random
//! inputs, inline in the document and through variables; the WebSocket and
//! OAuth endpoints are checked one by one.

use std::fmt::Write as _;

use orbit_tests::ws::{Protocol, WsClient};
use orbit_tests::{TeamWorld, TestApp, email, error_code, error_field};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Where the NUL goes. Each names the field the answer must blame.
#[derive(Debug, Clone, Copy)]
enum Target {
    MessageContent,
    MetadataValue,
    MetadataKey,
    NestedMetadata,
    EditedContent,
    UsersSearch,
    ThreadTitle,
    RenamedThread,
    ParticipantIds,
    TeamName,
    DisplayName,
    SignUpEmail,
    SignUpPassword,
}

const TARGETS: [Target; 13] = [
    Target::MessageContent,
    Target::MetadataValue,
    Target::MetadataKey,
    Target::NestedMetadata,
    Target::EditedContent,
    Target::UsersSearch,
    Target::ThreadTitle,
    Target::RenamedThread,
    Target::ParticipantIds,
    Target::TeamName,
    Target::DisplayName,
    Target::SignUpEmail,
    Target::SignUpPassword,
];

/// The things a case may touch, made once.
struct World {
    w: TeamWorld,
    /// A message of `w.member`'s in `w.thread_id`, for `editMessage`.
    own_message: String,
}

/// One request: who sends it, the document, its variables, and the field
/// to blame.
struct Request {
    auth: String,
    query: String,
    variables: Value,
    field: &'static str,
}

/// A GraphQL string literal (JSON's escapes are GraphQL's).
fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The request putting `text` at `target`, written inline in the document
/// or passed as a variable. A JSON object key cannot be written inline (a
/// key in the document is a name), so it always goes as a variable.
fn request(world: &World, target: Target, text: &str, inline: bool) -> Request {
    let w = &world.w;
    let member = w.member.access_token.clone();
    let lit = literal(text);
    let (auth, input_type, mutation, vars, inline_input, field) = match target {
        Target::MessageContent => (
            member,
            "SendMessageInput",
            "sendMessage",
            json!({ "threadId": w.thread_id, "content": text }),
            format!("{{ threadId: {}, content: {lit} }}", literal(&w.thread_id)),
            "content",
        ),
        Target::MetadataValue => (
            member,
            "SendMessageInput",
            "sendMessage",
            json!({ "threadId": w.thread_id, "content": "fine", "metadata": { "note": text } }),
            format!(
                "{{ threadId: {}, content: \"fine\", metadata: {{ note: {lit} }} }}",
                literal(&w.thread_id)
            ),
            "metadata",
        ),
        Target::MetadataKey => {
            let mut metadata = serde_json::Map::new();
            metadata.insert(text.to_owned(), json!(1));
            let input = json!({ "threadId": w.thread_id, "content": "fine", "metadata": metadata });
            return Request {
                auth: member,
                query: "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }".to_owned(),
                variables: json!({ "input": input }),
                field: "metadata",
            };
        }
        Target::NestedMetadata => (
            member,
            "SendMessageInput",
            "sendMessage",
            json!({ "threadId": w.thread_id, "content": "fine", "metadata": { "a": { "b": [1, text] } } }),
            format!(
                "{{ threadId: {}, content: \"fine\", metadata: {{ a: {{ b: [1, {lit}] }} }} }}",
                literal(&w.thread_id)
            ),
            "metadata",
        ),
        Target::EditedContent => (
            member,
            "EditMessageInput",
            "editMessage",
            json!({ "id": world.own_message, "content": text }),
            format!("{{ id: {}, content: {lit} }}", literal(&world.own_message)),
            "content",
        ),
        Target::UsersSearch => {
            let selection = "{ edges { node { id } } }";
            return Request {
                auth: member,
                query: if inline {
                    format!("{{ users(first: 5, search: {lit}) {selection} }}")
                } else {
                    format!("query($s: String) {{ users(first: 5, search: $s) {selection} }}")
                },
                variables: if inline {
                    json!({})
                } else {
                    json!({ "s": text })
                },
                field: "search",
            };
        }
        Target::ThreadTitle => (
            member,
            "CreateThreadInput",
            "createThread",
            json!({ "title": text, "teamId": w.team_id }),
            format!("{{ title: {lit}, teamId: {} }}", literal(&w.team_id)),
            "title",
        ),
        Target::RenamedThread => (
            w.author.access_token.clone(),
            "UpdateThreadInput",
            "updateThread",
            json!({ "id": w.thread_id, "title": text }),
            format!("{{ id: {}, title: {lit} }}", literal(&w.thread_id)),
            "title",
        ),
        Target::ParticipantIds => (
            member,
            "CreateThreadInput",
            "createThread",
            json!({ "title": "fine", "participantIds": [w.author.user_id, text] }),
            format!(
                "{{ title: \"fine\", participantIds: [{}, {lit}] }}",
                literal(&w.author.user_id)
            ),
            "participantIds",
        ),
        Target::TeamName => (
            member,
            "CreateTeamInput",
            "createTeam",
            json!({ "name": text }),
            format!("{{ name: {lit} }}"),
            "name",
        ),
        Target::DisplayName => (
            member,
            "UpdateProfileInput",
            "updateProfile",
            json!({ "displayName": text }),
            format!("{{ displayName: {lit} }}"),
            "displayName",
        ),
        Target::SignUpEmail => {
            let address = format!("{text}{}", email("nul"));
            (
                w.keys.publishable_key.clone(),
                "SignUpInput",
                "signUp",
                json!({ "email": address, "password": "correct horse", "displayName": "Nul" }),
                format!(
                    "{{ email: {}, password: \"correct horse\", displayName: \"Nul\" }}",
                    literal(&address)
                ),
                "email",
            )
        }
        Target::SignUpPassword => {
            let address = email("nul");
            let password = format!("correct horse {text}");
            (
                w.keys.publishable_key.clone(),
                "SignUpInput",
                "signUp",
                json!({ "email": address, "password": password, "displayName": "Nul" }),
                format!(
                    "{{ email: {}, password: {}, displayName: \"Nul\" }}",
                    literal(&address),
                    literal(&password)
                ),
                "password",
            )
        }
    };
    // Every mutation answers with a payload; `__typename` selects it
    // whatever its fields.
    let (query, variables) = if inline {
        (
            format!("mutation {{ {mutation}(input: {inline_input}) {{ __typename }} }}"),
            json!({}),
        )
    } else {
        (
            format!(
                "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ __typename }} }}"
            ),
            json!({ "input": vars }),
        )
    };
    Request {
        auth,
        query,
        variables,
        field,
    }
}

/// Everything a case could have stored, as the secret key sees it.
async fn snapshot(app: &TestApp, world: &World) -> Value {
    let secret = Some(world.w.keys.secret_key.as_str());
    let mut all = app
        .gql_ok(
            secret,
            "{ threads(first: 100) { edges { node { id title } } }
               teams(first: 100) { edges { node { id name } } }
               users(first: 100) { edges { node { id email displayName } } } }",
            json!({}),
        )
        .await;
    let messages = app
        .gql_ok(
            secret,
            "query($id: ID!) { thread(id: $id) { messages(first: 100) { edges { node { id content metadata } } } } }",
            json!({ "id": world.w.thread_id }),
        )
        .await;
    all["messages"] = messages["thread"]["messages"].clone();
    all
}

/// Text with at least one NUL somewhere, among characters that need
/// escaping, non-ASCII and astral ones.
fn text_with_nul() -> impl Strategy<Value = String> {
    let alphabet = vec![
        'a',
        'Z',
        '7',
        ' ',
        '-',
        '@',
        '.',
        'é',
        '中',
        '"',
        '\\',
        '\n',
        '\t',
        '\u{1F600}',
        '\u{0}',
    ];
    (
        prop::collection::vec(prop::sample::select(alphabet), 0..24),
        prop::collection::vec(any::<prop::sample::Index>(), 1..4),
    )
        .prop_map(|(mut chars, places)| {
            for place in places {
                let at = place.index(chars.len() + 1);
                chars.insert(at, '\u{0}');
            }
            chars.into_iter().collect()
        })
}

#[test]
fn a_nul_in_any_text_input_is_refused_with_its_field_and_nothing_is_stored() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, world) = runtime.block_on(async {
        let app = orbit_tests::spawn_app().await;
        let w = app.new_team_world().await;
        let own_message = app
            .send_message(&w.member.access_token, &w.thread_id, "mine")
            .await;
        (app, World { w, own_message })
    });
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let cases = (
        prop::sample::select(TARGETS.to_vec()),
        text_with_nul(),
        any::<bool>(),
    );
    let result = runner.run(&cases, |(target, text, inline)| {
        let request = request(&world, target, &text, inline);
        // Compared case by case, so a failure blames the case that stored.
        let (before, response, after) = runtime.block_on(async {
            let before = snapshot(&app, &world).await;
            let response = app
                .gql(
                    Some(&request.auth),
                    &request.query,
                    request.variables.clone(),
                )
                .await;
            (before, response, snapshot(&app, &world).await)
        });
        let mut case = String::new();
        let _ = write!(case, "{target:?} inline={inline} {text:?}: {response}");
        let (code, field) = (error_code(&response), error_field(&response));
        prop_assert_eq!(code.as_deref(), Some("BAD_USER_INPUT"), "{}", case);
        prop_assert_eq!(field.as_deref(), Some(request.field), "{}", case);
        prop_assert!(
            response["data"].is_null(),
            "refused before execution: {}",
            case
        );
        if after != before {
            return Err(TestCaseError::fail(format!("something was stored: {case}")));
        }
        Ok(())
    });
    runtime.block_on(async move { drop(app) });
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[tokio::test]
async fn the_same_inputs_without_a_nul_are_accepted() {
    // The control: what the property sends is refused for its NUL alone.
    let app = orbit_tests::spawn_app().await;
    let w = app.new_team_world().await;
    let own_message = app
        .send_message(&w.member.access_token, &w.thread_id, "mine")
        .await;
    let world = World { w, own_message };
    for target in TARGETS {
        for inline in [false, true] {
            let text = match target {
                Target::ParticipantIds => world.w.admin.user_id.clone(),
                _ => format!("ok {target:?} {inline}").replace(' ', "-"),
            };
            let request = request(&world, target, &text, inline);
            let response = app
                .gql(
                    Some(&request.auth),
                    &request.query,
                    request.variables.clone(),
                )
                .await;
            assert!(
                response["errors"].is_null(),
                "{target:?} inline={inline}: {response}"
            );
        }
    }
}

#[tokio::test]
async fn subscriptions_and_connection_init_refuse_a_nul() {
    let app = orbit_tests::spawn_app().await;
    let w = app.new_team_world().await;

    let mut client = WsClient::connected(&app.ws_url(), Some(&w.member.access_token)).await;
    client
        .subscribe(
            "1",
            "subscription($id: ID!, $after: String) { threadEvents(threadId: $id, after: $after) { __typename } }",
            json!({ "id": w.thread_id, "after": "abc\u{0}" }),
        )
        .await;
    let errors = client.expect_error("1").await;
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{errors}"
    );
    assert_eq!(
        errors[0]["extensions"]["details"]["field"], "after",
        "{errors}"
    );

    let mut client = WsClient::connect(&app.ws_url(), Protocol::TransportWs).await;
    client
        .send_json(json!({
            "type": "connection_init",
            "payload": { "authorization": format!("Bearer {}\u{0}", w.member.access_token) },
        }))
        .await;
    assert_eq!(client.expect_close().await.0, 4400);
}

async fn oauth_error(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("U+0000"),
        "{body}"
    );
    body
}

#[tokio::test]
async fn oauth_endpoints_refuse_a_nul_in_any_parameter() {
    let app = orbit_tests::spawn_app().await;
    let w = app.new_team_world().await;
    let pk = w.keys.publishable_key.as_str();
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        app.client
            .post(format!("{}{path}", app.address))
            .form(&form)
            .send()
    };

    // The scope is stored with the authorization: Postgres would refuse it.
    oauth_error(
        post(
            "/oauth/device/authorize",
            vec![
                ("client_id", pk.to_owned()),
                ("scope", "read\u{0}".to_owned()),
            ],
        )
        .await
        .unwrap(),
    )
    .await;
    oauth_error(
        post(
            "/oauth/device/authorize",
            vec![("client_id", format!("{pk}\u{0}"))],
        )
        .await
        .unwrap(),
    )
    .await;
    oauth_error(
        post(
            "/oauth/token",
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("client_id", pk.to_owned()),
                ("refresh_token", "rt\u{0}".to_owned()),
            ],
        )
        .await
        .unwrap(),
    )
    .await;
    let get = |path_and_query: &str| {
        app.client
            .get(format!("{}{path_and_query}", app.address))
            .send()
    };
    oauth_error(
        get(&format!(
            "/oauth/authorize/github?client_id={pk}&redirect_url=https%3A%2F%2Fapp.example.com%2F&state=s%00"
        ))
        .await
        .unwrap(),
    )
    .await;
    oauth_error(
        get(&format!(
            "/oauth/authorize/git%00hub?client_id={pk}&redirect_url=https%3A%2F%2Fapp.example.com%2F"
        ))
        .await
        .unwrap(),
    )
    .await;
    oauth_error(get("/oauth/callback?code=c&state=s%00").await.unwrap()).await;
}

#[tokio::test]
async fn a_nul_is_found_through_fragments_defaults_and_unused_variables() {
    let app = orbit_tests::spawn_app().await;
    let w = app.new_team_world().await;
    let token = Some(w.member.access_token.as_str());
    let cases = [
        (
            "query($s: String) { ...F } fragment F on Query { users(first: 1, search: $s) { edges { node { id } } } }",
            json!({ "s": "a\u{0}" }),
            "search",
        ),
        (
            "query($id: ID!) { thread(id: $id) { ... on Thread { messages(first: 1, after: \"x\\u0000\") { edges { cursor } } } } }",
            json!({ "id": w.thread_id }),
            "after",
        ),
        (
            "query($s: String = \"b\\u0000\") { users(first: 1, search: $s) { edges { node { id } } } }",
            json!({}),
            "search",
        ),
        // Validation would refuse the unused variable; the NUL is refused first.
        (
            "query($unused: String) { me { id } }",
            json!({ "unused": "\u{0}" }),
            "unused",
        ),
    ];
    for (query, variables, field) in cases {
        let response = app.gql(token, query, variables).await;
        orbit_tests::assert_error(&response, "BAD_USER_INPUT", Some(field));
    }
}
