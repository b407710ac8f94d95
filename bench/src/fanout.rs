//! `ws-fanout`: many graphql-ws subscribers on one thread, messages sent
//! through the API at a set rate, and what it costs the server.
//!
//! The server runs as its own `orbit serve` process, so that its memory can
//! be read from `/proc` apart from the clients'. Latency is from the
//! message's `createdAt` (stamped by the server just before commit) to its
//! arrival at a subscriber; both clocks are this machine's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Mutex;

use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::bare_broadcast::BareServer;
use crate::graphql_ws;
use crate::server_process::{OrbitCommand, Server, process_cpu_time, process_rss};

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
    /// Also serve the same subscribers the same frames from a bare
    /// tokio-tungstenite broadcast, first, and print Orbit's figures as
    /// ratios to it.
    pub reference: bool,
    /// Each subscriber a user of its own, with its access token.
    pub users: bool,
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

/// One server's figures for one run.
struct Figures {
    server: &'static str,
    live: usize,
    delivered: u64,
    expected: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    deliveries_per_second: f64,
    cpu_us_per_delivery: f64,
    kb_per_connection: f64,
}

pub async fn run(options: FanoutOptions) -> anyhow::Result<()> {
    let reference = if options.reference {
        Some(run_reference(&options).await?)
    } else {
        None
    };
    let orbit = run_orbit(&options).await?;
    println!(
        "| server | subscribers | messages | rate/s | delivered | p50 ms | p99 ms | max ms | deliveries/s | server CPU µs/delivery | KB/conn |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for figures in reference.iter().chain([&orbit]) {
        println!(
            "| {} | {} | {} | {} | {}/{} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} |",
            figures.server,
            figures.live,
            options.messages,
            options.rate,
            figures.delivered,
            figures.expected,
            figures.p50_ms,
            figures.p99_ms,
            figures.max_ms,
            figures.deliveries_per_second,
            figures.cpu_us_per_delivery,
            figures.kb_per_connection,
        );
    }
    if let Some(bare) = &reference {
        println!(
            "Orbit ÷ bare broadcast: CPU per delivery {:.2} (target at most 1.5), p99 {:.2}, KB per connection {:.2}",
            orbit.cpu_us_per_delivery / bare.cpu_us_per_delivery,
            orbit.p99_ms / bare.p99_ms,
            orbit.kb_per_connection / bare.kb_per_connection,
        );
    }
    for figures in reference.iter().chain([&orbit]) {
        if figures.delivered < figures.expected {
            bail!(
                "{}: {} deliveries missing",
                figures.server,
                figures.expected - figures.delivered
            );
        }
    }
    Ok(())
}

/// The same subscribers and frames, from a bare tokio-tungstenite broadcast.
async fn run_reference(options: &FanoutOptions) -> anyhow::Result<Figures> {
    let server = BareServer::start()?;
    let publisher = server.publisher().await?;
    let url = server.ws_url();
    measure(
        "bare broadcast",
        server.pid(),
        options,
        |tally, connecting, ready| {
            let url = url.clone();
            async move {
                subscriber(&url, "none", json!({ "id": "t" }), tally, connecting, ready).await
            }
        },
        |_| {
            let publisher = publisher.clone();
            async move {
                publisher
                    .send(())
                    .map_err(|_| anyhow::anyhow!("the publisher closed"))
            }
        },
    )
    .await
}

async fn run_orbit(options: &FanoutOptions) -> anyhow::Result<Figures> {
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
    let credentials = if options.users {
        sign_up_subscribers(
            &server,
            &app.publishable_key,
            &secret,
            &thread,
            options.connections,
        )
        .await?
    } else {
        vec![secret]
    };
    let next_credential = AtomicUsize::new(0);
    let url = server.ws_url();
    let graphql_url = server.graphql_url();
    let client = reqwest::Client::new();
    measure(
        if options.users { "orbit, a user per socket" } else { "orbit" },
        server.pid(),
        options,
        |tally, connecting, ready| {
            let n = next_credential.fetch_add(1, Ordering::Relaxed);
            let credential = credentials[n % credentials.len()].clone();
            let (url, thread) = (url.clone(), thread.clone());
            async move {
                subscriber(&url, &credential, json!({ "id": thread }), tally, connecting, ready).await
            }
        },
        |n| {
            let request = client
                .post(&graphql_url)
                .bearer_auth(&author)
                .json(&json!({ "query": SEND_MESSAGE, "variables": { "input": { "threadId": thread, "content": format!("message {n}") } } }));
            async move {
                let response: Value = request.send().await?.json().await?;
                anyhow::ensure!(
                    response.get("errors").is_none_or(Value::is_null),
                    "send failed: {response}"
                );
                anyhow::Ok(())
            }
        },
    )
    .await
}

