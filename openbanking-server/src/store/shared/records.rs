//! Consents, clients and PSU sessions in SQL.
//!
//! Written once for both SQL backends: `store/sqlite` and `store/postgres` each include this file
//! as a module of their own (`#[path]`), where `super::dialect` names that backend's sqlx types
//! and the few words of SQL in which the two differ. So the statements, and the reasoning that
//! makes each atomic, exist once.

use std::sync::Arc;

use async_trait::async_trait;
use openbanking_core::{ClientId, Consent, ConsentId};
use sqlx::QueryBuilder;

use super::dialect::{Db, One, Pool, skip_locked};
use time::OffsetDateTime;

use super::support::{on, read_by_key};
use crate::store::batch::Batcher;
use crate::store::cache::{HotReads, read_through};
use crate::store::sql::{PurgePacer, from_json, micros, to_json, version_from_sql, version_to_sql};
use crate::store::{
    ClientStore, ConsentPage, ConsentQuery, ConsentStore, PsuSession, RegisteredClient, SessionStore, StoreError,
    TokenHash,
};

/// [`ConsentStore`] over the `consents` table.
#[derive(Debug)]
pub(super) struct SqlConsentStore {
    pool: Pool,
    /// `get`, asked on every data call (the consent check), batched (see [`Batcher`]).
    reads: Arc<Batcher<String, Option<(String, i64)>>>,
    /// The consents read, when this process alone writes the database (see `store/cache.rs`).
    hot: Option<Arc<HotReads>>,
}

impl SqlConsentStore {
    pub(super) fn new(pool: Pool, hot: Option<Arc<HotReads>>) -> Self {
        let reads = Batcher::new(
            "read consents",
            read_by_key(
                pool.clone(),
                "read consents",
                "SELECT consent_id, body, version FROM consents WHERE consent_id IN (",
                |(id, body, version): (String, String, i64)| (id, (body, version)),
            ),
        );
        Self { pool, reads, hot }
    }

    /// Drops `consent_id` from the cache, after a write of it (committed or not).
    fn written(&self, consent_id: &ConsentId) {
        if let Some(hot) = &self.hot {
            hot.changed("consents", consent_id.as_str());
        }
    }
}

/// A stored consent: its JSON body, with the version column in force.
fn consent_from_row((body, version): (String, i64)) -> Result<Consent, StoreError> {
    let mut consent: Consent = from_json("consents", "body", &body)?;
    consent.set_version(version_from_sql("consents", version)?);
    Ok(consent)
}

#[async_trait]
impl ConsentStore for SqlConsentStore {
    async fn insert(&self, consent: &Consent) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO consents (consent_id, client_id, psu_id, status, created_at, version, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(consent.consent_id().as_str())
        .bind(consent.client_id().as_str())
        .bind(consent.psu_id().map(|p| p.as_str()))
        .bind(consent.status().as_str())
        .bind(micros(consent.creation_date_time())?)
        .bind(version_to_sql(consent.version())?)
        .bind(to_json("a consent", consent)?)
        .execute(&self.pool)
        .await;
        self.written(consent.consent_id());
        inserted.map_err(on("insert a consent"))?;
        Ok(())
    }

    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, StoreError> {
        let read = async { self.reads.ask(consent_id.as_str().to_owned()).await?.map(consent_from_row).transpose() };
        read_through(self.hot.as_deref().and_then(HotReads::consents), consent_id.as_str(), read, Option::is_some).await
    }

