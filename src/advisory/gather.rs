//! Gathering what a query matches against: every release of every name in a catalog,
//! with the facts of its attached SBOM (and, for a CVE, its OpenVEX documents). Only those
//! small artifacts are read, never image layers, on a bounded pool of threads, each read
//! capped in size and verified against its digest.
//!
//! A catalog that cannot be listed, or a registry that fails mid-way, is an error (exit
//! 3); one artifact that is bad (too big, not parsing, wrong digest) or missing is a
//! warning naming the artifact and the release, and the other releases are still read.
//!
//! Blobs are content-addressed, so verified artifact manifests and documents are kept
//! under `<store>/cache/advisory/` by digest: a repeat query reads from the registry only
//! the mutable parts (tags, events, referrer lists).

use super::cache::BlobCache;
use super::query::ReleaseFacts;
use super::sbom_read::{self, Facts};
use super::vex;
use crate::catalog::{self, Catalog, Release, FALLBACK_TAG_PREFIX, SBOM_MEDIA_TYPE};
use crate::digest::Digest;
use crate::error::Kind;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use std::sync::OnceLock;

/// Threads reading from the catalog at once.
pub const PARALLEL: usize = 8;
/// The largest SBOM or VEX document read (an SBOM with every file of a big image fits).
pub const DOCUMENT_LIMIT: u64 = 64 << 20;
/// The largest artifact manifest read.
const MANIFEST_LIMIT: u64 = 1 << 20;

/// What was gathered: the releases' facts and a warning per artifact left out.
#[derive(Debug, Default)]
pub struct Gathered {
    pub releases: Vec<ReleaseFacts>,
    pub warnings: Vec<String>,
}

/// Every release in `cat` with its SBOM facts (and VEX documents when `with_vex`).
pub fn gather(cat: &dyn Catalog, cache: &BlobCache, with_vex: bool) -> Result<Gathered> {
    let names = cat
        .repositories()
        .with_context(|| format!("listing the catalog {}", cat.location()))?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| catalog::check_name(n).is_ok())
        .collect();
    let states = crate::parallel::map(&names, PARALLEL, |n| {
        catalog::state(cat, n).with_context(|| format!("reading the catalog state of {n}"))
    })?;
    let jobs: Vec<(String, Release)> = states
        .into_iter()
        .flat_map(|s| {
            let name = s.name;
            s.releases.into_iter().map(move |r| (name.clone(), r))
        })
        .collect();
    let api = OnceLock::new();
    let read = crate::parallel::map(&jobs, PARALLEL, |(name, r)| {
        Ok(release_facts(cat, &api, cache, name, r, with_vex))
    })?;
    let mut out = Gathered::default();
    for ((name, release), r) in jobs.into_iter().zip(read) {
        let (sbom, vex, warnings) = r?;
        out.warnings.extend(warnings);
        out.releases.push(ReleaseFacts {
            name,
            release,
            sbom,
            vex,
        });
    }
    Ok(out)
}

type Read = Result<(Option<Facts>, Vec<vex::Document>, Vec<String>)>;

