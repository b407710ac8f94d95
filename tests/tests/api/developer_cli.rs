//! `orbit apps create` / `orbit apps list` run in process against the real
//! server with credentials as `orbit login` stores them, and the first
//! developer `orbit serve` makes on a fresh server.

use std::path::PathBuf;

use orbit_api::login::Credentials;
use orbit_tests::{PASSWORD, Session, TestApp, email, spawn_app};
use serde_json::json;

/// A config dir of the test's own, removed at the end.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("orbit-config-{}", uuid::Uuid::new_v4().simple())))
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stores `session` the way `orbit login` does at the end of the device flow.
fn signed_in(app: &TestApp, session: &Session) -> ConfigDir {
    let dir = ConfigDir::new();
    orbit_api::login::save(
        &dir.0,
        &Credentials {
            server: app.address.clone(),
            client_id: "orbit-cli".to_owned(),
            access_token: session.access_token.clone(),
            refresh_token: session.refresh_token.clone(),
        },
    )
    .unwrap();
    dir
}

async fn developer(app: &TestApp) -> Session {
    let owner = email("owner");
    app.create_app_with_owner("First", &owner, PASSWORD).await;
    app.log_in_with(None, &owner).await
}

#[tokio::test]
async fn apps_create_prints_working_keys_and_apps_list_shows_it() {
    let app = spawn_app().await;
    let session = developer(&app).await;
    let config = signed_in(&app, &session);

    let created = orbit_api::developer::create_app(&config.0, "From the CLI")
        .await
        .unwrap();
    assert_eq!(created["name"], "From the CLI");
    let app_id = created["appId"].as_str().unwrap();
    assert!(app_id.starts_with("app_"));
    let pk = created["publishableKey"].as_str().unwrap();
    let sk = created["secretKey"].as_str().unwrap();
    // The printed keys are the app's.
    app.sign_up(pk, &email("user"), "User").await;
    let viewer = app
        .gql_ok(Some(sk), "{ viewer { app { id } } }", json!({}))
        .await;
    assert_eq!(viewer["viewer"]["app"]["id"], app_id);

    let listed = orbit_api::developer::list_apps(&config.0).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["First", "From the CLI"]);
    assert!(listed.iter().all(|a| a["role"] == "OWNER"));
    assert_eq!(listed[1]["id"], app_id);
}

#[tokio::test]
async fn the_cli_refreshes_an_expired_sign_in_and_reports_refusals() {
    let app = spawn_app().await;
    let session = developer(&app).await;
    let config = signed_in(&app, &session);
    app.clock.advance(chrono::Duration::minutes(16));
    let listed = orbit_api::developer::list_apps(&config.0).await.unwrap();
    assert_eq!(listed.len(), 1);
    let stored = orbit_api::login::load(&config.0).unwrap();
    assert_ne!(
        stored.refresh_token, session.refresh_token,
        "new tokens kept"
    );
    // The server's refusal comes back as the error, with its code.
    let error = orbit_api::developer::create_app(&config.0, " ")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("BAD_USER_INPUT"), "{error}");
    // Not signed in at all.
    let nowhere = ConfigDir::new();
    let error = orbit_api::developer::list_apps(&nowhere.0)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("orbit login"), "{error}");
}

#[tokio::test]
async fn a_fresh_server_gets_a_first_developer_once() {
    let app = spawn_app().await;
    let first = orbit_api::admin::ensure_first_developer(&app.services, "admin@orbit.localhost")
        .await
        .unwrap()
        .expect("a fresh console has no developer");
    assert_eq!(first.email, "admin@orbit.localhost");
    assert!(first.password.len() >= 32);
    // The printed password signs in to the console.
    let logged_in = app
        .gql_ok(
            None,
            orbit_tests::LOG_IN,
            json!({ "input": { "email": first.email, "password": first.password } }),
        )
        .await;
    let token = logged_in["logIn"]["accessToken"].as_str().unwrap();
    let viewer = app
        .gql_ok(Some(token), orbit_tests::VIEWER, json!({}))
        .await;
    assert_eq!(viewer["viewer"]["kind"], "DEVELOPER");
    // Once there is a developer, nothing more is made or printed.
    let again = orbit_api::admin::ensure_first_developer(&app.services, "other@orbit.localhost")
        .await
        .unwrap();
    assert!(again.is_none());
}
