//! GraphQL over WebSocket: `graphql-transport-ws` (and the legacy
//! `graphql-ws`), written here rather than taken from async-graphql so that
//! it does what the protocol says where that handler does not:
//! 4408 without a timely `connection_init`, 4401 on `subscribe` before the
//! ack, 4409 on a repeated id, 4400 on anything malformed.
//!
//! Each socket is one task. It reads the client's frames, runs their
//! operations, polls the feeds of its subscriptions and writes the frames
//! they make, so a delivery costs one wake-up and no queue hop: a feed's
//! event becomes the shared frame of its rendering (`shared_delivery`),
//! queued for this socket and written with whatever else is queued in one
//! flush. The queue is bounded: an event that finds it full means the
//! client is not reading, and the socket is dropped rather than letting it
//! hold memory or slow the fan-out to everyone else.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use async_graphql::Request as GraphqlRequest;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, SplitSink, SplitStream};
use futures::task::{ArcWake, AtomicWaker};
use futures::{Sink, SinkExt, StreamExt};
use orbit_domain::ErrorCode;
use orbit_domain::events::{Event, Topic};
use orbit_domain::ids::ApiKeyId;
use orbit_realtime::Delivery;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::HttpState;
use super::shared_delivery::{Render, Selection, SharedDeliveries, SharedRendering};
use super::stream_set::{StreamKey, StreamSet};
use crate::graphql::observed::Operation;
use crate::graphql::{RequestId, ViewerReads, attach_request_data, present_errors};
use crate::limits::ClientAddr;
use crate::realtime::envelope::Envelope;
use crate::realtime::subscribe::{FeedHandoff, HandedFeed, RenderEvent};
use crate::viewer::{self, Viewer};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

/// Largest message a client may send (a query with its variables).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Operations running at once on one socket.
pub const MAX_OPERATIONS: usize = 100;
/// How long an operation may hold up the socket's next frame: a
/// `subscribe` is answered (its feed listening, or refused) before the
/// client's next frame is read, so a `pong` after it means "subscribed".
const READY_WAIT: Duration = Duration::from_secs(5);
/// How long a close frame may take to go out before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
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

