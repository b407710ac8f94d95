//! Abuse limits (issue 4 part 7) against the real server: counters in the
//! database, windows moved with the manual clock instead of sleeping.

use crate::mailing::{World, world};
use chrono::Duration;
use orbit_api::limits::{
    DEVICE_AUTHORIZATIONS_PER_ADDRESS, FAILED_PASSWORD_LOGINS_PER_ACCOUNT,
    FAILED_PASSWORD_LOGINS_PER_ADDRESS, FAILED_VERIFICATIONS_PER_ADDRESS, LOGIN_MAILS_PER_ACCOUNT,
    LOGIN_MAILS_PER_ADDRESS,
};
use orbit_tests::ws::WsClient;
use orbit_tests::{LOG_IN, PASSWORD, assert_error, email};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REQUEST_CODE: &str =
    "mutation($input: RequestLoginCodeInput!) { requestLoginCode(input: $input) { ok expiresIn } }";
const VERIFY_CODE: &str = "mutation($input: VerifyLoginCodeInput!) { verifyLoginCode(input: $input) { accessToken user { id } } }";
const REQUEST_LINK: &str =
    "mutation($input: RequestMagicLinkInput!) { requestMagicLink(input: $input) { ok } }";
const VERIFY_LINK: &str =
    "mutation($input: VerifyMagicLinkInput!) { verifyMagicLink(input: $input) { accessToken } }";

impl World {
    async fn log_in(&self, address: &str, password: &str) -> Value {
        self.app
            .gql(
                self.pk(),
                LOG_IN,
                json!({ "input": { "email": address, "password": password } }),
            )
            .await
    }

    /// `count` wrong passwords for `address`, ten aliases to a request.
    async fn fail_logins(&self, address: &str, count: usize) {
        let mut left = count;
        while left > 0 {
            let batch = left.min(10);
            let fields: String = (0..batch)
                .map(|i| {
                    format!(
                        "a{i}: logIn(input: {{ email: \"{address}\", password: \"wrong-password-{i}\" }}) {{ accessToken }} "
                    )
                })
                .collect();
            let response = self
                .app
                .gql(self.pk(), &format!("mutation {{ {fields} }}"), json!({}))
                .await;
            let errors = response["errors"].as_array().expect("errors");
            assert_eq!(errors.len(), batch, "{response}");
            for error in errors {
                assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{response}");
            }
            left -= batch;
        }
    }
}

fn retry_after(response: &Value) -> i64 {
    response["errors"][0]["extensions"]["details"]["retryAfter"]
        .as_i64()
        .unwrap_or_else(|| panic!("no retryAfter in {response}"))
}

