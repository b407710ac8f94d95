//! The `orbit` command: a thin shell over the library, so tests run the same code.

/// glibc's malloc spent about a sixth of the server's time fanning events
/// out to 10,000 sockets (docs/benchmarks.md); mimalloc is cheaper per
/// allocation and returns memory from many small ones better.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    orbit_api::cli::run().await
}
