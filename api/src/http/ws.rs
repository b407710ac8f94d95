//! GraphQL over WebSocket: `graphql-transport-ws` (and the legacy
//! `graphql-ws`), written here rather than taken from async-graphql so that
//! it does what the protocol says where that handler does not:
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
use orbit_domain::ErrorCode;
use orbit_domain::events::{Event, Topic};
use orbit_domain::ids::ApiKeyId;
use orbit_realtime::Delivery;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use super::HttpState;
use super::shared_delivery::{Render, Selection, SharedDeliveries};
use crate::graphql::observed::Operation;
use crate::graphql::{RequestId, ViewerReads, attach_request_data, present_errors};
use crate::limits::ClientAddr;
use crate::realtime::envelope::Envelope;
use crate::realtime::subscribe::{FeedHandoff, HandedFeed, RenderEvent, SubscriptionReady};
use crate::viewer::{self, Viewer};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

/// Largest message a client may send (a query with its variables).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Operations running at once on one socket.
pub const MAX_OPERATIONS: usize = 100;
/// How long an answer to the client's own message waits for room in the
/// send queue before the client counts as not reading.
const REPLY_WAIT: Duration = Duration::from_secs(10);
/// How long a `subscribe` may hold up the socket's next frame while its
/// feed starts listening (see `SubscriptionReady`).
const READY_WAIT: Duration = Duration::from_secs(5);
/// The read buffer per socket: axum's default of 128 KiB costs ~135 KB per
/// idle socket, 4 KiB costs ~7.5 KB.
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
    /// Event renderings shared by the process's subscribers.
    pub deliveries: Arc<SharedDeliveries>,
}

/// `client_addr` is the socket's peer: its operations count against the
/// per-address abuse limits like HTTP requests do.
pub(super) fn upgrade(
    state: HttpState,
    upgrade: WebSocketUpgrade,
    client_addr: Option<ClientAddr>,
) -> Response {
    upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let _open =
                crate::telemetry::GaugeGuard::new(metrics::gauge!("orbit_websocket_connections"));
            let protocol = match socket.protocol().and_then(|p| p.to_str().ok()) {
                Some(LEGACY_WS) => Protocol::Legacy,
                // The reference client always asks for graphql-transport-ws;
                // a client that names no protocol gets it too.
                _ => Protocol::TransportWs,
            };
            Connection::new(state, protocol, client_addr)
                .run(socket)
                .await;
        })
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
    /// 1013: a dependency is down; the client should reconnect later.
    fn try_again_later() -> Self {
        Self::with(1013, "Try Again Later")
    }
}

/// Whether a socket's credential still holds, as far as the database can say.
enum CredentialState {
    Live,
    Ended,
    /// The database could not be asked.
    Unknown,
}

/// What handling a frame did.
enum Handled {
    /// It was `connection_init`, and the socket is now acknowledged.
    Acknowledged,
    /// Anything else.
    Other,
}

struct Connection {
    state: HttpState,
    protocol: Protocol,
    init_received: bool,
    viewer: Option<Viewer>,
    /// The API key the socket was opened with, if any.
    api_key: Option<ApiKeyId>,
    expires_at: Option<DateTime<Utc>>,
    operations: HashMap<String, AbortHandle>,
    connection_id: String,
    /// Whether this socket counts toward its user's presence.
    present: bool,
    client_addr: Option<ClientAddr>,
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

    /// Queues an answer to the client's own message (an ack, a pong, a
    /// refusal), waiting for room: the client's messages are then read only
    /// as fast as it reads the answers, so a client that sends a burst of
    /// `subscribe`s keeps its socket as long as it reads. One that does not
    /// make room within [`REPLY_WAIT`] is not reading.
    async fn reply(&self, message: &Value) -> bool {
        let frame = Message::Text(Utf8Bytes::from(message.to_string()));
        match self.frames.send_timeout(frame, REPLY_WAIT).await {
            Ok(()) => true,
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                self.overflow.notify_one();
                false
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
        }
    }
}

