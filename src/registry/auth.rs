//! Registry credentials and challenges: credentials from the Docker `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: `auths`, `credHelpers`,
//! `credsStore`) and the
//! `WWW-Authenticate` challenges (Basic, Bearer) a registry answers 401 with.

use anyhow::{Context, Result};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A user name and password (or token) for one registry host.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

impl Credentials {
    /// The `Authorization` header value for Basic auth.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The Docker config file in use: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The credentials for `host` (`host[:port]`) in the Docker config, if any: its `auths`
/// entry, or what its `credHelpers` / `credsStore` helper (`docker-credential-NAME get`)
/// answers, read by the `docker_credential` crate as docker does.
pub fn credentials_for(host: &str) -> Result<Option<Credentials>> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    from_config(&bytes, host, &path)
}

fn from_config(config: &[u8], host: &str, path: &Path) -> Result<Option<Credentials>> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential as C};
    let at = path.display();
    match docker_credential::get_credential_from_reader(config, host) {
        Ok(C::UsernamePassword(username, password)) => {
            Ok(Some(Credentials { username, password }))
        }
        Ok(C::IdentityToken(_)) => Err(crate::error::environment(format!(
            "{at}: the credentials for {host} are an identity token (OAuth), which corebuild cannot use: log in with a user name and password or access token"
        ))),
        Err(E::NoCredentialConfigured) => Ok(None),
        Err(E::HelperFailure { stdout, .. }) if stdout.contains("credentials not found") => {
            Ok(None)
        }
        Err(E::HelperFailure { helper, stderr, .. }) => Err(crate::error::environment(format!(
            "{at}: the credential helper {helper} failed for {host}: {}",
            stderr.trim()
        ))),
        Err(E::HelperCommunicationError) => Err(crate::error::environment(format!(
            "{at} names a credential helper for {host} that could not be run (is docker-credential-NAME on PATH?)"
        ))),
        Err(E::ConfigReadError) => Err(crate::error::input(format!(
            "{at}: not a Docker config file"
        ))),
        Err(e) => Err(crate::error::input(format!(
            "{at}: the credentials for {host}: {e}"
        ))),
    }
}

/// One `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer`, lowercased.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="…",service="…",scope="…"` (quoted values may hold commas).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge_with_commas_in_scope() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:ns/a:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["scope"], "repository:ns/a:pull,push");
        let b = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.params["realm"], "Registry Realm");
    }

    #[test]
    fn reads_auths_by_host_in_any_key_form() {
        let cfg = br#"{"auths":{"https://127.0.0.1:5000/v1/":{"auth":"dTpwOng="},"other:1":{"username":"a","password":"b"},"tok:1":{"identitytoken":"x"}}}"#;
        let p = Path::new("config.json");
        let c = from_config(cfg, "127.0.0.1:5000", p).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:x"));
        assert_eq!(
            from_config(cfg, "other:1", p).unwrap().unwrap().username,
            "a"
        );
        assert!(from_config(cfg, "nowhere", p).unwrap().is_none());
        assert!(!format!("{c:?}").contains("p:x"));
        let err = from_config(cfg, "tok:1", p).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 3, "{err}");
        let err = from_config(b"{not json", "x", p).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2, "{err}");
    }

    #[test]
    fn escapes_query_values() {
        assert_eq!(
            crate::percent::encode("repository:ns/a:pull,push"),
            "repository%3Ans%2Fa%3Apull%2Cpush"
        );
    }
}
