//! Settings: defaults, then an optional `orbit.toml`, then `ORBIT_*` (and
//! `DATABASE_URL`, `REDIS_URL`) from the environment; the environment wins.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// A value that must never reach a log or an error message.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleSignup {
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `ORBIT_LISTEN`: address to bind; port 0 picks a free one.
    pub listen: String,
    /// `ORBIT_DATA_DIR`: the SQLite file and generated keys live here.
    pub data_dir: PathBuf,
    /// `ORBIT_PUBLIC_URL`: how clients reach this server; also the token issuer.
    pub public_url: Option<String>,
    /// `DATABASE_URL`: Postgres for production; unset means SQLite in the data dir.
    pub database_url: Option<Secret>,
    /// `REDIS_URL`: the real-time broker and presence, shared by several processes.
    pub redis_url: Option<Secret>,
    /// `ORBIT_REDIS_PREFIX`: the start of every Redis key Orbit writes, so
    /// that several deployments can share one Redis.
    pub redis_prefix: String,
    /// `ORBIT_JWT_SECRET`: signs access tokens; generated once into the data dir when unset.
    pub jwt_secret: Option<Secret>,
    /// `ORBIT_SECRETS_KEY`: encrypts app secrets at rest (provider keys, OAuth
    /// client secrets, webhook signing secrets); 32 bytes as base64url or hex.
    /// Generated once into the data dir when unset.
    pub secrets_key: Option<Secret>,
    /// `ORBIT_SMTP_URL`: where mail goes (`smtp://`, `smtps://`, user and
    /// password in the URL); unset, mail is written to the log instead.
    pub smtp_url: Option<Secret>,
    /// `ORBIT_MAIL_FROM`: the sender of every mail.
    pub mail_from: String,
    /// `ORBIT_CONSOLE_SIGNUP`: whether anyone may sign up as a developer.
    pub console_signup: ConsoleSignup,
    /// `ORBIT_FIRST_DEVELOPER_EMAIL`: the developer `orbit serve` creates
    /// (and prints a password for) when the console has none.
    pub first_developer_email: String,
    /// `ORBIT_TRUSTED_PROXIES`: addresses or CIDR blocks of the proxies in
    /// front of the server, whose `X-Forwarded-For` names the client for the
    /// per-address limits. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<crate::ip_block::IpBlock>,
    /// `ORBIT_WEBHOOK_ALLOW_PRIVATE`: let calls to URLs apps configure
    /// (webhooks, model providers, routines' `callUrl`, OAuth providers)
    /// reach loopback and private addresses. Off: public addresses only.
    pub webhook_allow_private: bool,
    /// `ORBIT_OUTBOUND_PROXY`: an `http://` or `https://` proxy that every
    /// call to a URL an app configured goes through. Unset, those calls
    /// connect directly, whatever `HTTP_PROXY` says. The proxy resolves and
    /// connects the target, out of the server's sight, so it must refuse
    /// non-public addresses itself (docs/operations.md, "Outbound calls").
    pub outbound_proxy: Option<Secret>,
    /// `ORBIT_GRAPHIQL`: serve GraphiQL on `GET /graphql`.
    pub graphiql: bool,
    /// `ORBIT_RUN_WORKER`: run the worker (agent replies, routines, webhook
    /// deliveries) in this process. Off, the process serves requests only
    /// and other processes on the same database do the work.
    pub run_worker: bool,
    /// `ORBIT_INTROSPECTION`: answer introspection queries.
    pub introspection: bool,
    /// `ORBIT_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// How long a WebSocket may wait before `connection_init` (4408 after).
    pub ws_init_timeout: std::time::Duration,
    /// `ORBIT_WS_SEND_QUEUE`: frames queued for one WebSocket before its
    /// client counts as not reading and is disconnected.
    pub ws_send_queue: usize,
    /// `ORBIT_GRAPHQL_MAX_DEPTH`, `_MAX_FIELDS`, `_MAX_ALIASES`,
    /// `_MAX_ROOT_FIELDS`, `_INTROSPECTION_MAX_DEPTH`,
    /// `_INTROSPECTION_MAX_FIELDS`: what one GraphQL document may cost, with
    /// fragments counted where they are spread.
    pub query_limits: QueryLimits,
    /// `ORBIT_DATABASE_ACQUIRE_TIMEOUT` (seconds): how long a request waits
    /// for a database connection; while the database is down, how long it
    /// takes to answer `UNAVAILABLE`.
    pub database_acquire_timeout: std::time::Duration,
    /// `ORBIT_DATABASE_KEPT_CONNECTIONS`: Postgres connections kept beside
    /// the pool for the writes that commit in one statement (a sent
    /// message, the relay's clearing), which skip sqlx's ping on return to
    /// the pool; 0 runs those on the pool. Default 8.
    pub database_kept_connections: usize,
    /// `ORBIT_DATABASE_OPEN_AHEAD`: `serve` opens the kept connections as
    /// it starts rather than as the first writes need them, so those
    /// writes do not wait for a connection to open. Default true; tests,
    /// many servers on one Postgres, turn it off.
    pub database_open_ahead: bool,
    /// `ORBIT_IDLE_SWEEP` (milliseconds): how often the outbox relay and
    /// each worker loop look for work that no signal announced (another
    /// process's crash, work come due, expired leases). Default 1000.
    pub idle_sweep: std::time::Duration,
    /// `ORBIT_REORDER_WAIT` (milliseconds): how long a subscription holds
    /// an event that came ahead of its turn (another process published it
    /// first) for the ones before it to arrive, before reading them from
    /// the events table; 0 reads at once. Default 50.
    pub reorder_wait: std::time::Duration,
    /// `ORBIT_HTTP_HEADER_TIMEOUT` (seconds): how long a connection may take
    /// to send a request's headers, and stay idle between requests.
    pub http_header_timeout: std::time::Duration,
    /// `ORBIT_SHUTDOWN_GRACE` (seconds, default 0): how long a process told
    /// to stop keeps serving first, with `/readyz` answering 503 and every
    /// answer closing its connection, so that a load balancer moves its
    /// traffic elsewhere before the listener closes. A second signal ends
    /// it at once.
    pub shutdown_grace: std::time::Duration,
    /// `ORBIT_PASSWORD_THREADS`: password hashes and checks (argon2) that
    /// may run at once; by default half the cores, so a storm of logins
    /// leaves the other half to everyone else.
    pub password_threads: usize,
    /// `ORBIT_PASSWORD_QUEUE`: password operations that may wait for one of
    /// those threads; past it, `UNAVAILABLE` with `Retry-After` at once.
    pub password_queue: usize,
    /// `ORBIT_METRICS`: serve `GET /metrics` (Prometheus text).
    pub metrics: bool,
    /// `ORBIT_METRICS_TOKEN`: when set, `/metrics` answers only a request
    /// with `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// `ORBIT_TOOL_TIMEOUT` (seconds, default 30): the longest one call of
    /// an agent's tool may take; `ORBIT_TOOL_RESULT_MAX_BYTES` (default
    /// 65536): the most a tool may answer. Past either, the call fails and
    /// the model is told why. `ORBIT_TOOL_APPROVAL_TIMEOUT` (seconds,
    /// default 900): how long a call of a tool that requires approval waits
    /// for a decision before it counts as refused.
    /// `ORBIT_TOOL_MAX_STEPS` (default 32, at most 32): the most model
    /// turns any reply may take, whatever an agent's `maxSteps`.
    /// `ORBIT_MCP_REFRESH_INTERVAL` (seconds, default 600): how often the
    /// worker lists each MCP server's tools again.
    pub tool_limits: orbit_worker::agents::tools::ToolLimits,
    /// `ORBIT_OTLP_ENDPOINT`: an OTLP/HTTP collector (`http://host:4318`)
    /// that receives the server's spans; unset, spans are only logged.
    pub otlp_endpoint: Option<String>,
    /// `ORBIT_CORS_ORIGINS`, `ORBIT_CORS_HEADERS`: which browser origins
    /// may call, and the request headers they may send.
    pub cors: CorsSettings,
}

