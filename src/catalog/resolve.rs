//! What app teams read: a name's state (releases, status, channels, support dates),
//! resolving `NAME:VERSION`, `NAME@CHANNEL` or `NAME@sha256:…` to a pinned
//! `NAME@sha256:…`, and pulling a release into an OCI layout with every digest verified.

use super::events::{self, EventKind};
use super::state::{Release, State, Status};
use super::{check_name, Catalog};
use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, MediaType};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A reference into the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogRef {
    Version { name: String, version: String },
    Channel { name: String, channel: String },
    Digest { name: String, digest: Digest },
}

impl CatalogRef {
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            crate::error::input(format!(
                "catalog reference {s:?}: {why} (use NAME:VERSION, NAME@CHANNEL or NAME@sha256:<hex>)"
            ))
        };
        let r = if let Some((name, rest)) = s.split_once('@') {
            if rest.starts_with("sha256:") {
                CatalogRef::Digest {
                    name: name.to_string(),
                    digest: rest.parse().map_err(|e| bad(&format!("{e}")))?,
                }
            } else {
                check_channel(rest)?;
                CatalogRef::Channel {
                    name: name.to_string(),
                    channel: rest.to_string(),
                }
            }
        } else if let Some((name, version)) = s.split_once(':') {
            if version.is_empty() || version.contains(':') {
                return Err(bad("bad version"));
            }
            CatalogRef::Version {
                name: name.to_string(),
                version: version.to_string(),
            }
        } else {
            return Err(bad("no version, channel or digest"));
        };
        check_name(r.name()).map_err(|e| bad(&format!("{e:#}")))?;
        Ok(r)
    }

    pub fn name(&self) -> &str {
        match self {
            CatalogRef::Version { name, .. }
            | CatalogRef::Channel { name, .. }
            | CatalogRef::Digest { name, .. } => name,
        }
    }
}

impl std::fmt::Display for CatalogRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogRef::Version { name, version } => write!(f, "{name}:{version}"),
            CatalogRef::Channel { name, channel } => write!(f, "{name}@{channel}"),
            CatalogRef::Digest { name, digest } => write!(f, "{name}@{digest}"),
        }
    }
}

/// A channel name: lowercase letters, digits and `-`, starting with a letter (so it
/// cannot be mistaken for a digest).
pub fn check_channel(c: &str) -> Result<()> {
    let ok = c.starts_with(|ch: char| ch.is_ascii_lowercase())
        && c.len() <= 64
        && c.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
    if ok {
        Ok(())
    } else {
        Err(crate::error::input(format!(
            "{c:?} is not a channel name (lowercase letters, digits, `-`; e.g. candidate, stable)"
        )))
    }
}

/// Today's date (UTC, `YYYY-MM-DD`), for end-of-life: reporting, not hashing.
pub fn today() -> String {
    events::now_rfc3339()[..10].to_string()
}

/// The state of `name`: its event log folded with its version tags.
pub fn state(cat: &dyn Catalog, name: &str) -> Result<State> {
    check_name(name)?;
    let log = events::read_all(cat, name)?;
    let mut published = BTreeMap::new();
    let mut versions: Vec<&str> = log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Released { version, .. } => Some(version.as_str()),
            _ => None,
        })
        .collect();
    versions.sort();
    versions.dedup();
    let heads = crate::parallel::map(&versions, events::READERS, |v| cat.head_manifest(name, v))?;
    for (v, d) in versions.into_iter().zip(heads) {
        if let Some(d) = d {
            published.insert(v.to_string(), d);
        }
    }
    Ok(State::fold(name, &log, &published, &today()))
}

/// The state of `name`, or of every name in the catalog.
pub fn list(cat: &dyn Catalog, name: Option<&str>) -> Result<Vec<State>> {
    let names = match name {
        Some(n) => vec![n.to_string()],
        None => cat.repositories()?,
    };
    let mut out = Vec::new();
    for n in names {
        if check_name(&n).is_err() {
            continue;
        }
        let s = state(cat, &n)?;
        if name.is_some() || !s.releases.is_empty() {
            out.push(s);
        }
    }
    Ok(out)
}

