//! CPU time by party, from the kernel's per-thread run time (`/proc/.../schedstat`, nanoseconds):
//! the server's threads, the load generator's, SQLite's workers and the PostgreSQL processes.

use std::collections::BTreeMap;
use std::fs;

/// Seconds of CPU per party at one instant.
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuSample(BTreeMap<&'static str, f64>);

/// The party a thread of this process works for, by its name (the runtimes name theirs).
fn party(thread_name: &str) -> &'static str {
    if thread_name.starts_with("loadgen") {
        "load generator"
    } else if thread_name.starts_with("sqlx-sqlite") {
        "sqlite"
    } else {
        "server"
    }
}

fn run_seconds(schedstat: &str) -> Option<f64> {
    schedstat.split_whitespace().next()?.parse::<u64>().ok().map(|ns| ns as f64 / 1e9)
}

impl CpuSample {
    /// Now: every thread of this process, and every `postgres` process of this machine (the
    /// database shares the cores).
    pub(crate) fn now() -> Self {
        let mut parties = BTreeMap::new();
        if let Ok(tasks) = fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let path = task.path();
                let name = fs::read_to_string(path.join("comm")).unwrap_or_default();
                if let Some(seconds) = fs::read_to_string(path.join("schedstat")).ok().and_then(|s| run_seconds(&s)) {
                    *parties.entry(party(name.trim())).or_insert(0.0) += seconds;
                }
            }
        }
        if let Ok(processes) = fs::read_dir("/proc") {
            for process in processes.flatten() {
                let path = process.path();
                let is_pid =
                    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
                if !is_pid || fs::read_to_string(path.join("comm")).map(|c| c.trim() != "postgres").unwrap_or(true) {
                    continue;
                }
                if let Some(seconds) = fs::read_to_string(path.join("schedstat")).ok().and_then(|s| run_seconds(&s)) {
                    *parties.entry("postgres").or_insert(0.0) += seconds;
                }
            }
        }
        Self(parties)
    }

    /// CPU seconds per party between `earlier` and `self` (a party whose processes ended in
    /// between may show less than it used).
    pub(crate) fn since(&self, earlier: &Self) -> Vec<(&'static str, f64)> {
        self.0
            .iter()
            .map(|(party, seconds)| (*party, (seconds - earlier.0.get(party).copied().unwrap_or(0.0)).max(0.0)))
            .filter(|(_, seconds)| *seconds > 0.0005)
            .collect()
    }
}
