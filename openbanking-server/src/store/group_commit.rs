//! Group commit for replay keys: the keys that requests in flight ask to remember at the same
//! time go to the database in one statement, and one commit.
//!
//! Every FAPI token request remembers two keys (the client assertion's `jti` and the DPoP
//! proof's), and every data call one (the proof's). Written one statement each, a durable store
//! pays a round trip, a commit (PostgreSQL) or a turn of the single SQLite writer per key, and
//! under load those cost more than the signatures the request checks. Here a caller queues its
//! key and waits; if no batch is being written, a task starts that takes every key queued, writes
//! them in one `INSERT … ON CONFLICT … RETURNING` and answers each caller, and repeats while keys
//! wait. At low load a batch holds one key and adds no wait; under load, the keys that arrived
//! while the last batch was written share the next one.
//!
//! Nothing about the contract changes: a caller is answered only after its key is committed (so
//! a key accepted is durable, as before), the database's unique key still decides between
//! instances, and within one batch a key asked twice goes to the database once and is refused to
//! every caller but the first. A failed batch fails every caller in it (the caller refuses the
//! request, as it would for its own failed statement).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use super::StoreError;

/// How many keys one statement carries at most (two bound values each, well under SQLite's and
/// PostgreSQL's limits on bound values).
pub(crate) const MAX_BATCH: usize = 256;

/// One key to remember: the key, when it expires, and the `now` it is judged at (µs).
#[derive(Debug, Clone)]
pub(crate) struct PendingKey {
    pub(crate) key: String,
    pub(crate) expires_at: i64,
    pub(crate) now: i64,
}

/// What writes one batch: takes distinct keys (and the earliest `now` among their callers, the
/// strictest one for taking over an expired key) and returns the keys it accepted (inserted, or
/// taken over from an expired row).
pub(crate) type WriteBatch = dyn Fn(Vec<PendingKey>, i64) -> Pin<Box<dyn Future<Output = Result<HashSet<String>, StoreError>> + Send>>
    + Send
    + Sync;

/// The group-commit queue of one replay store. See the [module docs](self).
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    write: Box<WriteBatch>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    queue: Vec<Waiting>,
    writing: bool,
}

struct Waiting {
    key: PendingKey,
    answer: oneshot::Sender<Result<bool, StoreError>>,
}

impl GroupCommit {
    /// A queue whose batches `write` writes.
    pub(crate) fn new(write: Box<WriteBatch>) -> Arc<Self> {
        Arc::new(Self { state: Mutex::default(), write })
    }

    /// Whether `key` was seen for the first time (and is now remembered): queued for the next
    /// batch, answered once that batch is committed.
    pub(crate) async fn first_use(self: &Arc<Self>, key: PendingKey) -> Result<bool, StoreError> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut state = self.lock();
            state.queue.push(Waiting { key, answer });
            !std::mem::replace(&mut state.writing, true)
        };
        if start {
            let writer = Writer { queue: Arc::clone(self), finished: false };
            tokio::spawn(async move {
                writer.queue.write_while_queued().await;
                writer.finish();
            });
        }
        answered.await.map_err(|_| StoreError::unavailable("the batch writing this replay key was dropped"))?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes batches until the queue is empty.
    async fn write_while_queued(&self) {
        loop {
            let batch: Vec<Waiting> = {
                let mut state = self.lock();
                if state.queue.is_empty() {
                    state.writing = false;
                    return;
                }
                let take = state.queue.len().min(MAX_BATCH);
                state.queue.drain(..take).collect()
            };
            self.write_one(batch).await;
        }
    }

    async fn write_one(&self, batch: Vec<Waiting>) {
        let now = batch.iter().map(|w| w.key.now).min().unwrap_or(i64::MIN);
        // A key asked twice in one batch goes to the database once; its second caller is
        // answered "seen" whatever the database says of the first.
        let mut distinct = HashSet::with_capacity(batch.len());
        let mut keys = Vec::with_capacity(batch.len());
        let mut first = Vec::with_capacity(batch.len());
        for waiting in &batch {
            let is_first = distinct.insert(waiting.key.key.as_str());
            if is_first {
                keys.push(waiting.key.clone());
            }
            first.push(is_first);
        }
        // In one order everywhere: two instances writing batches that share keys (a proof
        // replayed to both at once) then take the keys' locks in the same order, and can't
        // deadlock (PostgreSQL would abort one batch, failing the honest keys in it too).
        keys.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        match (self.write)(keys, now).await {
            Ok(accepted) => {
                for (waiting, is_first) in batch.into_iter().zip(first) {
                    let fresh = is_first && accepted.contains(&waiting.key.key);
                    let _ = waiting.answer.send(Ok(fresh));
                }
            }
            Err(e) => {
                let unavailable = e.is_unavailable();
                let cause = e.to_string();
                for waiting in batch {
                    let error = if unavailable {
                        StoreError::unavailable(cause.clone())
                    } else {
                        StoreError::backend(cause.clone())
                    };
                    let _ = waiting.answer.send(Err(error));
                }
            }
        }
    }
}

