#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Boots the real server on port 0 with its own database and talks to it as a
//! client would: GraphQL over HTTP. Each test gets a fresh app (SQLite in
//! memory, or a fresh Postgres database when `TEST_DATABASE_URL` is set) and
//! a manual clock, so tests run in parallel and never sleep.

pub mod llm;
pub mod mcp_server;
pub mod oauth_provider;
pub mod redis_cluster;
pub mod smtp;
pub mod tcp_proxy;
pub mod url_receiver;
pub mod webhook_receiver;
pub mod ws;

use std::sync::{Arc, Once};

use chrono::{DateTime, TimeZone, Utc};
use orbit_api::admin::{CreateAppRequest, CreatedAppKeys};
use orbit_api::{Application, Services, Settings};
use orbit_domain::ManualClock;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

/// The password every test user signs up with.
pub const PASSWORD: &str = "correct-horse-battery-staple";

/// Where the manual clock starts.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

static TRACING: Once = Once::new();

/// Server logs on stderr when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
fn init_tracing() {
    TRACING.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub services: Services,
    /// The settings the server was built with (e.g. its JWT secret).
    pub settings: Settings,
    /// Dropped (with the database) when the test's last server goes.
    _database: Arc<TestDatabase>,
    /// Shuts the server down (see [`TestApp::stop`]).
    stop: Arc<tokio::sync::Notify>,
    /// True once the server has taken the signal to stop.
    stopping: tokio::sync::watch::Receiver<bool>,
    running: tokio::sync::Mutex<Option<tokio::task::JoinHandle<anyhow::Result<()>>>>,
}

/// A per-test Postgres database, dropped with the test so repeated runs do
/// not fill the disk.
struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // a thread with its own runtime does the work. FORCE ends the
        // connections the test's server still holds.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await.ok()?;
                let result = admin.execute_unprepared(&statement).await;
                let _ = admin.close().await;
                result.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
    pub email: String,
}

impl Session {
    pub fn token(&self) -> Option<&str> {
        Some(self.access_token.as_str())
    }
}

/// Starts a server with its own empty database, on the broker the run
/// tests: in process, or Redis when `TEST_REDIS_URL` is set.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with settings changed by `configure` first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_tracing();
    let database = TestDatabase::fresh(false).await;
    let mut settings = Settings::for_tests(database.url.clone());
    if let Ok(redis_url) = std::env::var("TEST_REDIS_URL")
        && !redis_url.trim().is_empty()
    {
        settings.redis_url = Some(orbit_api::config::Secret::new(redis_url));
    }
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(start_time()));
    start_server(settings, clock, Arc::new(database)).await
}

/// Two servers, as two `orbit` processes would be: one database (Postgres
/// when `TEST_DATABASE_URL` is set, else one SQLite file), one Redis at
/// `redis_url`, nothing else shared. They share the test's clock.
pub async fn spawn_cluster(redis_url: &str) -> (TestApp, TestApp) {
    spawn_cluster_with(redis_url, |_| {}, |_| {}).await
}

/// [`spawn_cluster`], each server's settings changed by its own closure.
pub async fn spawn_cluster_with(
    redis_url: &str,
    configure_first: impl FnOnce(&mut Settings),
    configure_second: impl FnOnce(&mut Settings),
) -> (TestApp, TestApp) {
    let (database, settings, clock) = cluster_parts(redis_url).await;
    let mut first_settings = settings.clone();
    configure_first(&mut first_settings);
    let first = start_server(first_settings, clock.clone(), database.clone()).await;
    let mut second_settings = settings;
    configure_second(&mut second_settings);
    let second = start_server(second_settings, clock, database).await;
    (first, second)
}

/// `count` servers as [`spawn_cluster`] makes two.
pub async fn spawn_processes(redis_url: &str, count: usize) -> Vec<TestApp> {
    let (database, settings, clock) = cluster_parts(redis_url).await;
    let mut servers = Vec::with_capacity(count);
    for _ in 0..count {
        servers.push(start_server(settings.clone(), clock.clone(), database.clone()).await);
    }
    servers
}

