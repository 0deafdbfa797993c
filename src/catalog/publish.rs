//! Publishing a candidate from the store: the gate, then the blobs the catalog lacks
//! (asked first, every byte verified as it streams), the manifest by digest, the attached
//! artifacts (contract reports, SBOM, provenance, OpenVEX, disk), the release event, and the
//! version tag last. Every step is idempotent, so a publish killed at any point is
//! completed by running it again; until the tag is written nothing is listed.

use super::artifact::{Artifact, ArtifactLayer, BlobData};
use super::attest::Documents;
use super::events::{self, Event, EventKind};
use super::state::State;
use super::{check_name, Catalog, RawManifest};
use crate::blueprint::{Blueprint, SuiteRef};
use crate::contract::{self, GateVerdict};
use crate::digest::Digest;
use crate::oci::{OciDir, StoredImage};
use crate::trust::sign::Signed;
use crate::trust::{CatalogRepo, SigningKey};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The artifact type of an attached SBOM.
pub const SBOM_MEDIA_TYPE: &str = crate::sbom::MEDIA_TYPE;
/// The artifact type of an attached provenance statement.
pub const PROVENANCE_MEDIA_TYPE: &str = crate::provenance::MEDIA_TYPE;
/// The artifact type of the attached OpenVEX document (what the release fixed).
pub const VEX_MEDIA_TYPE: &str = crate::advisory::vex::MEDIA_TYPE;
/// The artifact type (and layer media type) of an attached qcow2 disk.
pub const DISK_MEDIA_TYPE: &str = "application/vnd.corebuild.disk.qcow2.v1";

/// How many blobs upload at once.
const PARALLEL_UPLOADS: usize = 3;

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    pub store: &'a OciDir,
    /// The candidate's manifest digest.
    pub digest: Digest,
    /// The blueprint name: the repository.
    pub name: String,
    /// The version: the tag.
    pub version: String,
    /// The blueprint, when publishing one (its suites decide the gate, its lifecycle the
    /// support dates, its files the provenance).
    pub blueprint: Option<&'a Blueprint>,
    /// A qcow2 disk of the image, attached as an artifact.
    pub disk: Option<PathBuf>,
    /// What the release fixed over the previous one (`pipeline::fixes_since`). The OpenVEX
    /// document is attached whatever this holds, with no statements when it is empty, so
    /// a reader finds one on every release published this way.
    pub fixes: &'a [crate::advisory::fixed::Fix],
    /// Signs the manifest and attests the provenance, SBOM, reports and OpenVEX document
    /// (cosign's format), before the version is tagged. Signing an already published
    /// version adds the signature (key rotation).
    pub sign_key: Option<&'a SigningKey>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachedArtifact {
    pub artifact_type: String,
    pub digest: Digest,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishOutcome {
    pub name: String,
    pub version: String,
    pub digest: Digest,
    /// Where plain clients find it (`HOST/NS/NAME:VERSION`).
    pub reference: String,
    /// The version was already published with this digest: nothing was written.
    pub already_published: bool,
    pub blobs_pushed: usize,
    pub bytes_pushed: u64,
    pub artifacts: Vec<AttachedArtifact>,
    pub gate: GateVerdict,
    /// What signing did, when a key was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<Signed>,
}

/// The gate for a candidate published without its blueprint: every suite that any
/// stored report ran must pass at the newest version any report ran it at, and there must
/// be at least one report.
pub fn gate_without_blueprint(store: &OciDir, digest: &Digest) -> Result<GateVerdict> {
    let reports = contract::reports_for(store, digest)?;
    let mut newest: BTreeMap<String, semver::Version> = BTreeMap::new();
    for r in &reports {
        for s in &r.suites {
            let e = newest
                .entry(s.name.clone())
                .or_insert_with(|| s.version.clone());
            if s.version > *e {
                *e = s.version.clone();
            }
        }
    }
    let declared: Vec<SuiteRef> = newest
        .into_iter()
        .map(|(name, version)| SuiteRef {
            name,
            path: PathBuf::new(),
            version,
            description: String::new(),
            raw: toml::Table::new(),
        })
        .collect();
    Ok(contract::decide(digest, &reports, &declared))
}

