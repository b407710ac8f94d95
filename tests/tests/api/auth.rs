//! Sign-up, login, refresh rotation and logout.

use orbit_tests::{
    LOG_IN, LOG_OUT, ME, PASSWORD, REFRESH_SESSION, SIGN_UP, assert_error, email, error_message,
    no_data, spawn_app,
};
use serde_json::json;

fn sign_up_input(email: &str, password: &str, display_name: &str) -> serde_json::Value {
    json!({ "input": { "email": email, "password": password, "displayName": display_name } })
}

fn log_in_input(email: &str, password: &str) -> serde_json::Value {
    json!({ "input": { "email": email, "password": password } })
}

#[tokio::test]
async fn sign_up_returns_a_working_session_for_the_new_user() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let address = email("ada");
    let data = app
        .gql_ok(
            Some(&keys.publishable_key),
            SIGN_UP,
            sign_up_input(&address, PASSWORD, "Ada"),
        )
        .await;
    let payload = &data["signUp"];
    assert_eq!(payload["expiresIn"], 900);
    assert_eq!(payload["user"]["displayName"], "Ada");
    let user_id = payload["user"]["id"].as_str().unwrap();
    assert!(user_id.starts_with("usr_"), "{user_id}");
    let access = payload["accessToken"].as_str().unwrap();
    let refresh = payload["refreshToken"].as_str().unwrap();
    assert_ne!(access, refresh);

    let me = app.gql_ok(Some(access), ME, json!({})).await;
    assert_eq!(me["me"]["id"], user_id);
    assert_eq!(me["me"]["email"], address.as_str());
}

#[tokio::test]
async fn auth_payloads_show_the_users_own_email() {
    // The user in an AuthPayload is the one the session belongs to: themself.
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let address = email("own");
    let signed_up = app
        .gql_ok(
            Some(&keys.publishable_key),
            SIGN_UP,
            sign_up_input(&address, PASSWORD, "Own"),
        )
        .await;
    let logged_in = app
        .gql_ok(
            Some(&keys.publishable_key),
            LOG_IN,
            log_in_input(&address, PASSWORD),
        )
        .await;
    assert_eq!(
        (
            signed_up["signUp"]["user"]["email"].as_str(),
            logged_in["logIn"]["user"]["email"].as_str()
        ),
        (Some(address.as_str()), Some(address.as_str())),
        "signUp / logIn payload user.email"
    );
}

#[tokio::test]
async fn sign_up_with_a_taken_email_is_a_conflict_on_email() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let address = email("dup");
    app.sign_up(&keys.publishable_key, &address, "First").await;

    let again = app
        .gql(
            Some(&keys.publishable_key),
            SIGN_UP,
            sign_up_input(&address, PASSWORD, "Second"),
        )
        .await;
    assert_error(&again, "CONFLICT", Some("email"));
    assert!(no_data(&again, "signUp"));

    let shouting = app
        .gql(
            Some(&keys.publishable_key),
            SIGN_UP,
            sign_up_input(&address.to_uppercase(), PASSWORD, "Third"),
        )
        .await;
    assert_error(&shouting, "CONFLICT", Some("email"));
}

#[tokio::test]
async fn the_same_email_may_sign_up_in_two_apps() {
    let app = spawn_app().await;
    let a = app.create_app("A").await;
    let b = app.create_app("B").await;
    let address = email("both");
    let in_a = app.sign_up(&a.publishable_key, &address, "In A").await;
    let in_b = app.sign_up(&b.publishable_key, &address, "In B").await;
    assert_ne!(in_a.user_id, in_b.user_id);
}

