//! Read-through caches of the hot reads (a client, a consent, a token's revocation), for a
//! database whose every change this process hears of: a SQLite file opened with
//! `SqliteStores::open_exclusive` (this process alone writes it), or PostgreSQL, whose triggers
//! announce each change of those rows to every instance (`LISTEN`/`NOTIFY`, see
//! `store/postgres/listen.rs`).
//!
//! Every data call reads its token's revocation and its consent, and every authenticated request
//! its client. A durable store answers each from the database; even batched (see
//! [`Batcher`](super::batch::Batcher)) that is a turn of SQLite's worker thread and its page
//! cache, and under load it cost about as much as the signatures the request checks. When no
//! other process can write the file, every write goes through this process's stores, so they
//! can keep the answers they read and drop each one as soon as they change it: the cache is then
//! exactly as fresh as the database, not "fresh within a TTL".
//!
//! The race every read-through cache has, and how it is closed: a read that started before a
//! write may come back with the old row after the write has dropped the key, and must not put it
//! back. So a miss takes a [`Ticket`] (the generation of the key's slot), the write bumps that
//! generation after its statement (committed or failed), and a fill whose generation moved is
//! thrown away. Ticket, fill and drop all happen under one lock, so they can't interleave.
//!
//! A write drops the key rather than storing the new value: two writes of one key may finish in
//! another order than they committed, and the next read asks the database anyway.
//!
//! Each cache holds at most [`CAPACITY`] keys; when full, it is emptied (the answers are all
//! still in the database, and the hot ones come back on their next read).
//!
//! On PostgreSQL the caches are only used while the instance is listening: before its listener
//! is subscribed, and from the moment its connection is lost (the changes announced meanwhile
//! are lost with it) until it is subscribed again, every read goes to the database and nothing
//! is kept ([`HotReads::set_live`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use tokio::task::AbortHandle;

use openbanking_core::Consent;

use super::RegisteredClient;

/// How many keys one cache holds at most before it is emptied.
pub(crate) const CAPACITY: usize = 65_536;

/// How many generation slots a cache has: a write makes a miss on any key of its slot skip its
/// fill (a lost fill only costs a read).
const SLOTS: usize = 64;

/// The caches of one database's stores, shared by every [`Stores`](super::Stores) handed out for
/// it.
#[derive(Debug)]
pub(crate) struct HotReads {
    /// Consents by id. Only consents found are kept, never an absence: so a new consent needs
    /// no notice (see `migrations/postgres/0004_change_notices.sql`).
    consents: ReadCache<Option<Consent>>,
    /// Registered clients by `client_id`; only clients found, as consents.
    clients: ReadCache<Option<RegisteredClient>>,
    /// Whether an access token's `jti` is revoked.
    revocations: ReadCache<bool>,
    /// Whether the caches may be used: every change is heard of.
    live: AtomicBool,
    /// The task that keeps them live (PostgreSQL's listener), stopped when they are dropped.
    task: OnceLock<AbortHandle>,
}

impl Drop for HotReads {
    fn drop(&mut self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

impl HotReads {
    /// Caches in use from the start (this process alone writes the database).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn live() -> Self {
        Self::new(true)
    }

    /// Caches not used until [`set_live`](Self::set_live) (a listener must subscribe first).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn dormant() -> Self {
        Self::new(false)
    }

    fn new(live: bool) -> Self {
        Self {
            consents: ReadCache::default(),
            clients: ReadCache::default(),
            revocations: ReadCache::default(),
            live: AtomicBool::new(live),
            task: OnceLock::new(),
        }
    }

