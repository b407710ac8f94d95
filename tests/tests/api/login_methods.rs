//! An app switches ways of signing in on and off: a method that is off
//! answers FORBIDDEN, naming its setting, and the others go on working.

use orbit_api::admin::CreatedAppKeys;
use orbit_tests::{
    LOG_IN, PASSWORD, SIGN_UP, TestApp, UPDATE_APP_SETTINGS, assert_error, email, spawn_app,
};
use serde_json::{Value, json};

const REQUEST_CODE: &str =
    "mutation($input: RequestLoginCodeInput!) { requestLoginCode(input: $input) { ok } }";
const VERIFY_CODE: &str =
    "mutation($input: VerifyLoginCodeInput!) { verifyLoginCode(input: $input) { accessToken } }";
const REQUEST_LINK: &str =
    "mutation($input: RequestMagicLinkInput!) { requestMagicLink(input: $input) { ok } }";
const VERIFY_LINK: &str =
    "mutation($input: VerifyMagicLinkInput!) { verifyMagicLink(input: $input) { accessToken } }";
const SETTINGS: &str = "{ app { settings { passwordSignUp passwordLogin emailCodeLogin magicLinkLogin oauthLogin } } }";

struct World {
    app: TestApp,
    keys: CreatedAppKeys,
    address: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let keys = app.create_app("Methods").await;
    let address = email("ada");
    app.sign_up(&keys.publishable_key, &address, "Ada").await;
    app.gql_ok(
        Some(&keys.secret_key),
        UPDATE_APP_SETTINGS,
        json!({ "input": { "allowedRedirectOrigins": ["https://app.example.com"] } }),
    )
    .await;
    World { app, keys, address }
}

impl World {
    async fn set(&self, changes: Value) -> Value {
        self.app
            .gql_ok(
                Some(&self.keys.secret_key),
                UPDATE_APP_SETTINGS,
                json!({ "input": changes }),
            )
            .await["updateAppSettings"]["settings"]
            .clone()
    }

    async fn call(&self, query: &str, input: Value) -> Value {
        self.app
            .gql(
                Some(&self.keys.publishable_key),
                query,
                json!({ "input": input }),
            )
            .await
    }

    async fn log_in(&self) -> Value {
        self.call(
            LOG_IN,
            json!({ "email": self.address, "password": PASSWORD }),
        )
        .await
    }

    async fn request_code(&self) -> Value {
        self.call(REQUEST_CODE, json!({ "email": self.address }))
            .await
    }

    async fn request_link(&self) -> Value {
        self.call(
            REQUEST_LINK,
            json!({ "email": self.address, "redirectUrl": "https://app.example.com/in" }),
        )
        .await
    }
}

fn succeeded(response: &Value) -> bool {
    response["errors"].is_null() && !response["data"].is_null()
}

#[tokio::test]
async fn every_method_is_on_by_default() {
    let w = world().await;
    let settings = w
        .app
        .gql_ok(Some(&w.keys.secret_key), SETTINGS, json!({}))
        .await;
    assert_eq!(
        settings["app"]["settings"],
        json!({ "passwordSignUp": true, "passwordLogin": true, "emailCodeLogin": true,
                "magicLinkLogin": true, "oauthLogin": true })
    );
    assert!(succeeded(&w.log_in().await));
    assert!(succeeded(&w.request_code().await));
    assert!(succeeded(&w.request_link().await));
}

#[tokio::test]
async fn password_login_off_refuses_log_in_and_sign_up() {
    let w = world().await;
    let settings = w.set(json!({ "passwordLogin": false })).await;
    assert_eq!(settings["passwordLogin"], false);
    assert_eq!(
        settings["emailCodeLogin"], true,
        "the others keep their value"
    );
    assert_error(&w.log_in().await, "FORBIDDEN", Some("passwordLogin"));
    let sign_up = w
        .call(
            SIGN_UP,
            json!({ "email": email("new"), "password": PASSWORD, "displayName": "New" }),
        )
        .await;
    assert_error(&sign_up, "FORBIDDEN", Some("passwordLogin"));
    // The other ways in still work.
    assert!(succeeded(&w.request_code().await));
    assert!(succeeded(&w.request_link().await));
    w.set(json!({ "passwordLogin": true })).await;
    assert!(succeeded(&w.log_in().await));
}

#[tokio::test]
async fn password_sign_up_off_closes_sign_up_but_not_log_in() {
    let w = world().await;
    w.set(json!({ "passwordSignUp": false })).await;
    let sign_up = w
        .call(
            SIGN_UP,
            json!({ "email": email("new"), "password": PASSWORD, "displayName": "New" }),
        )
        .await;
    assert_error(&sign_up, "FORBIDDEN", Some("passwordSignUp"));
    assert!(succeeded(&w.log_in().await));
}

#[tokio::test]
async fn emailed_codes_off_refuses_asking_and_verifying() {
    let w = world().await;
    w.set(json!({ "emailCodeLogin": false })).await;
    assert_error(&w.request_code().await, "FORBIDDEN", Some("emailCodeLogin"));
    let verify = w
        .call(VERIFY_CODE, json!({ "email": w.address, "code": "123456" }))
        .await;
    assert_error(&verify, "FORBIDDEN", Some("emailCodeLogin"));
    assert!(succeeded(&w.request_link().await));
    assert!(succeeded(&w.log_in().await));
}

#[tokio::test]
async fn magic_links_off_refuses_asking_and_verifying() {
    let w = world().await;
    w.set(json!({ "magicLinkLogin": false })).await;
    assert_error(&w.request_link().await, "FORBIDDEN", Some("magicLinkLogin"));
    let verify = w.call(VERIFY_LINK, json!({ "token": "ml_x" })).await;
    assert_error(&verify, "FORBIDDEN", Some("magicLinkLogin"));
    assert!(succeeded(&w.request_code().await));
}

#[tokio::test]
async fn a_code_mailed_before_the_switch_no_longer_signs_in_but_sessions_go_on() {
    let w = crate::mailing::world().await;
    let code = w.code_for_user(1).await;
    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            UPDATE_APP_SETTINGS,
            json!({ "input": { "emailCodeLogin": false } }),
        )
        .await;
    let verify = w
        .app
        .gql(
            w.pk(),
            VERIFY_CODE,
            json!({ "input": { "email": w.user.email, "code": code } }),
        )
        .await;
    assert_error(&verify, "FORBIDDEN", Some("emailCodeLogin"));
    // A switch stops new sign-ins; signed-in users stay signed in.
    let me = w
        .app
        .gql_ok(w.user.token(), orbit_tests::ME, json!({}))
        .await;
    assert_eq!(me["me"]["id"], w.user.user_id.as_str());
}

#[tokio::test]
async fn settings_are_per_app() {
    let w = world().await;
    let other = w.app.create_app("Other").await;
    let other_address = email("bo");
    w.app
        .sign_up(&other.publishable_key, &other_address, "Bo")
        .await;
    w.set(json!({ "passwordLogin": false })).await;
    assert_error(&w.log_in().await, "FORBIDDEN", Some("passwordLogin"));
    w.app.log_in(&other.publishable_key, &other_address).await;
    // The console (developers) keeps the defaults.
    let owner = email("owner");
    w.app.create_app_with_owner("Mine", &owner, PASSWORD).await;
    w.app.log_in_with(None, &owner).await;
}
