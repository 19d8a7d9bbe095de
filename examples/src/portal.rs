//! The sandbox's developer portal (`GET /portal`), as a bank's would be: what the sandbox is, its
//! discovery URL, the seeded customers, and a form that registers an application (name, redirect
//! URI, public key as a JWK, the APIs it will call as scopes) and shows the client metadata the
//! bank issued.
//!
//! Registration goes through the authorization server's own logic
//! ([`AuthorizationServer::register_client`], what `POST /register` calls): the portal only turns
//! the form into an RFC 7591 metadata document (`private_key_jwt` with the given key, the
//! `authorization_code`, `client_credentials` and `refresh_token` grants, DPoP-bound tokens), so
//! every rule is the server's. A refusal is shown on the page with the values the developer
//! entered.
//!
//! The page is an askama template (HTML auto-escaped), served with a `Content-Security-Policy`
//! that allows no script, only its own stylesheet (by hash) and forms posted to itself. The form
//! is protected against cross-site posts with a double-submit token: `GET` sets a random value in
//! an `HttpOnly`, `SameSite=Strict` cookie scoped to the portal and in a hidden field, and `POST`
//! is refused (403) unless both are present and equal (compared in constant time).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openbanking_core::random_token;
use openbanking_core::wire::oauth::RegistrationResponse;
use openbanking_core::wire::paths;
use openbanking_server::authorization::AuthorizationServer;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

/// Where the portal lives.
pub const PORTAL_PATH: &str = "/portal";

/// The CSRF cookie's name over plain http (loopback).
pub const CSRF_COOKIE: &str = "ob_portal_csrf";

/// The CSRF cookie's name when the issuer is `https`: `__Host-` makes the browser keep it only
/// when `Secure`, with no `Domain` (so no sibling subdomain can plant it).
pub const SECURE_CSRF_COOKIE: &str = "__Host-ob_portal_csrf";

/// The name of the form's hidden CSRF field.
pub const CSRF_FIELD: &str = "csrf";

/// The bank's name on the page.
const BANK_NAME: &str = "Banco Sandbox del Plata";

/// The portal's stylesheet, inlined and allowed by its hash.
const STYLESHEET: &str = "\
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2329}\
main{max-width:46rem;margin:0 auto;padding:1rem 1.25rem 3rem;background:#fff;min-height:100vh}\
header.bank{font-weight:600;color:#0b5394;margin-bottom:1rem}header.bank a{color:inherit;text-decoration:none}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.75rem}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem .75rem}dt{color:#5b6570}dd{margin:0;overflow-wrap:anywhere}\
table{border-collapse:collapse}th,td{border:1px solid #d0d6dc;padding:.3rem .6rem;text-align:left}\
label{display:block;margin-top:.75rem;font-weight:500}label.check{font-weight:400;margin-top:.35rem}\
input[type=text],input[type=url],textarea{width:100%;box-sizing:border-box;padding:.4rem;font:inherit;border:1px solid #9aa5b1;border-radius:.3rem}\
textarea{font-family:ui-monospace,monospace;font-size:.85rem}\
fieldset{margin-top:.75rem;border:1px solid #d0d6dc;border-radius:.3rem}\
button{margin-top:1rem;padding:.5rem 1.25rem;font:inherit;background:#0b5394;color:#fff;border:0;border-radius:.3rem}\
.error{background:#fdecea;border:1px solid #e0a39c;padding:.6rem;border-radius:.3rem}\
.result{background:#edf7ed;border:1px solid #9cc89e;padding:.1rem .9rem .6rem;border-radius:.3rem}\
pre{overflow-x:auto;font-size:.8rem;background:#f4f6f8;padding:.5rem}code{overflow-wrap:anywhere}\
";

/// What the portal says about a scope it offers; unknown scopes are shown by name only.
fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "accounts" => "account information: accounts, balances and transactions, with the customer's consent",
        "openid" => "OpenID Connect: who the customer is",
        _ => "offered by this server",
    }
}

/// The routes of the portal (`GET` and `POST` [`PORTAL_PATH`]) over `server`, to merge into the
/// sandbox's app.
pub fn router<S: Clone + Send + Sync + 'static>(server: &AuthorizationServer) -> Router<S> {
    let state = Portal {
        server: server.clone(),
        secure_cookie: server.issuer().as_str().starts_with("https:"),
        csp: csp(STYLESHEET),
    };
    Router::new().route(PORTAL_PATH, get(show).post(register)).with_state(state)
}

