//! The `orbit` command line.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use orbit_domain::SystemClock;
use tracing_subscriber::EnvFilter;

use crate::admin::{CreateAppRequest, create_app, ensure_first_developer};
use crate::config::{LogFormat, Settings};
use crate::startup::build_services;
use crate::{Application, schema_sdl};

#[derive(Parser)]
#[command(
    name = "orbit",
    version,
    about = "Orbit: a multi-tenant real-time platform for apps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (settings: orbit.toml and ORBIT_* environment variables).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Sign this machine in by the device flow (RFC 8628); tokens go to the config dir.
    Login {
        /// The Orbit server.
        #[arg(long, default_value = crate::login::DEFAULT_SERVER)]
        server: String,
        /// `orbit-cli` signs in a developer; an app's publishable key, one of its users.
        #[arg(long, default_value = crate::login::default_client_id())]
        client_id: String,
    },
    /// Who the stored sign-in is (refreshing it when needed).
    Whoami,
    /// The signed-in developer's apps (after `orbit login`); prints JSON.
    Apps {
        #[command(subcommand)]
        command: AppsCommand,
    },
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AppsCommand {
    /// Create an app you own; prints its id and first keys (shown once).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List the apps you are a member of, with your role.
    List,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an app and its first keys; prints JSON with the keys (shown once).
    CreateApp {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long, env = "ORBIT_OWNER_PASSWORD", hide_env_values = true)]
        owner_password: String,
    },
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Schema = cli.command {
        println!("{}", schema_sdl());
        return ExitCode::SUCCESS;
    }
    match cli.command {
        Command::Login { server, client_id } => {
            return client_command(login(&server, &client_id)).await;
        }
        Command::Whoami => return client_command(whoami()).await,
        Command::Apps { command } => return client_command(apps(command)).await,
        _ => {}
    }
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("orbit: configuration error: {error:#}");
            return ExitCode::from(2);
        }
    };
    let spans = match init_tracing(&settings) {
        Ok(spans) => spans,
        Err(error) => {
            eprintln!("orbit: configuration error: {error:#}");
            return ExitCode::from(2);
        }
    };
    let code = match execute(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "orbit failed");
            eprintln!("orbit: {error:#}");
            ExitCode::FAILURE
        }
    };
    // Sends the spans still batched. The exporter blocks on its HTTP
    // call, so off the runtime's threads.
    if let Some(spans) = spans {
        let _ = tokio::task::spawn_blocking(move || spans.shutdown()).await;
    }
    code
}

async fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock);
    match command {
        Command::Serve => {
            let first_developer_email = settings.first_developer_email.clone();
            let app = Application::build(settings, clock).await?;
            print_first_developer(&app, &first_developer_email).await?;
            tracing::info!(port = app.port(), "orbit is listening; GraphQL at /graphql");
            app.run_until_stopped().await
        }
        Command::Migrate => {
            build_services(&settings, clock).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Schema | Command::Login { .. } | Command::Whoami | Command::Apps { .. } => Ok(()),
        Command::Admin {
            command:
                AdminCommand::CreateApp {
                    name,
                    owner_email,
                    owner_password,
                },
        } => {
            let services = build_services(&settings, clock).await?;
            let created = create_app(
                &services,
                CreateAppRequest {
                    name,
                    owner_email,
                    owner_password,
                },
            )
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!("{}", serde_json::to_string_pretty(&created)?);
            Ok(())
        }
    }
}

/// A command that talks to a server rather than being one: errors go to
/// stderr, no logs.
async fn client_command(command: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    match command.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("orbit: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn login(server: &str, client_id: &str) -> anyhow::Result<()> {
    let dir = crate::login::config_dir()?;
    let show = |authorization: &crate::login::DeviceAuthorization| {
        println!(
            "To sign in, open {}\nand enter the code {} (or open {}).\nWaiting for approval…",
            authorization.verification_uri,
            authorization.user_code,
            authorization.verification_uri_complete
        );
    };
    let credentials =
        crate::login::login(server, client_id, &dir, show, tokio::time::sleep).await?;
    let viewer = crate::login::whoami(&dir).await?;
    println!(
        "Signed in as {}.",
        crate::login::describe(&viewer, &credentials.server)
    );
    Ok(())
}

/// On a fresh server (no developer yet), makes one and prints how to sign
/// in: the password is shown here once and stored only hashed.
async fn print_first_developer(app: &Application, email: &str) -> anyhow::Result<()> {
    let created = ensure_first_developer(&app.services(), email)
        .await
        .map_err(|error| anyhow::anyhow!("creating the first developer: {error}"))?;
    if let Some(developer) = created {
        tracing::info!(email = %developer.email, "created the first developer");
        println!(
            "First start: created the developer {} with the password\n\n    {}\n\n\
             It is shown only now. Sign the CLI in with `orbit login` (approve on /device\n\
             with this email and password), then change it with changePassword.",
            developer.email, developer.password
        );
    }
    Ok(())
}

async fn apps(command: AppsCommand) -> anyhow::Result<()> {
    let dir = crate::login::config_dir()?;
    let printed = match command {
        AppsCommand::Create { name } => crate::developer::create_app(&dir, &name).await?,
        AppsCommand::List => serde_json::Value::from(crate::developer::list_apps(&dir).await?),
    };
    println!("{}", serde_json::to_string_pretty(&printed)?);
    Ok(())
}

async fn whoami() -> anyhow::Result<()> {
    let dir = crate::login::config_dir()?;
    let viewer = crate::login::whoami(&dir).await?;
    let server = crate::login::load(&dir)?.server;
    println!("{}", crate::login::describe(&viewer, &server));
    Ok(())
}

/// Logs to stderr, and spans to an OTLP collector when
/// `ORBIT_OTLP_ENDPOINT` is set (returned, to be flushed at exit).
fn init_tracing(
    settings: &Settings,
) -> anyhow::Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colour codes only for a person at a terminal: in a file, a pipe or a
    // log collector they are noise that breaks searching.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let output = match settings.log_format {
        LogFormat::Json => output.json().boxed(),
        LogFormat::Text => output.boxed(),
    };
    let provider = match &settings.otlp_endpoint {
        Some(endpoint) => Some(
            crate::telemetry::otlp_tracer_provider(endpoint)
                .map_err(|error| anyhow::anyhow!("ORBIT_OTLP_ENDPOINT: {error}"))?,
        ),
        None => None,
    };
    let spans = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("orbit")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .with(spans)
        .try_init();
    if settings.otlp_endpoint.is_some() {
        // Not the endpoint itself: it may carry credentials.
        tracing::info!("spans are exported over OTLP/HTTP (ORBIT_OTLP_ENDPOINT)");
    }
    Ok(provider)
}
