//! The SQLite stores: every conformance kit, a temporary database file per test, and what a
//! durable store adds (restart, migrations, bad rows, a closed pool).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod store_support;

use std::path::PathBuf;
use std::sync::Arc;

use openbanking_core::jose::SigningAlgorithm;
use openbanking_core::testing::{
    artifact_store_conformance, client_store_conformance, code_store_conformance, consent_store_conformance,
    refresh_token_store_conformance, replay_cache_conformance, revocation_store_conformance, sample_consent,
    sample_pending_authorization, sample_pushed_request, session_store_conformance,
};
use openbanking_core::{ClientId, ConsentId, random_token};
use openbanking_server::store::keys::KeyStore;
use openbanking_server::store::sqlite::SqliteStores;
use openbanking_server::store::{CodeRedemption, StoreError, TokenHash};
use sqlx::Connection;
use time::{Duration, OffsetDateTime};

use store_support::{KEYS_NOW, WINDOW, assert_too_long, sample_family, sample_grant, too_long};

/// A database file under the temporary directory, removed (with its WAL files) when dropped.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        Self { path: std::env::temp_dir().join(format!("openbanking-store-{}.db", random_token(12))) }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    async fn open(&self) -> SqliteStores {
        // Spawned: opening (and migrating) must be a `Send` future, as at an application's start.
        let url = self.url();
        tokio::spawn(async move { SqliteStores::open(&url).await }).await.unwrap().unwrap()
    }

    /// Opened for this process alone, with the hot reads kept in memory.
    async fn open_exclusive(&self) -> SqliteStores {
        let url = self.url();
        tokio::spawn(async move { SqliteStores::open_exclusive(&url).await }).await.unwrap().unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consent_store_conforms() {
    let db = TempDb::new();
    consent_store_conformance(db.open().await.stores().consents).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_store_conforms() {
    let db = TempDb::new();
    client_store_conformance(db.open().await.stores().clients).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn artifact_stores_conform() {
    let db = TempDb::new();
    let stores = db.open().await.stores();
    artifact_store_conformance(stores.pushed_requests, sample_pushed_request).await;
    artifact_store_conformance(stores.interactions, sample_pending_authorization).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_store_conforms() {
    let db = TempDb::new();
    code_store_conformance(db.open().await.stores().codes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_token_store_conforms() {
    let db = TempDb::new();
    refresh_token_store_conformance(db.open().await.stores().refresh_tokens).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_store_conforms() {
    let db = TempDb::new();
    revocation_store_conformance(db.open().await.stores().revocations).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_cache_conforms() {
    let db = TempDb::new();
    replay_cache_conformance(db.open().await.stores().replay).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_store_conforms() {
    let db = TempDb::new();
    session_store_conformance(db.open().await.stores().sessions).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kit_passes_again_on_the_same_file() {
    // The kits share one database as concurrent runs would: nothing of one run disturbs another.
    let db = TempDb::new();
    let stores = db.open().await.stores();
    for _ in 0..2 {
        consent_store_conformance(Arc::clone(&stores.consents)).await;
        code_store_conformance(Arc::clone(&stores.codes)).await;
        refresh_token_store_conformance(Arc::clone(&stores.refresh_tokens)).await;
        replay_cache_conformance(Arc::clone(&stores.replay)).await;
    }
}

#[tokio::test]
async fn data_survives_a_restart_and_migrations_run_twice_are_a_no_op() {
    let db = TempDb::new();
    let consent = sample_consent();
    let consent_id = consent.consent_id().clone();
    let first = db.open().await;
    first.stores().consents.insert(&consent).await.unwrap();
    first.migrate().await.unwrap();
    first.close().await;

    let second = db.open().await;
    second.migrate().await.unwrap();
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(second.pool()).await.unwrap();
    assert_eq!(
        applied, 4,
        "each migration (0001 stores, 0002 code clients, 0003 signing keys, 0004 replay log) applied once"
    );
    assert_eq!(second.stores().consents.get(&consent_id).await.unwrap(), Some(consent));
    second.close().await;
}

#[tokio::test]
async fn a_corrupt_row_is_a_backend_error_not_a_panic() {
    let db = TempDb::new();
    let sqlite = db.open().await;
    let pool = sqlite.pool();
    sqlx::query("INSERT INTO clients (client_id, body) VALUES ('broken', '{not json')").execute(pool).await.unwrap();
    let err = sqlite.stores().clients.get(&ClientId::parse("broken").unwrap()).await.unwrap_err();
    let StoreError::Backend(cause) = err else { panic!("expected Backend, got {err:?}") };
    assert!(cause.to_string().contains("clients"), "the cause names the table: {cause}");

    // Well-formed JSON of the wrong shape, alike.
    sqlx::query(
        "INSERT INTO consents (consent_id, client_id, psu_id, status, created_at, version, body) \
         VALUES ('odd', 'tpp', NULL, 'Authorised', 0, -1, '{\"ConsentId\": 3}')",
    )
    .execute(pool)
    .await
    .unwrap();
    let err = sqlite.stores().consents.get(&ConsentId::parse("odd").unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let code = TokenHash::of("code");
    sqlx::query(
        "INSERT INTO codes (hash, grant_body, expires_at, used, purge_at, client_id) VALUES ($1, '[]', $2, 0, $2, 'tpp')",
    )
    .bind(code.as_str())
    .bind(i64::MAX)
    .execute(pool)
    .await
    .unwrap();
    let err = sqlite.stores().codes.find(&code, OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let tpp = ClientId::parse("tpp").unwrap();
    let err = sqlite.stores().codes.redeem(&code, &tpp, OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    sqlite.close().await;
}

/// A value of a column read into an identifier newtype, or of an identifier inside a JSON column,
/// longer than the newtype allows: the read is a backend error naming the table, the column and
/// why (not a panic, not `Ok`), and the oversized value is not echoed.
#[tokio::test]
async fn a_value_too_long_for_its_type_is_a_backend_error_naming_the_column() {
    let db = TempDb::new();
    let sqlite = db.open().await;
    let (pool, stores) = (sqlite.pool(), sqlite.stores());
    let now = OffsetDateTime::now_utc();

    // A column read straight into a `Jti`: an access token issued from a refresh family.
    let (family, token) = sample_family(now);
    stores.refresh_tokens.create(family.clone(), &token, now).await.unwrap();
    let changed = sqlx::query("UPDATE refresh_access_tokens SET jti = $1 WHERE family_id = $2")
        .bind(too_long())
        .bind(&family.id)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    let err = stores.refresh_tokens.find(&token, now).await.unwrap_err();
    assert_too_long(err, "`refresh_access_tokens`, column `jti`");
    let err = stores.refresh_tokens.revoke_family(&family.id, now).await.unwrap_err();
    assert_too_long(err, "`refresh_access_tokens`, column `jti`");

    // An identifier inside a JSON column: the consent's own id in its body.
    let consent = sample_consent();
    stores.consents.insert(&consent).await.unwrap();
    sqlx::query("UPDATE consents SET body = replace(body, $1, $2) WHERE consent_id = $1")
        .bind(consent.consent_id().as_str())
        .bind(too_long())
        .execute(pool)
        .await
        .unwrap();
    let err = stores.consents.get(consent.consent_id()).await.unwrap_err();
    assert_too_long(err, "`consents`, column `body`");
    sqlite.close().await;
}

#[tokio::test]
async fn a_file_is_opened_in_wal_mode_with_a_busy_timeout() {
    for exclusive in [false, true] {
        let db = TempDb::new();
        let sqlite = if exclusive { db.open_exclusive().await } else { db.open().await };
        // Each connection of the pool (held at once, so they are distinct).
        let mut held = Vec::new();
        for _ in 0..sqlite.pool().options().get_max_connections().min(3) {
            held.push(sqlite.pool().acquire().await.unwrap());
        }
        for conn in &mut held {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(mode, "wal", "exclusive: {exclusive}");
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(busy, 5_000, "the 5 s busy timeout `open` documents (exclusive: {exclusive})");
        }
        drop(held);
        sqlite.close().await;
        // WAL is kept in the file: a connection that asks for no journal mode finds it.
        let mut plain = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut plain).await.unwrap();
        assert_eq!(mode, "wal", "exclusive: {exclusive}");
        plain.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_closed_pool_is_unavailable() {
    let db = TempDb::new();
    let sqlite = db.open().await;
    let stores = sqlite.stores();
    sqlite.close().await;
    let err = stores.consents.get(&ConsentId::parse("any").unwrap()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let now = OffsetDateTime::now_utc();
    let err = stores.codes.redeem(&TokenHash::of("x"), &ClientId::parse("tpp").unwrap(), now).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(stores.replay.first_use("k", now + Duration::minutes(1), now).await.is_err(), "refused, not accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_file_redeem_a_code_once() {
    let db = TempDb::new();
    let (a, b) = (db.open().await.stores().codes, db.open().await.stores().codes);
    let now = OffsetDateTime::now_utc();
    for _ in 0..20 {
        let (code, grant) = (TokenHash::of(&random_token(32)), sample_grant());
        let client = grant.client_id.clone();
        a.insert(&code, grant, now + Duration::minutes(1), now).await.unwrap();
        let (x, y) = tokio::join!(
            tokio::spawn({
                let (a, code, client) = (Arc::clone(&a), code.clone(), client.clone());
                async move { a.redeem(&code, &client, now).await }
            }),
            tokio::spawn({
                let (b, code, client) = (Arc::clone(&b), code.clone(), client.clone());
                async move { b.redeem(&code, &client, now).await }
            }),
        );
        let firsts =
            [x.unwrap().unwrap(), y.unwrap().unwrap()].iter().filter(|r| matches!(r, CodeRedemption::First(_))).count();
        assert_eq!(firsts, 1);
    }
}

#[tokio::test]
async fn purge_expired_clears_what_has_expired() {
    let db = TempDb::new();
    let sqlite = db.open().await;
    let stores = sqlite.stores();
    let now = OffsetDateTime::now_utc();
    for i in 0..10 {
        stores.replay.first_use(&format!("k{i}"), now + Duration::seconds(1), now).await.unwrap();
        stores
            .pushed_requests
            .put(&format!("p{i}"), sample_pushed_request(), now + Duration::seconds(1), now)
            .await
            .unwrap();
    }
    assert!(stores.replay.first_use("live", now + Duration::hours(1), now).await.unwrap());
    assert_eq!(sqlite.purge_expired(now + Duration::seconds(2)).await.unwrap(), 20);
    assert!(!stores.replay.first_use("live", now + Duration::hours(1), now).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kit_passes_on_a_file_opened_exclusively() {
    let db = TempDb::new();
    let sqlite = db.open_exclusive().await;
    let stores = sqlite.stores();
    for _ in 0..2 {
        consent_store_conformance(Arc::clone(&stores.consents)).await;
        client_store_conformance(Arc::clone(&stores.clients)).await;
        artifact_store_conformance(Arc::clone(&stores.pushed_requests), sample_pushed_request).await;
        artifact_store_conformance(Arc::clone(&stores.interactions), sample_pending_authorization).await;
        code_store_conformance(Arc::clone(&stores.codes)).await;
        refresh_token_store_conformance(Arc::clone(&stores.refresh_tokens)).await;
        revocation_store_conformance(Arc::clone(&stores.revocations)).await;
        replay_cache_conformance(Arc::clone(&stores.replay)).await;
        session_store_conformance(Arc::clone(&stores.sessions)).await;
    }
    sqlite.close().await;
}

#[tokio::test]
async fn a_file_opened_exclusively_is_refused_to_another_opener_until_it_is_closed() {
    let db = TempDb::new();
    let held = db.open_exclusive().await;
    let url = db.url();
    let second = tokio::spawn(async move { SqliteStores::open(&url).await }).await.unwrap();
    let err = second.expect_err("a second opener got a file held exclusively");
    assert!(err.is_unavailable(), "busy past the timeout is unavailable: {err:?}");
    held.close().await;
    let reopened = db.open_exclusive().await;
    reopened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_hot_reads_of_an_exclusive_file_see_each_write_at_once_through_any_bundle() {
    let db = TempDb::new();
    let sqlite = db.open_exclusive().await;
    // Two bundles of one database, as a bank hands one to its authorization server and another
    // to its consent API: a write through either is read at once through the other.
    let (a, b) = (sqlite.stores(), sqlite.stores());
    let consent = sample_consent();
    let id = consent.consent_id().clone();
    assert_eq!(b.consents.get(&id).await.unwrap(), None);
    a.consents.insert(&consent).await.unwrap();
    assert_eq!(b.consents.get(&id).await.unwrap(), Some(consent.clone()), "an absence read before is not kept");
    assert_eq!(b.consents.get(&id).await.unwrap(), Some(consent.clone()), "now kept");
    let mut rejected = consent.clone();
    rejected.reject(OffsetDateTime::now_utc()).unwrap();
    let rejected = a.consents.update(&rejected, consent.version()).await.unwrap();
    assert_eq!(b.consents.get(&id).await.unwrap(), Some(rejected), "the update drops the kept consent");

    let jti = openbanking_core::Jti::parse(random_token(16)).unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(!b.revocations.is_revoked(&jti).await.unwrap());
    a.revocations.revoke(&jti, now + Duration::minutes(5), now).await.unwrap();
    assert!(b.revocations.is_revoked(&jti).await.unwrap(), "a revocation is seen at once");
    sqlite.close().await;
}

#[tokio::test]
async fn an_exclusive_file_keeps_its_hot_reads_in_memory_and_forgets_them_when_closed() {
    let db = TempDb::new();
    let sqlite = db.open_exclusive().await;
    let stores = sqlite.stores();
    let consent = sample_consent();
    let id = consent.consent_id().clone();
    stores.consents.insert(&consent).await.unwrap();
    assert_eq!(stores.consents.get(&id).await.unwrap(), Some(consent.clone()));
    // Behind the stores' back (which `open_exclusive` documents as unsupported), to show where the
    // answer comes from: the kept consent, until a store writes it.
    sqlx::query("DELETE FROM consents WHERE consent_id = $1").bind(id.as_str()).execute(sqlite.pool()).await.unwrap();
    assert_eq!(stores.consents.get(&id).await.unwrap(), Some(consent), "the read was answered from memory");
    // Closed, nothing is answered from memory any more: an outage is an outage.
    sqlite.close().await;
    let err = stores.consents.get(&id).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn a_used_key_is_refused_after_a_restart_whichever_way_the_file_is_opened() {
    let db = TempDb::new();
    let now = OffsetDateTime::now_utc();
    let live = now + Duration::minutes(5);
    // Used while the file was held by one process (decided in memory, logged).
    let held = db.open_exclusive().await;
    assert!(held.stores().replay.first_use("held-key", live, now).await.unwrap());
    assert!(!held.stores().replay.first_use("held-key", live, now).await.unwrap(), "a second bundle, the same memory");
    held.close().await;
    // Read back by the next exclusive opening.
    let again = db.open_exclusive().await;
    assert!(!again.stores().replay.first_use("held-key", live, now).await.unwrap(), "read back from the log");
    assert!(again.stores().replay.first_use("another-key", live, now).await.unwrap());
    again.close().await;
    // Opened shared: the log is folded into the table every process checks.
    let shared = db.open().await;
    let replay = shared.stores().replay;
    assert!(!replay.first_use("held-key", live, now).await.unwrap(), "folded into the replay table");
    assert!(!replay.first_use("another-key", live, now).await.unwrap());
    assert!(replay.first_use("shared-key", live, now).await.unwrap());
    shared.close().await;
    // And a key used while shared is read back when held again.
    let held = db.open_exclusive().await;
    assert!(!held.stores().replay.first_use("shared-key", live, now).await.unwrap(), "read back from the table");
    // An expired key is taken over, as everywhere.
    assert!(
        held.stores()
            .replay
            .first_use("held-key", live + Duration::minutes(5), live + Duration::seconds(1))
            .await
            .unwrap()
    );
    held.close().await;
}

/// `close()` returns with no connection left open, however busy the pool was: otherwise the next
/// process (or an exclusive opening, as above) finds the file still held. In sqlx a connection on
/// its way back when the pool closes could slip into the idle queue and stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_lets_go_of_every_connection_even_those_on_their_way_back() {
    let db = TempDb::new();
    let now = OffsetDateTime::now_utc();
    let live = now + Duration::minutes(5);
    for round in 0..20 {
        let sqlite = db.open().await;
        let replay = sqlite.stores().replay;
        let uses: Vec<_> = (0..8)
            .map(|i| {
                let replay = Arc::clone(&replay);
                tokio::spawn(async move { replay.first_use(&format!("key-{round}-{i}"), live, now).await.unwrap() })
            })
            .collect();
        for used in uses {
            assert!(used.await.unwrap(), "a new key is accepted");
        }
        sqlite.close().await;
        assert_eq!(sqlite.pool().size(), 0, "round {round}: a connection was left open");
    }
    // And so the file can be held at once.
    db.open_exclusive().await.close().await;
}

#[tokio::test]
async fn purging_an_exclusive_file_forgets_the_revocations_it_kept() {
    let db = TempDb::new();
    let sqlite = db.open_exclusive().await;
    let stores = sqlite.stores();
    let now = OffsetDateTime::now_utc();
    let jti = openbanking_core::Jti::parse(random_token(16)).unwrap();
    stores.revocations.revoke(&jti, now, now).await.unwrap();
    assert!(stores.revocations.is_revoked(&jti).await.unwrap());
    assert!(sqlite.purge_expired(now + Duration::days(1)).await.unwrap() >= 1);
    assert!(!stores.revocations.is_revoked(&jti).await.unwrap(), "the purged revocation is not kept");
    sqlite.close().await;
}

#[tokio::test]
async fn the_key_survives_a_reopen_and_rotation_keeps_the_old_key_verifying_for_the_window() {
    let db = TempDb::new();
    let sqlite = db.open().await;
    let (first, signed) = store_support::a_key_is_made_and_signs(&KeyStore::sqlite(&sqlite)).await;
    sqlite.close().await;

    let sqlite = db.open().await;
    store_support::a_reopened_key_store_keeps_the_key_and_rotates(&KeyStore::sqlite(&sqlite), &first, &signed).await;
    sqlite.close().await;
}

#[tokio::test]
async fn a_shared_secret_is_made_once() {
    let db = TempDb::new();
    let now = KEYS_NOW;
    let sqlite = db.open().await;
    let store = KeyStore::sqlite(&sqlite);
    let first = store.shared_secret("dpop_nonce", 32, now).await.unwrap();
    let second = store.shared_secret("dpop_nonce", 32, now).await.unwrap();
    assert_eq!(first.len(), 32);
    assert_eq!(*first, *second);
    assert_ne!(*store.shared_secret("other", 32, now).await.unwrap(), *first);
    assert!(matches!(store.shared_secret("dpop_nonce", 16, now).await, Err(StoreError::Backend { .. })));
    sqlite.close().await;
}

#[tokio::test]
async fn a_corrupt_key_row_is_a_backend_error() {
    let db = TempDb::new();
    let now = KEYS_NOW;
    let sqlite = db.open().await;
    sqlx::query("INSERT INTO signing_keys VALUES ('k1', 'ES256', 'bm90IGEga2V5', 0, NULL)")
        .execute(sqlite.pool())
        .await
        .unwrap();
    let loaded = KeyStore::sqlite(&sqlite).load_or_generate(SigningAlgorithm::ES256, WINDOW, now).await;
    assert!(matches!(loaded, Err(StoreError::Backend { .. })));
    sqlite.close().await;
}
