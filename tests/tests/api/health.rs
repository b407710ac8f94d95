use orbit_tests::spawn_app;
use reqwest::StatusCode;

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_answers_200_when_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn get_graphql_serves_graphiql_html() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.graphql_url())
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/html"),
        "content-type: {content_type}"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.to_lowercase().contains("graphiql"),
        "not GraphiQL: {body}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(!id.is_empty(), "no x-request-id header");
}

/// A process being stopped behind a load balancer keeps serving for its
/// grace: `/readyz` turns 503 so that whatever polls it stops sending,
/// every answer asks its client to close the connection (so a proxy
/// holding it idle does not write into it as it closes), and new
/// connections are still taken. A second signal ends the grace at once.
#[tokio::test]
async fn a_stopping_server_serves_its_grace_saying_it_is_stopping_and_closing_each_connection() {
    let app = orbit_tests::spawn_app_with(|settings| {
        settings.shutdown_grace = std::time::Duration::from_secs(600);
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let (before, _kept) = raw_get(&app, "/healthz").await;
    assert!(before.starts_with("http/1.1 200"), "{before}");
    assert!(
        !before.contains("connection: close"),
        "a serving process keeps connections: {before}"
    );

    app.begin_stopping().await;
    let readiness = app.get("/readyz").await;
    assert_eq!(readiness.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(readiness.text().await.unwrap(), "stopping");

    // Still alive and answering new connections, and each answer closes
    // its connection.
    let (during, mut closing) = raw_get(&app, "/healthz").await;
    assert!(during.starts_with("http/1.1 200"), "{during}");
    assert!(
        during.contains("connection: close"),
        "no `connection: close` while stopping: {during}"
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut closing, &mut rest),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(_))),
        "the server kept the connection open"
    );
    let body = app.gql(None, "{ __typename }", serde_json::json!({})).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");

    // The second signal: the server stops now, not after 600 s.
    app.stop().await;
    assert!(
        tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
            .await
            .is_err(),
        "a stopped server still accepts connections"
    );
}

/// One `GET` on a connection of its own: the answer's head (lowercased)
/// and the connection, with the body still unread.
async fn raw_get(app: &orbit_tests::TestApp, path: &str) -> (String, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (String::from_utf8_lossy(&head).to_ascii_lowercase(), stream)
}
