//! What a document may cost, counted as it would execute: fragments that
//! spread fragments twice over, aliases hidden in them, refused before
//! anything runs, over HTTP, in a batch and on a WebSocket; and the
//! introspection query real tools send, answered under limits of its own.

use orbit_tests::ws::WsClient;
use orbit_tests::{error_code, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `fragment L{n} on Query { ...L{n-1} ...L{n-1} }`, `levels` deep: about
/// 1 KB that stands for 2^levels fields.
fn doubling_fragments(levels: usize, leaf: &str) -> String {
    let mut text = format!("query Bomb {{ ...L{levels} }}\nfragment L0 on Query {{ {leaf} }}\n");
    for level in 1..=levels {
        let below = level - 1;
        text.push_str(&format!(
            "fragment L{level} on Query {{ ...L{below} ...L{below} }}\n"
        ));
    }
    text
}

fn assert_limit(response: &Value, limit: &str, value: u64) {
    assert_eq!(
        error_code(response).as_deref(),
        Some("BAD_USER_INPUT"),
        "{response}"
    );
    let details = &response["errors"][0]["extensions"]["details"];
    assert_eq!(details["limit"], limit, "{response}");
    assert_eq!(details["value"], value, "{response}");
    assert!(response["data"].is_null(), "it ran: {response}");
}

#[tokio::test]
async fn doubling_fragments_are_refused_before_they_run_without_a_credential() {
    let app = spawn_app().await;

    let bomb = doubling_fragments(26, "__typename");
    assert!(
        bomb.len() < 2_000,
        "the attack is small: {} bytes",
        bomb.len()
    );
    let response = app.gql(None, &bomb, json!({})).await;
    assert_limit(&response, "maxFields", 1_000);

    // Aliases hidden in the fragments: each may be another expensive call.
    let aliased = doubling_fragments(26, "a: __typename b: __typename");
    let response = app.gql(None, &aliased, json!({})).await;
    assert_limit(&response, "maxAliases", 30);

    // Nested deeper than the API needs.
    let mut deep = String::from("id");
    for _ in 0..13 {
        deep = format!("thread {{ {deep} }}");
    }
    let deep = format!(
        "{{ threads(first: 1) {{ edges {{ node {{ messages(first: 1) {{ edges {{ node {{ {deep} }} }} }} }} }} }} }}"
    );
    let response = app.gql(None, &deep, json!({})).await;
    assert_limit(&response, "maxDepth", 12);

    // A fragment that spreads itself, and the server is still all there.
    let response = app
        .gql(
            None,
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response).as_deref(), Some("BAD_USER_INPUT"));
    let fine = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(fine["data"]["__typename"], "Query", "{fine}");
}

