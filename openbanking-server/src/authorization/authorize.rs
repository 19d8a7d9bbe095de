//! `/authorize` (RFC 6749 §4.1.1 with RFC 9126 §4) and the completion of the PSU interaction.
//!
//! FAPI 2.0: the authorization request comes only by reference, `?client_id=…&request_uri=…`,
//! from a pushed request (RFC 9126). A bad client or `request_uri` is answered with an error
//! page, never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11): the redirect URI can't be trusted
//! before the pushed request is found. A `request_uri` is single use, and one presented with
//! another client's id is left untouched for its owner.
//!
//! When the PSU has decided, [`AuthorizationServer::complete_interaction`] mints the code and
//! returns the redirect back to the client with `code`, `state` and `iss` (RFC 9207), or
//! `error=access_denied`.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use openbanking_core::client::GrantType;
use openbanking_core::{ClientId, Jti, OAuthErrorCode, random_token};
use url::Url;

use super::par::CONSENT_SCOPE_PREFIX;
use super::{AuthorizationServer, CODE_LIFETIME, INTERACTION_LIFETIME, InteractionOutcome, Params};
use crate::consent::pages::Catalogue;
use crate::error::{OAuthError, no_store};
use crate::store::{CodeGrant, PendingAuthorization, PushedRequest, TokenHash};

pub(super) async fn authorize(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match server.start_authorization(query.as_deref().unwrap_or("")).await {
        Ok(pending) => {
            let interaction = server.inner().interaction.clone();
            interaction.begin(&server, pending, &headers).await
        }
        Err(e) => {
            let accept_language = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
            error_page_in(&e, accept_language, server.name())
        }
    }
}

fn invalid_request_uri(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRequestUri, description)
}

/// The `/authorize` error page (`templates/authorize_error.html`), escaped like the PSU pages;
/// its `lang` and title follow the page's language.
#[derive(Template)]
#[template(path = "authorize_error.html", config = "templates/askama.toml")]
struct ErrorHtml<'a> {
    language: &'a str,
    title: &'a str,
    bank: Option<&'a str>,
    code: &'a str,
    description: &'a str,
}

/// The languages of the error page: the PSU pages' built-in ones (English, the default, and
/// Spanish).
static LANGUAGES: LazyLock<Catalogue> = LazyLock::new(Catalogue::default);

/// An error page for errors that must not be redirected (unknown client, bad redirect URI,
/// bad `request_uri`): RFC 6749 §4.1.2.1 and RFC 9700 §4.11. Client errors are 400, server
/// errors keep their status; the text shown is HTML-escaped. In the language an
/// `Accept-Language` value prefers (RFC 9110 §12.5.4) among the PSU pages' built-in ones;
/// English without one, for `*`, or for a language they don't speak. `bank` (the server's
/// [`name`](super::AuthorizationServerBuilder::name)), if set, is shown under the title. Only the page's words change: the OAuth `error` code and its description stay as the
/// protocol writes them.
pub(crate) fn error_page_in(error: &OAuthError, accept_language: Option<&str>, bank: Option<&str>) -> Response {
    let status = if error.status().is_server_error() { error.status() } else { StatusCode::BAD_REQUEST };
    let (language, texts) = LANGUAGES.negotiate(accept_language);
    let page = ErrorHtml {
        language,
        title: &texts.authorization_error_title,
        bank,
        code: error.code().as_str(),
        description: error.description(),
    }
    .render();
    let content_language = HeaderValue::from_str(language).unwrap_or_else(|_| HeaderValue::from_static("en"));
    let vary = HeaderValue::from_static("accept-language");
    match page {
        Ok(page) => {
            (status, no_store(), [(header::CONTENT_LANGUAGE, content_language), (header::VARY, vary)], Html(page))
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the /authorize error page could not be rendered");
            (status, no_store(), "Authorization error").into_response()
        }
    }
}