/// What the servers of one cluster share: a database, Redis, the clock.
async fn cluster_parts(redis_url: &str) -> (Arc<TestDatabase>, Settings, Arc<ManualClock>) {
    init_tracing();
    let database = Arc::new(TestDatabase::fresh(true).await);
    let mut settings = Settings::for_tests(database.url.clone());
    settings.redis_url = Some(orbit_api::config::Secret::new(redis_url.to_owned()));
    let clock = Arc::new(ManualClock::new(start_time()));
    (database, settings, clock)
}

async fn start_server(
    settings: Settings,
    clock: Arc<ManualClock>,
    database: Arc<TestDatabase>,
) -> TestApp {
    let application = Application::build(settings.clone(), clock.clone())
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let services = application.services();
    let stop = application.stop_handle();
    let stopping = application.stopping();
    let running = tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        clock,
        services,
        settings,
        _database: database,
        stop,
        stopping,
        running: tokio::sync::Mutex::new(Some(running)),
    }
}

/// A test's database, removed when the last server using it is dropped.
struct TestDatabase {
    url: String,
    _postgres: Option<PostgresDatabase>,
    sqlite_file: Option<std::path::PathBuf>,
}

impl TestDatabase {
    /// A fresh Postgres database when `TEST_DATABASE_URL` is set; else
    /// SQLite, in memory or (when several servers share it) in a file.
    async fn fresh(shared: bool) -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.trim().is_empty() => {
                let name = fresh_postgres_database(&admin_url).await;
                Self {
                    url: with_database_name(&admin_url, &name),
                    _postgres: Some(PostgresDatabase { admin_url, name }),
                    sqlite_file: None,
                }
            }
            _ if shared => {
                let path = std::env::temp_dir()
                    .join(format!("orbit-test-{}.db", uuid::Uuid::new_v4().simple()));
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    _postgres: None,
                    sqlite_file: Some(path),
                }
            }
            _ => Self {
                url: "sqlite::memory:".to_owned(),
                _postgres: None,
                sqlite_file: None,
            },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

/// A Redis server of the test's own on a free port, which the test may
/// stop and start again (the shared one on 6379 must not be touched).
pub struct RedisServer {
    port: u16,
    process: Option<std::process::Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            port,
            process: None,
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port and waits for it to say it is ready.
    pub async fn restart(&mut self) {
        assert!(self.process.is_none(), "already running");
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("redis-server is installed ");
        let stdout = child.stdout.take().expect("piped stdout");
        self.process = Some(child);
        if !redis_server_ready(stdout).await {
            panic!("redis-server did not become ready on port {}", self.port);
        }
    }

