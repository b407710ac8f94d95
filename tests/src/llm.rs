//! A fake OpenAI-compatible chat completions server on loopback, speaking
//! the real protocol: `POST /v1/chat/completions` answered with server-sent
//! events (`data: {chunk}` lines, a usage chunk, `data: [DONE]`). It records
//! each request (its `Authorization` header and JSON body) and behaves as
//! the test says: streams, fails with a status, or stalls until released.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The model name the fake reports in its chunks.
pub const FAKE_MODEL: &str = "fake-model-001";

#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Streams these pieces, then usage (prompt, completion tokens), then `[DONE]`.
    Stream {
        pieces: Vec<String>,
        usage: (i32, i32),
    },
    /// Answers `status` with an OpenAI-style error body (and `Retry-After`).
    Fail {
        status: u16,
        message: String,
        retry_after: Option<String>,
    },
    /// Streams these pieces, then sends nothing until [`FakeLlm::release`],
    /// then `[DONE]`.
    StallAfter { pieces: Vec<String> },
    /// The n-th request (since it was set) gets the n-th turn (the last
    /// one again once they run out): a model that calls tools, then answers.
    Turns(Vec<FakeTurn>),
    /// Whatever the order of requests (replies running side by side): a
    /// conversation with no tool result yet gets the call (its id made
    /// from the request's number), one with a result gets the text.
    CallThenAnswer {
        name: String,
        arguments: Value,
        text: String,
    },
}

/// One answer of a model that may call tools.
#[derive(Debug, Clone)]
pub enum FakeTurn {
    /// Text in these pieces.
    Text {
        pieces: Vec<String>,
        usage: (i32, i32),
    },
    /// Calls of tools: (the call's id, the tool's name, the arguments' JSON
    /// text), streamed as OpenAI does: the id and name first, then the
    /// arguments in fragments, then `finish_reason: "tool_calls"`.
    ToolCalls {
        calls: Vec<(String, String, String)>,
        usage: (i32, i32),
    },
}

impl FakeTurn {
    pub fn text(text: &str) -> Self {
        FakeTurn::Text {
            pieces: vec![text.to_owned()],
            usage: (10, 5),
        }
    }

    /// One call of `name` with `arguments`.
    pub fn call(id: &str, name: &str, arguments: Value) -> Self {
        FakeTurn::ToolCalls {
            calls: vec![(id.to_owned(), name.to_owned(), arguments.to_string())],
            usage: (20, 8),
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub authorization: Option<String>,
    pub body: Value,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    received: Mutex<Vec<Received>>,
    /// How many requests came before the behaviour was last set: turns
    /// count from there.
    turns_from: Mutex<usize>,
    arrived: Notify,
    release: Notify,
}

pub struct FakeLlm {
    /// `http://127.0.0.1:<port>/v1`: what a provider's `baseUrl` is set to.
    pub base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn sse(data: &Value) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

fn chunk(delta: Value, finish_reason: Option<&str>) -> Bytes {
    sse(&json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": FAKE_MODEL,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }],
    }))
}

fn usage_chunk(usage: (i32, i32)) -> Bytes {
    sse(&json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": FAKE_MODEL,
        "choices": [],
        "usage": { "prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1 },
    }))
}

/// A turn as the events OpenAI streams for it.
fn turn_events(turn: &FakeTurn) -> Vec<Bytes> {
    let mut events = Vec::new();
    match turn {
        FakeTurn::Text { pieces, usage } => {
            events.extend(pieces.iter().map(|p| piece(p)));
            events.push(chunk(json!({}), Some("stop")));
            events.push(usage_chunk(*usage));
        }
        FakeTurn::ToolCalls { calls, usage } => {
            for (index, (id, name, arguments)) in calls.iter().enumerate() {
                events.push(chunk(
                    json!({ "role": "assistant", "content": null, "tool_calls": [{
                        "index": index, "id": id, "type": "function",
                        "function": { "name": name, "arguments": "" },
                    }] }),
                    None,
                ));
                let chars: Vec<char> = arguments.chars().collect();
                for fragment in chars.chunks(7) {
                    let fragment: String = fragment.iter().collect();
                    events.push(chunk(
                        json!({ "tool_calls": [{ "index": index, "function": { "arguments": fragment } }] }),
                        None,
                    ));
                }
            }
            events.push(chunk(json!({}), Some("tool_calls")));
            events.push(usage_chunk(*usage));
        }
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

fn piece(text: &str) -> Bytes {
    sse(&json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": FAKE_MODEL,
        "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": null }],
    }))
}

