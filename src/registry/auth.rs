//! Registry credentials and challenges: `auths` from the Docker `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) and the
//! `WWW-Authenticate` challenges (Basic, Bearer) a registry answers 401 with.

use anyhow::{Context, Result};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::PathBuf;

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

#[derive(serde::Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// `host[:port]` of an `auths` key, which may be a URL (`https://host/v1/`).
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The credentials for `host` (`host[:port]`) in the Docker config, if any. Credential
/// helpers are not run (a warning says so); only `auths` entries are used.
pub fn credentials_for(host: &str) -> Result<Option<Credentials>> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let cfg: DockerConfig = serde_json::from_str(&text).map_err(|e| {
        crate::error::input(format!("{}: not a Docker config file: {e}", path.display()))
    })?;
    parse_entry(&cfg, host, &path)
}

fn parse_entry(
    cfg: &DockerConfig,
    host: &str,
    path: &std::path::Path,
) -> Result<Option<Credentials>> {
    let entry = cfg.auths.iter().find(|(k, _)| key_host(k) == host);
    let Some((_, e)) = entry else {
        if cfg.cred_helpers.contains_key(host) || cfg.creds_store.is_some() {
            eprintln!(
                "warning: {} names a credential helper for {host}; corebuild reads only `auths` entries",
                path.display()
            );
        }
        return Ok(None);
    };
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        return Ok(Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }));
    }
    let Some(auth) = &e.auth else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|err| {
            crate::error::input(format!(
                "{}: the auth of {host} is not base64: {err}",
                path.display()
            ))
        })?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (u, p) = raw.split_once(':').ok_or_else(|| {
        crate::error::input(format!(
            "{}: the auth of {host} is not USER:PASSWORD",
            path.display()
        ))
    })?;
    Ok(Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    }))
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

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
        let cfg: DockerConfig = serde_json::from_str(
            r#"{"auths":{"https://127.0.0.1:5000/v1/":{"auth":"dTpwOng="},"other:1":{"username":"a","password":"b"}}}"#,
        )
        .unwrap();
        let p = std::path::Path::new("config.json");
        let c = parse_entry(&cfg, "127.0.0.1:5000", p).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:x"));
        assert_eq!(
            parse_entry(&cfg, "other:1", p).unwrap().unwrap().username,
            "a"
        );
        assert!(parse_entry(&cfg, "nowhere", p).unwrap().is_none());
        assert!(!format!("{c:?}").contains("p:x"));
    }

    #[test]
    fn escapes_query_values() {
        assert_eq!(
            query_escape("repository:ns/a:pull,push"),
            "repository%3Ans%2Fa%3Apull%2Cpush"
        );
    }
}