/// How a socket ends.
enum Close {
    /// With this close frame.
    With(u16, &'static str),
    /// The client left (or sent its own close): what is queued still goes
    /// out, within [`CLOSE_WAIT`], but no close frame of ours.
    Quietly,
    /// The client stopped reading: dropped at once, nothing more written.
    Abandon,
}

impl Close {
    fn with(code: u16, reason: &'static str) -> Self {
        Self::With(code, reason)
    }
    fn silently() -> Self {
        Self::Quietly
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

/// What one turn of a socket's task ended with.
enum Turn {
    /// The client's next frame.
    ClientFrame(Message),
    Close(Close),
}

/// Inputs taken in one turn before the socket writes and yields: a feed
/// catching up does not hold the worker thread for its whole backlog.
const INPUTS_PER_TURN: usize = 64;

/// What a socket's task waits on beside the client's frames. They are kept
/// in one [`StreamSet`], which polls only what woke it: a delivery on one
/// feed does not poll the socket's other feeds or its credential watches.
enum Input {
    /// An operation's GraphQL part ended.
    Operation(OperationDone),
    /// A subscription's feed made a frame, or ended.
    Feed(FeedOutput),
    /// A message on the user's or the app's topic, which may end the
    /// socket's credential.
    Credential(Delivery),
    /// The database's answer on whether the credential still holds.
    CredentialChecked(CredentialState),
    /// The process-wide second, for a token that expires.
    Tick,
    /// The server is shutting down.
    Shutdown,
}

/// The end of an operation's GraphQL part: its frames, and for a
/// subscription the feed the socket now delivers.
struct OperationDone {
    id: String,
    frames: Vec<Message>,
    feed: Option<BoxStream<'static, Input>>,
}

enum FeedOutput {
    Frame(Message),
    /// The feed is over; `error` (an `error` frame) when it failed.
    Ended {
        id: String,
        error: Option<Message>,
    },
}

/// Frames waiting to be written to the socket.
struct Outgoing {
    frames: VecDeque<Message>,
    /// `ORBIT_WS_SEND_QUEUE`: an event that finds this many frames waiting
    /// means the client is not reading.
    limit: usize,
    /// Frames were handed to the socket since its last flush.
    unflushed: bool,
}

/// Room the queue keeps once it is empty again; a burst (a feed catching
/// up) does not leave an idle socket holding more.
const QUEUE_ROOM_KEPT: usize = 16;

impl Outgoing {
    fn new(limit: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            limit: limit.max(1),
            unflushed: false,
        }
    }

    fn is_full(&self) -> bool {
        self.frames.len() >= self.limit
    }

    /// Queues an event's frame; `false` when the queue is full, which means
    /// the client is not reading.
    #[must_use]
    fn event(&mut self, frame: Message) -> bool {
        if self.is_full() {
            return false;
        }
        self.frames.push_back(frame);
        true
    }

    /// Queues an answer to the client's own message. Never refused: the
    /// client's frames are not read while the queue is full, so a client
    /// is read at the pace it reads the answers.
    fn reply(&mut self, frame: Message) {
        self.frames.push_back(frame);
    }

    fn json(&mut self, message: &Value) {
        self.reply(json_frame(message));
    }

    fn has_work(&self) -> bool {
        !self.frames.is_empty() || self.unflushed
    }

    /// Hands queued frames to the socket while it takes them, then flushes,
    /// so a burst goes out in one write. Safe to stop at any point: a frame
    /// leaves the queue only when the socket has taken it.
    fn poll_write(
        &mut self,
        sink: &mut SplitSink<WebSocket, Message>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), axum::Error>> {
        while !self.frames.is_empty() {
            ready!(Pin::new(&mut *sink).poll_ready(cx))?;
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            Pin::new(&mut *sink).start_send(frame)?;
            self.unflushed = true;
        }
        if self.unflushed {
            ready!(Pin::new(&mut *sink).poll_flush(cx))?;
            self.unflushed = false;
        }
        if self.frames.capacity() > QUEUE_ROOM_KEPT {
            self.frames = VecDeque::new();
        }
        Poll::Ready(Ok(()))
    }

    async fn write(&mut self, sink: &mut SplitSink<WebSocket, Message>) -> Result<(), axum::Error> {
        std::future::poll_fn(|cx| self.poll_write(sink, cx)).await
    }
}

/// The client's side of the socket, read only when it woke since it was
/// last read.
///
/// A turn reads the client only then: most turns only write a delivery,
/// and a read attempt on a socket with nothing to read still costs
/// tungstenite's buffer work (zeroing its read chunk) and a waker
/// registration. The read is polled with this waker, so the socket's
/// readiness (a frame, or the client closing) sets the flag and wakes the
/// socket's task.
struct ClientSide {
    stream: SplitStream<WebSocket>,
    signal: Arc<ClientSignal>,
    /// `signal` as a `Waker`, made once.
    waker: Waker,
}

struct ClientSignal {
    woke: AtomicBool,
    task: AtomicWaker,
}

impl ArcWake for ClientSignal {
    fn wake_by_ref(this: &Arc<Self>) {
        this.woke.store(true, Ordering::Release);
        this.task.wake();
    }
}

impl ClientSide {
    fn new(stream: SplitStream<WebSocket>) -> Self {
        // Woken to begin with: the first turn reads.
        let signal = Arc::new(ClientSignal {
            woke: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = futures::task::waker(signal.clone());
        Self {
            stream,
            signal,
            waker,
        }
    }

    /// The client's next frame, if the client's side woke since it was last
    /// read; `Pending` (without reading) when it did not.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, axum::Error>>> {
        self.signal.task.register(cx.waker());
        if !self.signal.woke.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let frame = self
            .stream
            .poll_next_unpin(&mut Context::from_waker(&self.waker));
        if frame.is_ready() {
            // More may be buffered without another wake-up.
            self.signal.woke.store(true, Ordering::Release);
        }
        frame
    }
}

struct Connection {
    state: Arc<HttpState>,
    protocol: Protocol,
    init_received: bool,
    viewer: Option<Viewer>,
    /// The API key the socket was opened with, if any.
    api_key: Option<ApiKeyId>,
    expires_at: Option<DateTime<Utc>>,
    /// Each running operation's input: its GraphQL part, then its feed.
    operations: HashMap<String, StreamKey>,
    /// An operation whose answer comes before the client's next frame is
    /// read, and the end of how long it may hold that frame up.
    awaited: Option<(String, Pin<Box<tokio::time::Sleep>>)>,
    connection_id: String,
    /// Whether this socket counts toward its user's presence.
    present: bool,
    client_addr: Option<ClientAddr>,
}

impl Connection {
    fn new(state: HttpState, protocol: Protocol, client_addr: Option<ClientAddr>) -> Self {
        Self {
            state: Arc::new(state),
            protocol,
            init_received: false,
            viewer: None,
            api_key: None,
            expires_at: None,
            operations: HashMap::new(),
            awaited: None,
            connection_id: format!("ws-{}", uuid::Uuid::now_v7()),
            present: false,
            client_addr,
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let (mut sink, stream) = socket.split();
        let mut out = Outgoing::new(self.state.ws.send_queue);
        let mut client = ClientSide::new(stream);
        let mut inputs = StreamSet::default();
        inputs.insert(
            changes(self.state.ws.shutdown.clone())
                .map(|()| Input::Shutdown)
                .boxed(),
        );
        // Dropped once acknowledged: a timer left in the wheel would wake
        // every socket once more, for nothing, when it fired.
        let mut init_deadline = Some(Box::pin(tokio::time::sleep(self.state.ws.init_timeout)));

        let close = loop {
            let turn = std::future::poll_fn(|cx| {
                self.poll_turn(
                    cx,
                    &mut out,
                    &mut inputs,
                    &mut sink,
                    &mut client,
                    &mut init_deadline,
                )
            })
            .await;
            let frame = match turn {
                Turn::Close(close) => break close,
                Turn::ClientFrame(frame) => frame,
            };
            // Boxed, as are the other rare paths below: the socket's task
            // then stays small while it waits (there is one per socket).
            match Box::pin(self.handle(frame, &mut out, &mut inputs)).await {
                Ok(Handled::Acknowledged) => {
                    init_deadline = None;
                    if let Some(close) = Box::pin(self.watch_credential(&mut inputs)).await {
                        break close;
                    }
                }
                Ok(Handled::Other) => {}
                Err(close) => break close,
            }
        };
        // Operations and feeds end here, with the task that polled them.
        drop(inputs);
        if self.present {
            let services = &self.state.services;
            Box::pin(
                services
                    .presence()
                    .disconnected(services, &self.connection_id),
            )
            .await;
        }
        let code = match close {
            Close::Abandon => return,
            Close::With(code, reason) => Some((code, reason)),
            Close::Quietly => None,
        };
        if let Some((code, reason)) = code {
            // Past the queue's limit: the close must go out even when it is full.
            out.reply(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            })));
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            if out.write(&mut sink).await.is_ok() {
                let _ = sink.close().await;
            }
        })
        .await;
    }

