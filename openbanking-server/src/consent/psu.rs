//! PSU authentication: how the consent pages learn who is at the keyboard.
//!
//! The bank implements [`PsuAuthenticator`] over its own customer directory (or its existing login
//! service). [`MemoryPsuDirectory`] is an in-memory implementation for sandboxes and tests, with
//! passwords stored as Argon2id hashes: PSU passwords are chosen by people, so a slow,
//! memory-hard hash is the right tool (DESIGN.md, "Secrets").
//!
//! ```
//! use openbanking_server::consent::psu::{MemoryPsuDirectory, PsuAuthenticator};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let directory = MemoryPsuDirectory::seeded()?;
//! let psu = directory.authenticate("alice", "alice-password").await?;
//! assert_eq!(psu.map(|p| p.into_inner()), Some("alice".to_owned()));
//! assert_eq!(directory.authenticate("alice", "wrong").await?, None);
//! assert_eq!(directory.authenticate("mallory", "alice-password").await?, None);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, PoisonError, RwLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use openbanking_core::PsuId;
use openbanking_core::store::StoreError;
use tokio::sync::Semaphore;

/// Longest username looked up, in bytes; longer ones are refused without a lookup.
pub const MAX_USERNAME_BYTES: usize = 256;
/// Longest password hashed, in bytes; longer ones are refused without hashing, so a huge form
/// field can't buy a long hash computation.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a PSU's username and password. The bank implements it over its customer directory.
///
/// Implementations must not log the password, and should take the same time whether or not the
/// username exists (so timing does not reveal which usernames exist).
///
/// The consent pages throttle online password guessing per username and per source address
/// before an authenticator is asked ([`LoginThrottle`](super::pages::LoginThrottle)), on top of
/// the attempts per session; an authenticator may add its own (account lockout, risk checks).
/// An implementation
/// that hashes passwords itself should also bound how many hashes run at once, as
/// [`MemoryPsuDirectory`] does, so that parallel logins can't exhaust memory or CPU.
#[async_trait]
pub trait PsuAuthenticator: Send + Sync + fmt::Debug {
    /// The PSU these credentials belong to, or `None` if they are wrong (unknown username and
    /// wrong password are not told apart). `Err` only when the directory could not answer.
    async fn authenticate(&self, username: &str, password: &str) -> Result<Option<PsuId>, StoreError>;
}

/// One directory entry.
#[derive(Clone)]
struct Entry {
    psu: PsuId,
    hash: PasswordHash,
}

/// An in-memory PSU directory with Argon2id password hashes (the `argon2` crate's defaults:
/// 19 MiB, 2 passes, 1 lane, a 16-byte salt from aws-lc-rs), verified in constant time by the
/// crate. For an unknown username it verifies the password against a dummy hash of the same
/// parameters, so the answer takes as long as for a known one. Hashing runs on tokio's blocking
/// pool, off the async workers, and at most [`max_concurrent_hashes`](Self::max_concurrent_hashes)
/// verifications run at once (by default one per CPU the process may use): further logins wait
/// for a turn without allocating, so parallel logins cost at most that many times 19 MiB.
/// Guessing per username is throttled by the pages (see [`PsuAuthenticator`]).
///
/// For sandboxes and tests: the bank's real directory implements [`PsuAuthenticator`] itself.
#[derive(Clone)]
pub struct MemoryPsuDirectory {
    users: Arc<RwLock<HashMap<String, Entry>>>,
    /// A hash of a random password, for unknown usernames. `None` only if hashing failed at
    /// construction (it does not with the fixed parameters); unknown usernames then hash the
    /// presented password instead, which costs the same.
    dummy: Option<PasswordHash>,
    /// One permit per verification allowed to run at once.
    hashing: Arc<Semaphore>,
    /// The number of permits `hashing` was created with.
    max_hashes: usize,
    /// Verifications running now and the most seen at once, to check the bound in tests.
    #[cfg(test)]
    running: Arc<(std::sync::atomic::AtomicUsize, std::sync::atomic::AtomicUsize)>,
}