impl AuthorizationServer {
    /// Resolves `/authorize?client_id=…&request_uri=…`: consumes the pushed request and stores
    /// the pending interaction. Every error is for an error page, never for a redirect.
    async fn start_authorization(&self, query: &str) -> Result<PendingAuthorization, OAuthError> {
        let params = Params::parse(query.as_bytes())?;
        let client_id = params.require("client_id")?;
        let client_id = ClientId::parse(client_id).map_err(|_| OAuthError::invalid_request("malformed client_id"))?;
        if self.inner().clients.get(&client_id).await?.is_none() {
            return Err(OAuthError::invalid_request("unknown client"));
        }
        let request_uri = params.require("request_uri")?;
        let now = self.inner().clock.now();
        // Look first, then consume: a request_uri presented with another client's id must stay
        // usable by its owner.
        let request: PushedRequest = self
            .inner()
            .pushed
            .get(request_uri, now)
            .await?
            .ok_or_else(|| invalid_request_uri("unknown, used or expired request_uri"))?;
        if request.client_id != client_id {
            tracing::warn!(client_id = %client_id, "request_uri presented with another client's id");
            return Err(invalid_request_uri("unknown, used or expired request_uri"));
        }
        let request = self
            .inner()
            .pushed
            .take(request_uri, now)
            .await?
            .ok_or_else(|| invalid_request_uri("unknown, used or expired request_uri"))?;
        let pending = PendingAuthorization { id: random_token(32), request, started_at: now };
        self.inner().interactions.put(&pending.id, pending.clone(), now + INTERACTION_LIFETIME, now).await?;
        tracing::debug!(client_id = %client_id, "authorization interaction started");
        Ok(pending)
    }

    /// The pending interaction with this id, for the PSU pages to show (it stays pending).
    /// `None` if unknown, completed or expired.
    pub async fn pending_interaction(&self, id: &str) -> Result<Option<PendingAuthorization>, OAuthError> {
        Ok(self.inner().interactions.get(id, self.inner().clock.now()).await?)
    }