    /// One turn of the socket's task: takes what its inputs have ready
    /// (queueing their frames), writes what is queued in one flush, then
    /// reads the client. A delivery is one turn: one wake-up, one write.
    /// Ready with the client's next frame, which is handled outside (it
    /// may wait on the database), or with how the socket ends.
    fn poll_turn(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut Outgoing,
        inputs: &mut StreamSet<Input>,
        sink: &mut SplitSink<WebSocket, Message>,
        client: &mut ClientSide,
        init_deadline: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    ) -> Poll<Turn> {
        let mut taken = 0;
        while taken < INPUTS_PER_TURN {
            // A burst (many subscriptions of this socket, one event) may
            // outgrow the queue: the socket takes what it can first, and
            // only a queue still full after that means the client is not
            // reading.
            if out.is_full() && matches!(out.poll_write(sink, cx), Poll::Ready(Err(_))) {
                return Poll::Ready(Turn::Close(Close::Abandon));
            }
            let Poll::Ready(input) = inputs.poll_next(cx) else {
                break;
            };
            taken += 1;
            if let Some(close) = self.take(input, out, inputs) {
                return Poll::Ready(Turn::Close(close));
            }
        }
        if out.has_work()
            && let Poll::Ready(Err(_)) = out.poll_write(sink, cx)
        {
            return Poll::Ready(Turn::Close(Close::Abandon));
        }
        if let Some((_, until)) = &mut self.awaited
            && until.as_mut().poll(cx).is_ready()
        {
            self.awaited = None;
        }
        // The client's next frame waits while an answer to its last one is
        // due, and while it is not reading what it was sent.
        if self.awaited.is_none()
            && !out.is_full()
            && let Poll::Ready(frame) = client.poll_frame(cx)
        {
            return Poll::Ready(match frame {
                Some(Ok(frame)) => Turn::ClientFrame(frame),
                Some(Err(error)) => Turn::Close(if is_too_big(error) {
                    Close::with(1009, "message too big")
                } else {
                    Close::silently()
                }),
                None => Turn::Close(Close::silently()),
            });
        }
        if let Some(deadline) = init_deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Turn::Close(Close::with(
                4408,
                "Connection initialisation timeout",
            )));
        }
        if taken == INPUTS_PER_TURN {
            // More may be ready (a feed catching up): they come next turn,
            // after the runtime's other tasks had theirs.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Acts on one input; `Some` when it ends the socket.
    fn take(
        &mut self,
        input: Input,
        out: &mut Outgoing,
        inputs: &mut StreamSet<Input>,
    ) -> Option<Close> {
        match input {
            Input::Operation(done) => self.operation_done(done, out, inputs),
            Input::Feed(FeedOutput::Frame(frame)) => {
                if !out.event(frame) {
                    tracing::info!(connection = %self.connection_id, "closing a socket whose client stopped reading");
                    return Some(Close::Abandon);
                }
            }
            Input::Feed(FeedOutput::Ended { id, error }) => {
                self.operations.remove(&id);
                let failed = error.is_some();
                if let Some(error) = error {
                    out.reply(error);
                }
                if !failed || self.protocol == Protocol::Legacy {
                    out.reply(complete_frame(&id));
                }
            }
            Input::Credential(delivery) => match self.revoked(&delivery) {
                Revoked::No => {}
                Revoked::Yes => return Some(Close::with(4403, "Forbidden")),
                // Asked beside the feeds, never in their way: a feed of this
                // socket may hold a database connection mid-read, which only
                // polling it gives back.
                Revoked::AskTheDatabase => {
                    inputs.insert(
                        futures::stream::once(self.credential_state())
                            .map(Input::CredentialChecked)
                            .boxed(),
                    );
                }
            },
            Input::CredentialChecked(state) => match state {
                CredentialState::Live => {}
                CredentialState::Ended => return Some(Close::with(4403, "Forbidden")),
                CredentialState::Unknown => return Some(Close::try_again_later()),
            },
            Input::Tick => {
                if self
                    .expires_at
                    .is_some_and(|at| self.state.services.clock().now() >= at)
                {
                    return Some(Close::with(4403, "Forbidden"));
                }
            }
            Input::Shutdown => return Some(Close::with(1001, "server shutting down")),
        }
        None
    }

    /// Once acknowledged, the credential's end closes the socket: a user's
    /// session revoked (their topic), a key revoked or the app deleted (the
    /// app's topic), a token past its expiry.
    async fn watch_credential(&self, inputs: &mut StreamSet<Input>) -> Option<Close> {
        let broker = self.state.services.broker();
        if let Some(Viewer::User { user, .. }) = self.viewer {
            let revocations = broker.subscribe(&Topic::User(user).key()).await;
            inputs.insert(deliveries(revocations).map(Input::Credential).boxed());
        }
        if let Some(viewer) = self.viewer
            && viewer.app() != self.state.services.console()
        {
            let app_events = broker
                .subscribe(&Topic::App(viewer.app().app_id()).key())
                .await;
            inputs.insert(deliveries(app_events).map(Input::Credential).boxed());
        }
        if self.expires_at.is_some() {
            inputs.insert(
                changes(self.state.ws.ticks.clone())
                    .map(|()| Input::Tick)
                    .boxed(),
            );
        }
        // An event published before the watch existed is caught by checking
        // the credential once more.
        match self.credential_state().await {
            CredentialState::Live => None,
            CredentialState::Ended => Some(Close::with(4403, "Forbidden")),
            CredentialState::Unknown => Some(Close::try_again_later()),
        }
    }

    /// An operation's GraphQL part is over: its frames go out, and a
    /// subscription's feed joins the socket's inputs under its id.
    fn operation_done(
        &mut self,
        done: OperationDone,
        out: &mut Outgoing,
        inputs: &mut StreamSet<Input>,
    ) {
        if self.awaited.as_ref().is_some_and(|(id, _)| *id == done.id) {
            self.awaited = None;
        }
        for frame in done.frames {
            out.reply(frame);
        }
        match done.feed {
            Some(feed) => {
                self.operations.insert(done.id, inputs.insert(feed));
            }
            None => {
                self.operations.remove(&done.id);
            }
        }
    }

    /// Handles one frame. [`Handled::Acknowledged`] when it acknowledged the
    /// socket, so the caller watches for the end of its credential.
    async fn handle(
        &mut self,
        frame: Message,
        out: &mut Outgoing,
        inputs: &mut StreamSet<Input>,
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
                out.json(&json!({ "type": "connection_ack" }));
                if self.protocol == Protocol::Legacy {
                    out.json(&json!({ "type": "ka" }));
                }
                Ok(Handled::Acknowledged)
            }
            (Protocol::TransportWs, "ping") => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = message.payload {
                    pong["payload"] = payload;
                }
                out.json(&pong);
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
                    out.json(&json!({
                        "id": id,
                        "type": "error",
                        "payload": [{
                            "message": format!("at most {MAX_OPERATIONS} operations may run on one socket"),
                            "extensions": { "code": "RATE_LIMITED" }
                        }],
                    }));
                    return Ok(Handled::Other);
                }
                let operation = inputs.insert(self.start(id.clone(), request, viewer));
                self.operations.insert(id.clone(), operation);
                // Its answer (the feed listening, or the refusal) comes
                // before the client's next frame is read.
                self.awaited = Some((id, Box::pin(tokio::time::sleep(READY_WAIT))));
                Ok(Handled::Other)
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                let id = message
                    .id
                    .ok_or_else(|| Close::with(4400, "complete needs an id"))?;
                if let Some(operation) = self.operations.remove(&id) {
                    inputs.remove(operation);
                    // The legacy protocol confirms a `stop`; the current one
                    // sends nothing more for the id.
                    if self.protocol == Protocol::Legacy {
                        out.reply(complete_frame(&id));
                    }
                }
                Ok(Handled::Other)
            }
            (Protocol::Legacy, "connection_terminate") => Err(Close::silently()),
            _ => Err(Close::with(4400, "unknown message type")),
        }
    }

    /// One operation (a subscription, or a query or mutation sent over the
    /// socket), as an input of the socket's task, and what stops it.
    ///
    /// A subscription's resolver checks access and opens its feed, then
    /// hands the feed over (`FeedHandoff`), and the GraphQL request ends:
    /// the socket keeps only the feed, and each event's `next` frame comes
    /// from [`SharedDeliveries`], rendered once for every subscriber that
    /// asked the same.
    fn start(
        &self,
        id: String,
        mut request: GraphqlRequest,
        viewer: Viewer,
    ) -> BoxStream<'static, Input> {
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
        // Made here, not in the future: the future then holds the stream,
        // not the request it was made from, for as long as it runs.
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
        let graphql_part = async move {
            let mut frames = Vec::new();
            let mut ended_in_error = false;
            let mut outcome = None;
            while let Some(mut response) = responses.next().await {
                let code = present_errors(&mut response.errors, &request_id);
                outcome = outcome.or(code);
                // No data and errors: the operation failed (refused at
                // subscribe time, say). That is `error`, after which nothing
                // more comes for this id.
                if !response.errors.is_empty() && response.data == async_graphql::Value::Null {
                    frames.push(json_frame(
                        &json!({ "id": id, "type": "error", "payload": response.errors }),
                    ));
                    ended_in_error = true;
                    break;
                }
                let Ok(payload) = serde_json::to_string(&response) else {
                    break;
                };
                frames.push(next_frame(&frame_prefix(&id, protocol), &payload));
            }
            drop(responses);
            super::graphql_handler::observe(
                &operation,
                outcome.map_or(super::graphql_handler::OK, orbit_domain::ErrorCode::as_str),
                started.elapsed(),
                &request_id,
            );
            let feed = match handoff.take() {
                Some(handed) => {
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
                    Some(delivery.into_stream(handed, id.clone()).boxed())
                }
                None => {
                    if !ended_in_error || protocol == Protocol::Legacy {
                        frames.push(complete_frame(&id));
                    }
                    None
                }
            };
            Input::Operation(OperationDone { id, frames, feed })
        };
        futures::stream::once(graphql_part).boxed()
    }

    /// Whether the socket's credential still lets it in: a user's session
    /// live, a key not revoked (nor its app deleted, which deletes both).
    /// Owns what it needs, so that it can run beside the socket's feeds.
    fn credential_state(&self) -> impl Future<Output = CredentialState> + Send + use<> {
        let services = self.state.services.clone();
        let (viewer, api_key) = (self.viewer, self.api_key);
        let connection_id = self.connection_id.clone();
        async move {
            let found = match (viewer, api_key) {
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
                    tracing::warn!(connection = %connection_id, error = ?error, "could not check a socket's credential");
                    CredentialState::Unknown
                }
            }
        }
    }

    /// Whether a message on the user's or the app's topic ends the
    /// socket's credential; after a gap in either, only the database can
    /// say (and one that cannot closes the socket with 1013).
    fn revoked(&self, delivery: &Delivery) -> Revoked {
        let envelope = match delivery {
            Delivery::Gap { .. } => return Revoked::AskTheDatabase,
            Delivery::Message(bytes) => match Envelope::decode_shared(bytes) {
                Some(envelope) => envelope,
                None => return Revoked::No,
            },
        };
        let ended = match (&envelope.event, self.viewer, self.api_key) {
            (Event::AppDeleted(_), _, _) => true,
            (Event::SessionRevoked(revoked), Some(Viewer::User { session, .. }), _) => {
                revoked.session_id.is_none_or(|revoked| revoked == session)
            }
            (Event::ApiKeyRevoked(revoked), _, Some(key)) => revoked.key_id == key,
            _ => false,
        };
        if ended { Revoked::Yes } else { Revoked::No }
    }
}