#[tokio::test]
async fn sign_up_validates_each_field() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let pk = Some(keys.publishable_key.as_str());

    for bad in ["not-an-email", "", "a@", "@example.com", "two@@example.com"] {
        let response = app
            .gql(pk, SIGN_UP, sign_up_input(bad, PASSWORD, "Bad Email"))
            .await;
        assert_error(&response, "BAD_USER_INPUT", Some("email"));
    }

    let short = app
        .gql(
            pk,
            SIGN_UP,
            sign_up_input(&email("short"), "1234567", "Short"),
        )
        .await;
    assert_error(&short, "BAD_USER_INPUT", Some("password"));

    let nameless = app
        .gql(
            pk,
            SIGN_UP,
            sign_up_input(&email("nameless"), PASSWORD, "   "),
        )
        .await;
    assert_error(&nameless, "BAD_USER_INPUT", Some("displayName"));

    // Nothing was created by the failed attempts.
    let secret = app
        .gql_ok(
            Some(&keys.secret_key),
            "{ users(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(secret["users"]["edges"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn anonymous_sign_up_is_forbidden_while_console_sign_up_is_closed() {
    let app = spawn_app().await;
    let response = app
        .gql(None, SIGN_UP, sign_up_input(&email("dev"), PASSWORD, "Dev"))
        .await;
    assert_error(&response, "FORBIDDEN", None);
    assert!(no_data(&response, "signUp"));
}

#[tokio::test]
async fn log_in_with_the_right_password_starts_a_new_session() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let address = email("lin");
    let signed_up = app.sign_up(&keys.publishable_key, &address, "Lin").await;

    let data = app
        .gql_ok(
            Some(&keys.publishable_key),
            LOG_IN,
            log_in_input(&address, PASSWORD),
        )
        .await;
    assert_eq!(data["logIn"]["user"]["id"], signed_up.user_id.as_str());
    assert_eq!(data["logIn"]["expiresIn"], 900);
    let token = data["logIn"]["accessToken"].as_str().unwrap();
    assert_ne!(token, signed_up.access_token);
    let me = app.gql_ok(Some(token), ME, json!({})).await;
    assert_eq!(me["me"]["id"], signed_up.user_id.as_str());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_fail_alike() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let address = email("known");
    app.sign_up(&keys.publishable_key, &address, "Known").await;
    let pk = Some(keys.publishable_key.as_str());

    let wrong_password = app
        .gql(pk, LOG_IN, log_in_input(&address, "not-the-password"))
        .await;
    let unknown_email = app
        .gql(pk, LOG_IN, log_in_input(&email("unknown"), PASSWORD))
        .await;
    assert_error(&wrong_password, "UNAUTHENTICATED", None);
    assert_error(&unknown_email, "UNAUTHENTICATED", None);
    assert!(no_data(&wrong_password, "logIn"));
    assert!(no_data(&unknown_email, "logIn"));
    assert_eq!(
        error_message(&wrong_password),
        error_message(&unknown_email),
        "the messages must not tell which emails exist"
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        unknown_email["errors"][0]["extensions"]
    );
}