/// A version must be a valid tag and not one of the catalog's own tag forms.
pub fn check_version_tag(version: &str) -> Result<()> {
    let ok = version.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && version.len() <= 128
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !version.starts_with(super::FALLBACK_TAG_PREFIX)
        && !version.starts_with("corebuild.");
    if ok {
        Ok(())
    } else {
        Err(crate::error::input(format!(
            "{version:?} cannot be a version tag (letters, digits, `._-`, at most 128; not sha256-… or corebuild.…)"
        )))
    }
}

/// Publishes the candidate `req` names into `cat`.
pub fn publish(cat: &dyn Catalog, req: &PublishRequest<'_>) -> Result<PublishOutcome> {
    check_name(&req.name)?;
    check_version_tag(&req.version)?;
    let store = req.store;
    let gate = match req.blueprint {
        Some(bp) => contract::gate(store, &req.digest, &bp.suites)?,
        None => gate_without_blueprint(store, &req.digest)?,
    };
    gate.check()
        .with_context(|| format!("publishing {}:{}", req.name, req.version))?;
    let image = store.find_image(None, Some(&req.digest))?.ok_or_else(|| {
        crate::error::input(format!(
            "{} is not in the store at {}",
            req.digest,
            store.root().display()
        ))
    })?;
    let mut outcome = PublishOutcome {
        name: req.name.clone(),
        version: req.version.clone(),
        digest: req.digest.clone(),
        reference: cat.client_reference(&req.name, &req.version),
        already_published: false,
        blobs_pushed: 0,
        bytes_pushed: 0,
        artifacts: Vec::new(),
        gate,
        signed: None,
    };
    super::base_policy::check(&image)?;

    // Immutability: the tag is written last, so a tag that names our digest means a
    // complete earlier publish; one that names another digest is never moved.
    match cat.head_manifest(&req.name, &req.version)? {
        Some(d) if d == req.digest => {
            // Ours, complete, unless the tag was pushed by a plain client (skopeo) without
            // our records: then the steps below complete it (each is idempotent).
            let log = events::read_all(cat, &req.name)?;
            if State::has_release_event(&log, &req.version, &req.digest) {
                outcome.already_published = true;
                if let Some(key) = req.sign_key {
                    let docs = super::attest::attached(cat, &req.name, &req.digest)?;
                    outcome.signed = Some(sign(cat, req, key, &docs)?);
                }
                return Ok(outcome);
            }
        }
        Some(d) => {
            return Err(crate::error::failed(format!(
                "{}:{} is already published as {d}, and this candidate is {}: a published version never changes; bump the version in the blueprint and publish again",
                req.name, req.version, req.digest
            )))
        }
        None => {}
    }

    let manifest_bytes = store.read_blob(&req.digest, Some(image.desc.size()))?;
    let manifest = RawManifest::new(image.desc.media_type().to_string(), manifest_bytes);
    let subject = manifest.descriptor();
    let mut blobs: Vec<(Digest, u64)> = vec![(
        Digest::try_from(image.manifest.config().digest())?,
        image.manifest.config().size(),
    )];
    for l in image.manifest.layers() {
        blobs.push((Digest::try_from(l.digest())?, l.size()));
    }
    blobs.sort();
    blobs.dedup();

    // Upload the blobs the catalog lacks while the SBOM is read from the image. Signing
    // needs only the documents: it runs beside the uploads, the manifest and the
    // attaching, which wait mostly on the catalog.
    let (tx, rx) = std::sync::mpsc::channel::<Documents>();
    let (pushed, artifacts, attached, signed) = std::thread::scope(|s| -> Result<_> {
        let image = &image;
        let signer = s.spawn(move || -> Result<Option<Signed>> {
            let sbom = crate::sbom::generate(store, image, &req.name, &req.version)?;
            let docs = documents(req, image, sbom, req.sign_key)?;
            let _ = tx.send(docs.clone());
            req.sign_key.map(|k| sign(cat, req, k, &docs)).transpose()
        });
        let rest = (|| -> Result<_> {
            let pushed = upload_blobs(cat, req, &blobs)?;
            // Closed without documents: the signer failed, and says why below.
            let Ok(docs) = rx.recv() else {
                return Ok(None);
            };
            cat.put_manifest(&req.name, &req.digest.to_string(), &manifest)
                .with_context(|| format!("pushing manifest {}", req.digest))?;
            crate::failpoint::hit("publish.manifest");
            let artifacts = artifacts_of(req, &subject, &docs)?;
            let attached = cat
                .attach(&req.name, &subject, &artifacts)
                .context("attaching the report, SBOM, provenance and OpenVEX document")?;
            crate::failpoint::hit("publish.attached");
            Ok(Some((pushed, artifacts, attached)))
        })();
        let signed = signer.join().expect("SBOM and signing thread panicked")?;
        let (pushed, artifacts, attached) =
            rest?.context("the SBOM and signing thread ended without its documents")?;
        Ok((pushed, artifacts, attached, signed))
    })?;
    outcome.signed = signed;
    outcome.blobs_pushed = pushed.0;
    outcome.bytes_pushed = pushed.1;
    outcome.artifacts = artifacts
        .iter()
        .zip(&attached)
        .map(|(a, d)| {
            Ok(AttachedArtifact {
                artifact_type: a.artifact_type.clone(),
                digest: Digest::try_from(d.digest())?,
            })
        })
        .collect::<Result<_>>()?;

    // The release event (once: a rerun after a kill finds it), then the tag.
    let log = events::read_all(cat, &req.name)?;
    if !State::has_release_event(&log, &req.version, &req.digest) {
        let released = image
            .config
            .created()
            .clone()
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
        let e = Event::new(
            &req.name,
            EventKind::Released {
                version: req.version.clone(),
                digest: req.digest.clone(),
                released,
                end_of_support: req
                    .blueprint
                    .and_then(|b| b.lifecycle.end_of_support.clone()),
            },
            log.last().map(|e| e.id.as_str()),
        );
        events::append(cat, &e)?;
        crate::failpoint::hit("publish.event");
    }
    // The tag, last. Another publisher may have tagged the version meanwhile: never move
    // a tag that names another digest.
    match cat.head_manifest(&req.name, &req.version)? {
        Some(d) if d != req.digest => {
            return Err(crate::error::failed(format!(
            "{}:{} was published as {d} by someone else while this publish ran; bump the version",
            req.name, req.version
        )))
        }
        _ => {}
    }
    cat.put_manifest(&req.name, &req.version, &manifest)
        .with_context(|| format!("tagging {}:{}", req.name, req.version))?;
    crate::failpoint::hit("publish.tagged");
    match cat.head_manifest(&req.name, &req.version)? {
        Some(d) if d == req.digest => Ok(outcome),
        other => Err(crate::error::environment(format!(
            "{}:{} reads back as {other:?} after tagging {}",
            req.name, req.version, req.digest
        ))),
    }
}