#[tokio::test]
async fn every_entry_of_a_batch_is_held_to_the_limits() {
    let app = spawn_app().await;
    let keys = app.create_app("Batch").await;
    let batch = json!([
        { "query": "{ viewer { kind } }" },
        { "query": doubling_fragments(24, "__typename") },
        { "query": doubling_fragments(24, "x: __typename") },
    ]);
    let (status, body) = app.post_graphql(Some(&keys.secret_key), &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let responses = body.as_array().expect("a batch answers with an array");
    assert_eq!(responses[0]["data"]["viewer"]["kind"], "APP_SECRET");
    assert_limit(&responses[1], "maxFields", 1_000);
    assert_limit(&responses[2], "maxAliases", 30);
}

#[tokio::test]
async fn a_subscription_over_the_limits_is_refused_and_the_socket_stays() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut socket = WsClient::connected(&app.ws_url(), w.owner.token()).await;

    let mut bomb = String::from(
        "subscription S($t: ID!) { threadEvents(threadId: $t) { ...L20 } }\n\
         fragment L0 on MessageCreatedEvent { cursor }\n",
    );
    for level in 1..=20 {
        let below = level - 1;
        bomb.push_str(&format!(
            "fragment L{level} on MessageCreatedEvent {{ ...L{below} ...L{below} }}\n"
        ));
    }
    socket
        .subscribe("bomb", &bomb, json!({ "t": w.thread_id }))
        .await;
    let errors = socket.expect_error("bomb").await;
    let error = &errors[0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{errors}");
    assert_eq!(
        error["extensions"]["details"]["limit"], "maxFields",
        "{errors}"
    );

    // The same socket still serves a subscription within the limits.
    socket
        .subscribe(
            "fine",
            "subscription S($t: ID!) { threadEvents(threadId: $t) { ... on MessageCreatedEvent { message { content } } } }",
            json!({ "t": w.thread_id }),
        )
        .await;
    socket.ping().await;
    app.send_message(&w.owner.access_token, &w.thread_id, "still here")
        .await;
    let payload = socket.next_payload("fine").await;
    assert_eq!(
        payload["data"]["threadEvents"]["message"]["content"], "still here",
        "{payload}"
    );
}

#[tokio::test]
async fn the_limits_are_settings() {
    let app = spawn_app_with(|settings| {
        settings.query_limits.max_depth = 3;
        settings.query_limits.max_fields = 5;
    })
    .await;
    let keys = app.create_app("Limits").await;
    let sk = Some(keys.secret_key.as_str());

    let response = app
        .gql(
            sk,
            "{ threads(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_limit(&response, "maxDepth", 3);
    let response = app
        .gql(sk, "{ a: __typename b: __typename c: __typename d: __typename e: __typename f: __typename }", json!({}))
        .await;
    assert_limit(&response, "maxFields", 5);
    let fine = app.gql(sk, "{ viewer { kind } }", json!({})).await;
    assert_eq!(fine["data"]["viewer"]["kind"], "APP_SECRET", "{fine}");
}

/// graphql-js's `getIntrospectionQuery({ descriptions: true,
/// specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription:
/// true, inputValueDeprecation: true, oneOf: true })`, as GraphiQL, Apollo
/// and graphql-codegen send it.
const INTROSPECTION_QUERY: &str = r#"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name kind }
        mutationType { name kind }
        subscriptionType { name kind }
        types { ...FullType }
        directives {
          name
          description
          isRepeatable
          locations
          args(includeDeprecated: true) { ...InputValue }
        }
      }
    }

    fragment FullType on __Type {
      kind
      name
      description
      specifiedByURL
      isOneOf
      fields(includeDeprecated: true) {
        name
        description
        args(includeDeprecated: true) { ...InputValue }
        type { ...TypeRef }
        isDeprecated
        deprecationReason
      }
      inputFields(includeDeprecated: true) { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes { ...TypeRef }
    }

    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
      isDeprecated
      deprecationReason
    }

    fragment TypeRef on __Type {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
                ofType {
                  kind
                  name
                  ofType {
                    kind
                    name
                    ofType {
                      kind
                      name
                      ofType {
                        kind
                        name
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
"#;

#[tokio::test]
async fn the_introspection_query_of_real_tools_is_answered() {
    let app = spawn_app().await;
    let response = app.gql(None, INTROSPECTION_QUERY, json!({})).await;
    assert!(response["errors"].is_null(), "{response}");
    let schema = &response["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    let types = schema["types"].as_array().expect("types");
    assert!(
        types.iter().any(|t| t["name"] == "MessageCreatedEvent"),
        "{} types",
        types.len()
    );

    // Introspection has limits of its own.
    let mut deeper = String::from("name");
    for _ in 0..30 {
        deeper = format!("ofType {{ {deeper} }}");
    }
    let response = app
        .gql(
            None,
            &format!("{{ __type(name: \"Query\") {{ {deeper} }} }}"),
            json!({}),
        )
        .await;
    assert_limit(&response, "maxIntrospectionDepth", 24);
}

#[tokio::test]
async fn introspection_switched_off_is_refused() {
    let app = spawn_app_with(|settings| settings.introspection = false).await;
    let response = app.gql(None, INTROSPECTION_QUERY, json!({})).await;
    assert_limit(&response, "introspection", 0);
    let response = app
        .gql(None, "{ __type(name: \"Query\") { name } }", json!({}))
        .await;
    assert_limit(&response, "introspection", 0);
    // `__typename` is not introspection.
    let fine = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(fine["data"]["__typename"], "Query", "{fine}");
}