    async fn update(&self, consent: &Consent, expected_version: u64) -> Result<Consent, StoreError> {
        let next = expected_version.checked_add(1).ok_or(StoreError::stale_version(expected_version))?;
        let mut updated = consent.clone();
        updated.set_version(next);
        // One conditional statement: of two writers holding the same version, one matches.
        let done = sqlx::query(
            "UPDATE consents SET client_id = $1, psu_id = $2, status = $3, created_at = $4, version = $5, body = $6 \
             WHERE consent_id = $7 AND version = $8",
        )
        .bind(updated.client_id().as_str())
        .bind(updated.psu_id().map(|p| p.as_str()))
        .bind(updated.status().as_str())
        .bind(micros(updated.creation_date_time())?)
        .bind(version_to_sql(next)?)
        .bind(to_json("a consent", &updated)?)
        .bind(updated.consent_id().as_str())
        .bind(version_to_sql(expected_version)?)
        .execute(&self.pool)
        .await;
        self.written(consent.consent_id());
        let done = done.map_err(on("update a consent"))?;
        if done.rows_affected() == 1 {
            return Ok(updated);
        }
        // Lost: tell a stale version from a missing consent.
        let exists = sqlx::query_scalar::<_, One>("SELECT 1 FROM consents WHERE consent_id = $1")
            .bind(consent.consent_id().as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(on("read a consent"))?;
        Err(if exists.is_some() { StoreError::stale_version(expected_version) } else { StoreError::NotFound })
    }

    async fn list(&self, query: &ConsentQuery) -> Result<ConsentPage, StoreError> {
        let limit = query.limit();
        let mut sql = QueryBuilder::<Db>::new("SELECT body, version FROM consents WHERE 1 = 1");
        if let Some(psu_id) = &query.psu_id {
            sql.push(" AND psu_id = ").push_bind(psu_id.as_str().to_owned());
        }
        if let Some(client_id) = &query.client_id {
            sql.push(" AND client_id = ").push_bind(client_id.as_str().to_owned());
        }
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = &query.after {
            let created = micros(after.created())?;
            sql.push(" AND (created_at > ").push_bind(created);
            sql.push(" OR (created_at = ").push_bind(created);
            sql.push(" AND consent_id > ").push_bind(after.consent_id().as_str().to_owned()).push("))");
        }
        sql.push(" ORDER BY created_at, consent_id LIMIT ").push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = sql.build_query_as::<(String, i64)>().fetch_all(&self.pool).await.map_err(on("list consents"))?;
        let consents = rows.into_iter().map(consent_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(ConsentPage::new(consents, limit))
    }
}

/// [`ClientStore`] over the `clients` table.
#[derive(Debug)]
pub(super) struct SqlClientStore {
    pool: Pool,
    /// `get`, asked on every authenticated request, batched (see [`Batcher`]).
    reads: Arc<Batcher<String, Option<String>>>,
    /// The clients read, when this process alone writes the database (see `store/cache.rs`).
    hot: Option<Arc<HotReads>>,
}

impl SqlClientStore {
    pub(super) fn new(pool: Pool, hot: Option<Arc<HotReads>>) -> Self {
        let reads = Batcher::new(
            "read clients",
            read_by_key(
                pool.clone(),
                "read clients",
                "SELECT client_id, body FROM clients WHERE client_id IN (",
                |(id, body): (String, String)| (id, body),
            ),
        );
        Self { pool, reads, hot }
    }

    /// Drops `client_id` from the cache, after a write of it (committed or not).
    fn written(&self, client_id: &ClientId) {
        if let Some(hot) = &self.hot {
            hot.changed("clients", client_id.as_str());
        }
    }
}

#[async_trait]
impl ClientStore for SqlClientStore {
    async fn insert(&self, client: RegisteredClient) -> Result<(), StoreError> {
        let inserted = sqlx::query("INSERT INTO clients (client_id, body) VALUES ($1, $2)")
            .bind(client.client_id.as_str())
            .bind(to_json("a client", &client)?)
            .execute(&self.pool)
            .await;
        self.written(&client.client_id);
        inserted.map_err(on("insert a client"))?;
        Ok(())
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<RegisteredClient>, StoreError> {
        let read = async {
            self.reads
                .ask(client_id.as_str().to_owned())
                .await?
                .map(|body| from_json("clients", "body", &body))
                .transpose()
        };
        read_through(self.hot.as_deref().and_then(HotReads::clients), client_id.as_str(), read, Option::is_some).await
    }

    async fn replace(&self, client: RegisteredClient) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE clients SET body = $1 WHERE client_id = $2")
            .bind(to_json("a client", &client)?)
            .bind(client.client_id.as_str())
            .execute(&self.pool)
            .await;
        self.written(&client.client_id);
        let done = done.map_err(on("replace a client"))?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id.as_str()).execute(&self.pool).await;
        self.written(client_id);
        let done = done.map_err(on("delete a client"))?;
        Ok(done.rows_affected() > 0)
    }
}

/// [`SessionStore`] over the `sessions` table. Without a capacity: the database's size is the
/// limit.
#[derive(Debug)]
pub(super) struct SqlSessionStore {
    pool: Pool,
    pacer: Arc<PurgePacer>,
}

impl SqlSessionStore {
    pub(super) fn new(pool: Pool) -> Self {
        Self { pool, pacer: Arc::default() }
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn insert(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        let now = micros(now)?;
        super::support::purge_later(
            &self.pacer,
            &self.pool,
            "purge sessions",
            None,
            now,
            concat!(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2",
                skip_locked!(),
                ")"
            ),
            None,
        );
        // An expired session under the same id (not purged yet) is overwritten; a live one stays.
        let done = sqlx::query(
            "INSERT INTO sessions (id, body, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at \
             WHERE sessions.expires_at <= $4",
        )
        .bind(id.as_str())
        .bind(to_json("a session", session)?)
        .bind(micros(session.expires_at)?)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(on("insert a session"))?;
        if done.rows_affected() == 0 { Err(StoreError::already_exists()) } else { Ok(()) }
    }

    async fn get(&self, id: &TokenHash, now: OffsetDateTime) -> Result<Option<PsuSession>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT body FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id.as_str())
            .bind(micros(now)?)
            .fetch_optional(&self.pool)
            .await
            .map_err(on("read a session"))?
            .map(|body| from_json("sessions", "body", &body))
            .transpose()
    }

    async fn replace(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE sessions SET body = $1, expires_at = $2 WHERE id = $3 AND expires_at > $4")
            .bind(to_json("a session", session)?)
            .bind(micros(session.expires_at)?)
            .bind(id.as_str())
            .bind(micros(now)?)
            .execute(&self.pool)
            .await
            .map_err(on("replace a session"))?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete(&self, id: &TokenHash) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(on("delete a session"))?;
        Ok(done.rows_affected() > 0)
    }
}