    /// Kills it, as an outage would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a `redis-server` whose log is `stdout` says it is ready within
/// 10 s. A thread keeps draining the log afterwards, so that the server
/// never blocks on a full pipe.
pub(crate) async fn redis_server_ready(stdout: std::process::ChildStdout) -> bool {
    let (ready, is_ready) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut ready = Some(ready);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("Ready to accept connections")
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(());
            }
        }
    });
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(10), is_ready).await,
        Ok(Ok(()))
    )
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates `orbit_test_<uuid>` through the admin URL and returns its name.
async fn fresh_postgres_database(admin_url: &str) -> String {
    let name = format!("orbit_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url)
        .await
        .expect("connecting to TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("creating the test database");
    let _ = admin.close().await;
    name
}

/// `postgres://u@h:5432/postgres?x=y` with the database name replaced.
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut replaced = format!("{}/{}", &base[..path_start], name);
    if let Some(query) = query {
        replaced.push('?');
        replaced.push_str(query);
    }
    replaced
}

/// The first error's `extensions.code`.
pub fn error_code(response: &Value) -> Option<String> {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

/// The first error's `extensions.details.field`.
pub fn error_field(response: &Value) -> Option<String> {
    response["errors"][0]["extensions"]["details"]["field"]
        .as_str()
        .map(str::to_owned)
}

/// The first error's message.
pub fn error_message(response: &Value) -> Option<String> {
    response["errors"][0]["message"].as_str().map(str::to_owned)
}

/// Waits until `holds` answers true, checking every 20 ms for at most 10 s:
/// for a change another task makes with no event to wait on.
pub async fn eventually<Check, Holds>(what: &str, mut holds: Check)
where
    Check: FnMut() -> Holds,
    Holds: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut every = tokio::time::interval(std::time::Duration::from_millis(20));
    loop {
        every.tick().await;
        if holds().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
    }
}

/// Asserts the response failed with `code` (and, when given, `field`).
#[track_caller]
pub fn assert_error(response: &Value, code: &str, field: Option<&str>) {
    assert_eq!(
        error_code(response).as_deref(),
        Some(code),
        "expected {code}, got: {response}"
    );
    if let Some(field) = field {
        assert_eq!(
            error_field(response).as_deref(),
            Some(field),
            "expected field {field}, got: {response}"
        );
    }
}

/// True when the response carries no data for `root` (the field is null or
/// there is no data at all).
pub fn no_data(response: &Value, root: &str) -> bool {
    response["data"].is_null() || response["data"][root].is_null()
}

/// Ids of a connection's nodes, in order.
pub fn node_ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

impl TestApp {
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.address)
    }

    /// `ws://127.0.0.1:<port>/graphql`
    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.address.replacen("http://", "ws://", 1))
    }

    /// Posts any JSON body to /graphql; returns the status and the parsed body.
    pub async fn post_graphql(&self, auth: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut request = self.client.post(self.graphql_url()).json(body);
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        let response = request.send().await.expect("the request is sent");
        let status = response.status();
        let text = response.text().await.expect("a response body");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("not JSON (status {status}): {text}"));
        (status, value)
    }

    /// Runs one GraphQL operation; returns the whole response (data and errors).
    pub async fn gql(&self, auth: Option<&str>, query: &str, variables: Value) -> Value {
        self.post_graphql(auth, &json!({ "query": query, "variables": variables }))
            .await
            .1
    }

    /// Runs one operation, asserts it had no errors, and returns its data.
    #[track_caller]
    pub fn gql_ok<'a>(
        &'a self,
        auth: Option<&'a str>,
        query: &'a str,
        variables: Value,
    ) -> impl Future<Output = Value> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let response = self.gql(auth, query, variables).await;
            assert!(
                response.get("errors").is_none_or(Value::is_null),
                "unexpected errors (called at {caller}): {response}\nquery: {query}"
            );
            response["data"].clone()
        }
    }

    /// Creates an app through the operator path; its owner is a console user.
    pub async fn create_app(&self, name: &str) -> CreatedAppKeys {
        let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
        self.create_app_with_owner(name, &email, PASSWORD).await
    }

    pub async fn create_app_with_owner(
        &self,
        name: &str,
        owner_email: &str,
        owner_password: &str,
    ) -> CreatedAppKeys {
        orbit_api::admin::create_app(
            &self.services,
            CreateAppRequest {
                name: name.to_owned(),
                owner_email: owner_email.to_owned(),
                owner_password: owner_password.to_owned(),
            },
        )
        .await
        .expect("the app is created")
    }

    /// Signs up with the app's publishable key and returns the session.
    pub async fn sign_up(&self, publishable_key: &str, email: &str, display_name: &str) -> Session {
        let data = self
            .gql_ok(
                Some(publishable_key),
                SIGN_UP,
                json!({ "input": { "email": email, "password": PASSWORD, "displayName": display_name } }),
            )
            .await;
        session_from(&data["signUp"], email)
    }

    /// Logs in with the app's publishable key.
    pub async fn log_in(&self, publishable_key: &str, email: &str) -> Session {
        self.log_in_with(Some(publishable_key), email).await
    }

    /// Logs in with a key, or without one to the console (as a developer).
    pub async fn log_in_with(&self, key: Option<&str>, email: &str) -> Session {
        let data = self
            .gql_ok(
                key,
                LOG_IN,
                json!({ "input": { "email": email, "password": PASSWORD } }),
            )
            .await;
        session_from(&data["logIn"], email)
    }

    /// Creates a team as `token`'s user (who becomes its owner); returns its id.
    pub async fn create_team(&self, token: &str, name: &str) -> String {
        let data = self
            .gql_ok(
                Some(token),
                CREATE_TEAM,
                json!({ "input": { "name": name } }),
            )
            .await;
        data["createTeam"]["team"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Invites `email` with `role` ("OWNER" | "ADMIN" | "MEMBER"); returns the code.
    pub async fn invite(&self, token: &str, team_id: &str, email: &str, role: &str) -> String {
        let data = self
            .gql_ok(
                Some(token),
                INVITE_TEAM_MEMBER,
                json!({ "input": { "teamId": team_id, "email": email, "role": role } }),
            )
            .await;
        data["inviteTeamMember"]["invitation"]["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Joins a team with an invitation code; returns the `joinTeam` payload.
    pub async fn join_team(&self, token: &str, code: &str) -> Value {
        let data = self
            .gql_ok(Some(token), JOIN_TEAM, json!({ "input": { "code": code } }))
            .await;
        data["joinTeam"].clone()
    }

    /// Invites `user` into the team with `role` and has them join.
    pub async fn add_to_team(&self, inviter: &str, team_id: &str, user: &Session, role: &str) {
        let code = self.invite(inviter, team_id, &user.email, role).await;
        self.join_team(&user.access_token, &code).await;
    }

    /// Creates a thread (a team's when `team_id` is given); returns its id.
    pub async fn create_thread(&self, token: &str, title: &str, team_id: Option<&str>) -> String {
        let data = self
            .gql_ok(
                Some(token),
                CREATE_THREAD,
                json!({ "input": { "title": title, "teamId": team_id } }),
            )
            .await;
        data["createThread"]["thread"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Sends a message as `token`'s user; returns its id.
    pub async fn send_message(&self, token: &str, thread_id: &str, content: &str) -> String {
        let data = self
            .gql_ok(
                Some(token),
                SEND_MESSAGE,
                json!({ "input": { "threadId": thread_id, "content": content } }),
            )
            .await;
        data["sendMessage"]["message"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The ids of a thread's first `first` messages, oldest first, as `token` sees them.
    pub async fn message_ids(&self, token: &str, thread_id: &str, first: i32) -> Vec<String> {
        let data = self
            .gql_ok(
                Some(token),
                "query($id: ID!, $first: Int) { thread(id: $id) { messages(first: $first) { edges { node { id } } } } }",
                json!({ "id": thread_id, "first": first }),
            )
            .await;
        node_ids(&data["thread"]["messages"])
    }

    /// GET on a path of the server.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("the request is sent")
    }
}

impl TestApp {
    /// `GET /metrics`'s text (it must answer 200).
    pub async fn metrics(&self) -> String {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), StatusCode::OK, "GET /metrics");
        response.text().await.expect("the metrics body")
    }
}

/// The value of the sample `name` whose labels include `labels`, in a
/// Prometheus text exposition; the sum when several samples match (say,
/// one label left unnamed).
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = match line.rsplit_once(' ') {
            Some(split) => split,
            None => continue,
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((series_name, rest)) => (series_name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let has = |(key, value): &(&str, &str)| {
            series_labels
                .split(',')
                .any(|pair| pair == format!("{key}=\"{value}\""))
        };
        if labels.iter().all(has) {
            let value: f64 = value.parse().expect("a sample value");
            found = Some(found.unwrap_or(0.0) + value);
        }
    }
    found
}

fn session_from(payload: &Value, email: &str) -> Session {
    Session {
        access_token: payload["accessToken"].as_str().unwrap().to_owned(),
        refresh_token: payload["refreshToken"].as_str().unwrap().to_owned(),
        user_id: payload["user"]["id"].as_str().unwrap().to_owned(),
        email: email.to_owned(),
    }
}

/// A unique email for a test user.
pub fn email(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// One app with a team and the people around it:
/// `owner` (team OWNER), `admin` (ADMIN), `member` (MEMBER), `author` (a MEMBER
/// who created `thread`, a team thread, and wrote `message` in it) and
/// `outsider` (a user of the app in no team).
pub struct TeamWorld {
    pub keys: CreatedAppKeys,
    pub owner: Session,
    pub admin: Session,
    pub member: Session,
    pub author: Session,
    pub outsider: Session,
    pub team_id: String,
    pub thread_id: String,
    pub message_id: String,
}

/// The users of a [`TeamWorld`], signed up once per app so worlds are cheap.
pub struct People {
    pub keys: CreatedAppKeys,
    pub owner: Session,
    pub admin: Session,
    pub member: Session,
    pub author: Session,
    pub outsider: Session,
    /// In no team; never a caller in the matrix, only a target.
    pub guest: Session,
}

impl TestApp {
    /// An app and five users.
    pub async fn people(&self) -> People {
        let keys = self.create_app("World").await;
        let pk = keys.publishable_key.clone();
        People {
            owner: self.sign_up(&pk, &email("owner"), "Olive Owner").await,
            admin: self.sign_up(&pk, &email("admin"), "Adam Admin").await,
            member: self.sign_up(&pk, &email("member"), "Mia Member").await,
            author: self.sign_up(&pk, &email("author"), "Aria Author").await,
            outsider: self.sign_up(&pk, &email("outsider"), "Otto Outsider").await,
            guest: self.sign_up(&pk, &email("guest"), "Gus Guest").await,
            keys,
        }
    }

    /// A fresh team (and thread and message) among `people`.
    pub async fn team_world(&self, people: &People) -> TeamWorld {
        let owner = &people.owner.access_token;
        let team_id = self.create_team(owner, "Crew").await;
        self.add_to_team(owner, &team_id, &people.admin, "ADMIN")
            .await;
        self.add_to_team(owner, &team_id, &people.member, "MEMBER")
            .await;
        self.add_to_team(owner, &team_id, &people.author, "MEMBER")
            .await;
        let thread_id = self
            .create_thread(&people.author.access_token, "Plans", Some(&team_id))
            .await;
        let message_id = self
            .send_message(&people.author.access_token, &thread_id, "hello team")
            .await;
        TeamWorld {
            keys: people.keys.clone(),
            owner: people.owner.clone(),
            admin: people.admin.clone(),
            member: people.member.clone(),
            author: people.author.clone(),
            outsider: people.outsider.clone(),
            team_id,
            thread_id,
            message_id,
        }
    }

    /// A new app with a [`TeamWorld`].
    pub async fn new_team_world(&self) -> TeamWorld {
        let people = self.people().await;
        self.team_world(&people).await
    }
}

// The operations tests use most, with the fields they check.

pub const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken expiresIn user { id email displayName } } }";
pub const LOG_IN: &str = "mutation($input: LogInInput!) { logIn(input: $input) { accessToken refreshToken expiresIn user { id email displayName } } }";
pub const REFRESH_SESSION: &str = "mutation($input: RefreshSessionInput!) { refreshSession(input: $input) { accessToken refreshToken expiresIn user { id } } }";
pub const LOG_OUT: &str =
    "mutation($input: LogOutInput) { logOut(input: $input) { revokedSessions } }";
pub const ME: &str = "{ me { id email displayName } }";
pub const VIEWER: &str = "{ viewer { kind app { id name } user { id email } } }";

pub const CREATE_TEAM: &str = "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id name viewerRole members(first: 100) { edges { node { role user { id } } } } } } }";
pub const UPDATE_TEAM: &str =
    "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { id name } } }";
pub const DELETE_TEAM: &str =
    "mutation($input: DeleteTeamInput!) { deleteTeam(input: $input) { deletedTeamId } }";
pub const INVITE_TEAM_MEMBER: &str = "mutation($input: InviteTeamMemberInput!) { inviteTeamMember(input: $input) { invitation { id code email role expiresAt team { id } } } }";
pub const JOIN_TEAM: &str = "mutation($input: JoinTeamInput!) { joinTeam(input: $input) { team { id name viewerRole } member { role user { id } } } }";
pub const REMOVE_TEAM_MEMBER: &str = "mutation($input: RemoveTeamMemberInput!) { removeTeamMember(input: $input) { team { id } removedUserId } }";
pub const SET_TEAM_MEMBER_ROLE: &str = "mutation($input: SetTeamMemberRoleInput!) { setTeamMemberRole(input: $input) { member { role user { id } } } }";
pub const TEAM: &str = "query($id: ID!) { team(id: $id) { id name viewerRole members(first: 100) { edges { node { role user { id } } } } } }";

pub const CREATE_THREAD: &str = "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id title team { id } owner { id } participants { user { id } } } } }";
pub const UPDATE_THREAD: &str =
    "mutation($input: UpdateThreadInput!) { updateThread(input: $input) { thread { id title } } }";
pub const DELETE_THREAD: &str =
    "mutation($input: DeleteThreadInput!) { deleteThread(input: $input) { deletedThreadId } }";
pub const ADD_THREAD_PARTICIPANT: &str = "mutation($input: AddThreadParticipantInput!) { addThreadParticipant(input: $input) { thread { id participants { user { id } } } } }";
pub const REMOVE_THREAD_PARTICIPANT: &str = "mutation($input: RemoveThreadParticipantInput!) { removeThreadParticipant(input: $input) { thread { id participants { user { id } } } } }";
pub const THREAD: &str = "query($id: ID!) { thread(id: $id) { id title team { id } owner { id } participants { user { id } } unreadCount lastMessageAt } }";

pub const SEND_MESSAGE: &str = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id content metadata status createdAt editedAt deletedAt thread { id } author { ... on User { id } } } } }";
pub const EDIT_MESSAGE: &str = "mutation($input: EditMessageInput!) { editMessage(input: $input) { message { id content editedAt deletedAt } } }";
pub const DELETE_MESSAGE: &str = "mutation($input: DeleteMessageInput!) { deleteMessage(input: $input) { message { id content deletedAt } } }";
pub const MARK_THREAD_READ: &str = "mutation($input: MarkThreadReadInput!) { markThreadRead(input: $input) { thread { id unreadCount } } }";

