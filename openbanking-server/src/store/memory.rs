//! In-memory stores: for tests, the sandbox, and single-instance development. Everything is lost
//! on restart, and nothing is shared between instances; a bank in production uses a durable store.
//! Each store logs one warning when created, so that this is never a surprise.
//!
//! Entries that expire are kept beside an index ordered by the time they may go, and every
//! write first drops the entries whose time has come from the front of that index: each entry
//! costs `O(log n)` once to insert and once to purge, and no write scans the live entries.
//! Stores whose trait methods don't all carry `now` read an injected [`Clock`] (the system clock
//! by default; [`AuthorizationServerBuilder`](crate::authorization::AuthorizationServerBuilder)
//! gives the stores it creates its own clock).

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::provider::StoreError;
use openbanking_core::{ClientId, Jti};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ArtifactStore, AuthorizationCodeStore, ClientStore, CodeGrant, CodeRedemption, RefreshFamily, RefreshRotation,
    RefreshTokenStore, RegisteredClient, RevocationStore, TokenHash,
};

/// How long a used code is remembered after its expiry, so a late replay still revokes.
const USED_CODE_MEMORY: i64 = 3600;
/// How long a revoked access token's `jti` is remembered after its `exp`, covering validators that
/// allow some clock skew.
const REVOCATION_LEEWAY: i64 = 60;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn warn_in_memory(what: &str) {
    tracing::warn!("{what}: in-memory store in use; data is lost on restart and not shared between instances");
}

/// A map whose entries each have a time (Unix seconds) from which they may be dropped, with the
/// same keys ordered by that time: [`purge`](Self::purge) removes the due entries from the front
/// of the order, looking at no live entry but the first.
#[derive(Debug)]
struct Expiring<K, V> {
    entries: HashMap<K, (V, i64)>,
    by_time: BTreeSet<(i64, K)>,
    /// Index entries looked at by `purge`, to show in tests that it does not scan.
    #[cfg(test)]
    examined: usize,
}

impl<K, V> Default for Expiring<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            by_time: BTreeSet::new(),
            #[cfg(test)]
            examined: 0,
        }
    }
}

impl<K: Hash + Eq + Ord + Clone, V> Expiring<K, V> {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.contains_key(key)
    }

    /// The value and its purge time.
    fn get<Q>(&self, key: &Q) -> Option<(&V, i64)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key).map(|(v, at)| (v, *at))
    }

    fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    /// Adds an entry that may go from `purge_at`; the caller has checked that `key` is absent.
    fn insert(&mut self, key: K, value: V, purge_at: i64) {
        if let Some((_, old)) = self.entries.insert(key.clone(), (value, purge_at)) {
            self.by_time.remove(&(old, key.clone()));
        }
        self.by_time.insert((purge_at, key));
    }

    /// Removes an entry, returning its value and purge time.
    fn remove<Q>(&mut self, key: &Q) -> Option<(V, i64)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (key, (value, at)) = self.entries.remove_entry(key)?;
        self.by_time.remove(&(at, key));
        Some((value, at))
    }

    /// Moves an entry's purge time to `purge_at`.
    fn reschedule<Q>(&mut self, key: &Q, purge_at: i64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some((key, (_, at))) = self.entries.get_key_value(key) else { return };
        if *at == purge_at {
            return;
        }
        let (key, old) = (key.clone(), *at);
        self.by_time.remove(&(old, key.clone()));
        if let Some((_, at)) = self.entries.get_mut::<K>(&key) {
            *at = purge_at;
        }
        self.by_time.insert((purge_at, key));
    }

    /// Removes every entry whose purge time is `now` or earlier, handing each to `removed`.
    fn purge(&mut self, now: i64, mut removed: impl FnMut(K, V)) {
        loop {
            #[cfg(test)]
            {
                self.examined += 1;
            }
            match self.by_time.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            let Some((_, key)) = self.by_time.pop_first() else { break };
            if let Some((value, _)) = self.entries.remove(&key) {
                removed(key, value);
            }
        }
    }
}

/// In-memory [`ClientStore`].
#[derive(Debug, Default)]
pub struct MemoryClientStore {
    clients: Mutex<HashMap<ClientId, RegisteredClient>>,
}

impl MemoryClientStore {
    /// An empty store.
    pub fn new() -> Self {
        warn_in_memory("clients");
        Self::default()
    }
}