impl Connection {
    fn new(state: HttpState, protocol: Protocol, client_addr: Option<ClientAddr>) -> Self {
        Self {
            state,
            protocol,
            init_received: false,
            viewer: None,
            api_key: None,
            expires_at: None,
            operations: HashMap::new(),
            connection_id: format!("ws-{}", uuid::Uuid::now_v7()),
            present: false,
            client_addr,
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
            // Whatever is queued goes out in one write: a burst (a feed
            // catching up, several operations) costs one syscall, not one
            // per frame.
            'writing: while let Some(mut frame) = queued.recv().await {
                loop {
                    let closing = matches!(frame, Message::Close(_));
                    if sink.feed(frame).await.is_err() {
                        break 'writing;
                    }
                    if closing {
                        let _ = sink.flush().await;
                        break 'writing;
                    }
                    match queued.try_recv() {
                        Ok(next) => frame = next,
                        Err(_) => break,
                    }
                }
                if sink.flush().await.is_err() {
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
        // The credential's end closes the socket: a user's session revoked
        // (their topic), a key revoked or the app deleted (the app's topic).
        let mut revocations: Option<orbit_realtime::Subscription> = None;
        let mut app_events: Option<orbit_realtime::Subscription> = None;

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
                    // Boxed, as are the other rare paths below: the socket's
                    // task then stays small while it waits (there is one per
                    // socket).
                    match Box::pin(self.handle(frame, &outbox, &finished_tx)).await {
                        Ok(Handled::Acknowledged) => {
                            let broker = self.state.services.broker();
                            if let Some(Viewer::User { user, .. }) = self.viewer {
                                revocations = Some(broker.subscribe(&Topic::User(user).key()).await);
                            }
                            if let Some(viewer) = self.viewer
                                && viewer.app() != self.state.services.console()
                            {
                                app_events = Some(broker.subscribe(&Topic::App(viewer.app().app_id()).key()).await);
                            }
                            // An event published before the watch existed is
                            // caught by checking the credential once more.
                            match Box::pin(self.credential_state()).await {
                                CredentialState::Live => {}
                                CredentialState::Ended => break Close::with(4403, "Forbidden"),
                                CredentialState::Unknown => break Close::try_again_later(),
                            }
                        }
                        Ok(Handled::Other) => {}
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
                    Some(delivery) => if let Some(close) = Box::pin(self.revoked(&delivery)).await {
                        break close;
                    },
                    // The broker is shutting down; so is this socket soon.
                    None => revocations = None,
                },
                delivery = recv_or_wait(&mut app_events) => match delivery {
                    Some(delivery) => if let Some(close) = Box::pin(self.revoked(&delivery)).await {
                        break close;
                    },
                    None => app_events = None,
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
            Box::pin(
                services
                    .presence()
                    .disconnected(services, &self.connection_id),
            )
            .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    }

    /// Handles one frame. [`Handled::Acknowledged`] when it acknowledged the
    /// socket, so the caller watches for the end of its credential.
    async fn handle(
        &mut self,
        frame: Message,
        outbox: &Outbox,
        finished: &mpsc::UnboundedSender<String>,
    ) -> Result<Handled, Close> {
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
            Message::Ping(_) | Message::Pong(_) => return Ok(Handled::Other),
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
                // 4403 only for a refused credential: clients sign their
                // user out on it, which an outage must not cause.
                let resolved =
                    viewer::resolve_credential(&self.state.services, credential.as_deref())
                        .await
                        .map_err(|error| match error.code {
                            ErrorCode::Unavailable | ErrorCode::Internal => {
                                tracing::warn!(connection = %self.connection_id, error = ?error, "could not check a socket's credential");
                                Close::try_again_later()
                            }
                            _ => Close::with(4403, "Forbidden"),
                        })?;
                let viewer = resolved.viewer;
                self.viewer = Some(viewer);
                self.expires_at = resolved.expires_at;
                self.api_key = resolved.api_key;
                // Before the ack: once acknowledged, the user is online.
                if let Viewer::User { app, user, .. } = viewer {
                    let services = &self.state.services;
                    services
                        .presence()
                        .connected(services, app, user, &self.connection_id)
                        .await;
                    self.present = true;
                }
                outbox.reply(&json!({ "type": "connection_ack" })).await;
                if self.protocol == Protocol::Legacy {
                    outbox.reply(&json!({ "type": "ka" })).await;
                }
                Ok(Handled::Acknowledged)
            }
            (Protocol::TransportWs, "ping") => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = message.payload {
                    pong["payload"] = payload;
                }
                outbox.reply(&pong).await;
                Ok(Handled::Other)
            }
            (Protocol::TransportWs, "pong") => Ok(Handled::Other),
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
                    return Ok(Handled::Other);
                }
                if self.operations.len() >= MAX_OPERATIONS {
                    outbox.reply(&json!({
                        "id": id,
                        "type": "error",
                        "payload": [{
                            "message": format!("at most {MAX_OPERATIONS} operations may run on one socket"),
                            "extensions": { "code": "RATE_LIMITED" }
                        }],
                    })).await;
                    return Ok(Handled::Other);
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
                Ok(Handled::Other)
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
                        outbox.reply(&json!({ "id": id, "type": "complete" })).await;
                    }
                }
                Ok(Handled::Other)
            }
            (Protocol::Legacy, "connection_terminate") => Err(Close::silently()),
            _ => Err(Close::with(4400, "unknown message type")),
        }
    }

    /// Runs one operation (a subscription, or a query or mutation sent over
    /// the socket) in its own task, feeding the socket's queue.
    ///
    /// A subscription's resolver checks access and opens its feed, then
    /// hands the feed over (`FeedHandoff`), and the GraphQL request ends:
    /// the task keeps only the feed, and each event's `next` payload comes
    /// from [`SharedDeliveries`], rendered once for every subscriber that
    /// asked the same.
    fn start(
        &self,
        id: String,
        mut request: GraphqlRequest,
        viewer: Viewer,
        outbox: Outbox,
        finished: mpsc::UnboundedSender<String>,
    ) -> AbortHandle {
        let request_id = RequestId(format!("{}/{id}", self.connection_id));
        // Parsed once per distinct document. Persisted queries are an HTTP
        // protocol (Apollo's link sends them by POST and GET); a socket
        // sends its documents, which a subscription's shared rendering
        // keys on, so a hash here is ignored.
        request.extensions.remove("persistedQuery");
        let prepared = self.state.documents.prepare(&mut request);
        let source = (
            request.query.clone(),
            request.operation_name.clone(),
            request.variables.clone(),
        );
        let handoff = Arc::new(FeedHandoff::default());
        // Counted in `/metrics` and the access log like an operation over
        // HTTP, once its GraphQL part is over (a subscription's, when its
        // feed is handed to the socket or it is refused).
        let operation = match &prepared {
            Ok(prepared) => prepared.operation.clone(),
            Err(_) => Operation::unknown(request.operation_name.as_deref()),
        };
        let mut request = attach_request_data(
            request.data(handoff.clone()),
            &self.state.services,
            viewer,
            request_id.clone(),
        );
        if let Some(addr) = self.client_addr {
            request = request.data(addr);
        }
        // Made here, not in the task: the task then holds the stream, not
        // the request it was made from, for as long as it runs.
        let mut responses = match prepared {
            Ok(_) => self.state.schema.execute_stream(request),
            Err(error) => {
                let refused = async_graphql::Response::from_errors(vec![error.into_server_error()]);
                futures::stream::once(async move { refused }).boxed()
            }
        };
        let state = self.state.clone();
        let protocol = self.protocol;
        let started = std::time::Instant::now();
        tokio::spawn(async move {
            let mut ended_in_error = false;
            let mut outcome = None;
            while let Some(mut response) = responses.next().await {
                let code = present_errors(&mut response.errors, &request_id);
                outcome = outcome.or(code);
                // No data and errors: the operation failed (refused at
                // subscribe time, say). That is `error`, after which nothing
                // more comes for this id.
                if !response.errors.is_empty() && response.data == async_graphql::Value::Null {
                    outbox
                        .reply(&json!({ "id": id, "type": "error", "payload": response.errors }))
                        .await;
                    ended_in_error = true;
                    break;
                }
                let Ok(payload) = serde_json::to_string(&response) else {
                    break;
                };
                if !outbox.send(next_frame(&frame_prefix(&id, protocol), &payload)) {
                    break;
                }
            }
            drop(responses);
            super::graphql_handler::observe(
                &operation,
                outcome.map_or(super::graphql_handler::OK, orbit_domain::ErrorCode::as_str),
                started.elapsed(),
                &request_id,
            );
            if let Some(handed) = handoff.take() {
                let (query, operation_name, variables) = source;
                let delivery = FeedDelivery {
                    selection: state.ws.deliveries.selection(
                        &query,
                        operation_name.as_deref(),
                        &variables,
                    ),
                    state,
                    viewer,
                    request_id,
                    prefix: frame_prefix(&id, protocol),
                };
                // The selection keeps its own copy (one for all who share
                // it); this subscription's goes before it starts waiting.
                drop((query, operation_name, variables));
                // Down again when the feed ends or the task is aborted
                // (`complete`, or the socket closing).
                let _listening =
                    crate::telemetry::GaugeGuard::new(metrics::gauge!("orbit_subscriptions"));
                ended_in_error = delivery.run(handed, &id, &outbox).await;
            }
            if !ended_in_error || protocol == Protocol::Legacy {
                outbox.reply(&json!({ "id": id, "type": "complete" })).await;
            }
            let _ = finished.send(id);
        })
        .abort_handle()
    }

    /// Whether the socket's credential still lets it in: a user's session
    /// live, a key not revoked (nor its app deleted, which deletes both).
    async fn credential_state(&self) -> CredentialState {
        let services = &self.state.services;
        let found = match (self.viewer, self.api_key) {
            (
                Some(Viewer::User {
                    app, user, session, ..
                }),
                _,
            ) => {
                let now = services.clock().now();
                orbit_persistence::sessions::find_live(services.db(), app, session, user, now)
                    .await
                    .map(|live| live.is_some())
            }
            (Some(viewer), Some(key)) => {
                orbit_persistence::api_keys::find(services.db(), viewer.app(), key)
                    .await
                    .map(|found| found.is_some_and(|found| found.revoked_at.is_none()))
            }
            _ => Ok(true),
        };
        match found {
            Ok(true) => CredentialState::Live,
            Ok(false) => CredentialState::Ended,
            Err(error) => {
                tracing::warn!(connection = %self.connection_id, error = ?error, "could not check a socket's credential");
                CredentialState::Unknown
            }
        }
    }

    /// How the socket ends, if a message on the user's or the app's topic
    /// ends its credential; a gap in either is checked against the
    /// database, and a database that cannot say closes it with 1013.
    async fn revoked(&self, delivery: &Delivery) -> Option<Close> {
        let forbidden = || Some(Close::with(4403, "Forbidden"));
        let envelope = match delivery {
            Delivery::Gap { .. } => {
                return match self.credential_state().await {
                    CredentialState::Live => None,
                    CredentialState::Ended => forbidden(),
                    CredentialState::Unknown => Some(Close::try_again_later()),
                };
            }
            Delivery::Message(bytes) => Envelope::decode_shared(bytes)?,
        };
        let ended = match (&envelope.event, self.viewer, self.api_key) {
            (Event::AppDeleted(_), _, _) => true,
            (Event::SessionRevoked(revoked), Some(Viewer::User { session, .. }), _) => {
                revoked.session_id.is_none_or(|revoked| revoked == session)
            }
            (Event::ApiKeyRevoked(revoked), _, Some(key)) => revoked.key_id == key,
            _ => false,
        };
        if ended { forbidden() } else { None }
    }
}