/// Frames waiting to be written to one socket (`ORBIT_WS_SEND_QUEUE`). A
/// client this far behind has stopped reading.
pub const DEFAULT_WS_SEND_QUEUE: usize = 512;
/// Without `connection_init` within this time a socket closes with 4408.
pub const DEFAULT_WS_INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The limits on one document; settings (`ORBIT_GRAPHQL_*`, docs/operations.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Nesting of fields, outside introspection.
    pub max_depth: usize,
    /// Fields as executed (each fragment counted where it is spread),
    /// outside introspection.
    pub max_fields: usize,
    /// Aliased fields as executed: each may be another call of an
    /// expensive or rate-limited field.
    pub max_aliases: usize,
    /// Fields at the root of one operation, as executed.
    pub max_root_fields: usize,
    /// Nesting of fields below `__schema` and `__type`.
    pub introspection_max_depth: usize,
    /// Fields below `__schema` and `__type`, as executed.
    pub introspection_max_fields: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_fields: 1_000,
            max_aliases: 30,
            max_root_fields: 20,
            // graphql-js's getIntrospectionQuery() nests 15 deep and selects
            // about 230 fields; later versions may ask `ofType` a few more times.
            introspection_max_depth: 24,
            introspection_max_fields: 1_000,
        }
    }
}

