//! `orbit serve` as a child process, for the benches that measure the
//! server apart from their own load: its CPU time and memory are read from
//! `/proc/<pid>` and so do not include the load generator's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Which `orbit` binary to start, and the environment it gets.
#[derive(Clone)]
pub struct OrbitCommand {
    pub bin: PathBuf,
    /// Extra environment for the server (DATABASE_URL, REDIS_URL, ...).
    pub env: Vec<(String, String)>,
}

impl OrbitCommand {
    /// `bin`, or the `orbit` binary beside this one, with this process's
    /// DATABASE_URL, REDIS_URL and ORBIT_WS_SEND_QUEUE where they are set.
    pub fn from_environment(bin: Option<PathBuf>) -> anyhow::Result<Self> {
        let bin = match bin {
            Some(path) => path,
            None => std::env::current_exe()?.with_file_name("orbit"),
        };
        let env = ["DATABASE_URL", "REDIS_URL", "ORBIT_WS_SEND_QUEUE"]
            .into_iter()
            .filter_map(|name| {
                std::env::var(name)
                    .ok()
                    .map(|value| (name.to_owned(), value))
            })
            .collect();
        Ok(Self { bin, env })
    }

    /// The value the server gets for `name`, if any.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Sets `name` for the server, in place of any value it had.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(key, _)| key != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    fn command(&self, data_dir: &PathBuf, listen: &str) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .env("ORBIT_DATA_DIR", data_dir)
            .env("ORBIT_LISTEN", listen)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }
}

/// Runs `bench` against the database the server is to use. With
/// DATABASE_URL (Postgres), that is a fresh database of its own on that
/// server, dropped afterwards whatever the outcome: the server's
/// environment points at it, and `bench` gets its URL. Without, it is the
/// SQLite file in the server's data dir, and `bench` gets `None`.
pub async fn on_own_database(
    orbit: &OrbitCommand,
    bench: impl AsyncFnOnce(&OrbitCommand, Option<&str>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let Some(postgres_server) = orbit.env_var("DATABASE_URL").map(str::to_owned) else {
        return bench(orbit, None).await;
    };
    crate::in_fresh_database(&postgres_server, async |url| {
        let mut orbit = orbit.clone();
        orbit.set_env("DATABASE_URL", url);
        bench(&orbit, Some(url)).await
    })
    .await
}

/// An app made with `orbit admin create-app`, and one user of it who
/// writes the messages.
pub struct BenchApp {
    pub publishable_key: String,
    pub secret_key: String,
    pub author_token: String,
    pub author_id: String,
}

/// The server process, stopped when dropped.
pub struct Server {
    child: Child,
    pub address: String,
    data_dir: PathBuf,
    orbit: OrbitCommand,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Server {
    /// Starts `orbit serve` on a free port with a throwaway data dir (its
    /// SQLite file, when DATABASE_URL is unset) and waits until it is ready.
    pub async fn start(orbit: &OrbitCommand) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let data_dir =
            std::env::temp_dir().join(format!("orbit-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data_dir)?;
        let child = orbit
            .command(&data_dir, &listen)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", orbit.bin.display()))?;
        let server = Self {
            child,
            address: format!("http://{listen}"),
            data_dir,
            orbit: orbit.clone(),
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

    /// An app, and its author signed up with the app's publishable key.
    pub async fn create_app_with_author(&self) -> anyhow::Result<BenchApp> {
        let keys = self.create_app()?;
        let publishable_key = keys["publishableKey"]
            .as_str()
            .context("no publishable key")?
            .to_owned();
        let secret_key = keys["secretKey"]
            .as_str()
            .context("no secret key")?
            .to_owned();
        let (author_token, author_id) = self
            .sign_up(&publishable_key, "author@example.com", "Author")
            .await?;
        Ok(BenchApp {
            publishable_key,
            secret_key,
            author_token,
            author_id,
        })
    }

    /// Signs up a user of the app `publishable_key` names: its access
    /// token and user id.
    pub async fn sign_up(
        &self,
        publishable_key: &str,
        email: &str,
        display_name: &str,
    ) -> anyhow::Result<(String, String)> {
        let signed_up = self
            .gql(
                publishable_key,
                "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } } }",
                json!({ "input": { "email": email, "password": "bench-password-123", "displayName": display_name } }),
            )
            .await?;
        let field = |path: &str| {
            signed_up
                .pointer(path)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .with_context(|| format!("no {path} in {signed_up}"))
        };
        Ok((field("/signUp/accessToken")?, field("/signUp/user/id")?))
    }

    /// `orbit admin create-app` against the same database: the app's
    /// `publishableKey`, `secretKey`, ...
    fn create_app(&self) -> anyhow::Result<Value> {
        let output = self
            .orbit
            .command(&self.data_dir, "127.0.0.1:0")
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

    /// The server's process id, for `perf record -p`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the server process has used (user and system).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        process_cpu_time(self.child.id())
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.address)
    }

    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.address.replacen("http://", "ws://", 1))
    }

    pub async fn gql(&self, auth: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response: Value = reqwest::Client::new()
            .post(self.graphql_url())
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

/// Resident memory of process `pid`, in bytes.
pub fn process_rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
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

/// CPU time process `pid` has used (user and system).
pub fn process_cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
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
