//! In-memory stores: for tests, the sandbox, and single-instance development. Everything is lost
//! on restart, and nothing is shared between instances; a bank in production uses a durable store.
//! Each store logs one warning when created, so that this is never a surprise.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;

use async_trait::async_trait;
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn warn_in_memory(what: &str) {
    tracing::warn!("{what}: in-memory store in use; data is lost on restart and not shared between instances");
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

/// In-memory [`ArtifactStore`]. Expired entries are purged as new ones arrive.
#[derive(Debug)]
pub struct MemoryArtifactStore<T> {
    entries: Mutex<HashMap<String, (T, i64)>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Default for MemoryArtifactStore<T> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()), _t: PhantomData }
    }
}

impl<T> MemoryArtifactStore<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl<T> ArtifactStore<T> for MemoryArtifactStore<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + 'static,
{
    async fn put(&self, key: &str, value: T, expires_at: i64) -> Result<(), StoreError> {
        let mut entries = lock(&self.entries);
        if entries.len() > 1024 {
            // Amortized purge: only when the map has grown.
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            entries.retain(|_, (_, exp)| *exp > now);
        }
        if entries.contains_key(key) {
            return Err(StoreError::already_exists());
        }
        entries.insert(key.to_owned(), (value, expires_at));
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

/// In-memory [`AuthorizationCodeStore`].
#[derive(Debug, Default)]
pub struct MemoryAuthorizationCodeStore {
    codes: Mutex<HashMap<TokenHash, CodeEntry>>,
}

impl MemoryAuthorizationCodeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AuthorizationCodeStore for MemoryAuthorizationCodeStore {
    async fn insert(&self, code: &TokenHash, grant: CodeGrant, expires_at: i64) -> Result<(), StoreError> {
        let mut codes = lock(&self.codes);
        if codes.len() > 1024 {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            codes.retain(|_, e| e.expires_at + USED_CODE_MEMORY > now);
        }
        if codes.contains_key(code) {
            return Err(StoreError::already_exists());
        }
        codes.insert(code.clone(), CodeEntry { grant, expires_at, used: false });
        Ok(())
    }

    async fn redeem(&self, code: &TokenHash, now: i64) -> Result<CodeRedemption, StoreError> {
        let mut codes = lock(&self.codes);
        let Some(entry) = codes.get_mut(code) else { return Ok(CodeRedemption::Invalid) };
        if entry.used {
            return Ok(if now < entry.expires_at + USED_CODE_MEMORY {
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
}

#[derive(Debug, Default)]
struct RefreshState {
    families: HashMap<String, FamilyEntry>,
    /// Every token ever issued, to its family: an old token presented again is recognised.
    tokens: HashMap<TokenHash, String>,
}

/// In-memory [`RefreshTokenStore`].
#[derive(Debug, Default)]
pub struct MemoryRefreshTokenStore {
    state: Mutex<RefreshState>,
}

impl MemoryRefreshTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryRefreshTokenStore {
    async fn create(&self, family: RefreshFamily, token: &TokenHash) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        if state.families.contains_key(&family.id) || state.tokens.contains_key(token) {
            return Err(StoreError::already_exists());
        }
        state.tokens.insert(token.clone(), family.id.clone());
        let id = family.id.clone();
        state.families.insert(id, FamilyEntry { family, current: token.clone(), previous: None });
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
        let Some(family_id) = state.tokens.get(token).cloned() else { return Ok(RefreshRotation::Invalid) };
        if state.tokens.contains_key(next) {
            return Err(StoreError::already_exists());
        }
        let Some(entry) = state.families.get_mut(&family_id) else { return Ok(RefreshRotation::Invalid) };
        if entry.family.revoked || now >= entry.family.expires_at {
            return Ok(RefreshRotation::Invalid);
        }
        let in_grace = matches!(&entry.previous, Some((prev, at)) if prev == token && now - at <= grace);
        if entry.current == *token {
            // The current token: it is superseded now, and stays usable for `grace` seconds or
            // until `next` is first used (which makes `next` the previous one in its turn).
            entry.previous = Some((token.clone(), now));
        } else if !in_grace {
            entry.family.revoked = true;
            let family = entry.family.clone();
            return Ok(RefreshRotation::Reused(family));
        }
        // (In grace, `previous` keeps its original time: retries don't extend the window, and
        // the unused `current` it had produced is dropped in favour of `next`.)
        entry.current = next.clone();
        let family = entry.family.clone();
        state.tokens.insert(next.clone(), family_id);
        Ok(RefreshRotation::Rotated(family))
    }

    async fn find(&self, token: &TokenHash, now: i64) -> Result<Option<(RefreshFamily, bool)>, StoreError> {
        let state = lock(&self.state);
        let Some(entry) = state.tokens.get(token).and_then(|id| state.families.get(id)) else { return Ok(None) };
        let usable = !entry.family.revoked && now < entry.family.expires_at && entry.current == *token;
        Ok(Some((entry.family.clone(), usable)))
    }

    async fn add_access_token(&self, family_id: &str, jti: &Jti, exp: i64) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        let entry = state.families.get_mut(family_id).ok_or(StoreError::NotFound)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        entry.family.access_tokens.retain(|(_, e)| *e > now);
        entry.family.access_tokens.push((jti.clone(), exp));
        Ok(())
    }

    async fn revoke_family(&self, family_id: &str) -> Result<Option<RefreshFamily>, StoreError> {
        let mut state = lock(&self.state);
        Ok(state.families.get_mut(family_id).map(|entry| {
            entry.family.revoked = true;
            entry.family.clone()
        }))
    }
}

/// In-memory [`RevocationStore`]. Entries go once their token would have expired.
#[derive(Debug, Default)]
pub struct MemoryRevocationStore {
    revoked: Mutex<HashMap<Jti, i64>>,
}

impl MemoryRevocationStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, jti: &Jti, exp: i64) -> Result<(), StoreError> {
        let mut revoked = lock(&self.revoked);
        if revoked.len() > 1024 {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            revoked.retain(|_, e| *e + 60 > now);
        }
        revoked.insert(jti.clone(), exp);
        Ok(())
    }

    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError> {
        Ok(lock(&self.revoked).contains_key(jti))
    }
}
