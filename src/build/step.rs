//! `run` and `packages` layers: execute a command in the OCI runtime over an overlay of
//! the flattened layers below, and turn the overlay's upper directory into the layer.
//!
//! A `packages` layer runs twice: a download phase with user-mode networking in a
//! throw-away overlay, filling the package cache, then the install phase (maintainer
//! scripts included) with no network, reading that cache; only the second becomes the
//! layer. A `run` layer with `network = true` gets user-mode networking; without it,
//! none.

use crate::blueprint::Layer;
use crate::build::layers::LayerContext;
use crate::build::{apt, rootfs};
use crate::layer::{self, DiffOptions, LayerInfo, LayerOptions};
use crate::runtime::{self, Bind, Network, OciRuntime, RunOutcome, RunSpec, ScratchOverlay};
use anyhow::{Context, Result};
use oci_spec::image::Descriptor;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one build step may run before it is killed.
const STEP_TIMEOUT: Duration = Duration::from_secs(3600);

/// Paths never taken into a layer from a build step: kernel and runtime mounts, scratch
/// space, and the resolver file a network step gets bind-mounted.
const EXCLUDE: &[&str] = &[
    "proc",
    "sys",
    "dev",
    "run",
    "tmp",
    "var/tmp",
    "etc/resolv.conf",
    "etc/hostname",
    "etc/hosts",
];

/// Runs layer `i` and writes its blob; returns the layer and the package pins it used.
pub fn build_step(
    ctx: &LayerContext,
    i: usize,
    l: &Layer,
    plan: Option<&apt::Plan>,
    parents: &[Descriptor],
    chain: &[String],
    opts: &LayerOptions,
) -> Result<(LayerInfo, Vec<(String, String)>)> {
    let lower = {
        let _t =
            crate::profile::span(|| format!("build: layer {} flatten the parent chain", i + 1));
        rootfs::flattened(ctx.store, parents, chain)?
    };
    let mut spec = step_spec(ctx, i);
    let mut packages = Vec::new();
    // Held until the install phase ends: another build's download must not change the
    // cache between our download and our install.
    let mut _cache_lock = None;
    // The declared sources' directory, bound into both phases.
    let mut _sources = None;
    match l {
        Layer::Packages(p) => {
            let cache = PackageCache::for_lower(ctx, &lower)?;
            _cache_lock = Some(cache.lock()?);
            let sources = crate::build::sources::SourcesDir::write(ctx)?;
            let plan = plan.expect("a packages layer has a plan");
            packages = match plan {
                // Every pinned .deb is cached and matches its indexed SHA256: nothing to
                // fetch, so no download phase (no network, no first container).
                // `--no-cache` uses nothing cached: the sources are fetched and verified.
                apt::Plan::Pinned(pins)
                    if !ctx.no_cache
                        && crate::build::apt_cache::covers(
                            &cache.lists,
                            &cache.archives,
                            pins,
                        )? =>
                {
                    pins.clone()
                }
                _ => {
                    let _t =
                        crate::profile::span(|| format!("build: layer {} download phase", i + 1));
                    download(ctx, i, l, plan, &lower, &cache, &sources)?
                }
            };
            let script =
                apt::install_script(&p.packages, &packages, opts.epoch, &ctx.bp.apt_sources);
            spec.args = vec!["/bin/sh".into(), "-c".into(), script];
            spec.network = Network::Isolated;
            spec.binds = cache.install_binds();
            spec.binds.extend(sources.bind());
            _sources = Some(sources);
        }
        Layer::Run(r) => {
            spec.args = r.argv.clone();
            crate::build::image::set_env(&mut spec.env, &r.env);
            spec.user = r.user.clone();
            if let Some(w) = &r.workdir {
                spec.cwd = w.clone();
            }
            spec.network = if r.network {
                Network::User
            } else {
                Network::Isolated
            };
        }
        Layer::Files(_) => unreachable!("files layers are not build steps"),
    }
    let (outcome, work) = {
        let _t = crate::profile::span(|| format!("build: layer {} run in the runtime", i + 1));
        run_in_scratch(ctx, &lower, &spec)?
    };
    check(&outcome, i, l, "")?;
    let _t = crate::profile::span(|| format!("build: layer {} write the layer", i + 1));

    let entries = layer::upper_to_entries(
        &work.path().join("upper"),
        &DiffOptions {
            epoch: opts.epoch,
            exclude: EXCLUDE.iter().map(|s| s.to_string()).collect(),
        },
    )
    .context("reading the layer's changes")?;
    let w = ctx.store.create_blob()?;
    let (w, info) = layer::write_layer(entries, opts, w)?;
    w.complete()?;
    Ok((info, packages))
}

