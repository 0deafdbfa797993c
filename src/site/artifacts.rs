//! What the catalog holds about one release, read once: the artifacts attached to it (notes, SBOM, provenance, contract reports, OpenVEX,
//! disk) and its cosign signatures and attestations. Each is copied into the site's files
//! as it is read; the SBOM is parsed to its package list and dropped. A document that is
//! missing or does not parse is noted for the page, never fatal; a blob that does not
//! match its digest is an error (the catalog readers verify every byte).

use super::files::{Files, Linked};
use super::manifest::{self, Blob, Manifest};
use crate::advisory::sbom_read::Package;
use crate::catalog::{self, Catalog};
use crate::contract::{ContractReport, REPORT_MEDIA_TYPE};
use crate::digest::Digest;
use crate::trust::cosign::{self, Kind};
use anyhow::Result;
use oci_spec::image::Descriptor;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Documents larger than this are linked but not parsed or rendered.
const MAX_DOC: u64 = 16 << 20;
/// Signature and attestation layers larger than this are not copied.
const MAX_SIG_LAYER: u64 = 4 << 20;

/// A file of the release, as its page links it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    /// What it is, in words (`SBOM (SPDX JSON)`).
    pub label: String,
    pub file: Linked,
}

/// Everything a release's pages show beyond its catalog state.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub release_notes: Option<String>,
    pub technical_notes: Option<String>,
    pub reports: Vec<ContractReport>,
    /// `None`: no SBOM (or it does not parse, see `problems`).
    pub packages: Option<Vec<Package>>,
    pub links: Vec<Link>,
    pub signatures: Vec<Link>,
    /// What could not be read, in words, for the page to say.
    pub problems: Vec<String>,
}

fn artifact_type(d: &Descriptor) -> String {
    d.artifact_type()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// An SBOM's package list, or why it has none.
type Parsed = Arc<Result<Vec<Package>, String>>;

/// Reads releases for one site: the catalog, where linked files go, and the SBOMs parsed
/// so far (by digest).
pub struct Reader<'a> {
    pub cat: &'a dyn Catalog,
    pub files: &'a Files,
    sboms: Mutex<BTreeMap<Digest, Parsed>>,
}

impl<'a> Reader<'a> {
    pub fn new(cat: &'a dyn Catalog, files: &'a Files) -> Self {
        Reader {
            cat,
            files,
            sboms: Mutex::new(BTreeMap::new()),
        }
    }
}

/// Reads the facts of release `digest` of `name`.
/// `tags` are the tags of `name` (the cosign `.sig`/`.att` tags are looked up there, so a
/// release without signatures costs no request).
pub fn read(rd: &Reader, name: &str, tags: &BTreeSet<String>, digest: &Digest) -> Result<Facts> {
    let cat = rd.cat;
    let mut f = Facts::default();
    let mut refs = cat.referrers(name, digest, None)?;
    refs.sort_by_key(|d| d.digest().to_string());
    for d in &refs {
        let Ok(ad) = Digest::try_from(d.digest()) else {
            f.problems
                .push(format!("an artifact with a bad digest {}", d.digest()));
            continue;
        };
        let Some(m) = cat.get_manifest(name, &ad.to_string())? else {
            f.problems
                .push(format!("artifact {ad} is listed but missing"));
            continue;
        };
        match manifest::parse(&m.bytes) {
            Some(am) => artifact(rd, name, digest, &artifact_type(d), &am, &mut f)?,
            None => f.problems.push(format!("artifact {ad} is not a manifest")),
        }
    }
    for kind in [Kind::Signatures, Kind::Attestations] {
        if tags.contains(&cosign::tag(digest, kind)) {
            signatures(rd, name, digest, kind, &mut f)?;
        }
    }
    f.links.sort();
    if f.release_notes.is_none() {
        f.problems
            .push("no release notes are attached (published without `corebuild release`)".into());
    }
    Ok(f)
}

/// The image config's `org.opencontainers.image.description` label (what the blueprint's
/// `description` became).
pub fn description(cat: &dyn Catalog, name: &str, digest: &Digest) -> Result<Option<String>> {
    let Some(m) = cat.get_manifest(name, &digest.to_string())? else {
        return Ok(None);
    };
    let Some(c) = manifest::parse(&m.bytes).and_then(|m| m.config) else {
        return Ok(None);
    };
    if c.size > MAX_DOC {
        return Ok(None);
    }
    let bytes = cat.read_blob(name, &c.digest, c.size)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(
        v.pointer("/config/Labels/org.opencontainers.image.description")
            .and_then(|d| d.as_str())
            .map(str::to_string),
    )
}

/// The one layer of a document artifact, read (bounded) and copied into the site.
fn document(rd: &Reader, name: &str, layer: &Blob, ext: &str) -> Result<Option<(Vec<u8>, Linked)>> {
    if layer.size > MAX_DOC {
        return Ok(None);
    }
    let bytes = rd.cat.read_blob(name, &layer.digest, layer.size)?;
    let linked = rd.files.put(&layer.digest, ext, &bytes)?;
    Ok(Some((bytes, linked)))
}

