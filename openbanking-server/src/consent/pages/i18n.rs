//! The pages' words: one [`Texts`] per language (English and Spanish built in), and the choice of
//! language from the browser's `Accept-Language` (RFC 9110 §12.5.4, ranges matched as in
//! RFC 4647).
//!
//! The texts live here, not in the templates, so every language shares one template. Form field
//! names and `decision` values are not texts: they never change with the language.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use openbanking_core::consent::Permission;
use time::OffsetDateTime;

use super::catalogue::{EN, ES};

/// The language of the built-in English texts, and of every page unless the browser prefers
/// another supported language.
pub const ENGLISH: &str = "en";
/// The language of the built-in Spanish texts (Argentina's: "Iniciar sesión", "Aprobar").
pub const SPANISH: &str = "es";

/// Every text the PSU pages show, in one language.
///
/// Start from [`Texts::english`] or [`Texts::spanish`] and change fields; give the result to
/// [`ConsentPagesBuilder::texts`](super::ConsentPagesBuilder::texts) under a language tag. A few
/// texts take values, written as `{name}` placeholders: `{client}` (the app's name), `{left}` (login
/// tries left), `{minutes}` (a wait), `{from}` and `{to}` (dates). The struct is
/// `#[non_exhaustive]`, so new texts can be added without breaking a bank's code; a bank's
/// language then shows the English text for them until it sets its own.
///
/// ```
/// use openbanking_server::consent::pages::Texts;
/// let mut texts = Texts::spanish();
/// texts.log_in = "Ingresar".into();
/// texts.login_heading = "Ingreso a Home Banking".into();
/// assert_eq!(texts.approve, "Aprobar");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Texts {
    /// Shown as the bank's name when none was configured.
    pub default_bank_name: Cow<'static, str>,
    /// The login page's title.
    pub login_title: Cow<'static, str>,
    /// The login page's heading.
    pub login_heading: Cow<'static, str>,
    /// The username field's label.
    pub username: Cow<'static, str>,
    /// The password field's label.
    pub password: Cow<'static, str>,
    /// The login button.
    pub log_in: Cow<'static, str>,
    /// A failed login with one try left.
    pub login_failed_one_left: Cow<'static, str>,
    /// A failed login with `{left}` tries left.
    pub login_failed_left: Cow<'static, str>,
    /// A login refused without checking, after too many failures for the username (or from
    /// the network) across sessions: wait `{minutes}` minutes.
    pub login_throttled: Cow<'static, str>,
    /// The consent page's title.
    pub consent_title: Cow<'static, str>,
    /// The consent page's heading for an account-access consent (`{client}`).
    pub consent_heading: Cow<'static, str>,
    /// The heading over the permissions (`{client}`).
    pub consent_permissions_heading: Cow<'static, str>,
    /// Before the consent's expiry date.
    pub consent_until: Cow<'static, str>,
    /// A consent without expiry.
    pub consent_no_end: Cow<'static, str>,
    /// The consent's transaction window (`{from}`, `{to}`).
    pub consent_transactions: Cow<'static, str>,
    /// A transaction window with only a start (`{from}`).
    pub consent_transactions_from: Cow<'static, str>,
    /// A transaction window with only an end (`{to}`).
    pub consent_transactions_to: Cow<'static, str>,
    /// Access to transactions without a window.
    pub consent_transactions_any: Cow<'static, str>,
    /// A TPP named only by its own word (its `client_name`, not vouched for by a directory):
    /// `{client}` marked as unverified.
    pub unverified_client: Cow<'static, str>,
    /// The consent page's heading for a request without a consent, only scopes (`{client}`).
    pub scope_heading: Cow<'static, str>,
    /// The legend over the accounts to choose.
    pub accounts_legend: Cow<'static, str>,
    /// The PSU has no account to share.
    pub no_accounts: Cow<'static, str>,
    /// The approve button.
    pub approve: Cow<'static, str>,
    /// The deny button.
    pub deny: Cow<'static, str>,
    /// Below the consent form: where to revoke later.
    pub revoke_later: Cow<'static, str>,
    /// Approve without any account.
    pub select_an_account: Cow<'static, str>,
    /// Approve with an account that was not offered.
    pub select_listed_accounts: Cow<'static, str>,
    /// The dashboard's title.
    pub dashboard_title: Cow<'static, str>,
    /// The dashboard's heading.
    pub dashboard_heading: Cow<'static, str>,
    /// The dashboard without consents.
    pub dashboard_empty: Cow<'static, str>,
    /// Dashboard label: the consent's status.
    pub status: Cow<'static, str>,
    /// Dashboard label: when the consent was given.
    pub given: Cow<'static, str>,
    /// Dashboard label: when the consent expires.
    pub expires: Cow<'static, str>,
    /// Dashboard value: a consent without expiry.
    pub no_end_date: Cow<'static, str>,
    /// Dashboard label: the consent's accounts.
    pub accounts: Cow<'static, str>,
    /// Dashboard label: the consent's id.
    pub consent: Cow<'static, str>,
    /// Dashboard: before the permissions of an active consent.
    pub it_can_see: Cow<'static, str>,
    /// Dashboard: before the permissions of a consent that is over (revoked, rejected, expired).
    pub it_could_see: Cow<'static, str>,
    /// Dashboard: after a revocation.
    pub revoked_notice: Cow<'static, str>,
    /// The revoke button.
    pub revoke: Cow<'static, str>,
    /// The log out button.
    pub log_out: Cow<'static, str>,
    /// Status `Authorised`.
    pub status_authorised: Cow<'static, str>,
    /// Status `AwaitingAuthorisation`.
    pub status_awaiting: Cow<'static, str>,
    /// Status `Rejected`.
    pub status_rejected: Cow<'static, str>,
    /// Status `Revoked`.
    pub status_revoked: Cow<'static, str>,
    /// Status `Expired` (or due to expire).
    pub status_expired: Cow<'static, str>,
    /// Error title: a form without a valid CSRF token or session.
    pub forbidden_title: Cow<'static, str>,
    /// Error text: a form without a valid CSRF token or session.
    pub forbidden: Cow<'static, str>,
    /// Error title: the interaction expired or is over.
    pub expired_title: Cow<'static, str>,
    /// Error text: the interaction expired or is over.
    pub expired: Cow<'static, str>,
    /// Error title: no such consent.
    pub not_found_title: Cow<'static, str>,
    /// Error text: no such consent.
    pub not_found: Cow<'static, str>,
    /// Error title: the consent was already decided.
    pub conflict_title: Cow<'static, str>,
    /// Error text: the consent was already decided.
    pub conflict: Cow<'static, str>,
    /// Error title: a form that can't be acted on.
    pub bad_request_title: Cow<'static, str>,
    /// Error text: neither Approve nor Deny.
    pub choose_decision: Cow<'static, str>,
    /// Error text: revoke without a consent.
    pub no_consent_named: Cow<'static, str>,
    /// Error title: too many failed logins.
    pub too_many_attempts_title: Cow<'static, str>,
    /// Error text: too many failed logins.
    pub too_many_attempts: Cow<'static, str>,
    /// Error title: no room for a session.
    pub unavailable_title: Cow<'static, str>,
    /// Error text: no room for a session.
    pub unavailable: Cow<'static, str>,
    /// Error title: an internal failure.
    pub server_error_title: Cow<'static, str>,
    /// Error text: an internal failure.
    pub server_error: Cow<'static, str>,
    /// Hub pages: the hub's name when none was configured.
    pub hub_default_name: Cow<'static, str>,
    /// Hub pages: an app at a bank (`{client}`, `{bank}`).
    pub hub_client_at_bank: Cow<'static, str>,
    /// Hub home page: what the hub is (`{product}`: the software's name, in bold).
    pub hub_home_intro: Cow<'static, str>,
    /// Hub home page: after the link to the dashboard.
    pub hub_home_dashboard: Cow<'static, str>,
    /// Hub error title: a bank's link to the hub that can't be used.
    pub hub_link_broken_title: Cow<'static, str>,
    /// Hub error text: start again from the app.
    pub hub_start_again: Cow<'static, str>,
    /// Hub error title: the session is over.
    pub hub_session_ended_title: Cow<'static, str>,
    /// Hub error text: start again from the app or the dashboard.
    pub hub_session_ended: Cow<'static, str>,
    /// Hub error title: a form without a valid CSRF token.
    pub hub_form_expired_title: Cow<'static, str>,
    /// Hub error text: a form without a valid CSRF token.
    pub hub_form_expired: Cow<'static, str>,
    /// Hub error title: login can't be offered now.
    pub hub_login_unavailable_title: Cow<'static, str>,
    /// Hub error text: try later.
    pub hub_try_later: Cow<'static, str>,
    /// Hub error title: the bank did not give the PSU's accounts.
    pub hub_bank_not_answering_title: Cow<'static, str>,
    /// Hub error title: the PSU's consents can't be listed.
    pub hub_consents_unavailable_title: Cow<'static, str>,
    /// Hub error title: no such consent of the PSU's.
    pub hub_no_such_consent_title: Cow<'static, str>,
    /// Hub error text: back to the dashboard.
    pub hub_back_to_consents: Cow<'static, str>,
    /// A bank's error page in hub mode: the request can't be completed.
    pub cannot_complete_title: Cow<'static, str>,
    /// A bank's error page in hub mode: the hub's answer did not verify.
    pub hub_answer_refused: Cow<'static, str>,
    /// The authorization server's `/authorize` error page: its title (the OAuth `error` code and
    /// description below it stay as the protocol writes them).
    pub authorization_error_title: Cow<'static, str>,
    /// Month names as dates show them, January first.
    pub months: [Cow<'static, str>; 12],
    /// What each permission lets the app see, in words. A permission missing here shows its
    /// English [`description`](Permission::description).
    pub permissions: Cow<'static, [(Permission, Cow<'static, str>)]>,
}

