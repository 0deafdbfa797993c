//! `corebuild release`: build → disk (when declared) → contract tests → gate → publish →
//! notes → optional promotion, with the gate between test and publish. A stage that
//! fails stops the pipeline; nothing reaches the catalog before publish.

use crate::blueprint::Blueprint;
use crate::build::{self, BuildOptions};
use crate::catalog::{self, Catalog, PublishRequest};
use crate::contract::{self, TestOptions};
use crate::digest::Digest;
use crate::notes::gather::{self, Placement, Previous};
use crate::notes::{release, technical};
use crate::oci::OciDir;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const NOTES_ARTIFACT_TYPE: &str = "application/vnd.corebuild.release-notes.v1";
pub const NOTES_MEDIA_TYPE: &str = "text/markdown";

#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    pub locked: bool,
    pub runtime: String,
    pub channel: Option<String>,
    pub notes_dir: Option<PathBuf>,
    pub jobs: usize,
    pub source_date_epoch: Option<String>,
    /// The accelerator `boot` tests run qemu with.
    pub accel: crate::disk::qemu::Accel,
    /// Sign and attest the release with this key when publishing.
    pub sign_key: Option<std::sync::Arc<crate::trust::SigningKey>>,
    /// Run the suites even when a passing report for the same candidate, suites and
    /// runtime is stored (see `contract::reuse`).
    pub retest: bool,
    /// The shared layer cache in a registry (`--cache`, `COREBUILD_CACHE`).
    pub cache: Option<build::registry_cache::CacheSpec>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: &'static str,
    /// `ok`, `failed`, `skipped`.
    pub status: &'static str,
    pub ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ReleaseSummary {
    pub name: String,
    pub version: String,
    pub digest: Option<Digest>,
    pub catalog: String,
    pub reference: Option<String>,
    pub stages: Vec<Stage>,
    pub report: Option<String>,
    pub release_notes: Option<PathBuf>,
    pub technical_notes: Option<PathBuf>,
    pub channel: Option<String>,
    pub already_published: bool,
    /// The test stage reused a passing report for the same candidate, suites and runtime.
    pub tests_reused: bool,
    /// The fingerprint of the key that signed the release, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

/// Reports stage progress to whoever drives the pipeline (progress bars, plain lines).
pub trait Progress {
    fn start(&self, stage: &'static str);
    fn finish(&self, stage: &Stage);
}

/// Runs one stage, timing it and recording its outcome in `summary`.
fn stage<T>(
    summary: &mut ReleaseSummary,
    progress: &dyn Progress,
    name: &'static str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    progress.start(name);
    let t = Instant::now();
    let r = f();
    let s = Stage {
        name,
        status: if r.is_ok() { "ok" } else { "failed" },
        ms: t.elapsed().as_millis(),
        detail: r.as_ref().err().map(|e| format!("{e:#}")),
    };
    progress.finish(&s);
    summary.stages.push(s);
    r
}

fn skipped(summary: &mut ReleaseSummary, progress: &dyn Progress, name: &'static str, why: &str) {
    let s = Stage {
        name,
        status: "skipped",
        ms: 0,
        detail: Some(why.to_string()),
    };
    progress.finish(&s);
    summary.stages.push(s);
}

/// The project's `release-notes/` directory: the nearest ancestor of the blueprint that
/// has one, else `release-notes/` beside the nearest `contract-tests/`.
pub fn notes_root(bp: &Blueprint, explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(d) = bp
        .dir
        .ancestors()
        .map(|a| a.join("release-notes"))
        .find(|d| d.is_dir())
    {
        return d;
    }
    match crate::blueprint::find_suites_dir(&bp.dir) {
        Some(s) => s.parent().unwrap_or(&bp.dir).join("release-notes"),
        None => bp.dir.join("release-notes"),
    }
}

/// The whole pipeline. On failure the summary (in the error's context) says which stage.
pub fn release(
    store: &OciDir,
    cat: &dyn Catalog,
    bp: &Blueprint,
    opts: &ReleaseOptions,
    progress: &dyn Progress,
    summary: &mut ReleaseSummary,
) -> Result<()> {
    summary.name = bp.name.clone();
    summary.version = bp.version.to_string();
    summary.catalog = cat.location();
    let version = catalog::version_tag(&bp.version);

    let outcome = stage(summary, progress, "build", || {
        build::build(
            store,
            bp,
            &BuildOptions {
                locked: opts.locked,
                runtime: opts.runtime.clone(),
                source_date_epoch: opts.source_date_epoch.clone(),
                cache: opts.cache.clone(),
                ..BuildOptions::new()
            },
        )
    })?;
    let digest = outcome.digest.clone();
    summary.digest = Some(digest.clone());
    let notes_dir = notes_root(bp, opts.notes_dir.as_deref()).join(&bp.name);
    let rel = notes_dir.join(format!("{version}.md"));
    let tech = notes_dir.join(format!("{version}-technical.md"));
    let kept_notes = committed_notes(&rel, &tech, &digest);
    // What the notes read of each layer is scanned beside the disk, the tests and the
    // publish, on the other core.
    let scan_ahead = kept_notes
        .is_none()
        .then(|| crate::notes::tree_ops::scan_ahead(store, &digest));

    let disk = if bp.outputs.qcow2.is_some() {
        Some(stage(summary, progress, "disk", || {
            let disks = crate::disk::export_outputs(store, &digest, &bp.outputs)?;
            disks
                .into_iter()
                .find(|d| d.format == crate::disk::Format::Qcow2)
                .map(|d| d.path)
                .context("the qcow2 export produced no disk")
        })?)
    } else {
        skipped(
            summary,
            progress,
            "disk",
            "the blueprint declares no qcow2 output",
        );
        None
    };

    let suites = contract::load_suites(&bp.suites)?;
    let reused = if opts.retest {
        None
    } else {
        contract::reuse::find(store, &digest, &suites, &opts.runtime)?
    };
    summary.tests_reused = reused.is_some();
    let report = stage(summary, progress, "test", || {
        if let Some(r) = reused {
            return Ok(r);
        }
        let r = contract::testing::test_candidate(
            store,
            &digest,
            &suites,
            &TestOptions {
                runtime: opts.runtime.clone(),
                jobs: opts.jobs,
                boot: crate::disk::qemu::BootOptions {
                    accel: opts.accel,
                    ..Default::default()
                },
                disk: bp.outputs.qcow2.clone().unwrap_or_default(),
            },
        )?;
        match r.exit_code() {
            0 => {
                contract::reuse::remember(store, &r, &suites, &opts.runtime)?;
                Ok(r)
            }
            1 => Err(crate::error::failed(format!(
                "contract tests failed for {digest}; nothing was published:\n{}",
                r.to_text()
            ))),
            _ => Err(crate::error::environment(format!(
                "the contract runner broke; nothing was published:\n{}",
                r.to_text()
            ))),
        }
    })?;
    summary.report = Some(format!("sha256-{}.contract-*", digest.hex()));

    stage(summary, progress, "gate", || {
        contract::gate(store, &digest, &bp.suites)?.check()
    })?;

    // The previous release (before publishing, so a re-run does not compare with itself).
    let t = crate::profile::span(|| "publish: find the previous release".into());
    let previous = previous_release(cat, &bp.name, &bp.version);
    drop(t);

    let (published, compared) = stage(summary, progress, "publish", || {
        // Compared before publishing: the OpenVEX document published with it says what
        // the release fixed, and the notes reuse the comparison.
        let passed = gather::passed(&report);
        // A rerun of a complete release whose notes are written needs no comparison: the
        // VEX went out with the first publish and the notes are kept as they are.
        let compared =
            if kept_notes.is_some() && released_already(cat, &bp.name, &version, &digest)? {
                None
            } else {
                compare(cat, store, &bp.name, previous.as_ref(), &digest, &passed)?
            };
        let fixes = compared
            .as_ref()
            .map(|c| c.diff.advisories.clone())
            .unwrap_or_default();
        let published = catalog::publish(
            cat,
            &PublishRequest {
                store,
                digest: digest.clone(),
                name: bp.name.clone(),
                version: version.clone(),
                blueprint: Some(bp),
                disk: disk.clone(),
                fixes: &fixes,
                sign_key: opts.sign_key.as_deref(),
            },
        )?;
        Ok((published, compared))
    })?;
    summary.reference = Some(published.reference.clone());
    summary.already_published = published.already_published;
    summary.signed_by = published.signed.as_ref().map(|s| s.key.clone());
    let signed_by = summary.signed_by.clone();

    drop(scan_ahead);
    stage(summary, progress, "notes", || {
        let image = store
            .find_image(None, Some(&digest))?
            .context("the candidate vanished from the store")?;
        let (rel_md, tech_md) = match kept_notes {
            Some(kept) => kept,
            None => {
                let facts = release_facts(
                    cat,
                    store,
                    bp,
                    &image,
                    &report,
                    &suites,
                    compared.as_ref(),
                    signed_by,
                )?;
                let _t = crate::profile::span(|| "notes: render and write".into());
                let (r, t) = (release::render(&facts), technical::render(&facts));
                std::fs::create_dir_all(&notes_dir)
                    .with_context(|| format!("creating {}", notes_dir.display()))?;
                crate::oci::write_atomic(&rel, r.as_bytes())?;
                crate::oci::write_atomic(&tech, t.as_bytes())?;
                (r, t)
            }
        };
        attach_notes(cat, bp, &image, &version, &rel_md, &tech_md)
    })?;
    summary.release_notes = Some(rel);
    summary.technical_notes = Some(tech);

    match &opts.channel {
        Some(ch) => {
            stage(summary, progress, "promote", || {
                catalog::promote(cat, &bp.name, &version, ch, "corebuild release")
            })?;
            summary.channel = Some(ch.clone());
        }
        None => skipped(summary, progress, "promote", "no --channel given"),
    }
    Ok(())
}

/// Whether `name:version` is already released as `digest` in the catalog, completely
/// (the tag and the release record).
fn released_already(cat: &dyn Catalog, name: &str, version: &str, digest: &Digest) -> Result<bool> {
    if cat.head_manifest(name, version)?.as_ref() != Some(digest) {
        return Ok(false);
    }
    let log = catalog::events::read_all(cat, name)?;
    Ok(catalog::State::has_release_event(&log, version, digest))
}

/// The facts the notes are written from: the image, its report, the comparison with the
/// previous release, and where the release and its artifacts are found.
#[allow(clippy::too_many_arguments)]
fn release_facts(
    cat: &dyn Catalog,
    store: &OciDir,
    bp: &Blueprint,
    image: &crate::oci::StoredImage,
    report: &contract::ContractReport,
    suites: &[contract::Suite],
    compared: Option<&Compared>,
    signed_by: Option<String>,
) -> Result<crate::notes::facts::ReleaseFacts> {
    let _t = crate::profile::span(|| "notes: gather the facts".into());
    let digest = &image.digest;
    let version = catalog::version_tag(&bp.version);
    let prev = compared.map(|c| Previous {
        version: c.version.clone(),
        image: &c.image,
        suites: c.suites.clone(),
        diff: Some(c.diff.clone()),
    });
    let status = catalog::state(cat, &bp.name)?
        .releases
        .iter()
        .find(|r| r.version == version)
        .map(|r| r.status.to_string())
        .unwrap_or_else(|| "released".to_string());
    // Where an artifact attached to the release is found, by its type.
    let attached = |artifact_type: &str| {
        format!(
            "{} (artifactType {artifact_type})",
            cat.client_reference(&bp.name, &format!("sha256-{}", digest.hex())),
        )
    };
    gather::gather(
        store,
        bp,
        image,
        report,
        suites,
        prev,
        Placement {
            catalog: cat.location(),
            // A layout cannot be pulled by digest with plain tools: name the pin
            // the way `corebuild catalog resolve` prints it.
            pull_ref: if cat.location().starts_with("oci-layout:") {
                format!("{}@{digest}", bp.name)
            } else {
                cat.client_reference(&bp.name, &digest.to_string())
            },
            status,
            sbom_ref: Some(attached(crate::sbom::MEDIA_TYPE)),
            provenance_ref: Some(attached(crate::provenance::MEDIA_TYPE)),
            vex_ref: Some(attached(crate::advisory::vex::MEDIA_TYPE)),
            signed_by,
            blueprint_digest: crate::provenance::blueprint_digest(bp)
                .ok()
                .map(|d| d.to_string()),
            lock_digest: {
                let l = crate::blueprint::lock_path(&bp.dir);
                std::fs::read(&l)
                    .ok()
                    .map(|b| Digest::of_bytes(&b).to_string())
            },
        },
    )
}

/// The notes already written for this very image (a rerun, or a fresh checkout releasing
/// a version whose notes are committed): the notes of a released version do not change,
/// even when this catalog lacks the previous release they were compared with.
fn committed_notes(rel: &Path, tech: &Path, digest: &Digest) -> Option<(String, String)> {
    let r = std::fs::read_to_string(rel).ok()?;
    let t = std::fs::read_to_string(tech).ok()?;
    let d = digest.to_string();
    (r.contains(&d) && t.contains(&d)).then_some((r, t))
}

/// The newest release of `name` older than `version` that is not revoked: what a new
/// release is compared with.
pub fn previous_release(
    cat: &dyn Catalog,
    name: &str,
    version: &semver::Version,
) -> Option<catalog::Release> {
    catalog::state(cat, name).ok().and_then(|st| {
        st.releases
            .iter()
            .filter(|r| r.status != catalog::Status::Revoked)
            .filter_map(|r| Some((semver::Version::parse(&r.version).ok()?, r.clone())))
            .filter(|(v, _)| v < version)
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, r)| r)
    })
}

