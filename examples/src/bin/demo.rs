//! The one-command demo: `cargo run --bin demo`. Starts a sandbox bank in process on a free
//! loopback port and tells the Open Banking story against it, one line per step (see
//! [`openbanking_examples::demo`]). Exits 0 only if every step behaved as the standards say;
//! otherwise 1, naming the step. `RUST_LOG` shows the bank's logs (default: errors only).

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("error")))
        .with_writer(std::io::stderr)
        .init();
    let started = std::time::Instant::now();
    let mut print = |line: &str| println!("{line}");
    match openbanking_examples::demo::run(&mut print).await {
        Ok(_) => {
            println!("Total, with the bank's start: {:.2} s.", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}
