//! App variables: set, listed and deleted by the app's managers, secret
//! values sealed and never returned, bad names refused, text naming a
//! variable the app lacks refused when it is saved, and nothing of one app
//! visible to another.

use orbit_domain::entities::app_var;
use orbit_tests::{TestApp, assert_error, spawn_app};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::agents::{CREATE_AGENT, CREATE_PROVIDER};

const SET: &str = "mutation($input: SetAppVarInput!) { setAppVar(input: $input) { appVar { name value secret } } }";
const DELETE: &str =
    "mutation($input: DeleteAppVarInput!) { deleteAppVar(input: $input) { deletedAppVarName } }";
const LIST: &str = "{ appVars { name value secret } }";

async fn set(app: &TestApp, sk: &str, name: &str, value: &str, secret: bool) -> Value {
    app.gql(
        Some(sk),
        SET,
        json!({ "input": { "name": name, "value": value, "secret": secret } }),
    )
    .await
}

#[tokio::test]
async fn variables_are_set_listed_and_deleted_and_secrets_never_returned() {
    let app = spawn_app().await;
    let keys = app.create_app("Vars").await;
    let sk = keys.secret_key.as_str();
    let plain = set(&app, sk, "BASE_URL", "https://api.example.com", false).await;
    assert_eq!(
        plain["data"]["setAppVar"]["appVar"],
        json!({ "name": "BASE_URL", "value": "https://api.example.com", "secret": false })
    );
    let secret = set(&app, sk, "API_KEY", "very-secret-key", true).await;
    assert_eq!(
        secret["data"]["setAppVar"]["appVar"],
        json!({ "name": "API_KEY", "value": null, "secret": true })
    );
    // Set again: replaced.
    set(&app, sk, "BASE_URL", "https://api2.example.com", false).await;
    let listed = app.gql_ok(Some(sk), LIST, json!({})).await;
    assert_eq!(
        listed["appVars"],
        json!([
            { "name": "API_KEY", "value": null, "secret": true },
            { "name": "BASE_URL", "value": "https://api2.example.com", "secret": false },
        ])
    );
    let rows = app_var::Entity::find()
        .all(app.services.db().conn())
        .await
        .unwrap();
    let stored = serde_json::to_string(
        &rows
            .iter()
            .map(|r| (&r.value, &r.value_sealed))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!stored.contains("very-secret-key"), "{stored}");

    let deleted = app
        .gql_ok(Some(sk), DELETE, json!({ "input": { "name": "API_KEY" } }))
        .await;
    assert_eq!(deleted["deleteAppVar"]["deletedAppVarName"], "API_KEY");
    let again = app
        .gql(Some(sk), DELETE, json!({ "input": { "name": "API_KEY" } }))
        .await;
    assert_error(&again, "NOT_FOUND", Some("name"));

    for bad in ["lower", "1ST", "A-B", ""] {
        assert_error(
            &set(&app, sk, bad, "x", false).await,
            "BAD_USER_INPUT",
            Some("name"),
        );
    }
    assert_error(
        &set(&app, sk, "BIG", &"x".repeat(4097), false).await,
        "BAD_USER_INPUT",
        Some("value"),
    );

    // Another app sees none of them, and users of the app may not look.
    let other = app.create_app("Other").await;
    let theirs = app.gql_ok(Some(&other.secret_key), LIST, json!({})).await;
    assert_eq!(theirs["appVars"], json!([]));
    let user = app
        .sign_up(&keys.publishable_key, &orbit_tests::email("user"), "User")
        .await;
    assert_error(
        &app.gql(user.token(), LIST, json!({})).await,
        "FORBIDDEN",
        None,
    );
}

#[tokio::test]
async fn text_naming_a_variable_the_app_lacks_is_refused_when_saved() {
    let app = spawn_app().await;
    let sk = app.create_app("Vars").await.secret_key;
    set(&app, &sk, "KNOWN", "https://tools.example.com", false).await;
    let provider = app
        .gql_ok(
            Some(&sk),
            CREATE_PROVIDER,
            json!({ "input": { "name": "Script", "kind": "SCRIPTED" } }),
        )
        .await["createModelProvider"]["modelProvider"]["id"]
        .clone();
    let agent = |instructions: &str| {
        json!({ "input": {
            "name": "Helper", "handle": "helper", "instructions": instructions,
            "model": { "provider": provider, "model": "demo-1" },
        } })
    };
    let refused = app
        .gql(Some(&sk), CREATE_AGENT, agent("Use {{vars.UNKNOWN}}."))
        .await;
    assert_error(&refused, "BAD_USER_INPUT", Some("instructions"));
    app.gql_ok(Some(&sk), CREATE_AGENT, agent("Use {{vars.KNOWN}}."))
        .await;

    let tool = |url: &str, header: &str| {
        json!({ "input": {
            "name": "lookup", "description": "Looks up.", "inputSchema": { "type": "object" },
            "http": { "url": url, "headers": [{ "name": "X-Key", "value": header }] },
        } })
    };
    let create = crate::tools::CREATE_TOOL;
    let url = app
        .gql(Some(&sk), create, tool("{{vars.NOPE}}/x", "k"))
        .await;
    assert_error(&url, "BAD_USER_INPUT", Some("http.url"));
    let header = app
        .gql(Some(&sk), create, tool("{{vars.KNOWN}}/x", "{{vars.NOPE}}"))
        .await;
    assert_error(&header, "BAD_USER_INPUT", Some("http.headers.0.value"));
    let made = app
        .gql_ok(
            Some(&sk),
            create,
            tool("{{vars.KNOWN}}/x", "{{vars.KNOWN}}"),
        )
        .await;
    assert!(made["createTool"]["tool"]["id"].is_string());
}
