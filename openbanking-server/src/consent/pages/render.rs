//! What each page shows (typed page structs) and how it becomes HTML: [`PageRenderer`], whose
//! default methods are this crate's askama templates (`openbanking-server/templates/`, HTML
//! auto-escaped, checked at compile time).

use std::error::Error as StdError;
use std::fmt;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::Texts;
use crate::accounts::data::AccountLabel;

/// What every page shows around its content.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PageContext<'a> {
    /// The page's language tag (`en`, `es`, or one a bank added): `<html lang>`.
    pub language: &'a str,
    /// The bank's name, for the title and header, so the PSU knows where they are.
    pub bank_name: &'a str,
    /// Every text, in the page's language.
    pub texts: &'a Texts,
    /// The stylesheet to inline in `<style>` (the CSP allows exactly it, by hash): the
    /// renderer's [`stylesheet`](PageRenderer::stylesheet).
    pub stylesheet: &'a str,
}

/// The login form. Post `csrf`, `username` and `password` to `action`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginPage<'a> {
    /// Language, bank, texts.
    pub context: PageContext<'a>,
    /// The form's `action`.
    pub action: String,
    /// The value of the hidden `csrf` field.
    pub csrf: &'a str,
    /// The username to show again after a failed login (never the password).
    pub username: &'a str,
    /// Why the last login failed, in words.
    pub error: Option<String>,
}

/// The consent page: what a TPP asks for, the PSU's accounts to choose from, Approve / Deny.
/// Post `csrf`, `decision` (`approve` or `deny`) and each chosen `account` to `action`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsentPage<'a> {
    /// Language, bank, texts.
    pub context: PageContext<'a>,
    /// The form's `action`.
    pub action: String,
    /// The value of the hidden `csrf` field.
    pub csrf: &'a str,
    /// The TPP's name: the organisation its software statement vouches for, else its
    /// self-asserted `client_name` marked as unverified, else its client id. Untrusted text.
    pub client_name: &'a str,
    /// The page's heading, with the TPP's name in it.
    pub heading: String,
    /// Why the last decision was refused, in words.
    pub error: Option<&'a str>,
    /// What is asked.
    pub request: AccessRequest,
    /// Whether Approve is offered (not for a consent when the PSU has no account to share).
    pub approvable: bool,
}

/// What a TPP asks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AccessRequest {
    /// An account-access consent.
    Consent(ConsentDetails),
    /// Only OAuth scopes, without a consent.
    Scopes(Vec<String>),
}

/// An account-access consent, as the consent page shows it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsentDetails {
    /// The heading over the permissions, with the TPP's name in it.
    pub permissions_heading: String,
    /// What the TPP will see, in words.
    pub permissions: Vec<String>,
    /// When the consent ends (a date), or `None` for no end.
    pub until: Option<String>,
    /// The transaction window in words (from and to, from, up to, or any date), if the consent
    /// gives access to transactions or has a window.
    pub transactions: Option<String>,
    /// The PSU's accounts to choose from (fields named `account`).
    pub accounts: Vec<AccountChoice>,
}

/// One of the PSU's accounts on the consent page.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountChoice {
    /// The checkbox value.
    pub account_id: String,
    /// ISO 4217 currency code.
    pub currency: String,
    /// How the bank names the account ([`AccountData::label`](crate::accounts::AccountData::label)).
    pub label: AccountLabel,
    /// Whether it is ticked (the PSU's last choice, when the page is shown again).
    pub checked: bool,
}

/// The dashboard: the PSU's consents, each with a Revoke form while active, and Log out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DashboardPage<'a> {
    /// Language, bank, texts.
    pub context: PageContext<'a>,
    /// Where a revocation is posted (`csrf`, `consent_id`).
    pub revoke_action: String,
    /// Where Log out is posted (`csrf`).
    pub logout_action: String,
    /// The value of the hidden `csrf` fields.
    pub csrf: &'a str,
    /// What was just done, in words (after a revocation), to show above the consents.
    pub notice: Option<String>,
    /// The PSU's consents, newest first.
    pub consents: Vec<ConsentSummary>,
}

/// One consent on the dashboard.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsentSummary {
    /// The consent id (the `consent_id` field of its Revoke form).
    pub consent_id: String,
    /// The TPP's name, as on the consent page ([`ConsentPage::client_name`]): untrusted text.
    pub client_name: String,
    /// The status in words.
    pub status: String,
    /// Whether it can still be revoked (offer Revoke); if not, the TPP no longer sees what
    /// `permissions` says (it *could* see it).
    pub active: bool,
    /// When it was given (a date).
    pub given: String,
    /// When it expires (a date, or words for no end).
    pub expires: String,
    /// The accounts it covers: the bank's name and short identification of each (or the id of
    /// an account the bank no longer lists).
    pub accounts: Vec<AccountLabel>,
    /// What the TPP can see, in words.
    pub permissions: Vec<String>,
}

/// An error page.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ErrorPage<'a> {
    /// Language, bank, texts.
    pub context: PageContext<'a>,
    /// The response's status.
    pub status: StatusCode,
    /// The title, in words.
    pub title: &'a str,
    /// What happened and what to do, in words.
    pub message: &'a str,
}

