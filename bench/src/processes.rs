//! `ws-processes`: several `orbit serve` processes on one Postgres and one
//! Redis, subscribers spread over all of them, messages sent through all of
//! them at a set rate. What it measures: latency from commit to delivery
//! (from the message's `createdAt`, stamped as the send begins, before it
//! waits for its thread's place and its statement, to its arrival at a
//! subscriber; both clocks are this machine's), and that every subscriber
//! of a thread, on whichever process, heard every message sent into it
//! exactly once and in the same order as every other subscriber of that
//! thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::graphql_ws;
use crate::server_process::{self, OrbitCommand, Server};

const SUBSCRIPTION: &str = "subscription($id: ID!) { threadEvents(threadId: $id) { ... on MessageCreatedEvent { cursor message { content createdAt } } } }";
const SEND_MESSAGE: &str =
    "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";
/// Sends in flight at once: past it the sender falls behind the rate (and
/// says so) rather than queueing without bound.
const SENDS_IN_FLIGHT: usize = 256;
/// How long deliveries may trail the last send before the ones still
/// missing count as lost.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);

pub struct ProcessesOptions {
    pub orbit: OrbitCommand,
    pub processes: usize,
    pub threads: usize,
    pub subscribers: usize,
    pub rate: f64,
    pub seconds: u64,
    /// Seconds sent at the rate before the measured ones.
    pub warm_up: u64,
}

pub async fn run(options: ProcessesOptions) -> anyhow::Result<()> {
    ensure!(
        options.processes > 0 && options.threads > 0 && options.subscribers >= options.threads,
        "--processes and --threads must be at least 1, and --subscribers at least --threads"
    );
    ensure!(
        options.orbit.env_var("DATABASE_URL").is_some()
            && options.orbit.env_var("REDIS_URL").is_some(),
        "ws-processes needs DATABASE_URL (Postgres) and REDIS_URL: the processes share them"
    );
    let mut orbit = options.orbit.clone();
    // What every process of one deployment must share besides the database
    // and Redis: the key that signs access tokens, the key that seals app
    // secrets, and the prefix of Orbit's Redis keys.
    let run = uuid::Uuid::new_v4().simple().to_string();
    orbit.set_env("ORBIT_JWT_SECRET", &format!("bench-{run}"));
    orbit.set_env(
        "ORBIT_SECRETS_KEY",
        &format!("{run}{}", uuid::Uuid::new_v4().simple()),
    );
    orbit.set_env("ORBIT_REDIS_PREFIX", &format!("orbit-bench-{run}"));
    server_process::on_own_database(&orbit, async |orbit, _| measure(&options, orbit).await).await
}

/// One subscriber's socket: which thread it hears, and what it heard.
struct Listener {
    thread: usize,
    process: usize,
    /// (cursor, message number) in the order heard.
    heard: Mutex<Vec<(String, u64)>>,
}

struct Tally {
    deliveries: AtomicU64,
    /// (message number, latency in µs) of every delivery.
    latencies_us: Mutex<Vec<(u64, u64)>>,
}

