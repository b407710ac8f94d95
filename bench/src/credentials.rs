//! `credentials`: what checking a request's credential costs the server.
//! The same GraphQL document is sent with no credential, with the app's
//! publishable key, with its secret key and with a user's access token, one
//! phase after the other, by a fixed number of keep-alive HTTP clients; the
//! phases' throughput is read as a ratio of the one without a credential.
//! A last phase asks `{ me { id } }` with the token, a query that reads the
//! database, for scale.
//!
//! The server is an `orbit serve` child process (see `server_process`), so
//! that its CPU time is read from `/proc` apart from the load generator's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::server_process::{self, OrbitCommand, Server};
use crate::{ms, percentile};

const TYPENAME: &str = "{ __typename }";
const ME: &str = "{ me { id } }";
/// Each phase first sends for this long untimed, so that connections are
/// open and the credential is known to the process before the clock starts.
const WARM_UP: Duration = Duration::from_secs(1);

pub struct CredentialsOptions {
    pub orbit: OrbitCommand,
    pub seconds: u64,
    pub connections: usize,
}

pub async fn run(options: CredentialsOptions) -> anyhow::Result<()> {
    ensure!(
        options.connections > 0 && options.seconds > 0,
        "--connections and --seconds must be at least 1"
    );
    server_process::on_own_database(&options.orbit, async |orbit, postgres| {
        measure(&options, orbit, postgres.is_some()).await
    })
    .await
}

/// One phase: a document, and the credential it is sent with.
struct PhasePlan {
    query: &'static str,
    credential: &'static str,
    /// The header carrying the credential, if any.
    header: Option<(HeaderName, HeaderValue)>,
    /// Whether a response's `data` is the one expected.
    answered: fn(&Value) -> bool,
}

fn typename_answered(data: &Value) -> bool {
    data["__typename"] == "Query"
}

fn me_answered(data: &Value) -> bool {
    data.pointer("/me/id").is_some_and(Value::is_string)
}

