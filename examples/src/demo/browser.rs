//! The PSU's browser, driven over HTTP against the real pages.

use openbanking_core::ConsentId;
use reqwest::redirect::Policy;
use url::Url;

use super::REDIRECT_URI;

/// The PSU's browser: one cookie-keeping HTTP client that follows the bank's pages one redirect
/// at a time, and fills the real forms (CSRF field included).
pub(super) struct Browser {
    http: reqwest::Client,
}

impl Browser {
    pub(super) fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http })
    }

    async fn get(&self, url: &Url) -> Result<String, String> {
        let response = self.http.get(url.clone()).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET {} answered {}", url.path(), response.status()));
        }
        response.text().await.map_err(|e| e.to_string())
    }

    /// GETs `url`, following up to three redirects; where it ended and the page.
    async fn get_following(&self, url: &Url) -> Result<(Url, String), String> {
        let mut url = url.clone();
        for _ in 0..3 {
            let response = self.http.get(url.clone()).send().await.map_err(|e| e.to_string())?;
            if response.status() == reqwest::StatusCode::SEE_OTHER {
                url = next(&url, &response)?;
                continue;
            }
            if !response.status().is_success() {
                return Err(format!("GET {} answered {}", url.path(), response.status()));
            }
            return Ok((url, response.text().await.map_err(|e| e.to_string())?));
        }
        Err(format!("too many redirects from {}", url.path()))
    }

    /// POSTs `form` to `url`, expecting a 303; where it leads.
    async fn post(&self, url: &Url, form: &[(String, String)]) -> Result<Url, String> {
        let response = self.http.post(url.clone()).form(form).send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::SEE_OTHER {
            return Err(format!("POST {} answered {}, not 303", url.path(), response.status()));
        }
        next(url, &response)
    }

    /// Follows `authorize_url` to the login page, logs in as `user` (`user-password`), approves
    /// the first account offered. The URL the bank sends the browser back to, how many accounts
    /// were offered, and the one approved.
    pub(super) async fn log_in_and_approve_first(
        &self,
        authorize_url: &str,
        user: &str,
    ) -> Result<(String, usize, String), String> {
        let mut url = Url::parse(authorize_url).map_err(|e| e.to_string())?;
        let response = self.http.get(url.clone()).send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::SEE_OTHER {
            return Err(format!("/authorize answered {}, not 303 to the login page", response.status()));
        }
        url = next(&url, &response)?;
        // At a hub the first page may redirect again (to its login page).
        let (at, mut page) = self.get_following(&url).await?;
        url = at;
        if page.contains("name=\"username\"") {
            let form = [
                ("csrf".to_owned(), field(&page, "csrf")?),
                ("username".to_owned(), user.to_owned()),
                ("password".to_owned(), format!("{user}-password")),
            ];
            url = self.post(&url, &form).await?;
            page = self.get(&url).await?;
        }
        let accounts = values(&page, "account");
        let first = accounts.first().ok_or("the consent page offers no account")?.clone();
        let form = [
            ("csrf".to_owned(), field(&page, "csrf")?),
            ("decision".to_owned(), "approve".to_owned()),
            ("account".to_owned(), first.clone()),
        ];
        let mut back = self.post(&url, &form).await?;
        // In the centralized model the hub sends the browser to the bank's callback first, which
        // then redirects to the TPP.
        for _ in 0..3 {
            if back.as_str().starts_with(REDIRECT_URI) {
                break;
            }
            let response = self.http.get(back.clone()).send().await.map_err(|e| e.to_string())?;
            if response.status() != reqwest::StatusCode::SEE_OTHER {
                return Err(format!("GET {} answered {}, not 303", back.path(), response.status()));
            }
            back = next(&back, &response)?;
        }
        if !back.as_str().starts_with(REDIRECT_URI) {
            return Err(format!("the bank sent the browser to {back}, not the redirect URI"));
        }
        Ok((back.into(), accounts.len(), first))
    }

    /// Opens the dashboard (logging in as `user` if asked to) and presses Revoke on `consent_id`.
    pub(super) async fn revoke(&self, base: &str, user: &str, consent_id: &ConsentId) -> Result<(), String> {
        let url = Url::parse(&format!("{base}/consents")).map_err(|e| e.to_string())?;
        let (at, mut page) = self.get_following(&url).await?;
        if page.contains("name=\"username\"") {
            let form = [
                ("csrf".to_owned(), field(&page, "csrf")?),
                ("username".to_owned(), user.to_owned()),
                ("password".to_owned(), format!("{user}-password")),
            ];
            let next = self.post(&at, &form).await?;
            page = self.get_following(&next).await?.1;
        }
        if !page.contains(consent_id.as_str()) {
            return Err("the dashboard does not list the consent".into());
        }
        let form =
            [("csrf".to_owned(), field(&page, "csrf")?), ("consent_id".to_owned(), consent_id.as_str().to_owned())];
        let revoke = url.join(openbanking_core::wire::paths::PSU_REVOKE).map_err(|e| e.to_string())?;
        // The bank's dashboard answers 303 back to itself, the hub's shows the dashboard at once.
        let response = self.http.post(revoke.clone()).form(&form).send().await.map_err(|e| e.to_string())?;
        match response.status() {
            status if status.is_success() || status == reqwest::StatusCode::SEE_OTHER => Ok(()),
            status => Err(format!("POST {} answered {status}", revoke.path())),
        }
    }
}

/// Where a redirect leads, relative to `url`.
fn next(url: &Url, response: &reqwest::Response) -> Result<Url, String> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{} {} without a Location", url.path(), response.status()))?;
    url.join(location).map_err(|e| e.to_string())
}

/// The value of the first input named `name` in `html`.
fn field(html: &str, name: &str) -> Result<String, String> {
    values(html, name).into_iter().next().ok_or_else(|| format!("the page has no {name} field"))
}

/// The values of every input named `name` in `html` (the pages write `name="…" value="…"`).
fn values(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .filter_map(|(i, m)| {
            let start = i + m.len();
            html.get(start..).and_then(|rest| rest.find('"').map(|end| rest[..end].to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn form_values_are_read_from_the_pages_inputs() {
        let html = r#"<input name="csrf" value="t1"><input name="account" value="a"><input name="account" value="b">"#;
        assert_eq!(field(html, "csrf").unwrap(), "t1");
        assert_eq!(values(html, "account"), ["a", "b"]);
        assert!(field(html, "x").is_err());
    }
}