/// A candidate compared with the previous release.
pub struct Compared {
    pub version: String,
    pub image: crate::oci::StoredImage,
    /// The suites (name → version) the previous release passed.
    pub suites: std::collections::BTreeMap<String, String>,
    pub diff: crate::notes::ImageDiff,
}

/// Compares the image `digest` (which passed `suites`) with `previous`, pulled into the
/// store when missing; `None` when there is no previous release.
pub fn compare(
    cat: &dyn Catalog,
    store: &OciDir,
    name: &str,
    previous: Option<&catalog::Release>,
    digest: &Digest,
    suites: &std::collections::BTreeMap<String, String>,
) -> Result<Option<Compared>> {
    let Some(p) = previous else {
        return Ok(None);
    };
    let _t = crate::profile::span(|| "publish: compare with the previous release".into());
    let image = fetch_into_store(cat, store, name, &p.version, &p.digest)?;
    let new = store
        .find_image(None, Some(digest))?
        .context("the candidate vanished from the store")?;
    let prev_suites = crate::notes::diff::passed_suites(store, &p.digest)?;
    let diff = crate::notes::diff_images(store, &image, &new, &prev_suites, suites)
        .with_context(|| format!("comparing {name} with its previous release {}", p.version))?;
    Ok(Some(Compared {
        version: p.version.clone(),
        image,
        suites: prev_suites,
        diff,
    }))
}

