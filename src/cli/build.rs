//! `corebuild build BLUEPRINT [--out DIR] [--locked] [--cache registry:HOST/REPO] [--json]`.

use crate::blueprint::{self, LoadOptions};
use crate::build::{self, BuildOptions};
use crate::cli::output;
use crate::cli::output::say;
use crate::oci::OciDir;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The blueprint file or its directory.
    pub blueprint: PathBuf,
    /// Also write a standalone OCI image layout here, tagged with the version and name:version.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Fail unless the base is pinned and blueprint.lock is up to date (CI mode).
    #[arg(long)]
    pub locked: bool,
    /// Rebuild every layer instead of reusing cached ones.
    #[arg(long)]
    pub no_cache: bool,
    /// OCI runtime for `run` and `packages` layers: runc (default), crun, or a path.
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    /// Contract suites directory (default: contract-tests/ in the nearest ancestor).
    #[arg(long)]
    pub suites: Option<PathBuf>,
    /// Shared layer cache: registry:HOST[:PORT]/REPO (default: COREBUILD_CACHE).
    /// Layers are looked up there before they are built and pushed after.
    #[arg(long, value_name = "registry:HOST[:PORT]/REPO")]
    pub cache: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let bp = blueprint::load(
        &a.blueprint,
        &LoadOptions {
            suites_dir: a.suites.clone(),
        },
    )?;
    let cache = build::registry_cache::CacheSpec::from_flag_or_env(a.cache.as_deref())?;
    let store = OciDir::open_or_create(store)?;
    let opts = BuildOptions {
        locked: a.locked,
        out: a.out,
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
        no_cache: a.no_cache,
        runtime: a.runtime,
        update_pins: false,
        update_packages: Vec::new(),
        cache,
    };
    let outcome = build::build(&store, &bp, &opts)?;
    // `[outputs] qcow2 = { size = … }` and `raw = true`: the disks, kept beside the image.
    let disks = crate::disk::export_outputs(&store, &outcome.digest, &bp.outputs)?;
    if a.json {
        let mut v = serde_json::to_value(&outcome)?;
        if !disks.is_empty() {
            v["disks"] = serde_json::to_value(&disks)?;
        }
        output::json(&v)?;
    } else {
        for l in outcome.layers.iter().filter(|l| l.source != "base") {
            eprintln!(
                "  layer {} ({}): {} {}{}",
                l.index,
                l.source,
                l.digest,
                output::size(l.size),
                match (l.cache_hit, l.cache) {
                    (true, Some(build::cache::CacheSource::Registry)) =>
                        " (cached, from the registry)",
                    (true, _) => " (cached)",
                    _ => "",
                }
            );
        }
        if !outcome.base.pinned {
            eprintln!(
                "warning: base {} is not pinned; run `corebuild lock` to pin it",
                outcome.base.reference
            );
        }
        say!("built {} {}", outcome.tag, outcome.digest);
        for d in &disks {
            say!(
                "{} disk {} ({}, virtual {}) tagged {}",
                d.format.as_str(),
                d.digest,
                output::size(d.file_size),
                output::size(d.size),
                d.tag
            );
        }
        if let Some(out) = &outcome.out {
            say!(
                "wrote OCI layout {} (tags {} and {})",
                out.display(),
                outcome.version,
                outcome.tag
            );
        }
    }
    Ok(0)
}