/// Decodes the header and claims of a JWT (no verification).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let mut decode = |what: &str| -> Value {
        let part = parts.next().unwrap_or_else(|| panic!("a JWT has a {what}"));
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let header = decode("header");
    let claims = decode("claims");
    (header, claims)
}

/// Encodes JSON as a base64url JWT segment.
pub fn jwt_segment(value: &Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A well-formed ID of `prefix` ("usr", "team", "thr", "msg", "app") that names nothing.
pub fn missing_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// One database for servers started one after another, as `orbit`
/// processes restarted after a crash would be: Postgres with
/// `TEST_DATABASE_URL`, else one SQLite file. They share the test's clock,
/// and the broker the run tests (in process each, or `TEST_REDIS_URL`).
pub struct SharedDatabase {
    database: Arc<TestDatabase>,
    pub clock: Arc<ManualClock>,
}

impl SharedDatabase {
    pub async fn new() -> Self {
        init_tracing();
        Self {
            database: Arc::new(TestDatabase::fresh(true).await),
            clock: Arc::new(ManualClock::new(start_time())),
        }
    }

    /// Starts a server on the database.
    pub async fn spawn(&self) -> TestApp {
        let mut settings = Settings::for_tests(self.database.url.clone());
        if let Ok(redis_url) = std::env::var("TEST_REDIS_URL")
            && !redis_url.trim().is_empty()
        {
            settings.redis_url = Some(orbit_api::config::Secret::new(redis_url));
        }
        start_server(settings, self.clock.clone(), self.database.clone()).await
    }
}

impl TestApp {
    /// Signals the server as one SIGTERM would and returns once it has
    /// taken the signal, not once it stopped: with a shutdown grace it
    /// keeps serving (and says it is stopping) until the grace ends or a
    /// second signal ([`TestApp::stop`]) comes.
    pub async fn begin_stopping(&self) {
        self.stop.notify_one();
        let mut stopping = self.stopping.clone();
        stopping
            .wait_for(|stopping| *stopping)
            .await
            .expect("the server is running");
    }

    /// Shuts the server down as SIGTERM would and returns once it stopped:
    /// requests done, relay and worker loops ended. Its database stays, for
    /// the next server (and `services` still reaches it).
    pub async fn stop(&self) {
        self.stop.notify_one();
        if let Some(running) = self.running.lock().await.take() {
            running
                .await
                .expect("the server task ends")
                .expect("the server shuts down cleanly");
        }
    }
}

/// [`spawn_app_with`] on a database other servers can share (Postgres, or
/// an SQLite file), so that [`TestApp::another_process`] can join it.
pub async fn spawn_shareable_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_tracing();
    let database = TestDatabase::fresh(true).await;
    let mut settings = Settings::for_tests(database.url.clone());
    if let Ok(redis_url) = std::env::var("TEST_REDIS_URL")
        && !redis_url.trim().is_empty()
    {
        settings.redis_url = Some(orbit_api::config::Secret::new(redis_url));
    }
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(start_time()));
    start_server(settings, clock, Arc::new(database)).await
}

