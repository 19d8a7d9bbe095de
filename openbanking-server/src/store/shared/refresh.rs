//! Refresh-token families in SQL: rotation with retry of the previous token, reuse detection,
//! revocation by consent.
//!
//! Written once for both SQL backends: `store/sqlite` and `store/postgres` each include this file
//! as a module of their own (`#[path]`), where `super::dialect` names that backend's sqlx types
//! and the few words of SQL in which the two differ. So the statements, and the reasoning that
//! makes each atomic, exist once.

use std::sync::Arc;

use super::dialect::{BEGIN, Conn, Pool, skip_locked};
use async_trait::async_trait;
use openbanking_core::{ConsentId, Jti};
use time::OffsetDateTime;

use super::support::on;
use crate::store::sql::{PurgePacer, corrupt, from_json, from_micros, micros, to_json};
use crate::store::{IssuedAccessToken, RefreshFamily, RefreshRotation, RefreshTokenStore, StoreError, TokenHash};

/// [`RefreshTokenStore`] over `refresh_families` (one row per family: its current token, and the
/// previous one with when it was superseded), `refresh_tokens` (every token a family issued) and
/// `refresh_access_tokens`.
///
/// Rotation is a transaction (begun by [`BEGIN`]: `BEGIN IMMEDIATE` on SQLite, which takes the
/// single writer's lock at once) of conditional updates on the family row: "the token is current"
/// (it becomes the previous one), else "the token is the previous one" (its unused successor is
/// replaced), else "the family is live" (it is revoked: reuse). On PostgreSQL the first update
/// that matches holds the row lock to the end of the transaction; a concurrent rotation waits for
/// it, then re-checks its own condition against the committed row (READ COMMITTED), so two can't
/// both take the same step. A family is purged, with its tokens, once it has expired and every
/// access token issued from it has; a revoked one is kept until then too.
///
/// **Bound.** A family keeps the hash of every refresh token it issued, one `refresh_tokens` row
/// (a hash and the family id) per rotation, until the family is purged; unlike
/// [`MemoryRefreshTokenStore`](openbanking_core::store::MemoryRefreshTokenStore), which keeps the
/// last [`KEPT_TOKENS`](openbanking_core::store::MemoryRefreshTokenStore::KEPT_TOKENS), the
/// history is not capped. This is deliberate: it is bounded by the family's lifetime, fixed when
/// the family is created at the code exchange (the server's `refresh_token_lifetime`, default
/// 30 days; rotation never extends it), times the rate of rotations, each of which is a token
/// request by the authenticated client whose proof or assertion takes room in its share of the
/// replay cache. In exchange, reuse of any token of a live family is detected and revokes the
/// family (RFC 9700 §4.14.2), however old the token. A cap would need the tokens of a family
/// ordered, which `refresh_tokens` is not on PostgreSQL (no sequence column), so it would take a
/// migration; the two backends keep the same behaviour.
#[derive(Debug)]
pub(super) struct SqlRefreshTokenStore {
    pool: Pool,
    pacer: Arc<PurgePacer>,
}

impl SqlRefreshTokenStore {
    pub(super) fn new(pool: Pool) -> Self {
        Self { pool, pacer: Arc::default() }
    }
}

/// A family row: `(id, body, expires_at, revoked, current_hash, previous_hash, previous_at)`.
type FamilyRow = (String, String, i64, bool, String, Option<String>, Option<i64>);

const SELECT_BY_TOKEN: &str = "SELECT f.id, f.body, f.expires_at, f.revoked, f.current_hash, f.previous_hash, \
     f.previous_at FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = $1";
const SELECT_BY_ID: &str = "SELECT id, body, expires_at, revoked, current_hash, previous_hash, previous_at \
     FROM refresh_families WHERE id = $1";

/// Whether `token` may be used at `now` in the family of `row` (as the memory store decides): the
/// family is live and `token` is its current token or the previous one (`previous_hash` is reset
/// whenever the current token is used, so a previous token is one whose successor is unused).
fn usable(row: &FamilyRow, token: &TokenHash, now: i64) -> bool {
    let (_, _, expires_at, revoked, current, previous, _) = row;
    let previous = previous.as_deref() == Some(token.as_str());
    !revoked && now < *expires_at && (current == token.as_str() || previous)
}