impl fmt::Debug for MemoryPsuDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users = self.users.read().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("MemoryPsuDirectory")
            .field("users", &users)
            .field("max_concurrent_hashes", &self.max_hashes)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryPsuDirectory {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryPsuDirectory {
    /// An empty directory. Computes one Argon2 hash (the dummy for unknown usernames), so it
    /// takes a few tens of milliseconds. At most one verification per available CPU
    /// ([`std::thread::available_parallelism`], or one if that is unknown) runs at once.
    pub fn new() -> Self {
        let dummy = hash_password(&openbanking_core::random_token(32))
            .inspect_err(|e| tracing::error!(error = %e, "could not prepare the dummy PSU password hash"))
            .ok();
        let max_hashes = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self {
            users: Arc::new(RwLock::new(HashMap::new())),
            dummy,
            hashing: Arc::new(Semaphore::new(max_hashes)),
            max_hashes,
            #[cfg(test)]
            running: Arc::default(),
        }
    }

    /// Allows at most `max` password verifications to run at once (at least one); the others
    /// wait. Each costs 19 MiB while it runs.
    pub fn with_max_concurrent_hashes(mut self, max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        self.hashing = Arc::new(Semaphore::new(max));
        self.max_hashes = max;
        self
    }

    /// How many password verifications may run at once.
    pub fn max_concurrent_hashes(&self) -> usize {
        self.max_hashes
    }

    /// The demo directory: `alice` / `alice-password` (PSU `alice`) and `bob` / `bob-password`
    /// (PSU `bob`). The passwords are public: a sandbox only, and it logs a warning.
    pub fn seeded() -> Result<Self, StoreError> {
        tracing::warn!("MemoryPsuDirectory::seeded: demo PSUs with published passwords (a sandbox setting)");
        let directory = Self::new();
        for name in ["alice", "bob"] {
            let psu = PsuId::parse(name).map_err(StoreError::backend)?;
            directory.insert(name, psu, &format!("{name}-password"))?;
        }
        Ok(directory)
    }

    /// Adds a PSU who logs in with `username` and `password` (hashed here, which is slow by
    /// design). [`StoreError::Conflict`] if the username is taken; a username or password over
    /// [`MAX_USERNAME_BYTES`] / [`MAX_PASSWORD_BYTES`], or an empty one, is refused as a backend
    /// error naming the rule.
    pub fn insert(&self, username: impl Into<String>, psu: PsuId, password: &str) -> Result<(), StoreError> {
        let username = username.into();
        if username.is_empty() || username.len() > MAX_USERNAME_BYTES {
            return Err(StoreError::backend(format!("a username is 1 to {MAX_USERNAME_BYTES} bytes")));
        }
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return Err(StoreError::backend(format!("a password is 1 to {MAX_PASSWORD_BYTES} bytes")));
        }
        let hash = hash_password(password).map_err(StoreError::backend)?;
        let mut users = self.users.write().unwrap_or_else(PoisonError::into_inner);
        if users.contains_key(&username) {
            return Err(StoreError::already_exists());
        }
        users.insert(username, Entry { psu, hash });
        Ok(())
    }

    /// How many PSUs the directory holds.
    pub fn len(&self) -> usize {
        self.users.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether the directory is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl PsuAuthenticator for MemoryPsuDirectory {
    async fn authenticate(&self, username: &str, password: &str) -> Result<Option<PsuId>, StoreError> {
        if username.len() > MAX_USERNAME_BYTES || password.len() > MAX_PASSWORD_BYTES {
            return Ok(None);
        }
        // Wait for a turn before anything is allocated for the hash. The permit moves into the
        // blocking task, so it is held until the hash is done even if this future is dropped.
        let permit = self.hashing.clone().acquire_owned().await.map_err(StoreError::backend)?;
        let entry = self.users.read().unwrap_or_else(PoisonError::into_inner).get(username).cloned();
        let dummy = self.dummy.clone();
        let password = password.to_owned();
        #[cfg(test)]
        let running = self.running.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            #[cfg(test)]
            let _running = RunningGuard::enter(running);
            match (&entry, &dummy) {
                (Some(entry), _) => verify(&password, &entry.hash).then(|| entry.psu.clone()),
                (None, Some(dummy)) => {
                    // Same work as for a known user; the result is ignored.
                    let _ = verify(&password, dummy);
                    None
                }
                (None, None) => {
                    let _ = hash_password(&password);
                    None
                }
            }
        })
        .await
        .map_err(StoreError::backend)?;
        Ok(verified)
    }
}