enum Revoked {
    No,
    Yes,
    AskTheDatabase,
}

/// A subscription's feed, delivered to one socket.
struct FeedDelivery {
    state: Arc<HttpState>,
    selection: Option<Arc<Selection>>,
    viewer: Viewer,
    request_id: RequestId,
    /// The frame up to its payload: `{"id":…,"type":"next","payload":`.
    prefix: String,
}

impl FeedDelivery {
    /// The feed's frames, as inputs of the socket's task, ending with
    /// [`FeedOutput::Ended`].
    fn into_stream(
        self,
        handed: HandedFeed,
        id: String,
    ) -> impl futures::Stream<Item = Input> + Send + use<> {
        // Down again when the feed ends or is stopped (`complete`, or the
        // socket closing).
        let listening = crate::telemetry::GaugeGuard::new(metrics::gauge!("orbit_subscriptions"));
        futures::stream::unfold(Some((self, handed, id, listening)), |running| async move {
            let (delivery, mut handed, id, listening) = running?;
            match delivery.next(&mut handed, &id).await {
                Some(Ok(frame)) => Some((
                    Input::Feed(FeedOutput::Frame(frame)),
                    Some((delivery, handed, id, listening)),
                )),
                Some(Err(error)) => Some((
                    Input::Feed(FeedOutput::Ended {
                        id,
                        error: Some(error),
                    }),
                    None,
                )),
                None => Some((Input::Feed(FeedOutput::Ended { id, error: None }), None)),
            }
        })
    }

