//! What the catalog holds about one release, read once: its image config's description,
//! the artifacts attached to it (notes, SBOM, provenance, contract reports, OpenVEX,
//! disk) and its cosign signatures and attestations. Each is copied into the site's files
//! as it is read; the SBOM is parsed to its package list and dropped. A document that is
//! missing or does not parse is noted for the page, never fatal; a blob that does not
//! match its digest is an error (the catalog readers verify every byte).

use super::files::{Files, Linked};
use super::packages;
use crate::advisory::sbom_read::Package;
use crate::catalog::{self, Catalog};
use crate::contract::{ContractReport, REPORT_MEDIA_TYPE};
use crate::digest::Digest;
use crate::trust::cosign::{self, Kind};
use anyhow::Result;
use oci_spec::image::{Descriptor, ImageManifest};

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
    pub description: Option<String>,
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

fn title(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()?
        .get("org.opencontainers.image.title")
        .map(String::as_str)
}

/// Reads the facts of release `digest` of `name`.
pub fn read(cat: &dyn Catalog, files: &Files, name: &str, digest: &Digest) -> Result<Facts> {
    let mut f = Facts {
        description: description(cat, name, digest)?,
        ..Facts::default()
    };
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
        match m.parse::<ImageManifest>() {
            Ok(am) => artifact(cat, files, name, digest, &artifact_type(d), &am, &mut f)?,
            Err(e) => f.problems.push(format!("{e:#}")),
        }
    }
    for kind in [Kind::Signatures, Kind::Attestations] {
        signatures(cat, files, name, digest, kind, &mut f)?;
    }
    f.links.sort();
    if f.release_notes.is_none() {
        f.problems
            .push("no release notes are attached (published without `corebuild release`)".into());
    }
    Ok(f)
}

/// The image config's `org.opencontainers.image.description` label.
fn description(cat: &dyn Catalog, name: &str, digest: &Digest) -> Result<Option<String>> {
    let Some(m) = cat.get_manifest(name, &digest.to_string())? else {
        return Ok(None);
    };
    let Ok(manifest) = m.parse::<ImageManifest>() else {
        return Ok(None);
    };
    let c = manifest.config();
    if c.size() > MAX_DOC {
        return Ok(None);
    }
    let bytes = cat.read_blob(name, &Digest::try_from(c.digest())?, c.size())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(
        v.pointer("/config/Labels/org.opencontainers.image.description")
            .and_then(|d| d.as_str())
            .map(str::to_string),
    )
}

/// The one layer of a document artifact, read (bounded) and copied into the site.
fn document(
    cat: &dyn Catalog,
    files: &Files,
    name: &str,
    layer: &Descriptor,
    ext: &str,
) -> Result<Option<(Vec<u8>, Linked)>> {
    if layer.size() > MAX_DOC {
        return Ok(None);
    }
    let d = Digest::try_from(layer.digest())?;
    let bytes = cat.read_blob(name, &d, layer.size())?;
    let linked = files.put(&d, ext, &bytes)?;
    Ok(Some((bytes, linked)))
}

fn link(f: &mut Facts, label: &str, file: Linked) {
    f.links.push(Link {
        label: label.to_string(),
        file,
    });
}

fn artifact(
    cat: &dyn Catalog,
    files: &Files,
    name: &str,
    subject: &Digest,
    kind: &str,
    m: &ImageManifest,
    f: &mut Facts,
) -> Result<()> {
    let Some(first) = m.layers().first() else {
        return Ok(());
    };
    match kind {
        crate::pipeline::NOTES_ARTIFACT_TYPE => {
            for l in m.layers() {
                let technical = title(l).is_some_and(|t| t.ends_with("-technical.md"));
                let Some((bytes, linked)) = document(cat, files, name, l, "md")? else {
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
        catalog::SBOM_MEDIA_TYPE => match document(cat, files, name, first, "spdx.json")? {
            Some((bytes, linked)) => {
                link(f, "SBOM (SPDX 2.3 JSON)", linked);
                match packages::parse(&bytes) {
                    Ok(p) => f.packages = Some(p),
                    Err(e) => f.problems.push(format!("the SBOM does not parse: {e}")),
                }
            }
            None => f.problems.push("the SBOM is too large to list here".into()),
        },
        catalog::PROVENANCE_MEDIA_TYPE => {
            if let Some((_, linked)) = document(cat, files, name, first, "intoto.json")? {
                link(f, "Provenance (SLSA v1, in-toto JSON)", linked);
            }
        }
        REPORT_MEDIA_TYPE => {
            if let Some((bytes, linked)) = document(cat, files, name, first, "json")? {
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
            if let Some((_, linked)) = document(cat, files, name, first, "openvex.json")? {
                link(f, "OpenVEX (what this release fixed)", linked);
            }
        }
        catalog::DISK_MEDIA_TYPE => {
            let d = Digest::try_from(first.digest())?;
            let linked = files.copy(cat, name, &d, first.size(), "qcow2")?;
            link(f, "Disk image (qcow2)", linked);
        }
        _ => {}
    }
    Ok(())
}

/// The cosign `.sig` or `.att` manifest of `subject` and its layers.
fn signatures(
    cat: &dyn Catalog,
    files: &Files,
    name: &str,
    subject: &Digest,
    kind: Kind,
    f: &mut Facts,
) -> Result<()> {
    let Some(m) = cat.get_manifest(name, &cosign::tag(subject, kind))? else {
        return Ok(());
    };
    let what = match kind {
        Kind::Signatures => "Signature",
        Kind::Attestations => "Attestation",
    };
    let linked = files.put(&m.digest, "json", &m.bytes)?;
    f.signatures.push(Link {
        label: format!("{what} manifest (cosign)"),
        file: linked,
    });
    let Ok(manifest) = m.parse::<ImageManifest>() else {
        f.problems
            .push(format!("the {what} manifest does not parse"));
        return Ok(());
    };
    for (i, l) in manifest
        .layers()
        .iter()
        .enumerate()
        .take(cosign::MAX_LAYERS)
    {
        if l.size() > MAX_SIG_LAYER {
            continue;
        }
        let d = Digest::try_from(l.digest())?;
        let linked = files.copy(cat, name, &d, l.size(), "json")?;
        f.signatures.push(Link {
            label: format!("{what} {} ({})", i + 1, l.media_type()),
            file: linked,
        });
    }
    Ok(())
}
