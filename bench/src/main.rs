//! `orbit-bench`: measures Orbit through its real HTTP and GraphQL stack.
//!
//! `messages-page` answers one question: does reading a page of a thread cost
//! the same whether the thread has a thousand messages or a million? It
//! starts the server in-process on a fresh Postgres database per size, fills
//! one thread, and times `Thread.messages` pages at the start, middle and end.

mod bare_broadcast;
mod credentials;
mod fanout;
mod graphql_ws;
mod login_storm;
mod processes;
mod send;
mod server_process;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use orbit_api::admin::{CreateAppRequest, create_app};
use orbit_api::{Application, Settings};
use orbit_domain::SystemClock;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "orbit-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time `Thread.messages(first: 50)` on threads of different sizes (Postgres).
    MessagesPage {
        /// A Postgres server where the bench may create and drop databases.
        #[arg(
            long,
            env = "BENCH_DATABASE_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        database_url: String,
        /// Thread sizes to compare.
        #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
        sizes: Vec<u64>,
        /// Requests timed per scenario and concurrency.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Readers page through a thread while clients log in as fast as they
    /// can: reader latency alone and during the storm, with the password
    /// work unbounded and with its defaults (Postgres).
    LoginStorm {
        #[arg(
            long,
            env = "BENCH_DATABASE_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        database_url: String,
        /// Seconds each phase lasts.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Reader clients.
        #[arg(long, default_value_t = 4)]
        readers: usize,
        /// Login clients.
        #[arg(long, default_value_t = 8)]
        logins: usize,
    },
    /// Subscribers on one thread over graphql-ws, messages sent at a set
    /// rate: delivery latency, deliveries per second, server memory per
    /// connection. Starts `orbit serve` as a child process; DATABASE_URL and
    /// REDIS_URL in the environment pass through to it.
    WsFanout {
        /// The `orbit` binary (default: beside this one).
        #[arg(long)]
        orbit_bin: Option<std::path::PathBuf>,
        /// WebSocket subscribers.
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Messages sent.
        #[arg(long, default_value_t = 100)]
        messages: usize,
        /// Messages per second.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// First serve the same subscribers the same frames from a bare
        /// tokio-tungstenite broadcast (no GraphQL, no broker), and print
        /// Orbit's figures as ratios to it.
        #[arg(long)]
        reference: bool,
        /// Each subscriber a user of its own, signed up and added to the
        /// thread, subscribing with its access token (so each socket also
        /// watches its user's topic), instead of all with the secret key.
        #[arg(long)]
        users: bool,
    },
    /// Several `orbit serve` processes on one Postgres and one Redis
    /// (DATABASE_URL and REDIS_URL, both required), subscribers spread over
    /// all of them, messages sent through all of them at a set rate:
    /// latency from commit to delivery, and whether every subscriber heard
    /// every message of its thread once, in the same order as the others.
    WsProcesses {
        /// The `orbit` binary (default: beside this one).
        #[arg(long)]
        orbit_bin: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 3)]
        processes: usize,
        /// Threads the messages are spread over.
        #[arg(long, default_value_t = 100)]
        threads: usize,
        /// WebSocket subscribers, spread over the threads and processes.
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Messages per second, through all processes together.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds measured.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Seconds sent at the rate before those measured, not counted:
        /// the processes' connections opened and the fresh database's
        /// first pages written (0 measures the cold start).
        #[arg(long, default_value_t = 2)]
        warm_up: u64,
    },
    /// The bare broadcast server `ws-fanout --reference` starts as its own
    /// process (not for use by hand).
    #[command(hide = true)]
    BareBroadcastServer,
    /// `sendMessage` a second, latency, server CPU per send and
    /// exactly-once delivery to one subscriber per thread: spread over
    /// many threads, then all into one. Starts `orbit serve` as a child
    /// process; DATABASE_URL and REDIS_URL in the environment pass through
    /// to it. With DATABASE_URL (Postgres), the run gets a fresh database on
    /// that server, and pgbench measures single-row inserts there before
    /// and after, for comparison.
    Send {
        /// The `orbit` binary (default: beside this one).
        #[arg(long)]
        orbit_bin: Option<std::path::PathBuf>,
        /// Concurrent HTTP senders.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Threads the sends are spread over, one subscriber each.
        #[arg(long, default_value_t = 64)]
        threads: usize,
        /// Seconds each phase, and each pgbench run, lasts.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// pgbench clients.
        #[arg(long, default_value_t = 8)]
        pgbench_clients: usize,
    },
    /// What checking a credential costs: `{ __typename }` with no
    /// credential, the publishable key, the secret key and a user's access
    /// token, then `{ me { id } }` with the token, one phase after the
    /// other; requests a second, latency, server CPU per request, and each
    /// phase's throughput over the one without a credential. Starts `orbit
    /// serve` as a child process; DATABASE_URL and REDIS_URL in the
    /// environment pass through to it (with DATABASE_URL, on a fresh
    /// database of that Postgres server).
    Credentials {
        /// The `orbit` binary (default: beside this one).
        #[arg(long)]
        orbit_bin: Option<std::path::PathBuf>,
        /// Concurrent keep-alive HTTP clients.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Seconds each phase lasts (after one second of warm-up).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::MessagesPage {
            database_url,
            sizes,
            requests,
        } => {
            println!(
                "| messages in thread | page | clients | requests | mean ms | p50 ms | p99 ms | pages/s |"
            );
            println!("|---:|---|---:|---:|---:|---:|---:|---:|");
            for size in sizes {
                messages_page(&database_url, size, requests).await?;
            }
            Ok(())
        }
        Command::LoginStorm {
            database_url,
            seconds,
            readers,
            logins,
        } => {
            login_storm::run(login_storm::StormOptions {
                database_url,
                seconds,
                readers,
                logins,
            })
            .await
        }
        Command::WsFanout {
            orbit_bin,
            connections,
            messages,
            rate,
            reference,
            users,
        } => {
            fanout::run(fanout::FanoutOptions {
                orbit: server_process::OrbitCommand::from_environment(orbit_bin)?,
                connections,
                messages,
                rate,
                reference,
                users,
            })
            .await
        }
        Command::WsProcesses {
            orbit_bin,
            processes,
            threads,
            subscribers,
            rate,
            seconds,
            warm_up,
        } => {
            processes::run(processes::ProcessesOptions {
                orbit: server_process::OrbitCommand::from_environment(orbit_bin)?,
                processes,
                threads,
                subscribers,
                rate,
                seconds,
                warm_up,
            })
            .await
        }
        Command::BareBroadcastServer => bare_broadcast::serve().await,
        Command::Send {
            orbit_bin,
            clients,
            threads,
            seconds,
            pgbench_clients,
        } => {
            send::run(send::SendOptions {
                orbit: server_process::OrbitCommand::from_environment(orbit_bin)?,
                clients,
                threads,
                seconds,
                pgbench_clients,
            })
            .await
        }
        Command::Credentials {
            orbit_bin,
            connections,
            seconds,
        } => {
            credentials::run(credentials::CredentialsOptions {
                orbit: server_process::OrbitCommand::from_environment(orbit_bin)?,
                seconds,
                connections,
            })
            .await
        }
    }
}

