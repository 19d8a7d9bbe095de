//! The PostgreSQL stores (feature `postgres`): every conformance kit, each test in a fresh random
//! schema of the server named by `OPENBANKING_TEST_POSTGRES_URL` (dropped after), and what a
//! shared durable store adds (two instances racing, restart, migrations, bad rows, a closed pool).
//! Without the variable, each test says it was skipped and passes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod store_support;

use std::future::Future;
use std::sync::Arc;

use openbanking_core::jose::SigningAlgorithm;
use openbanking_core::testing::{
    artifact_store_conformance, client_store_conformance, code_store_conformance, consent_store_conformance,
    refresh_token_store_conformance, replay_cache_conformance, revocation_store_conformance, sample_consent,
    sample_pending_authorization, sample_pushed_request, session_store_conformance,
};
use openbanking_core::{ClientId, ConsentId, random_token};
use openbanking_server::store::keys::KeyStore;
use openbanking_server::store::postgres::PostgresStores;
use openbanking_server::store::{CodeRedemption, StoreError, TokenHash};
use sqlx::Connection;
use time::{Duration, OffsetDateTime};

use store_support::{KEYS_NOW, WINDOW, assert_too_long, sample_family, sample_grant, too_long};

const URL_VAR: &str = "OPENBANKING_TEST_POSTGRES_URL";

fn url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped: {URL_VAR} is not set");
    }
    url
}

/// Runs `test` with the URL and a fresh schema, then drops the schema, whether the test passed
/// or not.
async fn in_fresh_schema<F, Fut>(test: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = url() else { return };
    let schema = format!("ob_test_{}", random_token(12).to_ascii_lowercase().replace('-', "_"));
    let outcome = tokio::spawn(test(url.clone(), schema.clone())).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    if let Err(failed) = outcome {
        std::panic::resume_unwind(failed.into_panic());
    }
}

