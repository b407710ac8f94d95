//! Login with an outside OAuth provider, end to end: the fake provider on
//! loopback speaks the real authorization-code protocol with PKCE, and the
//! test plays the browser (no redirects followed: it reads `Location`).

use chrono::Duration;
use orbit_api::admin::CreatedAppKeys;
use orbit_domain::entities::{identity_provider, oauth_login, user_identity};
use orbit_tests::oauth_provider::{Account, ClientAuthSeen, FakeProvider};
use orbit_tests::{TestApp, assert_error, email, error_code, spawn_app};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Digest;
use url::Url;

const ORIGIN: &str = "https://app.example";
const PAGE: &str = "https://app.example/auth/done?from=login";

pub const CREATE_PROVIDER: &str = "mutation($input: CreateIdentityProviderInput!) { createIdentityProvider(input: $input) { identityProvider { id slug displayName preset clientId authorizationUrl tokenUrl userinfoUrl emailsUrl scopes issuer subjectClaim emailClaim emailVerifiedClaim nameClaim clientAuth allowSignUp callbackUrl } } }";
pub const UPDATE_PROVIDER: &str = "mutation($input: UpdateIdentityProviderInput!) { updateIdentityProvider(input: $input) { identityProvider { id slug clientId allowSignUp } } }";
pub const DELETE_PROVIDER: &str = "mutation($input: DeleteIdentityProviderInput!) { deleteIdentityProvider(input: $input) { deletedIdentityProviderId } }";
const START: &str = "mutation($input: StartOAuthLoginInput!) { startOAuthLogin(input: $input) { authorizationUrl expiresIn } }";
const COMPLETE: &str = "mutation($input: CompleteOAuthLoginInput!) { completeOAuthLogin(input: $input) { accessToken refreshToken user { id email displayName } } }";

struct World {
    app: TestApp,
    keys: CreatedAppKeys,
    idp: FakeProvider,
    provider_id: String,
    browser: reqwest::Client,
}

/// The input of a CUSTOM provider pointing at `idp`.
fn custom_provider(idp: &FakeProvider, slug: &str) -> Value {
    json!({
        "slug": slug,
        "preset": "CUSTOM",
        "displayName": "Acme ID",
        "clientId": idp.client_id,
        "clientSecret": idp.client_secret,
        "authorizationUrl": idp.url("/authorize"),
        "tokenUrl": idp.url("/token"),
        "userinfoUrl": idp.url("/userinfo"),
        "scopes": ["openid", "email"],
    })
}

async fn allow_origin(app: &TestApp, secret_key: &str) {
    app.gql_ok(
        Some(secret_key),
        "mutation($input: UpdateAppSettingsInput!) { updateAppSettings(input: $input) { settings { allowedRedirectOrigins } } }",
        json!({ "input": { "allowedRedirectOrigins": [ORIGIN] } }),
    )
    .await;
}