/// What the image `digest` fixed over `previous`, from the upgraded packages' changelogs;
/// nothing when there is no previous release.
pub fn fixes_since(
    cat: &dyn Catalog,
    store: &OciDir,
    name: &str,
    previous: Option<&catalog::Release>,
    digest: &Digest,
) -> Result<Vec<crate::advisory::fixed::Fix>> {
    let suites = crate::notes::diff::passed_suites(store, digest)?;
    Ok(compare(cat, store, name, previous, digest, &suites)?
        .map(|c| c.diff.advisories)
        .unwrap_or_default())
}

/// Makes sure a published release's image is in the store (pulled and verified if not).
fn fetch_into_store(
    cat: &dyn Catalog,
    store: &OciDir,
    name: &str,
    version: &str,
    digest: &Digest,
) -> Result<crate::oci::StoredImage> {
    if let Some(img) = store.find_image(None, Some(digest))? {
        return Ok(img);
    }
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-pull-")
        .tempdir_in(store.root())?;
    let r = catalog::CatalogRef::parse(&format!("{name}:{version}"))?;
    catalog::pull(cat, &r, tmp.path(), true)?;
    let src = OciDir::open(tmp.path())?;
    let img = src
        .find_image(None, Some(digest))?
        .context("the pulled release does not hold its digest")?;
    store.import_image(&src, &img)?;
    store
        .find_image(None, Some(digest))?
        .context("importing the previous release")
}