    /// The feed's next frame: `None` when the feed is over, an `error`
    /// frame when it failed.
    async fn next(&self, handed: &mut HandedFeed, id: &str) -> Option<Result<Message, Message>> {
        let Some(selection) = &self.selection else {
            tracing::error!(request_id = %self.request_id.0, "a running subscription whose document does not parse");
            return Some(Err(self.failure(
                vec![async_graphql::ServerError::new(
                    format!("internal error (request id {})", self.request_id.0),
                    None,
                )],
                id,
            )));
        };
        while let Some(item) = handed.feed.next().await {
            let (envelope, position) = match item {
                Ok(delivered) => delivered,
                Err(error) => {
                    let mut errors = vec![server_error(error)];
                    present_errors(&mut errors, &self.request_id);
                    return Some(Err(self.failure(errors, id)));
                }
            };
            if !(handed.shows)(&envelope) {
                continue;
            }
            let deliveries = &self.state.ws.deliveries;
            let rendered = match deliveries.rendered(selection, &envelope, position) {
                Some(shared) => Render::Shared(shared),
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
                Render::Shared(shared) => return Some(Ok(self.shared_frame(&shared))),
                Render::Payload { text, .. } => {
                    return Some(Ok(next_frame(&self.prefix, &text)));
                }
                Render::Nothing => {}
                Render::Failed(errors) => return Some(Err(self.failure(errors, id))),
            }
        }
        None
    }

