//! Batching for the SQL stores' hot statements: the requests in flight that ask the same kind of
//! question at the same time share one statement (and, for writes, one commit).
//!
//! Every FAPI token request remembers two replay keys (the client assertion's `jti` and the DPoP
//! proof's) and reads its client; every data call remembers one key and reads its token's
//! revocation and its consent. One statement each, a durable store pays a round trip (a turn of
//! a SQLite worker thread, or of the PostgreSQL server), and for a write a commit, per question;
//! under load those cost more than the signatures the request checks.
//!
//! Here a caller queues its question and waits; if no batch of this kind is running, a task
//! starts that takes every question queued, asks them in one statement, answers each caller, and
//! repeats while questions wait. At low load a batch holds one question and adds no wait; under
//! load, the questions that arrived while the last batch ran share the next one.
//!
//! No answer changes meaning:
//! - a question is asked after it was queued, so a caller sees everything committed before it
//!   asked (a read is never older than the request, unlike a cache);
//! - a write is answered only once its batch is committed, so a replay key accepted is durable,
//!   and the database's unique key still decides between instances;
//! - a failed batch fails every caller in it, with the same meaning ([`StoreError::Unavailable`]
//!   stays unavailable), and each refuses its request as it would for its own failed statement.
//!
//! There is no cache: nothing is kept between batches.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use super::StoreError;

/// How many questions one statement carries at most (a few bound values each, well under
/// SQLite's and PostgreSQL's limits on bound values).
pub(crate) const MAX_BATCH: usize = 256;

/// What asks one batch: takes the questions, in the order they were queued, and returns one
/// answer per question, in the same order.
pub(crate) type Ask<Q, A> =
    dyn Fn(Vec<Q>) -> Pin<Box<dyn Future<Output = Result<Vec<A>, StoreError>> + Send>> + Send + Sync;

/// The batching queue of one kind of question. See the [module docs](self).
pub(crate) struct Batcher<Q, A> {
    /// What the batches are for, in errors ("read a consent", ...).
    what: &'static str,
    /// How many times the runner lets the other tasks run before it takes each batch (see
    /// [`lingering`](Self::lingering)).
    linger: usize,
    state: Mutex<State<Q, A>>,
    ask: Box<Ask<Q, A>>,
}

impl<Q, A> std::fmt::Debug for Batcher<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").field("what", &self.what).finish_non_exhaustive()
    }
}

struct State<Q, A> {
    queue: Vec<Waiting<Q, A>>,
    running: bool,
}

struct Waiting<Q, A> {
    question: Q,
    answer: oneshot::Sender<Result<A, StoreError>>,
}

impl<Q: Send + 'static, A: Send + 'static> Batcher<Q, A> {
    /// A queue whose batches `ask` answers; `what` names them in errors.
    pub(crate) fn new(what: &'static str, ask: Box<Ask<Q, A>>) -> Arc<Self> {
        Self::lingering(what, ask, 0)
    }

    /// A queue whose runner yields `linger` times to the other tasks before it takes each
    /// batch, so that the requests already running reach their question and share the batch.
    /// Worth it where a statement costs more CPU than a turn of the scheduler and little time:
    /// SQLite's replay writes, where one yield took batches from about 4 keys to about 10 and the
    /// SQLite thread's CPU down by a fifth. Not on PostgreSQL, whose round trip is long enough for
    /// batches to fill by themselves (a yield there lowered the token rate).
    pub(crate) fn lingering(what: &'static str, ask: Box<Ask<Q, A>>, linger: usize) -> Arc<Self> {
        Arc::new(Self { what, linger, state: Mutex::new(State { queue: Vec::new(), running: false }), ask })
    }

