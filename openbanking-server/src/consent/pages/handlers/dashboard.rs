//! The PSU's dashboard: every consent they gave, with Revoke on the active ones.

use super::*;

pub(crate) async fn dashboard(
    State(st): State<PagesState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    jar: CookieJar,
) -> Response {
    let view = st.view(&headers);
    let now = st.now();
    let session = match st.current(&jar, now).await {
        Ok(Some((_, session))) => session,
        Ok(None) => return st.see_other(LOGIN_PATH),
        Err(e) => return view.error(e),
    };
    let Some(psu) = &session.psu_id else {
        return st.see_other(LOGIN_PATH);
    };
    match consent_summaries(&st, &view, psu).await {
        Ok(consents) => {
            let page = DashboardPage {
                context: view.context(),
                revoke_action: st.pages.href(REVOKE_PATH),
                logout_action: st.pages.href(LOGOUT_PATH),
                csrf: &session.csrf,
                // Set by the redirect after a revocation; says nothing about the PSU.
                notice: (query.as_deref() == Some(REVOKED_QUERY)).then(|| view.texts.revoked_notice.to_string()),
                consents,
            };
            view.respond(StatusCode::OK, st.inner().renderer.dashboard(&page))
        }
        Err(e) => view.error(e),
    }
}

/// Every consent of `psu`, through the consent authority, page by page.
async fn list_all(st: &PagesState, psu: &PsuId) -> Result<Vec<Consent>, PageError> {
    let mut all = Vec::new();
    let mut query = ConsentQuery::by_psu(psu.clone());
    loop {
        let ConsentPage { consents, next, .. } = st.inner().provider.list(query.clone()).await?;
        all.extend(consents);
        match next {
            Some(cursor) => query = query.after(cursor),
            None => return Ok(all),
        }
    }
}

/// The PSU's consents for the dashboard, newest first (the one just given is the one a PSU
/// looks for).
async fn consent_summaries(st: &PagesState, view: &View<'_>, psu: &PsuId) -> Result<Vec<ConsentSummary>, PageError> {
    let t = view.texts;
    let consents = list_all(st, psu).await?;
    let accounts = st.inner().accounts.accounts(psu).await.map_err(PageError::server)?;
    let labels: HashMap<&AccountId, AccountLabel> =
        accounts.iter().map(|a| (&a.account_id, st.inner().accounts.label(a, view.language))).collect();
    let mut names: HashMap<ClientId, String> = HashMap::new();
    let now = st.server.clock().now();
    let mut out = Vec::with_capacity(consents.len());
    for consent in consents.iter().rev() {
        if consent.psu_id() != Some(psu) {
            continue;
        }
        let client_name = match names.get(consent.client_id()) {
            Some(name) => name.clone(),
            None => {
                let name = st.client_name(consent.client_id(), t).await?;
                names.insert(consent.client_id().clone(), name.clone());
                name
            }
        };
        let (status, active) = status_words(t, consent, now);
        out.push(ConsentSummary {
            consent_id: consent.consent_id().as_str().to_owned(),
            client_name,
            status: status.to_owned(),
            active,
            given: t.date(consent.creation_date_time()),
            expires: consent.expiration_date_time().map_or_else(|| t.no_end_date.to_string(), |at| t.date(at)),
            accounts: consent
                .account_ids()
                .iter()
                .map(|id| {
                    labels.get(id).map_or_else(
                        || AccountLabel::new(id.as_str()),
                        |label| AccountLabel { details: Vec::new(), ..label.clone() },
                    )
                })
                .collect(),
            permissions: permissions(t, consent),
        });
    }
    Ok(out)
}

/// A status in words for the dashboard, as of `now`, and whether it can still be revoked.
fn status_words<'t>(t: &'t Texts, consent: &Consent, now: OffsetDateTime) -> (&'t str, bool) {
    let status = if !consent.status().is_final() && consent.is_expired_at(now) {
        ConsentStatus::Expired
    } else {
        consent.status()
    };
    match status {
        ConsentStatus::Authorised => (&t.status_authorised, true),
        ConsentStatus::AwaitingAuthorisation => (&t.status_awaiting, true),
        ConsentStatus::Rejected => (&t.status_rejected, false),
        ConsentStatus::Revoked => (&t.status_revoked, false),
        ConsentStatus::Expired => (&t.status_expired, false),
    }
}

pub(crate) async fn revoke(State(st): State<PagesState>, headers: HeaderMap, jar: CookieJar, body: Bytes) -> Response {
    let view = st.view(&headers);
    let now = st.now();
    let (form, _, session) = match st.posted(&jar, &body, now).await {
        Ok(posted) => posted,
        Err(refusal) => return view.error(refusal),
    };
    let Some(psu) = &session.psu_id else {
        return view.error(PageError::Forbidden);
    };
    let result = async {
        let consent_id =
            form.get("consent_id").and_then(|id| ConsentId::parse(id).ok()).ok_or(PageError::NoConsentNamed)?;
        let consent = st.inner().provider.get(&consent_id).await?;
        // Another PSU's consent is answered exactly like a missing one.
        if consent.is_none_or(|c| c.psu_id() != Some(psu)) {
            return Err(PageError::NotFound);
        }
        st.inner().provider.revoke(RevokeConsent::new(consent_id.clone(), Actor::Psu(psu.clone()))).await?;
        tracing::info!(consent_id = %consent_id, psu = %psu, "PSU revoked a consent");
        Ok(())
    }
    .await;
    match result {
        Ok(()) => st.see_other(&format!("{DASHBOARD_PATH}?{REVOKED_QUERY}")),
        Err(e) => view.error(e),
    }
}
