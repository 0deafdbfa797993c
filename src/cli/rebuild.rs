//! `corebuild rebuild DIR (--package NAME [--version C] | --cve ID) [--dry-run] [--json]`:
//! the security response's last step. Finds the blueprints under DIR whose latest
//! release matches, and for each (bases first) moves the affected pins, bumps the patch
//! version, writes one security `[[change]]` and runs the release pipeline.

use crate::advisory::cache::BlobCache;
use crate::advisory::query::{self, Query};
use crate::advisory::rebuild::{self, Target};
use crate::advisory::{gather, rebuild_run};
use crate::blueprint::{self, Blueprint, LoadOptions};
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;
use crate::cli::release::Reporter;
use crate::oci::OciDir;
use crate::pipeline::ReleaseOptions;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("selector").required(true).args(["package", "cve"])))]
pub struct Args {
    /// A directory of blueprints (each subdirectory with a blueprint.toml), or one.
    pub blueprints: PathBuf,
    /// The vulnerable package.
    #[arg(long)]
    pub package: Option<String>,
    /// The vulnerable versions, in Debian version order (e.g. `<< 1.0-2`).
    #[arg(
        long = "version",
        id = "constraint",
        value_name = "CONSTRAINT",
        conflicts_with = "cve"
    )]
    pub version: Option<String>,
    /// A vulnerability id some release's VEX document names as fixed (CVE-…, DSA-…).
    #[arg(long)]
    pub cve: Option<String>,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Promote each rebuilt release to this channel.
    #[arg(long)]
    pub channel: Option<String>,
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    #[command(flatten)]
    pub sign: crate::cli::key::SignArgs,
    /// Shared layer cache: registry:HOST[:PORT]/REPO (default: COREBUILD_CACHE).
    #[arg(long, value_name = "registry:HOST[:PORT]/REPO")]
    pub cache: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Path, a: Args) -> anyhow::Result<i32> {
    let q = match (&a.package, &a.cve) {
        (Some(p), None) => Query::package(p, a.version.as_deref())?,
        (None, Some(c)) => Query::cve(c)?,
        _ => return Err(crate::error::input("give --package NAME or --cve ID")),
    };
    let blueprints = load_all(&a.blueprints)?;
    let cat = a.catalog.open()?;
    let g = gather::gather(cat.as_ref(), &BlobCache::under(store), q.needs_vex())?;
    for w in &g.warnings {
        eprintln!("warning: {w}");
    }
    let matches = query::find(&q, &g.releases);
    let advisories: Vec<String> = a.cve.iter().map(|c| c.to_uppercase()).collect();
    let targets = rebuild::plan(&blueprints, &matches, &advisories);
    let blocked = targets.iter().any(|t| t.blocked.is_some());
    if a.dry_run {
        report_plan(&a, &targets, &cat.location())?;
        return Ok(if blocked { 1 } else { 0 });
    }
    let store = OciDir::open_or_create(store)?;
    let opts = ReleaseOptions {
        locked: true,
        runtime: a.runtime.clone(),
        channel: a.channel.clone(),
        notes_dir: None,
        jobs: 0,
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
        accel: crate::disk::qemu::Accel::Tcg,
        sign_key: a.sign.load()?,
        retest: false,
        cache: crate::build::registry_cache::CacheSpec::from_flag_or_env(a.cache.as_deref())?,
    };
    let outcomes = rebuild_run::run(
        &store,
        cat.as_ref(),
        &targets,
        &opts,
        &Reporter::new(a.json),
    )?;
    report_outcomes(a.json, &cat.location(), &targets, &outcomes)?;
    Ok(if blocked { 1 } else { 0 })
}

/// What the rebuild released (and what it could not), human or JSON.
fn report_outcomes(
    json: bool,
    location: &str,
    targets: &[Target],
    outcomes: &[rebuild_run::Outcome],
) -> anyhow::Result<()> {
    if json {
        output::json(&serde_json::json!({
        "catalog": location,
        "dry_run": false,
        "targets": targets,
        "released": outcomes.iter().map(|o| serde_json::json!({
            "name": o.name, "version": o.version, "digest": o.digest, "moved": o.moved,
            "release_notes": o.summary.release_notes, "reference": o.summary.reference,
        })).collect::<Vec<_>>(),
        }))?;
    } else {
        for t in targets.iter().filter(|t| t.blocked.is_some()) {
            say!(
                "blocked {} {}: {}",
                t.name,
                t.released,
                t.blocked.as_deref().unwrap_or("")
            );
        }
        for o in outcomes {
            say!(
                "released {}:{} {} ({})",
                o.name,
                o.version,
                o.digest
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                if o.moved.is_empty() {
                    "base moved".to_string()
                } else {
                    o.moved.join("; ")
                }
            );
        }
        if !outcomes.is_empty() {
            say!("edited blueprint.toml and blueprint.lock of each are left for you to review and commit");
        }
    }
    Ok(())
}

/// Every blueprint under `dir` (its subdirectories' blueprint.toml), or `dir` itself.
fn load_all(dir: &Path) -> anyhow::Result<Vec<Blueprint>> {
    let one = |p: &Path| blueprint::load(p, &LoadOptions::default()).map_err(anyhow::Error::from);
    if dir.join(blueprint::BLUEPRINT_FILE_NAME).is_file() {
        return Ok(vec![one(dir)?]);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| crate::error::input(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(blueprint::BLUEPRINT_FILE_NAME).is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| one(d)).collect()
}

fn report_plan(a: &Args, targets: &[Target], location: &str) -> anyhow::Result<()> {
    if a.json {
        return output::json(&serde_json::json!({
            "catalog": location, "dry_run": true, "targets": targets,
        }));
    }
    if targets.is_empty() {
        say!("nothing to rebuild: no latest release in {location} matches");
        return Ok(());
    }
    for (i, t) in targets.iter().enumerate() {
        let what: Vec<String> = t.packages.iter().map(|(p, v)| format!("{p} {v}")).collect();
        say!(
            "{}. {} {} → {} ({})",
            i + 1,
            t.name,
            t.released,
            t.next,
            what.join(", ")
        );
        if let Some(b) = &t.blocked {
            say!("   blocked: {b}");
            continue;
        }
        if !t.moves.is_empty() {
            say!("   move in blueprint.lock: {}", t.moves.join(", "));
        }
        if let Some(b) = &t.base_from {
            say!("   base: catalog:{b} at its rebuilt version");
        }
        say!("   blueprint: {}", blueprint::display_path(&t.blueprint));
    }
    Ok(())
}
