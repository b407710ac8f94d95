//! `login-storm`: readers page through a thread while clients log in with a
//! correct password as fast as they can. argon2 is meant to be expensive;
//! the question is whether the password work stays within its share of the
//! cores (`ORBIT_PASSWORD_THREADS`, a short queue, then `UNAVAILABLE`) so
//! that everyone else keeps their latency. Each configuration gets a fresh
//! database and server; the readers are measured alone and then during the
//! storm, in the same run, so the figures are read as ratios.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use orbit_api::Settings;
use serde_json::{Value, json};

use super::{BenchServer, Fixture, fill_thread, ms, percentile, start_server};

const PAGE: &str = "query($t: ID!) { thread(id: $t) { messages(first: 50) { edges { cursor node { id content createdAt } } } } }";
const LOG_IN: &str = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }";
const STORM_PASSWORD: &str = "storm-password-long-enough";

pub struct StormOptions {
    pub database_url: String,
    pub seconds: u64,
    pub readers: usize,
    pub logins: usize,
}

pub async fn run(options: StormOptions) -> anyhow::Result<()> {
    println!(
        "| password work | phase | reader pages/s | reader p50 ms | reader p99 ms | p99 / alone | logins/s | refused/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    // Unbounded (what the server did before the gate) and the defaults.
    for (label, threads, queue) in [
        ("unbounded", 64, 100_000),
        (
            "default (half the cores, queue 16)",
            Settings::default().password_threads,
            Settings::default().password_queue,
        ),
    ] {
        super::in_fresh_database(&options.database_url, async |url| {
            one_configuration(&options, url, label, threads, queue).await
        })
        .await?;
    }
    Ok(())
}

async fn one_configuration(
    options: &StormOptions,
    url: &str,
    label: &str,
    threads: usize,
    queue: usize,
) -> anyhow::Result<()> {
    let mut settings = Settings::for_tests(url.to_owned());
    settings.password_threads = threads;
    settings.password_queue = queue;
    let BenchServer {
        endpoint,
        services,
        keys,
        client,
    } = start_server(settings, "storm").await?;
    let mut reader = Fixture {
        client: client.clone(),
        endpoint: endpoint.clone(),
        token: keys.publishable_key.clone(),
        thread_id: String::new(),
    };
    // The storm's user first: once the reader signs up, the fixture holds
    // a user's token, which may not sign anyone else up.
    for (email, password) in [
        ("storm@bench.invalid", STORM_PASSWORD),
        ("reader@bench.invalid", "bench-password"),
    ] {
        let signed_up = reader
            .gql(
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }",
                json!({ "i": { "email": email, "password": password, "displayName": "Bench" } }),
            )
            .await?;
        if email.starts_with("reader") {
            reader.token = signed_up["signUp"]["accessToken"]
                .as_str()
                .context("no token")?
                .to_owned();
            let created = reader
                .gql(
                    "mutation { createThread(input: {title: \"storm\"}) { thread { id } } }",
                    json!({}),
                )
                .await?;
            reader.thread_id = created["createThread"]["thread"]["id"]
                .as_str()
                .context("no thread")?
                .to_owned();
            let user = signed_up["signUp"]["user"]["id"]
                .as_str()
                .context("no user")?;
            fill_thread(
                services.db().conn(),
                &keys.app_id,
                &reader.thread_id,
                user,
                1_000,
            )
            .await?;
        }
    }
    let reader = Arc::new(reader);
    let duration = Duration::from_secs(options.seconds);
    // Warm up, then the readers alone, then with the storm.
    read_for(&reader, options.readers, Duration::from_secs(1)).await?;
    let (alone_rate, alone) = read_for(&reader, options.readers, duration).await?;
    let alone_p99 = percentile(&alone, 0.99);
    print_row(label, "readers alone", alone_rate, &alone, alone_p99, None);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signed_in = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let storm: Vec<_> = (0..options.logins)
        .map(|_| {
            let client = client.clone();
            let endpoint = endpoint.clone();
            let key = keys.publishable_key.clone();
            let (stop, signed_in, refused) = (stop.clone(), signed_in.clone(), refused.clone());
            tokio::spawn(async move {
                let body = json!({ "query": LOG_IN, "variables": { "i": {
                    "email": "storm@bench.invalid", "password": STORM_PASSWORD } } });
                while !stop.load(Ordering::Relaxed) {
                    let Ok(response) = client
                        .post(&endpoint)
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let status = response.status();
                    let answer: Value = response.json().await.unwrap_or_default();
                    if answer["data"]["logIn"]["accessToken"].is_string() {
                        signed_in.fetch_add(1, Ordering::Relaxed);
                    } else if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                        refused.fetch_add(1, Ordering::Relaxed);
                        // What a client told Retry-After: 1 does, shortened
                        // so the storm stays a storm.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    } else {
                        eprintln!("unexpected login answer {status}: {answer}");
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    let (storm_rate, during) = read_for(&reader, options.readers, duration).await?;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in storm {
        let _ = task.await;
    }
    print_row(
        label,
        &format!("readers during {} login clients", options.logins),
        storm_rate,
        &during,
        alone_p99,
        Some((
            signed_in.load(Ordering::Relaxed) as f64 / elapsed,
            refused.load(Ordering::Relaxed) as f64 / elapsed,
        )),
    );
    Ok(())
}

fn print_row(
    label: &str,
    phase: &str,
    rate: f64,
    latencies: &[Duration],
    alone_p99: Duration,
    logins: Option<(f64, f64)>,
) {
    let p99 = percentile(latencies, 0.99);
    let (logins, refused) = match logins {
        Some((ok, refused)) => (format!("{ok:.1}"), format!("{refused:.1}")),
        None => ("–".to_owned(), "–".to_owned()),
    };
    println!(
        "| {label} | {phase} | {rate:.0} | {:.2} | {:.2} | {:.2} | {logins} | {refused} |",
        ms(percentile(latencies, 0.50)),
        ms(p99),
        p99.as_secs_f64() / alone_p99.as_secs_f64(),
    );
}

/// `clients` readers paging for `duration`: pages a second and the sorted latencies.
async fn read_for(
    reader: &Arc<Fixture>,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let started = Instant::now();
    let workers = (0..clients).map(|_| {
        let reader = reader.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < duration {
                let sent = Instant::now();
                reader.gql(PAGE, json!({ "t": reader.thread_id })).await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        })
    });
    let mut all = Vec::new();
    for worker in futures::future::join_all(workers).await {
        all.extend(worker??);
    }
    all.sort();
    Ok((all.len() as f64 / started.elapsed().as_secs_f64(), all))
}