impl Texts {
    /// The English texts (the default language).
    pub fn english() -> Self {
        EN.clone()
    }

    /// The Spanish texts, for Argentina.
    pub fn spanish() -> Self {
        ES.clone()
    }

    /// What `permission` lets the app see, in this language.
    pub fn permission(&self, permission: Permission) -> &str {
        self.permissions.iter().find(|(p, _)| *p == permission).map_or(permission.description(), |(_, text)| text)
    }

    /// `date` (in UTC) as the pages show it: `15 Jun 2026, 12:00 UTC`.
    pub fn date(&self, date: OffsetDateTime) -> String {
        let date = date.to_offset(time::UtcOffset::UTC);
        let month = self.months.get(usize::from(u8::from(date.month())) - 1).map_or("", |m| m.as_ref());
        format!("{} {month} {}, {:02}:{:02} UTC", date.day(), date.year(), date.hour(), date.minute())
    }
}

/// `text` with every `{name}` replaced by its value.
pub(super) fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The languages the pages speak: English first (the default), then the others in the order
/// they were added. The bank's pages and the hub's pages each have one.
#[derive(Clone)]
pub(crate) struct Catalogue {
    languages: Vec<(String, Arc<Texts>)>,
}

impl fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.languages.iter().map(|(tag, _)| tag)).finish()
    }
}

