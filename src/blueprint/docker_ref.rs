//! The `docker://HOST[:PORT]/PATH/REPO[:TAG][@sha256:HEX]` base reference, checked against
//! the distribution spec's grammar: a host that must be written out (no Docker Hub
//! default), lowercase path components, a tag of at most 128 characters.

use super::model::BaseRef;
use crate::digest::Digest;

/// The prefix of a registry base reference.
pub const DOCKER_PREFIX: &str = "docker://";

/// The longest repository name (`HOST/PATH`) the distribution spec lets a registry refuse beyond.
const MAX_NAME: usize = 255;

/// A registry reference as `base import --registry` takes it: `docker://HOST/REPO:TAG`
/// or the same without `docker://`.
pub fn parse_docker_ref(s: &str) -> Result<BaseRef, String> {
    if s.chars().any(char::is_whitespace) {
        return Err("it contains whitespace".into());
    }
    parse(s.strip_prefix(DOCKER_PREFIX).unwrap_or(s))
}

/// Parses what follows `docker://`.
pub(super) fn parse(rest: &str) -> Result<BaseRef, String> {
    let (name_tag, digest) = match rest.split_once('@') {
        Some((n, d)) => (n, Some(d.parse::<Digest>().map_err(|e| e.to_string())?)),
        None => (rest, None),
    };
    let (host, path) = name_tag.split_once('/').ok_or(
        "expected HOST/REPOSITORY: write the host explicitly (there is no default registry), \
         e.g. docker://registry.example/debian:12",
    )?;
    check_host(host)?;
    let (repository, tag) = match path.rsplit_once(':') {
        Some((r, t)) => (r, Some(t)),
        None => (path, None),
    };
    check_repository(repository)?;
    if host.len() + 1 + repository.len() > MAX_NAME {
        return Err(format!(
            "the name HOST/REPOSITORY is longer than {MAX_NAME} characters"
        ));
    }
    if let Some(t) = tag {
        check_tag(t)?;
    }
    if tag.is_none() && digest.is_none() {
        return Err("name a tag (:TAG) or a digest (@sha256:HEX)".into());
    }
    Ok(BaseRef::Docker {
        host: host.to_string(),
        repository: repository.to_string(),
        tag: tag.map(str::to_string),
        digest,
    })
}

/// A domain name or IP address with an optional port; it must look like a host (a dot,
/// a port, `localhost` or an IPv6 literal), since we never assume Docker Hub.
fn check_host(host: &str) -> Result<(), String> {
    let no_host = || {
        format!(
            "{host:?} is not a registry host: write the host explicitly (there is no default registry), \
             e.g. docker://registry.example/{host}/… or docker://registry-1.docker.io/library/debian:12"
        )
    };
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(no_host)?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{host:?}: {addr:?} is not an IPv6 address"));
        }
        match after {
            "" => return Ok(()),
            p => (None, p.strip_prefix(':').ok_or_else(no_host)?),
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (Some(n), p),
            None => (Some(host), ""),
        }
    };
    if let Some(n) = name {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !n.split('.').all(label_ok) {
            return Err(format!(
                "{host:?} is not a valid host name: letters, digits, `-` and `.`"
            ));
        }
        if !n.contains('.') && port.is_empty() && n != "localhost" {
            return Err(no_host());
        }
    }
    let port_ok = port.is_empty()
        || (port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !port_ok || (host.ends_with(':')) {
        return Err(format!("{host:?}: the port must be a number 1-65535"));
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, components joined by `/`.
fn check_repository(repo: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return false;
        }
        // Separators: one `.`, one or two `_`, or any run of `-`, always between alphanumerics.
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !alnum(b[i]) {
                i += 1;
            }
            let sep = &c[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
            if !ok {
                return false;
            }
        }
        true
    };
    if repo.is_empty() {
        return Err("the repository is empty: write HOST/REPOSITORY[:TAG]".into());
    }
    if !repo.split('/').all(component_ok) {
        return Err(format!(
            "invalid repository {repo:?}: lowercase letters and digits, separated by `.`, `_`, `__` or `-`, components joined by `/`"
        ));
    }
    Ok(())
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let ok = tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tag {tag:?}: letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most 128 characters"
        ))
    }
}

impl BaseRef {
    /// The reference as a registry names it: `HOST/REPO[:TAG][@DIGEST]`, without `docker://`.
    pub fn docker_name(&self) -> Option<String> {
        let BaseRef::Docker {
            host,
            repository,
            tag,
            digest,
        } = self
        else {
            return None;
        };
        let mut s = format!("{host}/{repository}");
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        Some(s)
    }
}