/// A subscription's feed, delivered to one socket.
struct FeedDelivery {
    state: HttpState,
    selection: Option<Arc<Selection>>,
    viewer: Viewer,
    request_id: RequestId,
    /// The frame up to its payload: `{"id":…,"type":"next","payload":`.
    prefix: String,
}

impl FeedDelivery {
    /// Delivers until the feed ends or the socket stops taking frames;
    /// true when it ended with an `error`.
    async fn run(self, mut handed: HandedFeed, id: &str, outbox: &Outbox) -> bool {
        let Some(selection) = &self.selection else {
            tracing::error!(request_id = %self.request_id.0, "a running subscription whose document does not parse");
            return self.fail(
                vec![async_graphql::ServerError::new(
                    format!("internal error (request id {})", self.request_id.0),
                    None,
                )],
                id,
                outbox,
            );
        };
        while let Some(item) = handed.feed.next().await {
            let (envelope, position) = match item {
                Ok(delivered) => delivered,
                Err(error) => {
                    let mut errors = vec![server_error(error)];
                    present_errors(&mut errors, &self.request_id);
                    return self.fail(errors, id, outbox);
                }
            };
            if !(handed.shows)(&envelope) {
                continue;
            }
            let deliveries = &self.state.ws.deliveries;
            let rendered = match deliveries.rendered(selection, &envelope, position) {
                Some(text) => Render::Payload {
                    text,
                    shareable: true,
                },
                // Boxed: a rendering runs a GraphQL request, whose future is
                // large and needed once per event, not while waiting.
                None => {
                    Box::pin(deliveries.render(selection, &envelope, position, || {
                        self.render(selection, envelope.clone(), position)
                    }))
                    .await
                }
            };
            match rendered {
                Render::Payload { text, .. } => {
                    if !outbox.send(next_frame(&self.prefix, &text)) {
                        return false;
                    }
                }
                Render::Nothing => {}
                Render::Failed(errors) => return self.fail(errors, id, outbox),
            }
        }
        false
    }