fn link(f: &mut Facts, label: &str, file: Linked) {
    f.links.push(Link {
        label: label.to_string(),
        file,
    });
}

fn artifact(
    rd: &Reader,
    name: &str,
    subject: &Digest,
    kind: &str,
    m: &Manifest,
    f: &mut Facts,
) -> Result<()> {
    let Some(first) = m.layers.first() else {
        return Ok(());
    };
    match kind {
        crate::pipeline::NOTES_ARTIFACT_TYPE => {
            for l in &m.layers {
                let technical = l.title().is_some_and(|t| t.ends_with("-technical.md"));
                let Some((bytes, linked)) = document(rd, name, l, "md")? else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if technical {
                    link(f, "Technical notes (Markdown)", linked);
                    f.technical_notes = Some(text);
                } else {
                    link(f, "Release notes (Markdown)", linked);
                    f.release_notes = Some(text);
                }
            }
        }
        catalog::SBOM_MEDIA_TYPE => sbom(rd, name, first, f)?,
        catalog::PROVENANCE_MEDIA_TYPE => {
            if let Some((_, linked)) = document(rd, name, first, "intoto.json")? {
                link(f, "Provenance (SLSA v1, in-toto JSON)", linked);
            }
        }
        REPORT_MEDIA_TYPE => {
            if let Some((bytes, linked)) = document(rd, name, first, "json")? {
                link(f, "Contract report (JSON)", linked);
                match serde_json::from_slice::<ContractReport>(&bytes) {
                    Ok(r) if &r.candidate == subject => f.reports.push(r),
                    Ok(r) => f.problems.push(format!(
                        "a contract report about another image ({}) is attached",
                        r.candidate
                    )),
                    Err(e) => f
                        .problems
                        .push(format!("a contract report does not parse: {e}")),
                }
            }
        }
        crate::advisory::vex::MEDIA_TYPE => {
            if let Some((_, linked)) = document(rd, name, first, "openvex.json")? {
                link(f, "OpenVEX (what this release fixed)", linked);
            }
        }
        catalog::DISK_MEDIA_TYPE => {
            let linked = rd
                .files
                .copy(rd.cat, name, &first.digest, first.size, "qcow2")?;
            link(f, "Disk image (qcow2)", linked);
        }
        _ => {}
    }
    Ok(())
}

/// The SBOM's link and package list; an SBOM shared by several releases is read and
/// parsed once.
fn sbom(rd: &Reader, name: &str, layer: &Blob, f: &mut Facts) -> Result<()> {
    let d = layer.digest.clone();
    let cached = rd
        .sboms
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&d)
        .cloned();
    let parsed = match cached {
        Some(p) => {
            let linked = Linked {
                path: super::files::rel(&d, "spdx.json"),
                size: layer.size,
            };
            link(f, "SBOM (SPDX 2.3 JSON)", linked);
            p
        }
        None => {
            let Some((bytes, linked)) = document(rd, name, layer, "spdx.json")? else {
                f.problems.push("the SBOM is too large to list here".into());
                return Ok(());
            };
            link(f, "SBOM (SPDX 2.3 JSON)", linked);
            let p = Arc::new(crate::advisory::sbom_read::packages(&bytes));
            rd.sboms
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(d, p.clone());
            p
        }
    };
    match parsed.as_ref() {
        Ok(p) => f.packages = Some(p.clone()),
        Err(e) => f.problems.push(format!("the SBOM does not parse: {e}")),
    }
    Ok(())
}

/// The cosign `.sig` or `.att` manifest of `subject` and its layers.
fn signatures(rd: &Reader, name: &str, subject: &Digest, kind: Kind, f: &mut Facts) -> Result<()> {
    let Some(m) = rd.cat.get_manifest(name, &cosign::tag(subject, kind))? else {
        return Ok(());
    };
    let what = match kind {
        Kind::Signatures => "Signature",
        Kind::Attestations => "Attestation",
    };
    let linked = rd.files.put(&m.digest, "json", &m.bytes)?;
    f.signatures.push(Link {
        label: format!("{what} manifest (cosign)"),
        file: linked,
    });
    let Some(manifest) = manifest::parse(&m.bytes) else {
        f.problems
            .push(format!("the {what} manifest does not parse"));
        return Ok(());
    };
    for (i, l) in manifest.layers.iter().enumerate().take(cosign::MAX_LAYERS) {
        if l.size > MAX_SIG_LAYER {
            continue;
        }
        let linked = rd.files.copy(rd.cat, name, &l.digest, l.size, "json")?;
        f.signatures.push(Link {
            label: format!("{what} {} ({})", i + 1, l.media_type),
            file: linked,
        });
    }
    Ok(())
}