async fn connect(url: &str, schema: &str) -> PostgresStores {
    PostgresStores::connect(url, Some(schema)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consent_store_conforms() {
    in_fresh_schema(|url, schema| async move {
        consent_store_conformance(connect(&url, &schema).await.stores().consents).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_store_conforms() {
    in_fresh_schema(|url, schema| async move {
        client_store_conformance(connect(&url, &schema).await.stores().clients).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn artifact_stores_conform() {
    in_fresh_schema(|url, schema| async move {
        let stores = connect(&url, &schema).await.stores();
        artifact_store_conformance(stores.pushed_requests, sample_pushed_request).await;
        artifact_store_conformance(stores.interactions, sample_pending_authorization).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_store_conforms() {
    in_fresh_schema(|url, schema| async move {
        code_store_conformance(connect(&url, &schema).await.stores().codes).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_token_store_conforms() {
    in_fresh_schema(|url, schema| async move {
        refresh_token_store_conformance(connect(&url, &schema).await.stores().refresh_tokens).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_store_conforms() {
    in_fresh_schema(|url, schema| async move {
        revocation_store_conformance(connect(&url, &schema).await.stores().revocations).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_cache_conforms() {
    in_fresh_schema(|url, schema| async move {
        replay_cache_conformance(connect(&url, &schema).await.stores().replay).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_store_conforms() {
    in_fresh_schema(|url, schema| async move {
        session_store_conformance(connect(&url, &schema).await.stores().sessions).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_in_one_schema_pass_every_racing_kit_at_once() {
    // Two pools on one schema, as two instances: the kits race across them.
    in_fresh_schema(|url, schema| async move {
        let (a, b) = (connect(&url, &schema).await.stores(), connect(&url, &schema).await.stores());
        tokio::join!(
            consent_store_conformance(Arc::clone(&a.consents)),
            consent_store_conformance(Arc::clone(&b.consents)),
            code_store_conformance(Arc::clone(&a.codes)),
            code_store_conformance(Arc::clone(&b.codes)),
            refresh_token_store_conformance(Arc::clone(&a.refresh_tokens)),
            refresh_token_store_conformance(Arc::clone(&b.refresh_tokens)),
            replay_cache_conformance(Arc::clone(&a.replay)),
            replay_cache_conformance(Arc::clone(&b.replay)),
            artifact_store_conformance(Arc::clone(&a.pushed_requests), sample_pushed_request),
            artifact_store_conformance(Arc::clone(&b.pushed_requests), sample_pushed_request),
        );
        let now = OffsetDateTime::now_utc();
        for _ in 0..20 {
            let (code, grant) = (TokenHash::of(&random_token(32)), sample_grant());
            let client = grant.client_id.clone();
            a.codes.insert(&code, grant, now + Duration::minutes(1), now).await.unwrap();
            let (x, y) = tokio::join!(
                tokio::spawn({
                    let (codes, code, client) = (Arc::clone(&a.codes), code.clone(), client.clone());
                    async move { codes.redeem(&code, &client, now).await.unwrap() }
                }),
                tokio::spawn({
                    let (codes, code, client) = (Arc::clone(&b.codes), code.clone(), client.clone());
                    async move { codes.redeem(&code, &client, now).await.unwrap() }
                }),
            );
            let firsts = [x.unwrap(), y.unwrap()].iter().filter(|r| matches!(r, CodeRedemption::First(_))).count();
            assert_eq!(firsts, 1);
        }
    })
    .await;
}

/// Replay keys are written in batches (group commit). Two instances receiving the same keys at
/// once, in opposite orders (a replay sent to both), must neither both accept a key nor deadlock:
/// a deadlock would fail every honest key of the aborted batch with 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_batching_the_same_replay_keys_accept_each_once_without_errors() {
    in_fresh_schema(|url, schema| async move {
        let (a, b) = (connect(&url, &schema).await.stores().replay, connect(&url, &schema).await.stores().replay);
        let now = OffsetDateTime::now_utc();
        for round in 0..20 {
            let keys: Vec<String> = (0..32).map(|i| format!("race-{round}-{i}")).collect();
            let mut tasks = Vec::new();
            for (cache, reversed) in [(&a, false), (&b, true), (&a, true), (&b, false)] {
                let ordered: Vec<String> = if reversed { keys.iter().rev().cloned().collect() } else { keys.clone() };
                for key in ordered {
                    let cache = Arc::clone(cache);
                    tasks.push(tokio::spawn(async move {
                        let fresh = cache.first_use(&key, now + Duration::minutes(1), now).await;
                        (key, fresh)
                    }));
                }
            }
            let mut accepted = std::collections::HashMap::<String, usize>::new();
            for task in tasks {
                let (key, fresh) = task.await.unwrap();
                if fresh.expect("no batch fails (no deadlock between instances)") {
                    *accepted.entry(key).or_default() += 1;
                }
            }
            assert_eq!(accepted.len(), keys.len(), "every key accepted once, round {round}");
            assert!(accepted.values().all(|n| *n == 1), "no key accepted twice, round {round}");
        }
    })
    .await;
}

#[tokio::test]
async fn data_survives_a_reconnect_and_migrations_run_twice_are_a_no_op() {
    in_fresh_schema(|url, schema| async move {
        let first = connect(&url, &schema).await;
        let client_id = ClientId::parse(format!("tpp-{}", random_token(8))).unwrap();
        sqlx::query("INSERT INTO clients (client_id, body) VALUES ($1, '{}')")
            .bind(client_id.as_str())
            .execute(first.pool())
            .await
            .unwrap();
        first.migrate().await.unwrap();
        first.close().await;

        let second = connect(&url, &schema).await;
        second.migrate().await.unwrap();
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(second.pool()).await.unwrap();
        assert_eq!(
            applied, 4,
            "each migration (0001 stores, 0002 code clients, 0003 signing keys, 0004 change notices) applied once"
        );
        assert!(second.stores().clients.delete(&client_id).await.unwrap(), "the row written before is there");
        second.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_corrupt_row_is_a_backend_error_not_a_panic() {
    in_fresh_schema(|url, schema| async move {
        let postgres = connect(&url, &schema).await;
        let pool = postgres.pool();
        sqlx::query("INSERT INTO clients (client_id, body) VALUES ('broken', '{not json')")
            .execute(pool)
            .await
            .unwrap();
        let err = postgres.stores().clients.get(&ClientId::parse("broken").unwrap()).await.unwrap_err();
        let StoreError::Backend(cause) = err else { panic!("expected Backend, got {err:?}") };
        assert!(cause.to_string().contains("clients"), "the cause names the table: {cause}");

        sqlx::query(
            "INSERT INTO consents (consent_id, client_id, psu_id, status, created_at, version, body) \
             VALUES ('odd', 'tpp', NULL, 'Authorised', 0, -1, '{\"ConsentId\": 3}')",
        )
        .execute(pool)
        .await
        .unwrap();
        let err = postgres.stores().consents.get(&ConsentId::parse("odd").unwrap()).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        let code = TokenHash::of("code");
        sqlx::query(
            "INSERT INTO codes (hash, grant_body, expires_at, used, purge_at, client_id) \
             VALUES ($1, '[]', $2, FALSE, $2, 'tpp')",
        )
        .bind(code.as_str())
        .bind(i64::MAX)
        .execute(pool)
        .await
        .unwrap();
        let err = postgres.stores().codes.find(&code, OffsetDateTime::now_utc()).await.unwrap_err();
        let StoreError::Backend(cause) = err else { panic!("expected Backend, got {err:?}") };
        assert!(cause.to_string().contains("`codes`, column `grant_body`"), "the cause names the column: {cause}");
        let tpp = ClientId::parse("tpp").unwrap();
        let err = postgres.stores().codes.redeem(&code, &tpp, OffsetDateTime::now_utc()).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        postgres.close().await;
    })
    .await;
}

/// A value of a column read into an identifier newtype, or of an identifier inside a JSON column,
/// longer than the newtype allows: the read is a backend error naming the table, the column and
/// why (not a panic, not `Ok`), and the oversized value is not echoed.
#[tokio::test]
async fn a_value_too_long_for_its_type_is_a_backend_error_naming_the_column() {
    in_fresh_schema(|url, schema| async move {
        let postgres = connect(&url, &schema).await;
        let (pool, stores) = (postgres.pool(), postgres.stores());
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
        postgres.close().await;
    })
    .await;
}

#[tokio::test]
async fn purge_expired_clears_what_has_expired() {
    in_fresh_schema(|url, schema| async move {
        let postgres = connect(&url, &schema).await;
        let stores = postgres.stores();
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
        assert_eq!(postgres.purge_expired(now + Duration::seconds(2)).await.unwrap(), 20);
        assert!(!stores.replay.first_use("live", now + Duration::hours(1), now).await.unwrap());
        assert_eq!(stores.pushed_requests.get("p0", now).await.unwrap(), None, "deleted, not just expired");
        postgres.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_key_survives_a_reconnect_and_rotation_keeps_the_old_key_verifying_for_the_window() {
    in_fresh_schema(|url, schema| async move {
        let postgres = connect(&url, &schema).await;
        let (first, signed) = store_support::a_key_is_made_and_signs(&KeyStore::postgres(&postgres)).await;
        postgres.close().await;

        let postgres = connect(&url, &schema).await;
        store_support::a_reopened_key_store_keeps_the_key_and_rotates(&KeyStore::postgres(&postgres), &first, &signed)
            .await;
        postgres.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_shared_secret_is_made_once() {
    in_fresh_schema(|url, schema| async move {
        let now = KEYS_NOW;
        let postgres = connect(&url, &schema).await;
        let store = KeyStore::postgres(&postgres);
        let first = store.shared_secret("dpop_nonce", 32, now).await.unwrap();
        // Another instance (another pool on the schema) gets the same bytes.
        let other = connect(&url, &schema).await;
        let second = KeyStore::postgres(&other).shared_secret("dpop_nonce", 32, now).await.unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(*first, *second);
        assert_ne!(*store.shared_secret("other", 32, now).await.unwrap(), *first);
        assert!(matches!(store.shared_secret("dpop_nonce", 16, now).await, Err(StoreError::Backend { .. })));
        other.close().await;
        postgres.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_corrupt_key_row_is_a_backend_error() {
    in_fresh_schema(|url, schema| async move {
        let now = KEYS_NOW;
        let postgres = connect(&url, &schema).await;
        sqlx::query("INSERT INTO signing_keys VALUES ('k1', 'ES256', 'bm90IGEga2V5', 0, NULL)")
            .execute(postgres.pool())
            .await
            .unwrap();
        let loaded = KeyStore::postgres(&postgres).load_or_generate(SigningAlgorithm::ES256, WINDOW, now).await;
        let Err(StoreError::Backend(cause)) = loaded else { panic!("expected Backend, got {loaded:?}") };
        assert!(cause.to_string().contains("`signing_keys`, column `private_key`"), "{cause}");
        postgres.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_closed_pool_or_an_unreachable_server_is_unavailable() {
    in_fresh_schema(|url, schema| async move {
        let postgres = connect(&url, &schema).await;
        let stores = postgres.stores();
        postgres.close().await;
        let err = stores.consents.get(&ConsentId::parse("any").unwrap()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        let now = OffsetDateTime::now_utc();
        let tpp = ClientId::parse("tpp").unwrap();
        assert!(stores.codes.redeem(&TokenHash::of("x"), &tpp, now).await.unwrap_err().is_unavailable());
        assert!(stores.replay.first_use("k", now + Duration::minutes(1), now).await.is_err(), "refused, not accepted");

        // Nothing listens on port 1.
        let err = PostgresStores::connect("postgres://postgres@127.0.0.1:1/none", None).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn a_bad_schema_name_is_refused() {
    let Some(url) = url() else { return };
    let err = PostgresStores::connect(&url, Some("x\"; DROP TABLE y; --")).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

/// Polls `read` until it returns `want`, for at most `within`; returns how long it took.
async fn seen_within<F, Fut, T>(within: std::time::Duration, want: T, mut read: F) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
    T: PartialEq + std::fmt::Debug,
{
    let started = std::time::Instant::now();
    loop {
        let got = read().await;
        if got == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "still {got:?} after {within:?}, expected {want:?}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_at_one_instance_is_heard_at_the_other_within_a_second() {
    in_fresh_schema(|url, schema| async move {
        // B keeps only its stores, as a bank that writes `connect(…).await?.stores()`: its
        // listener runs as long as they do.
        let a = connect(&url, &schema).await;
        let (at_a, at_b) = (a.stores(), connect(&url, &schema).await.stores());
        let consent = sample_consent();
        let id = consent.consent_id().clone();
        assert_eq!(at_b.consents.get(&id).await.unwrap(), None, "B reads the absence (an absence is not kept)");
        at_a.consents.insert(&consent).await.unwrap();
        let second = std::time::Duration::from_secs(1);
        seen_within(second, Some(consent.clone()), || async { at_b.consents.get(&id).await.unwrap() }).await;
        assert_eq!(at_b.consents.get(&id).await.unwrap(), Some(consent.clone()), "B keeps it");
        let mut rejected = consent.clone();
        rejected.reject(OffsetDateTime::now_utc()).unwrap();
        let rejected = at_a.consents.update(&rejected, consent.version()).await.unwrap();
        seen_within(second, Some(rejected), || async { at_b.consents.get(&id).await.unwrap() }).await;

        let jti = openbanking_core::Jti::parse(random_token(16)).unwrap();
        let now = OffsetDateTime::now_utc();
        assert!(!at_b.revocations.is_revoked(&jti).await.unwrap());
        at_a.revocations.revoke(&jti, now + Duration::minutes(5), now).await.unwrap();
        seen_within(second, true, || async { at_b.revocations.is_revoked(&jti).await.unwrap() }).await;
        a.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_hot_reads_are_kept_while_listening_and_forgotten_when_the_listener_is_lost() {
    in_fresh_schema(|url, schema| async move {
        let named = named(&url, &schema);
        let postgres = connect(&named, &schema).await;
        let stores = postgres.stores();
        let jti = openbanking_core::Jti::parse(random_token(16)).unwrap();
        assert!(!stores.revocations.is_revoked(&jti).await.unwrap());
        // A row written with the trigger off (so that no notice is sent), to show where the
        // answer comes from: the kept one, while the listener hears nothing of the change.
        let pool = postgres.pool();
        let silently = |sql: &'static str| async move { sqlx::raw_sql(sql).execute(pool).await.unwrap() };
        silently("ALTER TABLE revocations DISABLE TRIGGER revocations_announce_change").await;
        sqlx::query("INSERT INTO revocations (jti, purge_at) VALUES ($1, $2)")
            .bind(jti.as_str())
            .bind(i64::MAX)
            .execute(pool)
            .await
            .unwrap();
        silently("ALTER TABLE revocations ENABLE TRIGGER revocations_announce_change").await;
        assert!(!stores.revocations.is_revoked(&jti).await.unwrap(), "the read was answered from memory");

        // The listening connection is killed: notices may have been lost, so nothing kept is
        // trusted any more, and the row is read from the database.
        let killed: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND query LIKE 'LISTEN %'",
        )
        .bind(&schema)
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(killed >= 1, "no listening connection found");
        seen_within(std::time::Duration::from_secs(3), true, || async {
            stores.revocations.is_revoked(&jti).await.unwrap_or(false)
        })
        .await;
        postgres.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_listening_connection_goes_back_when_the_last_store_is_dropped() {
    in_fresh_schema(|url, schema| async move {
        let named = named(&url, &schema);
        let mut watcher = sqlx::PgConnection::connect(&url).await.unwrap();
        let stores = connect(&named, &schema).await.stores();
        assert_eq!(listening(&mut watcher, &schema).await, 1, "one connection listens while the stores live");
        drop(stores);
        let started = std::time::Instant::now();
        while listening(&mut watcher, &schema).await > 0 {
            assert!(started.elapsed() < std::time::Duration::from_secs(3), "the listener outlived its stores");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        watcher.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_pool_of_one_connection_keeps_it_for_queries_and_still_hears_changes() {
    in_fresh_schema(|url, schema| async move {
        // An integrator's pool of one connection: the listener must not take it.
        PostgresStores::connect(&url, Some(&schema)).await.unwrap().close().await; // creates the schema
        let options =
            url.parse::<sqlx::postgres::PgConnectOptions>().unwrap().options([("search_path", schema.as_str())]);
        let one = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(2))
            .connect_with(options)
            .await
            .unwrap();
        let small = PostgresStores::from_pool(one).await.unwrap();
        let other = connect(&url, &schema).await;
        let (at_small, at_other) = (small.stores(), other.stores());
        let consent = sample_consent();
        at_small.consents.insert(&consent).await.unwrap();
        assert_eq!(at_small.consents.get(consent.consent_id()).await.unwrap(), Some(consent.clone()));
        let mut rejected = consent.clone();
        rejected.reject(OffsetDateTime::now_utc()).unwrap();
        let rejected = at_other.consents.update(&rejected, consent.version()).await.unwrap();
        seen_within(std::time::Duration::from_secs(1), Some(rejected), || async {
            at_small.consents.get(consent.consent_id()).await.unwrap()
        })
        .await;
        small.close().await;
        other.close().await;
    })
    .await;
}

/// `url` with its connections named `name` (`application_name`), so that a test finds its own
/// listening connection among other tests'.
fn named(url: &str, name: &str) -> String {
    format!("{url}{}application_name={name}", if url.contains('?') { '&' } else { '?' })
}

/// How many connections named `name` are listening.
async fn listening(conn: &mut sqlx::PgConnection, name: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'")
        .bind(name)
        .fetch_one(conn)
        .await
        .unwrap()
}
