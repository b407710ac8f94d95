//! Forged and misused access tokens are refused with UNAUTHENTICATED. Each
//! forgery starts from a real token, so a refusal means the check works,
//! not that the token was malformed; a control re-signs it unchanged and
//! must be accepted. Tokens are signed with per-app keys derived from the
//! server secret (`<app>.v<version>` in `kid`), which tests derive too.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use orbit_auth::{AccessTokenKeys, KeyId};
use orbit_domain::Clock;
use orbit_tests::{ME, Session, TestApp, email, jwt_parts, jwt_segment, spawn_app};
use serde_json::{Value, json};

struct Fixture {
    app: TestApp,
    session: Session,
    header: Value,
    claims: Value,
    /// The key the real token was signed with: the app's, version 1.
    secret: Vec<u8>,
    /// The server secret every app key is derived from.
    server_secret: String,
}

const ROTATE: &str = "mutation($input: RotateSigningKeyInput!) { rotateSigningKey(input: $input) { signingKey { kid } retiredKey { kid } } }";

/// The key `kid` names, as the server derives it.
fn app_key(server_secret: &str, kid: &str) -> Vec<u8> {
    let kid = KeyId::parse(kid).expect("a kid of the form <app>.v<version>");
    AccessTokenKeys::new(server_secret.as_bytes().to_vec())
        .unwrap()
        .signing_secret(&kid)
}

async fn fixture() -> Fixture {
    with_owner().await.0
}

/// Signs `claims` with `alg` and `secret`, keeping the header's kid.
fn sign(header: &Value, claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    let mut forged = Header::new(alg);
    forged.kid = header["kid"].as_str().map(str::to_owned);
    encode(&forged, claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let response = app.gql(Some(token), ME, json!({})).await;
    assert_eq!(
        orbit_tests::error_code(&response).as_deref(),
        Some("UNAUTHENTICATED"),
        "{what}: expected UNAUTHENTICATED, got {response}"
    );
    assert!(
        response["data"].is_null() || response["data"]["me"].is_null(),
        "{what}: data leaked: {response}"
    );
}

#[tokio::test]
async fn the_real_token_has_the_documented_claims() {
    let f = fixture().await;
    assert_eq!(f.header["alg"], "HS256");
    // The kid names the token's app and the version of its key.
    assert_eq!(
        f.header["kid"],
        format!("{}.v1", f.claims["aud"].as_str().unwrap()),
        "{}",
        f.header
    );
    assert_eq!(f.claims["typ"], "access");
    assert_eq!(f.claims["sub"], f.session.user_id.as_str());
    assert!(f.claims["aud"].as_str().unwrap().starts_with("app_"));
    assert!(f.claims["iss"].is_string());
    assert!(f.claims["sid"].is_string());
    let iat = f.claims["iat"].as_i64().unwrap();
    let exp = f.claims["exp"].as_i64().unwrap();
    assert_eq!(iat, orbit_tests::start_time().timestamp());
    assert_eq!(exp - iat, 900);
}

#[tokio::test]
async fn re_signing_the_same_claims_with_the_real_key_is_accepted() {
    // The control: the forging below is faithful, so refusals are meaningful.
    let f = fixture().await;
    let token = sign(&f.header, &f.claims, Algorithm::HS256, &f.secret);
    let data = f.app.gql_ok(Some(&token), ME, json!({})).await;
    assert_eq!(data["me"]["id"], f.session.user_id.as_str());
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = fixture().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": f.header["kid"] });
        let unsigned = format!("{}.{}.", jwt_segment(&header), jwt_segment(&f.claims));
        assert_refused(&f.app, &unsigned, &format!("alg {alg}")).await;
        // Same, with the real signature kept.
        let real_signature = f.session.access_token.rsplit('.').next().unwrap();
        let with_signature = format!("{unsigned}{real_signature}");
        assert_refused(&f.app, &with_signature, &format!("alg {alg} + signature")).await;
    }
}

#[tokio::test]
async fn another_algorithm_with_the_same_secret_is_refused() {
    let f = fixture().await;
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign(&f.header, &f.claims, alg, &f.secret);
        assert_refused(&f.app, &token, &format!("{alg:?}")).await;
        // Nor with the server secret the keys derive from.
        let token = sign(&f.header, &f.claims, alg, f.server_secret.as_bytes());
        assert_refused(&f.app, &token, &format!("{alg:?}, server secret")).await;
    }
}

