//! The issuer's signing keys and the secrets every instance must share, kept with the stores
//! (features `sqlite`, `postgres`), so that tokens issued before a restart still verify after it
//! and a second instance signs and verifies with the same keys.
//!
//! Keys live in the table `signing_keys` (migration `0003_signing_keys.sql`): `kid`, `alg`, the
//! private key as PKCS#8 v1 DER in base64, `created_at`, `retired_at`. The one row without
//! `retired_at` signs; a rotated-out key keeps verifying, published in the JWKS, for the
//! `verify_for` window given to [`KeyStore::load_or_generate`] (the access-token lifetime): the
//! tokens it signed stay valid until they expire. Named random secrets (the DPoP nonce secret)
//! live in `server_secrets`, created once by whichever instance asks first.
//!
//! **The table holds private keys**: protect the database (file or server) as the keys themselves.
//!
//! ```no_run
//! use openbanking_core::clock::{Clock, SystemClock};
//! use openbanking_core::jose::SigningAlgorithm;
//! use openbanking_server::store::keys::KeyStore;
//! use openbanking_server::store::sqlite::SqliteStores;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sqlite = SqliteStores::open("sqlite://bank.db").await?;
//! let keys = KeyStore::sqlite(&sqlite);
//! let now = SystemClock.now();
//! let ring = keys.load_or_generate(SigningAlgorithm::ES256, time::Duration::minutes(5), now).await?;
//! let nonce_secret = keys.shared_secret("dpop_nonce", 32, now).await?;
//! # drop((ring, nonce_secret));
//! # Ok(()) }
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use openbanking_core::Kid;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::StoreError;
use super::sql::{corrupt, from_micros, micros};

/// Where the keys are: the pool of one of the SQL backends.
#[derive(Clone)]
enum Db {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// Runs `$body` (an expression using `$pool`, giving a future of a sqlx result) on the backend's
/// pool, mapping the error as that backend does.
macro_rules! on_pool {
    ($db:expr, $context:literal, $pool:ident => $body:expr) => {
        match $db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite($pool) => $body.await.map_err(|e| super::sqlite::err($context, e)),
            #[cfg(feature = "postgres")]
            Db::Postgres($pool) => $body.await.map_err(|e| super::postgres::err($context, e)),
        }
    };
}

/// The signing keys and shared secrets in a SQL database (see the [module docs](self)).
///
/// Cloning is cheap (the pool is shared).
#[derive(Clone)]
pub struct KeyStore {
    db: Db,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "postgres",
        };
        f.debug_struct("KeyStore").field("backend", &backend).finish()
    }
}

/// A stored key row: kid, alg, private key (base64), created_at, retired_at.
type KeyRow = (String, String, String, i64, Option<i64>);

const TABLE: &str = "signing_keys";

impl KeyStore {
    /// The key store in the SQLite database of `stores` (its migrations applied).
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub fn sqlite(stores: &super::sqlite::SqliteStores) -> Self {
        Self { db: Db::Sqlite(stores.pool().clone()) }
    }

    /// The key store in the PostgreSQL database (and schema) of `stores` (its migrations applied).
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres(stores: &super::postgres::PostgresStores) -> Self {
        Self { db: Db::Postgres(stores.pool().clone()) }
    }