async fn world() -> World {
    let app = spawn_app().await;
    let keys = app.create_app("OAuth app").await;
    allow_origin(&app, &keys.secret_key).await;
    let idp = FakeProvider::start(&format!("{}/oauth/callback", app.address)).await;
    let created = app
        .gql_ok(
            Some(&keys.secret_key),
            CREATE_PROVIDER,
            json!({ "input": custom_provider(&idp, "acme") }),
        )
        .await;
    let provider_id = created["createIdentityProvider"]["identityProvider"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    World {
        app,
        keys,
        idp,
        provider_id,
        browser,
    }
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .map(|(key, old)| {
            let new = if key == name { value.to_owned() } else { old };
            (key, new)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

impl World {
    /// `startOAuthLogin` with `credential`; the whole response.
    async fn start_with(&self, credential: Option<&str>, input: Value) -> Value {
        self.app
            .gql(credential, START, json!({ "input": input }))
            .await
    }

    /// The authorization URL of a new login with the publishable key.
    async fn start(&self, credential: Option<&str>) -> String {
        let response = self
            .start_with(
                credential.or(Some(&self.keys.publishable_key)),
                json!({ "provider": "acme", "redirectUrl": PAGE, "state": "page-42" }),
            )
            .await;
        response["data"]["startOAuthLogin"]["authorizationUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no authorization URL: {response}"))
            .to_owned()
    }

    /// A GET as the browser: the `302`'s `Location`.
    async fn redirected(&self, url: &str) -> Url {
        let response = self.browser.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "GET {url}");
        let location = response.headers()[reqwest::header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        Url::parse(&location).unwrap()
    }

    /// From the provider's page back to Orbit's callback, then to the app's page.
    async fn through_provider(&self, authorization_url: &str) -> Url {
        let callback = self.redirected(authorization_url).await;
        assert!(
            callback
                .as_str()
                .starts_with(&format!("{}/oauth/callback?", self.app.address)),
            "{callback}"
        );
        self.redirected(callback.as_str()).await
    }

    /// A whole login as `account`, up to the app's page.
    async fn login_as(&self, account: &Account) -> Url {
        self.idp.consent_as(account.clone());
        let url = self.start(None).await;
        self.through_provider(&url).await
    }

    async fn complete(&self, code: &str) -> Value {
        self.app
            .gql(
                Some(&self.keys.publishable_key),
                COMPLETE,
                json!({ "input": { "code": code } }),
            )
            .await
    }

    /// Logs in as `account` and exchanges the code: `completeOAuthLogin`'s data.
    async fn sign_in(&self, account: &Account) -> Value {
        let page = self.login_as(account).await;
        let code = param(&page, "code").unwrap_or_else(|| panic!("no code: {page}"));
        let response = self.complete(&code).await;
        assert!(response["errors"].is_null(), "{response}");
        response["data"]["completeOAuthLogin"].clone()
    }

    async fn identities(&self) -> u64 {
        user_identity::Entity::find()
            .count(self.app.services.db().conn())
            .await
            .unwrap()
    }
}

/// The app's page got `error` (and the page's own state back), and no code.
#[track_caller]
fn assert_page_error(page: &Url, error: &str) {
    assert!(
        page.as_str()
            .starts_with("https://app.example/auth/done?from=login&"),
        "{page}"
    );
    assert_eq!(param(page, "error").as_deref(), Some(error), "{page}");
    assert!(param(page, "error_description").is_some(), "{page}");
    assert_eq!(param(page, "state").as_deref(), Some("page-42"), "{page}");
    assert_eq!(param(page, "code"), None, "{page}");
}

#[tokio::test]
async fn a_person_signs_up_through_the_provider_and_logs_in_again_as_the_same_user() {
    let w = world().await;
    let ada = Account::new(1001, &email("ada"));
    let page = w.login_as(&ada).await;
    assert!(
        page.as_str()
            .starts_with("https://app.example/auth/done?from=login&code=olc_"),
        "{page}"
    );
    assert_eq!(param(&page, "state").as_deref(), Some("page-42"));
    let code = param(&page, "code").unwrap();
    let first = w.complete(&code).await;
    let payload = &first["data"]["completeOAuthLogin"];
    assert_eq!(payload["user"]["email"], ada.email.as_str(), "{first}");
    assert_eq!(payload["user"]["displayName"], "Person 1001");
    let token = payload["accessToken"].as_str().unwrap();
    let me = w
        .app
        .gql_ok(Some(token), "{ me { id email } }", json!({}))
        .await;
    assert_eq!(me["me"]["id"], payload["user"]["id"]);

    let again = w.sign_in(&ada).await;
    assert_eq!(again["user"]["id"], payload["user"]["id"]);
    assert_eq!(w.identities().await, 1);
    // A CUSTOM provider authenticates with HTTP Basic unless told otherwise.
    assert_eq!(
        w.idp.token_requests(),
        vec![ClientAuthSeen::Basic, ClientAuthSeen::Basic]
    );
}

#[tokio::test]
async fn the_authorization_request_uses_pkce_s256_and_the_exact_callback() {
    let w = world().await;
    let url = Url::parse(&w.start(None).await).unwrap();
    assert!(url.as_str().starts_with(&w.idp.url("/authorize?")));
    assert_eq!(param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&url, "client_id"), Some(w.idp.client_id.clone()));
    assert_eq!(
        param(&url, "redirect_uri"),
        Some(format!("{}/oauth/callback", w.app.address))
    );
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&url, "code_challenge").map(|c| c.len()), Some(43));
    assert_eq!(param(&url, "scope").as_deref(), Some("openid email"));
    // Orbit's own state, not the page's: the page's comes back on the redirect.
    let state = param(&url, "state").unwrap();
    assert!(state.starts_with("ost_") && state != "page-42", "{state}");
}