/// The portal's state: the authorization server it registers with, and its headers.
#[derive(Clone)]
struct Portal {
    server: AuthorizationServer,
    secure_cookie: bool,
    csp: HeaderValue,
}

impl Portal {
    fn cookie_name(&self) -> &'static str {
        if self.secure_cookie { SECURE_CSRF_COOKIE } else { CSRF_COOKIE }
    }

    /// The CSRF cookie carrying `token`: `HttpOnly`, `SameSite=Strict`, `Secure` over https.
    /// `Path=/` (a `__Host-` cookie must have it); it only guards the portal's form.
    fn cookie(&self, token: String) -> Cookie<'static> {
        Cookie::build((self.cookie_name(), token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure_cookie)
            .build()
    }

    /// The scopes the server offers, ticked as in `form` (on a fresh form: `accounts`, what an
    /// account-information app needs).
    fn scopes(&self, form: &FormValues) -> Vec<ScopeChoice> {
        let offered = self.server.metadata().scopes_supported.unwrap_or_default();
        offered
            .into_iter()
            .map(|name| ScopeChoice {
                checked: match &form.scopes {
                    Some(chosen) => chosen.contains(&name),
                    None => name == "accounts",
                },
                description: describe_scope(&name),
                name,
            })
            .collect()
    }

    /// The page: `form` (with the values to keep), the error or the registration, a fresh CSRF
    /// token in the cookie and the form.
    fn page(
        &self,
        jar: CookieJar,
        status: StatusCode,
        form: &FormValues,
        error: Option<String>,
        registered: Option<Registered>,
    ) -> Response {
        let csrf = random_token(32);
        let issuer = self.server.issuer().as_str().trim_end_matches('/');
        let page = PortalHtml {
            bank_name: BANK_NAME,
            stylesheet: STYLESHEET,
            issuer,
            discovery: format!("{issuer}{}", paths::OAUTH_METADATA),
            api_base: format!("{issuer}/open-banking/v3.1/aisp/"),
            psus: PSUS,
            action: PORTAL_PATH,
            csrf: &csrf,
            form,
            scopes: self.scopes(form),
            error,
            registered,
        };
        let response = match page.render() {
            Ok(html) => (status, jar.add(self.cookie(csrf.clone())), html).into_response(),
            Err(error) => {
                tracing::error!(%error, "portal: rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "the portal page could not be rendered").into_response()
            }
        };
        self.secured(response)
    }

    /// Adds the content type, the CSP and the other hardening headers.
    fn secured(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        response
    }
}

