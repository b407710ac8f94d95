//! The outbound address rule through the real server: every way of writing
//! a loopback, private, link-local, unique-local or cloud-metadata address is
//! refused where an app stores a URL the server will call. (The rule itself,
//! and its check of the address actually connected to, are unit-tested in
//! `worker/src/outbound.rs`.)

use orbit_tests::{TestApp, assert_error, spawn_app_with};
use serde_json::{Value, json};

use crate::webhooks::{CREATE_WEBHOOK, UPDATE_WEBHOOK};

/// One URL per way of writing a non-public address, by family. The `url`
/// crate folds the IPv4 spellings into one address before the rule sees it.
pub const PRIVATE_FORMS: &[(&str, &str)] = &[
    ("dotted IPv4 loopback", "http://127.0.0.1:8080/hook"),
    ("short IPv4", "http://127.1/hook"),
    ("decimal IPv4", "http://2130706433/hook"),
    ("octal IPv4", "http://0177.0.0.1/hook"),
    ("hex IPv4", "http://0x7f.1/hook"),
    ("hex IPv4 in one number", "http://0x7f000001/hook"),
    ("IPv4 with a trailing dot", "http://127.0.0.1./hook"),
    ("unspecified IPv4", "http://0.0.0.0/hook"),
    ("private IPv4", "http://10.1.2.3/hook"),
    ("private IPv4 in octal", "http://012.1.2.3/hook"),
    ("shared (CGNAT) IPv4", "http://100.64.0.1/hook"),
    ("cloud metadata", "http://169.254.169.254/latest/meta-data"),
    (
        "cloud metadata in decimal",
        "http://2852039166/latest/meta-data",
    ),
    (
        "cloud metadata in hex",
        "http://0xa9fea9fe/latest/meta-data",
    ),
    (
        "Alibaba metadata",
        "http://100.100.100.200/latest/meta-data",
    ),
    ("Oracle metadata", "http://192.0.0.192/opc/v2/instance"),
    ("IPv6 loopback", "http://[::1]/hook"),
    ("IPv6 loopback written out", "http://[0:0:0:0:0:0:0:1]/hook"),
    ("IPv6 unspecified", "http://[::]/hook"),
    ("IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/hook"),
    ("IPv4-mapped IPv6 in hex", "http://[::ffff:7f00:1]/hook"),
    (
        "IPv4-mapped metadata",
        "http://[::ffff:169.254.169.254]/hook",
    ),
    ("IPv4-compatible IPv6", "http://[::127.0.0.1]/hook"),
    ("IPv4-translated IPv6", "http://[::ffff:0:127.0.0.1]/hook"),
    ("NAT64 around metadata", "http://[64:ff9b::a9fe:a9fe]/hook"),
    ("6to4 around loopback", "http://[2002:7f00:1::]/hook"),
    ("Teredo", "http://[2001:0:7f00:1::]/hook"),
    ("unique-local IPv6", "http://[fd00::1]/hook"),
    (
        "AWS IPv6 metadata",
        "http://[fd00:ec2::254]/latest/meta-data",
    ),
    ("link-local IPv6", "http://[fe80::1]/hook"),
    ("site-local IPv6", "http://[fec0::1]/hook"),
];

/// Addresses that are public, literal or embedded: still allowed.
const PUBLIC_FORMS: &[&str] = &[
    "http://93.184.215.14/hook",
    "http://[2606:4700:4700::1111]/hook",
    "http://[::ffff:8.8.8.8]/hook",
    "http://[64:ff9b::8.8.8.8]/hook",
];

/// `BAD_USER_INPUT` on `field`, and because of the address rule (not the
/// URL's other checks).
pub fn assert_refused(response: &Value, field: &str, form: &str) {
    assert_error(response, "BAD_USER_INPUT", Some(field));
    let message = response["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("is not a public address"),
        "{form}: {message}"
    );
}

