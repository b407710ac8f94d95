//! Sockets and connections under a client that misbehaves: a burst of
//! refused `subscribe`s does not cost a reading client its socket, and a
//! connection that never finishes its request headers, or sits idle
//! between requests, is closed after the header timeout.

use std::time::Duration;

use orbit_tests::spawn_app_with;
use orbit_tests::ws::WsClient;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const THREAD_EVENTS: &str =
    "subscription S($t: ID!) { threadEvents(threadId: $t) { ... on Event { cursor } } }";

#[tokio::test]
async fn refusals_of_a_subscribe_burst_do_not_cost_a_reading_client_its_socket() {
    // A send queue far smaller than the burst: the refusals must wait for
    // room instead of counting the client as one that does not read.
    let app = spawn_app_with(|settings| settings.ws_send_queue = 8).await;
    let w = app.new_team_world().await;
    let mut socket = WsClient::connected(&app.ws_url(), w.owner.token()).await;
    let running = orbit_api::http::MAX_OPERATIONS;
    let refused = 400;
    for n in 0..running + refused {
        socket
            .subscribe(&format!("s{n}"), THREAD_EVENTS, json!({ "t": w.thread_id }))
            .await;
    }
    let mut limited = 0;
    while limited < refused {
        let message = socket.next_message().await;
        if message["type"] == "error" {
            assert_eq!(
                message["payload"][0]["extensions"]["code"], "RATE_LIMITED",
                "{message}"
            );
            limited += 1;
        }
    }
    // Still open, and still delivering to the subscriptions that run.
    socket.ping().await;
    app.send_message(&w.owner.access_token, &w.thread_id, "still served")
        .await;
    let payload = socket.next_payload("s0").await;
    assert!(
        payload["data"]["threadEvents"]["cursor"].is_string(),
        "{payload}"
    );
}

/// Reads until the server closes the connection; `None` if it did not
/// within `within` (bounds the test, not a measure of speed).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

#[tokio::test]
async fn unfinished_headers_and_idle_connections_are_closed() {
    let app = spawn_app_with(|settings| {
        settings.http_header_timeout = Duration::from_secs(1);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();

    // Headers that never end.
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: orbit\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(20))
            .await
            .is_some(),
        "a connection with unfinished headers stayed open"
    );

    // A finished request, then nothing: answered, then closed when idle.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: orbit\r\n\r\n")
        .await
        .unwrap();
    let received = closed_within(&mut idle, Duration::from_secs(20))
        .await
        .expect("an idle keep-alive connection stayed open");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("ok"), "{text}");
}