/// What browsers of other origins may do (CORS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Origins (`https://app.example.com`) allowed to call; empty, any.
    pub origins: Vec<String>,
    /// Request headers a page may send: [`DEFAULT_CORS_HEADERS`] and
    /// those `ORBIT_CORS_HEADERS` adds.
    pub headers: Vec<String>,
}

/// The headers every page may send: the credential, the body's type, the
/// request id, and the tracing headers of W3C Trace Context, W3C Baggage
/// and Sentry, so front ends can tie their spans to the server's.
pub const DEFAULT_CORS_HEADERS: [&str; 8] = [
    "authorization",
    "content-type",
    "x-api-key",
    "x-request-id",
    "traceparent",
    "tracestate",
    "baggage",
    "sentry-trace",
];

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            origins: Vec::new(),
            headers: DEFAULT_CORS_HEADERS.map(str::to_owned).to_vec(),
        }
    }
}

impl CorsSettings {
    /// Sets the allowed origins: `*` (or nothing) is any; otherwise each
    /// must be a scheme, host and optional port, with nothing after.
    fn set_origins<'a>(&mut self, origins: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
        let mut allowed = Vec::new();
        for origin in origins.map(str::trim).filter(|origin| !origin.is_empty()) {
            if origin == "*" {
                self.origins.clear();
                return Ok(());
            }
            let parsed = url::Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .filter(|url| url.path() == "/" && url.query().is_none() && url.fragment().is_none())
                .filter(|url| url.host_str().is_some() && !origin.ends_with('/'))
                .with_context(|| {
                    format!("ORBIT_CORS_ORIGINS: `{origin}` is not an origin like https://app.example.com")
                })?;
            allowed.push(parsed.origin().ascii_serialization());
        }
        self.origins = allowed;
        Ok(())
    }

    /// Adds request headers pages may send, beyond the defaults.
    fn add_headers<'a>(&mut self, headers: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
        for header in headers.map(str::trim).filter(|header| !header.is_empty()) {
            let name = axum::http::HeaderName::from_bytes(header.as_bytes())
                .with_context(|| format!("ORBIT_CORS_HEADERS: `{header}` is not a header name"))?;
            if !self.headers.iter().any(|known| known == name.as_str()) {
                self.headers.push(name.as_str().to_owned());
            }
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            public_url: None,
            database_url: None,
            redis_url: None,
            redis_prefix: "orbit".to_owned(),
            jwt_secret: None,
            secrets_key: None,
            smtp_url: None,
            mail_from: "Orbit <no-reply@localhost>".to_owned(),
            console_signup: ConsoleSignup::Closed,
            first_developer_email: "admin@orbit.localhost".to_owned(),
            trusted_proxies: Vec::new(),
            webhook_allow_private: false,
            outbound_proxy: None,
            graphiql: true,
            run_worker: true,
            introspection: true,
            log_format: LogFormat::Text,
            ws_init_timeout: DEFAULT_WS_INIT_TIMEOUT,
            ws_send_queue: DEFAULT_WS_SEND_QUEUE,
            query_limits: QueryLimits::default(),
            database_acquire_timeout: orbit_persistence::DEFAULT_ACQUIRE_TIMEOUT,
            database_kept_connections: orbit_persistence::DEFAULT_KEPT_CONNECTIONS,
            database_open_ahead: true,
            idle_sweep: orbit_worker::POLL_INTERVAL,
            reorder_wait: std::time::Duration::from_millis(50),
            http_header_timeout: std::time::Duration::from_secs(30),
            shutdown_grace: std::time::Duration::ZERO,
            password_threads: crate::password_work::PasswordWork::default_threads(),
            password_queue: 16,
            metrics: true,
            metrics_token: None,
            otlp_endpoint: None,
            tool_limits: Default::default(),
            cors: CorsSettings::default(),
        }
    }
}