struct Fixture {
    client: reqwest::Client,
    endpoint: String,
    token: String,
    thread_id: String,
}

impl Fixture {
    async fn gql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response: Value = self
            .client
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?
            .json()
            .await?;
        if response.get("errors").is_some() {
            bail!("GraphQL error: {response}");
        }
        Ok(response["data"].clone())
    }
}

/// `server_url` naming the database `name` instead, its parameters
/// (`?sslmode=disable`) kept.
fn database_named(server_url: &str, name: &str) -> anyhow::Result<String> {
    let (address, parameters) = match server_url.split_once('?') {
        Some((address, parameters)) => (address, format!("?{parameters}")),
        None => (server_url, String::new()),
    };
    let (base, _) = address
        .rsplit_once('/')
        .context("database URL without a database name")?;
    Ok(format!("{base}/{name}{parameters}"))
}

async fn messages_page(server_url: &str, size: u64, requests: usize) -> anyhow::Result<()> {
    in_fresh_database(server_url, async |url| run_sizes(url, size, requests).await).await
}

/// Runs `bench` on a database of its own on the Postgres server at
/// `server_url`, dropped afterwards whatever the outcome.
async fn in_fresh_database(
    server_url: &str,
    bench: impl AsyncFnOnce(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let admin = Database::connect(server_url)
        .await
        .context("connecting to Postgres")?;
    let name = format!("orbit_bench_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let url = database_named(server_url, &name)?;
    let result = bench(&url).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    result
}

/// A server started in this process, with one app made by its admin path.
struct BenchServer {
    endpoint: String,
    services: orbit_api::Services,
    keys: orbit_api::admin::CreatedAppKeys,
    client: reqwest::Client,
}

async fn start_server(settings: Settings, app_name: &str) -> anyhow::Result<BenchServer> {
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    let endpoint = format!("http://127.0.0.1:{}/graphql", app.port());
    let services = app.services();
    tokio::spawn(app.run_until_stopped());
    let keys = create_app(
        &services,
        CreateAppRequest {
            name: app_name.into(),
            owner_email: "owner@bench.invalid".into(),
            owner_password: "bench-owner-password".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    Ok(BenchServer {
        endpoint,
        services,
        keys,
        client,
    })
}

async fn run_sizes(url: &str, size: u64, requests: usize) -> anyhow::Result<()> {
    let BenchServer {
        endpoint,
        services,
        keys,
        client,
    } = start_server(Settings::for_tests(url.to_owned()), "bench").await?;
    let mut fixture = Fixture {
        client,
        endpoint,
        token: keys.publishable_key.clone(),
        thread_id: String::new(),
    };
    let signed_up = fixture
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }",
            json!({ "i": { "email": "reader@bench.invalid", "password": "bench-password", "displayName": "Reader" } }),
        )
        .await?;
    fixture.token = signed_up["signUp"]["accessToken"]
        .as_str()
        .context("no token")?
        .to_owned();
    let user_id = signed_up["signUp"]["user"]["id"]
        .as_str()
        .context("no user")?
        .to_owned();
    let created = fixture
        .gql(
            "mutation { createThread(input: {title: \"bench\"}) { thread { id } } }",
            json!({}),
        )
        .await?;
    fixture.thread_id = created["createThread"]["thread"]["id"]
        .as_str()
        .context("no thread")?
        .to_owned();

    let db = services.db().conn();
    fill_thread(db, &keys.app_id, &fixture.thread_id, &user_id, size).await?;
    let middle = middle_cursor(db, &fixture.thread_id, size).await?;

    let first_page = "query($t: ID!) { thread(id: $t) { messages(first: 50) { edges { cursor node { id content createdAt } } pageInfo { hasNextPage } } } }";
    let after_page = "query($t: ID!, $a: String) { thread(id: $t) { messages(first: 50, after: $a) { edges { cursor node { id content createdAt } } pageInfo { hasNextPage } } } }";
    let last_page = "query($t: ID!) { thread(id: $t) { messages(last: 50) { edges { cursor node { id content createdAt } } pageInfo { hasPreviousPage } } } }";
    let scenarios = [
        ("first 50", first_page, json!({ "t": fixture.thread_id })),
        (
            "50 after the middle",
            after_page,
            json!({ "t": fixture.thread_id, "a": middle }),
        ),
        ("last 50", last_page, json!({ "t": fixture.thread_id })),
    ];
    let fixture = Arc::new(fixture);
    for (label, query, variables) in scenarios {
        // Warm the pool and caches so the figures are steady state.
        measure(&fixture, query, &variables, 200, 1).await?;
        for clients in [1usize, 8] {
            let (elapsed, mut latencies) =
                measure(&fixture, query, &variables, requests, clients).await?;
            latencies.sort();
            let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
            let at = |q: f64| {
                latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)]
            };
            println!(
                "| {size} | {label} | {clients} | {requests} | {:.2} | {:.2} | {:.2} | {:.0} |",
                ms(mean),
                ms(at(0.50)),
                ms(at(0.99)),
                requests as f64 / elapsed.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The `q` quantile of sorted, non-empty latencies.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

async fn measure(
    fixture: &Arc<Fixture>,
    query: &'static str,
    variables: &Value,
    requests: usize,
    clients: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let started = Instant::now();
    let per_client = requests / clients;
    let workers = (0..clients).map(|_| {
        let fixture = fixture.clone();
        let variables = variables.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let sent = Instant::now();
                let data = fixture.gql(query, variables.clone()).await?;
                let edges = data["thread"]["messages"]["edges"]
                    .as_array()
                    .map_or(0, Vec::len);
                if edges != 50 {
                    bail!("expected a page of 50, got {edges}");
                }
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        })
    });
    let mut all = Vec::with_capacity(requests);
    for worker in futures::future::join_all(workers).await {
        all.extend(worker??);
    }
    Ok((started.elapsed(), all))
}

/// Inserts `size` messages in one statement. IDs are UUIDv7-shaped (a
/// millisecond prefix that grows with the row number), so they sort in
/// insertion order exactly as the server's own IDs do.
async fn fill_thread(
    db: &impl ConnectionTrait,
    app_id: &str,
    thread_id: &str,
    user_id: &str,
    size: u64,
) -> anyhow::Result<()> {
    let uuid_of = |wire: &str| {
        wire.split_once('_')
            .map(|(_, hex)| hex.to_owned())
            .context("bad id")
    };
    let (app, thread, user) = (uuid_of(app_id)?, uuid_of(thread_id)?, uuid_of(user_id)?);
    let sql = format!(
        "INSERT INTO messages (id, app_id, thread_id, author_user_id, content, metadata, status, idempotency_key, created_at)
         SELECT (lpad(to_hex((extract(epoch from now()) * 1000)::bigint + g), 12, '0') || '7000' || '8000' || lpad(to_hex(g), 12, '0'))::uuid,
                '{app}'::uuid, '{thread}'::uuid, '{user}'::uuid,
                'benchmark message number ' || g, NULL, 'sent', NULL, now()
         FROM generate_series(1, {size}) AS g"
    );
    db.execute_unprepared(&sql)
        .await
        .context("filling the thread")?;
    db.execute_unprepared("ANALYZE messages").await?;
    Ok(())
}

async fn middle_cursor(
    db: &impl ConnectionTrait,
    thread_id: &str,
    size: u64,
) -> anyhow::Result<String> {
    let thread = thread_id
        .split_once('_')
        .map(|(_, hex)| hex)
        .context("bad id")?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT id FROM messages WHERE thread_id = '{thread}'::uuid ORDER BY id OFFSET {} LIMIT 1",
                size / 2
            ),
        ))
        .await?
        .context("no middle message")?;
    let id: uuid::Uuid = row.try_get("", "id")?;
    Ok(orbit_api::graphql::CursorList::new("messages", thread_id).encode(id))
}

#[cfg(test)]
mod tests {
    use super::database_named;

    #[test]
    fn a_database_named_keeps_the_url_parameters() {
        assert_eq!(
            database_named("postgres://pg@127.0.0.1:5432/postgres", "run").ok(),
            Some("postgres://pg@127.0.0.1:5432/run".to_owned())
        );
        assert_eq!(
            database_named("postgres://pg@127.0.0.1/postgres?sslmode=disable", "run").ok(),
            Some("postgres://pg@127.0.0.1/run?sslmode=disable".to_owned())
        );
    }
}
