//! `corebuild publish BLUEPRINT|REF [--catalog C] [--insecure] [--disk FILE] [--json]`.

use crate::blueprint::{self, LoadOptions};
use crate::build::{self, BuildOptions};
use crate::catalog::{self, PublishRequest};
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;
use crate::oci::{ImageRef, OciDir};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A blueprint (file or directory: built first, from the layer cache when unchanged)
    /// or a store reference (name:version, name@sha256:…).
    pub target: String,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Attach this qcow2 disk of the image.
    #[arg(long)]
    pub disk: Option<PathBuf>,
    /// Build with --locked (CI mode).
    #[arg(long)]
    pub locked: bool,
    /// Contract suites directory (default: contract-tests/ in the nearest ancestor).
    #[arg(long)]
    pub suites: Option<PathBuf>,
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    #[command(flatten)]
    pub sign: crate::cli::key::SignArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let store = OciDir::open_or_create(store)?;
    let key = a.sign.load()?;
    let cat = a.catalog.open()?;
    let path = Path::new(&a.target);
    let mut disk = a.disk.clone();
    let bp;
    let (digest, name, version) = if path.exists() {
        bp = Some(blueprint::load(
            path,
            &LoadOptions {
                suites_dir: a.suites.clone(),
            },
        )?);
        let b = bp.as_ref().expect("just set");
        let opts = BuildOptions {
            locked: a.locked,
            runtime: a.runtime.clone(),
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
            ..BuildOptions::new()
        };
        let outcome = build::build(&store, b, &opts)?;
        if b.outputs.qcow2.is_some() && disk.is_none() {
            // The declared disk travels with the release: the stored export, or a new one.
            disk = crate::disk::export_outputs(&store, &outcome.digest, &b.outputs)?
                .into_iter()
                .find(|d| d.format == crate::disk::Format::Qcow2)
                .map(|d| d.path);
        }
        (
            outcome.digest,
            b.name.clone(),
            catalog::version_tag(&b.version),
        )
    } else {
        bp = None;
        let r = ImageRef::parse(&a.target)?;
        let img = store.resolve(&r)?;
        let (name, version) = match &r {
            ImageRef::Tag(t) => {
                let (n, v) = t.split_once(':').expect("a tag ref has a colon");
                (n.to_string(), v.to_string())
            }
            ImageRef::Digest { name: Some(n), .. } => {
                let v = img
                    .manifest
                    .annotations()
                    .as_ref()
                    .and_then(|m| m.get("org.opencontainers.image.version").cloned())
                    .ok_or_else(|| {
                        crate::error::input(format!(
                            "{r} has no org.opencontainers.image.version annotation: publish it as name:version"
                        ))
                    })?;
                (n.clone(), v)
            }
            _ => {
                return Err(crate::error::input(format!(
                    "{r}: publish a blueprint or a store reference name:version (or name@sha256:…)"
                )))
            }
        };
        (img.digest, name, version)
    };
    // What it fixed over the previous release (none when the version is not semver).
    let previous = semver::Version::parse(&version)
        .ok()
        .and_then(|v| crate::pipeline::previous_release(cat.as_ref(), &name, &v));
    let fixes =
        crate::pipeline::fixes_since(cat.as_ref(), &store, &name, previous.as_ref(), &digest)?;
    let outcome = catalog::publish(
        cat.as_ref(),
        &PublishRequest {
            store: &store,
            digest,
            name,
            version,
            blueprint: bp.as_ref(),
            disk,
            fixes: &fixes,
            sign_key: key.as_deref(),
        },
    )?;
    if a.json {
        output::json(&outcome)?;
    } else if outcome.already_published {
        if let Some(s) = &outcome.signed {
            eprintln!(
                "  signed by {}: +{} signature, +{} attestations",
                s.key, s.signatures_added, s.attestations_added
            );
        }
        say!(
            "{}:{} is already published as {} (nothing to do)",
            outcome.name,
            outcome.version,
            outcome.digest
        );
    } else {
        eprintln!(
            "  pushed {} blobs ({}), attached {} artifacts",
            outcome.blobs_pushed,
            output::size(outcome.bytes_pushed),
            outcome.artifacts.len()
        );
        if let Some(s) = &outcome.signed {
            eprintln!(
                "  signed by {}: {} (+{} signature), {} (+{} attestations)",
                s.key, s.signature_tag, s.signatures_added, s.attestation_tag, s.attestations_added
            );
        }
        say!(
            "published {}:{} {} at {}",
            outcome.name,
            outcome.version,
            outcome.digest,
            outcome.reference
        );
    }
    Ok(0)
}
