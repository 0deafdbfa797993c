//! Executes a blueprint into an image in the store: resolve and verify the base, build
//! each layer (independent layers in parallel), assemble config and manifest, tag
//! `name:version`, and optionally export a standalone OCI layout.

pub mod apt;
pub mod apt_cache;
pub mod base;
mod boot_plan;
pub mod cache;
pub mod epoch;
pub mod image;
pub mod import;
pub(crate) mod layers;
pub mod registry_base;
pub mod registry_cache;
pub mod relock;
pub mod rootfs;
pub mod scrub;
pub mod sources;
pub(crate) mod step;
pub mod unpack;

use crate::blueprint::Blueprint;
use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use epoch::EpochSource;

#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    /// CI mode: the base must be pinned and the lock must not need to change.
    pub locked: bool,
    /// Also write a standalone OCI image layout here.
    pub out: Option<PathBuf>,
    /// The value of SOURCE_DATE_EPOCH, read by the caller.
    pub source_date_epoch: Option<String>,
    /// Rebuild every layer instead of reusing cached ones.
    pub no_cache: bool,
    /// The OCI runtime for `run` and `packages` layers: `runc`, `crun` or a path.
    pub runtime: String,
    /// Re-resolve package versions the lock already pins (`corebuild lock --update`).
    pub update_pins: bool,
    /// Re-resolve only these packages (`corebuild lock --package`, `rebuild`).
    pub update_packages: Vec<String>,
    /// The shared layer cache in a registry (`--cache`, `COREBUILD_CACHE`).
    pub cache: Option<registry_cache::CacheSpec>,
}

impl BuildOptions {
    pub fn new() -> Self {
        BuildOptions {
            runtime: "runc".to_string(),
            ..Default::default()
        }
    }
}

/// One layer of the result, for reports and `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerReport {
    pub index: usize,
    /// `base` for inherited layers, else the blueprint layer kind (`files`, …).
    pub source: String,
    pub digest: Digest,
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
    pub cache_hit: bool,
    /// Where a cache hit came from: `local` (this store) or `registry` (`--cache`);
    /// null for a layer built here and for base layers.
    pub cache: Option<cache::CacheSource>,
    /// Packages a `packages` layer installed, `name=version`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
}

/// What `build` produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildOutcome {
    pub name: String,
    pub version: String,
    /// The manifest digest: the candidate's identity.
    pub digest: Digest,
    pub tag: String,
    pub config_digest: Digest,
    pub base: BaseReport,
    pub epoch: u64,
    pub epoch_source: EpochSource,
    pub layers: Vec<LayerReport>,
    pub store: PathBuf,
    pub out: Option<PathBuf>,
    /// Package pins the build used or resolved, for the lock file (not in `--json`).
    #[serde(skip)]
    pub package_pins: Vec<crate::blueprint::LockedPackage>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BaseReport {
    #[serde(rename = "ref")]
    pub reference: String,
    pub digest: Digest,
    pub pinned: bool,
}