#[tokio::test]
async fn the_configuration_is_shown_without_the_secret_which_is_stored_sealed() {
    let w = world().await;
    let read = w
        .app
        .gql_ok(
            Some(&w.keys.secret_key),
            "{ app { identityProviders { id slug clientId tokenUrl callbackUrl } loginProviders { slug displayName preset } } }",
            json!({}),
        )
        .await;
    let providers = read["app"]["identityProviders"].as_array().unwrap();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0]["id"], w.provider_id.as_str());
    assert_eq!(providers[0]["clientId"], w.idp.client_id.as_str());
    assert_eq!(
        providers[0]["callbackUrl"],
        format!("{}/oauth/callback", w.app.address).as_str()
    );
    assert!(!read.to_string().contains(&w.idp.client_secret));
    // No field of the type can return it.
    let fields = w
        .app
        .gql_ok(
            Some(&w.keys.secret_key),
            "{ __type(name: \"IdentityProvider\") { fields { name } } }",
            json!({}),
        )
        .await;
    let names = fields["__type"]["fields"].to_string().to_lowercase();
    assert!(
        names.contains("clientid") && !names.contains("secret"),
        "{names}"
    );

    // Front ends with the publishable key see what a button needs, no more.
    let public = w
        .app
        .gql_ok(
            Some(&w.keys.publishable_key),
            "{ app { loginProviders { slug displayName preset } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        public["app"]["loginProviders"],
        json!([{ "slug": "acme", "displayName": "Acme ID", "preset": "CUSTOM" }])
    );
    let hidden = w
        .app
        .gql(
            Some(&w.keys.publishable_key),
            "{ app { identityProviders { id } } }",
            json!({}),
        )
        .await;
    assert_error(&hidden, "UNAUTHENTICATED", None);

    let row = identity_provider::Entity::find()
        .one(w.app.services.db().conn())
        .await
        .unwrap()
        .unwrap();
    assert!(!row.client_secret_sealed.contains(&w.idp.client_secret));
    assert_ne!(row.client_secret_sealed, w.idp.client_secret);
    assert!(row.client_secret_sealed.len() > w.idp.client_secret.len());
}

