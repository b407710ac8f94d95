//! A GraphQL-over-WebSocket client for tests: speaks `graphql-transport-ws`
//! (and the legacy `graphql-ws`) frame by frame, so tests can both use the
//! protocol as a client library would and break it on purpose.
//!
//! Every wait is bounded: an expectation that is not met within
//! [`STEP_TIMEOUT`] fails the test with what did arrive.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one expected frame may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`, what the `graphql-ws` JavaScript client speaks.
    TransportWs,
    /// `graphql-ws`, the older subscriptions-transport-ws protocol.
    LegacyGraphqlWs,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::LegacyGraphqlWs => "graphql-ws",
        }
    }
}

/// What the server sent: a JSON message, or the end of the socket.
#[derive(Debug)]
enum Incoming {
    Json(Value),
    Closed(u16, String),
}

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: Protocol,
    /// Messages read while looking for another one, in arrival order.
    pending: VecDeque<Value>,
}

impl WsClient {
    /// Opens a socket asking for `protocol`; sends nothing.
    pub async fn connect(url: &str, protocol: Protocol) -> Self {
        let mut request = url.into_client_request().expect("a WebSocket URL");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(protocol.name()),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket handshake succeeds");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol.name()),
            "the server picks the protocol asked for"
        );
        Self {
            socket,
            protocol,
            pending: VecDeque::new(),
        }
    }

    /// A `graphql-transport-ws` socket, initialised with `auth` (a token or
    /// key) and acknowledged.
    pub async fn connected(url: &str, auth: Option<&str>) -> Self {
        let mut client = Self::connect(url, Protocol::TransportWs).await;
        client.init(auth).await;
        client
    }

    /// Sends `connection_init` (with `authorization: Bearer <auth>`) and
    /// waits for `connection_ack`.
    pub async fn init(&mut self, auth: Option<&str>) {
        let mut init = json!({ "type": "connection_init" });
        if let Some(auth) = auth {
            init["payload"] = json!({ "authorization": format!("Bearer {auth}") });
        }
        self.send_json(init).await;
        self.take(|m| m["type"] == "connection_ack", "connection_ack")
            .await;
    }

    pub async fn send_json(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        // The server may already have closed (that is what some tests
        // provoke); the close frame is read by `expect_close`.
        let _ = self.socket.send(Message::text(text)).await;
    }

    /// Starts an operation (`subscribe`, or `start` in the legacy protocol).
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = match self.protocol {
            Protocol::TransportWs => "subscribe",
            Protocol::LegacyGraphqlWs => "start",
        };
        self.send_json(json!({
            "id": id,
            "type": kind,
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Ends an operation (`complete`, or `stop` in the legacy protocol).
    pub async fn complete(&mut self, id: &str) {
        let kind = match self.protocol {
            Protocol::TransportWs => "complete",
            Protocol::LegacyGraphqlWs => "stop",
        };
        self.send_json(json!({ "id": id, "type": kind })).await;
    }

    /// Round trip of `ping`/`pong`. The server handles a socket's frames in
    /// order, and holds the next frame until a subscription listens, so the
    /// pong also says that every subscription sent before is live.
    pub async fn ping(&mut self) {
        assert_eq!(
            self.protocol,
            Protocol::TransportWs,
            "ping is part of graphql-transport-ws only"
        );
        let token = uuid::Uuid::new_v4().to_string();
        self.send_json(json!({ "type": "ping", "payload": { "token": token } }))
            .await;
        self.take(
            |m| m["type"] == "pong" && m["payload"]["token"] == token.as_str(),
            "pong",
        )
        .await;
    }

    /// The next message of any kind (keep-alives of the legacy protocol
    /// skipped).
    pub async fn next_message(&mut self) -> Value {
        if let Some(message) = self.pending.pop_front() {
            return message;
        }
        match self.read(STEP_TIMEOUT).await {
            Some(Incoming::Json(message)) => message,
            Some(Incoming::Closed(code, reason)) => {
                panic!("the socket closed ({code} {reason}) while a message was expected")
            }
            None => panic!("no message within {STEP_TIMEOUT:?}"),
        }
    }

    /// The payload of the next result (`next`, or `data`) for `id`.
    pub async fn next_payload(&mut self, id: &str) -> Value {
        let next = self.next_type();
        let message = self
            .take(|m| m["id"] == id, &format!("a result for {id}"))
            .await;
        assert_eq!(
            message["type"], next,
            "expected `{next}` for {id}, got: {message}"
        );
        message["payload"].clone()
    }

    /// The errors of an `error` message for `id`.
    pub async fn expect_error(&mut self, id: &str) -> Value {
        let message = self
            .take(|m| m["id"] == id, &format!("an error for {id}"))
            .await;
        assert_eq!(
            message["type"], "error",
            "expected an error for {id}, got: {message}"
        );
        let errors = message["payload"].clone();
        // The legacy protocol sends one error object; the current one a list.
        if errors.is_array() {
            errors
        } else {
            json!([errors])
        }
    }

    /// A `complete` for `id`.
    pub async fn expect_complete(&mut self, id: &str) {
        let message = self
            .take(|m| m["id"] == id, &format!("complete for {id}"))
            .await;
        assert_eq!(
            message["type"], "complete",
            "expected complete for {id}, got: {message}"
        );
    }

    /// Nothing for `id` (or nothing at all, with `None`) arrives within
    /// `window`. Messages for other ids are kept for later.
    pub async fn expect_silence(&mut self, id: Option<&str>, window: Duration) {
        let concerns = |message: &Value| id.is_none_or(|id| message["id"] == id);
        if let Some(message) = self.pending.iter().find(|m| concerns(m)) {
            panic!("expected silence, but had: {message}");
        }
        let deadline = tokio::time::Instant::now() + window;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.read(left).await {
                None => return,
                Some(Incoming::Json(message)) if concerns(&message) => {
                    panic!("expected silence, but had: {message}")
                }
                Some(Incoming::Json(message)) => self.pending.push_back(message),
                Some(Incoming::Closed(code, reason)) => {
                    panic!("expected silence, but the socket closed ({code} {reason})")
                }
            }
        }
    }

    /// Reads until the server closes; returns the close code and reason
    /// (1006 when the connection ended without a close frame).
    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            match self.read(STEP_TIMEOUT).await {
                Some(Incoming::Closed(code, reason)) => return (code, reason),
                Some(Incoming::Json(_)) => {}
                None => panic!("the socket stayed open for {STEP_TIMEOUT:?}"),
            }
        }
    }

    /// Reads everything the server sent until the connection ends; true
    /// when it did end (rather than stay open and quiet).
    pub async fn drain_until_closed(&mut self) -> bool {
        loop {
            match self.read(STEP_TIMEOUT).await {
                Some(Incoming::Closed(..)) => return true,
                Some(Incoming::Json(_)) => {}
                None => return false,
            }
        }
    }

    fn next_type(&self) -> &'static str {
        match self.protocol {
            Protocol::TransportWs => "next",
            Protocol::LegacyGraphqlWs => "data",
        }
    }

    /// The first message (pending or new) that `wanted` accepts; others
    /// are kept in order.
    async fn take(&mut self, wanted: impl Fn(&Value) -> bool, what: &str) -> Value {
        if let Some(index) = self.pending.iter().position(&wanted) {
            return self.pending.remove(index).expect("the index exists");
        }
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read(left).await {
                Some(Incoming::Json(message)) if wanted(&message) => return message,
                Some(Incoming::Json(message)) => self.pending.push_back(message),
                Some(Incoming::Closed(code, reason)) => panic!(
                    "the socket closed ({code} {reason}) while waiting for {what}; had: {:?}",
                    self.pending
                ),
                None => panic!("no {what} within {STEP_TIMEOUT:?}; had: {:?}", self.pending),
            }
        }
    }

    /// One message from the wire within `wait`, or `None` on time out.
    async fn read(&mut self, wait: Duration) -> Option<Incoming> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match frame {
                None | Some(Err(_)) => return Some(Incoming::Closed(1006, String::new())),
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(frame) => {
                            Incoming::Closed(frame.code.into(), frame.reason.to_string())
                        }
                        None => Incoming::Closed(1005, String::new()),
                    });
                }
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|_| panic!("the server sent non-JSON: {text}"));
                    if self.protocol == Protocol::LegacyGraphqlWs && message["type"] == "ka" {
                        continue;
                    }
                    return Some(Incoming::Json(message));
                }
                Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
                Some(Ok(_)) => {}
            }
        }
    }
}