    /// The shared rendering's frame for this operation's id, the same bytes
    /// for every socket whose operation has this id.
    fn shared_frame(&self, shared: &SharedRendering) -> Message {
        Message::Text(shared.frame(&self.prefix, frame_text))
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
        let mut responses = self.state.render_schema.execute_stream(request);
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

    fn failure(&self, errors: Vec<async_graphql::ServerError>, id: &str) -> Message {
        json_frame(&json!({ "id": id, "type": "error", "payload": errors }))
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
    Message::Text(frame_text(prefix, payload))
}

fn frame_text(prefix: &str, payload: &str) -> Utf8Bytes {
    let mut frame = String::with_capacity(prefix.len() + payload.len() + 1);
    frame.push_str(prefix);
    frame.push_str(payload);
    frame.push('}');
    Utf8Bytes::from(frame)
}

fn json_frame(message: &Value) -> Message {
    Message::Text(Utf8Bytes::from(message.to_string()))
}

/// Nothing more comes for the operation `id`.
fn complete_frame(id: &str) -> Message {
    json_frame(&json!({ "id": id, "type": "complete" }))
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

/// A topic's deliveries as a stream, held by the socket's task for as long
/// as it watches the topic.
fn deliveries(
    subscription: orbit_realtime::Subscription,
) -> impl futures::Stream<Item = Delivery> + Send + use<> {
    futures::stream::unfold(subscription, |mut subscription| async move {
        let delivery = subscription.recv().await?;
        Some((delivery, subscription))
    })
}

/// Each change of a watched value, until its sender is gone.
fn changes<T: Send + Sync + 'static>(
    receiver: watch::Receiver<T>,
) -> impl futures::Stream<Item = ()> + Send + use<T> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.changed().await.ok()?;
        Some(((), receiver))
    })
}