    /// Ends the interaction `id` with the PSU's decision and returns the URL to redirect the
    /// browser to: the request's redirect URI with `code`, `state` and `iss` (RFC 9207) on
    /// approval, or `error=access_denied`, `state` and `iss` on denial.
    ///
    /// An interaction ends once: an unknown, completed or expired id is `invalid_request`. An
    /// approval may narrow the scope ([`InteractionOutcome::Approve`]'s `scope`), never widen it.
    ///
    /// The code carries the request's consent only if the granted scope still holds its
    /// `consent:<ConsentId>` token: a narrowing that drops that token grants no consent, and the
    /// tokens minted from the code carry no `consent_id`. (Whatever the interaction did to the
    /// consent itself, e.g. authorising it, is the interaction's business.)
    pub async fn complete_interaction(&self, id: &str, outcome: InteractionOutcome) -> Result<String, OAuthError> {
        let now = self.inner().clock.now();
        let pending = self
            .inner()
            .interactions
            .take(id, now)
            .await?
            .ok_or_else(|| OAuthError::invalid_request("unknown, completed or expired interaction"))?;
        let request = pending.request;
        let mut url = Url::parse(&request.redirect_uri)
            .map_err(|e| OAuthError::server_error(format_args!("stored redirect_uri does not parse: {e}")))?;
        let code = match outcome {
            InteractionOutcome::Approve { subject, scope } => {
                let scope = match scope {
                    Some(narrowed) if request.scope.covers(&narrowed) => narrowed,
                    Some(_) => {
                        return Err(OAuthError::server_error("the interaction granted more scope than was requested"));
                    }
                    None => request.scope.clone(),
                };
                // The consent goes with its scope token: dropped from the scope, dropped here.
                let consent_id = request
                    .consent_id
                    .clone()
                    .filter(|id| scope.contains(&format!("{CONSENT_SCOPE_PREFIX}{}", id.as_str())));
                if consent_id.is_none() && request.consent_id.is_some() {
                    tracing::info!(client_id = %request.client_id, "approved scope drops the consent; code carries none");
                }
                let client = self.inner().clients.get(&request.client_id).await?;
                let client = client.ok_or_else(|| OAuthError::invalid_request("the client no longer exists"))?;
                let refresh_family = client.metadata.allows_grant(GrantType::RefreshToken).then(|| random_token(16));
                let access_jti = Jti::parse(random_token(16)).map_err(OAuthError::server_error)?;
                let code = random_token(32);
                let grant = CodeGrant {
                    client_id: request.client_id.clone(),
                    redirect_uri: request.redirect_uri.clone(),
                    scope,
                    subject: subject.into_inner(),
                    consent_id,
                    code_challenge: request.code_challenge.clone(),
                    dpop_jkt: request.dpop_jkt.clone(),
                    access_jti,
                    refresh_family,
                };
                self.inner().codes.insert(&TokenHash::of(&code), grant, now + CODE_LIFETIME, now).await?;
                tracing::info!(client_id = %request.client_id, "authorization approved; code issued");
                Some(code)
            }
            InteractionOutcome::Deny => {
                tracing::info!(client_id = %request.client_id, "authorization denied");
                None
            }
        };
        {
            let mut query = url.query_pairs_mut();
            match &code {
                Some(code) => query.append_pair("code", code),
                None => query.append_pair("error", OAuthErrorCode::AccessDenied.as_str()),
            };
            if let Some(state) = &request.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", self.issuer().as_str());
        }
        Ok(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn english<'a>(code: &'a str, description: &'a str) -> ErrorHtml<'a> {
        ErrorHtml { language: "en", title: "Authorization error", bank: None, code, description }
    }

    #[test]
    fn error_page_escapes_markup() {
        let page = english("invalid_request", "<script>\"x\"&'y'</script>").render().unwrap();
        assert!(page.contains("<code>invalid_request</code>"), "{page}");
        assert!(page.contains("&lt;script&gt;&quot;x&quot;&amp;&#x27;y&#x27;&lt;/script&gt;"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
    }

    #[test]
    fn error_page_is_400_and_escaped() {
        let page = error_page_in(&OAuthError::invalid_request("<img src=x onerror=alert(1)>"), None, None);
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.headers().get(axum::http::header::LOCATION).is_none());
    }

    #[test]
    fn the_banks_name_is_under_the_title_escaped_and_only_when_set() {
        let named = ErrorHtml { bank: Some("Banco <b>del</b> Plata"), ..english("invalid_request", "unknown client") };
        let page = named.render().unwrap();
        assert!(
            page.contains("<h1>Authorization error</h1>\n<p>Banco &lt;b&gt;del&lt;/b&gt; Plata</p>\n<p><code>"),
            "{page}"
        );
        let page = english("invalid_request", "unknown client").render().unwrap();
        assert!(page.contains("<h1>Authorization error</h1>\n<p><code>"), "{page}");
    }

    #[test]
    fn the_english_page_is_the_page_as_it_was_and_spanish_changes_only_the_words() {
        // The English page before it spoke other languages, byte for byte.
        let before = |code: &str, description: &str| {
            format!(
                "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
                 <title>Authorization error</title>\n</head>\n<body>\n<h1>Authorization error</h1>\n\
                 <p><code>{code}</code></p>\n<p>{description}</p>\n</body>\n</html>"
            )
        };
        for (code, description, escaped) in [
            ("invalid_request", "unknown client", "unknown client"),
            ("invalid_request_uri", "<b>&</b>", "&lt;b&gt;&amp;&lt;/b&gt;"),
        ] {
            assert_eq!(english(code, description).render().unwrap(), before(code, escaped));
        }
        let error = OAuthError::invalid_request("unknown client");
        for accept_language in [None, Some("*"), Some("fr"), Some("es;q=0, en")] {
            let page = error_page_in(&error, accept_language, None);
            assert_eq!(page.headers()[header::CONTENT_LANGUAGE], "en", "{accept_language:?}");
        }
        let page = error_page_in(&error, Some("es-AR,es;q=0.9"), None);
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert_eq!(page.headers()[header::CONTENT_LANGUAGE], "es");
        assert_eq!(page.headers()[header::VARY], "accept-language");
    }
}