async fn measure(
    options: &CredentialsOptions,
    orbit: &OrbitCommand,
    on_postgres: bool,
) -> anyhow::Result<()> {
    let server = Server::start(orbit).await?;
    let app = server.create_app_with_author().await?;
    let api_key = HeaderName::from_static("x-api-key");
    let plans = [
        PhasePlan {
            query: TYPENAME,
            credential: "none",
            header: None,
            answered: typename_answered,
        },
        PhasePlan {
            query: TYPENAME,
            credential: "publishable key (`x-api-key`)",
            header: Some((
                api_key.clone(),
                HeaderValue::from_str(&app.publishable_key)?,
            )),
            answered: typename_answered,
        },
        PhasePlan {
            query: TYPENAME,
            credential: "secret key (`x-api-key`)",
            header: Some((api_key, HeaderValue::from_str(&app.secret_key)?)),
            answered: typename_answered,
        },
        PhasePlan {
            query: TYPENAME,
            credential: "user's token (`Authorization: Bearer`)",
            header: Some((
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", app.author_token))?,
            )),
            answered: typename_answered,
        },
        PhasePlan {
            query: ME,
            credential: "user's token (`Authorization: Bearer`)",
            header: Some((
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", app.author_token))?,
            )),
            answered: me_answered,
        },
    ];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .build()?;
    let duration = Duration::from_secs(options.seconds);
    eprintln!("server pid {}", server.pid());
    let mut phases = Vec::with_capacity(plans.len());
    for (index, plan) in plans.into_iter().enumerate() {
        let plan = Arc::new(plan);
        let warm_up = run_phase(&server, &client, &plan, options.connections, WARM_UP).await?;
        eprintln!(
            "phase {}/5 `{}` with {}: timing {} s (server pid {})",
            index + 1,
            plan.query,
            plan.credential,
            options.seconds,
            server.pid()
        );
        let mut phase = run_phase(&server, &client, &plan, options.connections, duration).await?;
        phase.errors += warm_up.errors;
        phase.first_error = warm_up.first_error.or(phase.first_error);
        phases.push((plan, phase));
    }

    println!(
        "server: {}; database: {}; broker: {}; {} connections, {} s a phase",
        orbit.bin.display(),
        if on_postgres {
            "Postgres (a fresh database)"
        } else {
            "SQLite"
        },
        if orbit.env_var("REDIS_URL").is_some() {
            "Redis"
        } else {
            "in-process"
        },
        options.connections,
        options.seconds,
    );
    println!();
    println!(
        "| phase | credential | requests | per second | p50 ms | p99 ms | server CPU ms/request | ÷ no credential |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let baseline = phases.first().map_or(0.0, |(_, phase)| phase.per_second());
    for (plan, phase) in &phases {
        let latency = |q: f64| {
            if phase.latencies.is_empty() {
                "–".to_owned()
            } else {
                format!("{:.2}", ms(percentile(&phase.latencies, q)))
            }
        };
        let requests = phase.latencies.len();
        println!(
            "| `{}` | {} | {requests} | {:.0} | {} | {} | {:.3} | {:.2} |",
            plan.query,
            plan.credential,
            phase.per_second(),
            latency(0.50),
            latency(0.99),
            ms(phase.server_cpu) / requests.max(1) as f64,
            phase.per_second() / baseline,
        );
    }
    let errors: usize = phases.iter().map(|(_, phase)| phase.errors).sum();
    if errors > 0 {
        let (plan, first) = phases
            .iter()
            .find_map(|(plan, phase)| Some((plan, phase.first_error.as_deref()?)))
            .context("errors counted without a first one")?;
        bail!(
            "{errors} requests failed; the first, in `{}` with {}: {first}",
            plan.query,
            plan.credential
        );
    }
    Ok(())
}

/// What one phase measured.
#[derive(Default)]
struct Phase {
    /// Of the successful requests, sorted.
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    /// From the phase's start to the end of its last request.
    elapsed: Duration,
    /// The server's CPU over the same time.
    server_cpu: Duration,
}

impl Phase {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `connections` clients each send `plan`'s request in a loop for
/// `duration`.
async fn run_phase(
    server: &Server,
    client: &reqwest::Client,
    plan: &Arc<PhasePlan>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let body = serde_json::to_vec(&json!({ "query": plan.query }))?;
    let url = server.graphql_url();
    let cpu_before = server.cpu_time()?;
    let started = Instant::now();
    let workers = (0..connections).map(|_| {
        let (client, plan, body, url) = (client.clone(), plan.clone(), body.clone(), url.clone());
        tokio::spawn(async move {
            let mut phase = Phase::default();
            while started.elapsed() < duration {
                let sent = Instant::now();
                match request(&client, &url, &plan, body.clone()).await {
                    Ok(()) => phase.latencies.push(sent.elapsed()),
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
        phase.latencies.extend(worker.latencies);
        phase.errors += worker.errors;
        phase.first_error = phase.first_error.or(worker.first_error);
    }
    phase.elapsed = started.elapsed();
    phase.server_cpu = server.cpu_time()?.saturating_sub(cpu_before);
    phase.latencies.sort_unstable();
    Ok(phase)
}

/// One request: a 200 whose body has the expected `data` and no `errors`.
async fn request(
    client: &reqwest::Client,
    url: &str,
    plan: &PhasePlan,
    body: Vec<u8>,
) -> anyhow::Result<()> {
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    if let Some((name, value)) = &plan.header {
        request = request.header(name.clone(), value.clone());
    }
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    let text = || String::from_utf8_lossy(&bytes).into_owned();
    if status != StatusCode::OK {
        bail!("HTTP {status}: {}", text());
    }
    let answer: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("not JSON: {}", text()))?;
    if answer.get("errors").is_some_and(|errors| !errors.is_null())
        || !(plan.answered)(&answer["data"])
    {
        bail!("unexpected answer: {answer}");
    }
    Ok(())
}