/// A resolved reference: the pinned `NAME@sha256:…` and what the catalog says about it.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub name: String,
    pub version: String,
    pub digest: Digest,
    /// `NAME@sha256:…`: what app teams pin.
    pub pinned: String,
    /// Where plain clients pull it (`HOST/NS/NAME@sha256:…`).
    pub reference: String,
    /// The channel it was resolved through, if any.
    pub channel: Option<String>,
    pub status: Status,
    pub released: String,
    pub end_of_support: Option<String>,
    /// Deprecated, end-of-life or revoked (with `--allow-revoked`): printed on stderr.
    pub warnings: Vec<String>,
    /// Under a signature policy: the fingerprint of the trusted key that signed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// Why it stands on a revoked base, when it does (the release itself is unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_revoked: Option<String>,
}

impl Resolved {
    /// Under a signature policy (`--require-signed`, `COREBUILD_TRUSTED_KEYS`), refuses
    /// the release unless a trusted key signed it, and records which one did.
    pub fn require_signed(&mut self, cat: &dyn Catalog) -> Result<()> {
        let repo = crate::trust::CatalogRepo {
            catalog: cat,
            name: &self.name,
        };
        let what = format!("{}:{}", self.name, self.version);
        self.signed_by = crate::trust::policy::require(&repo, &self.digest, &what)?;
        Ok(())
    }
}

/// Resolves `r`. A revoked release fails (exit 1) unless `allow_revoked`.
/// A release built on a revoked base resolves, with a warning (`base_revoked`).
pub fn resolve(cat: &dyn Catalog, r: &CatalogRef, allow_revoked: bool) -> Result<Resolved> {
    let st = state(cat, r.name())?;
    let mut resolved = resolve_in(cat, &st, r, allow_revoked)?;
    resolved.base_revoked = super::dependents::revoked_base(cat, &resolved.name, &resolved.digest)?;
    if let Some(why) = &resolved.base_revoked {
        resolved
            .warnings
            .push(format!("{}:{}: {why}", resolved.name, resolved.version));
    }
    Ok(resolved)
}

