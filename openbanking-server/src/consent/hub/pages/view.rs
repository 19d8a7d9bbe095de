//! A PSU request's view of the hub's pages: its language, negotiated from `Accept-Language`
//! (RFC 9110 §12.5.4) with the bank pages' [`Catalogue`] (English by default, Spanish built in,
//! a hub's own texts from [`HubBuilder::texts`](crate::consent::hub::HubBuilder::texts)), and the
//! hub's name in that language. Field names and `decision` values never change with it.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::Hub;
use crate::consent::pages::render::{STYLESHEET, html_response};
use crate::consent::pages::{DefaultRenderer, ErrorPage, PageContext, PageRenderer, RenderError, Texts};

/// The hub pages' words and name for one request.
#[derive(Debug, Clone)]
pub(super) struct View {
    /// The language tag (`<html lang>`, `Content-Language`).
    pub(super) language: String,
    /// The texts in that language.
    pub(super) texts: Arc<Texts>,
    /// The hub's name: the configured one, else the language's default.
    pub(super) name: String,
    hub: Hub,
}

impl View {
    /// The view for an `Accept-Language` value (`None`, `*` or no supported language: English).
    pub(super) fn new(hub: &Hub, accept_language: Option<&str>) -> Self {
        let pages = &hub.inner.pages;
        let (language, texts) = pages.catalogue.negotiate(accept_language);
        let name = pages.name.clone().unwrap_or_else(|| texts.hub_default_name.to_string());
        Self { language: language.to_owned(), texts: texts.clone(), name, hub: hub.clone() }
    }

    /// What every template needs: language, the hub's name (where the bank pages show the
    /// bank's), texts, stylesheet.
    pub(super) fn context(&self) -> PageContext<'_> {
        PageContext { language: &self.language, bank_name: &self.name, texts: &self.texts, stylesheet: STYLESHEET }
    }

    /// A rendered page as the response, in this language.
    pub(super) fn render(&self, status: StatusCode, rendered: Result<String, RenderError>) -> Response {
        html_response(status, &self.language, rendered, "internal error", &self.hub.inner.pages.csp)
    }

    /// An error page.
    pub(super) fn error_page(&self, status: StatusCode, title: &str, message: &str) -> Response {
        let page = ErrorPage { context: self.context(), status, title, message };
        self.render(status, DefaultRenderer.error(&page))
    }

    /// How the pages name a TPP at a bank: `{client} (at {bank})`.
    pub(super) fn client_at(&self, client: &str, bank: &str) -> String {
        fill(&self.texts.hub_client_at_bank, &[("client", client), ("bank", bank)])
    }
}

/// `text` with each `{name}` replaced by its value, in one pass: a value is never filled in
/// again (a TPP id with `{bank}` in it stays as it is).
pub(super) fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        for (name, value) in values {
            if let Some(after) =
                tail.strip_prefix('{').and_then(|t| t.strip_prefix(*name)).and_then(|t| t.strip_prefix('}'))
            {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        out.push('{');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

impl FromRequestParts<Hub> for View {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, Infallible> {
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Ok(Self::new(hub, accept))
    }
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn fill_is_one_pass() {
        assert_eq!(fill("{client} (at {bank})", &[("client", "a{bank}"), ("bank", "B")]), "a{bank} (at B)");
        assert_eq!(fill("{left} left, {x} {", &[("left", "3")]), "3 left, {x} {");
    }
}
