//! Builds the whole server from settings: database (migrated), console app,
//! token keys, router, and a bound listener, so tests can use port 0.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use orbit_auth::{AccessTokenKeys, SealingKey, generate_token};
use orbit_domain::Clock;
use orbit_domain::ids::{AppId, AppScope};
use orbit_persistence::apps;
use orbit_realtime::Broker;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Settings;
use crate::services::{EVENT_RETENTION, Inner, Services};
use crate::{graphql, http, realtime};

pub struct Application {
    listener: TcpListener,
    port: u16,
    router: axum::Router,
    services: Services,
    shutdown: watch::Sender<bool>,
    /// Set when the process is told to stop, for its shutdown grace.
    stopping: watch::Sender<bool>,
    shutdown_grace: std::time::Duration,
    run_worker: bool,
    header_timeout: std::time::Duration,
    idle_sweep: std::time::Duration,
    stop: Arc<tokio::sync::Notify>,
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let services = build_services(&settings, clock).await?;
        if settings.database_open_ahead {
            let db = services.db().clone();
            tokio::spawn(async move {
                match db.open_kept_connections().await {
                    Ok(opened) => tracing::debug!(opened, "kept database connections opened"),
                    Err(error) => {
                        tracing::warn!(%error, "could not open the kept database connections ahead; writes open them as they need them");
                    }
                }
            });
        }
        let schemas = graphql::build_schemas(services.clone(), &settings);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (stopping, stopping_rx) = watch::channel(false);
        let ticks = spawn_ticker();
        tokio::spawn(realtime::typing::run_expiry(
            services.clone(),
            ticks.clone(),
        ));
        tokio::spawn(realtime::presence::run(services.clone(), ticks.clone()));
        let ws = http::ws::WsConfig {
            init_timeout: settings.ws_init_timeout,
            send_queue: settings.ws_send_queue,
            shutdown: shutdown_rx,
            ticks,
            deliveries: Default::default(),
        };
        let router = http::router(services.clone(), schemas, &settings, ws, stopping_rx);
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            router,
            services,
            shutdown,
            stopping,
            shutdown_grace: settings.shutdown_grace,
            run_worker: settings.run_worker,
            header_timeout: settings.http_header_timeout,
            idle_sweep: settings.idle_sweep,
            stop: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> Services {
        self.services.clone()
    }

    /// Notified, it shuts the server down as SIGTERM does (tests stop a
    /// server this way to start another on the same database).
    pub fn stop_handle(&self) -> Arc<tokio::sync::Notify> {
        self.stop.clone()
    }

    /// Turns true once the server has been told to stop (its shutdown
    /// grace begins), so a caller can wait for that instead of polling.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Serves until SIGINT, SIGTERM or the stop handle, and on for the
    /// shutdown grace (saying it is stopping) unless signalled again; then
    /// finishes the requests in flight, closes the sockets (1001) and lets
    /// the relay publish what it holds.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let relay = tokio::spawn(realtime::relay::run(
            self.services.clone(),
            self.services.broker().clone(),
            EVENT_RETENTION,
            self.idle_sweep,
            self.shutdown.subscribe(),
        ));
        let work_signals = tokio::spawn(realtime::work_signals::run(
            self.services.clone(),
            self.shutdown.subscribe(),
        ));
        let credentials = tokio::spawn(crate::credentials::run(
            self.services.clone(),
            self.shutdown.subscribe(),
        ));
        let worker = if self.run_worker {
            orbit_worker::spawn(self.services.worker_context(), self.shutdown.subscribe())
        } else {
            Vec::new()
        };
        let shutdown = self.shutdown;
        let stopping = self.stopping;
        let grace = self.shutdown_grace;
        let stop = self.stop;
        let served = http::serve::serve(
            self.listener,
            self.router,
            self.header_timeout,
            async move {
                tokio::select! {
                    () = shutdown_signal() => {},
                    () = stop.notified() => {},
                }
                let _ = stopping.send(true);
                if !grace.is_zero() {
                    tracing::info!(
                        ?grace,
                        "stopping: serving on for the shutdown grace, /readyz answers 503"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(grace) => {},
                        () = shutdown_signal() => {},
                        () = stop.notified() => {},
                    }
                }
                let _ = shutdown.send(true);
            },
        )
        .await
        .context("serving");
        let _ = relay.await;
        let _ = work_signals.await;
        let _ = credentials.await;
        for task in worker {
            let _ = task.await;
        }
        served
    }
}

