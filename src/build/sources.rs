//! The declared apt sources of a build (`[[apt.source]]`) as `packages` steps see them:
//! a read-only directory with the deb822 file and the key files, the host-loopback
//! addresses forwarded into the download step, and the errors that name a source.

use crate::blueprint::{display_path, AptSource, Blueprint};
use crate::build::apt::{self, Report};
use crate::build::layers::LayerContext;
use crate::runtime::Bind;
use anyhow::{Context, Result};
use sha2::{Digest as _, Sha256};
use std::net::{SocketAddr, ToSocketAddrs as _};

/// The directory bound at [`apt::SOURCES_MOUNT`]; `None` inside when nothing is declared.
pub struct SourcesDir {
    dir: Option<tempfile::TempDir>,
    forwards: Vec<SocketAddr>,
}

impl SourcesDir {
    /// Writes the deb822 file and copies each key (checked against the hash the
    /// blueprint was loaded with: a key replaced since is an error, not trusted).
    pub fn write(ctx: &LayerContext) -> Result<SourcesDir> {
        let sources = &ctx.bp.apt_sources;
        if sources.is_empty() {
            return Ok(SourcesDir {
                dir: None,
                forwards: Vec::new(),
            });
        }
        let work = ctx.store.root().join("cache/work");
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("apt-sources-")
            .tempdir_in(&work)
            .context("creating the apt sources directory")?;
        std::fs::create_dir(dir.path().join("keys"))?;
        for (i, s) in sources.iter().enumerate() {
            if let Some(key) = &s.signed_by {
                let bytes =
                    std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
                if Some(hex::encode(Sha256::digest(&bytes))) != s.key_sha256 {
                    return Err(crate::error::input(format!(
                        "{}: the key of apt source {} changed while building; build again",
                        display_path(key),
                        s.label()
                    )));
                }
                let name = apt::key_file_name(i, s.key_is_armored());
                std::fs::write(dir.path().join("keys").join(name), bytes)?;
            }
        }
        std::fs::write(
            dir.path().join(apt::SOURCES_FILE),
            apt::sources_text(sources),
        )?;
        Ok(SourcesDir {
            dir: Some(dir),
            forwards: loopback_addresses(sources),
        })
    }

    pub fn bind(&self) -> Option<Bind> {
        self.dir
            .as_ref()
            .map(|d| crate::build::step::bind(d.path(), apt::SOURCES_MOUNT, true))
    }

    /// Declared sources on the host's loopback, reachable inside the download step.
    pub fn forwards(&self) -> Vec<SocketAddr> {
        self.forwards.clone()
    }
}

/// The `host:port` of every source whose host is the loopback (127.0.0.0/8, ::1,
/// localhost), deduplicated.
pub fn loopback_addresses(sources: &[AptSource]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for s in sources {
        let (rest, port) = match s.uri.split_once("://") {
            Some(("https", r)) => (r, 443),
            Some((_, r)) => (r, 80),
            None => continue,
        };
        let authority = rest.split('/').next().unwrap_or("");
        let with_port = if authority.rsplit_once(':').is_some_and(|(h, p)| {
            !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
        }) && !authority.ends_with(']')
        {
            authority.to_string()
        } else {
            format!("{authority}:{port}")
        };
        let host = with_port.rsplit_once(':').map_or("", |(h, _)| h);
        if host != "localhost" && !host.starts_with("127.") && host != "[::1]" {
            continue;
        }
        let addrs = with_port.to_socket_addrs().into_iter().flatten();
        for a in addrs.filter(|a| a.ip().is_loopback()) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The download script's report, as errors that name the source or the package.
pub fn check_report(bp: &Blueprint, layer: usize, r: &Report) -> Result<()> {
    if let Some((i, msg)) = r.failed_sources.first() {
        let s = bp.apt_sources.get(*i);
        let at = s.map_or(String::new(), |s| {
            format!(" (declared at {}:{})", display_path(&s.declared_in), s.line)
        });
        return Err(crate::error::input(format!(
            "layer {}: apt source {}{at} could not be fetched or verified: {msg}; check its uri and suite, and that signed_by is the key that signs its Release file",
            layer + 1,
            s.map_or("?".to_string(), AptSource::label),
        )));
    }
    if !r.missing.is_empty() {
        let list: Vec<String> = r.missing.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let from = if bp.apt_sources.is_empty() {
            "the base's sources".to_string()
        } else {
            format!(
                "the sources ({} and the base's own)",
                bp.apt_sources
                    .iter()
                    .map(AptSource::label)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(crate::error::input(format!(
            "layer {}: locked package versions are no longer served by {from}: {}; security archives drop superseded versions: run `corebuild lock --update {}` or `corebuild rebuild` to move to the current ones",
            layer + 1,
            list.join(", "),
            display_path(&bp.dir)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(uri: &str) -> AptSource {
        AptSource {
            uri: uri.into(),
            suite: "stable".into(),
            components: vec!["main".into()],
            signed_by: None,
            key_sha256: None,
            declared_in: "bp.toml".into(),
            line: 1,
            column: 1,
        }
    }

    #[test]
    fn only_loopback_sources_are_forwarded() {
        let got = loopback_addresses(&[
            src("http://127.0.0.1:8080/repo"),
            src("http://deb.debian.org/debian-security"),
            src("https://127.0.0.2/x"),
            src("http://127.0.0.1:8080/other"),
            src("http://10.0.0.1:80/"),
        ]);
        assert_eq!(
            got,
            vec![
                "127.0.0.1:8080".parse::<SocketAddr>().unwrap(),
                "127.0.0.2:443".parse().unwrap()
            ]
        );
    }
}