/// The shape of `orbit.toml`: every key optional, named as in the env without `ORBIT_`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    database_url: Option<Secret>,
    redis_url: Option<Secret>,
    redis_prefix: Option<String>,
    jwt_secret: Option<Secret>,
    secrets_key: Option<Secret>,
    smtp_url: Option<Secret>,
    mail_from: Option<String>,
    console_signup: Option<ConsoleSignup>,
    first_developer_email: Option<String>,
    webhook_allow_private: Option<bool>,
    outbound_proxy: Option<Secret>,
    trusted_proxies: Option<Vec<String>>,
    graphiql: Option<bool>,
    run_worker: Option<bool>,
    introspection: Option<bool>,
    log_format: Option<LogFormat>,
    ws_send_queue: Option<usize>,
    database_acquire_timeout: Option<u64>,
    database_kept_connections: Option<usize>,
    database_open_ahead: Option<bool>,
    /// Milliseconds, as `ORBIT_IDLE_SWEEP` (once read as `idle_sweep_ms`).
    #[serde(alias = "idle_sweep_ms")]
    idle_sweep: Option<u64>,
    /// Milliseconds, as `ORBIT_REORDER_WAIT`.
    reorder_wait: Option<u64>,
    http_header_timeout: Option<u64>,
    shutdown_grace: Option<u64>,
    tool_timeout: Option<u64>,
    tool_result_max_bytes: Option<usize>,
    tool_approval_timeout: Option<u64>,
    mcp_refresh_interval: Option<u64>,
    tool_max_steps: Option<u32>,
    password_threads: Option<usize>,
    password_queue: Option<usize>,
    graphql_max_depth: Option<usize>,
    graphql_max_fields: Option<usize>,
    graphql_max_aliases: Option<usize>,
    graphql_max_root_fields: Option<usize>,
    graphql_introspection_max_depth: Option<usize>,
    graphql_introspection_max_fields: Option<usize>,
    metrics: Option<bool>,
    metrics_token: Option<Secret>,
    otlp_endpoint: Option<String>,
    cors_origins: Option<Vec<String>>,
    cors_headers: Option<Vec<String>>,
}

impl Settings {
    /// Reads `orbit.toml` (or the file named by `ORBIT_CONFIG`) if present, then the environment.
    pub fn load() -> anyhow::Result<Self> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let path = env("ORBIT_CONFIG").map(PathBuf::from);
        let file = match &path {
            Some(path) => Some(read_file(path)?),
            None if Path::new("orbit.toml").exists() => Some(read_file(Path::new("orbit.toml"))?),
            None => None,
        }
        .unwrap_or_default();

