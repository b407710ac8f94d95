//! GraphiQL and the console are served from the binary: their pages load only this server's
//! files (no CDN), under a content security policy that allows nothing
//! else; every file it names is served with its type; off, it is all 404.

use orbit_tests::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_page_loads_only_files_this_server_serves() {
    let app = spawn_app().await;
    let page = app.client.get(app.graphql_url()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let html = page.text().await.unwrap();
    for cdn in ["unpkg", "jsdelivr", "cdnjs", "esm.sh", "https://"] {
        assert!(!html.contains(cdn), "the page names {cdn}: {html}");
    }
    let sources: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("/graphiql/"))
        .collect();
    assert_eq!(sources.len(), 6, "{html}");
    for source in sources {
        let file = app.get(source).await;
        assert_eq!(file.status(), 200, "{source}");
        let content_type = file.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = if source.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{source}: {content_type}"
        );
        assert_eq!(file.headers()["x-content-type-options"], "nosniff");
        assert!(!file.bytes().await.unwrap().is_empty(), "{source}");
    }
    assert_eq!(app.get("/graphiql/..%2FCargo.toml").await.status(), 404);
    assert_eq!(app.get("/graphiql/secrets.js").await.status(), 404);
}

#[tokio::test]
async fn off_it_serves_nothing() {
    let app = spawn_app_with(|s| s.graphiql = false).await;
    assert_eq!(app.get("/graphql").await.status(), 404);
    assert_eq!(app.get("/graphiql/init.js").await.status(), 404);
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_under_the_same_policy() {
    let app = spawn_app().await;
    let page = app.get("/console").await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/console.js"), "{html}");
    assert!(!html.contains("https://"), "{html}");
    // The page loads one module; it imports the rest, all from here.
    for name in [
        "console.js",
        "lib.js",
        "keys.js",
        "members.js",
        "login.js",
        "agents.js",
        "routines.js",
        "webhooks.js",
        "events.js",
        "threads.js",
    ] {
        let script = app.get(&format!("/console/{name}")).await;
        assert_eq!(script.status(), 200, "{name}");
        assert!(
            script.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript"),
            "{name}"
        );
        // It renders values as text, never as HTML, and loads nothing from
        // elsewhere.
        let source = script.text().await.unwrap();
        assert!(
            !source.contains("innerHTML")
                && !source.contains("outerHTML")
                && !source.contains("insertAdjacentHTML"),
            "{name} must not inject HTML"
        );
        assert!(
            !source.contains("from 'http") && !source.contains("fetch('http"),
            "{name} loads from elsewhere"
        );
    }
    assert_eq!(app.get("/console/missing.js").await.status(), 404);
    assert_eq!(app.get("/console/..%2Fconsole.rs").await.status(), 404);
}
