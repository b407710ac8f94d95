//! `viewer`, `me` and `app` for each kind of credential.

use orbit_tests::{LOG_IN, ME, PASSWORD, VIEWER, email, spawn_app};
use serde_json::json;

#[tokio::test]
async fn a_user_token_is_a_user_of_its_app() {
    let app = spawn_app().await;
    let keys = app.create_app("Viewer App").await;
    let address = email("v");
    let session = app.sign_up(&keys.publishable_key, &address, "Vee").await;

    let data = app.gql_ok(session.token(), VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["kind"], "USER");
    assert_eq!(data["viewer"]["app"]["id"], keys.app_id.as_str());
    assert_eq!(data["viewer"]["app"]["name"], "Viewer App");
    assert_eq!(data["viewer"]["user"]["id"], session.user_id.as_str());
    assert_eq!(data["viewer"]["user"]["email"], address.as_str());

    let me = app.gql_ok(session.token(), ME, json!({})).await;
    assert_eq!(me["me"]["id"], session.user_id.as_str());
    assert_eq!(me["me"]["email"], address.as_str());
    assert_eq!(me["me"]["displayName"], "Vee");

    let app_data = app
        .gql_ok(session.token(), "{ app { id name createdAt } }", json!({}))
        .await;
    assert_eq!(app_data["app"]["id"], keys.app_id.as_str());
    assert_eq!(app_data["app"]["name"], "Viewer App");
    assert!(app_data["app"]["createdAt"].is_string());
}

#[tokio::test]
async fn a_secret_key_is_its_app_without_a_user() {
    let app = spawn_app().await;
    let keys = app.create_app("Secret App").await;
    let data = app.gql_ok(Some(&keys.secret_key), VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["kind"], "APP_SECRET");
    assert_eq!(data["viewer"]["app"]["id"], keys.app_id.as_str());
    assert!(data["viewer"]["user"].is_null());
    let me = app.gql_ok(Some(&keys.secret_key), ME, json!({})).await;
    assert!(me["me"].is_null());
}

#[tokio::test]
async fn a_publishable_key_is_its_app_without_a_user() {
    let app = spawn_app().await;
    let keys = app.create_app("Public App").await;
    let data = app
        .gql_ok(Some(&keys.publishable_key), VIEWER, json!({}))
        .await;
    assert_eq!(data["viewer"]["kind"], "APP_PUBLISHABLE");
    assert_eq!(data["viewer"]["app"]["id"], keys.app_id.as_str());
    assert!(data["viewer"]["user"].is_null());
    let me = app.gql_ok(Some(&keys.publishable_key), ME, json!({})).await;
    assert!(me["me"].is_null());
    let app_data = app
        .gql_ok(
            Some(&keys.publishable_key),
            "{ app { id name } }",
            json!({}),
        )
        .await;
    assert_eq!(app_data["app"]["id"], keys.app_id.as_str());
}

#[tokio::test]
async fn no_credentials_is_anonymous_in_the_console_app() {
    let app = spawn_app().await;
    let keys = app.create_app("Some App").await;
    let data = app.gql_ok(None, VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["kind"], "ANONYMOUS");
    assert!(data["viewer"]["user"].is_null());
    let console = data["viewer"]["app"]["id"].as_str().unwrap();
    assert!(console.starts_with("app_"), "{console}");
    assert_ne!(console, keys.app_id);
    let me = app.gql_ok(None, ME, json!({})).await;
    assert!(me["me"].is_null());
}

#[tokio::test]
async fn a_console_user_is_a_developer() {
    let app = spawn_app().await;
    let owner_email = email("dev");
    let keys = app
        .create_app_with_owner("Dev App", &owner_email, PASSWORD)
        .await;
    let data = app
        .gql_ok(
            None,
            LOG_IN,
            json!({ "input": { "email": owner_email, "password": PASSWORD } }),
        )
        .await;
    let token = data["logIn"]["accessToken"].as_str().unwrap();
    assert_eq!(data["logIn"]["user"]["id"], keys.owner_id.as_str());

    let viewer = app.gql_ok(Some(token), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["kind"], "DEVELOPER");
    assert_eq!(viewer["viewer"]["user"]["id"], keys.owner_id.as_str());
    assert_ne!(viewer["viewer"]["app"]["id"], keys.app_id.as_str());
}

#[tokio::test]
async fn x_api_key_works_like_a_bearer_header() {
    let app = spawn_app().await;
    let keys = app.create_app("Header App").await;
    let response: serde_json::Value = app
        .client
        .post(app.graphql_url())
        .header("x-api-key", &keys.secret_key)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["data"]["viewer"]["kind"], "APP_SECRET");
    assert_eq!(
        response["data"]["viewer"]["app"]["id"],
        keys.app_id.as_str()
    );
}

#[tokio::test]
async fn user_only_queries_refuse_keys_that_have_no_user() {
    let app = spawn_app().await;
    let keys = app.create_app("Refuse").await;
    for auth in [Some(keys.publishable_key.as_str()), None] {
        for query in [
            "{ teams { edges { node { id } } } }",
            "{ threads { edges { node { id } } } }",
            "{ users { edges { node { id } } } }",
        ] {
            let response = app.gql(auth, query, json!({})).await;
            orbit_tests::assert_error(&response, "UNAUTHENTICATED", None);
        }
    }
}