/// Signs up `count` users (eight at a time: each is a password hash) and
/// adds each to the thread; their access tokens, in order.
async fn sign_up_subscribers(
    server: &Server,
    publishable_key: &str,
    secret: &str,
    thread: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let tokens: Vec<String> = futures::stream::iter(0..count)
        .map(|n| async move {
            let (token, user) = server
                .sign_up(
                    publishable_key,
                    &format!("subscriber-{n}@example.com"),
                    &format!("Subscriber {n}"),
                )
                .await?;
            server
                .gql(
                    secret,
                    "mutation($input: AddThreadParticipantInput!) { addThreadParticipant(input: $input) { __typename } }",
                    json!({ "input": { "threadId": thread, "userId": user } }),
                )
                .await?;
            anyhow::Ok(token)
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "signed up {count} subscribers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(tokens)
}

/// Connects the subscribers, reads the server's memory per connection,
/// sends the messages at the rate, and waits (up to a minute) for every
/// delivery.
async fn measure<S, SubscriberFuture, SendFuture>(
    name: &'static str,
    server_pid: u32,
    options: &FanoutOptions,
    subscribe: impl Fn(Arc<Tally>, Arc<Semaphore>, tokio::sync::oneshot::Sender<()>) -> SubscriberFuture,
    send: S,
) -> anyhow::Result<Figures>
where
    S: Fn(usize) -> SendFuture,
    SubscriberFuture: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    SendFuture: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = process_rss(server_pid)?;
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
        let subscribed = subscribe(tally.clone(), connecting.clone(), ready_tx);
        let tally = tally.clone();
        tokio::spawn(async move {
            if let Err(error) = subscribed.await
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
    let loaded = process_rss(server_pid)?;
    let per_connection = loaded.saturating_sub(baseline) as f64 / live.max(1) as f64;
    println!(
        "{name}: {live} of {} subscribers live in {:.1}s; server RSS {:.1} MB -> {:.1} MB: {:.1} KB per connection",
        options.connections,
        connect_time.as_secs_f64(),
        baseline as f64 / 1e6,
        loaded as f64 / 1e6,
        per_connection / 1024.0,
    );

    let interval = Duration::from_secs_f64(1.0 / options.rate);
    let cpu_before = process_cpu_time(server_pid)?;
    let send_start = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(options.messages);
    for n in 0..options.messages {
        ticker.tick().await;
        sends.push(tokio::spawn(send(n)));
    }
    for sent in sends {
        sent.await??;
    }
    let expected = (live * options.messages) as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while tally.deliveries.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = send_start.elapsed();
    tally.finished.store(true, Ordering::Relaxed);
    let delivered = tally.deliveries.load(Ordering::Relaxed);
    let server_cpu = process_cpu_time(server_pid)?.saturating_sub(cpu_before);
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
    Ok(Figures {
        server: name,
        live,
        delivered,
        expected,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: latencies.last().map_or(f64::NAN, |us| *us as f64 / 1000.0),
        deliveries_per_second: delivered as f64 / elapsed.as_secs_f64(),
        cpu_us_per_delivery: server_cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64,
        kb_per_connection: per_connection / 1024.0,
    })
}

async fn subscriber(
    url: &str,
    secret: &str,
    variables: Value,
    tally: Arc<Tally>,
    connecting: Arc<Semaphore>,
    ready: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let permit = connecting.acquire().await?;
    let mut socket = graphql_ws::subscribe(url, secret, SUBSCRIPTION, variables).await?;
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