impl Default for Catalogue {
    fn default() -> Self {
        Self {
            languages: vec![
                (ENGLISH.to_owned(), Arc::new(Texts::english())),
                (SPANISH.to_owned(), Arc::new(Texts::spanish())),
            ],
        }
    }
}

impl Catalogue {
    /// Adds a language, or replaces its texts (tags compare without regard to case).
    pub(crate) fn insert(&mut self, tag: &str, texts: Texts) {
        let tag = tag.to_ascii_lowercase();
        match self.languages.iter_mut().find(|(t, _)| *t == tag) {
            Some(slot) => slot.1 = Arc::new(texts),
            None => self.languages.push((tag, Arc::new(texts))),
        }
    }

    /// Every language tag is well formed (RFC 5646 §2.1, loosely): letters and digits in parts
    /// of 1 to 8, joined by `-`.
    pub(crate) fn tags_are_valid(&self) -> bool {
        self.languages.iter().all(|(tag, _)| {
            !tag.is_empty()
                && tag
                    .split('-')
                    .all(|sub| (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
    }

    /// The default language (English).
    fn default_language(&self) -> (&str, &Arc<Texts>) {
        self.languages.first().map_or((ENGLISH, &DEFAULT), |(tag, texts)| (tag.as_str(), texts))
    }

    /// The best supported language for an `Accept-Language` value (or none): its tag and texts.
    pub(crate) fn negotiate(&self, accept_language: Option<&str>) -> (&str, &Arc<Texts>) {
        let tags: Vec<&str> = self.languages.iter().map(|(tag, _)| tag.as_str()).collect();
        accept_language
            .and_then(|header| best_match(header, &tags))
            .and_then(|i| self.languages.get(i))
            .map_or_else(|| self.default_language(), |(tag, texts)| (tag.as_str(), texts))
    }
}

static DEFAULT: std::sync::LazyLock<Arc<Texts>> = std::sync::LazyLock::new(|| Arc::new(Texts::english()));

/// The index in `supported` (lowercase tags) of the language an `Accept-Language` value prefers
/// most, or `None` for no preference we can meet (or `*`, which any language meets: the default).
///
/// Ranges are tried by falling weight (`q`, default 1; `q=0` means "not this one"), in order of
/// appearance among equals. A range matches a tag equal to it, a tag it is a prefix of (`es`
/// matches `es-ar`), or a tag that is a prefix of it (`es-AR` matches `es`), preferring the
/// longest. Malformed entries are skipped.
fn best_match(header: &str, supported: &[&str]) -> Option<usize> {
    let mut ranges: Vec<(String, u16)> = header.split(',').filter_map(parse_range).filter(|(_, q)| *q > 0).collect();
    // Stable: equal weights keep the header's order.
    ranges.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (range, _) in ranges {
        if range == "*" {
            return None;
        }
        let matching = supported.iter().enumerate().filter(|(_, tag)| {
            **tag == range
                || tag.strip_prefix(range.as_str()).is_some_and(|rest| rest.starts_with('-'))
                || range.strip_prefix(**tag).is_some_and(|rest| rest.starts_with('-'))
        });
        // Exact first, then the longest shared prefix.
        if let Some((i, _)) =
            matching.max_by_key(|(_, tag)| (**tag == range, usize::MAX - tag.len().abs_diff(range.len())))
        {
            return Some(i);
        }
    }
    None
}

/// One `language-range [;q=weight]`, lowercased, with the weight in thousandths.
fn parse_range(item: &str) -> Option<(String, u16)> {
    let mut parts = item.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    let valid = range == "*"
        || (!range.is_empty()
            && range
                .split('-')
                .all(|sub| (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())));
    if !valid {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = parse_weight(value.trim())?;
        }
    }
    Some((range, q))
}

/// A `qvalue` (`0`, `0.5`, `1.000`) in thousandths.
fn parse_weight(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use time::macros::datetime;

    use super::*;

    fn pick(header: &str) -> Option<&'static str> {
        const SUPPORTED: [&str; 3] = ["en", "es", "pt-br"];
        best_match(header, &SUPPORTED).map(|i| SUPPORTED[i])
    }

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(pick("es-AR,es;q=0.9"), Some("es"));
        assert_eq!(pick("en;q=0.1, es;q=0.9"), Some("es"));
        assert_eq!(pick("fr-FR, fr;q=0.9, es;q=0.5, en;q=0.4"), Some("es"));
        assert_eq!(pick("de, en-GB;q=0.8"), Some("en"));
        assert_eq!(pick("pt"), Some("pt-br"));
        assert_eq!(pick("PT-br"), Some("pt-br"));
        assert_eq!(pick("es;q=1, en;q=1"), Some("es"), "equal weights keep the header's order");
    }

    #[test]
    fn accept_language_without_a_supported_choice_is_none() {
        assert_eq!(pick(""), None);
        assert_eq!(pick("*"), None);
        assert_eq!(pick("fr, de;q=0.5"), None);
        assert_eq!(pick("es;q=0, fr"), None, "q=0 refuses");
        assert_eq!(pick("*, es;q=0.5"), None, "the wildcard first: the default");
        assert_eq!(pick("es;q=2, e$;q=1, ;q=1"), None, "malformed entries are skipped");
        assert_eq!(pick("es;q=0.5;level=1"), Some("es"));
    }

    #[test]
    fn catalogue_defaults_to_english_and_takes_new_languages() {
        let mut catalogue = Catalogue::default();
        assert_eq!(catalogue.negotiate(None).0, "en");
        assert_eq!(catalogue.negotiate(Some("es-AR,es;q=0.9")).1.log_in, "Iniciar sesión");
        let mut portuguese = Texts::english();
        portuguese.log_in = "Entrar".into();
        catalogue.insert("pt-BR", portuguese);
        let (tag, texts) = catalogue.negotiate(Some("pt"));
        assert_eq!((tag, texts.log_in.as_ref()), ("pt-br", "Entrar"));
    }

    #[test]
    fn spanish_names_every_permission() {
        let spanish = Texts::spanish();
        for permission in Permission::ALL {
            assert!(spanish.permissions.iter().any(|(p, _)| p == permission), "{permission}");
        }
        assert_eq!(Texts::english().permission(Permission::ReadBalances), Permission::ReadBalances.description());
    }

    #[test]
    fn dates_and_placeholders() {
        let at = datetime!(2026-06-05 09:07 -3);
        assert_eq!(Texts::english().date(at), "5 Jun 2026, 12:07 UTC");
        assert_eq!(Texts::spanish().date(at), "5 jun 2026, 12:07 UTC");
        assert_eq!(fill("{client} asks {client}", &[("client", "<b>")]), "<b> asks <b>");
    }
}