#[tokio::test]
async fn a_user_of_one_app_cannot_log_in_to_another() {
    let app = spawn_app().await;
    let a = app.create_app("A").await;
    let b = app.create_app("B").await;
    let address = email("only-a");
    app.sign_up(&a.publishable_key, &address, "Only A").await;
    let response = app
        .gql(
            Some(&b.publishable_key),
            LOG_IN,
            log_in_input(&address, PASSWORD),
        )
        .await;
    assert_error(&response, "UNAUTHENTICATED", None);
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_the_new_tokens_work() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let session = app
        .sign_up(&keys.publishable_key, &email("rot"), "Rot")
        .await;
    app.clock.advance(chrono::Duration::minutes(1));

    let data = app
        .gql_ok(
            Some(&keys.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await;
    let refreshed = &data["refreshSession"];
    assert_eq!(refreshed["user"]["id"], session.user_id.as_str());
    assert_eq!(refreshed["expiresIn"], 900);
    let new_refresh = refreshed["refreshToken"].as_str().unwrap();
    let new_access = refreshed["accessToken"].as_str().unwrap();
    assert_ne!(new_refresh, session.refresh_token);
    assert_ne!(new_access, session.access_token);

    let me = app.gql_ok(Some(new_access), ME, json!({})).await;
    assert_eq!(me["me"]["id"], session.user_id.as_str());

    // And the new refresh token rotates in turn.
    let again = app
        .gql_ok(
            Some(&keys.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": new_refresh } }),
        )
        .await;
    assert_ne!(again["refreshSession"]["refreshToken"], new_refresh);
}

#[tokio::test]
async fn refresh_works_after_the_access_token_expired() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let session = app
        .sign_up(&keys.publishable_key, &email("late"), "Late")
        .await;
    app.clock.advance(chrono::Duration::hours(2));

    let stale = app.gql(session.token(), ME, json!({})).await;
    assert_error(&stale, "UNAUTHENTICATED", None);

    let data = app
        .gql_ok(
            Some(&keys.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await;
    let access = data["refreshSession"]["accessToken"].as_str().unwrap();
    let me = app.gql_ok(Some(access), ME, json!({})).await;
    assert_eq!(me["me"]["id"], session.user_id.as_str());
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_its_whole_family() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let pk = Some(keys.publishable_key.as_str());
    let session = app
        .sign_up(&keys.publishable_key, &email("reuse"), "Reuse")
        .await;

    let first = app
        .gql_ok(
            pk,
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await;
    let new_refresh = first["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_access = first["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // Someone replays the old token.
    let replay = app
        .gql(
            pk,
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await;
    assert_error(&replay, "UNAUTHENTICATED", None);
    assert!(no_data(&replay, "refreshSession"));

    // The legitimate holder's newer token is dead too, and so is the session.
    let legit = app
        .gql(
            pk,
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": new_refresh } }),
        )
        .await;
    assert_error(&legit, "UNAUTHENTICATED", None);
    let me = app.gql(Some(&new_access), ME, json!({})).await;
    assert_error(&me, "UNAUTHENTICATED", None);

    // Other sessions of the same user are untouched.
    let other = app.log_in(&keys.publishable_key, &session.email).await;
    let me = app.gql_ok(other.token(), ME, json!({})).await;
    assert_eq!(me["me"]["id"], session.user_id.as_str());
}

#[tokio::test]
async fn refresh_rejects_garbage_and_other_apps_tokens() {
    let app = spawn_app().await;
    let a = app.create_app("A").await;
    let b = app.create_app("B").await;
    let session = app.sign_up(&a.publishable_key, &email("x"), "X").await;

    for garbage in ["", "rt_nope", "garbage"] {
        let response = app
            .gql(
                Some(&a.publishable_key),
                REFRESH_SESSION,
                json!({ "input": { "refreshToken": garbage } }),
            )
            .await;
        assert_error(&response, "UNAUTHENTICATED", None);
    }

    let wrong_app = app
        .gql(
            Some(&b.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await;
    assert_error(&wrong_app, "UNAUTHENTICATED", None);

    // The token was not consumed (nor its family revoked) by the attempt.
    let right_app = app
        .gql_ok(
            Some(&a.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await;
    assert_eq!(
        right_app["refreshSession"]["user"]["id"],
        session.user_id.as_str()
    );
}

#[tokio::test]
async fn log_out_ends_only_this_session() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let first = app
        .sign_up(&keys.publishable_key, &email("out"), "Out")
        .await;
    let second = app.log_in(&keys.publishable_key, &first.email).await;

    let data = app
        .gql_ok(first.token(), LOG_OUT, json!({ "input": {} }))
        .await;
    assert_eq!(data["logOut"]["revokedSessions"], 1);

    let me = app.gql(first.token(), ME, json!({})).await;
    assert_error(&me, "UNAUTHENTICATED", None);
    let refresh = app
        .gql(
            Some(&keys.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": first.refresh_token } }),
        )
        .await;
    assert_error(&refresh, "UNAUTHENTICATED", None);

    let still = app.gql_ok(second.token(), ME, json!({})).await;
    assert_eq!(still["me"]["id"], first.user_id.as_str());
}

#[tokio::test]
async fn log_out_of_all_sessions_ends_every_one() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let first = app
        .sign_up(&keys.publishable_key, &email("all"), "All")
        .await;
    let second = app.log_in(&keys.publishable_key, &first.email).await;
    let third = app.log_in(&keys.publishable_key, &first.email).await;

    let data = app
        .gql_ok(
            second.token(),
            LOG_OUT,
            json!({ "input": { "allSessions": true } }),
        )
        .await;
    assert_eq!(data["logOut"]["revokedSessions"], 3);

    for session in [&first, &second, &third] {
        let me = app.gql(session.token(), ME, json!({})).await;
        assert_error(&me, "UNAUTHENTICATED", None);
        let refresh = app
            .gql(
                Some(&keys.publishable_key),
                REFRESH_SESSION,
                json!({ "input": { "refreshToken": session.refresh_token } }),
            )
            .await;
        assert_error(&refresh, "UNAUTHENTICATED", None);
    }

    // Logging in again still works.
    let fresh = app.log_in(&keys.publishable_key, &first.email).await;
    let me = app.gql_ok(fresh.token(), ME, json!({})).await;
    assert_eq!(me["me"]["id"], first.user_id.as_str());
}

#[tokio::test]
async fn log_out_needs_a_user_token() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    for auth in [Some(keys.publishable_key.as_str()), None] {
        let response = app.gql(auth, LOG_OUT, json!({ "input": {} })).await;
        assert_error(&response, "UNAUTHENTICATED", None);
    }
}

#[tokio::test]
async fn access_tokens_last_fifteen_minutes() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let session = app
        .sign_up(&keys.publishable_key, &email("ttl"), "Ttl")
        .await;

    app.clock.advance(chrono::Duration::minutes(14));
    let me = app.gql_ok(session.token(), ME, json!({})).await;
    assert_eq!(me["me"]["id"], session.user_id.as_str());

    app.clock.advance(chrono::Duration::minutes(2));
    let expired = app.gql(session.token(), ME, json!({})).await;
    assert_error(&expired, "UNAUTHENTICATED", None);
}

#[tokio::test]
async fn update_profile_changes_the_callers_profile() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let session = app
        .sign_up(&keys.publishable_key, &email("prof"), "Before")
        .await;
    let data = app
        .gql_ok(
            session.token(),
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id displayName timezone } } }",
            json!({ "input": { "displayName": "After", "timezone": "Europe/Paris" } }),
        )
        .await;
    assert_eq!(
        data["updateProfile"]["user"]["id"],
        session.user_id.as_str()
    );
    assert_eq!(data["updateProfile"]["user"]["displayName"], "After");
    assert_eq!(data["updateProfile"]["user"]["timezone"], "Europe/Paris");

    let bad = app
        .gql(
            session.token(),
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id } } }",
            json!({ "input": { "timezone": "not a zone!" } }),
        )
        .await;
    assert_error(&bad, "BAD_USER_INPUT", Some("timezone"));
    let bad_url = app
        .gql(
            session.token(),
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id } } }",
            json!({ "input": { "avatarUrl": "javascript:alert(1)" } }),
        )
        .await;
    assert_error(&bad_url, "BAD_USER_INPUT", Some("avatarUrl"));

    // null clears an optional field.
    let cleared = app
        .gql_ok(
            session.token(),
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { displayName timezone } } }",
            json!({ "input": { "timezone": null } }),
        )
        .await;
    assert!(cleared["updateProfile"]["user"]["timezone"].is_null());
    assert_eq!(cleared["updateProfile"]["user"]["displayName"], "After");
}

