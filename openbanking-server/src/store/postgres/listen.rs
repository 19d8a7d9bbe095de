//! How an instance hears of the changes other instances make to the rows it keeps in memory (its
//! hot reads: consents, clients, revocations; see `store/cache.rs`).
//!
//! Migration `0004_change_notices.sql` has a trigger announce every change of those rows on the
//! channel [`CHANNEL`], delivered when the change commits. Each instance holds one connection
//! that listens there and drops the key each notice names. So a consent revoked at one instance
//! is dropped at every other within the notice's delivery (milliseconds on one network), well
//! inside the second the contract allows; until then, a read there may still see the consent as
//! it was the moment before.
//!
//! A notice can only be missed while the listening connection is down, so from the moment it is
//! lost until it listens again the caches are not used at all ([`HotReads::set_live`]), and
//! everything they held is forgotten.
//!
//! The listener lives as long as the caches it serves: the stores handed out hold them, so a
//! bank may drop its `PostgresStores` once it has taken its stores (as in
//! `PostgresStores::connect(…).await?.stores()`). When the last store is dropped, the caches
//! stop the listener, and its connection goes back.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use super::err;
use crate::store::StoreError;
use crate::store::cache::HotReads;

/// The channel the triggers announce changes on.
pub(super) const CHANNEL: &str = "openbanking_changes";

/// How long to wait before listening again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Subscribes a connection of `pool` to [`CHANNEL`], makes `hot` live, and spawns the task that
/// applies the notices of `schema` to it (and resubscribes after a lost connection) for as long
/// as `hot` is in use.
pub(super) async fn listen(pool: &PgPool, schema: String, hot: &Arc<HotReads>) -> Result<(), StoreError> {
    let listener = subscribe(pool).await?;
    hot.set_live(true);
    let task = tokio::spawn(run(pool.clone(), schema, Arc::downgrade(hot), listener));
    hot.stop_with(task.abort_handle());
    Ok(())
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, StoreError> {
    let mut listener = PgListener::connect_with(pool).await.map_err(|e| err("connect the change listener", e))?;
    listener.listen(CHANNEL).await.map_err(|e| err("listen for changes", e))?;
    Ok(listener)
}

async fn run(pool: PgPool, schema: String, hot: Weak<HotReads>, mut listener: PgListener) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notice)) => {
                let Some(hot) = hot.upgrade() else { return };
                apply(&hot, &schema, notice.payload());
            }
            Ok(None) => {
                // Lost and already listening again (sqlx reconnects before it says so): what was
                // announced in between is lost, so forget everything, and go on.
                tracing::warn!("the change listener's connection was lost; the hot reads start afresh");
                let Some(hot) = hot.upgrade() else { return };
                hot.set_live(false);
                hot.set_live(true);
            }
            Err(e) => {
                let Some(live) = hot.upgrade() else { return };
                live.set_live(false);
                drop(live);
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "the change listener failed; the hot reads go to the database until it listens again");
                listener = loop {
                    tokio::time::sleep(RETRY).await;
                    if pool.is_closed() {
                        return;
                    }
                    match subscribe(&pool).await {
                        Ok(listener) => break listener,
                        Err(e) => tracing::warn!(error = %e, "listening for changes failed again"),
                    }
                };
                let Some(hot) = hot.upgrade() else { return };
                hot.set_live(true);
            }
        }
    }
}

/// Applies one notice (`schema:table:key`) if it is of `schema`.
fn apply(hot: &HotReads, schema: &str, payload: &str) {
    let Some((table, key)) =
        payload.strip_prefix(schema).and_then(|rest| rest.strip_prefix(':')).and_then(|rest| rest.split_once(':'))
    else {
        return; // another deployment's schema
    };
    hot.changed(table, key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_drops_its_key_in_its_schema_only() {
        let hot = HotReads::live();
        let keep = |key: &str| {
            let revocations = hot.revocations().unwrap();
            let ticket = revocations.get(key).unwrap_err();
            revocations.fill(key, true, ticket);
        };
        keep("j1");
        apply(&hot, "bank", "bank_two:revocations:j1");
        apply(&hot, "bank", "other:revocations:j1");
        assert_eq!(hot.revocations().unwrap().get("j1").ok(), Some(true), "another schema's notice is ignored");
        apply(&hot, "bank", "bank:revocations:j1");
        assert!(hot.revocations().unwrap().get("j1").is_err());
        keep("a:b");
        apply(&hot, "bank", "bank:revocations:a:b");
        assert!(hot.revocations().unwrap().get("a:b").is_err(), "a key may hold colons");
    }
}