/// The portal's `Content-Security-Policy`: no script, nothing loaded, only `stylesheet` (by its
/// hash), forms posted to this origin only, no framing.
fn csp(stylesheet: &str) -> HeaderValue {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, stylesheet.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    // A base64 hash and ASCII text: always a valid header value.
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// A seeded customer, as the page lists them.
struct Psu {
    username: &'static str,
    password: &'static str,
    accounts: &'static str,
}

/// The sandbox's seeded customers (see [`crate::sandbox`]).
const PSUS: &[Psu] = &[
    Psu {
        username: "alice",
        password: "alice-password",
        accounts: "two: a savings account and an overdrawn current account (ARS)",
    },
    Psu { username: "bob", password: "bob-password", accounts: "one: a savings account (ARS)" },
];

/// A scope checkbox.
struct ScopeChoice {
    name: String,
    description: &'static str,
    checked: bool,
}

/// The form's values, kept across a refusal.
#[derive(Default)]
struct FormValues {
    client_name: String,
    redirect_uri: String,
    jwk: String,
    /// `None` on a fresh form (the default choice), else what was ticked.
    scopes: Option<Vec<String>>,
}

impl FormValues {
    /// The values of a posted form (`scope` may repeat), and its CSRF field.
    fn from_pairs(pairs: Vec<(String, String)>) -> (Self, Option<String>) {
        let mut form = Self { scopes: Some(Vec::new()), ..Self::default() };
        let mut csrf = None;
        for (name, value) in pairs {
            match name.as_str() {
                "client_name" => form.client_name = value,
                "redirect_uri" => form.redirect_uri = value,
                "jwk" => form.jwk = value,
                "scope" => form.scopes.get_or_insert_with(Vec::new).push(value),
                CSRF_FIELD => csrf = Some(value),
                _ => {}
            }
        }
        (form, csrf)
    }

    /// The RFC 7591 metadata document for these values: the key as a JWK Set (a lone JWK is
    /// wrapped), `private_key_jwt`, the three grants, DPoP-bound tokens. Only the JSON is
    /// checked here; every rule of registration is the server's.
    fn metadata(&self) -> Result<Value, String> {
        let key: Value = serde_json::from_str(self.jwk.trim())
            .map_err(|e| format!("the public key is not JSON: {e} (paste a JWK, or a JWK Set)"))?;
        let jwks = if key.get("keys").is_some() { key } else { json!({ "keys": [key] }) };
        let scopes = self.scopes.clone().unwrap_or_default();
        if scopes.is_empty() {
            return Err("choose at least one API (scope) the application will call".to_owned());
        }
        Ok(json!({
            "client_name": self.client_name.trim(),
            "redirect_uris": [self.redirect_uri.trim()],
            "grant_types": ["authorization_code", "client_credentials", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks,
            "scope": scopes.join(" "),
            "dpop_bound_access_tokens": true,
        }))
    }
}

/// The registration, as the page shows it.
struct Registered {
    client_name: String,
    client_id: String,
    issued_at: String,
    auth_method: String,
    redirect_uris: String,
    grant_types: String,
    scope: String,
    dpop_bound: &'static str,
    registration_client_uri: String,
    registration_access_token: String,
    json: String,
}

impl Registered {
    fn new(body: &RegistrationResponse) -> Self {
        let metadata = &body.metadata;
        let issued_at = body
            .client_id_issued_at
            .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok())
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
        Self {
            client_name: metadata.client_name.clone().unwrap_or_default(),
            client_id: body.client_id.as_str().to_owned(),
            issued_at,
            auth_method: metadata.token_endpoint_auth_method.as_str().to_owned(),
            redirect_uris: metadata.redirect_uris.join(" "),
            grant_types: metadata.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" "),
            scope: metadata.scope.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            dpop_bound: if metadata.dpop_bound_access_tokens { "yes" } else { "no" },
            registration_client_uri: body.registration_client_uri.clone(),
            registration_access_token: body.registration_access_token.clone(),
            json: serde_json::to_string_pretty(body).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "portal.html", config = "templates/askama.toml")]
struct PortalHtml<'a> {
    bank_name: &'a str,
    stylesheet: &'a str,
    issuer: &'a str,
    discovery: String,
    api_base: String,
    psus: &'a [Psu],
    action: &'a str,
    csrf: &'a str,
    form: &'a FormValues,
    scopes: Vec<ScopeChoice>,
    error: Option<String>,
    registered: Option<Registered>,
}

/// `GET /portal`.
async fn show(State(portal): State<Portal>, jar: CookieJar) -> Response {
    portal.page(jar, StatusCode::OK, &FormValues::default(), None, None)
}