#[tokio::test]
async fn refresh_tokens_do_not_live_forever() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let session = app
        .sign_up(&keys.publishable_key, &email("old"), "Old")
        .await;
    app.clock.advance(chrono::Duration::days(400));
    let response = app
        .gql(
            Some(&keys.publishable_key),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
        .await;
    assert_error(&response, "UNAUTHENTICATED", None);
}

/// Two refreshes with one token at the same moment: at most one new pair
/// may come out alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_refreshes_do_not_fork_a_session() {
    let app = spawn_app().await;
    let keys = app.create_app("Auth").await;
    let pk = Some(keys.publishable_key.as_str());
    let session = app
        .sign_up(&keys.publishable_key, &email("race"), "Race")
        .await;
    let refresh = || {
        app.gql(
            pk,
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": session.refresh_token } }),
        )
    };
    let (a, b, c) = tokio::join!(refresh(), refresh(), refresh());
    let mut alive = 0;
    for response in [&a, &b, &c] {
        let Some(token) = response["data"]["refreshSession"]["refreshToken"].as_str() else {
            continue;
        };
        let next = app
            .gql(
                pk,
                REFRESH_SESSION,
                json!({ "input": { "refreshToken": token } }),
            )
            .await;
        if next["errors"].is_null() {
            alive += 1;
        }
    }
    assert!(
        alive <= 1,
        "{alive} live refresh tokens from one: {a}\n{b}\n{c}"
    );
}