/// The writing task's hold on the queue: if the task ends early (its runtime shut down), the
/// keys still queued are failed (their callers refuse) and the next caller starts a new task.
struct Writer {
    queue: Arc<GroupCommit>,
    /// Set when the task emptied the queue (and cleared `writing` itself).
    finished: bool,
}

impl Writer {
    /// The task emptied the queue: nothing to clean up.
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let orphans = {
            let mut state = self.queue.lock();
            state.writing = false;
            std::mem::take(&mut state.queue)
        };
        // Dropping the senders answers each caller with an error.
        drop(orphans);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key(k: &str) -> PendingKey {
        PendingKey { key: k.to_owned(), expires_at: 100, now: 1 }
    }

    /// A "database" that accepts each key once, and counts its statements.
    fn memory_queue() -> (Arc<GroupCommit>, Arc<AtomicUsize>, Arc<Mutex<HashSet<String>>>) {
        let statements = Arc::new(AtomicUsize::new(0));
        let table = Arc::new(Mutex::new(HashSet::new()));
        let (s, t) = (Arc::clone(&statements), Arc::clone(&table));
        let queue = GroupCommit::new(Box::new(move |keys: Vec<PendingKey>, _now| {
            let (s, t) = (Arc::clone(&s), Arc::clone(&t));
            Box::pin(async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                let mut table = t.lock().unwrap();
                Ok(keys.into_iter().filter(|k| table.insert(k.key.clone())).map(|k| k.key).collect())
            })
        }));
        (queue, statements, table)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_is_accepted_once_among_many_concurrent_callers_and_batches_form() {
        let (queue, statements, _) = memory_queue();
        let mut tasks = Vec::new();
        for i in 0..400 {
            let queue = Arc::clone(&queue);
            // 100 distinct keys, each asked 4 times at once.
            tasks.push(tokio::spawn(async move { queue.first_use(key(&format!("k{}", i % 100))).await }));
        }
        let mut accepted = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 100, "each distinct key accepted exactly once");
        assert!(statements.load(Ordering::SeqCst) < 400, "keys waiting together share a statement");
        // A later ask of a known key is refused, of a new one accepted.
        assert!(!queue.first_use(key("k7")).await.unwrap());
        assert!(queue.first_use(key("new")).await.unwrap());
    }

    #[tokio::test]
    async fn a_failed_batch_fails_its_callers_with_the_same_meaning_and_the_next_batch_works() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let f = Arc::clone(&fail);
        let queue = GroupCommit::new(Box::new(move |keys: Vec<PendingKey>, _| {
            let fail = f.load(Ordering::SeqCst);
            Box::pin(async move {
                if fail {
                    Err(StoreError::unavailable("database down"))
                } else {
                    Ok(keys.into_iter().map(|k| k.key).collect())
                }
            })
        }));
        let err = queue.first_use(key("a")).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        fail.store(false, Ordering::SeqCst);
        assert!(queue.first_use(key("a")).await.unwrap(), "the failed key was not remembered");
    }
}
