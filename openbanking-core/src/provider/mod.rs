//! The consent authority: what a bank asks about consents, in either model.
//!
//! - [`ConsentProvider`]: create, read, authorise, reject, revoke, check and list consents.
//!   [`LocalConsentProvider`] is the decentralized one, over the bank's own
//!   [`ConsentStore`](crate::store::ConsentStore); a hub-backed provider implements the same trait.
//! - Requests ([`CreateConsent`], [`AuthoriseConsent`], [`RejectConsent`], [`RevokeConsent`],
//!   [`CheckConsent`]) are `#[non_exhaustive]` structs that can grow; status changes name their
//!   [`Actor`] (PSU, TPP or bank).
//! - Outcomes: [`ConsentCheck`] (allowed with the consent, or denied with a reason), or
//!   [`ConsentError::Unavailable`] when the authority can't be reached: callers fail closed.
//! - Every status change is a [`ConsentEvent`] that [`ConsentEventSink`]s subscribe to
//!   ([`ConsentEvents`]).

mod check;
mod events;
mod local;
mod request;

use std::fmt;

pub use check::{AuthorisedConsent, ConsentCheck, DenialReason};
pub use events::{ConsentEvent, ConsentEventSink, ConsentEvents};
pub use local::LocalConsentProvider;
pub use request::{Actor, AuthoriseConsent, CheckConsent, CreateConsent, RejectConsent, RevokeConsent};

use crate::consent::{Consent, ConsentError};
use crate::store::{ConsentPage, ConsentQuery};
use crate::types::ConsentId;

/// What a bank asks of "the consent authority": the bank's own store
/// ([`LocalConsentProvider`]) or a central hub.
///
/// Object safe: a bank holds an `Arc<dyn ConsentProvider>`. Providers take time from their own
/// clock, and apply expiry exactly (no leeway). They do not decide *who* may call them: the consent
/// API checks that a TPP revokes only its own consents, and the PSU pages that a PSU acts only on
/// consents shown to them.
///
/// Errors: [`ConsentError::Unavailable`] when the authority can't be reached (callers fail
/// closed: no data, a 503 with `Retry-After` at the consent API); other errors as the operation
/// says.
#[async_trait::async_trait]
pub trait ConsentProvider: Send + Sync + fmt::Debug {
    /// Validates a TPP's request ([`ConsentRequest::validate`](crate::consent::ConsentRequest::validate)
    /// at the provider's time) and records a new consent in `AwaitingAuthorisation`.
    async fn create(&self, request: CreateConsent) -> Result<Consent, ConsentError>;

    /// The consent with this id, with its status as of now (a consent past its expiration is
    /// reported `Expired`).
    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, ConsentError>;

    /// The PSU approves the consent for these accounts.
    async fn authorise(&self, request: AuthoriseConsent) -> Result<Consent, ConsentError>;

    /// The PSU (or the bank, on an authorisation timeout) denies the consent.
    async fn reject(&self, request: RejectConsent) -> Result<Consent, ConsentError>;

    /// The PSU, the TPP or the bank withdraws the consent.
    async fn revoke(&self, request: RevokeConsent) -> Result<Consent, ConsentError>;

    /// Whether the client may read data under this consent right now, and if not, why.
    ///
    /// `Err` only for a failure to find out (a store or hub error), never for a denial.
    async fn check(&self, request: CheckConsent) -> Result<ConsentCheck, ConsentError>;

    /// One page of the consents matching `query` (by PSU, client, status), oldest first, each
    /// with its status as of now.
    async fn list(&self, query: ConsentQuery) -> Result<ConsentPage, ConsentError>;

    /// Where this provider publishes its status changes, for subscribers to join (the
    /// authorization server subscribes to revoke a consent's refresh tokens). `None` if it
    /// publishes none.
    fn events(&self) -> Option<&ConsentEvents> {
        None
    }
}
