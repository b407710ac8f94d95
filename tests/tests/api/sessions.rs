//! A user's sessions: listed, and ended one at a time, at once for every
//! request and socket of that session and for no other.

use orbit_tests::ws::WsClient;
use orbit_tests::{
    ME, PASSWORD, REFRESH_SESSION, TestApp, assert_error, email, error_code, spawn_app,
};
use serde_json::{Value, json};

const SESSIONS: &str =
    "{ sessions(first: 10) { edges { node { id current createdAt lastUsedAt expiresAt } } } }";
const REVOKE_SESSION: &str =
    "mutation($input: RevokeSessionInput!) { revokeSession(input: $input) { revokedSessionId } }";

async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let data = app.gql_ok(Some(token), SESSIONS, json!({})).await;
    data["sessions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// The id of the session `token` belongs to.
async fn own_session(app: &TestApp, token: &str) -> String {
    sessions(app, token)
        .await
        .into_iter()
        .find(|session| session["current"] == true)
        .expect("the caller's own session is listed")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_user_sees_their_sessions_and_ends_one_at_once_everywhere() {
    let app = spawn_app().await;
    let keys = app.create_app("Sessions").await;
    let address = email("ada");
    let laptop = app.sign_up(&keys.publishable_key, &address, "Ada").await;
    let phone = app.log_in(&keys.publishable_key, &address).await;

    let listed = sessions(&app, &laptop.access_token).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
    for session in &listed {
        assert!(session["id"].as_str().unwrap().starts_with("ses_"));
        assert!(session["expiresAt"].is_string());
    }
    let phone_session = own_session(&app, &phone.access_token).await;
    let laptop_session = own_session(&app, &laptop.access_token).await;
    assert_ne!(phone_session, laptop_session);

    // The phone has a socket open; ending its session closes it.
    let mut socket = WsClient::connected(&app.ws_url(), Some(&phone.access_token)).await;
    socket.ping().await;

    let revoked = app
        .gql_ok(
            Some(&laptop.access_token),
            REVOKE_SESSION,
            json!({ "input": { "id": phone_session } }),
        )
        .await;
    assert_eq!(
        revoked["revokeSession"]["revokedSessionId"],
        phone_session.as_str()
    );
    assert_eq!(socket.expect_close().await.0, 4403);
    let (status, refused) = app
        .post_graphql(Some(&phone.access_token), &json!({ "query": ME }))
        .await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&refused).as_deref(), Some("UNAUTHENTICATED"));
    let refreshed = app
        .gql(
            Some(&keys.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": phone.refresh_token } }),
        )
        .await;
    assert_eq!(error_code(&refreshed).as_deref(), Some("UNAUTHENTICATED"));

    // The laptop goes on, and sees one session left; ending it again is
    // ending nothing.
    let left = sessions(&app, &laptop.access_token).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], laptop_session.as_str());
    let again = app
        .gql(
            Some(&laptop.access_token),
            REVOKE_SESSION,
            json!({ "input": { "id": phone_session } }),
        )
        .await;
    assert_error(&again, "NOT_FOUND", Some("id"));
}

#[tokio::test]
async fn nobody_ends_a_session_that_is_not_theirs() {
    let app = spawn_app().await;
    let keys = app.create_app("Mine").await;
    let other_keys = app.create_app("Theirs").await;
    let ada = app
        .sign_up(&keys.publishable_key, &email("ada"), "Ada")
        .await;
    let bob = app
        .sign_up(&keys.publishable_key, &email("bob"), "Bob")
        .await;
    let eve = app
        .sign_up(&other_keys.publishable_key, &email("eve"), "Eve")
        .await;
    let bobs = own_session(&app, &bob.access_token).await;

    // Another user of the app, and a user of another app: as if it did not exist.
    for token in [&ada.access_token, &eve.access_token] {
        let refused = app
            .gql(
                Some(token),
                REVOKE_SESSION,
                json!({ "input": { "id": bobs } }),
            )
            .await;
        assert_error(&refused, "NOT_FOUND", Some("id"));
    }
    // Keys have no sessions of their own.
    for key in [&keys.secret_key, &keys.publishable_key] {
        let refused = app
            .gql(
                Some(key),
                REVOKE_SESSION,
                json!({ "input": { "id": bobs } }),
            )
            .await;
        assert!(error_code(&refused).is_some(), "{refused}");
        assert!(refused["data"].is_null(), "{refused}");
        let listed = app.gql(Some(key), SESSIONS, json!({})).await;
        assert!(listed["data"].is_null(), "{listed}");
    }
    let malformed = app
        .gql(
            Some(&ada.access_token),
            REVOKE_SESSION,
            json!({ "input": { "id": "usr_1" } }),
        )
        .await;
    assert_error(&malformed, "BAD_USER_INPUT", Some("id"));
    // Bob is still signed in.
    assert_eq!(sessions(&app, &bob.access_token).await.len(), 1);
}

const CHANGE_PASSWORD: &str = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) { accessToken refreshToken user { id } } }";

