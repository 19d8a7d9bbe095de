//! [`MemoryAuthorizationCodeStore`].

use std::sync::Mutex;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::{Expiring, lock};
use crate::store::{AuthorizationCodeStore, CodeGrant, CodeRedemption, CodeState, StoreError, TokenHash};
use crate::types::ClientId;

/// How long a used code is remembered after its expiry, so a late replay still revokes.
const USED_CODE_MEMORY: Duration = Duration::hours(1);

#[derive(Debug)]
struct CodeEntry {
    grant: CodeGrant,
    expires_at: OffsetDateTime,
    used: bool,
}

/// In-memory [`AuthorizationCodeStore`]. A code is purged an hour after its expiry (so a late
/// replay of a used code is still recognised), in expiry order, as new codes arrive.
#[derive(Debug, Default)]
pub struct MemoryAuthorizationCodeStore {
    codes: Mutex<Expiring<TokenHash, CodeEntry>>,
}

impl MemoryAuthorizationCodeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
    async fn insert(
        &self,
        code: &TokenHash,
        grant: CodeGrant,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut codes = lock(&self.codes);
        codes.purge(now, |_, _| {});
        if codes.contains_key(code) {
            return Err(StoreError::already_exists());
        }
        let purge_at = expires_at.saturating_add(USED_CODE_MEMORY);
        codes.insert(code.clone(), CodeEntry { grant, expires_at, used: false }, purge_at);
        Ok(())
    }

    async fn find(&self, code: &TokenHash, now: OffsetDateTime) -> Result<Option<CodeState>, StoreError> {
        let codes = lock(&self.codes);
        let Some((entry, _)) = codes.get(code) else { return Ok(None) };
        Ok(entry.state(now))
    }

    async fn redeem(
        &self,
        code: &TokenHash,
        client_id: &ClientId,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError> {
        let mut codes = lock(&self.codes);
        let Some(entry) = codes.get_mut(code) else { return Ok(CodeRedemption::Invalid) };
        if entry.grant.client_id != *client_id {
            // Another client's code: nothing changes, and nothing is said about it.
            return Ok(CodeRedemption::Invalid);
        }
        Ok(match entry.state(now) {
            None => CodeRedemption::Invalid,
            Some(CodeState::Used(grant)) => CodeRedemption::Replayed(grant),
            Some(CodeState::Unused(grant)) => {
                entry.used = true;
                CodeRedemption::First(grant)
            }
        })
    }
}

impl CodeEntry {
    /// The code's state at `now`, as [`AuthorizationCodeStore::find`] answers.
    fn state(&self, now: OffsetDateTime) -> Option<CodeState> {
        if self.used {
            (now < self.expires_at.saturating_add(USED_CODE_MEMORY)).then(|| CodeState::Used(self.grant.clone()))
        } else {
            (now < self.expires_at).then(|| CodeState::Unused(self.grant.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::pkce::{PkceChallenge, PkceVerifier};
    use crate::types::{Jti, Scope, random_token};

    const T0: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

    fn at(seconds: i64) -> OffsetDateTime {
        T0 + Duration::seconds(seconds)
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
            access_jti: Jti::parse(random_token(16)).unwrap(),
            refresh_family: None,
        }
    }

    fn tpp() -> ClientId {
        ClientId::parse("tpp").unwrap()
    }

    fn hash() -> TokenHash {
        TokenHash::of(&random_token(32))
    }

    #[tokio::test]
    async fn codes_are_remembered_an_hour_past_expiry_then_purged() {
        let store = MemoryAuthorizationCodeStore::new();
        let used = hash();
        store.insert(&used, grant(), at(60), T0).await.unwrap();
        assert!(matches!(store.redeem(&used, &tpp(), T0).await.unwrap(), CodeRedemption::First(_)));
        for _ in 0..1100 {
            store.insert(&hash(), grant(), at(60), T0).await.unwrap();
        }
        assert_eq!(store.len(), 1101);
        lock(&store.codes).examined = 0;
        store.insert(&hash(), grant(), at(60), T0).await.unwrap();
        assert_eq!(lock(&store.codes).examined, 1);

        // Past expiry but within the memory: a replay is still recognised.
        let now = at(60 + 3600 - 1);
        store.insert(&hash(), grant(), at(7200), now).await.unwrap();
        assert!(matches!(store.redeem(&used, &tpp(), now).await.unwrap(), CodeRedemption::Replayed(_)));
        let now = now + Duration::seconds(1);
        store.insert(&hash(), grant(), at(7200), now).await.unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.redeem(&used, &tpp(), now).await.unwrap(), CodeRedemption::Invalid);
    }
}
