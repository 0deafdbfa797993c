//! Naming the shared layer cache: `registry:HOST[:PORT]/REPO`, from `--cache` or, when
//! the flag is absent, `COREBUILD_CACHE`.

use std::fmt;

/// The environment variable read when `--cache` is not given.
pub const CACHE_ENV: &str = "COREBUILD_CACHE";

/// Where the shared layer cache lives: one repository of one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSpec {
    /// `name[:port]`.
    pub host: String,
    /// The repository holding every entry, e.g. `corebuild/cache`.
    pub repo: String,
}

impl CacheSpec {
    /// Parses `value`, naming `origin` (`--cache` or `COREBUILD_CACHE`) in the error.
    pub fn parse(value: &str, origin: &str) -> anyhow::Result<CacheSpec> {
        parse(value).map_err(|why| {
            crate::error::input(format!(
                "{origin} {value:?}: {why}; expected registry:HOST[:PORT]/REPO \
                 (e.g. registry:127.0.0.1:5000/corebuild/cache)"
            ))
        })
    }

    /// The cache the flag names, else the one `COREBUILD_CACHE` names (empty is unset).
    pub fn from_flag_or_env(flag: Option<&str>) -> anyhow::Result<Option<CacheSpec>> {
        if let Some(v) = flag {
            return Self::parse(v, "--cache").map(Some);
        }
        match std::env::var(CACHE_ENV) {
            Ok(v) if !v.is_empty() => Self::parse(&v, CACHE_ENV).map(Some),
            _ => Ok(None),
        }
    }
}

fn parse(value: &str) -> Result<CacheSpec, &'static str> {
    let rest = value
        .strip_prefix("registry:")
        .ok_or("it does not start with registry:")?;
    let (host, repo) = rest
        .trim_end_matches('/')
        .split_once('/')
        .ok_or("the repository is missing")?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !host_ok {
        return Err("the host must be a name or address with an optional :PORT");
    }
    let repo_ok = repo.split('/').all(|c| {
        c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
    });
    if !repo_ok {
        return Err("the repository must be lowercase path components (letters, digits, `._-`)");
    }
    Ok(CacheSpec {
        host: host.to_string(),
        repo: repo.to_string(),
    })
}

impl fmt::Display for CacheSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registry:{}/{}", self.host, self.repo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_nested_repo() {
        let s = CacheSpec::parse("registry:127.0.0.1:5000/corebuild/cache", "--cache").unwrap();
        assert_eq!(s.host, "127.0.0.1:5000");
        assert_eq!(s.repo, "corebuild/cache");
        assert_eq!(s.to_string(), "registry:127.0.0.1:5000/corebuild/cache");
        let s = CacheSpec::parse("registry:reg.example/c/", "--cache").unwrap();
        assert_eq!((s.host.as_str(), s.repo.as_str()), ("reg.example", "c"));
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_source_and_the_form() {
        for bad in [
            "127.0.0.1:5000/cache",
            "oci-layout:./cache",
            "registry:127.0.0.1:5000",
            "registry:/cache",
            "registry:host/Cache",
            "registry:host//cache",
            "registry:ho st/cache",
            "registry:host/-cache",
        ] {
            let e = CacheSpec::parse(bad, "COREBUILD_CACHE").unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{bad}");
            let msg = e.to_string();
            assert!(msg.starts_with("COREBUILD_CACHE"), "{msg}");
            assert!(msg.contains("registry:HOST[:PORT]/REPO"), "{msg}");
        }
    }
}