impl TestApp {
    /// Another server on this one's database and clock (and Redis, when it
    /// has one), as a second `orbit` process would be; `configure` changes
    /// its settings. The database must be shareable
    /// ([`spawn_shareable_app_with`], [`spawn_cluster`]).
    pub async fn another_process(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        settings.redis_prefix = format!("orbit-test-{}", uuid::Uuid::now_v7().simple());
        configure(&mut settings);
        start_server(settings, self.clock.clone(), self._database.clone()).await
    }

    /// A developer (a console user) with `role` ("owner", "admin",
    /// "developer", "viewer") on the app `app_id`, signed in to the console.
    pub async fn developer(&self, app_id: &str, role: &str) -> Session {
        use orbit_domain::entities::app_member;
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        let email = email(&format!("dev-{role}"));
        // The operator path makes the console user (owner of an app of their own).
        self.create_app_with_owner("Own", &email, PASSWORD).await;
        let session = self.log_in_with(None, &email).await;
        let app: orbit_domain::ids::AppId = app_id.parse().unwrap();
        let user: orbit_domain::ids::UserId = session.user_id.parse().unwrap();
        app_member::ActiveModel {
            app_id: Set(app.uuid()),
            user_id: Set(user.uuid()),
            role: Set(role.to_owned()),
            created_at: Set(start_time()),
        }
        .insert(self.services.db().conn())
        .await
        .unwrap();
        session
    }
}

