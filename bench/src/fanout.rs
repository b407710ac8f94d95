//! `ws-fanout`: many graphql-ws subscribers on one thread, messages sent
//! through the API at a set rate, and what it costs the server.
//!
//! The server runs as its own `orbit serve` process, so that its memory can
//! be read from `/proc` apart from the clients'. Latency is from the
//! message's `createdAt` (stamped by the server just before commit) to its
//! arrival at a subscriber; both clocks are this machine's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Mutex;

use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::graphql_ws;
use crate::server_process::{OrbitCommand, Server};

const SUBSCRIPTION: &str = "subscription($id: ID!) { threadEvents(threadId: $id) { ... on MessageCreatedEvent { message { createdAt } } } }";
const SEND_MESSAGE: &str =
    "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";
/// Handshakes in flight at once while connecting.
const CONNECTING_AT_ONCE: usize = 256;

pub struct FanoutOptions {
    pub orbit: OrbitCommand,
    pub connections: usize,
    pub messages: usize,
    pub rate: f64,
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
    let server = Server::start(&options.orbit).await?;
    let app = server.create_app_with_author().await?;
    let (secret, author) = (app.secret_key, app.author_token);
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
        let graphql_url = server.graphql_url();
        sends.push(tokio::spawn(async move {
            let response: Value = reqwest::Client::new()
                .post(graphql_url)
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
    let mut socket =
        graphql_ws::subscribe(url, secret, SUBSCRIPTION, json!({ "id": thread })).await?;
    drop(permit);
    let _ = ready.send(());
    let mut batch = Vec::with_capacity(LATENCY_BATCH);
    let mut received = 0;
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let text = text.as_str();
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
