//! The token side of consent events: when a consent ends (rejected, revoked or expired), the
//! refresh-token families issued under it are revoked, with every access token they issued.
//!
//! The guard already refuses an access token whose consent is no longer authorised (it asks the
//! consent authority on every call); this makes the tokens themselves dead too, so that
//! introspection, refresh and any gateway that trusts the token alone agree at once.

use std::sync::Arc;

use openbanking_core::provider::{ConsentEvent, ConsentEventSink};
use openbanking_core::store::{RefreshTokenStore, RevocationStore};

/// Revokes a consent's refresh families and their access tokens when the consent ends.
#[derive(Debug)]
pub(crate) struct RevokeConsentTokens {
    refresh: Arc<dyn RefreshTokenStore>,
    revocations: Arc<dyn RevocationStore>,
}

impl RevokeConsentTokens {
    pub(crate) fn new(refresh: Arc<dyn RefreshTokenStore>, revocations: Arc<dyn RevocationStore>) -> Self {
        Self { refresh, revocations }
    }
}

#[async_trait::async_trait]
impl ConsentEventSink for RevokeConsentTokens {
    async fn consent_changed(&self, event: &ConsentEvent) {
        if !event.ends_access() {
            return;
        }
        let families = match self.refresh.revoke_by_consent(&event.consent_id, event.at).await {
            Ok(families) => families,
            Err(error) => {
                tracing::error!(consent_id = %event.consent_id, %error, "could not revoke the consent's refresh tokens");
                return;
            }
        };
        for family in &families {
            for token in &family.access_tokens {
                if let Err(error) = self.revocations.revoke(&token.jti, token.exp, event.at).await {
                    tracing::error!(consent_id = %event.consent_id, jti = %token.jti, %error, "could not revoke an access token of an ended consent");
                }
            }
        }
        if !families.is_empty() {
            tracing::info!(consent_id = %event.consent_id, families = families.len(), "refresh tokens of an ended consent revoked");
        }
    }
}