async fn measure(options: &ProcessesOptions, orbit: &OrbitCommand) -> anyhow::Result<()> {
    let mut servers = Vec::with_capacity(options.processes);
    for _ in 0..options.processes {
        servers.push(Server::start(orbit).await?);
    }
    let app = servers[0].create_app_with_author().await?;
    let mut threads = Vec::with_capacity(options.threads);
    for n in 0..options.threads {
        let data = servers[n % servers.len()]
            .gql(
                &app.author_token,
                "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }",
                json!({ "input": { "title": format!("thread {n}") } }),
            )
            .await?;
        threads.push(
            data["createThread"]["thread"]["id"]
                .as_str()
                .context("no thread")?
                .to_owned(),
        );
    }

    // Subscriber i hears thread i mod T on process (i div T) mod P, so each
    // thread has subscribers on every process.
    let tally = Arc::new(Tally {
        deliveries: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::new()),
    });
    let mut listeners = Vec::with_capacity(options.subscribers);
    for i in 0..options.subscribers {
        let (thread, process) = (
            i % options.threads,
            (i / options.threads) % options.processes,
        );
        let socket = graphql_ws::subscribe(
            &servers[process].ws_url(),
            &app.secret_key,
            SUBSCRIPTION,
            json!({ "id": threads[thread] }),
        )
        .await?;
        let listener = Arc::new(Listener {
            thread,
            process,
            heard: Mutex::new(Vec::new()),
        });
        tokio::spawn(listen(socket, listener.clone(), tally.clone()));
        listeners.push(listener);
    }
    let subscribers_of = |thread: usize| {
        listeners
            .iter()
            .filter(|listener| listener.thread == thread)
            .count() as u64
    };
    println!(
        "{} processes, {} threads, {} subscribers (spread over every process), {} messages a second for {} s after {} s of warm-up",
        options.processes,
        options.threads,
        options.subscribers,
        options.rate,
        options.seconds,
        options.warm_up
    );

    // Messages before `first_measured` warm the processes up: sent at the
    // rate like the rest, named `w…` and not counted.
    let first_measured = (options.rate * options.warm_up as f64) as u64;
    let total = (options.rate * options.seconds as f64) as u64;
    let mut cpu_before = Vec::new();
    let in_flight = Arc::new(Semaphore::new(SENDS_IN_FLIGHT));
    let client = reqwest::Client::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / options.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut started = Instant::now();
    let mut sends = Vec::with_capacity((first_measured + total) as usize);
    let mut sent_into = vec![0u64; options.threads];
    for n in 0..first_measured + total {
        ticker.tick().await;
        if n == first_measured {
            started = Instant::now();
            cpu_before = servers
                .iter()
                .map(Server::cpu_time)
                .collect::<anyhow::Result<Vec<_>>>()?;
        }
        // Message n goes into thread n mod T through process (n div T) mod
        // P, so each thread's messages come through every process in turn.
        let thread = (n % options.threads as u64) as usize;
        let process = ((n / options.threads as u64) % options.processes as u64) as usize;
        let content = if n < first_measured {
            format!("w{n}")
        } else {
            sent_into[thread] += 1;
            format!("m{n}")
        };
        let permit = in_flight.clone().acquire_owned().await?;
        let request = client
            .post(servers[process].graphql_url())
            .bearer_auth(&app.author_token)
            .json(&json!({ "query": SEND_MESSAGE, "variables": { "input": { "threadId": threads[thread], "content": content } } }));
        sends.push(tokio::spawn(async move {
            let response: Value = request.send().await?.json().await?;
            drop(permit);
            ensure!(
                response.get("errors").is_none_or(Value::is_null),
                "send failed: {response}"
            );
            anyhow::Ok(())
        }));
    }
    for sent in sends {
        sent.await??;
    }
    let sending = started.elapsed();
    let expected: u64 = (0..options.threads)
        .map(|thread| sent_into[thread] * subscribers_of(thread))
        .sum();
    let deadline = Instant::now() + DELIVERY_DEADLINE;
    while tally.deliveries.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A little longer, for any delivery beyond the expected (a repeat).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = servers
        .iter()
        .zip(&cpu_before)
        .map(|(server, before)| Ok(server.cpu_time()?.saturating_sub(*before)))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let outcome = check_every_subscriber(&listeners, &sent_into, options.threads)?;
    let numbered = std::mem::take(
        &mut *tally
            .latencies_us
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    let by_second = p99_by_second(&numbered, first_measured, options.rate);
    let mut latencies: Vec<u64> = numbered.into_iter().map(|(_, us)| us).collect();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    let delivered = tally.deliveries.load(Ordering::Relaxed);
    println!(
        "| processes | sent | sends/s | delivered | lost | repeated | out of order | p50 ms | p99 ms | max ms | server CPU ms/s (each process) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| {} | {} | {:.0} | {}/{} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} |",
        options.processes,
        total,
        total as f64 / sending.as_secs_f64(),
        delivered,
        expected,
        outcome.lost,
        outcome.repeated,
        outcome.out_of_order,
        at(0.50),
        at(0.99),
        latencies.last().map_or(f64::NAN, |us| *us as f64 / 1000.0),
        cpu.iter()
            .map(|used| format!("{:.0}", used.as_secs_f64() * 1000.0 / sending.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" / "),
    );
    println!(
        "p99 ms by second of sending (a slow start shows here, not in a steady state): {}",
        by_second
            .iter()
            .map(|ms| format!("{ms:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let per_process: Vec<String> = (0..options.processes)
        .map(|process| {
            let heard: usize = listeners
                .iter()
                .filter(|listener| listener.process == process)
                .map(|listener| {
                    listener
                        .heard
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .len()
                })
                .sum();
            format!("process {process}: {heard}")
        })
        .collect();
    println!(
        "deliveries by the process that served them: {}",
        per_process.join(", ")
    );
    if outcome.lost + outcome.repeated + outcome.out_of_order > 0 {
        bail!(
            "{} lost, {} repeated, {} subscribers heard a thread in another order",
            outcome.lost,
            outcome.repeated,
            outcome.out_of_order
        );
    }
    Ok(())
}

#[derive(Default)]
struct Outcome {
    lost: u64,
    repeated: u64,
    /// Subscribers whose order differs from their thread's first
    /// subscriber's.
    out_of_order: u64,
}

/// The 99th percentile of the deliveries of the messages sent in each
/// second measured, in ms (message n is sent at (n - first) / rate seconds
/// into it).
fn p99_by_second(numbered: &[(u64, u64)], first: u64, rate: f64) -> Vec<f64> {
    let mut seconds: Vec<Vec<u64>> = Vec::new();
    for &(number, us) in numbered {
        let second = (number.saturating_sub(first) as f64 / rate) as usize;
        if seconds.len() <= second {
            seconds.resize_with(second + 1, Vec::new);
        }
        seconds[second].push(us);
    }
    seconds
        .into_iter()
        .map(|mut latencies| {
            latencies.sort_unstable();
            let at = (latencies.len() as f64 * 0.99) as usize;
            latencies
                .get(at.min(latencies.len().saturating_sub(1)))
                .map_or(f64::NAN, |us| *us as f64 / 1000.0)
        })
        .collect()
}

/// Every subscriber must hold each message sent into its thread exactly
/// once, and all subscribers of a thread the same (cursor, message) list.
fn check_every_subscriber(
    listeners: &[Arc<Listener>],
    sent_into: &[u64],
    threads: usize,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut reference: HashMap<usize, Vec<(String, u64)>> = HashMap::new();
    for listener in listeners {
        let heard = listener
            .heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut numbers: Vec<u64> = heard.iter().map(|(_, n)| *n).collect();
        numbers.sort_unstable();
        let before = numbers.len() as u64;
        numbers.dedup();
        outcome.repeated += before - numbers.len() as u64;
        if numbers
            .iter()
            .any(|n| (n % threads as u64) as usize != listener.thread)
        {
            bail!("a subscriber heard a message of another thread");
        }
        outcome.lost += sent_into[listener.thread].saturating_sub(numbers.len() as u64);
        match reference.get(&listener.thread) {
            Some(first) if *first != heard => outcome.out_of_order += 1,
            Some(_) => {}
            None => {
                reference.insert(listener.thread, heard);
            }
        }
    }
    Ok(outcome)
}

async fn listen(mut socket: graphql_ws::Socket, listener: Arc<Listener>, tally: Arc<Tally>) {
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else {
            continue;
        };
        let text = text.as_str();
        let (Some(created), Some(content), Some(cursor)) = (
            string_field(text, "createdAt").and_then(|at| at.parse::<DateTime<Utc>>().ok()),
            string_field(text, "content"),
            string_field(text, "cursor"),
        ) else {
            if text.contains(r#""type":"error""#) || text.contains(r#""type":"complete""#) {
                eprintln!("a subscription ended: {text}");
                return;
            }
            continue;
        };
        let latency = (Utc::now() - created)
            .num_microseconds()
            .unwrap_or(0)
            .max(0) as u64;
        if content.starts_with('w') {
            // Warm-up, not counted.
            continue;
        }
        let Some(number) = content.strip_prefix('m').and_then(|n| n.parse().ok()) else {
            eprintln!("a message the bench did not send: {content}");
            continue;
        };
        listener
            .heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((cursor.to_owned(), number));
        tally
            .latencies_us
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((number, latency));
        tally.deliveries.fetch_add(1, Ordering::Relaxed);
    }
}

/// The string value of `"name":"..."` in a frame, read without parsing
/// the whole frame: the clients share the cores with the servers.
fn string_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(r#""{name}":""#);
    let start = text.find(&key)? + key.len();
    let end = start + text[start..].find('"')?;
    Some(&text[start..end])
}
