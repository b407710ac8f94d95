//! `send`: how many `sendMessage` a second one server process takes, what
//! each costs it in CPU, and whether every message reaches its thread's
//! subscriber exactly once: first spread over many threads, then all into
//! one. On Postgres the same run measures Postgres's own single-row insert
//! rate with `pgbench` on the same server, before and after, so that the
//! figures are read as a ratio on this machine at this moment rather than
//! against a number from elsewhere.
//!
//! The server is an `orbit serve` child process, so that its CPU time is
//! read from `/proc` apart from the load generator's (Postgres's and
//! Redis's are not in it).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::graphql_ws;
use crate::server_process::{self, OrbitCommand, Server};
use crate::{ms, percentile};

const SEND_MESSAGE: &str =
    "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";
const SUBSCRIPTION: &str = "subscription($id: ID!) { threadEvents(threadId: $id) { ... on MessageCreatedEvent { message { id } } } }";
/// How long deliveries may trail the last send before the ones still
/// missing count as lost.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);
/// pgbench's scratch table, beside Orbit's own in the run's database.
const PGBENCH_TABLE: &str = "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, thread_id int, body text, created_at timestamptz DEFAULT now())";
const PGBENCH_SCRIPT: &str =
    "\\set tid random(1, 64)\nINSERT INTO bench_insert (thread_id, body) VALUES (:tid, 'hello');\n";

pub struct SendOptions {
    pub orbit: OrbitCommand,
    pub clients: usize,
    pub threads: usize,
    pub seconds: u64,
    pub pgbench_clients: usize,
}

pub async fn run(options: SendOptions) -> anyhow::Result<()> {
    ensure!(
        options.clients > 0 && options.threads > 0 && options.pgbench_clients > 0,
        "--clients, --threads and --pgbench-clients must be at least 1"
    );
    // With DATABASE_URL the server is on Postgres: the run gets a database
    // of its own on that Postgres server, dropped afterwards.
    server_process::on_own_database(&options.orbit, async |orbit, postgres| {
        measure(&options, orbit, postgres).await
    })
    .await
}

