//! Login by emailed code and by magic link, and the app settings they
//! depend on: against the real server, reading the mail an SMTP sink on
//! loopback received, with the clock moved instead of sleeping.

use crate::mailing::{World, world};
use chrono::Duration;
use orbit_tests::smtp::ReceivedMail;
use orbit_tests::{
    LOG_IN, ME, PASSWORD, REFRESH_SESSION, VIEWER, assert_error, email, error_message, no_data,
};
use serde_json::{Value, json};

const REQUEST_CODE: &str =
    "mutation($input: RequestLoginCodeInput!) { requestLoginCode(input: $input) { ok expiresIn } }";
const VERIFY_CODE: &str = "mutation($input: VerifyLoginCodeInput!) { verifyLoginCode(input: $input) { accessToken refreshToken expiresIn user { id email displayName } } }";
const REQUEST_LINK: &str =
    "mutation($input: RequestMagicLinkInput!) { requestMagicLink(input: $input) { ok expiresIn } }";
const VERIFY_LINK: &str = "mutation($input: VerifyMagicLinkInput!) { verifyMagicLink(input: $input) { accessToken refreshToken expiresIn user { id email displayName } } }";
const UPDATE_SETTINGS: &str = "mutation($input: UpdateAppSettingsInput!) { updateAppSettings(input: $input) { settings { allowedRedirectOrigins passwordlessSignUp } } }";
const SETTINGS: &str = "{ app { id settings { allowedRedirectOrigins passwordlessSignUp } } }";

/// Where magic links of the test apps may lead.
const ORIGIN: &str = "http://localhost:3000";

impl World {
    pub(crate) async fn request_code(&self, key: Option<&str>, address: &str) -> Value {
        self.app
            .gql(key, REQUEST_CODE, json!({ "input": { "email": address } }))
            .await
    }

    async fn verify_code(&self, key: Option<&str>, address: &str, code: &str) -> Value {
        self.app
            .gql(
                key,
                VERIFY_CODE,
                json!({ "input": { "email": address, "code": code } }),
            )
            .await
    }

    async fn request_link(&self, key: Option<&str>, address: &str, redirect_url: &str) -> Value {
        self.app
            .gql(
                key,
                REQUEST_LINK,
                json!({ "input": { "email": address, "redirectUrl": redirect_url } }),
            )
            .await
    }

    async fn verify_link(&self, key: Option<&str>, token: &str) -> Value {
        self.app
            .gql(key, VERIFY_LINK, json!({ "input": { "token": token } }))
            .await
    }

    async fn update_settings(&self, key: Option<&str>, input: Value) -> Value {
        self.app
            .gql(key, UPDATE_SETTINGS, json!({ "input": input }))
            .await
    }

    async fn allow_origin(&self) {
        let response = self
            .update_settings(
                Some(&self.keys.secret_key),
                json!({ "allowedRedirectOrigins": [ORIGIN] }),
            )
            .await;
        assert!(response["errors"].is_null(), "{response}");
    }

    /// Asks for a code for the user and returns it from the mail, the
    /// `count`th the sink has received.
    pub(crate) async fn code_for_user(&self, count: usize) -> String {
        let response = self.request_code(self.pk(), &self.user.email).await;
        assert_eq!(
            response["data"]["requestLoginCode"]["ok"], true,
            "{response}"
        );
        code_in(&self.mail(count).await)
    }

    /// Asks for a magic link for the user and returns its token.
    async fn token_for_user(&self, count: usize) -> String {
        let redirect = format!("{ORIGIN}/callback");
        let response = self
            .request_link(self.pk(), &self.user.email, &redirect)
            .await;
        assert_eq!(
            response["data"]["requestMagicLink"]["ok"], true,
            "{response}"
        );
        token_in(&self.mail(count).await)
    }

