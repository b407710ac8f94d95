//! The device authorization grant (RFC 8628) against the real server: the
//! OAuth endpoints as a CLI calls them, approval through `approveDevice`
//! as the `/device` page does, and `orbit login` / `orbit whoami` run in
//! process. Polling intervals and expiry move the manual clock; nothing sleeps.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration;
use orbit_api::admin::CreatedAppKeys;
use orbit_tests::{PASSWORD, Session, TestApp, VIEWER, assert_error, email, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CLI: &str = "orbit-cli";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const APPROVE: &str =
    "mutation($input: ApproveDeviceInput!) { approveDevice(input: $input) { approved } }";

/// A server with one app, the app's owner signed in to the console (a
/// developer) and a user of the app signed in.
struct World {
    app: TestApp,
    keys: CreatedAppKeys,
    developer: Session,
    user: Session,
}

async fn world() -> World {
    let app = spawn_app().await;
    let owner_email = email("owner");
    let keys = app
        .create_app_with_owner("Device", &owner_email, PASSWORD)
        .await;
    let developer = app.log_in_with(None, &owner_email).await;
    let user = app
        .sign_up(&keys.publishable_key, &email("ada"), "Ada")
        .await;
    World {
        app,
        keys,
        developer,
        user,
    }
}

/// Posts a form to a path of the server; returns the status and JSON body.
async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    if status.is_success() || status == StatusCode::BAD_REQUEST {
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{path} answers must not be cached"
        );
    }
    (status, response.json().await.unwrap())
}

async fn authorize(app: &TestApp, client_id: &str) -> Value {
    let (status, body) =
        post_form(app, "/oauth/device/authorize", &[("client_id", client_id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> (StatusCode, Value) {
    post_form(
        app,
        "/oauth/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ],
    )
    .await
}

/// Asserts an RFC 6749 §5.2 error answer: 400 with `error` and a description.
#[track_caller]
fn assert_oauth_error(answer: &(StatusCode, Value), error: &str) {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert_eq!(answer.1["error"], error, "{}", answer.1);
    assert!(answer.1["error_description"].is_string(), "{}", answer.1);
}

async fn approve(app: &TestApp, token: &str, user_code: &str, approve: bool) -> Value {
    app.gql(
        Some(token),
        APPROVE,
        json!({ "input": { "userCode": user_code, "approve": approve } }),
    )
    .await
}

fn code(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_developer_signs_a_cli_in_and_it_refreshes() {
    let w = world().await;
    let started = authorize(&w.app, CLI).await;
    let user_code = code(&started, "user_code");
    let device_code = code(&started, "device_code");
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .bytes()
            .filter(|b| *b != b'-')
            .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)),
        "{user_code}"
    );
    assert_eq!(
        started["verification_uri"],
        format!("{}/device", w.app.address)
    );
    assert_eq!(
        started["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", w.app.address)
    );
    assert_eq!(started["expires_in"], 600);
    assert_eq!(started["interval"], 5);

    assert_oauth_error(
        &poll(&w.app, CLI, &device_code).await,
        "authorization_pending",
    );

    // Typed in lower case without the dash, as people do.
    let typed = user_code.replace('-', "").to_lowercase();
    let approved = w
        .app
        .gql_ok(
            Some(&w.developer.access_token),
            APPROVE,
            json!({ "input": { "userCode": typed, "approve": true } }),
        )
        .await;
    assert_eq!(approved["approveDevice"]["approved"], true);

    w.app.clock.advance(Duration::seconds(5));
    let (status, tokens) = poll(&w.app, CLI, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access_token = code(&tokens, "access_token");
    let refresh_token = code(&tokens, "refresh_token");

    let viewer = w.app.gql_ok(Some(&access_token), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["kind"], "DEVELOPER");
    assert_eq!(viewer["viewer"]["user"]["id"], w.developer.user_id.as_str());

    // One exchange per device code.
    w.app.clock.advance(Duration::seconds(5));
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "invalid_grant");

    let refresh = |token: String| {
        let app = &w.app;
        async move {
            post_form(
                app,
                "/oauth/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("client_id", CLI),
                ],
            )
            .await
        }
    };
    let (status, renewed) = refresh(refresh_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["token_type"], "Bearer");
    assert_ne!(renewed["refresh_token"], refresh_token.as_str());
    let viewer = w
        .app
        .gql_ok(
            Some(renewed["access_token"].as_str().unwrap()),
            VIEWER,
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["user"]["id"], w.developer.user_id.as_str());
    // A spent refresh token is a grant that no longer holds.
    assert_oauth_error(&refresh(refresh_token).await, "invalid_grant");
}

#[tokio::test]
async fn polling_too_fast_slows_the_device_down() {
    let w = world().await;
    let device_code = code(&authorize(&w.app, CLI).await, "device_code");
    assert_oauth_error(
        &poll(&w.app, CLI, &device_code).await,
        "authorization_pending",
    );
    // At once again: slow down, and the interval is now 10 s.
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "slow_down");
    w.app.clock.advance(Duration::seconds(9));
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "slow_down");
    // 15 s now, counted from the last poll.
    w.app.clock.advance(Duration::seconds(14));
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "slow_down");
    w.app.clock.advance(Duration::seconds(20));
    assert_oauth_error(
        &poll(&w.app, CLI, &device_code).await,
        "authorization_pending",
    );
    w.app.clock.advance(Duration::seconds(20));
    assert_oauth_error(
        &poll(&w.app, CLI, &device_code).await,
        "authorization_pending",
    );
}