        let mut settings = Settings::default();
        macro_rules! layer {
            ($field:ident) => {
                if let Some(value) = file.$field {
                    settings.$field = value;
                }
            };
            (opt $field:ident) => {
                if file.$field.is_some() {
                    settings.$field = file.$field;
                }
            };
        }
        layer!(listen);
        layer!(data_dir);
        layer!(console_signup);
        layer!(first_developer_email);
        layer!(webhook_allow_private);
        layer!(graphiql);
        layer!(run_worker);
        layer!(introspection);
        layer!(log_format);
        layer!(ws_send_queue);
        layer!(redis_prefix);
        layer!(opt public_url);
        layer!(opt database_url);
        layer!(opt redis_url);
        layer!(opt jwt_secret);
        layer!(opt secrets_key);
        layer!(opt smtp_url);
        layer!(opt outbound_proxy);
        layer!(mail_from);
        layer!(metrics);
        layer!(opt metrics_token);
        layer!(opt otlp_endpoint);

        if let Some(listen) = env("ORBIT_LISTEN") {
            settings.listen = listen;
        }
        if let Some(dir) = env("ORBIT_DATA_DIR") {
            settings.data_dir = PathBuf::from(dir);
        }
        if let Some(url) = env("ORBIT_PUBLIC_URL") {
            settings.public_url = Some(url);
        }
        if let Some(url) = env("DATABASE_URL") {
            settings.database_url = Some(Secret::new(url));
        }
        if let Some(url) = env("REDIS_URL") {
            settings.redis_url = Some(Secret::new(url));
        }
        if let Some(prefix) = env("ORBIT_REDIS_PREFIX") {
            settings.redis_prefix = prefix;
        }
        if let Some(url) = env("ORBIT_SMTP_URL") {
            settings.smtp_url = Some(Secret::new(url));
        }
        if let Some(from) = env("ORBIT_MAIL_FROM") {
            settings.mail_from = from;
        }
        if let Some(secret) = env("ORBIT_JWT_SECRET") {
            settings.jwt_secret = Some(Secret::new(secret));
        }
        if let Some(key) = env("ORBIT_SECRETS_KEY") {
            settings.secrets_key = Some(Secret::new(key));
        }
        if let Some(email) = env("ORBIT_FIRST_DEVELOPER_EMAIL") {
            settings.first_developer_email = email;
        }
        if let Some(value) = env("ORBIT_CONSOLE_SIGNUP") {
            settings.console_signup = match value.as_str() {
                "open" => ConsoleSignup::Open,
                "closed" => ConsoleSignup::Closed,
                other => {
                    anyhow::bail!("ORBIT_CONSOLE_SIGNUP must be `open` or `closed`, not `{other}`")
                }
            };
        }
        if let Some(origins) = &file.cors_origins {
            settings
                .cors
                .set_origins(origins.iter().map(String::as_str))?;
        }
        if let Some(value) = env("ORBIT_CORS_ORIGINS") {
            settings.cors.set_origins(value.split(','))?;
        }
        if let Some(headers) = &file.cors_headers {
            settings
                .cors
                .add_headers(headers.iter().map(String::as_str))?;
        }
        if let Some(value) = env("ORBIT_CORS_HEADERS") {
            settings.cors.add_headers(value.split(','))?;
        }
        if let Some(blocks) = file.trusted_proxies {
            settings.trusted_proxies = parse_proxies(blocks.iter().map(String::as_str))?;
        }
        if let Some(value) = env("ORBIT_TRUSTED_PROXIES") {
            settings.trusted_proxies =
                parse_proxies(value.split(',').filter(|block| !block.trim().is_empty()))?;
        }
        if let Some(value) = env("ORBIT_WEBHOOK_ALLOW_PRIVATE") {
            settings.webhook_allow_private = parse_bool("ORBIT_WEBHOOK_ALLOW_PRIVATE", &value)?;
        }
        if let Some(url) = env("ORBIT_OUTBOUND_PROXY") {
            settings.outbound_proxy = Some(Secret::new(url));
        }
        if let Some(value) = env("ORBIT_METRICS") {
            settings.metrics = parse_bool("ORBIT_METRICS", &value)?;
        }
        if let Some(token) = env("ORBIT_METRICS_TOKEN") {
            settings.metrics_token = Some(Secret::new(token));
        }
        if let Some(endpoint) = env("ORBIT_OTLP_ENDPOINT") {
            settings.otlp_endpoint = Some(endpoint);
        }
        if let Some(value) = env("ORBIT_GRAPHIQL") {
            settings.graphiql = parse_bool("ORBIT_GRAPHIQL", &value)?;
        }
        if let Some(value) = env("ORBIT_RUN_WORKER") {
            settings.run_worker = parse_bool("ORBIT_RUN_WORKER", &value)?;
        }
        if let Some(value) = env("ORBIT_INTROSPECTION") {
            settings.introspection = parse_bool("ORBIT_INTROSPECTION", &value)?;
        }
        if let Some(value) = env("ORBIT_LOG_FORMAT") {
            settings.log_format = match value.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => anyhow::bail!("ORBIT_LOG_FORMAT must be `text` or `json`, not `{other}`"),
            };
        }
        let limits = &mut settings.query_limits;
        for (name, from_file, limit) in [
            (
                "ORBIT_GRAPHQL_MAX_DEPTH",
                file.graphql_max_depth,
                &mut limits.max_depth,
            ),
            (
                "ORBIT_GRAPHQL_MAX_FIELDS",
                file.graphql_max_fields,
                &mut limits.max_fields,
            ),
            (
                "ORBIT_GRAPHQL_MAX_ALIASES",
                file.graphql_max_aliases,
                &mut limits.max_aliases,
            ),
            (
                "ORBIT_GRAPHQL_MAX_ROOT_FIELDS",
                file.graphql_max_root_fields,
                &mut limits.max_root_fields,
            ),
            (
                "ORBIT_GRAPHQL_INTROSPECTION_MAX_DEPTH",
                file.graphql_introspection_max_depth,
                &mut limits.introspection_max_depth,
            ),
            (
                "ORBIT_GRAPHQL_INTROSPECTION_MAX_FIELDS",
                file.graphql_introspection_max_fields,
                &mut limits.introspection_max_fields,
            ),
        ] {
            if let Some(value) = from_file {
                *limit = value;
            }
            if let Some(value) = env(name) {
                *limit = parse_positive(name, &value)?;
            }
        }
        if let Some(seconds) = file.database_acquire_timeout {
            settings.database_acquire_timeout = std::time::Duration::from_secs(seconds);
        }
        if let Some(value) = env("ORBIT_DATABASE_ACQUIRE_TIMEOUT") {
            let seconds = parse_positive("ORBIT_DATABASE_ACQUIRE_TIMEOUT", &value)?;
            settings.database_acquire_timeout = std::time::Duration::from_secs(seconds as u64);
        }
        if let Some(count) = file.database_kept_connections {
            settings.database_kept_connections = count;
        }
        if let Some(value) = env("ORBIT_DATABASE_KEPT_CONNECTIONS") {
            settings.database_kept_connections = value.parse().with_context(|| {
                format!("ORBIT_DATABASE_KEPT_CONNECTIONS must be a number, not `{value}`")
            })?;
        }
        if let Some(open_ahead) = file.database_open_ahead {
            settings.database_open_ahead = open_ahead;
        }
        if let Some(value) = env("ORBIT_DATABASE_OPEN_AHEAD") {
            settings.database_open_ahead = parse_bool("ORBIT_DATABASE_OPEN_AHEAD", &value)?;
        }
        if let Some(millis) = file.idle_sweep {
            settings.idle_sweep = std::time::Duration::from_millis(millis.max(1));
        }
        if let Some(value) = env("ORBIT_IDLE_SWEEP") {
            let millis = parse_positive("ORBIT_IDLE_SWEEP", &value)?;
            settings.idle_sweep = std::time::Duration::from_millis(millis as u64);
        }
        if let Some(millis) = file.reorder_wait {
            settings.reorder_wait = std::time::Duration::from_millis(millis);
        }
        if let Some(value) = env("ORBIT_REORDER_WAIT") {
            let millis = parse_count("ORBIT_REORDER_WAIT", &value, "milliseconds")?;
            settings.reorder_wait = std::time::Duration::from_millis(millis);
        }
        if let Some(seconds) = file.tool_timeout {
            settings.tool_limits.timeout = std::time::Duration::from_secs(seconds.max(1));
        }
        if let Some(value) = env("ORBIT_TOOL_TIMEOUT") {
            let seconds = parse_positive("ORBIT_TOOL_TIMEOUT", &value)?;
            settings.tool_limits.timeout = std::time::Duration::from_secs(seconds as u64);
        }
        if let Some(bytes) = file.tool_result_max_bytes {
            settings.tool_limits.max_result_bytes = bytes.max(1);
        }
        if let Some(value) = env("ORBIT_TOOL_RESULT_MAX_BYTES") {
            settings.tool_limits.max_result_bytes =
                parse_positive("ORBIT_TOOL_RESULT_MAX_BYTES", &value)?;
        }
        if let Some(seconds) = file.tool_approval_timeout {
            settings.tool_limits.approval_timeout = std::time::Duration::from_secs(seconds.max(1));
        }
        if let Some(value) = env("ORBIT_TOOL_APPROVAL_TIMEOUT") {
            let seconds = parse_positive("ORBIT_TOOL_APPROVAL_TIMEOUT", &value)?;
            settings.tool_limits.approval_timeout = std::time::Duration::from_secs(seconds as u64);
        }
        if let Some(steps) = file.tool_max_steps {
            settings.tool_limits.max_steps = i32::try_from(steps.clamp(1, 32)).unwrap_or(32);
        }
        if let Some(value) = env("ORBIT_TOOL_MAX_STEPS") {
            let steps = parse_positive("ORBIT_TOOL_MAX_STEPS", &value)?;
            settings.tool_limits.max_steps = i32::try_from(steps.min(32)).unwrap_or(32);
        }
        if let Some(seconds) = file.mcp_refresh_interval {
            settings.tool_limits.mcp_refresh = std::time::Duration::from_secs(seconds.max(1));
        }
        if let Some(value) = env("ORBIT_MCP_REFRESH_INTERVAL") {
            let seconds = parse_positive("ORBIT_MCP_REFRESH_INTERVAL", &value)?;
            settings.tool_limits.mcp_refresh = std::time::Duration::from_secs(seconds as u64);
        }
        if let Some(seconds) = file.http_header_timeout {
            settings.http_header_timeout = std::time::Duration::from_secs(seconds);
        }
        if let Some(value) = env("ORBIT_HTTP_HEADER_TIMEOUT") {
            let seconds = parse_positive("ORBIT_HTTP_HEADER_TIMEOUT", &value)?;
            settings.http_header_timeout = std::time::Duration::from_secs(seconds as u64);
        }
        if let Some(seconds) = file.shutdown_grace {
            settings.shutdown_grace = std::time::Duration::from_secs(seconds);
        }
        if let Some(value) = env("ORBIT_SHUTDOWN_GRACE") {
            let seconds = parse_count("ORBIT_SHUTDOWN_GRACE", &value, "seconds")?;
            settings.shutdown_grace = std::time::Duration::from_secs(seconds);
        }
        layer!(password_threads);
        if let Some(value) = env("ORBIT_PASSWORD_THREADS") {
            settings.password_threads = parse_positive("ORBIT_PASSWORD_THREADS", &value)?;
        }
        layer!(password_queue);
        if let Some(value) = env("ORBIT_PASSWORD_QUEUE") {
            settings.password_queue = value
                .parse()
                .with_context(|| format!("ORBIT_PASSWORD_QUEUE must be a number, not `{value}`"))?;
        }
        if let Some(value) = env("ORBIT_WS_SEND_QUEUE") {
            settings.ws_send_queue = parse_positive("ORBIT_WS_SEND_QUEUE", &value)?;
        }
        Ok(settings)
    }

    /// For tests: any free port, a fixed signing secret, a throwaway data
    /// dir, Redis keys of their own (tests share one Redis, each with its
    /// own clock), and outbound calls to loopback allowed (the fake
    /// providers and receivers tests start listen there).
    pub fn for_tests(database_url: String) -> Self {
        Self {
            redis_prefix: format!("orbit-test-{}", uuid::Uuid::now_v7().simple()),
            listen: "127.0.0.1:0".to_owned(),
            data_dir: std::env::temp_dir().join("orbit-tests"),
            database_url: Some(Secret::new(database_url)),
            jwt_secret: Some(Secret::new("test-signing-secret-that-is-at-least-32-bytes")),
            secrets_key: Some(Secret::new("b3JiaXQtdGVzdC1zZWFsaW5nLWtleS0zMi1ieXRlcyE")),
            webhook_allow_private: true,
            // Many test servers share one Postgres; each opens connections
            // as it needs them.
            database_open_ahead: false,
            ..Self::default()
        }
    }

    /// The database to use: `DATABASE_URL`, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.sqlite_path().display()),
        }
    }

    /// The SQLite file used when `DATABASE_URL` is unset.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("orbit.db")
    }

    /// The `iss` of access tokens.
    pub fn issuer(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| "orbit".to_owned())
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn parse_proxies<'a>(
    blocks: impl Iterator<Item = &'a str>,
) -> anyhow::Result<Vec<crate::ip_block::IpBlock>> {
    blocks
        .map(|block| {
            crate::ip_block::IpBlock::parse(block)
                .map_err(|why| anyhow::anyhow!("ORBIT_TRUSTED_PROXIES: {why}"))
        })
        .collect()
}

