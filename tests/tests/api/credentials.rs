//! Cheap credentials: a credential checked once is checked again without
//! the database, and its end (log out, a key revoked) still takes effect at
//! once on the process that ended it and, pushed over the broker, on every
//! other.

use orbit_api::config::ConsoleSignup;
use orbit_tests::{
    CREATE_API_KEY, LOG_OUT, ME, REVOKE_API_KEY, RedisServer, TestApp, assert_error, email,
    eventually, spawn_app_counting_statements, spawn_cluster_with,
};
use serde_json::json;

const TYPENAME: &str = "{ __typename }";
const REQUESTS: u64 = 20;

async fn refused(app: &TestApp, credential: &str) -> bool {
    let answer = app.gql(Some(credential), TYPENAME, json!({})).await;
    orbit_tests::error_code(&answer).as_deref() == Some("UNAUTHENTICATED")
}

#[tokio::test]
async fn a_checked_credential_costs_no_statement_until_it_ends() {
    let Some((app, database)) = spawn_app_counting_statements().await else {
        return;
    };
    let keys = app.create_app("Cheap").await;
    let user = app
        .sign_up(&keys.publishable_key, &email("cheap"), "Cheap")
        .await;
    let token = user.access_token.as_str();
    // First checks read the database and are remembered.
    for credential in [
        token,
        keys.secret_key.as_str(),
        keys.publishable_key.as_str(),
    ] {
        app.gql_ok(Some(credential), TYPENAME, json!({})).await;
    }

    let before = database.statements_sent().expect("counted");
    for _ in 0..REQUESTS {
        for credential in [
            token,
            keys.secret_key.as_str(),
            keys.publishable_key.as_str(),
        ] {
            app.gql_ok(Some(credential), TYPENAME, json!({})).await;
        }
    }
    let made = database.statements_sent().expect("counted") - before;
    assert_eq!(
        made,
        0,
        "{made} statements for {} checked requests",
        3 * REQUESTS
    );

    // Ended, the same token is refused by the next request.
    app.gql_ok(Some(token), LOG_OUT, json!({ "input": {} }))
        .await;
    assert_error(
        &app.gql(Some(token), ME, json!({})).await,
        "UNAUTHENTICATED",
        None,
    );
    assert!(refused(&app, token).await);
}

#[tokio::test]
async fn an_end_on_one_process_takes_effect_on_the_other() {
    let redis = RedisServer::start().await;
    an_end_on_one_process_ends_it_on_the_other(&redis.url()).await;
}

/// Two processes on the Redis at `redis_url` (one Redis, or a cluster).
pub(crate) async fn an_end_on_one_process_ends_it_on_the_other(redis_url: &str) {
    let (first, second) = spawn_cluster_with(
        redis_url,
        |settings| settings.console_signup = ConsoleSignup::Open,
        |_| {},
    )
    .await;
    let developer = first.sign_up_developer("keeper").await;
    let keys = first.create_app_as(&developer.access_token, "Two").await;
    let user = first
        .sign_up(&keys.publishable_key, &email("two"), "Two")
        .await;
    let token = user.access_token.as_str();
    let created = first
        .gql_ok(
            developer.token(),
            CREATE_API_KEY,
            json!({ "input": { "appId": keys.app_id, "name": "doomed", "kind": "SECRET", "environment": "TEST" } }),
        )
        .await;
    let doomed = created["createApiKey"]["key"]
        .as_str()
        .expect("the key")
        .to_owned();
    let doomed_id = created["createApiKey"]["apiKey"]["id"]
        .as_str()
        .expect("its id");
    // The second process checks both once, and so trusts them from now on.
    second.gql_ok(Some(token), ME, json!({})).await;
    second.gql_ok(Some(&doomed), TYPENAME, json!({})).await;

    first
        .gql_ok(Some(token), LOG_OUT, json!({ "input": {} }))
        .await;
    first
        .gql_ok(
            developer.token(),
            REVOKE_API_KEY,
            json!({ "input": { "appId": keys.app_id, "id": doomed_id } }),
        )
        .await;
    // The clock does not move, so only the broker's word can end them there.
    eventually("the second process refuses the ended session", || {
        refused(&second, token)
    })
    .await;
    eventually("the second process refuses the revoked key", || {
        refused(&second, &doomed)
    })
    .await;
    // The app's own key still works on both.
    for process in [&first, &second] {
        process
            .gql_ok(Some(&keys.secret_key), TYPENAME, json!({}))
            .await;
    }
}