#[tokio::test]
async fn a_device_code_expires_after_expires_in() {
    let w = world().await;
    let started = authorize(&w.app, CLI).await;
    let device_code = code(&started, "device_code");
    w.app.clock.advance(Duration::seconds(599));
    assert_oauth_error(
        &poll(&w.app, CLI, &device_code).await,
        "authorization_pending",
    );
    w.app.clock.advance(Duration::seconds(1));
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "expired_token");
    // Too late to approve, too.
    let late = approve(
        &w.app,
        &w.developer.access_token,
        &code(&started, "user_code"),
        true,
    )
    .await;
    assert_error(&late, "NOT_FOUND", Some("userCode"));
    w.app.clock.advance(Duration::seconds(10));
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "expired_token");
}

#[tokio::test]
async fn a_denied_device_gets_access_denied() {
    let w = world().await;
    let started = authorize(&w.app, CLI).await;
    let device_code = code(&started, "device_code");
    let user_code = code(&started, "user_code");
    let denied = w
        .app
        .gql_ok(
            Some(&w.developer.access_token),
            APPROVE,
            json!({ "input": { "userCode": user_code, "approve": false } }),
        )
        .await;
    assert_eq!(denied["approveDevice"]["approved"], false);
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "access_denied");
    w.app.clock.advance(Duration::seconds(5));
    assert_oauth_error(&poll(&w.app, CLI, &device_code).await, "access_denied");
    // A decision is final.
    let again = approve(&w.app, &w.developer.access_token, &user_code, true).await;
    assert_error(&again, "NOT_FOUND", Some("userCode"));
}