    /// Stops using the caches for good, and the task that kept them live (the database was
    /// closed).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn stop(&self) {
        self.set_live(false);
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }

    /// Stops `task` when these caches are dropped (with the last store that holds them).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn stop_with(&self, task: AbortHandle) {
        if let Err(task) = self.task.set(task) {
            task.abort(); // one task per caches: a second one is not kept running
        }
    }

    /// Starts or stops using the caches. Both forget every answer kept and make the reads in
    /// flight skip their fill: when stopping, because changes will go unheard; when starting,
    /// because changes before the subscription went unheard.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::SeqCst);
        }
        self.clear();
        if live {
            self.live.store(true, Ordering::SeqCst);
        }
    }

    /// Forgets every answer, and makes every read in flight skip its fill (the database closed).
    pub(crate) fn clear(&self) {
        self.consents.clear();
        self.clients.clear();
        self.revocations.clear();
    }

    /// The consents' cache, while it may be used.
    pub(crate) fn consents(&self) -> Option<&ReadCache<Option<Consent>>> {
        self.is_live().then_some(&self.consents)
    }

    /// The clients' cache, while it may be used.
    pub(crate) fn clients(&self) -> Option<&ReadCache<Option<RegisteredClient>>> {
        self.is_live().then_some(&self.clients)
    }

    /// The revocations' cache, while it may be used.
    pub(crate) fn revocations(&self) -> Option<&ReadCache<bool>> {
        self.is_live().then_some(&self.revocations)
    }

    /// Drops what is kept of a changed row: `table` is `consents`, `clients` or `revocations`
    /// and `key` its key. An unknown table drops everything.
    pub(crate) fn changed(&self, table: &str, key: &str) {
        match table {
            "consents" => self.consents.invalidate(key),
            "clients" => self.clients.invalidate(key),
            "revocations" => self.revocations.invalidate(key),
            _ => self.clear(),
        }
    }

    /// After every purge of revocations (purged rows are no longer read).
    pub(crate) fn revocations_purged(&self) {
        self.revocations.clear();
    }

    fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }
}

/// One kind's cache. See the [module docs](self).
pub(crate) struct ReadCache<V> {
    hasher: RandomState,
    state: Mutex<State<V>>,
}

struct State<V> {
    values: HashMap<String, V>,
    generations: [u64; SLOTS],
}

/// What a miss takes to fill the cache with the answer it reads: the generation of its key's
/// slot when it asked.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub(crate) struct Ticket {
    slot: usize,
    generation: u64,
}

impl<V> Default for ReadCache<V> {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            state: Mutex::new(State { values: HashMap::new(), generations: [0; SLOTS] }),
        }
    }
}

impl<V> std::fmt::Debug for ReadCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").field("len", &self.lock().values.len()).finish_non_exhaustive()
    }
}

impl<V: Clone> ReadCache<V> {
    /// The cached answer for `key`, or the ticket to fill it with the one the database gives.
    pub(crate) fn get(&self, key: &str) -> Result<V, Ticket> {
        let slot = self.slot(key);
        let state = self.lock();
        match state.values.get(key) {
            Some(value) => Ok(value.clone()),
            None => Err(Ticket { slot, generation: state.generations[slot] }),
        }
    }

    /// Keeps `value`, read for `key` after `ticket` was taken, unless a write to the key's slot
    /// happened since (then the read may be older than the write).
    pub(crate) fn fill(&self, key: &str, value: V, ticket: Ticket) {
        let mut state = self.lock();
        if state.generations[ticket.slot] != ticket.generation {
            return;
        }
        if state.values.len() >= CAPACITY {
            state.values.clear();
        }
        state.values.insert(key.to_owned(), value);
    }

    /// Forgets `key`, and makes any read of its slot in flight skip its fill. Called after every
    /// write of the key, whether it committed or failed.
    pub(crate) fn invalidate(&self, key: &str) {
        let slot = self.slot(key);
        let mut state = self.lock();
        state.generations[slot] = state.generations[slot].wrapping_add(1);
        state.values.remove(key);
    }

    /// Forgets everything, and makes every read in flight skip its fill (after a purge).
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        for generation in &mut state.generations {
            *generation = generation.wrapping_add(1);
        }
        state.values.clear();
    }

    /// Reads `key` through the cache: the cached answer, or `read`'s, kept for next time if
    /// `keep` says so.
    pub(crate) async fn read<F>(&self, key: &str, read: F, keep: fn(&V) -> bool) -> Result<V, super::StoreError>
    where
        F: Future<Output = Result<V, super::StoreError>>,
    {
        match self.get(key) {
            Ok(value) => Ok(value),
            Err(ticket) => {
                let value = read.await?;
                if keep(&value) {
                    self.fill(key, value.clone(), ticket);
                }
                Ok(value)
            }
        }
    }
}

