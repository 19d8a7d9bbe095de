//! The story runner: one line per step, with the HTTP exchanges the bank served during it.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use super::DemoError;

/// One request the bank served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The method.
    pub method: String,
    /// The path (no query).
    pub path: String,
    /// The status the bank answered.
    pub status: u16,
}

/// The requests a bank served, in order: a layer around its router writes, the story reads.
#[derive(Debug, Clone, Default)]
pub struct ExchangeLog(Arc<Mutex<Vec<Exchange>>>);

impl ExchangeLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Exchange>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes every exchange logged so far, leaving the log empty.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.lock())
    }

    /// Wraps `router` so that every request it serves is logged here.
    pub fn layer(&self, router: axum::Router) -> axum::Router {
        router.layer(middleware::from_fn_with_state(self.clone(), record))
    }
}

async fn record(State(log): State<ExchangeLog>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    log.lock().push(Exchange { method, path, status: response.status().as_u16() });
    response
}

/// What a step reports: its key fact (the exchanges are added from the log).
pub type StepResult<T> = Result<(T, String), String>;

/// Runs a story's steps in order, printing one line for each, and stops at the first surprise.
pub struct Story<'o> {
    out: &'o mut (dyn FnMut(&str) + Send),
    log: ExchangeLog,
    steps: usize,
    started: Instant,
}

impl fmt::Debug for Story<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Story").field("steps", &self.steps).finish_non_exhaustive()
    }
}

impl<'o> Story<'o> {
    /// A story writing its lines to `out`, reading the exchanges of the bank behind `log`.
    pub fn new(out: &'o mut (dyn FnMut(&str) + Send), log: ExchangeLog) -> Self {
        Self { out, log, steps: 0, started: Instant::now() }
    }

    /// Prints a line that is not a step (an act's title, the setup).
    pub fn say(&mut self, line: &str) {
        (self.out)(line);
    }

    /// Switches to the bank behind `log` (a later act's bank).
    pub fn watch(&mut self, log: ExchangeLog) {
        self.log = log;
    }

    /// Runs step `name`: prints its number, name, the bank's exchanges during it and its fact;
    /// or returns the surprise as a [`DemoError`] naming the step.
    pub async fn step<T>(&mut self, name: &str, step: impl Future<Output = StepResult<T>>) -> Result<T, DemoError> {
        self.log.take();
        let outcome = step.await;
        let exchanges = self.log.take();
        self.steps += 1;
        let seen =
            exchanges.iter().map(|e| format!("{} {} {}", e.method, e.path, e.status)).collect::<Vec<_>>().join(", ");
        match outcome {
            Ok((value, fact)) => {
                (self.out)(&format!("  {:>2}. {name:<30} [{seen}] {fact}", self.steps));
                Ok(value)
            }
            Err(reason) => {
                (self.out)(&format!("  {:>2}. {name:<30} [{seen}] SURPRISE: {reason}", self.steps));
                Err(DemoError { step: name.to_owned(), reason })
            }
        }
    }

    /// How many steps ran.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Time since the story started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