/// Builds a blueprint into the store.
pub fn build(store: &OciDir, bp: &Blueprint, opts: &BuildOptions) -> Result<BuildOutcome> {
    if opts.locked {
        bp.check_locked()?;
    }
    let pin = base::pin_of(bp)?;
    let t = crate::profile::span(|| "build: resolve and verify the base".into());
    let base_img = base::resolve(store, &base::reference_of(bp)?, pin.as_ref(), opts.locked)
        .with_context(|| format!("resolving the base of {}", bp.name))?;
    drop(t);
    boot_plan::check(store, bp, &base_img)?;
    let (epoch, epoch_source) = epoch::resolve(
        opts.source_date_epoch.as_deref(),
        bp.epoch,
        base_img.config.created().as_deref(),
    )?;
    let remote = opts
        .cache
        .as_ref()
        .and_then(registry_cache::RegistryCache::open_or_warn);
    let ctx = layers::LayerContext {
        remote: remote.as_ref(),
        store,
        bp,
        epoch,
        locked: opts.locked,
        no_cache: opts.no_cache,
        runtime: &opts.runtime,
        update_pins: opts.update_pins,
        update_packages: opts.update_packages.clone(),
        env: base_img
            .config
            .config()
            .as_ref()
            .and_then(|c| c.env().clone())
            .unwrap_or_else(|| {
                vec![
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
                ]
            }),
    };
    let t = crate::profile::span(|| "build: every layer".into());
    let built = layers::build_all(
        &ctx,
        base_img.manifest.layers(),
        base_img.config.rootfs().diff_ids(),
    )?;

    drop(t);
    let _t = crate::profile::span(|| "build: config, manifest and tag".into());
    let created = epoch::rfc3339(epoch);
    let mut labels = BTreeMap::new();
    labels.insert(
        "org.opencontainers.image.title".to_string(),
        bp.name.clone(),
    );
    labels.insert(
        "org.opencontainers.image.version".to_string(),
        bp.version.to_string(),
    );
    if !bp.description.is_empty() {
        labels.insert(
            "org.opencontainers.image.description".to_string(),
            bp.description.clone(),
        );
    }
    labels.insert(
        "org.opencontainers.image.base.digest".to_string(),
        base_img.digest.to_string(),
    );
    let mut draft = image::DraftImage::from_base(&base_img.manifest, base_img.config.clone());
    for (i, b) in built.iter().enumerate() {
        draft = draft.append(&b.info, &format!("corebuild {} layer {}", b.kind, i + 1));
    }
    let draft = draft
        .with_created(&created)
        .apply_config(&bp.config, &labels)
        .annotate(
            "org.opencontainers.image.base.digest",
            &base_img.digest.to_string(),
        )
        .annotate(
            "org.opencontainers.image.base.name",
            base::annotation_name(bp),
        )
        .annotate("org.opencontainers.image.title", &bp.name)
        .annotate("org.opencontainers.image.version", &bp.version.to_string());
    let (desc, manifest) = draft.write(store)?;
    let digest = Digest::try_from(desc.digest())?;
    let tag = format!("{}:{}", bp.name, bp.version);
    store.set_tag(&tag, &desc)?;

    let image = store.image(&desc)?;
    if let Some(out) = &opts.out {
        let dir = OciDir::open_or_create(out)?;
        dir.export_image(store, &image, &[bp.version.to_string(), tag.clone()])
            .with_context(|| format!("writing the OCI layout {}", out.display()))?;
    }

    let base_count = base_img.manifest.layers().len();
    let diff_ids = image.config.rootfs().diff_ids();
    let layers = manifest
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| LayerReport {
            index: i,
            source: if i < base_count {
                "base".to_string()
            } else {
                built[i - base_count].kind.to_string()
            },
            digest: Digest::try_from(l.digest()).expect("validated when written"),
            diff_id: diff_ids.get(i).cloned().unwrap_or_default(),
            size: l.size(),
            media_type: l.media_type().to_string(),
            cache_hit: i >= base_count && built[i - base_count].cache_hit,
            cache: i.checked_sub(base_count).and_then(|b| built[b].cache),
            packages: if i >= base_count {
                built[i - base_count]
                    .packages
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    let package_pins = built
        .iter()
        .enumerate()
        .flat_map(|(i, b)| {
            b.packages
                .iter()
                .map(move |(n, v)| crate::blueprint::LockedPackage {
                    name: n.clone(),
                    version: v.clone(),
                    layer: i,
                })
        })
        .collect();
    Ok(BuildOutcome {
        name: bp.name.clone(),
        version: bp.version.to_string(),
        digest,
        tag,
        config_digest: Digest::try_from(manifest.config().digest())?,
        base: BaseReport {
            reference: bp.base.reference.clone(),
            digest: base_img.digest,
            pinned: pin.is_some(),
        },
        epoch,
        epoch_source,
        layers,
        store: store.root().to_path_buf(),
        out: opts.out.clone(),
        package_pins,
    })
}
