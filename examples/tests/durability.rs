//! A writer process (`durability_writer`) creates and authorises consents in a loop, printing each
//! acknowledged write; it is killed with SIGKILL mid-way; after reopening the database every
//! acknowledged write is there, whole, and no consent is half-written. On SQLite always; on
//! PostgreSQL when `OPENBANKING_TEST_POSTGRES_URL` is set (skipped, and says so, otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempSqlite, fresh_schema, postgres_url};
use openbanking_core::store::ConsentQuery;
use openbanking_core::{ConsentId, ConsentStatus};
use openbanking_examples::sandbox::{Database, SandboxStore};

/// Kill after this many acknowledged lines, or after this long, whichever comes first.
const KILL_AFTER_LINES: usize = 60;
const KILL_AFTER: Duration = Duration::from_secs(20);

/// What the writer acknowledged: consent id -> the accounts it was authorised for (`None`: only
/// created).
fn run_and_kill(database: &str, schema: Option<&str>) -> HashMap<String, Option<Vec<String>>> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_durability_writer"));
    command.arg(database).stdout(Stdio::piped()).stderr(Stdio::inherit());
    if let Some(schema) = schema {
        command.args(["--schema", schema]);
    }
    let mut child = command.spawn().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut acked = Vec::new();
    while acked.len() < KILL_AFTER_LINES && started.elapsed() < KILL_AFTER {
        match lines_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => acked.push(line),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the writer stopped by itself"),
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix: no chance to flush or roll back anything
    child.wait().unwrap();
    reader.join().unwrap();
    acked.extend(lines_rx.try_iter()); // printed before the kill: acknowledged too
    assert!(acked.len() > 10, "the writer made progress: {acked:?}");

    let mut writes = HashMap::new();
    for line in acked.iter().filter(|l| *l != "ready") {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["created", id] => {
                writes.insert((*id).to_owned(), None);
            }
            ["authorised", id, accounts] => {
                writes.insert((*id).to_owned(), Some(accounts.split(',').map(str::to_owned).collect()));
            }
            _ => panic!("unexpected line {line:?}"),
        }
    }
    writes
}

async fn check(database: Database, writes: &HashMap<String, Option<Vec<String>>>) {
    let store = SandboxStore::open(&database).await.unwrap();
    let consents = store.stores().consents;
    for (id, accounts) in writes {
        let consent = consents.get(&ConsentId::parse(id.as_str()).unwrap()).await.unwrap();
        let consent = consent.unwrap_or_else(|| panic!("acknowledged consent {id} is missing"));
        let stored: Vec<&str> = consent.account_ids().iter().map(|a| a.as_str()).collect();
        match accounts {
            Some(accounts) => {
                assert_eq!(consent.status(), ConsentStatus::Authorised, "{id}");
                assert_eq!(stored, accounts.iter().map(String::as_str).collect::<Vec<_>>(), "{id}");
            }
            // Created and acknowledged; the authorisation may or may not have landed, whole.
            None => {
                assert!(matches!(consent.status(), ConsentStatus::AwaitingAuthorisation | ConsentStatus::Authorised))
            }
        }
    }
    // Nothing half-written: every stored consent is awaiting with no accounts, or authorised
    // with the writer's two.
    let mut query = ConsentQuery::all();
    let mut seen = 0;
    loop {
        let page = consents.list(&query).await.unwrap();
        for consent in &page.consents {
            seen += 1;
            match consent.status() {
                ConsentStatus::AwaitingAuthorisation => assert!(consent.account_ids().is_empty()),
                ConsentStatus::Authorised => {
                    assert_eq!(consent.account_ids().len(), 2);
                    assert!(consent.psu_id().is_some());
                }
                other => panic!("unexpected status {other:?}"),
            }
        }
        match page.next {
            Some(cursor) => query = query.after(cursor),
            None => break,
        }
    }
    assert!(seen >= writes.len());
    store.close().await;
}

#[tokio::test]
async fn every_acknowledged_write_survives_a_sigkill_on_sqlite() {
    let file = TempSqlite::new("durability");
    let url = format!("sqlite://{}", file.0.display());
    let writes = tokio::task::spawn_blocking({
        let url = url.clone();
        move || run_and_kill(&url, None)
    })
    .await
    .unwrap();
    check(file.database(), &writes).await;
}

#[tokio::test]
async fn every_acknowledged_write_survives_a_sigkill_on_postgres() {
    let Some(url) = postgres_url("every_acknowledged_write_survives_a_sigkill_on_postgres") else { return };
    let schema = fresh_schema("durability");
    let _dropped_even_on_failure = common::DropSchema::new(&url, &schema);
    let writes = tokio::task::spawn_blocking({
        let (url, schema) = (url.clone(), schema.clone());
        move || run_and_kill(&url, Some(&schema))
    })
    .await
    .unwrap();
    check(Database::parse(&url, Some(schema.clone())).unwrap(), &writes).await;
}