fn parse_positive(name: &str, value: &str) -> anyhow::Result<usize> {
    value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("{name} must be a positive number, not `{value}`"))
}

/// A number of `unit`, 0 included.
fn parse_count(name: &str, value: &str, unit: &str) -> anyhow::Result<u64> {
    value
        .parse()
        .with_context(|| format!("{name} must be a number of {unit}, not `{value}`"))
}

fn parse_bool(name: &str, value: &str) -> anyhow::Result<bool> {
    match value {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        other => anyhow::bail!("{name} must be true or false, not `{other}`"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let settings = Settings::for_tests("postgres://user:hunter2@db/orbit".to_owned());
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("test-signing-secret"));
        assert!(!printed.contains("b3JiaXQtdGVzdC1zZWFsaW5nLWtleS0zMi1ieXRlcyE"));
    }

    #[test]
    fn file_keys_are_checked() {
        assert!(toml::from_str::<FileSettings>("listen = \"0.0.0.0:80\"").is_ok());
        assert!(toml::from_str::<FileSettings>("lisen = \"0.0.0.0:80\"").is_err());
        let file: FileSettings = toml::from_str("database_open_ahead = false").unwrap();
        assert_eq!(file.database_open_ahead, Some(false));
    }

    #[test]
    fn millisecond_keys_are_named_as_their_variables() {
        let file: FileSettings = toml::from_str("idle_sweep = 500\nreorder_wait = 20").unwrap();
        assert_eq!((file.idle_sweep, file.reorder_wait), (Some(500), Some(20)));
        // The name the file once took still works.
        let file: FileSettings = toml::from_str("idle_sweep_ms = 250").unwrap();
        assert_eq!(file.idle_sweep, Some(250));
    }

    #[test]
    fn cors_origins_are_origins_and_a_star_is_any() {
        let mut cors = CorsSettings::default();
        cors.set_origins("https://app.example.com, http://localhost:5173".split(','))
            .unwrap();
        assert_eq!(
            cors.origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        cors.set_origins(["*"].into_iter()).unwrap();
        assert!(cors.origins.is_empty(), "any origin");
        for not_an_origin in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "ftp://app.example.com",
            "https://app.example.com?x=1",
        ] {
            assert!(
                cors.set_origins([not_an_origin].into_iter()).is_err(),
                "{not_an_origin}"
            );
        }
    }

    #[test]
    fn cors_headers_add_to_the_defaults_once() {
        let mut cors = CorsSettings::default();
        cors.add_headers("X-App-Version, traceparent".split(','))
            .unwrap();
        assert!(cors.headers.iter().any(|header| header == "x-app-version"));
        assert_eq!(
            cors.headers
                .iter()
                .filter(|header| *header == "traceparent")
                .count(),
            1
        );
        assert!(cors.add_headers(["bad header"].into_iter()).is_err());
    }
}
