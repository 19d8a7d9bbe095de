//! Every path a bank serves, as constants shared by the server (which routes them) and a client
//! (which calls them).
//!
//! The authorization server's paths are relative to the issuer URL; the metadata document
//! (RFC 8414) is built from these same constants, so discovery can't drift from the routes. The
//! UK Open Banking paths are relative to the resource server's base (for example
//! `https://bank.example`); a path segment in braces (`{ConsentId}`) is a parameter, spelled as
//! the router expects it. The PSU pages (login, consent, dashboard) are relative to the site that
//! serves them: the bank, or a hub in the centralized model.

/// RFC 8414 §3 metadata.
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
/// OpenID Connect Discovery 1.0 §4 metadata (the same document; FAPI clients look here).
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
/// The JWK Set (RFC 7517) of the keys that sign access tokens.
pub const JWKS: &str = "/jwks";
/// Dynamic client registration (RFC 7591).
pub const REGISTER: &str = "/register";
/// Client configuration endpoint (RFC 7592): `/register/{client_id}`.
pub const REGISTER_CLIENT: &str = "/register/{client_id}";
/// Pushed authorization requests (RFC 9126).
pub const PAR: &str = "/par";
/// Authorization endpoint (RFC 6749 §3.1).
pub const AUTHORIZE: &str = "/authorize";
/// Token endpoint (RFC 6749 §3.2).
pub const TOKEN: &str = "/token";
/// Token introspection (RFC 7662).
pub const INTROSPECT: &str = "/introspect";
/// Token revocation (RFC 7009).
pub const REVOKE: &str = "/revoke";

/// UK Open Banking v3.1 AIS: `POST` creates an account-access consent.
pub const ACCOUNT_ACCESS_CONSENTS: &str = "/open-banking/v3.1/aisp/account-access-consents";
/// UK Open Banking v3.1 AIS: `GET` reads and `DELETE` revokes one consent.
pub const ACCOUNT_ACCESS_CONSENT: &str = "/open-banking/v3.1/aisp/account-access-consents/{ConsentId}";
/// UK Open Banking v3.1 AIS: `GET` the consented accounts.
pub const ACCOUNTS: &str = "/open-banking/v3.1/aisp/accounts";
/// UK Open Banking v3.1 AIS: `GET` one consented account.
pub const ACCOUNT: &str = "/open-banking/v3.1/aisp/accounts/{AccountId}";
/// UK Open Banking v3.1 AIS: `GET` the balances of a consented account.
pub const ACCOUNT_BALANCES: &str = "/open-banking/v3.1/aisp/accounts/{AccountId}/balances";
/// UK Open Banking v3.1 AIS: `GET` the transactions of a consented account.
pub const ACCOUNT_TRANSACTIONS: &str = "/open-banking/v3.1/aisp/accounts/{AccountId}/transactions";

/// The PSU's login form, served by the bank's consent pages and by a hub's (GET shows it, POST
/// submits it). The PSU pages are browser paths, relative to the site that serves them.
pub const PSU_LOGIN: &str = "/psu/login";
/// The consent page of the interaction in progress (GET shows it, POST decides).
pub const PSU_CONSENT: &str = "/psu/consent";
/// Ends the PSU's session (POST).
pub const PSU_LOGOUT: &str = "/psu/logout";
/// The PSU's consent dashboard.
pub const PSU_DASHBOARD: &str = "/consents";
/// Revokes one of the PSU's consents (POST, `consent_id`, from the dashboard).
pub const PSU_REVOKE: &str = "/consents/revoke";

/// The client configuration path of one client: `/register/<client_id>` (RFC 7592 §2).
///
/// ```
/// assert_eq!(openbanking_core::wire::paths::register_client("abc"), "/register/abc");
/// ```
pub fn register_client(client_id: &str) -> String {
    format!("{REGISTER}/{client_id}")
}

/// The path of one account-access consent:
/// `/open-banking/v3.1/aisp/account-access-consents/<ConsentId>`.
pub fn account_access_consent(consent_id: &str) -> String {
    format!("{ACCOUNT_ACCESS_CONSENTS}/{consent_id}")
}

/// The path of one account: `/open-banking/v3.1/aisp/accounts/<AccountId>`.
pub fn account(account_id: &str) -> String {
    format!("{ACCOUNTS}/{account_id}")
}

/// The balances of one account: `/open-banking/v3.1/aisp/accounts/<AccountId>/balances`.
pub fn account_balances(account_id: &str) -> String {
    format!("{ACCOUNTS}/{account_id}/balances")
}

/// The transactions of one account: `/open-banking/v3.1/aisp/accounts/<AccountId>/transactions`.
pub fn account_transactions(account_id: &str) -> String {
    format!("{ACCOUNTS}/{account_id}/transactions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_fill_the_templates() {
        assert_eq!(REGISTER_CLIENT.replace("{client_id}", "c1"), register_client("c1"));
        assert_eq!(ACCOUNT_ACCESS_CONSENT.replace("{ConsentId}", "x"), account_access_consent("x"));
        assert_eq!(ACCOUNT.replace("{AccountId}", "a"), account("a"));
        assert_eq!(ACCOUNT_BALANCES.replace("{AccountId}", "a"), account_balances("a"));
        assert_eq!(ACCOUNT_TRANSACTIONS.replace("{AccountId}", "a"), account_transactions("a"));
    }
}