    /// Runs the subscription's selection on one event, as this subscriber.
    async fn render(
        &self,
        selection: &Selection,
        envelope: Arc<Envelope>,
        position: i64,
    ) -> Render {
        let reads = Arc::new(ViewerReads::default());
        let request = selection
            .request()
            .data(RenderEvent::new(envelope, position))
            .data(reads.clone());
        let request = attach_request_data(
            request,
            &self.state.services,
            self.viewer,
            self.request_id.clone(),
        );
        let mut responses = self.state.schema.execute_stream(request);
        let Some(mut response) = responses.next().await else {
            return Render::Nothing;
        };
        present_errors(&mut response.errors, &self.request_id);
        if !response.errors.is_empty() && response.data == async_graphql::Value::Null {
            return Render::Failed(response.errors);
        }
        match serde_json::to_string(&response) {
            Ok(text) => Render::Payload {
                text: Arc::from(text),
                // Errors carry the request id, which is this subscriber's.
                shareable: response.errors.is_empty() && !reads.happened(),
            },
            Err(_) => Render::Nothing,
        }
    }

    fn fail(&self, errors: Vec<async_graphql::ServerError>, id: &str, outbox: &Outbox) -> bool {
        outbox.json(&json!({ "id": id, "type": "error", "payload": errors }));
        true
    }
}

fn server_error(error: orbit_domain::DomainError) -> async_graphql::ServerError {
    let mut error = async_graphql::Error::from(error).into_server_error(Default::default());
    error.locations.clear();
    error
}

/// `{"id":<id>,"type":"next","payload":` (or legacy `data`): what every
/// frame of one operation starts with.
fn frame_prefix(id: &str, protocol: Protocol) -> String {
    format!(
        r#"{{"id":{},"type":"{}","payload":"#,
        Value::String(id.to_owned()),
        protocol.next_type()
    )
}

fn next_frame(prefix: &str, payload: &str) -> Message {
    let mut frame = String::with_capacity(prefix.len() + payload.len() + 1);
    frame.push_str(prefix);
    frame.push_str(payload);
    frame.push('}');
    Message::Text(Utf8Bytes::from(frame))
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
    // Postgres cannot store U+0000 and no credential holds one: malformed.
    if orbit_domain::validation::json_has_nul(payload) {
        return Err(Close::with(
            4400,
            "the connection_init payload must not contain U+0000",
        ));
    }
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