fn titled(name: &str, version: &str, kind: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        format!("{name}-{version}.{kind}"),
    )])
}

fn documents(
    req: &PublishRequest<'_>,
    image: &StoredImage,
    sbom: Vec<u8>,
    key: Option<&SigningKey>,
) -> Result<Documents> {
    let signer = key.map(|k| k.public().fingerprint());
    let provenance = crate::provenance::generate(
        image,
        &req.name,
        &req.version,
        req.blueprint,
        signer.as_deref(),
    )?;
    let created = image.config.created().clone().unwrap_or_default();
    let vex = crate::advisory::vex::document(&req.name, &req.digest, &created, req.fixes);
    Ok(Documents {
        sbom,
        provenance,
        vex: crate::advisory::vex::to_bytes(&vex)?,
        reports: if key.is_some() {
            super::attest::stored_reports(req.store, &req.digest)?
        } else {
            Vec::new()
        },
    })
}

/// Every artifact about the image: its stored contract reports, the documents, and
/// the disk when there is one.
fn artifacts_of(
    req: &PublishRequest<'_>,
    subject: &oci_spec::image::Descriptor,
    docs: &Documents,
) -> Result<Vec<Artifact>> {
    let mut artifacts = Vec::new();
    for r in contract::stored_reports(req.store, &req.digest)? {
        artifacts.push(Artifact::from_layout(req.store, &r.manifest)?);
    }
    artifacts.extend(document_artifacts(req, subject, docs)?);
    if let Some(disk) = &req.disk {
        artifacts.push(Artifact::new(
            DISK_MEDIA_TYPE,
            Some(subject),
            vec![ArtifactLayer::file(DISK_MEDIA_TYPE, disk)?],
            titled(&req.name, &req.version, "qcow2"),
        )?);
    }
    Ok(artifacts)
}