#[tokio::test]
async fn a_callback_with_a_bad_or_missing_state_is_refused() {
    let w = world().await;
    for query in [
        "code=abc&state=ost_forged",
        "code=abc",
        "error=access_denied&state=nope",
    ] {
        let response = w
            .browser
            .get(format!("{}/oauth/callback?{query}", w.app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(response.headers().get(reqwest::header::LOCATION).is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{query}: {body}");
    }
}

#[tokio::test]
async fn a_state_works_once() {
    let w = world().await;
    w.idp.consent_as(Account::new(7, &email("once")));
    let callback = w.redirected(&w.start(None).await).await;
    let page = w.redirected(callback.as_str()).await;
    assert!(param(&page, "code").is_some());
    let replay = w.redirected(callback.as_str()).await;
    assert_page_error(&replay, "invalid_request");
    assert!(
        param(&replay, "error_description")
            .unwrap()
            .contains("already finished")
    );
}

#[tokio::test]
async fn a_reused_provider_code_is_refused_by_the_provider_and_reported() {
    let w = world().await;
    w.idp.consent_as(Account::new(8, &email("reuse")));
    let first = w.redirected(&w.start(None).await).await;
    let provider_code = param(&first, "code").unwrap();
    assert!(param(&w.redirected(first.as_str()).await, "code").is_some());
    // A second login's state with the first login's (spent) code.
    let second = w.redirected(&w.start(None).await).await;
    let forged = with_param(second.as_str(), "code", &provider_code);
    let page = w.redirected(&forged).await;
    assert_page_error(&page, "invalid_grant");
    assert!(
        param(&page, "error_description")
            .unwrap()
            .contains("invalid_grant")
    );
}

#[tokio::test]
async fn a_pkce_mismatch_is_refused_by_the_provider_and_reported() {
    let w = world().await;
    w.idp.consent_as(Account::new(9, &email("pkce")));
    let url = w.start(None).await;
    // Someone between Orbit and the provider swaps the challenge for their own.
    let tampered = with_param(
        &url,
        "code_challenge",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
    let page = w.through_provider(&tampered).await;
    assert_page_error(&page, "invalid_grant");
    assert_eq!(w.identities().await, 0);
}

#[tokio::test]
async fn a_redirect_url_off_the_allowed_origins_is_refused() {
    let w = world().await;
    for (redirect, why) in [
        ("https://evil.example/steal", "another origin"),
        ("http://app.example/auth/done", "another scheme"),
        ("https://app.example.evil.example/", "a look-alike host"),
    ] {
        let response = w
            .start_with(
                Some(&w.keys.publishable_key),
                json!({ "provider": "acme", "redirectUrl": redirect }),
            )
            .await;
        assert_error(&response, "BAD_USER_INPUT", Some("redirectUrl"));
        assert!(response["data"].is_null(), "{why}");
    }
}

#[tokio::test]
async fn orbit_sends_the_same_redirect_uri_to_the_token_endpoint() {
    let w = world().await;
    w.idp.consent_as(Account::new(10, &email("redirect")));
    // Reached under another host name, Orbit's callback is another URI:
    // the provider refuses to send the browser there.
    let port = w.app.address.rsplit(':').next().unwrap();
    let response = w
        .app
        .client
        .post(w.app.graphql_url())
        .header(reqwest::header::HOST, format!("localhost:{port}"))
        .bearer_auth(&w.keys.publishable_key)
        .json(&json!({ "query": START, "variables": { "input": { "provider": "acme", "redirectUrl": PAGE, "state": "page-42" } } }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let url = response["data"]["startOAuthLogin"]["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        param(&Url::parse(&url).unwrap(), "redirect_uri"),
        Some(format!("http://localhost:{port}/oauth/callback"))
    );
    let refused = w.browser.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(w.idp.refused_authorizations(), 1);
    // Swapping in the registered URI gets a code, but the token request
    // sends the URI Orbit authorized with, which the provider refuses.
    let registered = format!("{}/oauth/callback", w.app.address);
    let swapped = with_param(&url, "redirect_uri", &registered);
    let page = w.through_provider(&swapped).await;
    assert_page_error(&page, "invalid_grant");
}

#[tokio::test]
async fn a_denied_consent_goes_back_to_the_app_as_access_denied() {
    let w = world().await;
    w.idp.deny();
    let page = w.through_provider(&w.start(None).await).await;
    assert_page_error(&page, "access_denied");
    assert_eq!(w.identities().await, 0);
}

#[tokio::test]
async fn an_existing_email_is_not_linked_by_email_alone() {
    let w = world().await;
    let address = email("grace");
    let grace = w
        .app
        .sign_up(&w.keys.publishable_key, &address, "Grace")
        .await;
    let page = w.login_as(&Account::new(11, &address)).await;
    assert_page_error(&page, "account_exists");
    assert_eq!(w.identities().await, 0);
    // Her account is as it was: her password still signs her in.
    let again = w.app.log_in(&w.keys.publishable_key, &address).await;
    assert_eq!(again.user_id, grace.user_id);
}

#[tokio::test]
async fn a_signed_in_user_links_the_identity_and_then_logs_in_with_it() {
    let w = world().await;
    let address = email("linus");
    let linus = w
        .app
        .sign_up(&w.keys.publishable_key, &address, "Linus")
        .await;
    // The provider knows them under another address: linking does not care.
    let account = Account::new(12, &email("linus-elsewhere"));
    w.idp.consent_as(account.clone());
    let url = w.start(Some(&linus.access_token)).await;
    let page = w.through_provider(&url).await;
    assert_eq!(param(&page, "linked").as_deref(), Some("acme"), "{page}");
    assert_eq!(param(&page, "code"), None);
    assert_eq!(param(&page, "state").as_deref(), Some("page-42"));

    let signed_in = w.sign_in(&account).await;
    assert_eq!(signed_in["user"]["id"], linus.user_id.as_str());
    assert_eq!(signed_in["user"]["email"], address.as_str());
    let me = w
        .app
        .gql_ok(
            linus.token(),
            "{ me { identities { issuer provider email } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"]["identities"],
        json!([{ "issuer": w.idp.base, "provider": "acme", "email": account.email }])
    );

    // Someone else cannot link the same identity to themself.
    let other = w
        .app
        .sign_up(&w.keys.publishable_key, &email("other"), "Other")
        .await;
    w.idp.consent_as(account);
    let page = w
        .through_provider(&w.start(Some(&other.access_token)).await)
        .await;
    assert_page_error(&page, "identity_taken");
    assert_eq!(w.identities().await, 1);
    // Only the user and the secret key see them.
    let seen = |credential: String| {
        let app = &w.app;
        let id = linus.user_id.clone();
        async move {
            app.gql_ok(
                Some(&credential),
                "query($id: ID!) { user(id: $id) { id identities { provider } } }",
                json!({ "id": id }),
            )
            .await
        }
    };
    let by_secret = seen(w.keys.secret_key.clone()).await;
    assert_eq!(
        by_secret["user"]["identities"],
        json!([{ "provider": "acme" }])
    );
    let team = w.app.create_team(&linus.access_token, "Shared").await;
    w.app
        .add_to_team(&linus.access_token, &team, &other, "MEMBER")
        .await;
    let by_teammate = seen(other.access_token.clone()).await;
    assert_eq!(by_teammate["user"]["id"], linus.user_id.as_str());
    assert!(by_teammate["user"]["identities"].is_null());
}

#[tokio::test]
async fn a_login_must_come_back_within_ten_minutes() {
    let w = world().await;
    w.idp.consent_as(Account::new(13, &email("slow")));
    let url = w.start(None).await;
    w.app
        .clock
        .advance(Duration::minutes(10) + Duration::seconds(1));
    let page = w.through_provider(&url).await;
    assert_page_error(&page, "invalid_request");
    assert!(
        param(&page, "error_description")
            .unwrap()
            .contains("10 minutes")
    );
    assert_eq!(w.identities().await, 0);
}

#[tokio::test]
async fn the_one_time_code_works_once_and_briefly() {
    let w = world().await;
    let page = w.login_as(&Account::new(14, &email("code"))).await;
    let code = param(&page, "code").unwrap();
    assert!(w.complete(&code).await["errors"].is_null());
    assert_error(&w.complete(&code).await, "UNAUTHENTICATED", Some("code"));

    let page = w.login_as(&Account::new(14, &email("code"))).await;
    let late = param(&page, "code").unwrap();
    w.app
        .clock
        .advance(Duration::minutes(2) + Duration::seconds(1));
    assert_error(&w.complete(&late).await, "UNAUTHENTICATED", Some("code"));
    assert_error(
        &w.complete("olc_made-up").await,
        "UNAUTHENTICATED",
        Some("code"),
    );
}

#[tokio::test]
async fn another_apps_key_reaches_neither_the_provider_nor_the_code() {
    let w = world().await;
    let other = w.app.create_app("Other").await;
    allow_origin(&w.app, &other.secret_key).await;
    let start = w
        .start_with(
            Some(&other.publishable_key),
            json!({ "provider": "acme", "redirectUrl": PAGE }),
        )
        .await;
    assert_error(&start, "NOT_FOUND", Some("provider"));

    let page = w.login_as(&Account::new(15, &email("cross"))).await;
    let code = param(&page, "code").unwrap();
    let stolen = w
        .app
        .gql(
            Some(&other.publishable_key),
            COMPLETE,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_error(&stolen, "UNAUTHENTICATED", Some("code"));
    // It was not spent by the refusal.
    assert!(w.complete(&code).await["errors"].is_null());

    for (query, input, root) in [
        (
            UPDATE_PROVIDER,
            json!({ "id": w.provider_id, "clientId": "hijack" }),
            "updateIdentityProvider",
        ),
        (
            DELETE_PROVIDER,
            json!({ "id": w.provider_id }),
            "deleteIdentityProvider",
        ),
    ] {
        let response = w
            .app
            .gql(Some(&other.secret_key), query, json!({ "input": input }))
            .await;
        assert_error(&response, "NOT_FOUND", Some("id"));
        assert!(response["data"].is_null() || response["data"][root].is_null());
        // Naming the first app is NOT_FOUND too.
        let mut input = input.clone();
        input["appId"] = json!(w.keys.app_id);
        let response = w
            .app
            .gql(Some(&other.secret_key), query, json!({ "input": input }))
            .await;
        assert_error(&response, "NOT_FOUND", Some("appId"));
    }
    let own = w
        .app
        .gql_ok(
            Some(&other.secret_key),
            "{ app { identityProviders { id } loginProviders { slug } } }",
            json!({}),
        )
        .await;
    assert_eq!(own["app"]["identityProviders"], json!([]));
    assert_eq!(own["app"]["loginProviders"], json!([]));
}

#[tokio::test]
async fn presets_fill_googles_and_githubs_endpoints() {
    let w = world().await;
    let create = |slug: &str, preset: &str| json!({ "input": { "slug": slug, "preset": preset, "clientId": "cid", "clientSecret": "cs" } });
    let google = w
        .app
        .gql_ok(
            Some(&w.keys.secret_key),
            CREATE_PROVIDER,
            create("google", "GOOGLE"),
        )
        .await;
    let google = &google["createIdentityProvider"]["identityProvider"];
    assert_eq!(google["displayName"], "Google");
    assert_eq!(google["preset"], "GOOGLE");
    assert_eq!(
        google["authorizationUrl"],
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(google["tokenUrl"], "https://oauth2.googleapis.com/token");
    assert_eq!(
        google["userinfoUrl"],
        "https://openidconnect.googleapis.com/v1/userinfo"
    );
    assert!(google["emailsUrl"].is_null());
    assert_eq!(google["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(google["issuer"], "https://accounts.google.com");
    assert_eq!(google["subjectClaim"], "sub");
    assert_eq!(google["emailVerifiedClaim"], "email_verified");
    assert_eq!(google["clientAuth"], "BASIC");
    assert_eq!(google["allowSignUp"], true);

    let github = w
        .app
        .gql_ok(
            Some(&w.keys.secret_key),
            CREATE_PROVIDER,
            create("github", "GITHUB"),
        )
        .await;
    let github = &github["createIdentityProvider"]["identityProvider"];
    assert_eq!(github["displayName"], "GitHub");
    assert_eq!(
        github["authorizationUrl"],
        "https://github.com/login/oauth/authorize"
    );
    assert_eq!(
        github["tokenUrl"],
        "https://github.com/login/oauth/access_token"
    );
    assert_eq!(github["userinfoUrl"], "https://api.github.com/user");
    assert_eq!(github["emailsUrl"], "https://api.github.com/user/emails");
    assert_eq!(github["scopes"], json!(["read:user", "user:email"]));
    assert_eq!(github["issuer"], "https://github.com");
    assert_eq!(github["subjectClaim"], "id");
    assert!(github["emailVerifiedClaim"].is_null());
    assert_eq!(github["clientAuth"], "POST");

    // The Google authorization URL carries what Google needs.
    let url = w
        .start_with(
            Some(&w.keys.publishable_key),
            json!({ "provider": "google", "redirectUrl": PAGE }),
        )
        .await;
    let url = Url::parse(
        url["data"]["startOAuthLogin"]["authorizationUrl"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(url.host_str(), Some("accounts.google.com"));
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("openid email profile")
    );
    assert_eq!(param(&url, "client_id").as_deref(), Some("cid"));
}

#[tokio::test]
async fn a_github_style_provider_signs_in_by_numeric_id_and_verified_primary_email() {
    let w = world().await;
    // GitHub Enterprise-style: the GITHUB preset with its own host.
    let created = w
        .app
        .gql_ok(
            Some(&w.keys.secret_key),
            CREATE_PROVIDER,
            json!({ "input": {
                "slug": "ghe", "preset": "GITHUB",
                "clientId": w.idp.client_id, "clientSecret": w.idp.client_secret,
                "authorizationUrl": w.idp.url("/authorize"), "tokenUrl": w.idp.url("/token"),
                "userinfoUrl": w.idp.url("/user"), "emailsUrl": w.idp.url("/user/emails"),
                "issuer": w.idp.base,
            } }),
        )
        .await;
    assert_eq!(
        created["createIdentityProvider"]["identityProvider"]["clientAuth"],
        "POST"
    );
    let account = Account::new(583_231, &email("octo"));
    w.idp.consent_as(account.clone());
    let url = w
        .start_with(
            Some(&w.keys.publishable_key),
            json!({ "provider": "ghe", "redirectUrl": PAGE }),
        )
        .await;
    let url = url["data"]["startOAuthLogin"]["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = w.through_provider(&url).await;
    let signed_in = w.complete(&param(&page, "code").unwrap()).await;
    let user = &signed_in["data"]["completeOAuthLogin"]["user"];
    assert_eq!(user["email"], account.email.as_str(), "{signed_in}");
    assert_eq!(w.idp.token_requests(), vec![ClientAuthSeen::Post]);
    let identity = user_identity::Entity::find()
        .one(w.app.services.db().conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.subject, "583231");
    assert_eq!(identity.issuer, w.idp.base);

    // An unverified primary address makes no account.
    let mut unverified = Account::new(583_232, &email("unverified"));
    unverified.email_verified = false;
    w.idp.consent_as(unverified);
    let url = w
        .start_with(
            Some(&w.keys.publishable_key),
            json!({ "provider": "ghe", "redirectUrl": PAGE, "state": "page-42" }),
        )
        .await;
    let page = w
        .through_provider(
            url["data"]["startOAuthLogin"]["authorizationUrl"]
                .as_str()
                .unwrap(),
        )
        .await;
    assert_page_error(&page, "email_unverified");
}

#[tokio::test]
async fn sign_up_can_be_closed_and_disabled_users_are_refused() {
    let w = world().await;
    let known = Account::new(16, &email("known"));
    let signed_in = w.sign_in(&known).await;
    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            UPDATE_PROVIDER,
            json!({ "input": { "id": w.provider_id, "allowSignUp": false } }),
        )
        .await;
    let page = w.login_as(&Account::new(17, &email("newcomer"))).await;
    assert_page_error(&page, "signup_disabled");
    // Those who have an account still sign in.
    assert_eq!(
        w.sign_in(&known).await["user"]["id"],
        signed_in["user"]["id"]
    );

    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            "mutation($input: SetUserDisabledInput!) { disableUser(input: $input) { user { id } } }",
            json!({ "input": { "id": signed_in["user"]["id"] } }),
        )
        .await;
    let page = w.login_as(&known).await;
    assert_page_error(&page, "account_disabled");
}

#[tokio::test]
async fn rotating_the_client_secret_takes_effect_at_the_next_exchange() {
    let w = world().await;
    let rotate = |secret: &str| json!({ "input": { "id": w.provider_id, "clientSecret": secret } });
    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            UPDATE_PROVIDER,
            rotate("wrong-secret"),
        )
        .await;
    let page = w.login_as(&Account::new(18, &email("rotate"))).await;
    assert_page_error(&page, "invalid_client");
    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            UPDATE_PROVIDER,
            rotate(&w.idp.client_secret),
        )
        .await;
    let page = w.login_as(&Account::new(18, &email("rotate"))).await;
    assert!(param(&page, "code").is_some(), "{page}");
}

#[tokio::test]
async fn provider_input_is_checked() {
    let w = world().await;
    let sk = Some(w.keys.secret_key.as_str());
    let create = |change: Value| {
        let mut input = custom_provider(&w.idp, "other");
        for (key, value) in change.as_object().unwrap() {
            input[key] = value.clone();
        }
        json!({ "input": input })
    };
    let cases = [
        (json!({ "slug": "Acme Corp" }), "BAD_USER_INPUT", "slug"),
        (json!({ "slug": "acme" }), "CONFLICT", "slug"),
        (
            json!({ "tokenUrl": "http://idp.example/token" }),
            "BAD_USER_INPUT",
            "tokenUrl",
        ),
        (
            json!({ "authorizationUrl": "ftp://idp.example/" }),
            "BAD_USER_INPUT",
            "authorizationUrl",
        ),
        (
            json!({ "authorizationUrl": null }),
            "BAD_USER_INPUT",
            "authorizationUrl",
        ),
        (
            json!({ "scopes": ["two words"] }),
            "BAD_USER_INPUT",
            "scopes",
        ),
        (
            json!({ "clientSecret": "" }),
            "BAD_USER_INPUT",
            "clientSecret",
        ),
        (json!({ "clientId": "" }), "BAD_USER_INPUT", "clientId"),
    ];
    for (change, code, field) in cases {
        let response = w.app.gql(sk, CREATE_PROVIDER, create(change.clone())).await;
        assert_error(&response, code, Some(field));
        assert!(response["data"].is_null(), "{change}");
    }
    let missing = w
        .app
        .gql(
            sk,
            UPDATE_PROVIDER,
            json!({ "input": { "id": orbit_tests::missing_id("idp"), "clientId": "x" } }),
        )
        .await;
    assert_error(&missing, "NOT_FOUND", Some("id"));
    let wrong_kind = w
        .app
        .gql(
            sk,
            DELETE_PROVIDER,
            json!({ "input": { "id": orbit_tests::missing_id("usr") } }),
        )
        .await;
    assert_error(&wrong_kind, "BAD_USER_INPUT", Some("id"));
    let unknown = w
        .start_with(
            Some(&w.keys.publishable_key),
            json!({ "provider": "nope", "redirectUrl": PAGE }),
        )
        .await;
    assert_error(&unknown, "NOT_FOUND", Some("provider"));
    let long_state = w
        .start_with(
            Some(&w.keys.publishable_key),
            json!({ "provider": "acme", "redirectUrl": PAGE, "state": "x".repeat(513) }),
        )
        .await;
    assert_error(&long_state, "BAD_USER_INPUT", Some("state"));
}

#[tokio::test]
async fn a_deleted_provider_keeps_its_identities() {
    let w = world().await;
    let account = Account::new(19, &email("keep"));
    let first = w.sign_in(&account).await;
    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            DELETE_PROVIDER,
            json!({ "input": { "id": w.provider_id } }),
        )
        .await;
    let gone = w
        .start_with(
            Some(&w.keys.publishable_key),
            json!({ "provider": "acme", "redirectUrl": PAGE }),
        )
        .await;
    assert_error(&gone, "NOT_FOUND", Some("provider"));
    assert_eq!(w.identities().await, 1);
    // Added again (same issuer), it finds the same user.
    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            CREATE_PROVIDER,
            json!({ "input": custom_provider(&w.idp, "acme") }),
        )
        .await;
    assert_eq!(w.sign_in(&account).await["user"]["id"], first["user"]["id"]);
}

#[tokio::test]
async fn a_plain_link_starts_a_login_too() {
    let w = world().await;
    let account = Account::new(20, &email("link"));
    w.idp.consent_as(account.clone());
    let start = format!(
        "{}/oauth/authorize/acme?client_id={}&redirect_url={}&state=page-42",
        w.app.address,
        w.keys.publishable_key,
        url::form_urlencoded::byte_serialize(PAGE.as_bytes()).collect::<String>()
    );
    let authorization = w.redirected(&start).await;
    assert!(
        authorization
            .as_str()
            .starts_with(&w.idp.url("/authorize?"))
    );
    let page = w.through_provider(authorization.as_str()).await;
    assert_eq!(param(&page, "state").as_deref(), Some("page-42"));
    let done = w.complete(&param(&page, "code").unwrap()).await;
    assert_eq!(
        done["data"]["completeOAuthLogin"]["user"]["email"],
        account.email.as_str()
    );

    for (query, error) in [
        (
            format!("client_id=pk_live_nope&redirect_url={ORIGIN}/"),
            "invalid_client",
        ),
        (
            format!(
                "client_id={}&redirect_url=https://evil.example/",
                w.keys.publishable_key
            ),
            "invalid_request",
        ),
        (
            format!("client_id={}", w.keys.publishable_key),
            "invalid_request",
        ),
    ] {
        let response = w
            .browser
            .get(format!("{}/oauth/authorize/acme?{query}", w.app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{query}: {body}");
    }
}

#[tokio::test]
async fn starting_logins_is_limited_per_address() {
    let w = world().await;
    let input = json!({ "provider": "acme", "redirectUrl": PAGE });
    for _ in 0..60 {
        let response = w
            .start_with(Some(&w.keys.publishable_key), input.clone())
            .await;
        assert!(response["errors"].is_null(), "{response}");
    }
    let limited = w
        .start_with(Some(&w.keys.publishable_key), input.clone())
        .await;
    assert_eq!(error_code(&limited).as_deref(), Some("RATE_LIMITED"));
    assert!(limited["errors"][0]["extensions"]["details"]["retryAfter"].is_number());
}

#[tokio::test]
async fn failed_completions_are_limited_per_address() {
    let w = world().await;
    for _ in 0..100 {
        assert_error(
            &w.complete("olc_wrong").await,
            "UNAUTHENTICATED",
            Some("code"),
        );
    }
    assert_error(&w.complete("olc_wrong").await, "RATE_LIMITED", None);
    // The callback counts against the same limit.
    let response = w
        .browser
        .get(format!(
            "{}/oauth/callback?code=x&state=ost_x",
            w.app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A signed-in user's access token that is not a developer cannot configure.
#[tokio::test]
async fn app_users_and_keys_without_rights_cannot_configure_providers() {
    let w = world().await;
    let user = w
        .app
        .sign_up(&w.keys.publishable_key, &email("plain"), "Plain")
        .await;
    let input = json!({ "input": custom_provider(&w.idp, "mine") });
    assert_error(
        &w.app
            .gql(user.token(), CREATE_PROVIDER, input.clone())
            .await,
        "FORBIDDEN",
        None,
    );
    assert_error(
        &w.app
            .gql(
                Some(&w.keys.publishable_key),
                CREATE_PROVIDER,
                input.clone(),
            )
            .await,
        "UNAUTHENTICATED",
        None,
    );
    let count = identity_provider::Entity::find()
        .filter(identity_provider::Column::Slug.eq("mine"))
        .count(w.app.services.db().conn())
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_pkce_verifier_is_sealed_to_its_login() {
    let w = world().await;
    w.idp.consent_as(Account::new(21, &email("sealed")));
    let first = w.start(None).await;
    let _second = w.start(None).await;
    let conn = w.app.services.db().conn();
    // Logins are found by the SHA-256 (hex) of Orbit's state.
    let state = param(&Url::parse(&first).unwrap(), "state").unwrap();
    let state_hash: String = sha2::Sha256::digest(state.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let rows = oauth_login::Entity::find().all(conn).await.unwrap();
    assert_eq!(rows.len(), 2);
    let (mine, other): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|row| row.state_hash == state_hash);
    // The other login's sealed verifier, moved to this one, does not open:
    // the login fails, and the page hears only that.
    let mut moved: oauth_login::ActiveModel = mine[0].clone().into();
    moved.pkce_verifier_sealed = sea_orm::ActiveValue::Set(other[0].pkce_verifier_sealed.clone());
    moved.update(conn).await.unwrap();
    let page = w.through_provider(&first).await;
    assert_page_error(&page, "server_error");
    assert_eq!(
        param(&page, "error_description").as_deref(),
        Some("internal error")
    );
    assert_eq!(w.identities().await, 0);
}

#[tokio::test]
async fn the_apps_oauth_login_switch_refuses_new_logins_and_those_under_way() {
    let w = world().await;
    w.idp.consent_as(Account::new(31, &email("late")));
    let under_way = w.start(None).await;
    w.app
        .gql_ok(
            Some(&w.keys.secret_key),
            "mutation($input: UpdateAppSettingsInput!) { updateAppSettings(input: $input) { settings { oauthLogin } } }",
            json!({ "input": { "oauthLogin": false } }),
        )
        .await;
    let refused = w
        .start_with(
            Some(&w.keys.publishable_key),
            json!({ "provider": "acme", "redirectUrl": PAGE }),
        )
        .await;
    assert_error(&refused, "FORBIDDEN", Some("oauthLogin"));
    // The plain link is refused the same way, before any redirect.
    let link = format!(
        "{}/oauth/authorize/acme?client_id={}&redirect_url={}",
        w.app.address,
        w.keys.publishable_key,
        url::form_urlencoded::byte_serialize(PAGE.as_bytes()).collect::<String>()
    );
    let answer = w.browser.get(&link).send().await.unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    assert!(answer.headers().get("location").is_none());
    // A login started before the switch comes back refused.
    let page = w.through_provider(&under_way).await;
    assert_page_error(&page, "access_denied");
}