async fn completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let received_body = received.body.clone();
    let turn_index = {
        let mut all = shared.received.lock().unwrap();
        all.push(received);
        all.len() - 1 - *shared.turns_from.lock().unwrap()
    };
    shared.arrived.notify_waiters();
    let behaviour = shared.behaviour.lock().unwrap().clone();
    let events = |pieces: &[String]| -> Vec<Result<Bytes, std::io::Error>> {
        pieces.iter().map(|p| Ok(piece(p))).collect()
    };
    let stream = match behaviour {
        Behaviour::Fail {
            status,
            message,
            retry_after,
        } => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(after) = retry_after {
                response = response.header(header::RETRY_AFTER, after);
            }
            let body = json!({ "error": { "message": message, "type": "fake_error" } });
            return response.body(Body::from(body.to_string())).unwrap();
        }
        Behaviour::Stream { pieces, usage } => {
            let mut all = events(&pieces);
            all.push(Ok(sse(&json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": FAKE_MODEL,
                "choices": [],
                "usage": { "prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1 },
            }))));
            all.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
            futures::stream::iter(all).boxed()
        }
        Behaviour::Turns(turns) => {
            let turn = turns
                .get(turn_index)
                .or(turns.last())
                .cloned()
                .unwrap_or_else(|| FakeTurn::text(""));
            futures::stream::iter(turn_events(&turn).into_iter().map(Ok)).boxed()
        }
        Behaviour::CallThenAnswer {
            name,
            arguments,
            text,
        } => {
            let answered = received_body["messages"]
                .as_array()
                .is_some_and(|messages| messages.iter().any(|m| m["role"] == "tool"));
            let turn = if answered {
                FakeTurn::text(&text)
            } else {
                FakeTurn::call(&format!("call_{turn_index}"), &name, arguments)
            };
            futures::stream::iter(turn_events(&turn).into_iter().map(Ok)).boxed()
        }
        Behaviour::StallAfter { pieces } => {
            let released = shared.clone();
            futures::stream::iter(events(&pieces))
                .chain(futures::stream::once(async move {
                    released.release.notified().await;
                    Ok(Bytes::from_static(b"data: [DONE]\n\n"))
                }))
                .boxed()
        }
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

impl FakeLlm {
    pub async fn start(behaviour: Behaviour) -> Self {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            received: Mutex::new(Vec::new()),
            turns_from: Mutex::new(0),
            arrived: Notify::new(),
            release: Notify::new(),
        });
        let router = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            shared,
            server,
        }
    }

    /// A fake that streams `text` in pieces of `size` characters.
    pub async fn streaming(text: &str, size: usize) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let pieces = chars.chunks(size).map(|c| c.iter().collect()).collect();
        Self::start(Behaviour::Stream {
            pieces,
            usage: (11, 7),
        })
        .await
    }

    /// Changes what later requests get.
    /// Answers from now on as `behaviour`; `Turns` start again from the first.
    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.turns_from.lock().unwrap() = self.shared.received.lock().unwrap().len();
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Lets stalled streams finish.
    pub fn release(&self) {
        self.shared.release.notify_waiters();
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `count` requests have arrived.
    pub async fn wait_for_requests(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let arrived = self.shared.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "{count} request(s) expected within 10 s, got {}",
                received.len()
            );
        }
    }
}
