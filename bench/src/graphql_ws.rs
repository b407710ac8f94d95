//! A `graphql-transport-ws` subscriber's handshake, for the benches that
//! listen to the server over WebSocket.

use anyhow::bail;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a socket to `url` with `token` as its credential and subscribes
/// (operation id `1`) to `query`. Returns once the subscription listens:
/// the server handles frames in order and answers the `ping` sent after
/// `subscribe` only once that subscription is open, so nothing sent after
/// this returns can be missed.
pub async fn subscribe(
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    // tungstenite zeroes its whole read buffer (128 KiB by default) for
    // every read: with thousands of sockets that memset took a third of
    // the machine's CPU, which the server then lacked. Frames here are a
    // few hundred bytes.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }).to_string(),
        ))
        .await?;
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } })
                .to_string(),
        ))
        .await?;
    socket.send(Message::text(r#"{"type":"ping"}"#)).await?;
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let text = text.as_str();
        if text.contains(r#""type":"pong""#) {
            return Ok(socket);
        }
        if text.contains(r#""type":"error""#) || text.contains(r#""type":"complete""#) {
            bail!("the subscription ended: {text}");
        }
    }
    bail!("the socket closed before the subscription listened")
}