/// Counts a running verification (tests only): the count now, and the most seen at once.
#[cfg(test)]
struct RunningGuard(Arc<(std::sync::atomic::AtomicUsize, std::sync::atomic::AtomicUsize)>);

#[cfg(test)]
impl RunningGuard {
    fn enter(counts: Arc<(std::sync::atomic::AtomicUsize, std::sync::atomic::AtomicUsize)>) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let now = counts.0.fetch_add(1, SeqCst) + 1;
        counts.1.fetch_max(now, SeqCst);
        Self(counts)
    }
}

#[cfg(test)]
impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Argon2id with the crate's default parameters and a fresh 16-byte salt.
fn hash_password(password: &str) -> Result<PasswordHash, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| argon2::password_hash::Error::Crypto)?;
    Argon2::default().hash_password_with_salt(password.as_bytes(), &salt)
}

/// Whether `password` matches `hash` (the crate compares the outputs in constant time).
fn verify(password: &str, hash: &PasswordHash) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn seeded_users_log_in_with_their_passwords_only() {
        let d = MemoryPsuDirectory::seeded().unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.authenticate("alice", "alice-password").await.unwrap(), Some(PsuId::parse("alice").unwrap()));
        assert_eq!(d.authenticate("bob", "bob-password").await.unwrap(), Some(PsuId::parse("bob").unwrap()));
        assert_eq!(d.authenticate("alice", "bob-password").await.unwrap(), None);
        assert_eq!(d.authenticate("alice", "").await.unwrap(), None);
        assert_eq!(d.authenticate("Alice", "alice-password").await.unwrap(), None);
        assert_eq!(d.authenticate("carol", "carol-password").await.unwrap(), None);
    }

    #[tokio::test]
    async fn stores_argon2id_hashes_not_passwords() {
        let d = MemoryPsuDirectory::seeded().unwrap();
        let users = d.users.read().unwrap();
        let hash = users["alice"].hash.to_string();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("alice-password"));
        assert!(!format!("{d:?}").contains("argon2"));
    }

    #[tokio::test]
    async fn refuses_duplicate_usernames_and_oversized_input() {
        let d = MemoryPsuDirectory::new();
        d.insert("carol", PsuId::parse("carol").unwrap(), "pw").unwrap();
        assert!(d.insert("carol", PsuId::parse("carol2").unwrap(), "pw").unwrap_err().is_conflict());
        assert!(d.insert("dave", PsuId::parse("dave").unwrap(), "").is_err());
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(d.insert("dave", PsuId::parse("dave").unwrap(), &long).is_err());
        assert_eq!(d.authenticate("carol", &long).await.unwrap(), None);
        assert_eq!(d.authenticate(&"u".repeat(MAX_USERNAME_BYTES + 1), "pw").await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_logins_never_run_more_hashes_than_permits() {
        let d = MemoryPsuDirectory::seeded().unwrap().with_max_concurrent_hashes(2);
        assert_eq!(d.max_concurrent_hashes(), 2);
        let logins: Vec<_> = (0..16)
            .map(|i| {
                let d = d.clone();
                tokio::spawn(async move {
                    let (user, password) = match i % 3 {
                        0 => ("alice", "alice-password"),
                        1 => ("bob", "wrong"),
                        _ => ("mallory", "guess"),
                    };
                    (i, d.authenticate(user, password).await.unwrap())
                })
            })
            .collect();
        for login in logins {
            let (i, psu) = login.await.unwrap();
            assert_eq!(psu.is_some(), i % 3 == 0, "login {i}");
        }
        let (running, peak) = &*d.running;
        assert_eq!(running.load(std::sync::atomic::Ordering::SeqCst), 0);
        let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=2).contains(&peak), "{peak} hashes ran at once");
    }

    #[tokio::test]
    async fn defaults_to_one_hash_per_cpu() {
        let d = MemoryPsuDirectory::new();
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(d.max_concurrent_hashes(), cpus);
        assert_eq!(d.with_max_concurrent_hashes(0).max_concurrent_hashes(), 1);
    }

    #[tokio::test]
    async fn unknown_usernames_still_run_a_verification() {
        let d = MemoryPsuDirectory::new();
        assert!(d.dummy.as_ref().is_some_and(|h| h.to_string().starts_with("$argon2id$")));
        assert_eq!(d.authenticate("nobody", "pw").await.unwrap(), None);
    }
}