/// The step profile every build step starts from.
fn step_spec(ctx: &LayerContext, i: usize) -> RunSpec {
    let mut spec = RunSpec::build_step(Vec::new());
    spec.env = ctx.env.clone();
    spec.timeout = STEP_TIMEOUT;
    spec.stream_prefix = Some(format!("[layer {}] ", i + 1));
    spec
}

/// Runs `spec` over an overlay of `lower`; returns the outcome and the overlay's
/// directory (its `upper/` holds what changed).
fn run_in_scratch(
    ctx: &LayerContext,
    lower: &Path,
    spec: &RunSpec,
) -> Result<(RunOutcome, tempfile::TempDir)> {
    let rt = runtime::from_name(ctx.runtime)?;
    let scratch = ScratchOverlay::mount(&[lower], &ctx.store.root().join("cache/work"), "step-")?;
    let outcome = rt.run(scratch.merged(), spec);
    let work = scratch.close().context("unmounting the build overlay")?;
    Ok((outcome?, work))
}

/// The package cache of one lower root filesystem (its apt sources and keyring):
/// `<store>/cache/apt/<chain id>/{lists,archives}`, apt's index and package
/// directories. Kept between builds, so a rebuild downloads only what changed.
struct PackageCache {
    dir: PathBuf,
    lists: PathBuf,
    archives: PathBuf,
}

impl PackageCache {
    fn for_lower(ctx: &LayerContext, lower: &Path) -> Result<PackageCache> {
        let key = lower
            .file_name()
            .context("the flattened rootfs has no name")?;
        let dir = package_cache_root(ctx).join(key);
        let cache = PackageCache {
            dir: dir.clone(),
            lists: dir.join("lists"),
            archives: dir.join("archives"),
        };
        for d in [&cache.lists, &cache.archives] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(cache)
    }

    /// An exclusive lock on this cache (blocking): builds sharing a store take turns,
    /// where two apts would fail on each other's lock files.
    fn lock(&self) -> Result<std::fs::File> {
        let path = self.dir.join("lock");
        let f =
            std::fs::File::create(&path).with_context(|| format!("opening {}", path.display()))?;
        f.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(f)
    }

    /// Where the download phase's apt reads and writes them.
    fn download_binds(&self) -> Vec<Bind> {
        vec![
            bind(&self.lists, "/var/lib/apt/lists", false),
            bind(&self.archives, "/var/cache/apt/archives", false),
        ]
    }

    /// Read-only under [`apt::CACHE_MOUNT`] for the install phase.
    fn install_binds(&self) -> Vec<Bind> {
        vec![
            bind(&self.lists, &format!("{}/lists", apt::CACHE_MOUNT), true),
            bind(
                &self.archives,
                &format!("{}/archives", apt::CACHE_MOUNT),
                true,
            ),
        ]
    }
}