/// The family of `row`, with its access tokens, as the trait returns it.
async fn family(conn: &mut Conn, row: &FamilyRow) -> Result<RefreshFamily, StoreError> {
    let (id, body, _, revoked, ..) = row;
    let mut family: RefreshFamily = from_json("refresh_families", "body", body)?;
    family.revoked = *revoked;
    let tokens = sqlx::query_as::<_, (String, i64)>(
        "SELECT jti, exp FROM refresh_access_tokens WHERE family_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(on("read a family's access tokens"))?;
    family.access_tokens = tokens
        .into_iter()
        .map(|(jti, exp)| {
            Ok(IssuedAccessToken {
                jti: Jti::parse(jti).map_err(|e| corrupt("refresh_access_tokens", "jti", e))?,
                exp: from_micros("refresh_access_tokens", "exp", exp)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(family)
}

async fn family_by_id(conn: &mut Conn, id: &str) -> Result<Option<RefreshFamily>, StoreError> {
    let row = sqlx::query_as::<_, FamilyRow>(SELECT_BY_ID)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(on("read a refresh family"))?;
    match row {
        Some(row) => Ok(Some(family(conn, &row).await?)),
        None => Ok(None),
    }
}

/// Records an access token of family `id` and keeps the family until it expires.
async fn insert_access_token(conn: &mut Conn, id: &str, token: &IssuedAccessToken) -> Result<bool, StoreError> {
    let exp = micros(token.exp)?;
    let done = sqlx::query(
        "INSERT INTO refresh_access_tokens (family_id, jti, exp) \
         SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM refresh_families WHERE id = $1)",
    )
    .bind(id)
    .bind(token.jti.as_str())
    .bind(exp)
    .execute(&mut *conn)
    .await
    .map_err(on("record an access token"))?;
    sqlx::query("UPDATE refresh_families SET purge_at = $2 WHERE id = $1 AND purge_at < $2")
        .bind(id)
        .bind(exp)
        .execute(&mut *conn)
        .await
        .map_err(on("record an access token"))?;
    Ok(done.rows_affected() == 1)
}

impl SqlRefreshTokenStore {
    /// Makes `next` a token of family `id`, in the rotation's transaction.
    async fn issue(&self, conn: &mut Conn, id: &str, next: &TokenHash) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO refresh_tokens (hash, family_id) VALUES ($1, $2)")
            .bind(next.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(on("issue a refresh token"))?;
        Ok(())
    }
}

#[async_trait]
impl RefreshTokenStore for SqlRefreshTokenStore {
    async fn create(&self, family: RefreshFamily, token: &TokenHash, now: OffsetDateTime) -> Result<(), StoreError> {
        super::support::purge_later(
            &self.pacer,
            &self.pool,
            "purge refresh families",
            None,
            micros(now)?,
            concat!(
                "DELETE FROM refresh_families WHERE id IN (SELECT id FROM refresh_families WHERE purge_at <= $1 LIMIT $2",
                skip_locked!(),
                ")"
            ),
            None,
        );
        let body = RefreshFamily { revoked: false, access_tokens: Vec::new(), ..family.clone() };
        let expires_at = micros(family.expires_at)?;
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(on("begin a transaction"))?;
        sqlx::query(
            "INSERT INTO refresh_families (id, consent_id, body, expires_at, revoked, current_hash, purge_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $4)",
        )
        .bind(&family.id)
        .bind(family.consent_id.as_ref().map(|c| c.as_str()))
        .bind(to_json("a refresh family", &body)?)
        .bind(expires_at)
        .bind(family.revoked)
        .bind(token.as_str())
        .execute(&mut *tx)
        .await
        .map_err(on("create a refresh family"))?;
        self.issue(&mut tx, &family.id, token).await?;
        for access in &family.access_tokens {
            insert_access_token(&mut tx, &family.id, access).await?;
        }
        tx.commit().await.map_err(on("create a refresh family"))
    }

    async fn rotate(
        &self,
        token: &TokenHash,
        next: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<RefreshRotation, StoreError> {
        let now = micros(now)?;
        // A token's family never changes: look it up before taking the write lock.
        let id = sqlx::query_scalar::<_, String>("SELECT family_id FROM refresh_tokens WHERE hash = $1")
            .bind(token.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(on("look up a refresh token"))?;
        let Some(id) = id else { return Ok(RefreshRotation::Invalid) };
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(on("begin a transaction"))?;
        // The current token: it becomes the previous one, usable until `next` is used.
        let rotated = rotate_where(
            &mut tx,
            "UPDATE refresh_families SET previous_hash = current_hash, previous_at = $3, current_hash = $4 \
             WHERE id = $1 AND current_hash = $2 AND NOT revoked AND expires_at > $3",
            (&id, token, now, next),
        )
        .await?;
        // Else the previous token, its successor unused (a retry after a lost response, at any
        // time before the family expires): the successor is replaced by `next`.
        let rotated = rotated
            || rotate_where(
                &mut tx,
                "UPDATE refresh_families SET current_hash = $4 \
                 WHERE id = $1 AND previous_hash = $2 AND NOT revoked AND expires_at > $3",
                (&id, token, now, next),
            )
            .await?;
        if rotated {
            self.issue(&mut tx, &id, next).await?;
            let family = family_by_id(&mut tx, &id).await?;
            tx.commit().await.map_err(on("rotate a refresh token"))?;
            return Ok(family.map_or(RefreshRotation::Invalid, RefreshRotation::Rotated));
        }
        // Else a token of a live family that is no longer usable: reuse, the family is revoked.
        let revoked =
            sqlx::query("UPDATE refresh_families SET revoked = TRUE WHERE id = $1 AND NOT revoked AND expires_at > $2")
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(on("revoke a reused refresh family"))?
                .rows_affected()
                == 1;
        let family = if revoked { family_by_id(&mut tx, &id).await? } else { None };
        tx.commit().await.map_err(on("revoke a reused refresh family"))?;
        if revoked {
            tracing::warn!(family = %id, "refresh token reused: family revoked");
        }
        Ok(family.map_or(RefreshRotation::Invalid, RefreshRotation::Reused))
    }

    async fn find(&self, token: &TokenHash, now: OffsetDateTime) -> Result<Option<(RefreshFamily, bool)>, StoreError> {
        let now = micros(now)?;
        let mut conn = self.pool.acquire().await.map_err(on("find a refresh token"))?;
        let row = sqlx::query_as::<_, FamilyRow>(SELECT_BY_TOKEN)
            .bind(token.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(on("find a refresh token"))?;
        let Some(row) = row else { return Ok(None) };
        let usable = usable(&row, token, now);
        Ok(Some((family(&mut conn, &row).await?, usable)))
    }

    async fn add_access_token(
        &self,
        family_id: &str,
        token: IssuedAccessToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(on("begin a transaction"))?;
        sqlx::query("DELETE FROM refresh_access_tokens WHERE family_id = $1 AND exp <= $2")
            .bind(family_id)
            .bind(micros(now)?)
            .execute(&mut *tx)
            .await
            .map_err(on("drop expired access tokens"))?;
        if !insert_access_token(&mut tx, family_id, &token).await? {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(on("record an access token"))
    }

    async fn revoke_family(&self, family_id: &str, _now: OffsetDateTime) -> Result<Option<RefreshFamily>, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(on("begin a transaction"))?;
        sqlx::query("UPDATE refresh_families SET revoked = TRUE WHERE id = $1")
            .bind(family_id)
            .execute(&mut *tx)
            .await
            .map_err(on("revoke a refresh family"))?;
        let family = family_by_id(&mut tx, family_id).await?;
        tx.commit().await.map_err(on("revoke a refresh family"))?;
        Ok(family)
    }

    async fn revoke_by_consent(
        &self,
        consent_id: &ConsentId,
        _now: OffsetDateTime,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(on("begin a transaction"))?;
        let rows = sqlx::query_as::<_, FamilyRow>(
            "UPDATE refresh_families SET revoked = TRUE WHERE consent_id = $1 AND NOT revoked \
             RETURNING id, body, expires_at, revoked, current_hash, previous_hash, previous_at",
        )
        .bind(consent_id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(on("revoke a consent's refresh families"))?;
        let mut families = Vec::with_capacity(rows.len());
        for row in &rows {
            families.push(family(&mut tx, row).await?);
        }
        tx.commit().await.map_err(on("revoke a consent's refresh families"))?;
        Ok(families)
    }
}

/// Runs one conditional rotation `statement` of a family (`$1` its id, `$2` the token presented,
/// `$3` now, `$4` the next token's hash); whether it matched.
async fn rotate_where(
    conn: &mut Conn,
    statement: &'static str,
    (id, token, now, next): (&str, &TokenHash, i64, &TokenHash),
) -> Result<bool, StoreError> {
    let done = sqlx::query(statement)
        .bind(id)
        .bind(token.as_str())
        .bind(now)
        .bind(next.as_str())
        .execute(conn)
        .await
        .map_err(on("rotate a refresh token"))?;
    Ok(done.rows_affected() == 1)
}