    /// Queues `question` for the next batch, and waits for its answer.
    pub(crate) async fn ask(self: &Arc<Self>, question: Q) -> Result<A, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.enqueue([Waiting { question, answer }]);
        answered.await.map_err(|_| self.dropped())?
    }

    /// Queues `questions` at once (so they share a batch: one statement, one commit, unless they
    /// are more than [`MAX_BATCH`]), and waits for their answers, in order. The first failed
    /// answer is the error.
    pub(crate) async fn ask_all(self: &Arc<Self>, questions: Vec<Q>) -> Result<Vec<A>, StoreError> {
        let (waiting, answered): (Vec<_>, Vec<_>) = questions
            .into_iter()
            .map(|question| {
                let (answer, answered) = oneshot::channel();
                (Waiting { question, answer }, answered)
            })
            .unzip();
        self.enqueue(waiting);
        let mut answers = Vec::with_capacity(answered.len());
        for answered in answered {
            answers.push(answered.await.map_err(|_| self.dropped())??);
        }
        Ok(answers)
    }

    /// Queues `waiting` under one lock, and starts the runner if none runs.
    fn enqueue(self: &Arc<Self>, waiting: impl IntoIterator<Item = Waiting<Q, A>>) {
        let start = {
            let mut state = self.lock();
            state.queue.extend(waiting);
            !std::mem::replace(&mut state.running, true)
        };
        if start {
            let runner = Runner { queue: Arc::clone(self), finished: false };
            tokio::spawn(async move {
                runner.queue.run_while_queued().await;
                runner.finish();
            });
        }
    }

    fn dropped(&self) -> StoreError {
        StoreError::unavailable(format!("the batch to {} was dropped", self.what))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<Q, A>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs batches until the queue is empty.
    async fn run_while_queued(&self) {
        loop {
            for _ in 0..self.linger {
                tokio::task::yield_now().await;
            }
            let batch: Vec<Waiting<Q, A>> = {
                let mut state = self.lock();
                if state.queue.is_empty() {
                    state.running = false;
                    return;
                }
                let take = state.queue.len().min(MAX_BATCH);
                state.queue.drain(..take).collect()
            };
            self.run_one(batch).await;
        }
    }

    async fn run_one(&self, batch: Vec<Waiting<Q, A>>) {
        let (questions, answers): (Vec<Q>, Vec<_>) = batch.into_iter().map(|w| (w.question, w.answer)).unzip();
        let asked = questions.len();
        match (self.ask)(questions).await {
            Ok(results) if results.len() == asked => {
                for (answer, result) in answers.into_iter().zip(results) {
                    let _ = answer.send(Ok(result));
                }
            }
            Ok(results) => {
                let cause = format!("{}: {} answers to {asked} questions", self.what, results.len());
                for answer in answers {
                    let _ = answer.send(Err(StoreError::backend(cause.clone())));
                }
            }
            Err(e) => {
                let unavailable = e.is_unavailable();
                let cause = e.to_string();
                for answer in answers {
                    let error = if unavailable {
                        StoreError::unavailable(cause.clone())
                    } else {
                        StoreError::backend(cause.clone())
                    };
                    let _ = answer.send(Err(error));
                }
            }
        }
    }
}

/// The running task's hold on the queue: if the task ends early (its runtime shut down), the
/// questions still queued are failed (their callers refuse) and the next caller starts a new task.
struct Runner<Q, A> {
    queue: Arc<Batcher<Q, A>>,
    /// Set when the task emptied the queue (and cleared `running` itself).
    finished: bool,
}

impl<Q, A> Runner<Q, A> {
    /// The task emptied the queue: nothing to clean up.
    fn finish(mut self) {
        self.finished = true;
    }
}

impl<Q, A> Drop for Runner<Q, A> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let orphans = {
            let mut state = self.queue.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.running = false;
            std::mem::take(&mut state.queue)
        };
        // Dropping the senders answers each caller with an error.
        drop(orphans);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// A "table" that accepts each key once (a replay cache), and counts its statements.
    fn replay_table() -> (Arc<Batcher<String, bool>>, Arc<AtomicUsize>) {
        let statements = Arc::new(AtomicUsize::new(0));
        let table = Arc::new(Mutex::new(HashSet::new()));
        let s = Arc::clone(&statements);
        let queue = Batcher::new(
            "remember keys",
            Box::new(move |keys: Vec<String>| {
                let (s, t) = (Arc::clone(&s), Arc::clone(&table));
                Box::pin(async move {
                    s.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    let mut table = t.lock().unwrap();
                    Ok(keys.into_iter().map(|k| table.insert(k)).collect())
                })
            }),
        );
        (queue, statements)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_caller_gets_its_own_answer_and_questions_asked_together_share_a_statement() {
        let (queue, statements) = replay_table();
        let mut tasks = Vec::new();
        for i in 0..400 {
            let queue = Arc::clone(&queue);
            // 100 distinct keys, each asked 4 times at once.
            tasks.push(tokio::spawn(async move { queue.ask(format!("k{}", i % 100)).await }));
        }
        let mut accepted = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 100, "each distinct key accepted exactly once");
        assert!(statements.load(Ordering::SeqCst) < 400, "questions waiting together share a statement");
        assert!(!queue.ask("k7".to_owned()).await.unwrap());
        assert!(queue.ask("new".to_owned()).await.unwrap());
    }

    #[tokio::test]
    async fn a_failed_batch_fails_its_callers_with_the_same_meaning_and_the_next_batch_works() {
        let fail = Arc::new(AtomicBool::new(true));
        let f = Arc::clone(&fail);
        let queue = Batcher::new(
            "remember keys",
            Box::new(move |keys: Vec<String>| {
                let fail = f.load(Ordering::SeqCst);
                Box::pin(async move {
                    if fail { Err(StoreError::unavailable("database down")) } else { Ok(vec![true; keys.len()]) }
                })
            }),
        );
        let err = queue.ask("a".to_owned()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        fail.store(false, Ordering::SeqCst);
        assert!(queue.ask("a".to_owned()).await.unwrap());
    }

    #[tokio::test]
    async fn a_batch_answering_the_wrong_number_of_questions_fails_them_all() {
        let queue: Arc<Batcher<String, bool>> =
            Batcher::new("read", Box::new(|_keys: Vec<String>| Box::pin(async { Ok(Vec::new()) })));
        assert!(matches!(queue.ask("a".to_owned()).await, Err(StoreError::Backend(_))));
    }
}
