//! The `orbit` command: a thin shell over the library, so tests run the same code.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    orbit_api::cli::run().await
}
