//! GraphQL over WebSocket: `graphql-transport-ws` (and the legacy
//! `graphql-ws`), written here rather than taken from async-graphql so that
//! it does what the protocol says where that handler does not (see STACK.md):
//! 4408 without a timely `connection_init`, 4401 on `subscribe` before the
//! ack, 4409 on a repeated id, 4400 on anything malformed.
//!
//! Each socket has one writer task fed by a bounded queue. Operations put
//! frames in the queue without waiting; when it is full the client is not
//! reading, and the socket is dropped rather than letting it hold memory or
//! slow the fan-out to everyone else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Request as GraphqlRequest;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use orbit_domain::events::Topic;
use orbit_domain::ids::SessionId;
use orbit_realtime::Delivery;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use super::HttpState;
use crate::graphql::events::SubscriptionReady;
use crate::graphql::{RequestId, attach_request_data, present_errors};
use crate::realtime::envelope::Envelope;
use crate::viewer::{self, Viewer};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

/// Largest message a client may send (a query with its variables).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Operations running at once on one socket.
pub const MAX_OPERATIONS: usize = 100;
/// Frames waiting to be written to one socket (`ORBIT_WS_SEND_QUEUE`). A
/// client this far behind has stopped reading.
pub const DEFAULT_SEND_QUEUE: usize = 512;
/// How long a `subscribe` may hold up the socket's next frame while its
/// feed starts listening (see `SubscriptionReady`).
const READY_WAIT: Duration = Duration::from_secs(5);
/// Without `connection_init` within this time the socket closes with 4408.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The read buffer per socket: axum's default of 128 KiB costs ~135 KB per
/// idle socket, 4 KiB costs ~7.5 KB (STACK.md).
const READ_BUFFER: usize = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    TransportWs,
    Legacy,
}

impl Protocol {
    fn next_type(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        }
    }
}

/// Settings of the WebSocket endpoint.
#[derive(Clone)]
pub(crate) struct WsConfig {
    pub init_timeout: Duration,
    /// Frames queued for one socket before it counts as not reading.
    pub send_queue: usize,
    /// Flips to true on shutdown: sockets close with 1001.
    pub shutdown: watch::Receiver<bool>,
    /// Ticks once a second, for sockets whose token expires; one timer for
    /// the process instead of one per socket.
    pub ticks: watch::Receiver<()>,
}

pub(super) fn upgrade(state: HttpState, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let protocol = match socket.protocol().and_then(|p| p.to_str().ok()) {
                Some(LEGACY_WS) => Protocol::Legacy,
                // The reference client always asks for graphql-transport-ws;
                // a client that names no protocol gets it too.
                _ => Protocol::TransportWs,
            };
            Connection::new(state, protocol).run(socket).await;
        })
}

/// A `next` (or legacy `data`) message.
#[derive(Serialize)]
struct NextFrame<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    payload: &'a async_graphql::Response,
}

#[derive(Debug, Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Value>,
}

