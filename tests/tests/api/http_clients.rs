//! What the clients people use expect of a GraphQL server over HTTP:
//! Apollo's automatic persisted queries, queries by `GET` (never
//! mutations), CORS for browsers with tracing headers, `{}` for a union
//! member no fragment matched, and scalars that say what they are.

use orbit_tests::{TestApp, assert_error, email, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const THREADS: &str = "query Threads { threads(first: 5) { edges { node { id title } } } }";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn get_graphql(
    app: &TestApp,
    auth: Option<&str>,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let url = url::Url::parse_with_params(&app.graphql_url(), params).expect("a URL");
    let mut request = reqwest::Client::new().get(url);
    if let Some(auth) = auth {
        request = request.bearer_auth(auth);
    }
    request.send().await.expect("sent")
}

async fn json_of(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, headers, body)
}

#[tokio::test]
async fn a_persisted_query_is_asked_for_by_hash_then_stored_then_answered_by_hash() {
    let app = spawn_app().await;
    let keys = app.create_app("Persisted").await;
    let hash = sha256(THREADS);

    // The hash alone, before the server has the document: Apollo's clients
    // recognise this answer and send the document with its hash.
    let (status, unknown) = app
        .post_graphql(
            Some(&keys.secret_key),
            &json!({ "extensions": persisted(&hash) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert!(unknown.get("data").is_none_or(Value::is_null), "{unknown}");

    let (_, stored) = app
        .post_graphql(
            Some(&keys.secret_key),
            &json!({ "query": THREADS, "extensions": persisted(&hash) }),
        )
        .await;
    assert!(stored["data"]["threads"]["edges"].is_array(), "{stored}");

    // Now the hash alone is enough, by POST and by GET.
    let (_, by_post) = app
        .post_graphql(
            Some(&keys.secret_key),
            &json!({ "extensions": persisted(&hash), "operationName": "Threads" }),
        )
        .await;
    assert_eq!(by_post["data"], stored["data"], "{by_post}");
    let extensions = persisted(&hash).to_string();
    let (status, _, by_get) = json_of(
        get_graphql(
            &app,
            Some(&keys.secret_key),
            &[("extensions", extensions.as_str())],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_get["data"], stored["data"], "{by_get}");
}

#[tokio::test]
async fn a_persisted_query_whose_hash_is_not_its_documents_is_refused() {
    let app = spawn_app().await;
    let keys = app.create_app("Lying hash").await;
    let (status, lying) = app
        .post_graphql(
            Some(&keys.secret_key),
            &json!({ "query": THREADS, "extensions": persisted(&sha256("{ __typename }")) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        &lying,
        "BAD_USER_INPUT",
        Some("extensions.persistedQuery.sha256Hash"),
    );
    let (_, wrong_version) = app
        .post_graphql(
            Some(&keys.secret_key),
            &json!({ "query": THREADS, "extensions": { "persistedQuery": { "version": 2, "sha256Hash": sha256(THREADS) } } }),
        )
        .await;
    assert_error(
        &wrong_version,
        "BAD_USER_INPUT",
        Some("extensions.persistedQuery.version"),
    );
    // A lying hash stored nothing under it.
    let (_, unknown) = app
        .post_graphql(
            Some(&keys.secret_key),
            &json!({ "extensions": persisted(&sha256("{ __typename }")) }),
        )
        .await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
}

#[tokio::test]
async fn a_query_may_be_sent_by_get_with_variables_and_an_operation_name() {
    let app = spawn_app().await;
    let keys = app.create_app("By GET").await;
    let user = app
        .sign_up(&keys.publishable_key, &email("get"), "Getter")
        .await;
    let thread = app
        .create_thread(&user.access_token, "Read by GET", None)
        .await;
    let document =
        "query Other { __typename } query Title($id: ID!) { thread(id: $id) { id title } }";
    let variables = json!({ "id": thread }).to_string();
    let response = get_graphql(
        &app,
        Some(&user.access_token),
        &[
            ("query", document),
            ("operationName", "Title"),
            ("variables", variables.as_str()),
        ],
    )
    .await;
    let (status, headers, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["thread"]["title"], "Read by GET", "{body}");
    // The answer is the caller's: no shared cache may keep it.
    assert_eq!(headers["cache-control"], "private, no-store");

    // Without a credential, as anonymous, the same as by POST.
    let (_, _, anonymous) =
        json_of(get_graphql(&app, None, &[("query", "{ __typename }")]).await).await;
    assert_eq!(anonymous["data"]["__typename"], "Query");

    // Malformed variables are the client's mistake, named.
    let (status, _, malformed) = json_of(
        get_graphql(
            &app,
            None,
            &[("query", "{ __typename }"), ("variables", "{not json")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&malformed, "BAD_USER_INPUT", Some("variables"));
}

#[tokio::test]
async fn a_mutation_by_get_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let keys = app.create_app("No GET mutations").await;
    let user = app
        .sign_up(&keys.publishable_key, &email("getm"), "Getter")
        .await;
    let create = r#"mutation { createThread(input: {title: "by GET"}) { thread { id } } }"#;
    let response = get_graphql(&app, Some(&user.access_token), &[("query", create)]).await;
    let (status, headers, body) = json_of(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, POST");
    assert_error(&body, "BAD_USER_INPUT", Some("query"));
    // Named among queries, the mutation is still refused.
    let mixed = format!(
        "query Q {{ __typename }} {}",
        create.replacen("mutation", "mutation M", 1)
    );
    let response = get_graphql(
        &app,
        Some(&user.access_token),
        &[("query", mixed.as_str()), ("operationName", "M")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let threads = app
        .gql_ok(Some(&user.access_token), THREADS, json!({}))
        .await;
    assert_eq!(
        threads["threads"]["edges"],
        json!([]),
        "nothing was created"
    );
    // A subscription is not a GET either.
    let response = get_graphql(
        &app,
        Some(&user.access_token),
        &[("query", "subscription { userEvents { __typename } }")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_bare_get_still_serves_graphiql() {
    let app = spawn_app().await;
    let page = app.get("/graphql").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("a page").contains("<html"));
}

async fn preflight(app: &TestApp, origin: &str, headers: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.graphql_url())
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn browsers_may_send_tracing_headers_and_read_the_request_id() {
    let app = spawn_app().await;
    let answer = preflight(
        &app,
        "https://web.example.com",
        "authorization,content-type,traceparent,tracestate,baggage,sentry-trace,x-request-id",
    )
    .await;
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
    let allowed = answer.headers()["access-control-allow-headers"]
        .to_str()
        .expect("text")
        .to_ascii_lowercase();
    for header in [
        "traceparent",
        "baggage",
        "sentry-trace",
        "authorization",
        "x-api-key",
    ] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
    let answer = reqwest::Client::new()
        .post(app.graphql_url())
        .header("origin", "https://web.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .expect("text")
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    assert!(answer.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn allowed_origins_and_headers_are_settings() {
    let app = spawn_app_with(|settings| {
        settings.cors.origins = vec!["https://app.example.com".to_owned()];
        settings.cors.headers.push("x-app-version".to_owned());
    })
    .await;
    let allowed = preflight(&app, "https://app.example.com", "x-app-version,traceparent").await;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .expect("text")
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("x-app-version"),
        "{allowed_headers}"
    );
    let other = preflight(&app, "https://evil.example.net", "content-type").await;
    assert!(
        !other.headers().contains_key("access-control-allow-origin"),
        "another origin is not allowed"
    );
}

#[tokio::test]
async fn a_union_member_no_fragment_matched_is_an_empty_object() {
    let app = spawn_app().await;
    let keys = app.create_app("Unions").await;
    let user = app
        .sign_up(&keys.publishable_key, &email("union"), "Author")
        .await;
    let thread = app.create_thread(&user.access_token, "Unions", None).await;
    app.send_message(&user.access_token, &thread, "by a user")
        .await;
    let data = app
        .gql_ok(
            Some(&user.access_token),
            "query($id: ID!) { thread(id: $id) { messages(first: 1) { edges { node { author { ... on Agent { name } } } } } } }",
            json!({ "id": thread }),
        )
        .await;
    assert_eq!(
        data["thread"]["messages"]["edges"][0]["node"]["author"],
        json!({}),
        "the spec's answer for a selection that matched nothing"
    );
}

#[tokio::test]
async fn scalars_say_what_they_are() {
    let app = spawn_app().await;
    for (scalar, spec) in [
        ("DateTime", "https://datatracker.ietf.org/doc/html/rfc3339"),
        ("JSON", "https://www.rfc-editor.org/rfc/rfc8259"),
    ] {
        let data = app
            .gql_ok(
                None,
                "query($name: String!) { __type(name: $name) { kind description specifiedByURL } }",
                json!({ "name": scalar }),
            )
            .await;
        assert_eq!(data["__type"]["kind"], "SCALAR");
        assert_eq!(data["__type"]["specifiedByURL"], spec);
        let description = data["__type"]["description"].as_str().expect("described");
        assert!(description.contains("RFC"), "{scalar}: {description}");
    }
}

#[tokio::test]
async fn an_event_no_fragment_of_a_subscription_selects_arrives_as_an_empty_object() {
    let app = spawn_app().await;
    let keys = app.create_app("Union events").await;
    let user = app
        .sign_up(&keys.publishable_key, &email("unionev"), "Author")
        .await;
    let thread = app
        .create_thread(&user.access_token, "Union events", None)
        .await;
    let mut client =
        orbit_tests::ws::WsClient::connected(&app.ws_url(), Some(&user.access_token)).await;
    client
        .subscribe(
            "edits",
            "subscription($id: ID!) { threadEvents(threadId: $id) { ... on MessageEditedEvent { message { id } } } }",
            json!({ "id": thread }),
        )
        .await;
    client.ping().await;
    app.send_message(&user.access_token, &thread, "not an edit")
        .await;
    let payload = client.next_payload("edits").await;
    assert_eq!(payload["data"]["threadEvents"], json!({}), "{payload}");
}