// The developer control plane.

pub const CREATE_APP: &str = "mutation($input: CreateAppInput!) { createApp(input: $input) { app { id name viewerRole } publishableKey secretKey } }";
pub const ADD_APP_MEMBER: &str = "mutation($input: AddAppMemberInput!) { addAppMember(input: $input) { member { email role user { id } } } }";
pub const CREATE_API_KEY: &str = "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id name kind environment hint createdAt revokedAt lastUsedAt } } }";
pub const REVOKE_API_KEY: &str = "mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id revokedAt } } }";
pub const UPDATE_APP_SETTINGS: &str = "mutation($input: UpdateAppSettingsInput!) { updateAppSettings(input: $input) { settings { allowedRedirectOrigins passwordlessSignUp passwordSignUp passwordLogin emailCodeLogin magicLinkLogin oauthLogin } } }";

/// An app a developer made with `createApp`.
#[derive(Debug, Clone)]
pub struct DeveloperApp {
    pub app_id: String,
    pub publishable_key: String,
    pub secret_key: String,
}

/// A server whose console lets anyone sign up as a developer.
pub async fn spawn_console_app() -> TestApp {
    spawn_app_with(|settings| settings.console_signup = orbit_api::config::ConsoleSignup::Open)
        .await
}

impl TestApp {
    /// Signs a developer up in the console (the server must allow it:
    /// [`spawn_console_app`]).
    pub async fn sign_up_developer(&self, name: &str) -> Session {
        let address = email(name);
        let data = self
            .gql_ok(
                None,
                SIGN_UP,
                json!({ "input": { "email": address, "password": PASSWORD, "displayName": name } }),
            )
            .await;
        session_from(&data["signUp"], &address)
    }