/// Where package caches live (one directory per base chain below it).
fn package_cache_root(ctx: &LayerContext) -> PathBuf {
    package_cache_dir(
        std::env::var_os("COREBUILD_PACKAGE_CACHE"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
        ctx.store.root(),
    )
}

/// `COREBUILD_PACKAGE_CACHE` when set (`store`: the store's own `cache/apt`); else the
/// user's cache directory, `$XDG_CACHE_HOME/corebuild/packages` or
/// `$HOME/.cache/corebuild/packages`, shared by every store of the user so that an empty
/// store does not download every .deb again (as apko's and pip's caches are); the
/// store's `cache/apt` when neither is known. Relative values are ignored, as the XDG
/// specification says.
fn package_cache_dir(
    explicit: Option<OsString>,
    xdg_cache: Option<OsString>,
    home: Option<OsString>,
    store: &Path,
) -> PathBuf {
    let in_store = || store.join("cache/apt");
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    match explicit {
        Some(v) if v == "store" => return in_store(),
        Some(v) if !v.is_empty() => return PathBuf::from(v),
        _ => {}
    }
    if let Some(x) = absolute(xdg_cache) {
        return x.join("corebuild/packages");
    }
    match absolute(home) {
        Some(h) => h.join(".cache/corebuild/packages"),
        None => in_store(),
    }
}

/// A bind of a store directory; the store may be named relative to the working
/// directory (`.corebuild/store`), a bind source may not.
pub(crate) fn bind(src: &Path, dest: &str, readonly: bool) -> Bind {
    Bind {
        src: std::path::absolute(src).unwrap_or_else(|_| src.to_path_buf()),
        dest: dest.to_string(),
        readonly,
    }
}

/// The download phase of a `packages` layer, in a throw-away overlay with user-mode
/// networking: returns every package to install, pinned.
fn download(
    ctx: &LayerContext,
    i: usize,
    l: &Layer,
    plan: &apt::Plan,
    lower: &Path,
    cache: &PackageCache,
    sources: &crate::build::sources::SourcesDir,
) -> Result<Vec<(String, String)>> {
    let mut spec = step_spec(ctx, i);
    spec.args = vec![
        "/bin/sh".into(),
        "-c".into(),
        apt::download_script(plan, &ctx.bp.apt_sources),
    ];
    spec.network = Network::User;
    spec.forwards = sources.forwards();
    spec.binds = cache.download_binds();
    spec.binds.extend(sources.bind());
    let (outcome, _scratch) = run_in_scratch(ctx, lower, &spec)?;
    let report = apt::parse_output(&String::from_utf8_lossy(&outcome.stdout));
    crate::build::sources::check_report(ctx.bp, i, &report)?;
    check(&outcome, i, l, " download")?;
    Ok(report.pins)
}

/// A step that did not exit 0 is a failed build (exit 1), with its last output.
fn check(outcome: &RunOutcome, i: usize, l: &Layer, phase: &str) -> Result<()> {
    if outcome.success() {
        return Ok(());
    }
    Err(crate::error::failed(format!(
        "layer {} ({}){phase} {}; last output:\n{}",
        i + 1,
        describe(l),
        outcome.describe(),
        outcome
            .tail
            .iter()
            .map(|t| format!("  | {t}"))
            .collect::<Vec<_>>()
            .join("\n")
    )))
}

fn describe(l: &Layer) -> String {
    match l {
        Layer::Packages(p) if p.packages.is_empty() => "packages, upgrade".to_string(),
        Layer::Packages(p) => format!(
            "packages {}",
            p.packages
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Layer::Run(r) => format!("run {:?}", r.argv),
        Layer::Files(_) => "files".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::package_cache_dir;
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    #[test]
    fn the_package_cache_is_the_users_unless_told_otherwise() {
        let store = Path::new("/srv/store");
        let os = |s: &str| Some(OsString::from(s));
        let dir = |e, x, h| package_cache_dir(e, x, h, store);
        assert_eq!(
            dir(os("/cache/pk"), os("/x"), os("/home/u")),
            PathBuf::from("/cache/pk")
        );
        assert_eq!(
            dir(os("store"), os("/x"), os("/home/u")),
            store.join("cache/apt")
        );
        assert_eq!(
            dir(os(""), os("/x"), os("/home/u")),
            PathBuf::from("/x/corebuild/packages")
        );
        assert_eq!(
            dir(None, None, os("/home/u")),
            PathBuf::from("/home/u/.cache/corebuild/packages")
        );
        // A relative XDG directory is ignored (the XDG specification), as is a relative HOME.
        assert_eq!(
            dir(None, os("rel"), os("/home/u")),
            PathBuf::from("/home/u/.cache/corebuild/packages")
        );
        assert_eq!(dir(None, None, os("rel")), store.join("cache/apt"));
        assert_eq!(dir(None, None, None), store.join("cache/apt"));
    }
}
