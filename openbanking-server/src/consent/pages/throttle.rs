//! Login throttling across sessions: failed logins counted per username and per network source,
//! with exponential backoff, in a bounded map ([`LoginThrottle`] settings, [`Throttle`] state).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// How failed logins are throttled across sessions, per username and per network source.
///
/// Each username (compared without regard to case or surrounding spaces) and each source
/// address (an IPv6 address by its /64 network) has a count of failed logins. Once a count
/// reaches its free allowance ([`username_failures`](Self::username_failures) or
/// [`address_failures`](Self::address_failures)), every further failure blocks that username or
/// source for a delay that doubles with each one, from [`first_delay`](Self::first_delay) up to
/// [`max_delay`](Self::max_delay). While blocked, a login for it is refused on the login page
/// (429, with a message and `Retry-After`) **without asking the authenticator**. A count is
/// forgotten after [`window`](Self::window) without failures (counted from the end of its last
/// block); a successful login clears its username's count.
///
/// A username's count is taken before the authenticator is asked, so concurrent guesses can't
/// slip past it. The source is known only when the app is served with
/// `into_make_service_with_connect_info::<SocketAddr>()` (axum's `ConnectInfo`); behind a
/// proxy that is the proxy's address, so set `address_failures` high there, or to `u32::MAX`.
///
/// The state is kept in memory, per [`ConsentPages`](super::ConsentPages) instance (instances
/// behind a load balancer each count their own), in at most [`capacity`](Self::capacity)
/// entries: when full, the entry that would be forgotten first makes room.
///
/// ```
/// use openbanking_server::consent::pages::LoginThrottle;
/// use time::Duration;
/// let mut throttle = LoginThrottle::default();
/// throttle.username_failures = 5;
/// throttle.max_delay = Duration::hours(4);
/// assert_eq!(throttle.first_delay, Duration::minutes(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginThrottle {
    /// Failed logins for one username before it is blocked (default 10: twice the per-session
    /// limit, so that a PSU who used up one session's tries can still try again).
    pub username_failures: u32,
    /// Failed logins from one source before it is blocked (default 50: many PSUs may share an
    /// address).
    pub address_failures: u32,
    /// The first block (default 1 minute); each further failure doubles it.
    pub first_delay: Duration,
    /// The longest block (default 1 hour).
    pub max_delay: Duration,
    /// How long a count lasts without failures, after its last block ends (default 1 hour).
    pub window: Duration,
    /// The most usernames and sources tracked at once (default 100 000).
    pub capacity: usize,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            username_failures: 10,
            address_failures: 50,
            first_delay: Duration::minutes(1),
            max_delay: Duration::hours(1),
            window: Duration::hours(1),
            capacity: 100_000,
        }
    }
}

impl LoginThrottle {
    /// Whether the settings make sense (a reason if not).
    pub(super) fn check(&self) -> Result<(), &'static str> {
        if self.username_failures == 0 || self.address_failures == 0 {
            return Err("username_failures and address_failures must be at least 1");
        }
        if self.first_delay <= Duration::ZERO || self.max_delay < self.first_delay {
            return Err("first_delay must be positive and max_delay at least first_delay");
        }
        if self.window <= Duration::ZERO || self.capacity == 0 {
            return Err("window must be positive and capacity at least 1");
        }
        Ok(())
    }
}

/// What is throttled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    /// A username, trimmed, lowercased and cut to 256 bytes.
    Username(String),
    /// A source address (IPv6 by its /64).
    Address(IpAddr),
}

impl Key {
    fn username(username: &str) -> Self {
        let mut name = username.trim().to_lowercase();
        if name.len() > 256 {
            let mut end = 256;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name.truncate(end);
        }
        Self::Username(name)
    }

    fn address(address: IpAddr) -> Self {
        match address {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Address(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Self::Address(IpAddr::V6(bits.into()))
                }
            },
            v4 => Self::Address(v4),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    blocked_until: Option<OffsetDateTime>,
    /// When the count is forgotten.
    forget_at: OffsetDateTime,
}

#[derive(Debug, Default)]
struct State {
    counts: HashMap<Key, Count>,
    /// `(forget_at, key)` of every count: forgetting and eviction order.
    order: BTreeSet<(OffsetDateTime, Key)>,
}

impl State {
    fn purge(&mut self, now: OffsetDateTime) {
        while let Some((at, _)) = self.order.first()
            && *at <= now
        {
            if let Some((_, key)) = self.order.pop_first() {
                self.counts.remove(&key);
            }
        }
    }

    fn blocked_until(&self, key: &Key, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.counts.get(key).and_then(|c| c.blocked_until).filter(|until| *until > now)
    }

    /// Counts a failure of `key`, whose allowance is `free`.
    fn fail(&mut self, key: Key, free: u32, settings: &LoginThrottle, now: OffsetDateTime) {
        let previous = self.counts.remove(&key);
        if let Some(previous) = &previous {
            self.order.remove(&(previous.forget_at, key.clone()));
        } else if self.counts.len() >= settings.capacity
            && let Some((_, evicted)) = self.order.pop_first()
        {
            self.counts.remove(&evicted);
        }
        let failures = previous.map_or(0, |c| c.failures).saturating_add(1);
        let blocked_until = (failures >= free).then(|| {
            let doublings = (failures - free).min(30);
            let delay = settings.first_delay.saturating_mul(1 << doublings).min(settings.max_delay);
            now + delay
        });
        // Forgotten a window after the last failure, or after the end of the block it caused.
        let forget_at = blocked_until.unwrap_or(now) + settings.window;
        let count = Count { failures, blocked_until, forget_at };
        self.order.insert((count.forget_at, key.clone()));
        self.counts.insert(key, count);
    }