/// A page that could not be rendered.
#[derive(Debug)]
pub struct RenderError(Box<dyn StdError + Send + Sync>);

impl RenderError {
    /// Wraps the cause (logged; the PSU sees a generic error).
    pub fn new(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self(cause.into())
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page rendering failed: {}", self.0)
    }
}

impl StdError for RenderError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// Turns pages into HTML: the bank's own look. Every method has a default, this crate's askama
/// templates ([`DefaultRenderer`]), so a bank overrides only the pages it wants to change.
///
/// Whatever a renderer writes, the responses keep their security headers: the
/// `Content-Security-Policy` allows no script and no other resource than the renderer's
/// [`stylesheet`](Self::stylesheet), inlined in a `<style>` element (by its SHA-256 hash, taken
/// once when the pages are built). Escape every value of a page struct that is not a text of
/// the catalogue: client names, account labels, ids and the user's own input are untrusted.
/// The forms' field names and `decision` values must stay as documented on each page.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_server::consent::pages::{ConsentPages, LoginPage, PageRenderer, RenderError};
/// # use openbanking_core::{LocalConsentProvider, MemoryConsentStore, clock::SystemClock};
/// # use openbanking_server::{accounts::MemoryAccountData, consent::psu::MemoryPsuDirectory};
///
/// /// Our own login page; the other pages keep the default look.
/// #[derive(Debug)]
/// struct BankLook;
///
/// impl PageRenderer for BankLook {
///     fn stylesheet(&self) -> &str {
///         "body{font-family:serif}"
///     }
///
///     fn login(&self, page: &LoginPage<'_>) -> Result<String, RenderError> {
///         let t = page.context.texts;
///         // A real bank would use its own template engine; it must escape what it shows.
///         let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
///         Ok(format!(
///             "<!doctype html><html lang=\"{lang}\"><head><style>{css}</style></head><body>\
///              <h1>{bank}</h1><form method=\"post\" action=\"{action}\">\
///              <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
///              <input name=\"username\" value=\"{user}\"><input name=\"password\" type=\"password\">\
///              <button>{log_in}</button></form></body></html>",
///             lang = escape(page.context.language),
///             css = page.context.stylesheet,
///             bank = escape(page.context.bank_name),
///             action = escape(&page.action),
///             csrf = escape(page.csrf),
///             user = escape(page.username),
///             log_in = escape(&t.log_in),
///         ))
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let store = Arc::new(MemoryConsentStore::new());
/// # let provider = Arc::new(LocalConsentProvider::new(store.clone(), Arc::new(SystemClock)));
/// let pages = ConsentPages::builder(
///     provider,
///     Arc::new(MemoryPsuDirectory::seeded()?),
///     Arc::new(MemoryAccountData::seeded()),
/// )
/// .bank_name("Banco Ejemplo")
/// .renderer(Arc::new(BankLook))
/// .build()?;
/// # Ok(()) }
/// ```
pub trait PageRenderer: Send + Sync + fmt::Debug {
    /// The stylesheet every page inlines (default: this crate's, small and phone-first).
    fn stylesheet(&self) -> &str {
        STYLESHEET
    }

    /// The login page.
    fn login(&self, page: &LoginPage<'_>) -> Result<String, RenderError> {
        let html = LoginHtml { ctx: &page.context, t: page.context.texts, page };
        html.render().map_err(RenderError::new)
    }

    /// The consent page.
    fn consent(&self, page: &ConsentPage<'_>) -> Result<String, RenderError> {
        let html = ConsentHtml { ctx: &page.context, t: page.context.texts, page };
        html.render().map_err(RenderError::new)
    }

    /// The dashboard.
    fn dashboard(&self, page: &DashboardPage<'_>) -> Result<String, RenderError> {
        let html = DashboardHtml { ctx: &page.context, t: page.context.texts, page };
        html.render().map_err(RenderError::new)
    }

    /// An error page.
    fn error(&self, page: &ErrorPage<'_>) -> Result<String, RenderError> {
        let html = ErrorHtml { ctx: &page.context, page };
        html.render().map_err(RenderError::new)
    }
}

/// The built-in look: this crate's templates and stylesheet.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRenderer;

impl PageRenderer for DefaultRenderer {}

#[derive(Template)]
#[template(path = "login.html", config = "templates/askama.toml")]
struct LoginHtml<'p, 'a> {
    ctx: &'p PageContext<'a>,
    t: &'a Texts,
    page: &'p LoginPage<'a>,
}

#[derive(Template)]
#[template(path = "consent.html", config = "templates/askama.toml")]
struct ConsentHtml<'p, 'a> {
    ctx: &'p PageContext<'a>,
    t: &'a Texts,
    page: &'p ConsentPage<'a>,
}

#[derive(Template)]
#[template(path = "dashboard.html", config = "templates/askama.toml")]
struct DashboardHtml<'p, 'a> {
    ctx: &'p PageContext<'a>,
    t: &'a Texts,
    page: &'p DashboardPage<'a>,
}