/// Attaches the notes to the release, with the blueprint's product facts as annotations
/// (`dev.corebuild.product.*`), so the web catalog shows who owns a core build without
/// reading the markdown.
fn attach_notes(
    cat: &dyn Catalog,
    bp: &Blueprint,
    image: &crate::oci::StoredImage,
    version: &str,
    rel: &str,
    tech: &str,
) -> Result<()> {
    use crate::catalog::{Artifact, ArtifactLayer};
    let subject = oci_spec::image::Descriptor::new(
        oci_spec::image::MediaType::ImageManifest,
        image.desc.size(),
        image.digest.to_oci(),
    );
    let layers = vec![
        ArtifactLayer::bytes(
            NOTES_MEDIA_TYPE,
            rel.as_bytes().to_vec(),
            Some(&format!("{version}.md")),
        ),
        ArtifactLayer::bytes(
            NOTES_MEDIA_TYPE,
            tech.as_bytes().to_vec(),
            Some(&format!("{version}-technical.md")),
        ),
    ];
    let art = Artifact::new(
        NOTES_ARTIFACT_TYPE,
        Some(&subject),
        layers,
        bp.product.annotations(),
    )?;
    cat.attach(&bp.name, &subject, &[art])?;
    Ok(())
}

#[cfg(test)]
mod committed_notes_tests {
    use super::*;

    #[test]
    fn notes_written_for_the_same_image_are_kept_others_are_not() {
        let t = tempfile::tempdir().unwrap();
        let (rel, tech) = (
            t.path().join("1.0.0.md"),
            t.path().join("1.0.0-technical.md"),
        );
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let other: Digest = format!("sha256:{}", "cd".repeat(32)).parse().unwrap();
        assert_eq!(committed_notes(&rel, &tech, &d), None);
        std::fs::write(&rel, format!("notes of {d}")).unwrap();
        std::fs::write(&tech, format!("technical notes of {d}")).unwrap();
        let kept = committed_notes(&rel, &tech, &d).unwrap();
        assert_eq!(kept.0, format!("notes of {d}"));
        assert_eq!(committed_notes(&rel, &tech, &other), None);
    }
}
