//! [`ConsentStore`]: consents, with optimistic concurrency, and the [`ConsentQuery`] that lists
//! them page by page.

use std::fmt;

use time::OffsetDateTime;

use super::StoreError;
use crate::consent::{Consent, ConsentStatus};
use crate::types::{ClientId, ConsentId, PsuId};

/// Largest page a listing returns, whatever the query asks for.
pub const MAX_PAGE_SIZE: usize = 500;
/// Page size of a query that does not set one.
const DEFAULT_PAGE_SIZE: usize = 100;

/// Persistence of consents, with optimistic concurrency.
///
/// Object safe: a bank holds an `Arc<dyn ConsentStore>` chosen at start-up. The contract, which
/// [`consent_store_conformance`](crate::testing::consent_store_conformance) checks:
///
/// - `insert` stores the consent exactly as given (every field, version included) and refuses an
///   existing id with [`StoreError::Conflict`].
/// - `get` returns the stored consent, or `None`.
/// - `update(consent, expected_version)` replaces the record only if its stored version is
///   `expected_version`, stores it with version `expected_version + 1` (whatever
///   `consent.version()` says) and returns what it stored; otherwise [`StoreError::Conflict`] (two
///   writers holding the same version can't both win), or [`StoreError::NotFound`] if there is no
///   such consent. The check and the write are one atomic step.
/// - `list` returns the consents matching every filter of the query (PSU, client, stored status),
///   sorted by `CreationDateTime` then `ConsentId`, at most `limit` of them, starting after the
///   query's cursor; the page's `next` cursor is set exactly when more may follow.
/// - Times are kept as instants (the offset may be normalised) to at least the microsecond.
#[async_trait::async_trait]
pub trait ConsentStore: Send + Sync + fmt::Debug {
    /// Stores a new consent; [`StoreError::Conflict`] if its id exists.
    async fn insert(&self, consent: &Consent) -> Result<(), StoreError>;

    /// The consent with this id, if any.
    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, StoreError>;

    /// Replaces the consent if its stored version is `expected_version`, storing it with version
    /// `expected_version + 1`, and returns the stored consent.
    async fn update(&self, consent: &Consent, expected_version: u64) -> Result<Consent, StoreError>;

    /// One page of the consents matching `query`, oldest first.
    async fn list(&self, query: &ConsentQuery) -> Result<ConsentPage, StoreError>;
}

/// Which consents to list: filters (all optional, combined with "and"), a page size and where
/// to start.
///
/// ```
/// use openbanking_core::store::ConsentQuery;
/// use openbanking_core::{ConsentStatus, PsuId};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let query = ConsentQuery::by_psu(PsuId::parse("alice")?).with_status(ConsentStatus::Authorised).with_limit(20);
/// assert_eq!(query.limit(), 20);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConsentQuery {
    /// Only this PSU's consents (the PSU who authorised them).
    pub psu_id: Option<PsuId>,
    /// Only this client's consents.
    pub client_id: Option<ClientId>,
    /// Only consents stored with this status.
    pub status: Option<ConsentStatus>,
    /// Start after this position (the `next` of a previous page).
    pub after: Option<ConsentCursor>,
    limit: Option<usize>,
}

impl ConsentQuery {
    /// Every consent (no filter).
    pub fn all() -> Self {
        Self::default()
    }

    /// The consents a PSU authorised.
    pub fn by_psu(psu_id: PsuId) -> Self {
        Self { psu_id: Some(psu_id), ..Self::default() }
    }

    /// The consents a client created.
    pub fn by_client(client_id: ClientId) -> Self {
        Self { client_id: Some(client_id), ..Self::default() }
    }

    /// Also only this client's.
    #[must_use]
    pub fn with_client(mut self, client_id: ClientId) -> Self {
        self.client_id = Some(client_id);
        self
    }

    /// Also only those with this stored status.
    #[must_use]
    pub fn with_status(mut self, status: ConsentStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// At most `limit` per page (1 to [`MAX_PAGE_SIZE`]; default 100).
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Starts after `cursor`.
    #[must_use]
    pub fn after(mut self, cursor: ConsentCursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// The page size in force: the one asked for, clamped to 1..=[`MAX_PAGE_SIZE`].
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
    }

    /// Whether `consent` passes the filters (not the cursor): what a store's `WHERE` says.
    pub fn matches(&self, consent: &Consent) -> bool {
        self.psu_id.as_ref().is_none_or(|p| consent.psu_id() == Some(p))
            && self.client_id.as_ref().is_none_or(|c| consent.client_id() == c)
            && self.status.is_none_or(|s| consent.status() == s)
    }

    /// Whether `consent` comes after the query's cursor in listing order.
    pub fn is_after_cursor(&self, consent: &Consent) -> bool {
        self.after.as_ref().is_none_or(|cursor| cursor < &ConsentCursor::of(consent))
    }
}

/// A position in listing order (`CreationDateTime`, then `ConsentId`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsentCursor {
    created: OffsetDateTime,
    consent_id: ConsentId,
}

impl ConsentCursor {
    /// The position of `consent`.
    pub fn of(consent: &Consent) -> Self {
        Self { created: consent.creation_date_time(), consent_id: consent.consent_id().clone() }
    }

    /// A position from its parts (as a store reads them back).
    pub fn new(created: OffsetDateTime, consent_id: ConsentId) -> Self {
        Self { created, consent_id }
    }

    /// The creation time of the consent at this position.
    pub fn created(&self) -> OffsetDateTime {
        self.created
    }

    /// The id of the consent at this position.
    pub fn consent_id(&self) -> &ConsentId {
        &self.consent_id
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConsentPage {
    /// The consents, oldest first.
    pub consents: Vec<Consent>,
    /// Where the next page starts, if there may be one.
    pub next: Option<ConsentCursor>,
}

impl ConsentPage {
    /// A page of `consents` (already sorted and filtered), of a query whose page size is `limit`:
    /// `next` is set when the page is full.
    pub fn new(consents: Vec<Consent>, limit: usize) -> Self {
        let next = (consents.len() >= limit).then(|| consents.last().map(ConsentCursor::of)).flatten();
        Self { consents, next }
    }
}
