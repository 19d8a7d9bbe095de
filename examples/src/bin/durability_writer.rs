//! Writes consents and approvals in a loop, for the durability test (`tests/durability.rs`),
//! which kills it mid-way with SIGKILL and then checks that every acknowledged write is there.
//!
//! ```sh
//! durability_writer sqlite:///tmp/d.db [--schema S] [--count N]
//! ```
//!
//! For each `i`: creates a consent (prints `created <id>` once the store has it), then has the PSU
//! authorise it for two accounts (prints `authorised <id> <acc>,<acc>`). A line is printed only
//! after the write returned: it is an acknowledged write.

use std::error::Error;
use std::io::Write as _;
use std::sync::Arc;

use clap::Parser;
use openbanking_core::clock::SystemClock;
use openbanking_core::{
    AccountId, AuthoriseConsent, ClientId, ConsentProvider, ConsentRequest, CreateConsent, LocalConsentProvider,
    Permission, PsuId,
};
use openbanking_examples::sandbox::{Database, SandboxStore};

/// Consents and approvals in a loop, each acknowledged on stdout.
#[derive(Debug, Parser)]
struct Args {
    /// `sqlite://PATH` or `postgres://…`.
    database: String,
    /// PostgreSQL schema.
    #[arg(long)]
    schema: Option<String>,
    /// How many consents at most.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let store = SandboxStore::open(&Database::parse(&args.database, args.schema)?).await?;
    let consents = LocalConsentProvider::new(store.stores().consents, Arc::new(SystemClock));
    let client = ClientId::parse("durability-tpp")?;
    let psu = PsuId::parse("alice")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    for i in 0..args.count {
        let request = ConsentRequest::new([Permission::ReadAccountsBasic, Permission::ReadBalances]);
        let consent = consents.create(CreateConsent::new(client.clone(), request)).await?;
        let id = consent.consent_id().clone();
        writeln!(out, "created {}", id.as_str())?;
        let accounts = vec![AccountId::parse(format!("acc-{i}-a"))?, AccountId::parse(format!("acc-{i}-b"))?];
        let authorised = consents.authorise(AuthoriseConsent::new(id.clone(), psu.clone(), accounts)).await?;
        let listed: Vec<&str> = authorised.account_ids().iter().map(|a| a.as_str()).collect();
        writeln!(out, "authorised {} {}", id.as_str(), listed.join(","))?;
    }
    Ok(())
}