    /// The stored keys as a ring: the active key signs, keys retired less than `verify_for` ago
    /// keep verifying. With no active key stored yet, one is generated for `alg` and stored first;
    /// instances doing so at once store one key between them (the others load it).
    ///
    /// A stored key that can't be read back is [`StoreError::Backend`]; a database out of reach
    /// is [`StoreError::Unavailable`].
    pub async fn load_or_generate(
        &self,
        alg: SigningAlgorithm,
        verify_for: Duration,
        now: OffsetDateTime,
    ) -> Result<KeyRing, StoreError> {
        if let Some((active, older)) = self.load(verify_for, now).await? {
            return Ok(KeyRing::with_older(active, older.iter().map(|k| k.public_jwk().clone())));
        }
        let key = SigningKey::generate(alg).map_err(StoreError::backend)?;
        match self.insert(&key, now).await {
            // Another instance stored its key first: use that one.
            Ok(()) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        let (active, older) = self
            .load(verify_for, now)
            .await?
            .ok_or_else(|| StoreError::backend("no active signing key after storing one"))?;
        Ok(KeyRing::with_older(active, older.iter().map(|k| k.public_jwk().clone())))
    }

    /// Rotates: a new key for `alg` signs from now on, the active one is retired at `now` (it keeps
    /// verifying for the `verify_for` window of the next load), both in one transaction; `ring`
    /// takes the new key at once. Other instances take it up at their next
    /// [`refresh`](Self::refresh). Returns the new key's `kid`.
    pub async fn rotate(&self, ring: &KeyRing, alg: SigningAlgorithm, now: OffsetDateTime) -> Result<Kid, StoreError> {
        let key = SigningKey::generate(alg).map_err(StoreError::backend)?;
        let (kid, alg_name, private, at) = row_values(&key, now)?;
        on_pool!(&self.db, "rotate the signing key", pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_key, created_at, retired_at) VALUES ($1, $2, $3, $4, NULL)",
            )
            .bind(&kid)
            .bind(&alg_name)
            .bind(private.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        let new_kid = key.kid().clone();
        ring.rotate(key);
        Ok(new_kid)
    }

    /// Makes `ring` what is stored (the active key, and the keys retired less than `verify_for`
    /// ago): for a periodic task at each instance, so that a rotation made at one reaches all.
    /// Leaves `ring` alone when nothing is stored.
    pub async fn refresh(&self, ring: &KeyRing, verify_for: Duration, now: OffsetDateTime) -> Result<(), StoreError> {
        if let Some((active, older)) = self.load(verify_for, now).await? {
            ring.replace(active, older.iter().map(|k| k.public_jwk().clone()));
        }
        Ok(())
    }

    /// Deletes the keys retired before `before` (no token they signed is still valid): for a
    /// periodic task. Returns how many went.
    pub async fn purge_retired(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let before = micros(before)?;
        on_pool!(&self.db, "purge retired signing keys", pool => async {
            let done = sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
                .bind(before)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// The secret named `name`: `len` random bytes made and stored by whichever instance asks
    /// first, the same bytes for every instance after (e.g. the DPoP nonce secret,
    /// `DpopNonces::from_secret`). A stored value of another length is [`StoreError::Backend`].
    pub async fn shared_secret(
        &self,
        name: &str,
        len: usize,
        now: OffsetDateTime,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut fresh = Zeroizing::new(vec![0u8; len]);
        aws_lc_rs::rand::fill(&mut fresh).map_err(|_| StoreError::backend("the system's random source failed"))?;
        let encoded = Zeroizing::new(BASE64.encode(&*fresh));
        let at = micros(now)?;
        on_pool!(&self.db, "store a shared secret", pool => async {
            sqlx::query(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(encoded.as_str())
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        let stored: (String,) = on_pool!(&self.db, "read a shared secret", pool =>
            sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1").bind(name).fetch_one(pool))?;
        let stored = Zeroizing::new(stored.0);
        let value =
            Zeroizing::new(BASE64.decode(stored.as_bytes()).map_err(|e| corrupt("server_secrets", "value", e))?);
        if value.len() != len {
            return Err(corrupt("server_secrets", "value", format_args!("{} bytes, {len} expected", value.len())));
        }
        Ok(value)
    }

    /// The active key and the keys retired after `now - verify_for` (newest first), or `None`
    /// when no key is active.
    async fn load(
        &self,
        verify_for: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<(SigningKey, Vec<SigningKey>)>, StoreError> {
        let since = micros(now - verify_for)?;
        let rows: Vec<KeyRow> = on_pool!(&self.db, "load the signing keys", pool =>
            sqlx::query_as(
                "SELECT kid, alg, private_key, created_at, retired_at FROM signing_keys \
                 WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid",
            )
            .bind(since)
            .fetch_all(pool))?;
        let mut active = None;
        let mut older = Vec::new();
        for (kid, alg, private, created_at, retired_at) in rows {
            from_micros(TABLE, "created_at", created_at)?;
            let key = read_key(&kid, &alg, &private)?;
            match retired_at {
                None => active = Some(key),
                Some(retired_at) => {
                    from_micros(TABLE, "retired_at", retired_at)?;
                    older.push(key);
                }
            }
        }
        Ok(active.map(|active| (active, older)))
    }

    async fn insert(&self, key: &SigningKey, now: OffsetDateTime) -> Result<(), StoreError> {
        let (kid, alg, private, at) = row_values(key, now)?;
        on_pool!(&self.db, "store a signing key", pool => async {
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_key, created_at, retired_at) VALUES ($1, $2, $3, $4, NULL)",
            )
            .bind(&kid)
            .bind(&alg)
            .bind(private.as_str())
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }
}

/// A key's columns: kid, alg, private key (base64 PKCS#8, wiped on drop), created_at.
fn row_values(key: &SigningKey, now: OffsetDateTime) -> Result<(String, String, Zeroizing<String>, i64), StoreError> {
    Ok((
        key.kid().as_str().to_owned(),
        key.alg().as_str().to_owned(),
        Zeroizing::new(BASE64.encode(key.to_pkcs8())),
        micros(now)?,
    ))
}

/// A stored key, read back.
fn read_key(kid: &str, alg: &str, private: &str) -> Result<SigningKey, StoreError> {
    let alg = SigningAlgorithm::parse(alg).ok_or_else(|| corrupt(TABLE, "alg", format_args!("unknown {alg:?}")))?;
    let kid = Kid::parse(kid).map_err(|e| corrupt(TABLE, "kid", e))?;
    let der = Zeroizing::new(BASE64.decode(private.as_bytes()).map_err(|e| corrupt(TABLE, "private_key", e))?);
    SigningKey::from_pkcs8(alg, &der, Some(kid)).map_err(|e| corrupt(TABLE, "private_key", e))
}