#[async_trait]
impl ClientStore for MemoryClientStore {
    async fn insert(&self, client: RegisteredClient) -> Result<(), StoreError> {
        let mut clients = lock(&self.clients);
        if clients.contains_key(&client.client_id) {
            return Err(StoreError::already_exists());
        }
        clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<RegisteredClient>, StoreError> {
        Ok(lock(&self.clients).get(client_id).cloned())
    }

    async fn replace(&self, client: RegisteredClient) -> Result<(), StoreError> {
        match lock(&self.clients).get_mut(&client.client_id) {
            Some(slot) => {
                *slot = client;
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn delete(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        Ok(lock(&self.clients).remove(client_id).is_some())
    }
}

/// In-memory [`ArtifactStore`]. Expired entries are purged, in expiry order, as new ones arrive;
/// [`put`](ArtifactStore::put) reads the store's [`Clock`] for that.
#[derive(Debug)]
pub struct MemoryArtifactStore<T> {
    entries: Mutex<Expiring<String, T>>,
    clock: Arc<dyn Clock>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Default for MemoryArtifactStore<T> {
    fn default() -> Self {
        Self { entries: Mutex::new(Expiring::default()), clock: Arc::new(SystemClock), _t: PhantomData }
    }
}

impl<T> MemoryArtifactStore<T> {
    /// An empty store, on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` to decide which entries have expired when a new one is stored.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The number of entries held, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<T> ArtifactStore<T> for MemoryArtifactStore<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + 'static,
{
    async fn put(&self, key: &str, value: T, expires_at: i64) -> Result<(), StoreError> {
        let now = self.clock.unix_now();
        let mut entries = lock(&self.entries);
        entries.purge(now, |_, _| {});
        if entries.contains_key(key) {
            return Err(StoreError::already_exists());
        }
        entries.insert(key.to_owned(), value, expires_at);
        Ok(())
    }

    async fn get(&self, key: &str, now: i64) -> Result<Option<T>, StoreError> {
        Ok(lock(&self.entries).get(key).filter(|(_, exp)| now < *exp).map(|(v, _)| v.clone()))
    }

    async fn take(&self, key: &str, now: i64) -> Result<Option<T>, StoreError> {
        Ok(lock(&self.entries).remove(key).filter(|(_, exp)| now < *exp).map(|(v, _)| v))
    }
}

#[derive(Debug)]
struct CodeEntry {
    grant: CodeGrant,
    expires_at: i64,
    used: bool,
}

/// In-memory [`AuthorizationCodeStore`]. A code is purged an hour after its expiry (so a late replay of a used code is still recognised), in expiry order, as new codes
/// arrive; [`insert`](AuthorizationCodeStore::insert) reads the store's [`Clock`] for that.
#[derive(Debug)]
pub struct MemoryAuthorizationCodeStore {
    codes: Mutex<Expiring<TokenHash, CodeEntry>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryAuthorizationCodeStore {
    fn default() -> Self {
        Self { codes: Mutex::new(Expiring::default()), clock: Arc::new(SystemClock) }
    }
}

impl MemoryAuthorizationCodeStore {
    /// An empty store, on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` to decide which codes can be forgotten when a new one is stored.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The number of codes held, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        lock(&self.codes).len()
    }

    /// Whether the store holds no codes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl AuthorizationCodeStore for MemoryAuthorizationCodeStore {
    async fn insert(&self, code: &TokenHash, grant: CodeGrant, expires_at: i64) -> Result<(), StoreError> {
        let now = self.clock.unix_now();
        let mut codes = lock(&self.codes);
        codes.purge(now, |_, _| {});
        if codes.contains_key(code) {
            return Err(StoreError::already_exists());
        }
        let purge_at = expires_at.saturating_add(USED_CODE_MEMORY);
        codes.insert(code.clone(), CodeEntry { grant, expires_at, used: false }, purge_at);
        Ok(())
    }

    async fn redeem(&self, code: &TokenHash, now: i64) -> Result<CodeRedemption, StoreError> {
        let mut codes = lock(&self.codes);
        let Some(entry) = codes.get_mut(code) else { return Ok(CodeRedemption::Invalid) };
        if entry.used {
            return Ok(if now < entry.expires_at.saturating_add(USED_CODE_MEMORY) {
                CodeRedemption::Replayed(entry.grant.clone())
            } else {
                CodeRedemption::Invalid
            });
        }
        if now >= entry.expires_at {
            return Ok(CodeRedemption::Invalid);
        }
        entry.used = true;
        Ok(CodeRedemption::First(entry.grant.clone()))
    }
}

#[derive(Debug)]
struct FamilyEntry {
    family: RefreshFamily,
    current: TokenHash,
    /// The token `current` replaced, and when: usable until `current` is first used or the
    /// grace period ends.
    previous: Option<(TokenHash, i64)>,
    /// Every token issued in the family: its entries in the token index, dropped with it.
    issued: Vec<TokenHash>,
    /// When the family was revoked, if it is.
    revoked_at: Option<i64>,
}

impl FamilyEntry {
    /// Whether `token` may be used now: the family is live and `token` is its current token, or
    /// the previous one within `grace` seconds of being superseded. [`RefreshTokenStore::rotate`]
    /// and [`RefreshTokenStore::find`] both answer from this.
    fn usable(&self, token: &TokenHash, now: i64, grace: i64) -> bool {
        let in_grace = matches!(&self.previous, Some((prev, at)) if prev == token && now.saturating_sub(*at) <= grace);
        !self.family.revoked && now < self.family.expires_at && (self.current == *token || in_grace)
    }

    /// When the family can be forgotten: once it has expired, or was revoked, and every access
    /// token issued from it has expired too (until then, revoking the family must still reach
    /// them, and a concurrent refresh must still find it revoked).
    fn purge_at(&self) -> i64 {
        let end = match self.revoked_at {
            Some(at) if self.family.revoked => at.min(self.family.expires_at),
            _ => self.family.expires_at,
        };
        self.family.access_tokens.iter().map(|(_, exp)| *exp).fold(end, i64::max)
    }
}

#[derive(Debug, Default)]
struct RefreshState {
    /// By family id, purged once [`FamilyEntry::purge_at`] has passed.
    families: Expiring<String, FamilyEntry>,
    /// Every token issued in a family still held, to its family: an old token presented again is
    /// recognised.
    tokens: HashMap<TokenHash, String>,
}

impl RefreshState {
    /// Drops the families that can be forgotten at `now`, with their tokens.
    fn purge(&mut self, now: i64) {
        let tokens = &mut self.tokens;
        self.families.purge(now, |_, entry| {
            for token in &entry.issued {
                tokens.remove(token);
            }
        });
    }

    /// Recomputes a family's purge time after it changed.
    fn reschedule(&mut self, family_id: &str) {
        if let Some((entry, _)) = self.families.get(family_id) {
            let at = entry.purge_at();
            self.families.reschedule(family_id, at);
        }
    }
}

/// In-memory [`RefreshTokenStore`].
///
/// A family is forgotten, with every token hash it issued, once it has expired or been revoked
/// and every access token issued from it has expired: presenting one of its tokens after that is
/// answered as for an unknown token, which is how an expired or revoked family is answered
/// anyway. Families are purged in that order as families are created and tokens rotated; the
/// operations without a `now` read the store's [`Clock`].
#[derive(Debug)]
pub struct MemoryRefreshTokenStore {
    state: Mutex<RefreshState>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryRefreshTokenStore {
    fn default() -> Self {
        Self { state: Mutex::new(RefreshState::default()), clock: Arc::new(SystemClock) }
    }
}

impl MemoryRefreshTokenStore {
    /// An empty store, on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` where an operation is not given the time (creating a family, recording an
    /// access token, revoking a family).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The number of families held, including ones due to be purged.
    pub fn family_count(&self) -> usize {
        lock(&self.state).families.len()
    }

    /// The number of refresh-token hashes held (current, superseded and dropped ones alike).
    pub fn token_count(&self) -> usize {
        lock(&self.state).tokens.len()
    }

    /// Forgets the families that can be forgotten now, rather than at the next write.
    pub fn purge_expired(&self) {
        let now = self.clock.unix_now();
        lock(&self.state).purge(now);
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryRefreshTokenStore {
    async fn create(&self, family: RefreshFamily, token: &TokenHash) -> Result<(), StoreError> {
        let now = self.clock.unix_now();
        let mut state = lock(&self.state);
        state.purge(now);
        if state.families.contains_key(&family.id) || state.tokens.contains_key(token) {
            return Err(StoreError::already_exists());
        }
        state.tokens.insert(token.clone(), family.id.clone());
        let id = family.id.clone();
        let revoked_at = family.revoked.then_some(now);
        let entry =
            FamilyEntry { family, current: token.clone(), previous: None, issued: vec![token.clone()], revoked_at };
        let purge_at = entry.purge_at();
        state.families.insert(id, entry, purge_at);
        Ok(())
    }

    async fn rotate(
        &self,
        token: &TokenHash,
        next: &TokenHash,
        now: i64,
        grace: i64,
    ) -> Result<RefreshRotation, StoreError> {
        let mut state = lock(&self.state);
        state.purge(now);
        let Some(family_id) = state.tokens.get(token).cloned() else { return Ok(RefreshRotation::Invalid) };
        if state.tokens.contains_key(next) {
            return Err(StoreError::already_exists());
        }
        let Some(entry) = state.families.get_mut(family_id.as_str()) else { return Ok(RefreshRotation::Invalid) };
        if entry.family.revoked || now >= entry.family.expires_at {
            return Ok(RefreshRotation::Invalid);
        }
        if entry.current == *token {
            // The current token: it is superseded now, and stays usable for `grace` seconds or
            // until `next` is first used (which makes `next` the previous one in its turn).
            entry.previous = Some((token.clone(), now));
        } else if !entry.usable(token, now, grace) {
            entry.family.revoked = true;
            entry.revoked_at = Some(now);
            let family = entry.family.clone();
            state.reschedule(&family_id);
            return Ok(RefreshRotation::Reused(family));
        }
        // (In grace, `previous` keeps its original time: retries don't extend the window, and
        // the unused `current` it had produced is dropped in favour of `next`.)
        entry.current = next.clone();
        entry.issued.push(next.clone());
        let family = entry.family.clone();
        state.tokens.insert(next.clone(), family_id);
        Ok(RefreshRotation::Rotated(family))
    }

    async fn find(&self, token: &TokenHash, now: i64, grace: i64) -> Result<Option<(RefreshFamily, bool)>, StoreError> {
        let state = lock(&self.state);
        let Some((entry, _)) = state.tokens.get(token).and_then(|id| state.families.get(id.as_str())) else {
            return Ok(None);
        };
        Ok(Some((entry.family.clone(), entry.usable(token, now, grace))))
    }

    async fn add_access_token(&self, family_id: &str, jti: &Jti, exp: i64) -> Result<(), StoreError> {
        let now = self.clock.unix_now();
        let mut state = lock(&self.state);
        let entry = state.families.get_mut(family_id).ok_or(StoreError::NotFound)?;
        entry.family.access_tokens.retain(|(_, e)| *e > now);
        entry.family.access_tokens.push((jti.clone(), exp));
        state.reschedule(family_id);
        Ok(())
    }

    async fn revoke_family(&self, family_id: &str) -> Result<Option<RefreshFamily>, StoreError> {
        let now = self.clock.unix_now();
        let mut state = lock(&self.state);
        let Some(entry) = state.families.get_mut(family_id) else { return Ok(None) };
        entry.family.revoked = true;
        entry.revoked_at.get_or_insert(now);
        let family = entry.family.clone();
        state.reschedule(family_id);
        Ok(Some(family))
    }
}

/// In-memory [`RevocationStore`]. An entry goes a minute after its token would have
/// expired, purged in expiry order as new entries arrive;
/// [`revoke`](RevocationStore::revoke) reads the store's [`Clock`] for that.
#[derive(Debug)]
pub struct MemoryRevocationStore {
    revoked: Mutex<Expiring<Jti, ()>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryRevocationStore {
    fn default() -> Self {
        Self { revoked: Mutex::new(Expiring::default()), clock: Arc::new(SystemClock) }
    }
}

impl MemoryRevocationStore {
    /// An empty store, on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` to decide which entries can be forgotten when a token is revoked.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The number of revoked `jti`s held, including ones due to be purged.
    pub fn len(&self) -> usize {
        lock(&self.revoked).len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, jti: &Jti, exp: i64) -> Result<(), StoreError> {
        let now = self.clock.unix_now();
        let mut revoked = lock(&self.revoked);
        revoked.purge(now, |_, _| {});
        let purge_at = exp.saturating_add(REVOCATION_LEEWAY);
        match revoked.get(jti) {
            // Revoked already: remembered until the later of the two expiries.
            Some((_, at)) => revoked.reschedule(jti, at.max(purge_at)),
            None => revoked.insert(jti.clone(), (), purge_at),
        }
        Ok(())
    }

    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError> {
        Ok(lock(&self.revoked).contains_key(jti))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use openbanking_core::clock::ManualClock;
    use openbanking_core::pkce::{PkceChallenge, PkceVerifier};
    use openbanking_core::{Scope, random_token};
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    /// 2000-01-01T00:00:00Z, far from the system clock: a store that read the system clock
    /// instead of its own would see every entry here as long expired.
    const T0: i64 = 946_684_800;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(datetime!(2000-01-01 0:00 UTC)))
    }

    fn family(id: &str, expires_at: i64) -> RefreshFamily {
        RefreshFamily {
            id: id.to_owned(),
            client_id: ClientId::parse("tpp").unwrap(),
            subject: "alice".into(),
            scope: Scope::parse("accounts").unwrap(),
            consent_id: None,
            dpop_jkt: None,
            expires_at,
            revoked: false,
            access_tokens: Vec::new(),
        }
    }

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: ClientId::parse("tpp").unwrap(),
            redirect_uri: "https://tpp.example/cb".into(),
            scope: Scope::parse("accounts").unwrap(),
            subject: "alice".into(),
            consent_id: None,
            code_challenge: PkceChallenge::from_verifier(&PkceVerifier::generate()),
            dpop_jkt: None,
            access_jti: jti(),
            refresh_family: None,
        }
    }

    fn jti() -> Jti {
        Jti::parse(random_token(16)).unwrap()
    }

    fn hash() -> TokenHash {
        TokenHash::of(&random_token(32))
    }

    #[test]
    fn expiring_purges_in_order_without_looking_at_live_entries() {
        let mut e: Expiring<String, ()> = Expiring::default();
        for i in 0..5000 {
            e.insert(format!("live-{i}"), (), T0 + 1_000_000 + i);
        }
        for i in 0..100 {
            e.insert(format!("short-{i}"), (), T0 + i);
        }
        e.examined = 0;
        let mut removed = Vec::new();
        e.purge(T0 + 49, |k, ()| removed.push(k));
        assert_eq!(removed, (0..50).map(|i| format!("short-{i}")).collect::<Vec<_>>());
        assert_eq!(e.examined, 51, "the 50 due entries and the first one not due");
        assert_eq!(e.len(), 5050);
        e.reschedule("live-0", T0);
        e.purge(T0 + 49, |_, ()| {});
        assert!(!e.contains_key("live-0"));
        assert_eq!(e.remove("short-50"), Some(((), T0 + 50)));
        assert_eq!(e.by_time.len(), e.entries.len());
    }

    #[tokio::test]
    async fn artifact_inserts_with_many_live_entries_do_not_scan_them() {
        let clock = clock();
        let store = MemoryArtifactStore::<String>::new().with_clock(clock.clone());
        for i in 0..5000 {
            store.put(&format!("live-{i}"), "v".into(), T0 + 600).await.unwrap();
        }
        lock(&store.entries).examined = 0;
        for i in 0..100 {
            store.put(&format!("more-{i}"), "v".into(), T0 + 600).await.unwrap();
        }
        // One look at the front of the index per insert: none of the 5000 live entries is visited.
        assert_eq!(lock(&store.entries).examined, 100);
        assert_eq!(store.len(), 5100);
    }

    #[tokio::test]
    async fn artifacts_expire_on_the_injected_clock_in_expiry_order() {
        let clock = clock();
        let store = MemoryArtifactStore::<String>::new().with_clock(clock.clone());
        // More than the old purge threshold, all live by the store's clock (and long expired by
        // the system's): none may be dropped.
        for i in 0..1100 {
            store.put(&format!("k{i}"), format!("v{i}"), T0 + 60 + i).await.unwrap();
        }
        assert_eq!(store.len(), 1100);
        assert_eq!(store.get("k0", T0).await.unwrap(), Some("v0".into()));
        assert!(store.put("k0", "again".into(), T0 + 60).await.unwrap_err().is_conflict());

        clock.advance(Duration::seconds(60 + 100));
        store.put("new", "v".into(), T0 + 1000).await.unwrap();
        // k0..=k100 expired (at T0+60..=T0+160) and went; the rest stayed.
        assert_eq!(store.len(), 1100 - 101 + 1);
        assert_eq!(store.get("k100", T0).await.unwrap(), None);
        assert_eq!(store.get("k101", T0 + 160).await.unwrap(), Some("v101".into()));
        assert_eq!(store.take("k101", T0 + 160).await.unwrap(), Some("v101".into()));
        assert_eq!(store.take("k101", T0 + 160).await.unwrap(), None);
        // `get`/`take` go by the time they are given.
        assert_eq!(store.take("k102", T0 + 162).await.unwrap(), None);
    }

    #[tokio::test]
    async fn codes_are_remembered_an_hour_past_expiry_then_purged() {
        let clock = clock();
        let store = MemoryAuthorizationCodeStore::new().with_clock(clock.clone());
        let used = hash();
        store.insert(&used, grant(), T0 + 60).await.unwrap();
        assert!(matches!(store.redeem(&used, T0).await.unwrap(), CodeRedemption::First(_)));
        for _ in 0..1100 {
            store.insert(&hash(), grant(), T0 + 60).await.unwrap();
        }
        assert_eq!(store.len(), 1101);
        lock(&store.codes).examined = 0;
        store.insert(&hash(), grant(), T0 + 60).await.unwrap();
        assert_eq!(lock(&store.codes).examined, 1);

        // Past expiry but within the memory: a replay is still recognised.
        clock.advance(Duration::seconds(60 + USED_CODE_MEMORY - 1));
        store.insert(&hash(), grant(), T0 + 7200).await.unwrap();
        assert!(matches!(store.redeem(&used, clock.unix_now()).await.unwrap(), CodeRedemption::Replayed(_)));
        clock.advance(Duration::seconds(1));
        store.insert(&hash(), grant(), T0 + 7200).await.unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.redeem(&used, clock.unix_now()).await.unwrap(), CodeRedemption::Invalid);
    }

    #[tokio::test]
    async fn revocations_last_until_expiry_plus_leeway_on_the_injected_clock() {
        let clock = clock();
        let store = MemoryRevocationStore::new().with_clock(clock.clone());
        let early = jti();
        store.revoke(&early, T0 + 10).await.unwrap();
        // Revoking again with a later expiry keeps the later one.
        store.revoke(&early, T0 + 300).await.unwrap();
        store.revoke(&early, T0 + 20).await.unwrap();
        let many: Vec<Jti> = (0..1100).map(|_| jti()).collect();
        for j in &many {
            store.revoke(j, T0 + 120).await.unwrap();
        }
        assert_eq!(store.len(), 1101);
        assert!(store.is_revoked(&many[0]).await.unwrap());

        clock.advance(Duration::seconds(120 + REVOCATION_LEEWAY));
        store.revoke(&jti(), T0 + 600).await.unwrap();
        assert_eq!(store.len(), 2);
        assert!(!store.is_revoked(&many[0]).await.unwrap());
        assert!(store.is_revoked(&early).await.unwrap());
        clock.advance(Duration::seconds(300));
        store.revoke(&jti(), T0 + 600).await.unwrap();
        assert!(!store.is_revoked(&early).await.unwrap());
    }

    #[tokio::test]
    async fn expired_refresh_families_are_purged_with_their_tokens() {
        let clock = clock();
        let store = MemoryRefreshTokenStore::new().with_clock(clock.clone());
        let (first, second, third) = (hash(), hash(), hash());
        store.create(family("short", T0 + 100), &first).await.unwrap();
        store.rotate(&first, &second, T0 + 1, 60).await.unwrap();
        store.rotate(&second, &third, T0 + 2, 60).await.unwrap();
        let long = hash();
        store.create(family("long", T0 + 10_000), &long).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (2, 4));

        // Not yet expired: kept.
        clock.advance(Duration::seconds(99));
        store.create(family("other", T0 + 10_000), &hash()).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (3, 5));

        // Expired: the family and all three of its token hashes go.
        clock.advance(Duration::seconds(1));
        store.create(family("another", T0 + 10_000), &hash()).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (3, 3));
        for token in [&first, &second, &third] {
            assert_eq!(store.find(token, T0 + 100, 60).await.unwrap(), None);
            assert_eq!(store.rotate(token, &hash(), T0 + 100, 60).await.unwrap(), RefreshRotation::Invalid);
        }
        assert!(store.find(&long, T0 + 100, 60).await.unwrap().is_some_and(|(_, usable)| usable));
    }

    #[tokio::test]
    async fn an_expired_family_stays_while_its_access_tokens_live() {
        let clock = clock();
        let store = MemoryRefreshTokenStore::new().with_clock(clock.clone());
        let token = hash();
        store.create(family("f", T0 + 100), &token).await.unwrap();
        store.add_access_token("f", &jti(), T0 + 400).await.unwrap();
        // Rotation purges by its own `now`.
        store.rotate(&hash(), &hash(), T0 + 399, 60).await.unwrap();
        assert_eq!(store.family_count(), 1, "revoking it must still reach the access token");
        store.rotate(&hash(), &hash(), T0 + 400, 60).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (0, 0));
    }

    #[tokio::test]
    async fn revoked_families_go_once_their_access_tokens_expire() {
        let clock = clock();
        let store = MemoryRefreshTokenStore::new().with_clock(clock.clone());
        let (token, next) = (hash(), hash());
        store.create(family("f", T0 + 86_400), &token).await.unwrap();
        store.add_access_token("f", &jti(), T0 + 300).await.unwrap();
        store.rotate(&token, &next, T0 + 10, 60).await.unwrap();
        store.add_access_token("f", &jti(), T0 + 310).await.unwrap();
        let revoked = store.revoke_family("f").await.unwrap().unwrap();
        assert!(revoked.revoked);
        assert_eq!(revoked.access_tokens.len(), 2);

        clock.advance(Duration::seconds(309));
        store.purge_expired();
        let (found, usable) = store.find(&next, clock.unix_now(), 60).await.unwrap().unwrap();
        assert!(found.revoked && !usable);

        clock.advance(Duration::seconds(1));
        store.purge_expired();
        assert_eq!((store.family_count(), store.token_count()), (0, 0));
        assert_eq!(store.find(&next, clock.unix_now(), 60).await.unwrap(), None);

        // A family revoked by reuse, with no access tokens, goes at the next write.
        let (a, b, c) = (hash(), hash(), hash());
        store.create(family("g", T0 + 86_400), &a).await.unwrap();
        let now = clock.unix_now();
        store.rotate(&a, &b, now, 60).await.unwrap();
        store.rotate(&b, &c, now, 60).await.unwrap();
        assert!(matches!(store.rotate(&a, &hash(), now, 60).await.unwrap(), RefreshRotation::Reused(_)));
        assert_eq!(store.token_count(), 3);
        store.create(family("h", T0 + 86_400), &hash()).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (1, 1));
    }

    #[tokio::test]
    async fn find_says_usable_exactly_when_rotate_would_accept() {
        let store = MemoryRefreshTokenStore::new().with_clock(clock());
        let (old, current) = (hash(), hash());
        store.create(family("f", T0 + 3600), &old).await.unwrap();
        store.rotate(&old, &current, T0, 60).await.unwrap();

        // Superseded but within the grace period: usable, as rotate agrees.
        assert!(store.find(&old, T0 + 60, 60).await.unwrap().unwrap().1);
        assert!(store.find(&current, T0 + 60, 60).await.unwrap().unwrap().1);
        // Past the grace period: not usable.
        assert!(!store.find(&old, T0 + 61, 60).await.unwrap().unwrap().1);
        // A retry within grace is accepted, and hands out a new current token.
        let retried = hash();
        assert!(matches!(store.rotate(&old, &retried, T0 + 30, 60).await.unwrap(), RefreshRotation::Rotated(_)));
        assert!(store.find(&old, T0 + 30, 60).await.unwrap().unwrap().1);
        // The dropped successor is not usable; using the current one ends the old one's grace.
        assert!(!store.find(&current, T0 + 30, 60).await.unwrap().unwrap().1);
        store.rotate(&retried, &hash(), T0 + 31, 60).await.unwrap();
        assert!(!store.find(&old, T0 + 31, 60).await.unwrap().unwrap().1);
        assert!(store.find(&retried, T0 + 31, 60).await.unwrap().unwrap().1);
    }
}
