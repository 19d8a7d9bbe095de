//! [`MemoryRefreshTokenStore`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Expiring, lock};
use crate::store::{IssuedAccessToken, RefreshFamily, RefreshRotation, RefreshTokenStore, StoreError, TokenHash};
use crate::types::ConsentId;

#[derive(Debug)]
struct FamilyEntry {
    family: RefreshFamily,
    current: TokenHash,
    /// The token `current` replaced: usable until `current` is first used (or the family ends).
    previous: Option<TokenHash>,
    /// The last [`MemoryRefreshTokenStore::KEPT_TOKENS`] tokens issued in the family, oldest
    /// first (always with `current` and the token in `previous`): its entries in the token index,
    /// dropped with it.
    issued: VecDeque<TokenHash>,
    /// When the family was revoked, if it is.
    revoked_at: Option<OffsetDateTime>,
}

impl FamilyEntry {
    /// Whether `token` may be used now: the family is live and `token` is its current token, or
    /// the previous one (whose successor, `current`, is unused). [`RefreshTokenStore::rotate`]
    /// and [`RefreshTokenStore::find`] both answer from this.
    fn usable(&self, token: &TokenHash, now: OffsetDateTime) -> bool {
        let previous = self.previous.as_ref() == Some(token);
        !self.family.revoked && now < self.family.expires_at && (self.current == *token || previous)
    }

    /// When the family can be forgotten: once it has expired, or was revoked, and every access
    /// token issued from it has expired too (until then, revoking the family must still reach
    /// them, and a concurrent refresh must still find it revoked).
    fn purge_at(&self) -> OffsetDateTime {
        let end = match self.revoked_at {
            Some(at) if self.family.revoked => at.min(self.family.expires_at),
            _ => self.family.expires_at,
        };
        self.family.access_tokens.iter().map(|t| t.exp).fold(end, OffsetDateTime::max)
    }

    /// Records `token` as issued, forgetting (from `issued` and from `tokens`) the oldest ones
    /// beyond [`MemoryRefreshTokenStore::KEPT_TOKENS`], never `current` nor `previous`.
    fn issue(&mut self, token: TokenHash, tokens: &mut HashMap<TokenHash, String>) {
        self.issued.push_back(token);
        while self.issued.len() > MemoryRefreshTokenStore::KEPT_TOKENS {
            let Some(oldest) = self.issued.pop_front() else { break };
            let in_use = oldest == self.current || self.previous.as_ref() == Some(&oldest);
            if in_use {
                self.issued.push_back(oldest);
            } else {
                tokens.remove(&oldest);
            }
        }
    }

    fn revoke(&mut self, now: OffsetDateTime) {
        self.family.revoked = true;
        self.revoked_at.get_or_insert(now);
    }
}

#[derive(Debug, Default)]
struct RefreshState {
    /// By family id, purged once [`FamilyEntry::purge_at`] has passed.
    families: Expiring<String, FamilyEntry>,
    /// Every token issued in a family still held, to its family: an old token presented again is
    /// recognised.
    tokens: HashMap<TokenHash, String>,
    /// The families of each consent still held.
    by_consent: HashMap<ConsentId, Vec<String>>,
}