#[tokio::test]
async fn clients_and_requests_are_checked_as_the_rfc_says() {
    let w = world().await;
    for client_id in [
        "nope",
        w.keys.secret_key.as_str(),
        "pk_live_0000000000000000000000000000000000000000",
    ] {
        let answer = post_form(
            &w.app,
            "/oauth/device/authorize",
            &[("client_id", client_id)],
        )
        .await;
        assert_oauth_error(&answer, "invalid_client");
    }
    let answer = post_form(&w.app, "/oauth/device/authorize", &[]).await;
    assert_oauth_error(&answer, "invalid_request");

    let started = authorize(&w.app, CLI).await;
    let device_code = code(&started, "device_code");
    // An unknown client.
    assert_oauth_error(&poll(&w.app, "nope", &device_code).await, "invalid_client");
    // A real client that did not ask for this code.
    assert_oauth_error(
        &poll(&w.app, &w.keys.publishable_key, &device_code).await,
        "invalid_grant",
    );
    assert_oauth_error(&poll(&w.app, CLI, "dc_unknown").await, "invalid_grant");
    let answer = post_form(
        &w.app,
        "/oauth/token",
        &[("grant_type", "password"), ("client_id", CLI)],
    )
    .await;
    assert_oauth_error(&answer, "unsupported_grant_type");
    let answer = post_form(
        &w.app,
        "/oauth/token",
        &[("grant_type", DEVICE_GRANT), ("client_id", CLI)],
    )
    .await;
    assert_oauth_error(&answer, "invalid_request");
    let answer = post_form(
        &w.app,
        "/oauth/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("grant_type", DEVICE_GRANT),
            ("device_code", &device_code),
            ("client_id", CLI),
        ],
    )
    .await;
    assert_oauth_error(&answer, "invalid_request");
    let response = w
        .app
        .client
        .post(format!("{}/oauth/token", w.app.address))
        .json(&json!({ "grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLI }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    // None of that spent or slowed the code: the right client still gets it.
    approve(
        &w.app,
        &w.developer.access_token,
        &code(&started, "user_code"),
        true,
    )
    .await;
    let (status, tokens) = poll(&w.app, CLI, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

#[tokio::test]
async fn wrong_user_codes_are_limited_per_user() {
    let w = world().await;
    let started = authorize(&w.app, CLI).await;
    let user_code = code(&started, "user_code");
    let token = w.developer.access_token.as_str();
    for wrong in ["BCDF-GHJK", "bcdfghjl", "nonsense", "", "ZZZZ-ZZZZ"] {
        if wrong.eq_ignore_ascii_case(&user_code.replace('-', "")) {
            continue;
        }
        let answer = approve(&w.app, token, wrong, true).await;
        assert_error(&answer, "NOT_FOUND", Some("userCode"));
    }
    // The sixth try is refused, even with the right code.
    let answer = approve(&w.app, token, &user_code, true).await;
    assert_error(&answer, "RATE_LIMITED", Some("userCode"));
    assert_oauth_error(
        &poll(&w.app, CLI, &code(&started, "device_code")).await,
        "authorization_pending",
    );

    // Once the wrong tries are 10 minutes old, the user may try again.
    w.app.clock.advance(Duration::minutes(10));
    let fresh = authorize(&w.app, CLI).await;
    let answer = approve(&w.app, token, &code(&fresh, "user_code"), true).await;
    assert_eq!(
        answer["data"]["approveDevice"]["approved"], true,
        "{answer}"
    );
}

#[tokio::test]
async fn an_apps_publishable_key_signs_in_that_apps_user() {
    let w = world().await;
    let pk = w.keys.publishable_key.as_str();
    let started = authorize(&w.app, pk).await;
    let user_code = code(&started, "user_code");
    assert_eq!(
        started["verification_uri"],
        format!("{}/device?client_id={pk}", w.app.address)
    );
    assert_eq!(
        started["verification_uri_complete"],
        format!(
            "{}/device?client_id={pk}&user_code={user_code}",
            w.app.address
        )
    );
    let approved = approve(&w.app, &w.user.access_token, &user_code, true).await;
    assert_eq!(
        approved["data"]["approveDevice"]["approved"], true,
        "{approved}"
    );
    let (status, tokens) = poll(&w.app, pk, &code(&started, "device_code")).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let viewer = w
        .app
        .gql_ok(
            Some(tokens["access_token"].as_str().unwrap()),
            VIEWER,
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["kind"], "USER");
    assert_eq!(viewer["viewer"]["app"]["id"], w.keys.app_id.as_str());
    assert_eq!(viewer["viewer"]["user"]["id"], w.user.user_id.as_str());
    // Its refresh token is the app's: orbit-cli (the console) cannot use it.
    let answer = post_form(
        &w.app,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", CLI),
        ],
    )
    .await;
    assert_oauth_error(&answer, "invalid_grant");
}

#[tokio::test]
async fn only_a_user_of_the_clients_app_can_approve() {
    let w = world().await;
    let other = w.app.create_app("Other").await;
    let stranger = w
        .app
        .sign_up(&other.publishable_key, &email("eve"), "Eve")
        .await;
    let started = authorize(&w.app, &w.keys.publishable_key).await;
    let user_code = code(&started, "user_code");
    // A user of another app, and a developer (the console app), find nothing.
    for token in [&stranger.access_token, &w.developer.access_token] {
        let answer = approve(&w.app, token, &user_code, true).await;
        assert_error(&answer, "NOT_FOUND", Some("userCode"));
    }
    // Keys and anonymous callers are not people.
    let answer = approve(&w.app, &w.keys.secret_key, &user_code, true).await;
    assert_error(&answer, "FORBIDDEN", None);
    let answer = approve(&w.app, &w.keys.publishable_key, &user_code, true).await;
    assert_error(&answer, "UNAUTHENTICATED", None);
    let answer = w
        .app
        .gql(
            None,
            APPROVE,
            json!({ "input": { "userCode": user_code, "approve": true } }),
        )
        .await;
    assert_error(&answer, "UNAUTHENTICATED", None);
    // It is still pending for the right user.
    let answer = approve(&w.app, &w.user.access_token, &user_code, true).await;
    assert_eq!(
        answer["data"]["approveDevice"]["approved"], true,
        "{answer}"
    );
}

#[tokio::test]
async fn the_verification_page_is_served() {
    let w = world().await;
    let response = w.app.get("/device?user_code=BCDF-GHJK").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    let page = response.text().await.unwrap();
    for needle in [
        "logIn(input: $input)",
        "approveDevice(input: $input)",
        "params.get(\"user_code\")",
        "params.get(\"client_id\")",
        "fetch(\"/graphql\"",
    ] {
        assert!(page.contains(needle), "the page lacks {needle}");
    }
}

/// A config dir of the test's own, removed at the end.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("orbit-config-{}", uuid::Uuid::new_v4().simple()));
        Self(dir)
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `orbit login` in a task of its own, with the code it shows and how many
/// times it has waited; waiting the interval is moving the server's clock.
struct RunningLogin {
    task: tokio::task::JoinHandle<anyhow::Result<orbit_api::login::Credentials>>,
    user_code: tokio::sync::oneshot::Receiver<String>,
    waits: Arc<AtomicUsize>,
}

fn start_login(app: &TestApp, config: &ConfigDir) -> RunningLogin {
    let (shown, user_code) = tokio::sync::oneshot::channel();
    let clock = app.clock.clone();
    let waits = Arc::new(AtomicUsize::new(0));
    let counted = waits.clone();
    let server = app.address.clone();
    let dir = config.0.clone();
    let task = tokio::spawn(async move {
        orbit_api::login::login(
            &server,
            CLI,
            &dir,
            |authorization| {
                let _ = shown.send(authorization.user_code.clone());
            },
            move |interval| {
                clock.advance(Duration::from_std(interval).unwrap());
                counted.fetch_add(1, Ordering::SeqCst);
                // The interval passed on the clock; each poll is an HTTP
                // round trip, so yielding does not spin.
                tokio::task::yield_now()
            },
        )
        .await
    });
    RunningLogin {
        task,
        user_code,
        waits,
    }
}

#[tokio::test]
async fn orbit_login_and_whoami_run_the_flow() {
    use std::os::unix::fs::PermissionsExt;
    let w = world().await;
    let config = ConfigDir::new();
    let login = start_login(&w.app, &config);
    let user_code = login.user_code.await.unwrap();
    // Let it poll a few times while nobody has approved.
    let waits = login.waits.clone();
    orbit_tests::eventually("the CLI polls", || {
        let waits = waits.clone();
        async move { waits.load(Ordering::SeqCst) >= 3 }
    })
    .await;
    let approved = approve(&w.app, &w.developer.access_token, &user_code, true).await;
    assert_eq!(
        approved["data"]["approveDevice"]["approved"], true,
        "{approved}"
    );
    let credentials = login.task.await.unwrap().unwrap();

    let file = config.0.join("credentials.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let stored = orbit_api::login::load(&config.0).unwrap();
    assert_eq!(stored.access_token, credentials.access_token);

    let viewer = orbit_api::login::whoami(&config.0).await.unwrap();
    assert_eq!(viewer["kind"], "DEVELOPER");
    assert_eq!(viewer["user"]["id"], w.developer.user_id.as_str());
    let line = orbit_api::login::describe(&viewer, &w.app.address);
    assert!(line.contains(&w.developer.email), "{line}");

    // An expired access token is refreshed, and the new tokens are kept.
    w.app.clock.advance(Duration::minutes(16));
    let viewer = orbit_api::login::whoami(&config.0).await.unwrap();
    assert_eq!(viewer["user"]["id"], w.developer.user_id.as_str());
    let renewed = orbit_api::login::load(&config.0).unwrap();
    assert_ne!(renewed.refresh_token, credentials.refresh_token);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn orbit_login_reports_a_denial() {
    let w = world().await;
    let config = ConfigDir::new();
    let login = start_login(&w.app, &config);
    let user_code = login.user_code.await.unwrap();
    approve(&w.app, &w.developer.access_token, &user_code, false).await;
    let error = login.task.await.unwrap().unwrap_err();
    assert!(error.to_string().contains("denied"), "{error}");
    assert!(!config.0.join("credentials.json").exists());
    assert!(orbit_api::login::whoami(&config.0).await.is_err());
}

/// Posts a form with the client named by HTTP Basic (`client_id:` and an
/// empty password, form-urlencoded then base64, as oauthlib sends it).
async fn post_form_basic(
    app: &TestApp,
    url: &str,
    user: &str,
    password: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let response = app
        .client
        .post(url)
        .header("authorization", format!("Basic {credentials}"))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_client_configures_itself_from_the_metadata_and_may_name_itself_by_basic() {
    let w = world().await;
    let response = w.app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    let issuer = w.app.address.clone();
    assert_eq!(metadata["issuer"], issuer, "{metadata}");
    assert_eq!(metadata["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(
        metadata["device_authorization_endpoint"],
        format!("{issuer}/oauth/device/authorize")
    );
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!(DEVICE_GRANT)), "{metadata}");
    assert!(grants.contains(&json!("refresh_token")), "{metadata}");
    assert!(
        metadata["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );

    // The flow through the endpoints the metadata named, the client sent as
    // Basic with an empty password and not in the body.
    let device_endpoint = metadata["device_authorization_endpoint"].as_str().unwrap();
    let token_endpoint = metadata["token_endpoint"].as_str().unwrap();
    let client = w.keys.publishable_key.as_str();
    let (status, started) = post_form_basic(&w.app, device_endpoint, client, "", &[]).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let device_code = code(&started, "device_code");
    let poll_form = [("grant_type", DEVICE_GRANT), ("device_code", &device_code)];
    let pending = post_form_basic(&w.app, token_endpoint, client, "", &poll_form).await;
    assert_oauth_error(&pending, "authorization_pending");
    approve(
        &w.app,
        &w.user.access_token,
        &code(&started, "user_code"),
        true,
    )
    .await;
    w.app.clock.advance(Duration::seconds(5));
    let (status, tokens) = post_form_basic(&w.app, token_endpoint, client, "", &poll_form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let viewer = w
        .app
        .gql_ok(
            Some(code(&tokens, "access_token").as_str()),
            VIEWER,
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["kind"], "USER", "{viewer}");

    // A secret is refused (clients here are public), and so is a body that
    // names another client than the header.
    let (status, body) = post_form_basic(&w.app, device_endpoint, client, "secret", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let answer = post_form_basic(&w.app, device_endpoint, client, "", &[("client_id", CLI)]).await;
    assert_oauth_error(&answer, "invalid_request");
}
