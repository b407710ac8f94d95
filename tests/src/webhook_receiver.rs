//! A webhook receiver on loopback, as an app would run one: it checks each
//! delivery's `Orbit-Signature` with the secrets it trusts (the one from
//! `createWebhook`, and after a rotation the new one), refuses a bad or
//! stale signature with 400, and otherwise answers with the next status of
//! its script (200 once the script is used up). Tests read what arrived.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use orbit_domain::{Clock, ManualClock};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

/// Receivers should refuse signatures older (or newer) than this.
pub const TOLERANCE_SECS: i64 = 300;

/// What the receiver does with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// Never answers, as a receiver (or a sender) that died mid-request.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The receiver's trusted secrets (by position) that a `v1` of the
    /// signature matched.
    pub verified_by: Vec<usize>,
    /// Why the signature was refused, if it was.
    pub signature_error: Option<String>,
    /// How many `v1` signatures the header carried.
    pub signatures: usize,
    pub reply: Reply,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// Signed with a trusted secret, recently enough.
    pub fn verified(&self) -> bool {
        self.signature_error.is_none() && !self.verified_by.is_empty()
    }
}

struct Shared {
    clock: Arc<ManualClock>,
    script: Mutex<VecDeque<Reply>>,
    secrets: Mutex<Vec<String>>,
    received: Mutex<Vec<Received>>,
    arrivals: mpsc::UnboundedSender<Received>,
}

pub struct WebhookReceiver {
    address: SocketAddr,
    shared: Arc<Shared>,
    arrivals: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    server: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    /// Listens on 127.0.0.1:0; `clock` is the server's, which signature
    /// times are checked against.
    pub async fn start(clock: Arc<ManualClock>, script: impl IntoIterator<Item = Reply>) -> Self {
        let (sender, arrivals) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            clock,
            script: Mutex::new(script.into_iter().collect()),
            secrets: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            arrivals: sender,
        });
        let router = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            address,
            shared,
            arrivals: tokio::sync::Mutex::new(arrivals),
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.address.port())
    }

    /// Accepts signatures made with `secret` too.
    pub fn trust(&self, secret: &str) {
        lock(&self.shared.secrets).push(secret.to_owned());
    }

    /// Stops accepting `secret`.
    pub fn distrust(&self, secret: &str) {
        lock(&self.shared.secrets).retain(|trusted| trusted != secret);
    }

    /// Adds replies to the end of the script.
    pub fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// The next request, in arrival order; fails the test after 10 s.
    pub async fn next(&self) -> Received {
        let mut arrivals = self.arrivals.lock().await;
        match tokio::time::timeout(Duration::from_secs(10), arrivals.recv()).await {
            Ok(Some(received)) => received,
            _ => panic!("no webhook delivery arrived within 10 s"),
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get("orbit-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let now = shared.clock.now().timestamp();
    let secrets = lock(&shared.secrets).clone();
    let mut verified_by = Vec::new();
    let mut signature_error = None;
    for (index, secret) in secrets.iter().enumerate() {
        match verify(&signature, &body, secret, now) {
            Ok(()) => verified_by.push(index),
            Err(error) => signature_error = Some(error),
        }
    }
    if !verified_by.is_empty() {
        signature_error = None;
    } else if secrets.is_empty() {
        signature_error = Some("the receiver trusts no secret".to_owned());
    }
    let reply = if signature_error.is_some() {
        Reply::Status(400)
    } else {
        lock(&shared.script)
            .pop_front()
            .unwrap_or(Reply::Status(200))
    };
    let received = Received {
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        verified_by,
        signature_error,
        signatures: signature
            .split(',')
            .filter(|part| part.starts_with("v1="))
            .count(),
        reply,
    };
    lock(&shared.received).push(received.clone());
    let _ = shared.arrivals.send(received);
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        Reply::Hang => std::future::pending().await,
    }
}

/// Checks an `Orbit-Signature` header the way docs/webhooks.md tells
/// receivers to: one `t`, within [`TOLERANCE_SECS`] of `now`, and a `v1`
/// equal to hex HMAC-SHA256(secret, "<t>.<raw body>"), compared in
/// constant time.
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64) -> Result<(), String> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => {
                if timestamp.is_some() {
                    return Err("more than one t".to_owned());
                }
                timestamp = Some(value.parse::<i64>().map_err(|_| "t is not a number")?);
            }
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("no t")?;
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(format!("t is {} s away from now", now - timestamp));
    }
    for signature in signatures {
        let Ok(expected) = hex::decode(signature) else {
            continue;
        };
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map_err(|_| "a bad key")?;
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err("no v1 signature matches".to_owned())
}