pub(crate) fn resolve_in(
    cat: &dyn Catalog,
    st: &State,
    r: &CatalogRef,
    allow_revoked: bool,
) -> Result<Resolved> {
    let not_found = |what: String| {
        crate::error::input(format!(
            "{what} is not in the catalog {} (see `corebuild catalog list {}`)",
            cat.location(),
            r.name()
        ))
    };
    let (release, channel): (&Release, Option<String>) = match r {
        CatalogRef::Version { version, .. } => (
            st.release(version)
                .ok_or_else(|| not_found(r.to_string()))?,
            None,
        ),
        CatalogRef::Digest { digest, .. } => (
            st.releases
                .iter()
                .find(|x| &x.digest == digest)
                .ok_or_else(|| not_found(r.to_string()))?,
            None,
        ),
        CatalogRef::Channel { channel, .. } => {
            let ch = st
                .channel(channel)
                .ok_or_else(|| not_found(format!("channel {r}")))?;
            let d = ch.digest.as_ref().ok_or_else(|| {
                crate::error::failed(format!(
                    "channel {r} is empty (its release was revoked or rolled back with nothing before it)"
                ))
            })?;
            (
                st.releases
                    .iter()
                    .find(|x| &x.digest == d)
                    .ok_or_else(|| not_found(r.to_string()))?,
                Some(channel.clone()),
            )
        }
    };
    let mut warnings = Vec::new();
    let what = format!("{}:{} ({})", st.name, release.version, release.digest);
    match release.status {
        Status::Revoked => {
            let why = release.reason().unwrap_or("no reason given");
            if !allow_revoked {
                return Err(crate::error::failed(format!(
                    "{what} is revoked: {why}; pin another version (corebuild catalog list {}), or pass --allow-revoked to inspect it",
                    st.name
                )));
            }
            warnings.push(format!("{what} is revoked: {why}"));
        }
        Status::EndOfLife => warnings.push(format!(
            "{what} is end-of-life: support ended {}; move to a supported version",
            release.end_of_support.as_deref().unwrap_or("?")
        )),
        Status::Deprecated => warnings.push(format!(
            "{what} is deprecated: {}",
            release.reason().unwrap_or("no reason given")
        )),
        Status::Released => {}
    }
    if release.status != Status::Deprecated
        && release
            .history
            .iter()
            .any(|h| h.status == Status::Deprecated)
    {
        warnings.push(format!("{what} is also deprecated"));
    }
    Ok(Resolved {
        name: st.name.clone(),
        version: release.version.clone(),
        digest: release.digest.clone(),
        pinned: format!("{}@{}", st.name, release.digest),
        reference: cat.client_reference(&st.name, &release.digest.to_string()),
        channel,
        status: release.status,
        released: release.released.clone(),
        end_of_support: release.end_of_support.clone(),
        warnings,
        signed_by: None,
        base_revoked: None,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PullOutcome {
    pub resolved: Resolved,
    pub out: std::path::PathBuf,
    pub blobs_fetched: usize,
    pub tags: Vec<String>,
}

/// Fetches the release `r` resolves to into the OCI layout `out` (created if missing),
/// verifying the manifest, config and every layer against their digests and sizes, and
/// tags it `VERSION` and `NAME:VERSION` there.
pub fn pull(
    cat: &dyn Catalog,
    r: &CatalogRef,
    out: &Path,
    allow_revoked: bool,
) -> Result<PullOutcome> {
    let mut resolved = resolve(cat, r, allow_revoked)?;
    resolved.require_signed(cat)?;
    pull_resolved(cat, resolved, out)
}

pub(crate) fn pull_resolved(
    cat: &dyn Catalog,
    resolved: Resolved,
    out: &Path,
) -> Result<PullOutcome> {
    let name = &resolved.name;
    let dest = OciDir::open_or_create(out)?;
    let m = cat
        .get_manifest(name, &resolved.digest.to_string())?
        .ok_or_else(|| {
            crate::error::environment(format!(
                "the manifest {} of {name} is missing from the catalog",
                resolved.digest
            ))
        })?;
    let manifest: ImageManifest = m.parse()?;
    let mut fetched = 0;
    for d in std::iter::once(manifest.config()).chain(manifest.layers()) {
        let digest = Digest::try_from(d.digest())?;
        if !dest.has_blob(&digest) {
            fetched += 1;
        }
        cat.fetch_blob(name, &digest, d.size(), &dest)
            .with_context(|| format!("fetching blob {digest} of {}", resolved.pinned))?;
    }
    let (d, _) = dest.write_blob(&m.bytes)?;
    debug_assert_eq!(d, resolved.digest);
    let desc = Descriptor::new(
        MediaType::from(m.media_type.as_str()),
        m.bytes.len() as u64,
        d.to_oci(),
    );
    // Read back through the layout: a manifest whose config does not parse is refused.
    dest.image(&desc)
        .with_context(|| format!("checking the pulled image {}", resolved.pinned))?;
    let tags = vec![
        resolved.version.clone(),
        format!("{name}:{}", resolved.version),
    ];
    for t in &tags {
        dest.set_tag(t, &desc)?;
    }
    Ok(PullOutcome {
        resolved,
        out: out.to_path_buf(),
        blobs_fetched: fetched,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            CatalogRef::parse("core:1.0.0").unwrap(),
            CatalogRef::Version {
                name: "core".into(),
                version: "1.0.0".into()
            }
        );
        assert!(matches!(
            CatalogRef::parse("core@stable").unwrap(),
            CatalogRef::Channel { .. }
        ));
        let d = format!("core@sha256:{}", "a".repeat(64));
        assert!(matches!(
            CatalogRef::parse(&d).unwrap(),
            CatalogRef::Digest { .. }
        ));
        for bad in [
            "core",
            "Core:1",
            "core@Stable",
            "core@sha256:xyz",
            "core:",
            ":1",
        ] {
            assert!(CatalogRef::parse(bad).is_err(), "{bad}");
        }
    }
}