async fn strict_app() -> (TestApp, String) {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = false).await;
    let keys = app.create_app("Outbound").await;
    (app, keys.secret_key)
}

#[tokio::test]
async fn webhooks_refuse_every_spelling_of_a_private_address() {
    let (app, sk) = strict_app().await;
    for (form, url) in PRIVATE_FORMS {
        let response = app
            .gql(
                Some(&sk),
                CREATE_WEBHOOK,
                json!({ "input": { "url": url, "eventTypes": ["message.created"] } }),
            )
            .await;
        assert_refused(&response, "url", form);
    }
    let mut created = None;
    for url in PUBLIC_FORMS {
        let response = app
            .gql_ok(
                Some(&sk),
                CREATE_WEBHOOK,
                json!({ "input": { "url": url, "eventTypes": ["message.created"] } }),
            )
            .await;
        created = response["createWebhook"]["webhook"]["id"]
            .as_str()
            .map(str::to_owned);
    }
    // Changing a stored URL goes through the same rule.
    for (form, url) in PRIVATE_FORMS {
        let response = app
            .gql(
                Some(&sk),
                UPDATE_WEBHOOK,
                json!({ "input": { "id": created, "url": url } }),
            )
            .await;
        assert_refused(&response, "url", form);
    }
}

#[tokio::test]
async fn model_providers_refuse_every_spelling_of_a_private_address() {
    let (app, sk) = strict_app().await;
    for (form, url) in PRIVATE_FORMS {
        let response = app
            .gql(
                Some(&sk),
                crate::agents::CREATE_PROVIDER,
                json!({ "input": { "name": form, "kind": "OPENAI_COMPATIBLE", "baseUrl": url } }),
            )
            .await;
        assert_refused(&response, "baseUrl", form);
    }
}

#[tokio::test]
async fn identity_providers_refuse_every_spelling_of_a_private_address() {
    let (app, sk) = strict_app().await;
    for (index, (form, url)) in PRIVATE_FORMS.iter().enumerate() {
        // Identity providers are https only; the address rule comes after.
        let url = url.replacen("http://", "https://", 1);
        for field in ["tokenUrl", "userinfoUrl"] {
            let mut input = json!({
                "slug": format!("idp-{index}"),
                "preset": "CUSTOM",
                "displayName": "Acme ID",
                "clientId": "client",
                "clientSecret": "client-secret",
                "authorizationUrl": "https://id.example/authorize",
                "tokenUrl": "https://id.example/token",
                "userinfoUrl": "https://id.example/userinfo",
                "scopes": ["openid", "email"],
            });
            input[field] = json!(url);
            let response = app
                .gql(
                    Some(&sk),
                    crate::oauth_login::CREATE_PROVIDER,
                    json!({ "input": input }),
                )
                .await;
            assert_refused(&response, field, form);
        }
    }
}

#[tokio::test]
async fn tools_refuse_every_spelling_of_a_private_address() {
    let (app, sk) = strict_app().await;
    let tool = |url: &str| {
        json!({ "input": {
            "name": "lookup",
            "description": "Looks something up.",
            "inputSchema": { "type": "object" },
            "http": { "url": url },
        } })
    };
    for (form, url) in PRIVATE_FORMS {
        let response = app
            .gql(Some(&sk), crate::tools::CREATE_TOOL, tool(url))
            .await;
        assert_refused(&response, "http.url", form);
    }
    let created = app
        .gql_ok(
            Some(&sk),
            crate::tools::CREATE_TOOL,
            tool("https://tools.example.com/lookup"),
        )
        .await["createTool"]["tool"]["id"]
        .clone();
    // Changing the call goes through the same rule.
    for (form, url) in PRIVATE_FORMS {
        let response = app
            .gql(
                Some(&sk),
                crate::tools::UPDATE_TOOL,
                json!({ "input": { "id": created, "http": { "url": url } } }),
            )
            .await;
        assert_refused(&response, "http.url", form);
    }
}