/// Why a socket ends, as a close frame (or none when the client is gone or
/// not reading).
struct Close(Option<(u16, &'static str)>);

impl Close {
    fn with(code: u16, reason: &'static str) -> Self {
        Self(Some((code, reason)))
    }
    fn silently() -> Self {
        Self(None)
    }
}

struct Connection {
    state: HttpState,
    protocol: Protocol,
    init_received: bool,
    viewer: Option<Viewer>,
    expires_at: Option<DateTime<Utc>>,
    operations: HashMap<String, AbortHandle>,
    connection_id: String,
    /// Whether this socket counts toward its user's presence.
    present: bool,
}

/// The queue to the writer, and the alarm raised when it overflows.
#[derive(Clone)]
struct Outbox {
    frames: mpsc::Sender<Message>,
    overflow: Arc<Notify>,
}

impl Outbox {
    /// Queues a frame without waiting; a full queue raises the alarm.
    fn send(&self, frame: Message) -> bool {
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn json(&self, message: &Value) -> bool {
        self.send(Message::Text(Utf8Bytes::from(message.to_string())))
    }
}

impl Connection {
    fn new(state: HttpState, protocol: Protocol) -> Self {
        Self {
            state,
            protocol,
            init_received: false,
            viewer: None,
            expires_at: None,
            operations: HashMap::new(),
            connection_id: format!("ws-{}", uuid::Uuid::now_v7()),
            present: false,
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let (frames, mut queued) = mpsc::channel::<Message>(self.state.ws.send_queue.max(1));
        let overflow = Arc::new(Notify::new());
        let outbox = Outbox {
            frames,
            overflow: overflow.clone(),
        };
        let writer = tokio::spawn(async move {
            while let Some(frame) = queued.recv().await {
                let closing = matches!(frame, Message::Close(_));
                if sink.send(frame).await.is_err() || closing {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let (finished_tx, mut finished) = mpsc::unbounded_channel::<String>();
        let mut shutdown = self.state.ws.shutdown.clone();
        let mut ticks = self.state.ws.ticks.clone();
        let init_deadline = tokio::time::sleep(self.state.ws.init_timeout);
        tokio::pin!(init_deadline);
        let mut revocations: Option<orbit_realtime::Subscription> = None;

        let close = loop {
            tokio::select! {
                frame = stream.next() => {
                    let Some(frame) = frame else { break Close::silently() };
                    let frame = match frame {
                        Ok(frame) => frame,
                        Err(error) => break if is_too_big(error) {
                            Close::with(1009, "message too big")
                        } else {
                            Close::silently()
                        },
                    };
                    match self.handle(frame, &outbox, &finished_tx).await {
                        Ok(Some(session)) => {
                            revocations = Some(self.state.services.broker().subscribe(&Topic::User(session.1).key()).await);
                            // An event published before the watch existed is
                            // caught by re-reading the session once.
                            if !self.session_is_live().await {
                                break Close::with(4403, "Forbidden");
                            }
                        }
                        Ok(None) => {}
                        Err(close) => break close,
                    }
                }
                () = &mut init_deadline, if self.viewer.is_none() => {
                    break Close::with(4408, "Connection initialisation timeout");
                }
                Some(id) = finished.recv() => {
                    self.operations.remove(&id);
                }
                () = overflow.notified() => {
                    tracing::info!(connection = %self.connection_id, "closing a socket whose client stopped reading");
                    writer.abort();
                    break Close::silently();
                }
                delivery = recv_or_wait(&mut revocations) => match delivery {
                    Some(delivery) => if self.revoked(&delivery).await {
                        break Close::with(4403, "Forbidden");
                    },
                    // The broker is shutting down; so is this socket soon.
                    None => revocations = None,
                },
                _ = ticks.changed(), if self.expires_at.is_some() => {
                    if self.expires_at.is_some_and(|at| self.state.services.clock().now() >= at) {
                        break Close::with(4403, "Forbidden");
                    }
                }
                _ = shutdown.changed() => {
                    break Close::with(1001, "server shutting down");
                }
            }
        };
        for (_, operation) in self.operations.drain() {
            operation.abort();
        }
        if let Close(Some((code, reason))) = close {
            let frame = Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            }));
            // Past the queue: the close must go out even when it is full.
            let _ = outbox.frames.try_send(frame);
        }
        drop(outbox);
        if self.present {
            let services = &self.state.services;
            services
                .presence()
                .disconnected(services, &self.connection_id)
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    }

    /// Handles one frame. `Ok(Some(session))` once a user's socket is
    /// acknowledged, so the caller watches for its revocation.
    async fn handle(
        &mut self,
        frame: Message,
        outbox: &Outbox,
        finished: &mpsc::UnboundedSender<String>,
    ) -> Result<Option<(SessionId, orbit_domain::ids::UserId)>, Close> {
        let text = match frame {
            Message::Text(text) => text,
            Message::Binary(_) => {
                return Err(Close::with(
                    4400,
                    "binary frames are not part of the protocol",
                ));
            }
            Message::Close(_) => return Err(Close::silently()),
            // Protocol-level pings are answered by the WebSocket layer.
            Message::Ping(_) | Message::Pong(_) => return Ok(None),
        };
        let Ok(message) = serde_json::from_str::<ClientMessage>(text.as_str()) else {
            return Err(Close::with(4400, "invalid message"));
        };
        match (self.protocol, message.kind.as_str()) {
            (_, "connection_init") => {
                if self.init_received {
                    return Err(Close::with(4429, "Too many initialisation requests"));
                }
                self.init_received = true;
                let credential = credential(message.payload.as_ref())?;
                let (viewer, expires_at) =
                    viewer::resolve_until(&self.state.services, credential.as_deref())
                        .await
                        .map_err(|_| Close::with(4403, "Forbidden"))?;
                self.viewer = Some(viewer);
                self.expires_at = expires_at;
                // Before the ack: once acknowledged, the user is online.
                if let Viewer::User { app, user, .. } = viewer {
                    let services = &self.state.services;
                    services
                        .presence()
                        .connected(services, app, user, &self.connection_id)
                        .await;
                    self.present = true;
                }
                outbox.json(&json!({ "type": "connection_ack" }));
                if self.protocol == Protocol::Legacy {
                    outbox.json(&json!({ "type": "ka" }));
                }
                Ok(match viewer {
                    Viewer::User { session, user, .. } => Some((session, user)),
                    _ => None,
                })
            }
            (Protocol::TransportWs, "ping") => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = message.payload {
                    pong["payload"] = payload;
                }
                outbox.json(&pong);
                Ok(None)
            }
            (Protocol::TransportWs, "pong") => Ok(None),
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                let Some(viewer) = self.viewer else {
                    return Err(Close::with(4401, "Unauthorized"));
                };
                let id = message
                    .id
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| Close::with(4400, "subscribe needs an id"))?;
                let payload = message
                    .payload
                    .ok_or_else(|| Close::with(4400, "subscribe needs a payload"))?;
                let request: GraphqlRequest = serde_json::from_value(payload)
                    .map_err(|_| Close::with(4400, "the payload is not a GraphQL request"))?;
                if self.operations.contains_key(&id) {
                    if self.protocol == Protocol::TransportWs {
                        return Err(Close::with(4409, "Subscriber for this id already exists"));
                    }
                    return Ok(None);
                }
                if self.operations.len() >= MAX_OPERATIONS {
                    outbox.json(&json!({
                        "id": id,
                        "type": "error",
                        "payload": [{
                            "message": format!("at most {MAX_OPERATIONS} operations may run on one socket"),
                            "extensions": { "code": "RATE_LIMITED" }
                        }],
                    }));
                    return Ok(None);
                }
                let (ready, listening) = oneshot::channel();
                let request = request.data(SubscriptionReady::new(ready));
                let handle = self.start(
                    id.clone(),
                    request,
                    viewer,
                    outbox.clone(),
                    finished.clone(),
                );
                self.operations.insert(id, handle);
                // Fired once a subscription listens; dropped (which also
                // wakes this) when an operation ends.
                let _ = tokio::time::timeout(READY_WAIT, listening).await;
                Ok(None)
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                let id = message
                    .id
                    .ok_or_else(|| Close::with(4400, "complete needs an id"))?;
                if let Some(operation) = self.operations.remove(&id) {
                    operation.abort();
                    // The legacy protocol confirms a `stop`; the current one
                    // sends nothing more for the id.
                    if self.protocol == Protocol::Legacy {
                        outbox.json(&json!({ "id": id, "type": "complete" }));
                    }
                }
                Ok(None)
            }
            (Protocol::Legacy, "connection_terminate") => Err(Close::silently()),
            _ => Err(Close::with(4400, "unknown message type")),
        }
    }

    /// Runs one operation (a subscription, or a query or mutation sent over
    /// the socket) in its own task, feeding the socket's queue.
    fn start(
        &self,
        id: String,
        request: GraphqlRequest,
        viewer: Viewer,
        outbox: Outbox,
        finished: mpsc::UnboundedSender<String>,
    ) -> AbortHandle {
        let request_id = RequestId(format!("{}/{id}", self.connection_id));
        let request =
            attach_request_data(request, &self.state.services, viewer, request_id.clone());
        let schema = self.state.schema.clone();
        let protocol = self.protocol;
        tokio::spawn(async move {
            let mut responses = std::pin::pin!(schema.execute_stream(request));
            let mut ended_in_error = false;
            while let Some(mut response) = responses.next().await {
                present_errors(&mut response.errors, &request_id);
                // No data and errors: the operation failed (refused at
                // subscribe time, or its access ended). That is `error`,
                // after which nothing more comes for this id.
                if !response.errors.is_empty() && response.data == async_graphql::Value::Null {
                    outbox.json(&json!({ "id": id, "type": "error", "payload": response.errors }));
                    ended_in_error = true;
                    break;
                }
                // Straight to text: no intermediate JSON tree per delivery.
                let frame = NextFrame {
                    id: &id,
                    kind: protocol.next_type(),
                    payload: &response,
                };
                let Ok(text) = serde_json::to_string(&frame) else {
                    break;
                };
                if !outbox.send(Message::Text(Utf8Bytes::from(text))) {
                    break;
                }
            }
            if !ended_in_error || protocol == Protocol::Legacy {
                outbox.json(&json!({ "id": id, "type": "complete" }));
            }
            let _ = finished.send(id);
        })
        .abort_handle()
    }

    async fn session_is_live(&self) -> bool {
        match self.viewer {
            Some(Viewer::User {
                app, user, session, ..
            }) => {
                let now = self.state.services.clock().now();
                matches!(
                    orbit_persistence::sessions::find_live(
                        self.state.services.db(),
                        app,
                        session,
                        user,
                        now
                    )
                    .await,
                    Ok(Some(_))
                )
            }
            _ => true,
        }
    }

    /// Whether a message on the user's topic ends this socket's session.
    async fn revoked(&self, delivery: &Delivery) -> bool {
        let Some(Viewer::User { session, .. }) = self.viewer else {
            return false;
        };
        match delivery {
            Delivery::Gap => !self.session_is_live().await,
            Delivery::Message(bytes) => Envelope::decode_shared(bytes).is_some_and(|envelope| {
                envelope.event_type == "session.revoked"
                    && match envelope.payload.get("sessionId").and_then(Value::as_str) {
                        None => true,
                        Some(revoked) => revoked == session.to_string(),
                    }
            }),
        }
    }
}

/// Whether reading failed because a message or frame was over the limit.
fn is_too_big(error: axum::Error) -> bool {
    matches!(
        error.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// The credential from `connection_init`'s payload: `authorization` (or
/// `Authorization`), as `Bearer <token>` or bare.
fn credential(payload: Option<&Value>) -> Result<Option<String>, Close> {
    let Some(payload) = payload.filter(|p| !p.is_null()) else {
        return Ok(None);
    };
    let Some(object) = payload.as_object() else {
        return Err(Close::with(
            4400,
            "the connection_init payload must be an object",
        ));
    };
    let value = object
        .get("authorization")
        .or_else(|| object.get("Authorization"));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let text = text.trim();
            let bare = match text.split_once(' ') {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                _ => text,
            };
            Ok(Some(bare.to_owned()))
        }
        Some(_) => Err(Close::with(4400, "authorization must be a string")),
    }
}

/// Waits on an optional subscription; never resolves without one.
async fn recv_or_wait(subscription: &mut Option<orbit_realtime::Subscription>) -> Option<Delivery> {
    match subscription {
        Some(subscription) => subscription.recv().await,
        None => std::future::pending().await,
    }
}