/// One clock tick a second for every socket that waits for a token's
/// expiry: a single timer instead of one per socket.
fn spawn_ticker() -> watch::Receiver<()> {
    let (tick, ticks) = watch::channel(());
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if tick.send(()).is_err() {
                return;
            }
        }
    });
    ticks
}

/// Connects and migrates the database and loads the keys: everything a
/// command needs, without the HTTP side.
pub(crate) async fn build_services(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Services> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
        let path = settings.sqlite_path();
        create_private(&path).with_context(|| format!("creating {}", path.display()))?;
    }
    let db = orbit_persistence::connect_with(
        &settings.database_url(),
        orbit_persistence::PoolSettings {
            acquire_timeout: settings.database_acquire_timeout,
            kept_connections: settings.database_kept_connections,
        },
    )
    .await
    .context("connecting to the database")?;
    db.migrate().await.context("applying migrations")?;
    let console = apps::ensure_console(&db, clock.now())
        .await
        .context("creating the console app")?;
    let secret = match &settings.jwt_secret {
        Some(secret) => secret.expose().to_owned(),
        None => load_or_create_secret(&settings.data_dir.join("jwt-secret"), generate_token(""))?,
    };
    let secrets_key = match &settings.secrets_key {
        Some(key) => key.expose().to_owned(),
        None => load_or_create_secret(
            &settings.data_dir.join("secrets-key"),
            SealingKey::generate(),
        )?,
    };
    let sealer = crate::sealing::ServerSealer::new(
        SealingKey::from_text(&secrets_key)
            .context("ORBIT_SECRETS_KEY must be 32 bytes, as base64url (43 characters) or hex")?,
    );
    let broker = match &settings.redis_url {
        Some(url) => Broker::redis(url.expose()).context("configuring the Redis broker")?,
        None => Broker::in_process(),
    };
    let presence = realtime::presence::PresenceTracker::new(
        broker.presence(&settings.redis_prefix, realtime::presence::PRESENCE_TTL),
    );
    let mailer = crate::mail::Mailer::new(
        settings.smtp_url.as_ref().map(|url| url.expose()),
        &settings.mail_from,
    )
    .context("configuring mail (ORBIT_SMTP_URL, ORBIT_MAIL_FROM)")?;
    let outbound = orbit_worker::outbound::Outbound::with_proxy(
        settings.webhook_allow_private,
        settings.outbound_proxy.as_ref().map(|url| url.expose()),
    )
    .context("configuring ORBIT_OUTBOUND_PROXY")?;
    if outbound.is_proxied() {
        // The proxy connects the targets, so only it can refuse private ones.
        tracing::info!(
            "calls to app-configured URLs go through ORBIT_OUTBOUND_PROXY, which must refuse non-public addresses"
        );
    }
    // Every app's signing keys derive from this one secret (see signing_keys).
    let tokens = AccessTokenKeys::new(secret.into_bytes())?;
    let worker_wake = orbit_worker::Wake::new(db.work().clone(), settings.idle_sweep);
    let credentials = Arc::new(crate::credentials::CredentialCache::default());
    let hears = credentials.clone();
    db.committed_events()
        .observe(move |events| hears.hear_committed(events));
    Ok(Services::new(Inner {
        mailer,
        db,
        broker,
        typing: Default::default(),
        presence,
        clock,
        sealer: Arc::new(sealer),
        worker_wake,
        outbound,
        tokens,
        signing_key_cache: Default::default(),
        credentials,
        verified_tokens: Default::default(),
        catch_up_reads: Default::default(),
        reorder_wait: settings.reorder_wait,
        events_held_ahead: Default::default(),
        tool_limits: settings.tool_limits,
        issuer: settings.issuer(),
        console: AppScope::new(AppId(console.id)),
        console_signup: settings.console_signup,
        public_url: settings
            .public_url
            .as_ref()
            .map(|url| url.trim_end_matches('/').to_owned()),
        password_work: crate::password_work::PasswordWork::new(
            settings.password_threads,
            settings.password_queue,
        ),
    }))
}

/// A key generated once and kept (mode 0600), so that what it signed or
/// sealed stays valid across restarts.
fn load_or_create_secret(path: &Path, generated: String) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(path, &generated).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new key");
    Ok(generated)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Creates the SQLite file empty and readable by its owner only, as the
/// key files are: it holds password hashes, sessions and sealed secrets.
/// SQLite takes an empty file as a new database, and gives its `-wal` and
/// `-shm` files the database file's mode. An existing file is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