#[tokio::test]
async fn wrong_passwords_lock_password_login_but_not_code_login() {
    let world = world().await;
    let max = FAILED_PASSWORD_LOGINS_PER_ACCOUNT.max as usize;
    assert_eq!(max, 100);
    world.fail_logins(&world.user.email, max - 2).await;

    // Aliases count one by one: the 99th and 100th fail as wrong, the
    // third is past the limit even with the right password.
    let address = &world.user.email;
    let query = format!(
        "mutation {{ a: logIn(input: {{ email: \"{address}\", password: \"wrong-1\" }}) {{ accessToken }} b: logIn(input: {{ email: \"{address}\", password: \"wrong-2\" }}) {{ accessToken }} c: logIn(input: {{ email: \"{address}\", password: \"{PASSWORD}\" }}) {{ accessToken }} }}"
    );
    let response = world.app.gql(world.pk(), &query, json!({})).await;
    let errors = response["errors"].as_array().expect("errors");
    let code_of = |alias: &str| {
        errors
            .iter()
            .find(|error| error["path"][0] == alias)
            .map(|error| error["extensions"]["code"].clone())
    };
    assert_eq!(code_of("a"), Some(json!("UNAUTHENTICATED")), "{response}");
    assert_eq!(code_of("b"), Some(json!("UNAUTHENTICATED")), "{response}");
    assert_eq!(code_of("c"), Some(json!("RATE_LIMITED")), "{response}");

    // The right password alone: limited, with when to come back.
    world.app.clock.advance(Duration::minutes(10));
    let response = world.log_in(&world.user.email, PASSWORD).await;
    assert_error(&response, "RATE_LIMITED", None);
    assert_eq!(retry_after(&response), 50 * 60, "{response}");

    // The owner still signs in with a mailed code.
    let response = world.request_code(world.pk(), &world.user.email).await;
    assert_eq!(
        response["data"]["requestLoginCode"]["ok"], true,
        "{response}"
    );
    let mail = world.sink.wait_for(1).await.remove(0);
    let text = mail.text();
    let code = text
        .split_whitespace()
        .find(|word| word.len() == 6 && word.bytes().all(|b| b.is_ascii_digit()))
        .expect("code")
        .to_owned();
    let response = world
        .app
        .gql(
            world.pk(),
            VERIFY_CODE,
            json!({ "input": { "email": world.user.email, "code": code } }),
        )
        .await;
    assert_eq!(
        response["data"]["verifyLoginCode"]["user"]["id"], world.user.user_id,
        "{response}"
    );

    // Another account of the app is not affected.
    let other = world
        .app
        .sign_up(&world.keys.publishable_key, &email("grace"), "Grace")
        .await;
    let response = world.log_in(&other.email, PASSWORD).await;
    assert!(response["errors"].is_null(), "{response}");

    // A new window: the password works again.
    world.app.clock.advance(Duration::minutes(50));
    let response = world.log_in(&world.user.email, PASSWORD).await;
    assert!(response["errors"].is_null(), "{response}");
    assert!(response["data"]["logIn"]["accessToken"].is_string());
}

#[tokio::test]
async fn unknown_emails_are_limited_like_known_ones() {
    let world = world().await;
    let unknown = email("nobody");
    world
        .fail_logins(&unknown, FAILED_PASSWORD_LOGINS_PER_ACCOUNT.max as usize)
        .await;
    let response = world.log_in(&unknown, PASSWORD).await;
    assert_error(&response, "RATE_LIMITED", None);
    assert_eq!(retry_after(&response), 3600, "{response}");
}

#[tokio::test]
async fn code_and_link_requests_are_limited_per_account_the_same_for_unknown_emails() {
    let world = world().await;
    let unknown = email("nobody");
    let max = LOGIN_MAILS_PER_ACCOUNT.max;
    assert_eq!(max, 10);
    for address in [&world.user.email, &unknown] {
        for _ in 0..max - 1 {
            let response = world.request_code(world.pk(), address).await;
            assert_eq!(
                response["data"]["requestLoginCode"]["ok"], true,
                "{response}"
            );
        }
        // Links count against the same limit.
        let response = world
            .app
            .gql(
                world.pk(),
                REQUEST_LINK,
                json!({ "input": { "email": address, "redirectUrl": "https://example.com/x" } }),
            )
            .await;
        assert_ne!(
            response["errors"][0]["extensions"]["code"], "RATE_LIMITED",
            "{response}"
        );
    }
    let known = world.request_code(world.pk(), &world.user.email).await;
    let other = world.request_code(world.pk(), &unknown).await;
    assert_error(&known, "RATE_LIMITED", None);
    assert_eq!(known["errors"], other["errors"], "the same answer");
    assert_eq!(retry_after(&known), 3600);

    // Another email is not affected; a new window lifts the limit.
    let response = world.request_code(world.pk(), &email("grace")).await;
    assert_eq!(
        response["data"]["requestLoginCode"]["ok"], true,
        "{response}"
    );
    world.app.clock.advance(Duration::hours(1));
    let response = world.request_code(world.pk(), &world.user.email).await;
    assert_eq!(
        response["data"]["requestLoginCode"]["ok"], true,
        "{response}"
    );
}