    /// Creates an app as the developer `token` (who becomes its owner).
    pub async fn create_app_as(&self, token: &str, name: &str) -> DeveloperApp {
        let data = self
            .gql_ok(
                Some(token),
                CREATE_APP,
                json!({ "input": { "name": name } }),
            )
            .await;
        let created = &data["createApp"];
        DeveloperApp {
            app_id: created["app"]["id"].as_str().unwrap().to_owned(),
            publishable_key: created["publishableKey"].as_str().unwrap().to_owned(),
            secret_key: created["secretKey"].as_str().unwrap().to_owned(),
        }
    }

    /// Makes the developer with `email` a member of the app with `role`
    /// ("OWNER" | "ADMIN" | "DEVELOPER" | "VIEWER"), as `token`.
    pub async fn add_app_member(&self, token: &str, app_id: &str, email: &str, role: &str) {
        self.gql_ok(
            Some(token),
            ADD_APP_MEMBER,
            json!({ "input": { "appId": app_id, "email": email, "role": role } }),
        )
        .await;
    }
}

/// A way to take a test server's database away, and on Postgres to give
/// it back: there the server reaches Postgres through a [`tcp_proxy::TcpProxy`]
/// that is cut, a real network failure; SQLite lives in the server's own
/// process and cannot go down, so there its pool is closed, which cannot
/// be undone.
pub struct DatabaseOutage {
    proxy: Option<tcp_proxy::TcpProxy>,
}