async fn measure(
    options: &SendOptions,
    orbit: &OrbitCommand,
    postgres: Option<&str>,
) -> anyhow::Result<()> {
    let server = Server::start(orbit).await?;
    let sender = Arc::new(Sender::set_up(&server, options.threads).await?);
    let deliveries = Arc::new(Deliveries::new(options.threads));
    let mut listeners = Vec::with_capacity(options.threads);
    for (index, thread) in sender.threads.iter().enumerate() {
        let socket = graphql_ws::subscribe(
            &server.ws_url(),
            &sender.secret,
            SUBSCRIPTION,
            json!({ "id": thread }),
        )
        .await?;
        let deliveries = deliveries.clone();
        listeners.push(tokio::spawn(async move {
            if let Err(error) = listen(socket, index, &deliveries).await {
                eprintln!("subscriber of thread {index}: {error:#}");
            }
        }));
    }

    let pgbench = match postgres {
        Some(url) => Some(Pgbench::prepare(url, options).await?),
        None => None,
    };
    let inserts_before = match &pgbench {
        Some(pgbench) => Some(pgbench.run().await?),
        None => None,
    };
    let duration = Duration::from_secs(options.seconds);
    let every_thread: Vec<usize> = (0..options.threads).collect();
    let spread = send_phase(
        &server,
        &sender,
        &deliveries,
        &every_thread,
        options,
        duration,
    )
    .await?;
    let one_thread = send_phase(&server, &sender, &deliveries, &[0], options, duration).await?;
    let inserts_after = match &pgbench {
        Some(pgbench) => Some(pgbench.run().await?),
        None => None,
    };
    for listener in &listeners {
        listener.abort();
    }
    drop(pgbench);

    println!(
        "server: {}; database: {}; broker: {}",
        orbit.bin.display(),
        if postgres.is_some() {
            "Postgres (a fresh database)"
        } else {
            "SQLite"
        },
        if orbit.env_var("REDIS_URL").is_some() {
            "Redis"
        } else {
            "in-process"
        },
    );
    println!(
        "| phase | clients | threads | requests | per second | p50 ms | p99 ms | server CPU ms/send | errors | delivered exactly once | sends/s ÷ pgbench inserts/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    let inserts_per_second = inserts_before
        .zip(inserts_after)
        .map(|(before, after)| (before + after) / 2.0);
    if let Some(before) = inserts_before {
        print_pgbench_row("pgbench INSERT, before", options, before);
    }
    let mut all_sent = HashSet::new();
    let mut exactly_once = true;
    for (label, threads, phase) in [
        ("spread", options.threads, &spread),
        ("one thread", 1, &one_thread),
    ] {
        let (missing, duplicated) = deliveries.check(&phase.sent);
        exactly_once &= missing == 0 && duplicated == 0;
        all_sent.extend(phase.sent.iter().cloned());
        print_phase_row(
            label,
            options.clients,
            threads,
            phase,
            inserts_per_second,
            (missing, duplicated),
        );
    }
    if let (Some(after), Some(mean)) = (inserts_after, inserts_per_second) {
        print_pgbench_row("pgbench INSERT, after", options, after);
        print_pgbench_row("pgbench INSERT, mean", options, mean);
    }
    for (label, phase) in [("spread", &spread), ("one thread", &one_thread)] {
        if let Some(error) = &phase.first_error {
            println!("\nFirst error in {label}: {error}");
        }
    }
    let unexpected = deliveries.not_in(&all_sent);
    if unexpected > 0 {
        println!(
            "\n{unexpected} messages were delivered that no successful send returned (a send that failed on the client's side but committed, or one delivered to another thread's subscriber)."
        );
    }
    if !exactly_once {
        bail!("not every message was delivered exactly once");
    }
    Ok(())
}

/// What the senders need: the app's secret key names the author of every
/// message, so no user session is in the way.
struct Sender {
    client: reqwest::Client,
    graphql_url: String,
    secret: String,
    author: String,
    threads: Vec<String>,
}

impl Sender {
    /// An app, its author and `threads` threads owned by the author.
    async fn set_up(server: &Server, threads: usize) -> anyhow::Result<Self> {
        let app = server.create_app_with_author().await?;
        let (secret, author) = (app.secret_key, app.author_id);
        let mut thread_ids = Vec::with_capacity(threads);
        for n in 0..threads {
            let created = server
                .gql(
                    &secret,
                    "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }",
                    json!({ "input": { "title": format!("send {n}"), "ownerId": author } }),
                )
                .await?;
            thread_ids.push(
                created["createThread"]["thread"]["id"]
                    .as_str()
                    .context("no thread")?
                    .to_owned(),
            );
        }
        Ok(Self {
            client: reqwest::Client::new(),
            graphql_url: server.graphql_url(),
            secret,
            author,
            threads: thread_ids,
        })
    }

    /// Sends one message into the thread at `thread`: the new message's id.
    async fn send(&self, thread: usize) -> anyhow::Result<String> {
        let response: Value = self
            .client
            .post(&self.graphql_url)
            .bearer_auth(&self.secret)
            .json(&json!({ "query": SEND_MESSAGE, "variables": { "input": {
                "threadId": self.threads[thread], "content": "hello", "authorId": self.author } } }))
            .send()
            .await?
            .json()
            .await?;
        response
            .pointer("/data/sendMessage/message/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("send failed: {response}"))
    }
}

/// What the subscribers received: one subscriber per thread.
struct Deliveries {
    /// Sends that returned a message id, over the whole run.
    sent: AtomicU64,
    total: AtomicU64,
    /// By thread index: how many times each message id arrived.
    by_thread: Vec<Mutex<HashMap<String, u32>>>,
}

impl Deliveries {
    fn new(threads: usize) -> Self {
        Self {
            sent: AtomicU64::new(0),
            total: AtomicU64::new(0),
            by_thread: (0..threads).map(|_| Mutex::default()).collect(),
        }
    }

    fn record(&self, thread: usize, message: &str) {
        *self.by_thread[thread]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(message.to_owned())
            .or_default() += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Polls until as many deliveries have arrived as messages were sent,
    /// or until the deadline; the check afterwards says which are missing.
    async fn wait_for_all_sent(&self) {
        let deadline = Instant::now() + DELIVERY_DEADLINE;
        while self.total.load(Ordering::Relaxed) < self.sent.load(Ordering::Relaxed)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Of these sent messages: how many never reached their thread's
    /// subscriber, and how many extra deliveries there were.
    fn check(&self, sent: &[(usize, String)]) -> (usize, usize) {
        let (mut missing, mut duplicated) = (0, 0);
        for (thread, message) in sent {
            let arrived = self.by_thread[*thread]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(message)
                .copied()
                .unwrap_or(0);
            match arrived {
                0 => missing += 1,
                n => duplicated += n as usize - 1,
            }
        }
        (missing, duplicated)
    }

    /// Deliveries of messages that are not among `sent` on that thread.
    fn not_in(&self, sent: &HashSet<(usize, String)>) -> usize {
        let mut unexpected = 0;
        for (thread, arrived) in self.by_thread.iter().enumerate() {
            let arrived = arrived.lock().unwrap_or_else(PoisonError::into_inner);
            unexpected += arrived
                .keys()
                .filter(|message| !sent.contains(&(thread, (*message).clone())))
                .count();
        }
        unexpected
    }
}

/// Counts every message id delivered to the subscriber of the thread at
/// `thread`, until the socket closes.
async fn listen(
    mut socket: graphql_ws::Socket,
    thread: usize,
    deliveries: &Deliveries,
) -> anyhow::Result<()> {
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        // A full parse: the operation's own `"id":"1"` is in every frame,
        // and at one delivery per send this costs the clients little.
        let frame: Value = serde_json::from_str(text.as_str())?;
        match frame["type"].as_str() {
            Some("next") => {
                if let Some(message) = frame
                    .pointer("/payload/data/threadEvents/message/id")
                    .and_then(Value::as_str)
                {
                    deliveries.record(thread, message);
                }
            }
            Some("error" | "complete") => bail!("the subscription ended: {frame}"),
            _ => {}
        }
    }
    Ok(())
}

/// What one phase measured.
#[derive(Default)]
struct Phase {
    /// (thread index, message id) of every successful send.
    sent: Vec<(usize, String)>,
    /// Of the successful sends, sorted.
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    /// From the first send to the end of the last.
    elapsed: Duration,
    /// The server's CPU from the first send until the last delivery.
    server_cpu: Duration,
}

/// `options.clients` tasks send for `duration`, each going round the
/// `targets` (thread indexes) from its own starting point; then waits for
/// the subscribers to receive every message sent so far.
async fn send_phase(
    server: &Server,
    sender: &Arc<Sender>,
    deliveries: &Deliveries,
    targets: &[usize],
    options: &SendOptions,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let cpu_before = server.cpu_time()?;
    let started = Instant::now();
    let workers = (0..options.clients).map(|client| {
        let sender = sender.clone();
        let targets = targets.to_vec();
        tokio::spawn(async move {
            let mut phase = Phase::default();
            let mut next = client;
            while started.elapsed() < duration {
                let thread = targets[next % targets.len()];
                next += 1;
                let request_start = Instant::now();
                match sender.send(thread).await {
                    Ok(message) => {
                        phase.latencies.push(request_start.elapsed());
                        phase.sent.push((thread, message));
                    }
                    Err(error) => {
                        phase.errors += 1;
                        phase
                            .first_error
                            .get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
            phase
        })
    });
    let mut phase = Phase::default();
    for worker in futures::future::join_all(workers).await {
        let worker = worker?;
        phase.sent.extend(worker.sent);
        phase.latencies.extend(worker.latencies);
        phase.errors += worker.errors;
        phase.first_error = phase.first_error.or(worker.first_error);
    }
    phase.elapsed = started.elapsed();
    phase.latencies.sort_unstable();
    // Delivery is part of what a send costs the server, so its CPU is read
    // once the subscribers have everything.
    deliveries
        .sent
        .fetch_add(phase.sent.len() as u64, Ordering::Relaxed);
    deliveries.wait_for_all_sent().await;
    phase.server_cpu = server.cpu_time()?.saturating_sub(cpu_before);
    Ok(phase)
}

fn print_phase_row(
    label: &str,
    clients: usize,
    threads: usize,
    phase: &Phase,
    inserts_per_second: Option<f64>,
    (missing, duplicated): (usize, usize),
) {
    let sends = phase.sent.len();
    let sends_per_second = sends as f64 / phase.elapsed.as_secs_f64();
    let latency = |q: f64| {
        if phase.latencies.is_empty() {
            "–".to_owned()
        } else {
            format!("{:.2}", ms(percentile(&phase.latencies, q)))
        }
    };
    let delivered = if missing == 0 && duplicated == 0 {
        "yes".to_owned()
    } else {
        format!("no ({missing} missing, {duplicated} duplicated)")
    };
    let ratio = inserts_per_second.map_or("–".to_owned(), |inserts| {
        format!("{:.2}", sends_per_second / inserts)
    });
    println!(
        "| {label} | {clients} | {threads} | {sends} | {sends_per_second:.0} | {} | {} | {:.3} | {} | {delivered} | {ratio} |",
        latency(0.50),
        latency(0.99),
        ms(phase.server_cpu) / sends.max(1) as f64,
        phase.errors,
    );
}

fn print_pgbench_row(label: &str, options: &SendOptions, inserts_per_second: f64) {
    println!(
        "| {label} | {} | – | – | {inserts_per_second:.0} | – | – | – | – | – | – |",
        options.pgbench_clients
    );
}

/// pgbench inserting single rows into a scratch table of the run's
/// database, on the same Postgres server as Orbit's tables.
struct Pgbench {
    url: String,
    script: PathBuf,
    clients: usize,
    seconds: u64,
}

impl Drop for Pgbench {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.script);
    }
}

impl Pgbench {
    async fn prepare(url: &str, options: &SendOptions) -> anyhow::Result<Self> {
        let db = Database::connect(url)
            .await
            .context("connecting to the run's database")?;
        db.execute_unprepared(PGBENCH_TABLE).await?;
        db.close().await?;
        let script = std::env::temp_dir().join(format!(
            "orbit-bench-insert-{}.sql",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&script, PGBENCH_SCRIPT)?;
        Ok(Self {
            url: url.to_owned(),
            script,
            clients: options.pgbench_clients,
            seconds: options.seconds,
        })
    }

    /// One pgbench run: transactions (single-row inserts) a second.
    async fn run(&self) -> anyhow::Result<f64> {
        let output = tokio::process::Command::new("pgbench")
            .arg("-n")
            .args(["-c", &self.clients.to_string()])
            // A thread per core; pgbench starts no more threads than clients.
            .args(["-j", "2"])
            .args(["-T", &self.seconds.to_string()])
            .arg("-f")
            .arg(&self.script)
            .arg(&self.url)
            .output()
            .await
            .context("running pgbench")?;
        let report = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "pgbench failed: {report}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tps(&report).with_context(|| format!("no tps in pgbench's report: {report}"))
    }
}

/// The `tps = N` of a pgbench report: the figure without the time spent
/// connecting where the report gives two (older versions print "including"
/// and "excluding connections establishing").
fn tps(report: &str) -> Option<f64> {
    let figures: Vec<(f64, &str)> = report
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("tps = ")?;
            let (number, note) = rest.split_once(' ').unwrap_or((rest, ""));
            Some((number.parse().ok()?, note))
        })
        .collect();
    figures
        .iter()
        .find(|(_, note)| {
            note.contains("without initial connection time")
                || note.contains("excluding connections establishing")
        })
        .or(figures.first())
        .map(|(tps, _)| *tps)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{Deliveries, tps};

    #[test]
    fn deliveries_missing_duplicated_and_unexpected() {
        let deliveries = Deliveries::new(2);
        for (thread, message) in [(0, "a"), (0, "b"), (0, "b"), (1, "c"), (1, "e")] {
            deliveries.record(thread, message);
        }
        // "d" never arrived; "e" was sent to thread 0 but reached thread 1.
        let sent: Vec<(usize, String)> = [(0, "a"), (0, "b"), (1, "c"), (1, "d"), (0, "e")]
            .into_iter()
            .map(|(thread, message)| (thread, message.to_owned()))
            .collect();
        assert_eq!(deliveries.check(&sent), (2, 1));
        let sent: HashSet<_> = sent.into_iter().collect();
        assert_eq!(deliveries.not_in(&sent), 1);
    }

    #[test]
    fn tps_of_a_current_report() {
        let report = "number of transactions actually processed: 51234\n\
                      latency average = 1.561 ms\n\
                      initial connection time = 9.872 ms\n\
                      tps = 5123.456789 (without initial connection time)\n";
        assert_eq!(tps(report), Some(5123.456789));
    }

    #[test]
    fn tps_without_connecting_of_an_older_report() {
        let report = "tps = 4000.5 (including connections establishing)\n\
                      tps = 4100.25 (excluding connections establishing)\n";
        assert_eq!(tps(report), Some(4100.25));
    }

    #[test]
    fn no_tps_in_a_report_without_one() {
        assert_eq!(tps("pgbench: error: connection failed\n"), None);
    }
}
