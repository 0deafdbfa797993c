//! Verifying a catalog release: the reference resolved to the digest a plain client
//! pulls, that digest checked against what the catalog recorded when it was released
//! (a version tag moved behind the catalog's back is caught), then every signature and
//! attestation of it.

use super::keys::PublicKey;
use super::repo::CatalogRepo;
use super::verify::{self, Verification};
use crate::catalog::{self, Catalog, CatalogRef, EventKind, State};
use crate::digest::Digest;
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseVerification {
    pub reference: String,
    pub name: String,
    /// The version, when the reference names one or the catalog knows the digest's.
    pub version: Option<String>,
    #[serde(flatten)]
    pub verification: Verification,
    /// Lifecycle notes (deprecated, revoked): printed, not failures of the signature.
    pub warnings: Vec<String>,
}

/// Verifies `r` in `cat` with `keys`.
pub fn verify_release(
    cat: &dyn Catalog,
    r: &CatalogRef,
    keys: &[PublicKey],
) -> Result<ReleaseVerification> {
    let name = r.name().to_string();
    let (digest, version, mut problems, warnings) = match r {
        CatalogRef::Version { version, .. } => {
            let (d, p, w) = check_version(cat, &name, version)?;
            (d, Some(version.clone()), p, w)
        }
        _ => {
            let res = catalog::resolve(cat, r, true)?;
            (res.digest, Some(res.version), Vec::new(), res.warnings)
        }
    };
    let repo = CatalogRepo {
        catalog: cat,
        name: &name,
    };
    let mut v = verify::all(&repo, &digest, keys);
    problems.append(&mut v.problems);
    v.problems = problems;
    Ok(ReleaseVerification {
        reference: r.to_string(),
        name,
        version,
        verification: v,
        warnings,
    })
}

/// The digest `NAME:VERSION` names; a problem when it is not the one released; and
/// what the lifecycle says about it (revoked, deprecated, end of life), worth knowing
/// beside a valid signature. The event log is read once for both.
fn check_version(
    cat: &dyn Catalog,
    name: &str,
    version: &str,
) -> Result<(Digest, Vec<String>, Vec<String>)> {
    let tagged = cat.head_manifest(name, version)?.ok_or_else(|| {
        crate::error::input(format!(
            "{name}:{version} is not in the catalog {} (see `corebuild catalog list {name}`)",
            cat.location()
        ))
    })?;
    let log = catalog::events::read_all(cat, name)?;
    let problems = retag_problems(cat, name, version, &tagged, &log);
    let published = BTreeMap::from([(version.to_string(), tagged.clone())]);
    let st = State::fold(name, &log, &published, &catalog::today());
    let warnings = match st.release(version) {
        Some(rel) if rel.status != catalog::Status::Released => vec![format!(
            "{name}:{version} is {}{}",
            rel.status,
            rel.reason().map(|r| format!(": {r}")).unwrap_or_default()
        )],
        _ => Vec::new(),
    };
    Ok((tagged, problems, warnings))
}

/// A problem when the tag does not name a digest the log released `version` as.
fn retag_problems(
    cat: &dyn Catalog,
    name: &str,
    version: &str,
    tagged: &Digest,
    log: &[catalog::Event],
) -> Vec<String> {
    let released: Vec<&Digest> = log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Released {
                version: v, digest, ..
            } if v == version => Some(digest),
            _ => None,
        })
        .collect();
    let mut problems = Vec::new();
    if released.is_empty() {
        problems.push(format!(
            "{name}:{version} ({tagged}) has no release record in {}: it was not published by corebuild",
            cat.location()
        ));
    } else if !released.contains(&tagged) {
        problems.push(format!(
            "{name}:{version} is tagged {tagged}, but it was released as {}: the tag was moved behind the catalog's back",
            released
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    problems
}
