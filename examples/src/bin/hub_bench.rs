//! The consent hub's figures, in one run on this machine, over loopback:
//!
//! - the consent check at a bank in hub mode, uncached (each check asks the hub: a signed bank
//!   request, a signed artefact back) and cached, p50 and p99;
//! - revocation at the hub to refusal at the bank, over 100 revocations (median, worst): the
//!   PSU revokes at the hub, the hub pushes a signed webhook, the bank drops its cached answer,
//!   and the bank's next check is refused; the bank polls its check every millisecond;
//! - the hub's consent-check throughput on one core (the hub's runtime has one worker thread;
//!   16 bank tasks ask at once, uncached; the bank's side runs on other threads of the same
//!   machine).
//!
//! ```sh
//! cargo run --release -p openbanking-examples --bin hub_bench
//! ```

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use openbanking_core::clock::SystemClock;
use openbanking_core::consent::{ConsentRequest, Permission};
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::provider::{Actor, AuthoriseConsent, CheckConsent, CreateConsent, RevokeConsent};
use openbanking_core::{AccountId, ClientId, ConsentId, ConsentProvider, PsuId};
use openbanking_server::consent::hub::{BankId, Hub, HubConsentProvider, WEBHOOK_PATH};
use openbanking_server::consent::psu::MemoryPsuDirectory;

/// mimalloc, as the sandbox binaries.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Fallible<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(((p / 100.0) * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

/// `n` consents of `client`, authorised for alice.
async fn consents(bank: &HubConsentProvider, client: &ClientId, n: usize) -> Fallible<Vec<ConsentId>> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let request = ConsentRequest::new([Permission::ReadAccountsDetail, Permission::ReadBalances]);
        let id = bank.create(CreateConsent::new(client.clone(), request)).await?.consent_id().clone();
        let account = vec![AccountId::parse("22289")?];
        bank.authorise(AuthoriseConsent::new(id.clone(), PsuId::parse("alice")?, account)).await?;
        ids.push(id);
    }
    Ok(ids)
}

fn main() -> Fallible<()> {
    let hub_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("hub").enable_all().build()?;
    let bank_runtime = tokio::runtime::Builder::new_multi_thread().thread_name("bank").enable_all().build()?;

    // The hub, on its own runtime (one worker thread: one core), in memory.
    let hub_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    hub_listener.set_nonblocking(true)?;
    let hub_base = format!("http://{}", hub_listener.local_addr()?);
    let hub = Hub::builder(hub_base.parse()?, Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256)?)))
        .psus(Arc::new(MemoryPsuDirectory::seeded()?))
        .build()?;
    let router = hub.router();
    hub_runtime.spawn(async move {
        if let Ok(listener) = tokio::net::TcpListener::from_std(hub_listener) {
            let _ = axum::serve(listener, router).await;
        }
    });

    bank_runtime.block_on(async move {
        // The bank: a HubConsentProvider, its webhook receiver served on loopback.
        let bank_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let bank_base = format!("http://{}", bank_listener.local_addr()?);
        let bank = HubConsentProvider::builder(
            hub_base.parse()?,
            BankId::parse("bench-bank")?,
            SigningKey::generate(SigningAlgorithm::ES256)?,
        )
        .clock(Arc::new(SystemClock))
        .build()?;
        if !hub.add_bank(bank.participant().with_base_url(bank_base.parse()?)) {
            return Err("the bank could not be added at the hub".into());
        }
        let webhook = bank.webhook_router();
        tokio::spawn(async move { axum::serve(bank_listener, webhook).await });
        bank.subscribe_webhook(Some(format!("{bank_base}{WEBHOOK_PATH}").parse()?)).await?;
        let client = ClientId::parse("bench-tpp")?;

        // 1. Check latency, uncached and cached.
        let ids = consents(&bank, &client, 200).await?;
        let (mut uncached, mut cached) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            for id in &ids {
                bank.forget(id);
                let t = Instant::now();
                let check = bank.check(CheckConsent::new(id.clone(), client.clone())).await?;
                uncached.push(t.elapsed());
                if !check.is_allowed() {
                    return Err(format!("an authorised consent was refused: {check:?}").into());
                }
                let t = Instant::now();
                let check = bank.check(CheckConsent::new(id.clone(), client.clone())).await?;
                cached.push(t.elapsed());
                if !check.is_allowed() {
                    return Err("a cached check was refused".into());
                }
            }
        }
        uncached.sort();
        cached.sort();
        println!(
            "consent check at the bank in hub mode: uncached p50 {:.3} ms, p99 {:.3} ms; cached p50 {:.4} ms, p99 {:.4} ms ({} checks each)",
            ms(percentile(&uncached, 50.0)),
            ms(percentile(&uncached, 99.0)),
            ms(percentile(&cached, 50.0)),
            ms(percentile(&cached, 99.0)),
            uncached.len()
        );

        // 2. Revocation at the hub to refusal at the bank.
        let mut delays = Vec::new();
        for id in ids.iter().take(100) {
            let allowed = bank.check(CheckConsent::new(id.clone(), client.clone())).await?;
            if !allowed.is_allowed() {
                return Err("a consent to revoke was not allowed first".into());
            }
            let t = Instant::now();
            hub.provider().revoke(RevokeConsent::new(id.clone(), Actor::Psu(PsuId::parse("alice")?))).await?;
            loop {
                let check = bank.check(CheckConsent::new(id.clone(), client.clone())).await?;
                if !check.is_allowed() {
                    break;
                }
                if t.elapsed() > Duration::from_secs(5) {
                    return Err(format!("consent {id} still allowed 5 s after its revocation at the hub").into());
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            delays.push(t.elapsed());
        }
        delays.sort();
        println!(
            "revocation at the hub -> refusal at the bank: median {:.1} ms, worst {:.1} ms ({} revocations, webhook)",
            ms(percentile(&delays, 50.0)),
            ms(delays.last().copied().unwrap_or_default()),
            delays.len()
        );

        // 3. The hub's check throughput on one core.
        let ids = Arc::new(ids.into_iter().skip(100).collect::<Vec<_>>());
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for task in 0..16 {
            let (bank, client, ids, done, stop) = (bank.clone(), client.clone(), ids.clone(), done.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = task;
                while !stop.load(Ordering::Relaxed) {
                    let id = &ids[i % ids.len()];
                    bank.forget(id);
                    if bank.check(CheckConsent::new(id.clone(), client.clone())).await.is_ok_and(|c| c.is_allowed()) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 16;
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await?;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!("the hub's consent checks on one core (16 banks' tasks at once, uncached): {rate:.0}/s");
        Ok(())
    })
}