impl RefreshState {
    /// Drops the families that can be forgotten at `now`, with their tokens.
    fn purge(&mut self, now: OffsetDateTime) {
        let (tokens, by_consent) = (&mut self.tokens, &mut self.by_consent);
        self.families.purge(now, |id, entry| {
            for token in &entry.issued {
                tokens.remove(token);
            }
            if let Some(consent_id) = &entry.family.consent_id
                && let Some(ids) = by_consent.get_mut(consent_id)
            {
                ids.retain(|f| *f != id);
                if ids.is_empty() {
                    by_consent.remove(consent_id);
                }
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
/// Bounded by age and per family:
///
/// - A family is forgotten, with every token hash it holds, once it has expired or been revoked
///   and every access token issued from it has expired: presenting one of its tokens after that
///   is answered as for an unknown token, which is how an expired or revoked family is answered
///   anyway. Families are purged in that order as families are created and tokens rotated.
/// - A family's list of access tokens drops those that have expired whenever one is added, so it
///   holds only the live ones (those revoking the family must reach).
/// - A family keeps the hashes of its last [`KEPT_TOKENS`](Self::KEPT_TOKENS) refresh tokens
///   (its current one and the one it replaced among them), not one per rotation: an older token
///   of a live family is then unknown, and answered `Invalid` (`invalid_grant`) without revoking
///   the family. Reuse of any of the last `KEPT_TOKENS` tokens is still detected and revokes the
///   family. A thief holding a token that old gets nothing either way; only the revocation it
///   would have triggered is lost.
#[derive(Debug, Default)]
pub struct MemoryRefreshTokenStore {
    state: Mutex<RefreshState>,
}

impl MemoryRefreshTokenStore {
    /// How many of a family's latest refresh-token hashes are kept for reuse detection: at
    /// the usual rotation of one per access token (minutes), a few hours of the family's history.
    pub const KEPT_TOKENS: usize = 32;

    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of families held, including ones due to be purged.
    pub fn family_count(&self) -> usize {
        lock(&self.state).families.len()
    }

    /// The number of refresh-token hashes held (current, superseded and dropped ones alike).
    pub fn token_count(&self) -> usize {
        lock(&self.state).tokens.len()
    }

    /// Forgets the families that can be forgotten at `now`, rather than at the next write.
    pub fn purge_expired(&self, now: OffsetDateTime) {
        lock(&self.state).purge(now);
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryRefreshTokenStore {
    async fn create(&self, family: RefreshFamily, token: &TokenHash, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        state.purge(now);
        if state.families.contains_key(&family.id) || state.tokens.contains_key(token) {
            return Err(StoreError::already_exists());
        }
        state.tokens.insert(token.clone(), family.id.clone());
        if let Some(consent_id) = &family.consent_id {
            state.by_consent.entry(consent_id.clone()).or_default().push(family.id.clone());
        }
        let id = family.id.clone();
        let revoked_at = family.revoked.then_some(now);
        let entry = FamilyEntry {
            family,
            current: token.clone(),
            previous: None,
            issued: VecDeque::from([token.clone()]),
            revoked_at,
        };
        let purge_at = entry.purge_at();
        state.families.insert(id, entry, purge_at);
        Ok(())
    }

    async fn rotate(
        &self,
        token: &TokenHash,
        next: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<RefreshRotation, StoreError> {
        let mut state = lock(&self.state);
        state.purge(now);
        let Some(family_id) = state.tokens.get(token).cloned() else { return Ok(RefreshRotation::Invalid) };
        if state.tokens.contains_key(next) {
            return Err(StoreError::already_exists());
        }
        let RefreshState { families, tokens, .. } = &mut *state;
        let Some(entry) = families.get_mut(family_id.as_str()) else { return Ok(RefreshRotation::Invalid) };
        if entry.family.revoked || now >= entry.family.expires_at {
            return Ok(RefreshRotation::Invalid);
        }
        if entry.current == *token {
            // The current token: it is superseded now, and stays usable until `next` is first
            // used (which makes `next` the previous one in its turn).
            entry.previous = Some(token.clone());
        } else if !entry.usable(token, now) {
            entry.revoke(now);
            let family = entry.family.clone();
            state.reschedule(&family_id);
            return Ok(RefreshRotation::Reused(family));
        }
        // (A retry with the previous token: it stays the previous one, and the unused `current`
        // it had produced is dropped in favour of `next`.)
        entry.current = next.clone();
        entry.issue(next.clone(), tokens);
        let family = entry.family.clone();
        tokens.insert(next.clone(), family_id);
        Ok(RefreshRotation::Rotated(family))
    }

    async fn find(&self, token: &TokenHash, now: OffsetDateTime) -> Result<Option<(RefreshFamily, bool)>, StoreError> {
        let state = lock(&self.state);
        let Some((entry, _)) = state.tokens.get(token).and_then(|id| state.families.get(id.as_str())) else {
            return Ok(None);
        };
        Ok(Some((entry.family.clone(), entry.usable(token, now))))
    }

    async fn add_access_token(
        &self,
        family_id: &str,
        token: IssuedAccessToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        let entry = state.families.get_mut(family_id).ok_or(StoreError::NotFound)?;
        entry.family.access_tokens.retain(|t| t.exp > now);
        entry.family.access_tokens.push(token);
        state.reschedule(family_id);
        Ok(())
    }

    async fn revoke_family(&self, family_id: &str, now: OffsetDateTime) -> Result<Option<RefreshFamily>, StoreError> {
        let mut state = lock(&self.state);
        let Some(entry) = state.families.get_mut(family_id) else { return Ok(None) };
        entry.revoke(now);
        let family = entry.family.clone();
        state.reschedule(family_id);
        Ok(Some(family))
    }

    async fn revoke_by_consent(
        &self,
        consent_id: &ConsentId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        let mut state = lock(&self.state);
        let ids = state.by_consent.get(consent_id).cloned().unwrap_or_default();
        let mut revoked = Vec::new();
        for id in ids {
            if let Some(entry) = state.families.get_mut(id.as_str())
                && !entry.family.revoked
            {
                entry.revoke(now);
                revoked.push(entry.family.clone());
                state.reschedule(&id);
            }
        }
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use time::Duration;

    use super::*;
    use crate::types::{ClientId, Jti, Scope, random_token};

    const T0: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

    fn at(seconds: i64) -> OffsetDateTime {
        T0 + Duration::seconds(seconds)
    }

    fn family(id: &str, expires_at: OffsetDateTime) -> RefreshFamily {
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

    fn access(exp: OffsetDateTime) -> IssuedAccessToken {
        IssuedAccessToken { jti: Jti::parse(random_token(16)).unwrap(), exp }
    }

    fn hash() -> TokenHash {
        TokenHash::of(&random_token(32))
    }

    #[tokio::test]
    async fn expired_refresh_families_are_purged_with_their_tokens() {
        let store = MemoryRefreshTokenStore::new();
        let (first, second, third) = (hash(), hash(), hash());
        store.create(family("short", at(100)), &first, T0).await.unwrap();
        store.rotate(&first, &second, at(1)).await.unwrap();
        store.rotate(&second, &third, at(2)).await.unwrap();
        let long = hash();
        store.create(family("long", at(10_000)), &long, at(2)).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (2, 4));

        // Not yet expired: kept.
        store.create(family("other", at(10_000)), &hash(), at(99)).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (3, 5));

        // Expired: the family and all three of its token hashes go.
        store.create(family("another", at(10_000)), &hash(), at(100)).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (3, 3));
        for token in [&first, &second, &third] {
            assert_eq!(store.find(token, at(100)).await.unwrap(), None);
            assert_eq!(store.rotate(token, &hash(), at(100)).await.unwrap(), RefreshRotation::Invalid);
        }
        assert!(store.find(&long, at(100)).await.unwrap().is_some_and(|(_, usable)| usable));
    }

    #[tokio::test]
    async fn an_expired_family_stays_while_its_access_tokens_live() {
        let store = MemoryRefreshTokenStore::new();
        let token = hash();
        store.create(family("f", at(100)), &token, T0).await.unwrap();
        store.add_access_token("f", access(at(400)), T0).await.unwrap();
        // Rotation purges by its own `now`.
        store.rotate(&hash(), &hash(), at(399)).await.unwrap();
        assert_eq!(store.family_count(), 1, "revoking it must still reach the access token");
        store.rotate(&hash(), &hash(), at(400)).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (0, 0));
    }

    #[tokio::test]
    async fn revoked_families_go_once_their_access_tokens_expire() {
        let store = MemoryRefreshTokenStore::new();
        let (token, next) = (hash(), hash());
        store.create(family("f", at(86_400)), &token, T0).await.unwrap();
        store.add_access_token("f", access(at(300)), T0).await.unwrap();
        store.rotate(&token, &next, at(10)).await.unwrap();
        store.add_access_token("f", access(at(310)), at(10)).await.unwrap();
        let revoked = store.revoke_family("f", at(10)).await.unwrap().unwrap();
        assert!(revoked.revoked);
        assert_eq!(revoked.access_tokens.len(), 2);

        store.purge_expired(at(309));
        let (found, usable) = store.find(&next, at(309)).await.unwrap().unwrap();
        assert!(found.revoked && !usable);

        store.purge_expired(at(310));
        assert_eq!((store.family_count(), store.token_count()), (0, 0));
        assert_eq!(store.find(&next, at(310)).await.unwrap(), None);

        // A family revoked by reuse, with no access tokens, goes at the next write.
        let (a, b, c) = (hash(), hash(), hash());
        let now = at(310);
        store.create(family("g", at(86_400)), &a, now).await.unwrap();
        store.rotate(&a, &b, now).await.unwrap();
        store.rotate(&b, &c, now).await.unwrap();
        assert!(matches!(store.rotate(&a, &hash(), now).await.unwrap(), RefreshRotation::Reused(_)));
        assert_eq!(store.token_count(), 3);
        store.create(family("h", at(86_400)), &hash(), now).await.unwrap();
        assert_eq!((store.family_count(), store.token_count()), (1, 1));
    }

    #[tokio::test]
    async fn a_family_keeps_only_its_latest_token_hashes_and_still_detects_their_reuse() {
        let store = MemoryRefreshTokenStore::new();
        let mut tokens = vec![hash()];
        store.create(family("f", at(86_400)), &tokens[0], T0).await.unwrap();
        for i in 1..=200 {
            let next = hash();
            let rotated = store.rotate(&tokens[i - 1], &next, at(i as i64)).await.unwrap();
            assert!(matches!(rotated, RefreshRotation::Rotated(_)));
            tokens.push(next);
        }
        let kept = MemoryRefreshTokenStore::KEPT_TOKENS;
        assert_eq!(store.token_count(), kept, "not one hash per rotation");
        let now = at(10_000);
        // A token older than the last `kept` is unknown: refused, and the family lives on.
        let forgotten = &tokens[200 - kept];
        assert_eq!(store.rotate(forgotten, &hash(), now).await.unwrap(), RefreshRotation::Invalid);
        assert!(store.find(&tokens[200], now).await.unwrap().unwrap().1);
        // One of the last `kept`, presented again: reuse, and the family is revoked.
        let recent = &tokens[201 - kept];
        assert!(matches!(store.rotate(recent, &hash(), now).await.unwrap(), RefreshRotation::Reused(_)));
        assert!(!store.find(&tokens[200], now).await.unwrap().unwrap().1);
    }

    #[tokio::test]
    async fn retries_never_push_out_the_previous_token() {
        let store = MemoryRefreshTokenStore::new();
        let (old, current) = (hash(), hash());
        store.create(family("f", at(86_400)), &old, T0).await.unwrap();
        store.rotate(&old, &current, T0).await.unwrap();
        for i in 0..100 {
            let retried = store.rotate(&old, &hash(), at(60 * i)).await.unwrap();
            assert!(matches!(retried, RefreshRotation::Rotated(_)), "the previous token stays known while unused");
        }
        assert_eq!(store.token_count(), MemoryRefreshTokenStore::KEPT_TOKENS);
    }

    #[tokio::test]
    async fn find_says_usable_exactly_when_rotate_would_accept() {
        let store = MemoryRefreshTokenStore::new();
        let (old, current) = (hash(), hash());
        store.create(family("f", at(3600)), &old, T0).await.unwrap();
        store.rotate(&old, &current, T0).await.unwrap();

        // Superseded, its successor unused: usable at any time before the family expires.
        assert!(store.find(&old, at(61)).await.unwrap().unwrap().1);
        assert!(store.find(&old, at(3599)).await.unwrap().unwrap().1);
        assert!(store.find(&current, at(61)).await.unwrap().unwrap().1);
        // Not once the family has expired.
        assert!(!store.find(&old, at(3600)).await.unwrap().unwrap().1);
        // A retry is accepted, and hands out a new current token.
        let retried = hash();
        assert!(matches!(store.rotate(&old, &retried, at(1800)).await.unwrap(), RefreshRotation::Rotated(_)));
        assert!(store.find(&old, at(1800)).await.unwrap().unwrap().1);
        // The dropped successor is not usable; using the current one ends the old one's use.
        assert!(!store.find(&current, at(1800)).await.unwrap().unwrap().1);
        store.rotate(&retried, &hash(), at(1801)).await.unwrap();
        assert!(!store.find(&old, at(1801)).await.unwrap().unwrap().1);
        assert!(store.find(&retried, at(1801)).await.unwrap().unwrap().1);
    }

    #[tokio::test]
    async fn revoke_by_consent_revokes_only_that_consents_live_families() {
        let store = MemoryRefreshTokenStore::new();
        let consent = ConsentId::parse("c-1").unwrap();
        let other = ConsentId::parse("c-2").unwrap();
        let mut f1 = family("f1", at(3600));
        f1.consent_id = Some(consent.clone());
        let mut f2 = family("f2", at(3600));
        f2.consent_id = Some(consent.clone());
        let mut f3 = family("f3", at(3600));
        f3.consent_id = Some(other);
        let (t1, t2, t3) = (hash(), hash(), hash());
        store.create(f1, &t1, T0).await.unwrap();
        store.create(f2, &t2, T0).await.unwrap();
        store.create(f3, &t3, T0).await.unwrap();
        store.add_access_token("f1", access(at(300)), T0).await.unwrap();

        let revoked = store.revoke_by_consent(&consent, at(5)).await.unwrap();
        let mut ids: Vec<&str> = revoked.iter().map(|f| f.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["f1", "f2"]);
        assert_eq!(revoked.iter().map(|f| f.access_tokens.len()).sum::<usize>(), 1);
        assert!(!store.find(&t1, at(5)).await.unwrap().unwrap().1);
        assert!(store.find(&t3, at(5)).await.unwrap().unwrap().1);
        // Already revoked: nothing more to revoke.
        assert!(store.revoke_by_consent(&consent, at(6)).await.unwrap().is_empty());
    }
}
