//! Answering a 401: the `Authorization` for a Basic challenge, or a Bearer token from
//! the challenge's realm, fetched with our Basic credentials only when the realm passes
//! [`origin::realm`], and read with a size cap.

use super::auth::{self, Credentials};
use super::http::{Attempt, Body, Http};
use super::limits::{read_capped_attempt, JSON_LIMIT};
use super::origin;

impl Http {
    /// The `Authorization` value that answers a challenge.
    pub(super) fn authenticate(&self, challenge: &str, url: &str) -> Result<String, Attempt> {
        let c = auth::parse_challenge(challenge).ok_or_else(|| {
            Attempt::Fatal(crate::error::environment(format!(
                "{url}: 401 without a usable WWW-Authenticate challenge"
            )))
        })?;
        let no_creds = || {
            Attempt::Fatal(crate::error::environment(format!(
                "{} asks for credentials and none are configured: add them to {} (docker login {})",
                self.host,
                auth::docker_config_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "~/.docker/config.json".into()),
                self.host
            )))
        };
        match c.scheme.as_str() {
            "basic" => Ok(self.creds.as_ref().ok_or_else(no_creds)?.basic_header()),
            "bearer" => {
                let realm = c.params.get("realm").ok_or_else(|| {
                    Attempt::Fatal(crate::error::environment(format!(
                        "{url}: Bearer challenge without a realm"
                    )))
                })?;
                origin::realm(&self.origin, realm).map_err(|e| {
                    Attempt::Fatal(crate::error::environment(format!("{}: {e}", self.host)))
                })?;
                let mut q = Vec::new();
                if let Some(s) = c.params.get("service") {
                    q.push(format!("service={}", crate::percent::encode(s)));
                }
                if let Some(s) = c.params.get("scope") {
                    q.push(format!("scope={}", crate::percent::encode(s)));
                }
                let token_url = if q.is_empty() {
                    realm.clone()
                } else {
                    format!(
                        "{realm}{}{}",
                        if realm.contains('?') { '&' } else { '?' },
                        q.join("&")
                    )
                };
                let basic = self.creds.as_ref().map(Credentials::basic_header);
                let resp = self.send("GET", &token_url, &[], &Body::Empty, basic.as_deref())?;
                if resp.status() != 200 {
                    return Err(Attempt::Fatal(crate::error::environment(format!(
                        "token service {realm} answered {} for {}",
                        resp.status(),
                        self.host
                    ))));
                }
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let what = format!("the answer of token service {realm}");
                let bytes = read_capped_attempt(resp, JSON_LIMIT, &what)?;
                let t: Token = serde_json::from_slice(&bytes).map_err(|e| {
                    Attempt::Fatal(crate::error::environment(format!(
                        "token service {realm}: bad answer: {e}"
                    )))
                })?;
                let token = t.token.or(t.access_token).ok_or_else(|| {
                    Attempt::Fatal(crate::error::environment(format!(
                        "token service {realm} gave no token"
                    )))
                })?;
                Ok(format!("Bearer {token}"))
            }
            other => Err(Attempt::Fatal(crate::error::environment(format!(
                "{url}: unsupported auth scheme {other:?}"
            )))),
        }
    }
}
