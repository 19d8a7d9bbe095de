//! The `sandbox` binary as a person runs it: with no `--database` it keeps its data in
//! `sandbox.db` in the working directory and says so in its log, and a client registered before
//! a restart is still there after it; `--database` names another SQLite file or `memory` (no file
//! at all), and a database it doesn't know is refused with the choices it has.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use serde_json::{Value, json};

/// A scratch working directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("openbanking-sandbox-bin-{name}-{}", common::random_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A sandbox process serving on a free loopback port; killed when dropped.
struct Running {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Running {
    /// Starts `sandbox` in `dir` with `args` and waits until it serves its home page.
    async fn start(dir: &Path, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.join(format!("sandbox-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_sandbox"))
            .current_dir(dir)
            .args(["--addr", &addr])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut running = Self { child, base: format!("http://{addr}"), log };
        // Ready when this process says it listens on this address (the port was free a moment
        // ago; if another process took it, this one fails and says so) and serves its home page.
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                panic!("the sandbox exited ({status}): {}", running.log());
            }
            let listening = running.log().lines().any(|l| l.contains("sandbox bank listening") && l.contains(&addr));
            if listening
                && let Ok(response) = reqwest::get(format!("{}/", running.base)).await
                && response.status() == 200
            {
                return running;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the sandbox did not start: {}", running.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process and waits for it.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers a client (open registration) and reads it back with its registration token.
async fn register(base: &str) -> (String, String, String) {
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let body = json!({
        "client_name": "binary test",
        "redirect_uris": ["https://tpp.example/callback"],
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.public_jwk().to_json()]},
        "scope": "accounts",
        "dpop_bound_access_tokens": true,
    });
    let response = reqwest::Client::new().post(format!("{base}/register")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let registered: Value = response.json().await.unwrap();
    let uri = registered["registration_client_uri"].as_str().unwrap().to_owned();
    let token = registered["registration_access_token"].as_str().unwrap().to_owned();
    (registered["client_id"].as_str().unwrap().to_owned(), uri, token)
}

#[tokio::test]
async fn without_a_database_flag_it_keeps_its_data_in_sandbox_db_and_says_so() {
    let dir = Scratch::new("default");
    let first = Running::start(&dir.0, &[]).await;
    let (client_id, uri, token) = register(&first.base).await;
    let first_base = first.base.clone();
    let log = first.stop();
    assert!(log.contains("database=sqlite://sandbox.db"), "the log names the store: {log}");
    assert!(dir.0.join("sandbox.db").is_file(), "sandbox.db in the working directory");

    // Restarted on another port, in the same directory: the client is still registered.
    let second = Running::start(&dir.0, &[]).await;
    let uri = uri.replace(&first_base, &second.base);
    let read = reqwest::Client::new().get(&uri).bearer_auth(&token).send().await.unwrap();
    assert_eq!(read.status(), 200, "RFC 7592 read of the client registered before the restart");
    assert_eq!(read.json::<Value>().await.unwrap()["client_id"], client_id);
    second.stop();
}

#[tokio::test]
async fn database_names_another_sqlite_file_or_memory() {
    let dir = Scratch::new("flags");
    let other = Running::start(&dir.0, &["--database", "sqlite://other.db"]).await;
    register(&other.base).await;
    let log = other.stop();
    assert!(log.contains("database=sqlite://other.db"), "{log}");
    assert!(dir.0.join("other.db").is_file());
    assert!(!dir.0.join("sandbox.db").exists());

    let memory = Running::start(&dir.0, &["--database", "memory"]).await;
    register(&memory.base).await;
    let log = memory.stop();
    assert!(log.contains("database=memory"), "{log}");
    let files: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".log") && !name.starts_with("other.db"))
        .collect();
    assert!(files.is_empty(), "memory writes no file: {files:?}");
}

#[test]
fn a_database_it_does_not_know_is_refused_with_the_choices() {
    let output = Command::new(env!("CARGO_BIN_EXE_sandbox"))
        .args(["--addr", "127.0.0.1:0", "--database", "mysql://localhost/bank"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("memory, sqlite://PATH or postgres://"), "{said}");
}