impl<V> ReadCache<V> {
    fn slot(&self, key: &str) -> usize {
        // The modulo of a 64-bit hash by a power of two: the low bits, evenly spread.
        (self.hasher.hash_one(key) % SLOTS as u64) as usize
    }

    fn lock(&self) -> MutexGuard<'_, State<V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads `key` through `cache` when there is one (keeping what `keep` says), else straight from
/// `read`.
pub(crate) async fn read_through<V, F>(
    cache: Option<&ReadCache<V>>,
    key: &str,
    read: F,
    keep: fn(&V) -> bool,
) -> Result<V, super::StoreError>
where
    V: Clone,
    F: Future<Output = Result<V, super::StoreError>>,
{
    match cache {
        Some(cache) => cache.read(key, read, keep).await,
        None => read.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_after_a_fill_and_a_miss_after_an_invalidation() {
        let cache = ReadCache::<u32>::default();
        let ticket = cache.get("a").unwrap_err();
        cache.fill("a", 1, ticket);
        assert_eq!(cache.get("a").ok(), Some(1));
        cache.invalidate("a");
        assert!(cache.get("a").is_err());
    }

    #[test]
    fn a_read_that_raced_a_write_does_not_put_the_old_answer_back() {
        let cache = ReadCache::<u32>::default();
        let ticket = cache.get("a").unwrap_err(); // the read starts, and gets the old row
        cache.invalidate("a"); // the write commits and drops the key
        cache.fill("a", 1, ticket); // the old row arrives
        assert!(cache.get("a").is_err(), "the old answer was kept after the write");
        let ticket = cache.get("a").unwrap_err();
        cache.fill("a", 2, ticket);
        assert_eq!(cache.get("a").ok(), Some(2));
    }

    #[test]
    fn a_clear_drops_everything_and_the_fills_in_flight() {
        let cache = ReadCache::<u32>::default();
        let (a, b) = (cache.get("a").unwrap_err(), cache.get("b").unwrap_err());
        cache.fill("a", 1, a);
        cache.clear();
        cache.fill("b", 2, b);
        assert!(cache.get("a").is_err() && cache.get("b").is_err());
    }

    #[test]
    fn a_dormant_bundle_keeps_nothing_and_losing_the_listener_forgets_what_was_kept() {
        let hot = HotReads::dormant();
        assert!(hot.revocations().is_none(), "not used before the listener subscribed");
        hot.set_live(true);
        let ticket = hot.revocations().unwrap().get("j").unwrap_err();
        hot.revocations().unwrap().fill("j", true, ticket);
        let in_flight = hot.revocations().unwrap().get("k").unwrap_err();
        hot.set_live(false);
        assert!(hot.revocations().is_none(), "not used once changes may go unheard");
        hot.set_live(true);
        let revocations = hot.revocations().unwrap();
        revocations.fill("k", true, in_flight);
        assert!(revocations.get("j").is_err() && revocations.get("k").is_err(), "nothing of before survives");
    }

    #[test]
    fn a_change_heard_drops_its_key_only() {
        let hot = HotReads::live();
        for key in ["a", "b"] {
            let ticket = hot.revocations().unwrap().get(key).unwrap_err();
            hot.revocations().unwrap().fill(key, false, ticket);
        }
        hot.changed("revocations", "a");
        assert!(hot.revocations().unwrap().get("a").is_err());
        assert_eq!(hot.revocations().unwrap().get("b").ok(), Some(false));
        hot.changed("something else", "b");
        assert!(hot.revocations().unwrap().get("b").is_err(), "an unknown table drops everything");
    }

    #[test]
    fn a_full_cache_is_emptied_not_grown() {
        let cache = ReadCache::<usize>::default();
        for i in 0..=CAPACITY {
            let key = i.to_string();
            let ticket = cache.get(&key).unwrap_err();
            cache.fill(&key, i, ticket);
        }
        assert_eq!(cache.lock().values.len(), 1, "emptied when full, then the last key kept");
    }
}