/// `POST /portal`: checks the CSRF token, then registers through the server.
async fn register(State(portal): State<Portal>, jar: CookieJar, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (form, sent) = FormValues::from_pairs(pairs);
    let cookie = jar.get(portal.cookie_name()).map(|c| c.value().to_owned());
    let same = match (&cookie, &sent) {
        (Some(cookie), Some(sent)) if !cookie.is_empty() => bool::from(cookie.as_bytes().ct_eq(sent.as_bytes())),
        _ => false,
    };
    if !same {
        let error = "This form had expired or did not come from this page: nothing was registered. \
                     Check the values and send it again."
            .to_owned();
        return portal.page(jar, StatusCode::FORBIDDEN, &form, Some(error), None);
    }
    let metadata = match form.metadata() {
        Ok(metadata) => metadata,
        Err(error) => return portal.page(jar, StatusCode::BAD_REQUEST, &form, Some(error), None),
    };
    match portal.server.register_client(None, metadata).await {
        Ok(response) => {
            let registered = Registered::new(&response.body());
            tracing::info!(client_id = %registered.client_id, "portal: application registered");
            portal.page(jar, StatusCode::CREATED, &FormValues::default(), None, Some(registered))
        }
        Err(refused) => {
            let body = refused.body();
            let error = match body.error_description {
                Some(description) => format!("The bank refused the registration: {description} ({})", body.error),
                None => format!("The bank refused the registration ({})", body.error),
            };
            portal.page(jar, refused.status(), &form, Some(error), None)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_lone_jwk_is_wrapped_in_a_set_and_the_form_becomes_rfc7591_metadata() {
        let (form, csrf) = FormValues::from_pairs(vec![
            ("csrf".into(), "t".into()),
            ("client_name".into(), " Billetera ".into()),
            ("redirect_uri".into(), "https://tpp.example/cb".into()),
            ("jwk".into(), r#"{"kty":"EC"}"#.into()),
            ("scope".into(), "accounts".into()),
            ("scope".into(), "openid".into()),
        ]);
        assert_eq!(csrf.as_deref(), Some("t"));
        let metadata = form.metadata().unwrap();
        assert_eq!(metadata["client_name"], "Billetera");
        assert_eq!(metadata["jwks"]["keys"][0]["kty"], "EC");
        assert_eq!(metadata["scope"], "accounts openid");
        assert_eq!(metadata["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(metadata["dpop_bound_access_tokens"], true);
    }

    #[test]
    fn a_key_that_is_not_json_or_no_scope_is_refused_before_the_server() {
        let (form, _) = FormValues::from_pairs(vec![("jwk".into(), "not json".into()), ("scope".into(), "x".into())]);
        assert!(form.metadata().unwrap_err().contains("not JSON"));
        let (form, _) = FormValues::from_pairs(vec![("jwk".into(), "{}".into())]);
        assert!(form.metadata().unwrap_err().contains("at least one"));
    }

    /// The value of the hidden CSRF field of a portal page.
    fn csrf_field(html: &str) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).unwrap() + marker.len();
        html[start..start + html[start..].find('"').unwrap()].to_owned()
    }

    #[tokio::test]
    async fn registers_through_the_server_refuses_cross_site_posts_and_keeps_values_on_errors() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = openbanking_core::Issuer::parse(base.clone()).unwrap();
        let bank = crate::sandbox::build(crate::sandbox::SandboxConfig::new(issuer)).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, bank.router).await.unwrap() });
        let url = format!("{base}{PORTAL_PATH}");
        let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let key =
            openbanking_core::jose::SigningKey::generate(openbanking_core::jose::SigningAlgorithm::ES256).unwrap();
        let jwk = key.public_jwk().to_json().to_string();

        // The page: hardened, with a CSRF cookie and field.
        let page = browser.get(&url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{csp}");
        let cookie = page.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let html = page.text().await.unwrap();
        assert!(html.contains("/.well-known/oauth-authorization-server") && html.contains("alice-password"));
        let csrf = csrf_field(&html);

        let form = |csrf: &str, name: &str, redirect: &str| {
            vec![
                ("csrf".to_owned(), csrf.to_owned()),
                ("client_name".to_owned(), name.to_owned()),
                ("redirect_uri".to_owned(), redirect.to_owned()),
                ("jwk".to_owned(), jwk.clone()),
                ("scope".to_owned(), "accounts".to_owned()),
            ]
        };

        // A post without the cookie (another site's form) is refused, and nothing registered.
        let stranger = reqwest::Client::new();
        let refused = stranger.post(&url).form(&form(&csrf, "Forged", "https://tpp.example/cb")).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(!refused.text().await.unwrap().contains("client-id"));

        // The server's own rules refuse a bad redirect URI: the page says so, values kept, escaped.
        let bad = browser.post(&url).form(&form(&csrf, "<script>x</script>", "not a url")).send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let html = bad.text().await.unwrap();
        assert!(html.contains("The bank refused the registration"), "{html}");
        assert!(html.contains("value=\"&#60;script&#62;x&#60;/script&#62;\""), "{html}");
        assert!(!html.contains("<script>x</script>"));
        assert!(html.contains("value=\"not a url\""));

        // A good form: registered, the client metadata shown.
        let csrf = csrf_field(&html);
        let ok =
            browser.post(&url).form(&form(&csrf, "Billetera Feliz", "https://tpp.example/cb")).send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::CREATED);
        let html = ok.text().await.unwrap();
        assert!(html.contains("id=\"client-id\"") && html.contains("private_key_jwt"), "{html}");
        assert!(html.contains("Registered: Billetera Feliz"));
    }

    #[test]
    fn csp_allows_no_script_and_posts_to_self_only() {
        let csp = csp(STYLESHEET);
        let csp = csp.to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
        assert!(csp.contains("form-action 'self'") && !csp.contains("script"));
    }
}