    fn clear(&mut self, key: &Key) {
        if let Some(count) = self.counts.remove(key) {
            self.order.remove(&(count.forget_at, key.clone()));
        }
    }
}

/// The throttle's state: one per [`ConsentPages`](super::ConsentPages).
#[derive(Debug)]
pub(crate) struct Throttle {
    settings: LoginThrottle,
    state: Mutex<State>,
}

/// A login the throttle let through: report how it went.
#[derive(Debug)]
#[must_use]
pub(crate) struct Attempt {
    username: Key,
    address: Option<Key>,
}

impl Throttle {
    pub(crate) fn new(settings: LoginThrottle) -> Self {
        Self { settings, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a login for `username` from `address` through, counting it as a failure of the
    /// username until [`succeeded`](Self::succeeded) says otherwise; or how long it must wait.
    pub(crate) fn attempt(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<Attempt, Duration> {
        let username = Key::username(username);
        let address = address.map(Key::address);
        let mut state = self.lock();
        state.purge(now);
        let until = [Some(&username), address.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|key| state.blocked_until(key, now))
            .max();
        if let Some(until) = until {
            return Err(until - now);
        }
        state.fail(username.clone(), self.settings.username_failures, &self.settings, now);
        Ok(Attempt { username, address })
    }

    /// The attempt logged in: its username's count is cleared.
    pub(crate) fn succeeded(&self, attempt: Attempt) {
        self.lock().clear(&attempt.username);
    }

    /// The attempt failed (its username's failure is counted already): its source's is counted.
    pub(crate) fn failed(&self, attempt: Attempt, now: OffsetDateTime) {
        if let Some(address) = attempt.address {
            self.lock().fail(address, self.settings.address_failures, &self.settings, now);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().counts.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    fn settings() -> LoginThrottle {
        LoginThrottle { username_failures: 3, address_failures: 5, ..LoginThrottle::default() }
    }

    fn fail(throttle: &Throttle, user: &str, address: Option<IpAddr>, now: OffsetDateTime) -> Result<(), Duration> {
        let attempt = throttle.attempt(user, address, now)?;
        throttle.failed(attempt, now);
        Ok(())
    }

    #[test]
    fn a_username_is_blocked_with_doubling_delays_up_to_the_maximum() {
        let throttle = Throttle::new(settings());
        fail(&throttle, "alice", None, T0).unwrap();
        fail(&throttle, "alice", None, T0).unwrap();
        fail(&throttle, "Alice ", None, T0).unwrap(); // the third: blocked for a minute
        assert_eq!(throttle.attempt("ALICE", None, T0).err(), Some(Duration::minutes(1)));
        assert!(throttle.attempt("bob", None, T0).is_ok(), "other usernames are not blocked");
        let mut now = T0 + Duration::minutes(1);
        for minutes in [2, 4, 8, 16, 32, 60, 60] {
            fail(&throttle, "alice", None, now).unwrap();
            assert_eq!(throttle.attempt("alice", None, now).err(), Some(Duration::minutes(minutes)));
            now += Duration::minutes(minutes);
        }
        // A success clears the count.
        throttle.succeeded(throttle.attempt("alice", None, now).unwrap());
        fail(&throttle, "alice", None, now).unwrap();
        assert!(throttle.attempt("alice", None, now).is_ok());
    }

    #[test]
    fn a_count_is_forgotten_a_window_after_its_last_block() {
        let throttle = Throttle::new(settings());
        for _ in 0..3 {
            fail(&throttle, "alice", None, T0).unwrap();
        }
        let unblocked = T0 + Duration::minutes(1);
        // Just before the window ends, a failure still blocks at once (for twice as long).
        fail(&throttle, "alice", None, unblocked + Duration::minutes(59)).unwrap();
        assert!(throttle.attempt("alice", None, unblocked + Duration::minutes(59)).is_err());
        let later = unblocked + Duration::minutes(59) + Duration::minutes(2) + Duration::hours(1);
        fail(&throttle, "alice", None, later).unwrap();
        assert!(throttle.attempt("alice", None, later).is_ok(), "forgotten: counting from one again");
    }

    #[test]
    fn a_source_spraying_usernames_is_blocked() {
        let throttle = Throttle::new(settings());
        let address: IpAddr = "2001:db8::1".parse().unwrap();
        for i in 0..5 {
            fail(&throttle, &format!("user-{i}"), Some(address), T0).unwrap();
        }
        let same_network: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert!(throttle.attempt("someone", Some(same_network), T0).is_err());
        assert!(throttle.attempt("someone", Some("2001:db8:1::1".parse().unwrap()), T0).is_ok());
        assert!(throttle.attempt("someone", None, T0).is_ok());
    }

    #[test]
    fn the_state_is_bounded() {
        let throttle = Throttle::new(LoginThrottle { capacity: 10, ..settings() });
        for i in 0..1000 {
            fail(&throttle, &format!("user-{i}"), None, T0 + Duration::seconds(i)).unwrap();
        }
        assert_eq!(throttle.tracked(), 10);
        // The newest counts are the ones kept.
        fail(&throttle, "user-999", None, T0 + Duration::seconds(1000)).unwrap();
        fail(&throttle, "user-999", None, T0 + Duration::seconds(1000)).unwrap();
        assert!(throttle.attempt("user-999", None, T0 + Duration::seconds(1000)).is_err());
    }

    #[test]
    fn settings_are_checked() {
        assert!(LoginThrottle::default().check().is_ok());
        for bad in [
            LoginThrottle { username_failures: 0, ..LoginThrottle::default() },
            LoginThrottle { first_delay: Duration::ZERO, ..LoginThrottle::default() },
            LoginThrottle { max_delay: Duration::seconds(1), ..LoginThrottle::default() },
            LoginThrottle { capacity: 0, ..LoginThrottle::default() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