#[tokio::test]
async fn another_secret_is_refused() {
    let f = fixture().await;
    let token = sign(
        &f.header,
        &f.claims,
        Algorithm::HS256,
        b"some-other-secret-that-is-also-32-bytes-long",
    );
    assert_refused(&f.app, &token, "wrong secret").await;
    // The server secret signs nothing itself: only the keys derived from it do.
    let token = sign(
        &f.header,
        &f.claims,
        Algorithm::HS256,
        f.server_secret.as_bytes(),
    );
    assert_refused(&f.app, &token, "the server secret").await;
    // Another server's key for the same app and version.
    let elsewhere = AccessTokenKeys::new(b"another-server-secret-of-32-bytes-or-more".to_vec())
        .unwrap()
        .signing_secret(&KeyId::parse(f.header["kid"].as_str().unwrap()).unwrap());
    let token = sign(&f.header, &f.claims, Algorithm::HS256, &elsewhere);
    assert_refused(&f.app, &token, "another server's key").await;
}

#[tokio::test]
async fn another_apps_key_is_refused() {
    let f = fixture().await;
    let other = f.app.create_app("Other").await;
    // A real user of B gives B's key a version to check with.
    f.app
        .sign_up(&other.publishable_key, &email("b"), "Bea")
        .await;
    let b_kid = format!("{}.v1", other.app_id);
    let b_key = app_key(&f.server_secret, &b_kid);
    // A's claims signed with B's key under B's kid: the audience is not the key's app.
    let b_header = json!({ "alg": "HS256", "kid": b_kid });
    let token = sign(&b_header, &f.claims, Algorithm::HS256, &b_key);
    assert_refused(&f.app, &token, "A's token under B's kid and key").await;
    // A's claims signed with B's key under A's kid: the signature is wrong.
    let token = sign(&f.header, &f.claims, Algorithm::HS256, &b_key);
    assert_refused(&f.app, &token, "A's kid, B's key").await;
    // B's key minting a token for A's user and session, claiming to be B's:
    // the session is not B's.
    let mut claims = f.claims.clone();
    claims["aud"] = json!(other.app_id);
    let token = sign(&b_header, &claims, Algorithm::HS256, &b_key);
    assert_refused(&f.app, &token, "B's key, A's user and session").await;
}

#[tokio::test]
async fn a_token_moved_to_another_app_is_refused() {
    let f = fixture().await;
    let other = f.app.create_app("Other").await;
    let mut claims = f.claims.clone();
    claims["aud"] = json!(other.app_id);
    let token = sign(&f.header, &claims, Algorithm::HS256, &f.secret);
    assert_refused(&f.app, &token, "aud changed to another app").await;

    // Even a real user of app B cannot be impersonated with A's session id.
    let b_user = f
        .app
        .sign_up(&other.publishable_key, &email("b"), "Bea")
        .await;
    claims["sub"] = json!(b_user.user_id);
    let token = sign(&f.header, &claims, Algorithm::HS256, &f.secret);
    assert_refused(&f.app, &token, "aud and sub changed to app B's user").await;
}

#[tokio::test]
async fn tampered_claims_are_refused() {
    let f = fixture().await;
    let cases: Vec<(&str, Value)> = vec![
        ("iss", json!("https://evil.example")),
        ("typ", json!("refresh")),
        ("sid", json!("ses_00000000000000000000000000")),
        ("aud", json!("not-an-app")),
    ];
    for (claim, value) in cases {
        let mut claims = f.claims.clone();
        claims[claim] = value;
        let token = sign(&f.header, &claims, Algorithm::HS256, &f.secret);
        assert_refused(&f.app, &token, &format!("{claim} changed")).await;
    }
    let mut claims = f.claims.clone();
    claims.as_object_mut().unwrap().remove("exp");
    let token = sign(&f.header, &claims, Algorithm::HS256, &f.secret);
    assert_refused(&f.app, &token, "no exp").await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let f = fixture().await;
    let app_id = f.claims["aud"].as_str().unwrap();
    let missing_app = orbit_tests::missing_id("app");
    for kid in [
        "k-unknown".to_owned(),
        // A version not made yet, signed with the key it would have.
        format!("{app_id}.v2"),
        // An app that does not exist.
        format!("{missing_app}.v1"),
    ] {
        let mut header = f.header.clone();
        header["kid"] = json!(kid);
        let secret = KeyId::parse(&kid)
            .map(|_| app_key(&f.server_secret, &kid))
            .unwrap_or_else(|| f.secret.clone());
        let token = sign(&header, &f.claims, Algorithm::HS256, &secret);
        assert_refused(&f.app, &token, &format!("kid {kid}")).await;
    }
    let mut header = f.header.clone();
    header.as_object_mut().unwrap().remove("kid");
    let token = sign(&header, &f.claims, Algorithm::HS256, &f.secret);
    assert_refused(&f.app, &token, "no kid").await;
}

/// The app's owner (a developer) rotates its signing key.
async fn rotate(f: &Fixture, developer: &str) -> Value {
    let app_id = f.claims["aud"].as_str().unwrap();
    f.app
        .gql_ok(
            Some(developer),
            ROTATE,
            json!({ "input": { "appId": app_id } }),
        )
        .await["rotateSigningKey"]
        .clone()
}

