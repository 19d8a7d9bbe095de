//! Revocation events from the hub to a bank in hub mode: pushed as signed webhooks, or pulled;
//! and the bank's webhook receiver refusing everything that is not a fresh event signed by the hub.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod hub_support;

use std::sync::Arc;
use std::time::Duration;

use hub_support::{HubBank, start_hub, start_hub_bank};
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::provider::{Actor, RevokeConsent};
use openbanking_core::{ConsentId, ConsentProvider, PsuId};
use openbanking_server::accounts::ACCOUNTS;
use openbanking_server::consent::hub::{EVENT_TYP, HubEvent, WEBHOOK_PATH};
use reqwest::Method;
use serde_json::{Value, json};

/// Polls a data call until it is refused with 401, within one second.
async fn refused_within_a_second(bank: &HubBank, id: &ConsentId) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let status = bank.call(Method::GET, ACCOUNTS, Some(id), None).await.status();
        if status == 401 {
            return;
        }
        assert_eq!(status, 200);
        assert!(tokio::time::Instant::now() < deadline, "the bank still serves data a second after the revocation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn revoke_at_hub(hub: &hub_support::RunningHub, id: &ConsentId) {
    hub.hub
        .provider()
        .revoke(RevokeConsent::new(id.clone(), Actor::Psu(PsuId::parse("alice").unwrap())))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_revocation_at_the_hub_reaches_the_bank_by_webhook_within_a_second() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock).await;
    bank.subscribe().await;
    let id = bank.authorised_consent().await;
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);
    // The answer is cached for 10 s of the bank's (manual) clock: only the event can end it.
    revoke_at_hub(&hub, &id).await;
    refused_within_a_second(&bank, &id).await;
}

#[tokio::test]
async fn without_a_webhook_the_pull_loop_carries_the_revocation_within_a_second() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock).await;
    let poller = bank.provider.spawn_event_poller();
    let id = bank.authorised_consent().await;
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);
    revoke_at_hub(&hub, &id).await;
    refused_within_a_second(&bank, &id).await;
    poller.abort();
}

/// Everything logged on this thread, as text (the test's runtime is current-thread, so the
/// servers' tasks log here too).
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A webhook body: the event's claims signed with `key` (kid `kid`), `typ` `typ`.
fn signed(key: &SigningKey, kid: &str, typ: &str, claims: &Value) -> String {
    let header = json!({ "typ": typ, "kid": kid });
    key.sign(header.as_object().unwrap(), claims).unwrap()
}

#[tokio::test]
async fn the_webhook_refuses_tampered_replayed_unknown_key_and_misaddressed_events() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock.clone()).await;
    let id = bank.authorised_consent().await;
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);
    // Revoked at the hub with no webhook subscribed: the bank's cached answer still stands.
    revoke_at_hub(&hub, &id).await;
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);

    let consent = bank.provider.get(&id).await.unwrap().unwrap();
    let event = HubEvent {
        event_id: "evt-1".into(),
        seq: 1,
        bank: "bank-a".into(),
        consent,
        actor: Actor::Psu(PsuId::parse("alice").unwrap()),
    };
    let claims =
        |aud: &str, iat: i64, jti: &str| json!({ "iss": hub.base, "aud": aud, "iat": iat, "jti": jti, "event": event });
    let hub_key = hub.keys.active();
    let kid = hub_key.kid().as_str().to_owned();
    let now = clock.unix_now();
    let webhook = bank.bank.url(WEBHOOK_PATH);
    let post = |body: String| bank.bank.http.post(&webhook).header("Content-Type", "application/jwt").body(body).send();
    async fn refused(response: reqwest::Response, status: u16) {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
    }

    let valid = signed(&hub_key, &kid, EVENT_TYP, &claims("bank-a", now, "evt-1"));
    // Unknown key: signed by a key the hub never published (a made-up kid, and the hub's kid).
    let attacker = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    refused(post(signed(&attacker, "attacker", EVENT_TYP, &claims("bank-a", now, "evt-1"))).await.unwrap(), 400).await;
    refused(post(signed(&attacker, &kid, EVENT_TYP, &claims("bank-a", now, "evt-1"))).await.unwrap(), 400).await;
    // Tampered: the hub's signature over another payload.
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    let other = signed(&hub_key, &kid, EVENT_TYP, &claims("bank-b", now, "evt-1"));
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    refused(post(parts.join(".")).await.unwrap(), 400).await;
    // Signed by the hub, but for another bank, outside the time window, of another type, or
    // with a jti that is not the event's.
    refused(post(signed(&hub_key, &kid, EVENT_TYP, &claims("bank-b", now, "evt-1"))).await.unwrap(), 400).await;
    refused(post(signed(&hub_key, &kid, EVENT_TYP, &claims("bank-a", now - 120, "evt-1"))).await.unwrap(), 400).await;
    refused(post(signed(&hub_key, &kid, EVENT_TYP, &claims("bank-a", now + 120, "evt-1"))).await.unwrap(), 400).await;
    refused(post(signed(&hub_key, &kid, "JWT", &claims("bank-a", now, "evt-1"))).await.unwrap(), 400).await;
    refused(post(signed(&hub_key, &kid, EVENT_TYP, &claims("bank-a", now, "evt-2"))).await.unwrap(), 400).await;
    refused(post("not a jws".into()).await.unwrap(), 400).await;
    // None of these touched the cache.
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);

    // The real event is taken once: the cache drops the consent at once.
    assert_eq!(post(valid.clone()).await.unwrap().status(), 204);
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 401);
    // Replayed: refused (409, so the hub stops retrying).
    refused(post(valid).await.unwrap(), 409).await;
    // Every refusal is logged with its cause.
    let logged = logs.text();
    for cause in
        ["unknown key", "bad signature or type", "for another bank", "iat outside the window", "replayed event"]
    {
        assert!(logged.contains("hub webhook refused") && logged.contains(cause), "{cause} not logged:\n{logged}");
    }
}

/// The webhook attempts a test receiver saw: (jti, consent status).
type Attempts = Arc<std::sync::Mutex<Vec<(String, String)>>>;

#[tokio::test]
async fn a_refused_webhook_is_retried_with_the_same_event_until_the_bank_takes_it() {
    use axum::extract::State;
    use axum::http::StatusCode;
    use openbanking_core::jose::UnverifiedJws;

    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock).await;
    // A receiver that fails twice for each event, then takes it; it records (jti, status).
    let seen: Attempts = Arc::default();
    let app = axum::Router::new()
        .route(
            "/flaky",
            axum::routing::post(|State(seen): State<Attempts>, body: String| async move {
                let claims = UnverifiedJws::parse(&body).unwrap().unverified_claims::<Value>().unwrap();
                let jti = claims["jti"].as_str().unwrap().to_owned();
                let status = claims["event"]["consent"]["Status"].as_str().unwrap().to_owned();
                let mut seen = seen.lock().unwrap();
                seen.push((jti.clone(), status));
                let attempts = seen.iter().filter(|(j, _)| *j == jti).count();
                if attempts < 3 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::NO_CONTENT }
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/flaky", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    bank.provider.subscribe_webhook(Some(url.parse().unwrap())).await.unwrap();

    let id = bank.authorised_consent().await;
    revoke_at_hub(&hub, &id).await;
    let revoked = || seen.lock().unwrap().iter().filter(|(_, status)| status == "Revoked").cloned().collect::<Vec<_>>();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while revoked().len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the hub did not retry: {:?}", seen.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts = revoked();
    assert!(
        attempts.iter().all(|(jti, _)| jti == &attempts[0].0),
        "every attempt carries the same event id: {attempts:?}"
    );
}
