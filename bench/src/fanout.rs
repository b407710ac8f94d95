//! `ws-fanout`: many graphql-ws subscribers on one thread, messages sent
//! through the API at a set rate, and what it costs the server.
//!
//! The server runs as its own `orbit serve` process, so that its memory can
//! be read from `/proc` apart from the clients'. Latency is from the
//! message's `createdAt` (stamped by the server just before commit) to its
//! arrival at a subscriber; both clocks are this machine's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Mutex;

use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const SUBSCRIPTION: &str = "subscription($id: ID!) { threadEvents(threadId: $id) { ... on MessageCreatedEvent { message { createdAt } } } }";
const SEND_MESSAGE: &str =
    "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";
/// Handshakes in flight at once while connecting.
const CONNECTING_AT_ONCE: usize = 256;

pub struct FanoutOptions {
    pub orbit_bin: PathBuf,
    pub connections: usize,
    pub messages: usize,
    pub rate: f64,
    /// Extra environment for the server (DATABASE_URL, REDIS_URL, ...).
    pub server_env: Vec<(String, String)>,
}

/// The server process, stopped when dropped.
struct Server {
    child: Child,
    address: String,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Server {
    fn command(
        bin: &PathBuf,
        data_dir: &PathBuf,
        listen: &str,
        env: &[(String, String)],
    ) -> Command {
        let mut command = Command::new(bin);
        command
            .env("ORBIT_DATA_DIR", data_dir)
            .env("ORBIT_LISTEN", listen)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    async fn start(options: &FanoutOptions) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let data_dir =
            std::env::temp_dir().join(format!("orbit-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data_dir)?;
        let child = Self::command(&options.orbit_bin, &data_dir, &listen, &options.server_env)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", options.orbit_bin.display()))?;
        let server = Self {
            child,
            address: format!("http://{listen}"),
            data_dir,
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client
                .get(format!("{}/readyz", server.address))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server did not become ready")
    }

    /// `orbit admin create-app` against the same database.
    fn create_app(&self, options: &FanoutOptions) -> anyhow::Result<Value> {
        let output = Self::command(
            &options.orbit_bin,
            &self.data_dir,
            "127.0.0.1:0",
            &options.server_env,
        )
        .args(["admin", "create-app", "--name", "Bench"])
        .args([
            "--owner-email",
            "bench@example.com",
            "--owner-password",
            "bench-password-123",
        ])
        .output()?;
        if !output.status.success() {
            bail!(
                "create-app failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    /// Resident memory of the server process, in bytes.
    fn rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .context("VmRSS without a number")?
            .parse()?;
        Ok(kb * 1024)
    }

    /// CPU time the server process has used (user and system).
    fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("no command name in stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields
            .get(11)
            .zip(fields.get(12))
            .context("stat is too short")
            .and_then(|(user, system)| Ok(user.parse::<u64>()? + system.parse::<u64>()?))?;
        // Clock ticks are 1/100 s on Linux.
        Ok(Duration::from_millis(ticks * 10))
    }

    fn ws_url(&self) -> String {
        format!("{}/graphql", self.address.replacen("http://", "ws://", 1))
    }

    async fn gql(&self, auth: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response: Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.address))
            .bearer_auth(auth)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?
            .json()
            .await?;
        if response.get("errors").is_some_and(|e| !e.is_null()) {
            bail!("GraphQL errors: {response}");
        }
        Ok(response["data"].clone())
    }
}

/// What every subscriber records.
struct Tally {
    deliveries: AtomicU64,
    /// Set once the figures are taken: sockets that drop after it (the
    /// server is stopped) are not worth a line each.
    finished: std::sync::atomic::AtomicBool,
    latencies_us: Mutex<Vec<u64>>,
    /// Messages each subscriber should receive.
    per_subscriber: usize,
}

/// Latencies a subscriber keeps before adding them to the tally: one lock
/// per batch, not per delivery, as the clients share the cores with the
/// server.
const LATENCY_BATCH: usize = 32;

pub async fn run(options: FanoutOptions) -> anyhow::Result<()> {
    let server = Server::start(&options).await?;
    let keys = server.create_app(&options)?;
    let publishable = keys["publishableKey"]
        .as_str()
        .context("no publishable key")?;
    let secret = keys["secretKey"]
        .as_str()
        .context("no secret key")?
        .to_owned();
    let signed_up = server
        .gql(
            publishable,
            "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }",
            json!({ "input": { "email": "author@example.com", "password": "bench-password-123", "displayName": "Author" } }),
        )
        .await?;
    let author = signed_up["signUp"]["accessToken"]
        .as_str()
        .context("no token")?
        .to_owned();
    let thread = server
        .gql(
            &author,
            "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }",
            json!({ "input": { "title": "Fan-out" } }),
        )
        .await?["createThread"]["thread"]["id"]
        .as_str()
        .context("no thread")?
        .to_owned();
    // Warm the server's paths once before reading its baseline memory.
    server
        .gql(
            &author,
            SEND_MESSAGE,
            json!({ "input": { "threadId": thread, "content": "warm-up" } }),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = server.rss()?;

    let tally = Arc::new(Tally {
        deliveries: AtomicU64::new(0),
        finished: std::sync::atomic::AtomicBool::new(false),
        latencies_us: Mutex::new(Vec::with_capacity(options.connections * options.messages)),
        per_subscriber: options.messages,
    });
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let started = Instant::now();
    let mut ready = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        ready.push(ready_rx);
        let url = server.ws_url();
        let secret = secret.clone();
        let thread = thread.clone();
        let tally = tally.clone();
        let connecting = connecting.clone();
        tokio::spawn(async move {
            if let Err(error) =
                subscriber(&url, &secret, &thread, tally.clone(), connecting, ready_tx).await
                && !tally.finished.load(Ordering::Relaxed)
            {
                eprintln!("subscriber: {error:#}");
            }
        });
    }
    let mut live = 0;
    for ready in ready {
        if ready.await.is_ok() {
            live += 1;
        }
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = server.rss()?;
    let per_connection = loaded.saturating_sub(baseline) as f64 / live.max(1) as f64;
    println!(
        "{live} of {} subscribers live in {:.1}s; server RSS {:.1} MB -> {:.1} MB: {:.1} KB per connection",
        options.connections,
        connect_time.as_secs_f64(),
        baseline as f64 / 1e6,
        loaded as f64 / 1e6,
        per_connection / 1024.0,
    );

    let interval = Duration::from_secs_f64(1.0 / options.rate);
    let cpu_before = server.cpu_time()?;
    let send_start = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(options.messages);
    for n in 0..options.messages {
        ticker.tick().await;
        let author = author.clone();
        let thread = thread.clone();
        let address = server.address.clone();
        sends.push(tokio::spawn(async move {
            let response: Value = reqwest::Client::new()
                .post(format!("{address}/graphql"))
                .bearer_auth(author)
                .json(&json!({ "query": SEND_MESSAGE, "variables": { "input": { "threadId": thread, "content": format!("message {n}") } } }))
                .send()
                .await?
                .json()
                .await?;
            anyhow::ensure!(response.get("errors").is_none_or(Value::is_null), "send failed: {response}");
            anyhow::Ok(())
        }));
    }
    for send in sends {
        send.await??;
    }
    let expected = (live * options.messages) as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while tally.deliveries.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = send_start.elapsed();
    tally.finished.store(true, Ordering::Relaxed);
    let delivered = tally.deliveries.load(Ordering::Relaxed);
    let server_cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let mut latencies = std::mem::take(
        &mut *tally
            .latencies_us
            .lock()
            .map_err(|_| anyhow::anyhow!("a subscriber panicked"))?,
    );
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    println!(
        "| subscribers | messages | rate/s | delivered | p50 ms | p99 ms | max ms | deliveries/s | server CPU µs/delivery | KB/conn |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {live} | {} | {} | {delivered}/{expected} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} |",
        options.messages,
        options.rate,
        at(0.50),
        at(0.99),
        latencies.last().map_or(f64::NAN, |us| *us as f64 / 1000.0),
        delivered as f64 / elapsed.as_secs_f64(),
        server_cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64,
        per_connection / 1024.0,
    );
    if delivered < expected {
        bail!("{} deliveries missing", expected - delivered);
    }
    Ok(())
}

async fn subscriber(
    url: &str,
    secret: &str,
    thread: &str,
    tally: Arc<Tally>,
    connecting: Arc<Semaphore>,
    ready: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let permit = connecting.acquire().await?;
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
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {secret}") } }).to_string(),
        ))
        .await?;
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "id": thread } } })
                .to_string(),
        ))
        .await?;
    // The server handles frames in order and answers a ping only once the
    // subscription before it listens.
    socket.send(Message::text(r#"{"type":"ping"}"#)).await?;
    let mut ready = Some(ready);
    let mut permit = Some(permit);
    let mut batch = Vec::with_capacity(LATENCY_BATCH);
    let mut received = 0;
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let text = text.as_str();
        if text.contains(r#""type":"pong""#) {
            permit.take();
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
            continue;
        }
        if let Some(created) = created_at(text) {
            let latency = (Utc::now() - created)
                .num_microseconds()
                .unwrap_or(0)
                .max(0) as u64;
            batch.push(latency);
            received += 1;
            // Counted only once in the tally, so that the figures are read
            // with every latency in them.
            if batch.len() == LATENCY_BATCH || received == tally.per_subscriber {
                if let Ok(mut latencies) = tally.latencies_us.lock() {
                    latencies.extend_from_slice(&batch);
                }
                tally
                    .deliveries
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.clear();
            }
            continue;
        }
        if text.contains(r#""type":"error""#) || text.contains(r#""type":"complete""#) {
            bail!("the subscription ended: {text}");
        }
    }
    Ok(())
}

/// `createdAt` from a `next` frame, read without parsing the whole frame:
/// the clients share two cores with the server.
fn created_at(text: &str) -> Option<DateTime<Utc>> {
    let start = text.find(r#""createdAt":""#)? + r#""createdAt":""#.len();
    let end = start + text[start..].find('"')?;
    text[start..end].parse().ok()
}