/// The SBOM, provenance and OpenVEX artifacts, each about `subject`.
fn document_artifacts(
    req: &PublishRequest<'_>,
    subject: &oci_spec::image::Descriptor,
    docs: &Documents,
) -> Result<Vec<Artifact>> {
    let one = |media_type: &str, bytes: &[u8], kind: &str| {
        Artifact::new(
            media_type,
            Some(subject),
            vec![ArtifactLayer::bytes(
                media_type,
                bytes.to_vec(),
                Some(&format!("{}-{}.{kind}", req.name, req.version)),
            )],
            titled(&req.name, &req.version, kind),
        )
    };
    Ok(vec![
        one(SBOM_MEDIA_TYPE, &docs.sbom, "spdx.json")?,
        one(PROVENANCE_MEDIA_TYPE, &docs.provenance, "intoto.json")?,
        one(VEX_MEDIA_TYPE, &docs.vex, "openvex.json")?,
    ])
}

/// Signs the release and attests its documents and contract reports.
fn sign(
    cat: &dyn Catalog,
    req: &PublishRequest<'_>,
    key: &SigningKey,
    docs: &Documents,
) -> Result<Signed> {
    let statements = super::attest::statements(&req.name, &req.digest, docs);
    let repo = CatalogRepo {
        catalog: cat,
        name: &req.name,
    };
    crate::trust::sign::sign(&repo, &req.digest, key, &statements)
        .with_context(|| format!("signing {}:{}", req.name, req.version))
}

/// Uploads the blobs `cat` lacks, on a few threads; how many and how many bytes.
fn upload_blobs(
    cat: &dyn Catalog,
    req: &PublishRequest<'_>,
    blobs: &[(Digest, u64)],
) -> Result<(usize, u64)> {
    let store = req.store;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..PARALLEL_UPLOADS)
            .map(|i| {
                let chunk: Vec<(Digest, u64)> = blobs
                    .iter()
                    .skip(i)
                    .step_by(PARALLEL_UPLOADS)
                    .cloned()
                    .collect();
                s.spawn(move || -> Result<(usize, u64)> {
                    let data = BlobData::Layout(store.clone());
                    let (mut n, mut bytes) = (0, 0);
                    for (d, size) in chunk {
                        if !cat.has_blob(&req.name, &d)? {
                            cat.push_blob(&req.name, &d, size, &data)
                                .with_context(|| format!("pushing blob {d} of {}", req.digest))?;
                            crate::failpoint::hit("publish.blob");
                            n += 1;
                            bytes += size;
                        }
                    }
                    Ok((n, bytes))
                })
            })
            .collect();
        let mut total = (0usize, 0u64);
        for w in workers {
            let (n, b) = w.join().expect("upload thread panicked")?;
            total.0 += n;
            total.1 += b;
        }
        Ok(total)
    })
}