/// A user's real token, and the access token of the app's owner (a
/// developer, signed in to the console).
async fn with_owner() -> (Fixture, String) {
    let app = spawn_app().await;
    let owner = email("owner");
    let keys = app
        .create_app_with_owner("Jwt", &owner, orbit_tests::PASSWORD)
        .await;
    let developer = app.log_in_with(None, &owner).await.access_token;
    let session = app
        .sign_up(&keys.publishable_key, &email("jwt"), "Jay")
        .await;
    let (header, claims) = jwt_parts(&session.access_token);
    let server_secret = app
        .settings
        .jwt_secret
        .as_ref()
        .unwrap()
        .expose()
        .to_owned();
    let secret = app_key(&server_secret, header["kid"].as_str().unwrap());
    let fixture = Fixture {
        app,
        session,
        header,
        claims,
        secret,
        server_secret,
    };
    (fixture, developer)
}

#[tokio::test]
async fn a_retired_key_checks_what_it_signed_until_expiry_and_nothing_newer() {
    let (f, developer) = with_owner().await;
    let app_id = f.claims["aud"].as_str().unwrap().to_owned();
    f.app.clock.advance(chrono::Duration::minutes(5));
    let rotated = rotate(&f, &developer).await;
    assert_eq!(rotated["retiredKey"]["kid"], format!("{app_id}.v1"));
    assert_eq!(rotated["signingKey"]["kid"], format!("{app_id}.v2"));
    // Signed before the rotation: still good.
    let data = f.app.gql_ok(f.session.token(), ME, json!({})).await;
    assert_eq!(data["me"]["id"], f.session.user_id.as_str());
    // The retired key claiming a token issued after it retired: refused.
    let mut claims = f.claims.clone();
    let now = f.app.clock.now().timestamp();
    claims["iat"] = json!(now + 1);
    claims["exp"] = json!(now + 900);
    let token = sign(&f.header, &claims, Algorithm::HS256, &f.secret);
    assert_refused(&f.app, &token, "retired key, issued after retiring").await;
    // Its own expiry ends it, 15 minutes after it was issued.
    f.app.clock.advance(chrono::Duration::minutes(10));
    assert_refused(
        &f.app,
        &f.session.access_token,
        "expired under a retired key",
    )
    .await;
}

#[tokio::test]
async fn a_key_retired_twice_checks_nothing() {
    let (f, developer) = with_owner().await;
    // Verified (and remembered) while its key was current.
    let data = f.app.gql_ok(f.session.token(), ME, json!({})).await;
    assert_eq!(data["me"]["id"], f.session.user_id.as_str());
    rotate(&f, &developer).await;
    rotate(&f, &developer).await;
    // Version 1 is no longer the version the current one replaced.
    assert_refused(
        &f.app,
        &f.session.access_token,
        "signed by a key retired twice",
    )
    .await;
    // Re-signing with version 1's real key does not bring it back.
    let token = sign(&f.header, &f.claims, Algorithm::HS256, &f.secret);
    assert_refused(&f.app, &token, "re-signed with the twice-retired key").await;
}

#[tokio::test]
async fn claims_changed_without_re_signing_are_refused() {
    let f = fixture().await;
    let mut claims = f.claims.clone();
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 365 * 24 * 3600);
    let parts: Vec<&str> = f.session.access_token.split('.').collect();
    let token = format!("{}.{}.{}", parts[0], jwt_segment(&claims), parts[2]);
    assert_refused(&f.app, &token, "exp extended, old signature").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let f = fixture().await;
    // Accepted once first, so the server has it remembered as verified:
    // that memory must not outlive the token's `exp`.
    let data = f.app.gql_ok(f.session.token(), ME, json!({})).await;
    assert_eq!(data["me"]["id"], f.session.user_id.as_str());
    f.app.clock.advance(chrono::Duration::minutes(16));
    assert_refused(&f.app, &f.session.access_token, "expired").await;

    // Pushing exp forward needs the key: a self-extended token is still refused.
    let mut claims = f.claims.clone();
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 3600);
    let parts: Vec<&str> = f.session.access_token.split('.').collect();
    let token = format!("{}.{}.{}", parts[0], jwt_segment(&claims), parts[2]);
    assert_refused(&f.app, &token, "expired, exp edited").await;
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let f = fixture().await;
    assert_refused(&f.app, &f.session.refresh_token, "refresh token as bearer").await;
}

#[tokio::test]
async fn garbage_credentials_are_refused_not_treated_as_anonymous() {
    let f = fixture().await;
    for garbage in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "sk_live_",
        "pk_live_notarealkey",
        "sk_live_0000000000000000000000000000000000000000",
    ] {
        assert_refused(&f.app, garbage, garbage).await;
    }
    // A real key with one character changed.
    let keys = f.app.create_app("Keys").await;
    let mut broken = keys.secret_key.clone();
    let last = broken.pop().unwrap();
    broken.push(if last == 'a' { 'b' } else { 'a' });
    assert_refused(&f.app, &broken, "secret key with a changed character").await;
}