impl DatabaseOutage {
    pub async fn begin(&self, app: &TestApp) {
        match &self.proxy {
            Some(proxy) => proxy.cut(),
            None => {
                let _ = app.services.db().conn().close_by_ref().await;
            }
        }
    }

    /// SQL statements the server sent so far (Postgres; `None` on SQLite,
    /// which has no wire to count on).
    pub fn statements_sent(&self) -> Option<u64> {
        self.proxy.as_ref().map(tcp_proxy::TcpProxy::statements)
    }

    /// Round trips to Postgres so far: each time the server was asked to
    /// answer (a statement, or a ping); `None` on SQLite.
    pub fn round_trips(&self) -> Option<u64> {
        self.proxy.as_ref().map(tcp_proxy::TcpProxy::round_trips)
    }

    /// Whether [`Self::end`] brings the database back (Postgres).
    pub fn can_end(&self) -> bool {
        self.proxy.is_some()
    }

    pub fn end(&self) {
        if let Some(proxy) = &self.proxy {
            proxy.restore();
        }
    }
}

/// [`spawn_app_with_breakable_database`] whose statements the test counts
/// on the Postgres wire, with no idle sweep inside the test's window (only
/// what the test causes is counted); `None`, said on stderr, without
/// `TEST_DATABASE_URL`.
pub async fn spawn_app_counting_statements() -> Option<(TestApp, DatabaseOutage)> {
    let (app, database) = spawn_app_with_breakable_database(|settings| {
        settings.idle_sweep = std::time::Duration::from_secs(3600);
    })
    .await;
    if database.statements_sent().is_none() {
        eprintln!("statements are counted on the Postgres wire: set TEST_DATABASE_URL");
        return None;
    }
    Some((app, database))
}

/// [`spawn_app_with`], with a database the test can take away
/// ([`DatabaseOutage`]); requests wait at most a second for a connection.
pub async fn spawn_app_with_breakable_database(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, DatabaseOutage) {
    let postgres = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty());
    let proxy = match postgres {
        Some(admin_url) => {
            let parsed = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
            let port = parsed.port().unwrap_or(5432);
            let target = tokio::net::lookup_host((host.as_str(), port))
                .await
                .expect("the Postgres host resolves")
                .next()
                .expect("an address for the Postgres host");
            Some(tcp_proxy::TcpProxy::start(target).await)
        }
        None => None,
    };
    let proxy_address = proxy.as_ref().map(tcp_proxy::TcpProxy::address);
    let app = spawn_app_with(|settings| {
        settings.database_acquire_timeout = std::time::Duration::from_secs(1);
        if let (Some(address), Some(url)) = (proxy_address, settings.database_url.clone()) {
            let mut url = url::Url::parse(url.expose()).expect("a database URL");
            url.set_host(Some("127.0.0.1")).expect("a host");
            url.set_port(Some(address.port())).expect("a port");
            // In the clear, so that the proxy can count statements on the wire.
            url.query_pairs_mut().append_pair("sslmode", "disable");
            settings.database_url = Some(orbit_api::config::Secret::new(url.to_string()));
        }
        configure(settings);
    })
    .await;
    (app, DatabaseOutage { proxy })
}