/// The tests' requests all come from 127.0.0.1: one client address.
#[tokio::test]
async fn failed_password_logins_are_limited_per_address() {
    let world = world().await;
    let per_account = FAILED_PASSWORD_LOGINS_PER_ACCOUNT.max as usize;
    let per_address = FAILED_PASSWORD_LOGINS_PER_ADDRESS.max as usize;
    assert_eq!(per_address, 300);
    for i in 0..per_address / per_account {
        world
            .fail_logins(&email(&format!("spray{i}")), per_account)
            .await;
    }
    // Even an account without failures is refused from this address now.
    let response = world.log_in(&world.user.email, PASSWORD).await;
    assert_error(&response, "RATE_LIMITED", None);
    assert_eq!(retry_after(&response), 3600, "{response}");
    world.app.clock.advance(Duration::hours(1));
    let response = world.log_in(&world.user.email, PASSWORD).await;
    assert!(response["errors"].is_null(), "{response}");
}

#[tokio::test]
async fn code_and_link_requests_are_limited_per_address() {
    let world = world().await;
    let max = LOGIN_MAILS_PER_ADDRESS.max;
    assert_eq!(max, 30);
    for i in 0..max {
        let response = world
            .request_code(world.pk(), &email(&format!("many{i}")))
            .await;
        assert_eq!(
            response["data"]["requestLoginCode"]["ok"], true,
            "{response}"
        );
    }
    let response = world.request_code(world.pk(), &email("fresh")).await;
    assert_error(&response, "RATE_LIMITED", None);
    let response = world
        .app
        .gql(
            world.pk(),
            REQUEST_LINK,
            json!({ "input": { "email": email("fresh"), "redirectUrl": "https://example.com/x" } }),
        )
        .await;
    assert_error(&response, "RATE_LIMITED", None);
    world.app.clock.advance(Duration::hours(1));
    let response = world.request_code(world.pk(), &email("fresh")).await;
    assert_eq!(
        response["data"]["requestLoginCode"]["ok"], true,
        "{response}"
    );
}

#[tokio::test]
async fn failed_verifications_are_limited_per_address() {
    let world = world().await;
    let max = FAILED_VERIFICATIONS_PER_ADDRESS.max;
    assert_eq!(max, 100);
    for i in 0..max {
        let response = world
            .app
            .gql(
                world.pk(),
                VERIFY_CODE,
                json!({ "input": { "email": email(&format!("guess{i}")), "code": "000000" } }),
            )
            .await;
        assert_error(&response, "UNAUTHENTICATED", Some("code"));
    }
    let response = world
        .app
        .gql(
            world.pk(),
            VERIFY_CODE,
            json!({ "input": { "email": world.user.email, "code": "000000" } }),
        )
        .await;
    assert_error(&response, "RATE_LIMITED", None);
    let response = world
        .app
        .gql(
            world.pk(),
            VERIFY_LINK,
            json!({ "input": { "token": "ml_guess" } }),
        )
        .await;
    assert_error(&response, "RATE_LIMITED", None);
    assert!(retry_after(&response) > 0);
}

#[tokio::test]
async fn device_authorizations_are_limited_per_address() {
    let world = world().await;
    let max = DEVICE_AUTHORIZATIONS_PER_ADDRESS.max;
    assert_eq!(max, 30);
    let authorize = || async {
        world
            .app
            .client
            .post(format!("{}/oauth/device/authorize", world.app.address))
            .form(&[("client_id", "orbit-cli")])
            .send()
            .await
            .unwrap()
    };
    for _ in 0..max {
        let response = authorize().await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = authorize().await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"].to_str().unwrap(), "3600");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "slow_down", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    world.app.clock.advance(Duration::hours(1));
    assert_eq!(authorize().await.status(), StatusCode::OK);
}

/// The WebSocket's operations carry its peer's address too, so the socket
/// is no way around the per-address limits.
#[tokio::test]
async fn the_websocket_counts_against_the_same_address() {
    let world = world().await;
    for i in 0..LOGIN_MAILS_PER_ADDRESS.max {
        let response = world
            .request_code(world.pk(), &email(&format!("many{i}")))
            .await;
        assert_eq!(
            response["data"]["requestLoginCode"]["ok"], true,
            "{response}"
        );
    }
    let mut client = WsClient::connected(&world.app.ws_url(), world.pk()).await;
    client
        .subscribe(
            "r",
            REQUEST_CODE,
            json!({ "input": { "email": email("fresh") } }),
        )
        .await;
    // A single-result operation that fails is an `error` message.
    let errors = client.expect_error("r").await;
    assert_eq!(errors[0]["extensions"]["code"], "RATE_LIMITED", "{errors}");
    assert_eq!(
        errors[0]["extensions"]["details"]["retryAfter"], 3600,
        "{errors}"
    );
}

/// `POST /oauth/device/authorize` from `forwarded_for` (as a proxy would
/// send it); its status.
async fn authorize_device_from(app: &orbit_tests::TestApp, forwarded_for: &str) -> StatusCode {
    app.client
        .post(format!("{}/oauth/device/authorize", app.address))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("client_id", "orbit-cli")])
        .send()
        .await
        .unwrap()
        .status()
}

