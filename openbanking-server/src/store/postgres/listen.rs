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

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use super::err;
use crate::store::StoreError;
use crate::store::cache::HotReads;

/// The channel the triggers announce changes on.
pub(super) const CHANNEL: &str = "openbanking_changes";

/// How long to wait before listening again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Subscribes a connection to [`CHANNEL`], makes `hot` live, and spawns the task that applies
/// the notices of `schema` to it (and resubscribes after a lost connection) for as long as `hot`
/// is in use.
///
/// The connection is opened with `pool`'s options but is not one of its connections: a pool of
/// any size (an integrator's, of one connection) keeps all its connections for queries. The task
/// is stopped with [`HotReads::stop`] when the stores are closed.
pub(super) async fn listen(pool: &PgPool, schema: String, hot: &Arc<HotReads>) -> Result<(), StoreError> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with((*pool.connect_options()).clone());
    let listener = subscribe(&own).await?;
    hot.set_live(true);
    let task = tokio::spawn(run(own, schema, Arc::downgrade(hot), listener));
    hot.stop_with(task.abort_handle());
    Ok(())
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, StoreError> {
    let mut listener = PgListener::connect_with(pool).await.map_err(|e| err("connect the change listener", e))?;
    listener.listen(CHANNEL).await.map_err(|e| err("listen for changes", e))?;
    Ok(listener)
}

/// Applies the notices `listener` hears to `hot` until `hot` is dropped (or the task aborted);
/// after a failure, listens again on `pool` (the listener's own).
async fn run(pool: PgPool, schema: String, hot: Weak<HotReads>, listener: PgListener) {
    let mut listener = Some(listener);
    loop {
        let Some(current) = listener.as_mut() else {
            // Listening failed: the old listener (and its connection) is gone; subscribe again.
            tokio::time::sleep(RETRY).await;
            match subscribe(&pool).await {
                Ok(fresh) => {
                    let Some(hot) = hot.upgrade() else { return };
                    hot.set_live(true);
                    listener = Some(fresh);
                }
                Err(e) => tracing::warn!(error = %e, "listening for changes failed again"),
            }
            continue;
        };
        match current.try_recv().await {
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
                let Some(hot) = hot.upgrade() else { return };
                hot.set_live(false);
                tracing::warn!(error = %e, "the change listener failed; the hot reads go to the database until it listens again");
                listener = None;
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
