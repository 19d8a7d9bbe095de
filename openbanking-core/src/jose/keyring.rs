//! Key rotation: the active signing key and the keys still accepted for verification.

use std::sync::{Arc, RwLock};

use super::{Jwks, PublicJwk, SigningKey};
use crate::types::Kid;

/// The keys an issuer signs with, with rotation: one active key signs; keys rotated out keep
/// verifying (and stay in the JWKS) until retired, so tokens issued before a rotation stay valid
/// for their lifetime.
///
/// Cheap to share: clone the `Arc` it usually lives in. Readers never block each other.
///
/// ```
/// use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
/// let ring = KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
/// let old = ring.active().kid().clone();
/// ring.rotate(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
/// assert_ne!(ring.active().kid(), &old);
/// assert!(ring.find(old.as_str()).is_some());   // still verifies
/// ring.retire(&old);
/// assert!(ring.find(old.as_str()).is_none());   // gone
/// ```
#[derive(Debug)]
pub struct KeyRing {
    state: RwLock<Arc<RingState>>,
}

#[derive(Debug)]
struct RingState {
    active: Arc<SigningKey>,
    /// Public keys still accepted for verification, the active one first.
    verifying: Jwks,
}

impl RingState {
    fn new(active: Arc<SigningKey>, older: impl IntoIterator<Item = PublicJwk>) -> Self {
        let mut keys = vec![active.public_jwk().clone()];
        keys.extend(older.into_iter().filter(|k| k.kid() != Some(active.kid().as_str())));
        Self { active, verifying: Jwks { keys } }
    }
}

impl KeyRing {
    /// A ring with one active key.
    pub fn new(active: SigningKey) -> Self {
        let verifying = Jwks { keys: vec![active.public_jwk().clone()] };
        Self { state: RwLock::new(Arc::new(RingState { active: Arc::new(active), verifying })) }
    }

    /// A ring with an active key and older keys that still verify (rotated out, not yet retired):
    /// how a key store rebuilds the ring it keeps. An older key with the active key's `kid` is
    /// skipped.
    ///
    /// ```
    /// use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
    /// let old = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    /// let ring = KeyRing::with_older(SigningKey::generate(SigningAlgorithm::ES256).unwrap(), [old.public_jwk().clone()]);
    /// assert_eq!(ring.jwks().keys.len(), 2);
    /// assert_eq!(ring.jwks().keys[0].kid(), Some(ring.active().kid().as_str())); // the active key first
    /// ```
    pub fn with_older(active: SigningKey, older: impl IntoIterator<Item = PublicJwk>) -> Self {
        Self { state: RwLock::new(Arc::new(RingState::new(Arc::new(active), older))) }
    }

    /// Replaces the whole ring at once (active key and older keys, as in
    /// [`with_older`](Self::with_older)): how an instance takes up a rotation another instance
    /// made and stored.
    pub fn replace(&self, active: SigningKey, older: impl IntoIterator<Item = PublicJwk>) {
        let state = Arc::new(RingState::new(Arc::new(active), older));
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = state;
    }

    fn read(&self) -> Arc<RingState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key that signs now.
    pub fn active(&self) -> Arc<SigningKey> {
        self.read().active.clone()
    }

    /// The public keys that verify now (the active key and those not yet retired): the JWKS
    /// document to publish.
    pub fn jwks(&self) -> Jwks {
        self.read().verifying.clone()
    }

    /// The verifying key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<PublicJwk> {
        self.read().verifying.find(kid).cloned()
    }

    /// Makes `next` the signing key; the previous one keeps verifying until [`retire`](Self::retire)d.
    pub fn rotate(&self, next: SigningKey) {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        let mut keys = vec![next.public_jwk().clone()];
        keys.extend(guard.verifying.keys.iter().filter(|k| k.kid() != next.public_jwk().kid()).cloned());
        *guard = Arc::new(RingState { active: Arc::new(next), verifying: Jwks { keys } });
    }

    /// Stops accepting signatures of a rotated-out key. The active key can't be retired; rotate first.
    /// Returns whether a key was removed.
    pub fn retire(&self, kid: &Kid) -> bool {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        if guard.active.kid() == kid {
            return false;
        }
        let before = guard.verifying.keys.len();
        let keys: Vec<_> = guard.verifying.keys.iter().filter(|k| k.kid() != Some(kid.as_str())).cloned().collect();
        let removed = keys.len() != before;
        *guard = Arc::new(RingState { active: guard.active.clone(), verifying: Jwks { keys } });
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningAlgorithm;

    #[test]
    fn active_key_cannot_be_retired() {
        let ring = KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
        let kid = ring.active().kid().clone();
        assert!(!ring.retire(&kid));
        assert!(ring.find(kid.as_str()).is_some());
    }

    #[test]
    fn replace_swaps_the_active_key_and_the_older_ones() {
        let first = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let first_public = first.public_jwk().clone();
        let ring = KeyRing::with_older(first, [first_public.clone()]);
        assert_eq!(ring.jwks().keys.len(), 1, "the active key is not listed twice");
        ring.replace(SigningKey::generate(SigningAlgorithm::ES256).unwrap(), [first_public.clone()]);
        assert_ne!(ring.active().public_jwk(), &first_public);
        assert!(ring.find(first_public.kid().unwrap()).is_some());
        assert!(!ring.retire(&ring.active().kid().clone()));
    }
}