/// Behind a trusted proxy every client has its own allowance: the address
/// is the right-most hop of `X-Forwarded-For` the proxies did not add.
#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_counted_apart() {
    let app = orbit_tests::spawn_app_with(|settings| {
        settings.trusted_proxies =
            vec![orbit_api::ip_block::IpBlock::parse("127.0.0.0/8").unwrap()];
    })
    .await;
    let max = DEVICE_AUTHORIZATIONS_PER_ADDRESS.max;
    for i in 0..max {
        // A client that names a fake first hop is still counted as itself.
        let chain = format!("10.9.9.{i}, 203.0.113.7");
        assert_eq!(authorize_device_from(&app, &chain).await, StatusCode::OK);
    }
    assert_eq!(
        authorize_device_from(&app, "203.0.113.7, 127.0.0.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        authorize_device_from(&app, "198.51.100.9").await,
        StatusCode::OK
    );
}

/// Without trusted proxies the header is anyone's to write, so it is
/// ignored: the TCP peer is the client.
#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = orbit_tests::spawn_app().await;
    for i in 0..DEVICE_AUTHORIZATIONS_PER_ADDRESS.max {
        let spoofed = format!("198.51.100.{i}");
        assert_eq!(authorize_device_from(&app, &spoofed).await, StatusCode::OK);
    }
    assert_eq!(
        authorize_device_from(&app, "192.0.2.200").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_login_storm_past_the_password_queue_is_told_to_retry_not_refused() {
    // One password operation at a time and no queue: of a burst of correct
    // logins, those that find the thread busy are answered at once with
    // 503 UNAVAILABLE and Retry-After, never 401 or INTERNAL.
    let app = orbit_tests::spawn_app_with(|settings| {
        settings.password_threads = 1;
        settings.password_queue = 0;
    })
    .await;
    let keys = app.create_app("Storm").await;
    let address = email("storm");
    app.sign_up(&keys.publishable_key, &address, "Storm").await;

    let attempts = (0..12).map(|_| {
        let app = &app;
        let keys = &keys;
        let address = address.clone();
        async move {
            let body = json!({
                "query": LOG_IN,
                "variables": { "input": { "email": address, "password": PASSWORD } },
            });
            let response = app
                .client
                .post(app.graphql_url())
                .bearer_auth(&keys.publishable_key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let retry_after = response.headers().get("retry-after").cloned();
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body)
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let mut signed_in = 0;
    let mut told_to_retry = 0;
    for (status, retry_after, body) in &answers {
        if status == &StatusCode::OK {
            assert!(body["data"]["logIn"]["accessToken"].is_string(), "{body}");
            signed_in += 1;
        } else {
            assert_eq!(status, &StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "UNAVAILABLE",
                "{body}"
            );
            assert_eq!(retry_after.as_ref().unwrap(), "1", "{body}");
            told_to_retry += 1;
        }
    }
    assert!(signed_in >= 1, "nobody signed in");
    assert!(told_to_retry >= 1, "nobody was turned back: {answers:?}");
    // Once the storm has passed, a login goes through.
    app.log_in(&keys.publishable_key, &address).await;
}
