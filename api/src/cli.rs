//! The `orbit` command line.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use orbit_domain::SystemClock;
use tracing_subscriber::EnvFilter;

use crate::admin::{CreateAppRequest, create_app};
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
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
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
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("orbit: configuration error: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_tracing(settings.log_format);
    match execute(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "orbit failed");
            eprintln!("orbit: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock);
    match command {
        Command::Serve => {
            let app = Application::build(settings, clock).await?;
            tracing::info!(port = app.port(), "orbit is listening; GraphQL at /graphql");
            app.run_until_stopped().await
        }
        Command::Migrate => {
            build_services(&settings, clock).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Schema => Ok(()),
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

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