#[tokio::test]
async fn changing_the_password_ends_every_session_and_starts_one() {
    let app = spawn_app().await;
    let keys = app.create_app("Passwords").await;
    let address = email("ada");
    let laptop = app.sign_up(&keys.publishable_key, &address, "Ada").await;
    let phone = app.log_in(&keys.publishable_key, &address).await;
    let mut socket = WsClient::connected(&app.ws_url(), Some(&phone.access_token)).await;
    socket.ping().await;
    let change = |current: &str, new: &str| json!({ "input": { "currentPassword": current, "newPassword": new } });

    let wrong = app
        .gql(
            Some(&laptop.access_token),
            CHANGE_PASSWORD,
            change("not it", "a new long password"),
        )
        .await;
    assert_error(&wrong, "UNAUTHENTICATED", Some("currentPassword"));
    let short = app
        .gql(
            Some(&laptop.access_token),
            CHANGE_PASSWORD,
            change(PASSWORD, "short"),
        )
        .await;
    assert_error(&short, "BAD_USER_INPUT", Some("newPassword"));
    for key in [&keys.secret_key, &keys.publishable_key] {
        let refused = app
            .gql(
                Some(key),
                CHANGE_PASSWORD,
                change(PASSWORD, "a new long password"),
            )
            .await;
        assert!(
            refused["data"].is_null() && error_code(&refused).is_some(),
            "{refused}"
        );
    }
    // Nothing changed by those: both devices are still signed in.
    assert_eq!(sessions(&app, &phone.access_token).await.len(), 2);

    let changed = app
        .gql_ok(
            Some(&laptop.access_token),
            CHANGE_PASSWORD,
            change(PASSWORD, "a new long password"),
        )
        .await;
    let fresh = changed["changePassword"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        changed["changePassword"]["user"]["id"],
        laptop.user_id.as_str()
    );
    assert_eq!(socket.expect_close().await.0, 4403);
    for old in [&laptop.access_token, &phone.access_token] {
        let (status, _) = app.post_graphql(Some(old), &json!({ "query": ME })).await;
        assert_eq!(status, 401);
    }
    let listed = sessions(&app, &fresh).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], true);

    let log_in = |password: &str| json!({ "input": { "email": address, "password": password } });
    let old_password = app
        .gql(
            Some(&keys.publishable_key),
            orbit_tests::LOG_IN,
            log_in(PASSWORD),
        )
        .await;
    assert_eq!(
        error_code(&old_password).as_deref(),
        Some("UNAUTHENTICATED")
    );
    app.gql_ok(
        Some(&keys.publishable_key),
        orbit_tests::LOG_IN,
        log_in("a new long password"),
    )
    .await;
}

const DISABLE_USER: &str = "mutation($input: SetUserDisabledInput!) { disableUser(input: $input) { user { id disabledAt } } }";
const ENABLE_USER: &str = "mutation($input: SetUserDisabledInput!) { enableUser(input: $input) { user { id disabledAt } } }";

#[tokio::test]
async fn a_disabled_account_is_signed_out_everywhere_and_cannot_sign_in_until_enabled() {
    let app = spawn_app().await;
    let keys = app.create_app("Moderated").await;
    let other = app.create_app("Elsewhere").await;
    let address = email("ada");
    let ada = app.sign_up(&keys.publishable_key, &address, "Ada").await;
    let bob = app
        .sign_up(&keys.publishable_key, &email("bob"), "Bob")
        .await;
    let mut socket = WsClient::connected(&app.ws_url(), Some(&ada.access_token)).await;
    socket.ping().await;
    let target = json!({ "input": { "id": ada.user_id } });

    // Only the app's own secret key may.
    for caller in [&keys.publishable_key, &bob.access_token, &ada.access_token] {
        let refused = app.gql(Some(caller), DISABLE_USER, target.clone()).await;
        assert_error(&refused, "FORBIDDEN", None);
    }
    let elsewhere = app
        .gql(Some(&other.secret_key), DISABLE_USER, target.clone())
        .await;
    assert_error(&elsewhere, "NOT_FOUND", Some("id"));

    let disabled = app
        .gql_ok(Some(&keys.secret_key), DISABLE_USER, target.clone())
        .await;
    assert!(disabled["disableUser"]["user"]["disabledAt"].is_string());
    assert_eq!(socket.expect_close().await.0, 4403);
    let (status, _) = app
        .post_graphql(Some(&ada.access_token), &json!({ "query": ME }))
        .await;
    assert_eq!(status, 401);
    let refreshed = app
        .gql(
            Some(&keys.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": ada.refresh_token } }),
        )
        .await;
    assert_eq!(error_code(&refreshed).as_deref(), Some("UNAUTHENTICATED"));
    let log_in = json!({ "input": { "email": address, "password": PASSWORD } });
    let refused = app
        .gql(
            Some(&keys.publishable_key),
            orbit_tests::LOG_IN,
            log_in.clone(),
        )
        .await;
    assert_eq!(error_code(&refused).as_deref(), Some("UNAUTHENTICATED"));
    // Whether an account is disabled is the app's business, not other users'.
    let seen = "query($id: ID!) { user(id: $id) { disabledAt } }";
    let by_server = app
        .gql_ok(Some(&keys.secret_key), seen, json!({ "id": ada.user_id }))
        .await;
    assert!(by_server["user"]["disabledAt"].is_string());

    let enabled = app
        .gql_ok(Some(&keys.secret_key), ENABLE_USER, target)
        .await;
    assert!(enabled["enableUser"]["user"]["disabledAt"].is_null());
    app.gql_ok(Some(&keys.publishable_key), orbit_tests::LOG_IN, log_in)
        .await;
}