/// One release's facts. Bad input (a bad artifact) becomes a warning; an environment
/// failure (the registry went away) is the error.
fn release_facts(
    cat: &dyn Catalog,
    api: &OnceLock<bool>,
    cache: &BlobCache,
    name: &str,
    r: &Release,
    with_vex: bool,
) -> Read {
    let at = format!("{name}:{}", r.version);
    let mut warnings = Vec::new();
    let referrers = referrers(cat, api, name, &r.digest)
        .with_context(|| format!("listing the artifacts of {at}"));
    let referrers = match referrers {
        Ok(v) => v,
        Err(e) if crate::error::kind_of(&e) == Kind::Input => {
            warnings.push(format!("{e:#}"));
            return Ok((None, Vec::new(), warnings));
        }
        Err(e) => return Err(e),
    };
    let of_type = |t: &str| -> Vec<&Descriptor> {
        let mut v: Vec<&Descriptor> = referrers
            .iter()
            .filter(|d| {
                d.artifact_type()
                    .as_ref()
                    .map(ToString::to_string)
                    .as_deref()
                    == Some(t)
            })
            .collect();
        v.sort_by_key(|d| d.digest().to_string());
        v
    };
    let mut sbom: Option<Facts> = None;
    for d in of_type(SBOM_MEDIA_TYPE) {
        let facts = document(cat, cache, name, d).and_then(|b| {
            sbom_read::parse(&b).map_err(|e| crate::error::input(format!("SBOM {e}")))
        });
        match facts.with_context(|| format!("SBOM {} of {at}", d.digest())) {
            Ok(f) => merge(&mut sbom, f),
            Err(e) if crate::error::kind_of(&e) == Kind::Input => warnings.push(format!("{e:#}")),
            Err(e) => return Err(e),
        }
    }
    if sbom.is_none() && warnings.is_empty() {
        warnings.push(format!(
            "{at} ({}) has no SBOM attached: it is not matched",
            r.digest
        ));
    }
    let mut docs = Vec::new();
    for d in of_type(vex::MEDIA_TYPE).into_iter().filter(|_| with_vex) {
        let doc = document(cat, cache, name, d).and_then(|b| {
            serde_json::from_slice::<vex::Document>(&b)
                .map_err(|e| crate::error::input(format!("not an OpenVEX document: {e}")))
        });
        match doc.with_context(|| format!("VEX document {} of {at}", d.digest())) {
            Ok(doc) => docs.push(doc),
            Err(e) if crate::error::kind_of(&e) == Kind::Input => warnings.push(format!("{e:#}")),
            Err(e) => return Err(e),
        }
    }
    Ok((sbom, docs, warnings))
}

/// The artifacts attached to `subject`: from the referrers API where the catalog has one,
/// else from the `sha256-<hex>` fallback index. Whether it has one is asked once (`api`):
/// a registry with the API answers 200 for any subject, one without answers 404 for all,
/// so the other releases go straight to the fallback tag (a request less each).
fn referrers(
    cat: &dyn Catalog,
    api: &OnceLock<bool>,
    name: &str,
    subject: &Digest,
) -> Result<Vec<Descriptor>> {
    if api.get() != Some(&false) {
        match cat.referrers_api(name, subject)? {
            Some(v) => {
                let _ = api.set(true);
                return Ok(v);
            }
            None => {
                let _ = api.set(false);
            }
        }
    }
    let tag = format!("{FALLBACK_TAG_PREFIX}{}", subject.hex());
    match cat.get_manifest(name, &tag)? {
        None => Ok(Vec::new()),
        Some(m) => Ok(m.parse::<ImageIndex>()?.manifests().clone()),
    }
}

fn merge(into: &mut Option<Facts>, f: Facts) {
    match into {
        None => *into = Some(f),
        Some(have) => {
            have.packages.extend(f.packages);
            have.packages.sort();
            have.packages.dedup();
            have.files.extend(f.files);
            have.files.sort();
            have.files.dedup();
        }
    }
}

/// The one layer of the artifact `d` names, bounded and verified (from the cache when held).
fn document(cat: &dyn Catalog, cache: &BlobCache, name: &str, d: &Descriptor) -> Result<Vec<u8>> {
    let digest = Digest::try_from(d.digest())?;
    if d.size() > MANIFEST_LIMIT {
        return Err(crate::error::input(format!(
            "its manifest claims {} bytes (the limit is {MANIFEST_LIMIT})",
            d.size()
        )));
    }
    let manifest = cache.get_or(&digest, || {
        let m = cat
            .get_manifest(name, &digest.to_string())?
            .ok_or_else(|| crate::error::input("its manifest is listed but missing"))?;
        Ok(m.bytes)
    })?;
    let m: ImageManifest = serde_json::from_slice(&manifest)
        .map_err(|e| crate::error::input(format!("its manifest does not parse: {e}")))?;
    let [layer] = m.layers().as_slice() else {
        return Err(crate::error::input(format!(
            "it has {} layers, not 1",
            m.layers().len()
        )));
    };
    if layer.size() > DOCUMENT_LIMIT {
        return Err(crate::error::input(format!(
            "its document claims {} bytes (the limit is {} MiB)",
            layer.size(),
            DOCUMENT_LIMIT >> 20
        )));
    }
    let blob = Digest::try_from(layer.digest())?;
    cache.get_or(&blob, || cat.read_blob(name, &blob, layer.size()))
}