#[derive(Template)]
#[template(path = "error.html", config = "templates/askama.toml")]
struct ErrorHtml<'p, 'a> {
    ctx: &'p PageContext<'a>,
    page: &'p ErrorPage<'a>,
}

/// The templates' HTML escaper (`templates/askama.toml`): `&`, `<`, `>`, `"` and `'` as named
/// or hexadecimal entities, safe in element content and quoted attribute values. Every template
/// of the crate uses it (the PSU pages and the authorization server's error page).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HtmlEntities;

impl askama::filters::Escaper for HtmlEntities {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        let mut last = 0;
        for (i, byte) in text.bytes().enumerate() {
            let entity = match byte {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#x27;",
                _ => continue,
            };
            // Escaped bytes are ASCII, so `i` is a character boundary.
            dest.write_str(text.get(last..i).unwrap_or_default())?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(text.get(last..).unwrap_or_default())
    }
}

/// The stylesheet of every page (inline; the CSP allows exactly it, by hash).
pub(crate) const STYLESHEET: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;background:#f4f6f8}\
main{max-width:34rem;margin:0 auto;padding:1.25rem;background:#fff;min-height:100vh}\
.bank{margin:-1.25rem -1.25rem 1rem;padding:.75rem 1.25rem;background:#0b3d6e;color:#fff;font-weight:700;font-size:1.05rem}\
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.25rem 0 .5rem}\
label{display:block;margin:.75rem 0 .25rem;font-weight:600}\
input[type=text],input[type=password],input:not([type]){width:100%;padding:.7rem;font-size:1rem;border:1px solid #8a939c;border-radius:.4rem}\
button{font-size:1rem;padding:.75rem 1.25rem;border:0;border-radius:.4rem;background:#0b5cad;color:#fff;margin:.5rem .5rem 0 0;cursor:pointer}\
button.secondary{background:#e7ebef;color:#1b1f24}button.danger{background:#b3261e}\
fieldset{border:1px solid #d0d6dc;border-radius:.4rem;padding:.5rem .75rem;margin:1rem 0}\
.account{display:flex;gap:.75rem;align-items:flex-start;font-weight:400;margin:0;padding:.5rem 0;border-bottom:1px solid #eef1f4}\
.account:last-child{border-bottom:0}.account input{margin-top:.3rem;width:1.2rem;height:1.2rem;flex:none}\
.muted{color:#5b6570;font-size:.9rem}.error{background:#fdecea;color:#8c1d18;padding:.75rem;border-radius:.4rem}\
.notice{background:#e6f4ea;color:#1e4620;padding:.75rem;border-radius:.4rem}\
.consent{border:1px solid #d0d6dc;border-radius:.4rem;padding:.75rem;margin:1rem 0}.consent h2{margin-top:0}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem;margin:.5rem 0}dt{color:#5b6570}dd{margin:0;overflow-wrap:anywhere}\
@media (max-width:30rem){dl{display:block}dt{margin-top:.5rem;font-size:.85rem}}\
code{font-size:.85rem;overflow-wrap:anywhere}\
";

/// The `Content-Security-Policy` for pages inlining `stylesheet`: no script, nothing loaded, only
/// that stylesheet (by its hash), no framing.
pub(crate) fn csp(stylesheet: &str) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, stylesheet.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    format!("default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; base-uri 'none'")
}

/// Adds `Cache-Control: no-store`, the CSP and the other hardening headers.
pub(crate) fn with_security_headers(mut response: Response, csp: &HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    response
}

/// A rendered page as a response in `language`, or a bare 500 if rendering failed.
pub(crate) fn html_response(
    status: StatusCode,
    language: &str,
    rendered: Result<String, RenderError>,
    fallback: &str,
    csp: &HeaderValue,
) -> Response {
    let response = match rendered {
        Ok(page) => {
            let mut response =
                (status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], page)
                    .into_response();
            if let Ok(language) = HeaderValue::from_str(language) {
                response.headers_mut().insert(header::CONTENT_LANGUAGE, language);
            }
            response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-language"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "PSU pages: a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, fallback.to_owned()).into_response()
        }
    };
    with_security_headers(response, csp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_every_special_character() {
        let escape = |text: &str| {
            use askama::filters::Escaper as _;
            let mut out = String::new();
            HtmlEntities.write_escaped_str(&mut out, text).unwrap();
            out
        };
        assert_eq!(escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape("a & b"), "a &amp; b");
        assert_eq!(escape("\"quoted\" 'single'"), "&quot;quoted&quot; &#x27;single&#x27;");
        assert_eq!(escape("\" onmouseover=\"x"), "&quot; onmouseover=&quot;x");
        assert_eq!(escape("&lt;"), "&amp;lt;");
        assert_eq!(escape("Café ñandú 💸"), "Café ñandú 💸");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn csp_allows_the_stylesheet_by_hash_and_no_script() {
        let csp = csp(STYLESHEET);
        assert!(csp.contains("style-src 'sha256-"));
        assert!(csp.starts_with("default-src 'none'"));
        assert!(!csp.contains("unsafe") && !csp.contains("script-src"));
        assert_ne!(csp, super::csp("body{}"), "the hash follows the stylesheet");
    }
}
