//! A plain HTTP endpoint on loopback for routines' `callUrl` and agents'
//! HTTP tools: it records every request (method, path, headers, body) and
//! answers as the test says, or holds the answer back until released.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub enum Answer {
    /// This status and body.
    Status(u16, String),
    /// Nothing until [`UrlReceiver::release`], then 200.
    Hold,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

struct Shared {
    answer: Mutex<Answer>,
    calls: Mutex<Vec<Call>>,
    arrived: Notify,
    release: Notify,
}

pub struct UrlReceiver {
    /// `http://127.0.0.1:<port>`; any path is answered.
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for UrlReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    shared.calls.lock().unwrap().push(call);
    shared.arrived.notify_waiters();
    let answer = shared.answer.lock().unwrap().clone();
    let (status, body) = match answer {
        Answer::Status(status, body) => (status, body),
        Answer::Hold => {
            shared.release.notified().await;
            (200, "released".to_owned())
        }
    };
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::from(body))
        .unwrap()
}

impl UrlReceiver {
    pub async fn start(answer: Answer) -> Self {
        let shared = Arc::new(Shared {
            answer: Mutex::new(answer),
            calls: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            release: Notify::new(),
        });
        let router = Router::new().fallback(receive).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            shared,
            server,
        }
    }

    /// Changes what later requests get.
    pub fn set(&self, answer: Answer) {
        *self.shared.answer.lock().unwrap() = answer;
    }

    /// Lets held requests be answered.
    pub fn release(&self) {
        self.shared.release.notify_waiters();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `count` requests have arrived.
    pub async fn wait_for_calls(&self, count: usize) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let arrived = self.shared.arrived.notified();
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "{count} call(s) expected within 10 s, got {}",
                calls.len()
            );
        }
    }
}