    /// The `count`th mail received (1 is the first), once it has arrived.
    async fn mail(&self, count: usize) -> ReceivedMail {
        self.sink.wait_for(count).await.remove(count - 1)
    }

    /// Asserts exactly `count` mails arrived: sends one more to the known
    /// user and waits for it, so that mail sent in the background by the
    /// requests before has had its chance to arrive first.
    async fn assert_mail_count(&self, count: usize) {
        self.code_for_user(count + 1).await;
        assert_eq!(self.sink.received().len(), count + 1, "mails sent");
    }
}

/// The six digits on a line of their own in a code mail.
fn code_in(mail: &ReceivedMail) -> String {
    let text = mail.text();
    text.split_whitespace()
        .find(|word| word.len() == 6 && word.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in: {text}"))
        .to_owned()
}

/// The link in a magic-link mail.
fn link_in(mail: &ReceivedMail) -> String {
    let text = mail.text();
    text.split_whitespace()
        .find(|word| word.starts_with("http"))
        .unwrap_or_else(|| panic!("no link in: {text}"))
        .to_owned()
}

/// The `token` query parameter of the link in a magic-link mail.
fn token_in(mail: &ReceivedMail) -> String {
    let link = link_in(mail);
    let (_, after) = link
        .split_once("token=")
        .unwrap_or_else(|| panic!("no token in {link}"));
    after
        .split(['&', '#'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A six-digit code that is not `code`.
fn other_code(code: &str) -> String {
    let number: u32 = code.parse().unwrap();
    format!("{:06}", (number + 1) % 1_000_000)
}

#[track_caller]
fn assert_signed_in(response: &Value, root: &str, user_id: &str) -> String {
    assert!(response["errors"].is_null(), "{response}");
    let payload = &response["data"][root];
    assert_eq!(payload["user"]["id"], user_id, "{response}");
    assert_eq!(payload["expiresIn"], 900);
    payload["accessToken"].as_str().unwrap().to_owned()
}

#[track_caller]
fn assert_refused(response: &Value, root: &str) {
    assert_error(response, "UNAUTHENTICATED", None);
    assert!(no_data(response, root), "{response}");
}

#[tokio::test]
async fn a_mailed_code_signs_in_like_log_in() {
    let w = world().await;
    let response = w.request_code(w.pk(), &w.user.email).await;
    assert_eq!(
        response["data"]["requestLoginCode"],
        json!({ "ok": true, "expiresIn": 600 })
    );
    let mail = w.mail(1).await;
    assert_eq!(mail.to, vec![w.user.email.clone()]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Your Passwordless sign-in code")
    );
    let code = code_in(&mail);

    let verified = w.verify_code(w.pk(), &w.user.email, &code).await;
    let access = assert_signed_in(&verified, "verifyLoginCode", &w.user.user_id);
    assert_eq!(
        verified["data"]["verifyLoginCode"]["user"]["email"],
        w.user.email.as_str()
    );
    let me = w.app.gql_ok(Some(&access), ME, json!({})).await;
    assert_eq!(me["me"]["id"], w.user.user_id.as_str());

    // The session is a session like logIn's: its refresh token rotates.
    let refresh = verified["data"]["verifyLoginCode"]["refreshToken"]
        .as_str()
        .unwrap();
    let refreshed = w
        .app
        .gql_ok(
            w.pk(),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": refresh } }),
        )
        .await;
    assert_eq!(
        refreshed["refreshSession"]["user"]["id"],
        w.user.user_id.as_str()
    );
}

#[tokio::test]
async fn the_email_is_matched_without_regard_to_case() {
    let w = world().await;
    let code = w.code_for_user(1).await;
    let verified = w
        .verify_code(w.pk(), &w.user.email.to_uppercase(), &code)
        .await;
    assert_signed_in(&verified, "verifyLoginCode", &w.user.user_id);
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code_even_for_the_right_one() {
    let w = world().await;
    let code = w.code_for_user(1).await;
    let mut messages = Vec::new();
    for _ in 0..5 {
        let wrong = w
            .verify_code(w.pk(), &w.user.email, &other_code(&code))
            .await;
        assert_refused(&wrong, "verifyLoginCode");
        messages.push(error_message(&wrong));
    }
    let right_but_dead = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_refused(&right_but_dead, "verifyLoginCode");
    messages.push(error_message(&right_but_dead));
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "one message for every refusal: {messages:?}"
    );

    // A new code has its own five tries: four wrong ones leave the right one.
    let code = w.code_for_user(2).await;
    for _ in 0..4 {
        let wrong = w
            .verify_code(w.pk(), &w.user.email, &other_code(&code))
            .await;
        assert_refused(&wrong, "verifyLoginCode");
    }
    let right = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_signed_in(&right, "verifyLoginCode", &w.user.user_id);
}

#[tokio::test]
async fn wrong_codes_sent_at_once_count_one_by_one() {
    let w = world().await;
    let code = w.code_for_user(1).await;
    let wrong = other_code(&code);
    let guesses = (0..8).map(|_| w.verify_code(w.pk(), &w.user.email, &wrong));
    for refused in futures::future::join_all(guesses).await {
        assert_refused(&refused, "verifyLoginCode");
    }
    let right_but_dead = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_refused(&right_but_dead, "verifyLoginCode");
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let w = world().await;
    let code = w.code_for_user(1).await;
    w.app
        .clock
        .advance(Duration::minutes(10) - Duration::seconds(1));
    let in_time = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_signed_in(&in_time, "verifyLoginCode", &w.user.user_id);

    let code = w.code_for_user(2).await;
    w.app.clock.advance(Duration::minutes(10));
    let late = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_refused(&late, "verifyLoginCode");
}

#[tokio::test]
async fn a_code_works_once() {
    let w = world().await;
    let code = w.code_for_user(1).await;
    let first = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_signed_in(&first, "verifyLoginCode", &w.user.user_id);
    let again = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_refused(&again, "verifyLoginCode");
}

#[tokio::test]
async fn a_newer_code_replaces_the_older_one() {
    let w = world().await;
    let older = w.code_for_user(1).await;
    let newer = w.code_for_user(2).await;
    if older != newer {
        let stale = w.verify_code(w.pk(), &w.user.email, &older).await;
        assert_refused(&stale, "verifyLoginCode");
    }
    let fresh = w.verify_code(w.pk(), &w.user.email, &newer).await;
    assert_signed_in(&fresh, "verifyLoginCode", &w.user.user_id);
}

#[tokio::test]
async fn unknown_emails_get_the_same_answer_and_no_mail_while_sign_up_is_off() {
    let w = world().await;
    w.allow_origin().await;
    let stranger = email("stranger");
    let known = w.request_code(w.pk(), &w.user.email).await;
    let unknown = w.request_code(w.pk(), &stranger).await;
    assert_eq!(
        known, unknown,
        "requestLoginCode must not tell which emails exist"
    );
    let redirect = format!("{ORIGIN}/callback");
    let unknown_link = w.request_link(w.pk(), &stranger, &redirect).await;
    assert_eq!(
        unknown_link["data"]["requestMagicLink"],
        json!({ "ok": true, "expiresIn": 900 })
    );
    // Only the known user's mail went out.
    w.assert_mail_count(1).await;
    assert!(
        w.sink
            .received()
            .iter()
            .all(|mail| mail.to == vec![w.user.email.clone()])
    );

    // No code was made for the stranger: nothing signs them in.
    for guess in ["000000", "123456", "999999"] {
        let refused = w.verify_code(w.pk(), &stranger, guess).await;
        assert_refused(&refused, "verifyLoginCode");
    }
    let users = w
        .app
        .gql_ok(
            Some(&w.keys.secret_key),
            "{ users(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(users["users"]["edges"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn with_passwordless_sign_up_a_verified_unknown_email_becomes_a_user() {
    let w = world().await;
    w.allow_origin().await;
    let on = w
        .update_settings(
            Some(&w.keys.secret_key),
            json!({ "passwordlessSignUp": true }),
        )
        .await;
    assert_eq!(
        on["data"]["updateAppSettings"]["settings"],
        json!({ "allowedRedirectOrigins": [ORIGIN], "passwordlessSignUp": true })
    );

    let newcomer = email("Newcomer");
    let answer = w.request_code(w.pk(), &newcomer).await;
    assert_eq!(
        answer["data"]["requestLoginCode"],
        json!({ "ok": true, "expiresIn": 600 })
    );
    let mail = w.mail(1).await;
    assert_eq!(mail.to, vec![newcomer.clone()]);
    let verified = w.verify_code(w.pk(), &newcomer, &code_in(&mail)).await;
    assert!(verified["errors"].is_null(), "{verified}");
    let user = &verified["data"]["verifyLoginCode"]["user"];
    assert_eq!(user["email"], newcomer.to_lowercase());
    let local_part = newcomer.to_lowercase();
    let local_part = local_part.split('@').next().unwrap();
    assert_eq!(user["displayName"], local_part);

    // The account has no password, and the next code signs the same user in.
    let password = w
        .app
        .gql(
            w.pk(),
            LOG_IN,
            json!({ "input": { "email": newcomer, "password": PASSWORD } }),
        )
        .await;
    assert_refused(&password, "logIn");
    w.request_code(w.pk(), &newcomer).await;
    let again = w
        .verify_code(w.pk(), &newcomer, &code_in(&w.mail(2).await))
        .await;
    assert_signed_in(&again, "verifyLoginCode", user["id"].as_str().unwrap());

    // A magic link signs people up the same way.
    let other = email("linked");
    w.request_link(w.pk(), &other, &format!("{ORIGIN}/cb"))
        .await;
    let by_link = w.verify_link(w.pk(), &token_in(&w.mail(3).await)).await;
    assert!(by_link["errors"].is_null(), "{by_link}");
    assert_eq!(
        by_link["data"]["verifyMagicLink"]["user"]["email"],
        other.as_str()
    );
}

#[tokio::test]
async fn a_magic_link_leads_to_the_redirect_url_and_signs_in() {
    let w = world().await;
    w.allow_origin().await;
    let redirect = format!("{ORIGIN}/auth/callback?next=%2Fhome");
    let response = w.request_link(w.pk(), &w.user.email, &redirect).await;
    assert_eq!(
        response["data"]["requestMagicLink"],
        json!({ "ok": true, "expiresIn": 900 })
    );
    let mail = w.mail(1).await;
    assert_eq!(mail.to, vec![w.user.email.clone()]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Your Passwordless sign-in link")
    );
    let link = link_in(&mail);
    let expected_start = format!("{redirect}&token=ml_");
    assert!(link.starts_with(&expected_start), "{link}");

    let bare = format!("{ORIGIN}/welcome");
    w.request_link(w.pk(), &w.user.email, &bare).await;
    let second = link_in(&w.mail(2).await);
    assert!(second.starts_with(&format!("{bare}?token=ml_")), "{second}");

    let verified = w.verify_link(w.pk(), &token_in(&mail)).await;
    let access = assert_signed_in(&verified, "verifyMagicLink", &w.user.user_id);
    let me = w.app.gql_ok(Some(&access), ME, json!({})).await;
    assert_eq!(me["me"]["id"], w.user.user_id.as_str());
}

#[tokio::test]
async fn a_redirect_off_the_allowed_origins_is_refused_on_redirect_url() {
    let w = world().await;
    // No origins allowed yet: no link can be made.
    let none_allowed = w
        .request_link(w.pk(), &w.user.email, &format!("{ORIGIN}/cb"))
        .await;
    assert_error(&none_allowed, "BAD_USER_INPUT", Some("redirectUrl"));

    w.allow_origin().await;
    for redirect in [
        "https://localhost:3000/cb",
        "http://localhost:3001/cb",
        "http://localhost/cb",
        "http://evil.example/cb",
        "http://localhost:3000@evil.example/cb",
        "http://user@localhost:3000/cb",
        "javascript:alert(1)",
        "not a url",
    ] {
        let refused = w.request_link(w.pk(), &w.user.email, redirect).await;
        assert_error(&refused, "BAD_USER_INPUT", Some("redirectUrl"));
        assert!(no_data(&refused, "requestMagicLink"), "{refused}");
    }
    // The unknown email is refused the same way, before anything else.
    let stranger = w
        .request_link(w.pk(), &email("stranger"), "http://evil.example/")
        .await;
    assert_error(&stranger, "BAD_USER_INPUT", Some("redirectUrl"));
    w.assert_mail_count(0).await;
}

#[tokio::test]
async fn a_magic_link_expires_after_fifteen_minutes() {
    let w = world().await;
    w.allow_origin().await;
    let token = w.token_for_user(1).await;
    w.app
        .clock
        .advance(Duration::minutes(15) - Duration::seconds(1));
    let in_time = w.verify_link(w.pk(), &token).await;
    assert_signed_in(&in_time, "verifyMagicLink", &w.user.user_id);

    let token = w.token_for_user(2).await;
    w.app.clock.advance(Duration::minutes(15));
    let late = w.verify_link(w.pk(), &token).await;
    assert_refused(&late, "verifyMagicLink");
}

#[tokio::test]
async fn a_magic_link_works_once_and_bad_tokens_answer_alike() {
    let w = world().await;
    w.allow_origin().await;
    let token = w.token_for_user(1).await;
    let first = w.verify_link(w.pk(), &token).await;
    assert_signed_in(&first, "verifyMagicLink", &w.user.user_id);
    let reused = w.verify_link(w.pk(), &token).await;
    assert_refused(&reused, "verifyMagicLink");
    let forged = w.verify_link(w.pk(), "ml_forged").await;
    assert_refused(&forged, "verifyMagicLink");
    assert_eq!(error_message(&reused), error_message(&forged));
    assert_eq!(
        reused["errors"][0]["extensions"],
        forged["errors"][0]["extensions"]
    );
}

#[tokio::test]
async fn codes_and_links_of_one_app_do_not_work_in_another() {
    let w = world().await;
    w.allow_origin().await;
    // The other app has a user with the same email, and allows the origin too.
    let other = w.app.create_app("Other").await;
    w.app
        .sign_up(&other.publishable_key, &w.user.email, "Ada elsewhere")
        .await;
    let allow = w
        .update_settings(
            Some(&other.secret_key),
            json!({ "allowedRedirectOrigins": [ORIGIN] }),
        )
        .await;
    assert!(allow["errors"].is_null(), "{allow}");
    let other_pk = Some(other.publishable_key.as_str());

    let code = w.code_for_user(1).await;
    let elsewhere = w.verify_code(other_pk, &w.user.email, &code).await;
    assert_refused(&elsewhere, "verifyLoginCode");
    let token = w.token_for_user(2).await;
    let elsewhere = w.verify_link(other_pk, &token).await;
    assert_refused(&elsewhere, "verifyMagicLink");

    // Both still work in their own app.
    let code_home = w.verify_code(w.pk(), &w.user.email, &code).await;
    assert_signed_in(&code_home, "verifyLoginCode", &w.user.user_id);
    let link_home = w.verify_link(w.pk(), &token).await;
    assert_signed_in(&link_home, "verifyMagicLink", &w.user.user_id);
}

#[tokio::test]
async fn the_secret_key_and_the_console_may_log_in_by_code_but_signed_in_users_may_not() {
    let w = world().await;
    let sk = Some(w.keys.secret_key.as_str());
    w.request_code(sk, &w.user.email).await;
    let by_secret = w
        .verify_code(sk, &w.user.email, &code_in(&w.mail(1).await))
        .await;
    assert_signed_in(&by_secret, "verifyLoginCode", &w.user.user_id);

    let signed_in = w.request_code(w.user.token(), &w.user.email).await;
    assert_error(&signed_in, "FORBIDDEN", None);

    // Developers log in to the console without a credential.
    let developer = email("dev");
    let keys = w
        .app
        .create_app_with_owner("Dev's app", &developer, PASSWORD)
        .await;
    w.request_code(None, &developer).await;
    let console = w
        .verify_code(None, &developer, &code_in(&w.mail(2).await))
        .await;
    let access = assert_signed_in(&console, "verifyLoginCode", &keys.owner_id);
    let viewer = w.app.gql_ok(Some(&access), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["kind"], "DEVELOPER");
}

#[tokio::test]
async fn app_settings_are_for_the_secret_key_not_users() {
    let w = world().await;
    let sk = Some(w.keys.secret_key.as_str());
    let defaults = w.app.gql_ok(sk, SETTINGS, json!({})).await;
    assert_eq!(
        defaults["app"]["settings"],
        json!({ "allowedRedirectOrigins": [], "passwordlessSignUp": false })
    );

    let change =
        json!({ "allowedRedirectOrigins": ["https://a.example"], "passwordlessSignUp": true });
    // A user of the app is not a developer of it; the publishable key and
    // anonymous callers only sign users in.
    for (caller, code) in [
        (w.user.token(), "FORBIDDEN"),
        (w.pk(), "UNAUTHENTICATED"),
        (None, "UNAUTHENTICATED"),
    ] {
        let refused = w.update_settings(caller, change.clone()).await;
        assert_error(&refused, code, None);
        assert!(no_data(&refused, "updateAppSettings"), "{refused}");
        let read = w.app.gql(caller, SETTINGS, json!({})).await;
        assert_error(&read, code, None);
        assert!(read["data"]["app"]["settings"].is_null(), "{read}");
    }
    let unchanged = w.app.gql_ok(sk, SETTINGS, json!({})).await;
    assert_eq!(unchanged, defaults);

    // Origins come back canonical; an omitted field keeps its value.
    let changed = w
        .update_settings(
            sk,
            json!({ "allowedRedirectOrigins": ["HTTPS://App.Example:443/", "http://localhost:3000", "https://app.example"] }),
        )
        .await;
    assert_eq!(
        changed["data"]["updateAppSettings"]["settings"],
        json!({ "allowedRedirectOrigins": ["https://app.example", "http://localhost:3000"], "passwordlessSignUp": false })
    );
    let sign_up = w
        .update_settings(sk, json!({ "passwordlessSignUp": true }))
        .await;
    assert_eq!(
        sign_up["data"]["updateAppSettings"]["settings"]["allowedRedirectOrigins"],
        json!(["https://app.example", "http://localhost:3000"])
    );
    let read = w.app.gql_ok(sk, SETTINGS, json!({})).await;
    assert_eq!(read["app"]["settings"]["passwordlessSignUp"], true);

    for bad in [
        "https://app.example/login",
        "https://app.example?x=1",
        "ftp://app.example",
        "app.example",
    ] {
        let refused = w
            .update_settings(sk, json!({ "allowedRedirectOrigins": [bad] }))
            .await;
        assert_error(&refused, "BAD_USER_INPUT", Some("allowedRedirectOrigins"));
    }
    let too_many: Vec<String> = (0..21).map(|i| format!("https://{i}.example")).collect();
    let refused = w
        .update_settings(sk, json!({ "allowedRedirectOrigins": too_many }))
        .await;
    assert_error(&refused, "BAD_USER_INPUT", Some("allowedRedirectOrigins"));
}
