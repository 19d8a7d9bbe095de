//! CPU time by party, from the kernel's per-thread run time (`/proc/.../schedstat`, nanoseconds):
//! the server's threads, the load generator's, SQLite's workers and the PostgreSQL processes;
//! and how much of the machine's time was idle (`/proc/stat`), which says whether a load
//! saturated the cores.

use std::collections::BTreeMap;
use std::fs;

/// Seconds of CPU per party at one instant.
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuSample {
    parties: BTreeMap<&'static str, f64>,
    /// The machine's idle time (all cores, `idle` + `iowait`), in seconds.
    idle: f64,
    /// The machine's cores, as `/proc/stat` counts them (its `cpuN` lines: what `idle` sums,
    /// which may be more than this process may use).
    cores: usize,
}

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

/// Idle seconds of all cores together, from the `cpu` line of `/proc/stat` (in USER_HZ ticks,
/// 100 per second on Linux: `sysconf(_SC_CLK_TCK)`, which the kernel fixes at 100 for user space).
/// Also the number of cores the sum is over.
fn idle_seconds() -> (f64, usize) {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    let cores =
        stat.lines().filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)).count();
    ((ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0)) as f64 / 100.0, cores.max(1))
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
        let (idle, cores) = idle_seconds();
        Self { parties, idle, cores }
    }

    /// CPU seconds per party between `earlier` and `self` (a party whose processes ended in
    /// between may show less than it used).
    pub(crate) fn since(&self, earlier: &Self) -> Vec<(&'static str, f64)> {
        self.parties
            .iter()
            .map(|(party, seconds)| (*party, (seconds - earlier.parties.get(party).copied().unwrap_or(0.0)).max(0.0)))
            .filter(|(_, seconds)| *seconds > 0.005)
            .collect()
    }

    /// The share of the machine's cores left idle between `earlier` and `self`, `elapsed`
    /// seconds apart.
    pub(crate) fn idle_share_since(&self, earlier: &Self, elapsed: f64) -> f64 {
        (self.idle - earlier.idle).max(0.0) / (self.cores as f64 * elapsed).max(1e-9)
    }
}
