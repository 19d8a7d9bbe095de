//! The hub's dashboard: the PSU's consents at every bank, each active one with a Revoke form.

use openbanking_core::ConsentId;
use openbanking_core::provider::RevokeConsent;
use openbanking_core::store::ConsentQuery;

use super::super::directory::unscope;
use super::*;
use crate::consent::pages::{ConsentSummary, DashboardPage};

async fn dashboard_view(hub: &Hub, view: &View, session: &Session, notice: Option<String>) -> Response {
    let Some(psu) = &session.psu else { return Redirect::to(LOGIN_PATH).into_response() };
    let page = match hub.inner.provider.list(ConsentQuery::by_psu(psu.clone()).with_limit(500)).await {
        Ok(page) => page,
        Err(error) => {
            tracing::error!(%error, "hub: could not list a PSU's consents");
            let t = &view.texts;
            return view.error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &t.hub_consents_unavailable_title,
                &t.hub_try_later,
            );
        }
    };
    let t = &view.texts;
    let mut consents: Vec<ConsentSummary> = page
        .consents
        .iter()
        .filter_map(|consent| {
            let (bank, tpp) = unscope(consent.client_id())?;
            let bank_name =
                hub.inner.directory.bank(&bank).map_or_else(|| bank.to_string(), |b| b.display_name().to_owned());
            let status = match consent.status() {
                ConsentStatus::Authorised => &t.status_authorised,
                ConsentStatus::AwaitingAuthorisation => &t.status_awaiting,
                ConsentStatus::Rejected => &t.status_rejected,
                ConsentStatus::Revoked => &t.status_revoked,
                ConsentStatus::Expired => &t.status_expired,
            };
            Some(ConsentSummary {
                consent_id: consent.consent_id().as_str().to_owned(),
                client_name: view.client_at(tpp.as_str(), &bank_name),
                status: status.to_string(),
                active: consent.status() == ConsentStatus::Authorised,
                given: t.date(consent.creation_date_time()),
                expires: consent.expiration_date_time().map_or_else(|| t.no_end_date.to_string(), |at| t.date(at)),
                accounts: consent
                    .account_ids()
                    .iter()
                    .map(|a| AccountLabel { name: a.as_str().to_owned(), summary: None, details: Vec::new() })
                    .collect(),
                permissions: consent.permissions().iter().map(|p| t.permission(*p).to_owned()).collect(),
            })
        })
        .collect();
    consents.reverse();
    let page = DashboardPage {
        context: view.context(),
        revoke_action: REVOKE_PATH.to_owned(),
        logout_action: LOGOUT_PATH.to_owned(),
        csrf: &session.csrf,
        notice,
        consents,
    };
    view.render(StatusCode::OK, DefaultRenderer.dashboard(&page))
}

pub(super) async fn dashboard(State(hub): State<Hub>, view: View, jar: CookieJar) -> Response {
    match hub.session(&jar).await {
        Some((_, session)) if session.psu.is_some() => dashboard_view(&hub, &view, &session, None).await,
        _ => Redirect::to(LOGIN_PATH).into_response(),
    }
}

pub(super) async fn revoke(State(hub): State<Hub>, view: View, jar: CookieJar, body: Bytes) -> Response {
    let form = form(&body);
    let Some((_, session)) = hub.session(&jar).await else { return Redirect::to(LOGIN_PATH).into_response() };
    let Some(psu) = session.psu.clone() else { return Redirect::to(LOGIN_PATH).into_response() };
    if !csrf_ok(&session, &form) {
        return view.error_page(
            StatusCode::FORBIDDEN,
            &view.texts.hub_form_expired_title,
            &view.texts.hub_form_expired,
        );
    }
    let Some(consent_id) = field(&form, "consent_id").and_then(|id| ConsentId::parse(id).ok()) else {
        return view.error_page(
            StatusCode::BAD_REQUEST,
            &view.texts.hub_no_such_consent_title,
            &view.texts.hub_back_to_consents,
        );
    };
    // Only the logged-in PSU's own consents (another's looks like an unknown one).
    let own = matches!(hub.inner.provider.get(&consent_id).await, Ok(Some(c)) if c.psu_id() == Some(&psu));
    if !own {
        return view.error_page(
            StatusCode::NOT_FOUND,
            &view.texts.hub_no_such_consent_title,
            &view.texts.hub_back_to_consents,
        );
    }
    let notice = match hub.inner.provider.revoke(RevokeConsent::new(consent_id.clone(), Actor::Psu(psu))).await {
        Ok(_) => {
            tracing::info!(%consent_id, "hub: the PSU revoked a consent");
            Some(view.texts.revoked_notice.to_string())
        }
        Err(error) => {
            tracing::info!(%consent_id, %error, "hub: a revocation was refused");
            None
        }
    };
    dashboard_view(&hub, &view, &session, notice).await
}
