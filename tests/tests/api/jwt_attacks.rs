//! Forged and misused access tokens are refused with UNAUTHENTICATED. Each
//! forgery starts from a real token, so a refusal means the check works,
//! not that the token was malformed; a control re-signs it unchanged and
//! must be accepted.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use orbit_tests::{ME, Session, TestApp, email, jwt_parts, jwt_segment, spawn_app};
use serde_json::{Value, json};

struct Fixture {
    app: TestApp,
    session: Session,
    header: Value,
    claims: Value,
    secret: String,
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let keys = app.create_app("Jwt").await;
    let session = app
        .sign_up(&keys.publishable_key, &email("jwt"), "Jay")
        .await;
    let (header, claims) = jwt_parts(&session.access_token);
    let secret = app
        .settings
        .jwt_secret
        .as_ref()
        .expect("tests run with a fixed JWT secret")
        .expose()
        .to_owned();
    Fixture {
        app,
        session,
        header,
        claims,
        secret,
    }
}

/// Signs `claims` with `alg` and `secret`, keeping the real header's kid.
fn sign(header: &Value, claims: &Value, alg: Algorithm, secret: &str) -> String {
    let mut forged = Header::new(alg);
    forged.kid = header["kid"].as_str().map(str::to_owned);
    encode(
        &forged,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
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
    assert!(f.header["kid"].is_string(), "no kid: {}", f.header);
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
    }
}

#[tokio::test]
async fn another_secret_is_refused() {
    let f = fixture().await;
    let token = sign(
        &f.header,
        &f.claims,
        Algorithm::HS256,
        "some-other-secret-that-is-also-32-bytes-long",
    );
    assert_refused(&f.app, &token, "wrong secret").await;
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
    let mut header = f.header.clone();
    header["kid"] = json!("k-unknown");
    let token = sign(&header, &f.claims, Algorithm::HS256, &f.secret);
    assert_refused(&f.app, &token, "unknown kid").await;
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
