//! Building the blueprint's own layers, in order, over the base. `files` layers do not
//! depend on what is below them, so they are all written first, in parallel; `run` and
//! `packages` layers execute over the flattened layers below them, one after another.
//! Every layer goes through the layer cache: this store's, then the registry's (`--cache`).

use crate::blueprint::{Blueprint, Layer, LockedSource, LockedUpgrade, PackageSpec};
use crate::build::apt::Plan;
use crate::build::cache::{CacheKeyInput, CacheRecord, CacheSource, LayerCache};
use crate::build::registry_cache::{Lookup, RegistryCache};
use crate::build::step;
use crate::digest::Digest;
use crate::layer::{self, Entry, LayerInfo, LayerOptions};
use crate::oci::OciDir;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, MediaType};

/// Bump when the bytes a layer kind produces change for the same inputs.
/// 2: packages layers get SOURCE_DATE_EPOCH and the scrub of per-machine state.
const CACHE_FORMAT: u32 = 2;

/// One built layer.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    pub kind: &'static str,
    pub info: LayerInfo,
    pub cache_hit: bool,
    /// Where a cached layer came from; `None` when it was built.
    pub cache: Option<CacheSource>,
    /// (name, version) of every package a `packages` layer installed.
    pub packages: Vec<(String, String)>,
}

/// What the layers of a build need to know.
pub struct LayerContext<'a> {
    pub store: &'a OciDir,
    pub bp: &'a Blueprint,
    pub epoch: u64,
    pub locked: bool,
    pub no_cache: bool,
    pub runtime: &'a str,
    /// Re-resolve package versions even where the lock pins them (`lock --update`).
    pub update_pins: bool,
    /// Re-resolve only these packages, keeping the lock's other pins (`rebuild`).
    pub update_packages: Vec<String>,
    /// The environment build steps run with (the base image's `Env`).
    pub env: Vec<String>,
    /// The shared layer cache in a registry (`--cache`), if any.
    pub remote: Option<&'a RegistryCache>,
}

pub fn build_all(
    ctx: &LayerContext,
    base_layers: &[Descriptor],
    base_diff_ids: &[String],
) -> Result<Vec<BuiltLayer>> {
    let bp = ctx.bp;
    let opts = LayerOptions {
        compression: bp.outputs.compression,
        epoch: ctx.epoch,
    };
    let files = build_files_layers(ctx.store, bp, &opts)?;
    let cache = LayerCache::new(ctx.store);
    let mut layers: Vec<Descriptor> = base_layers.to_vec();
    let mut chain: Vec<String> = base_diff_ids.to_vec();
    let mut out = Vec::new();
    for (i, l) in bp.layers.iter().enumerate() {
        let label = format!("layer {} of {}", i + 1, bp.name);
        let plan = plan_for(ctx, i, l).with_context(|| label.clone())?;
        let pins = match &plan {
            Some(Plan::Pinned(p)) => Some(p.clone()),
            _ => None,
        };
        let built = match l {
            Layer::Files(_) => {
                let info = files[i].clone().expect("built in the first pass");
                // The layer's inputs are its content, which the diff_id names exactly.
                let key = key(ctx, l, &chain, vec![info.diff_id.to_string()], &[], &opts)?;
                let rec = CacheRecord::from_info(&info, Vec::new());
                let cache_src = lookup(ctx, &cache, &key, Some(&info)).map(|(_, src)| src);
                if cache_src.is_none() {
                    remember(ctx, &cache, &key, &rec)?;
                }
                BuiltLayer {
                    kind: "files",
                    info,
                    cache_hit: cache_src.is_some(),
                    cache: cache_src,
                    packages: Vec::new(),
                }
            }
            Layer::Packages(_) | Layer::Run(_) => {
                let key = key(
                    ctx,
                    l,
                    &chain,
                    Vec::new(),
                    pins.as_deref().unwrap_or(&[]),
                    &opts,
                )?;
                let cached = if pins.is_none() && matches!(l, Layer::Packages(_)) {
                    None
                } else {
                    lookup(ctx, &cache, &key, None)
                        .and_then(|(r, src)| Some((r.to_info()?, r.packages, src)))
                };
                match cached {
                    Some((info, packages, src)) => BuiltLayer {
                        kind: kind_name(l),
                        info,
                        cache_hit: true,
                        cache: Some(src),
                        packages,
                    },
                    None => {
                        let (info, packages) =
                            step::build_step(ctx, i, l, plan.as_ref(), &layers, &chain, &opts)
                                .with_context(|| format!("building {label}"))?;
                        // A resolved packages layer is cached under the key its pins give.
                        let key = if pins.is_none() {
                            self::key(ctx, l, &chain, Vec::new(), &packages, &opts)?
                        } else {
                            key
                        };
                        remember(
                            ctx,
                            &cache,
                            &key,
                            &CacheRecord::from_info(&info, packages.clone()),
                        )?;
                        BuiltLayer {
                            kind: kind_name(l),
                            info,
                            cache_hit: false,
                            cache: None,
                            packages,
                        }
                    }
                }
            }
        };
        layers.push(Descriptor::new(
            MediaType::Other(built.info.media_type.to_string()),
            built.info.size,
            built.info.digest.to_oci(),
        ));
        chain.push(built.info.diff_id.to_string());
        out.push(built);
    }
    Ok(out)
}

/// The record for `key`: this store's first, then the registry cache's (verified, and
/// then recorded here). A local hit the registry lacks is pushed there. `built` is the
/// layer when it is made here anyway (`files`). `None` under `--no-cache`.
fn lookup(
    ctx: &LayerContext,
    cache: &LayerCache,
    key: &Digest,
    built: Option<&LayerInfo>,
) -> Option<(CacheRecord, CacheSource)> {
    if ctx.no_cache {
        return None;
    }
    if let Some(rec) = cache.get(ctx.store, key) {
        if let Some(remote) = ctx.remote {
            remote.ensure(ctx.store, key, &rec);
        }
        return Some((rec, CacheSource::Local));
    }
    let remote = ctx.remote?;
    match remote.lookup(ctx.store, key, built) {
        Lookup::Hit(rec) => {
            // Best effort: the layer is in the store either way.
            let _ = cache.put(key, &rec);
            Some((rec, CacheSource::Registry))
        }
        Lookup::Miss | Lookup::Poisoned => None,
    }
}

/// Records a layer built here: in this store's cache, and pushed to the registry cache
/// (over whatever entry the key had there).
fn remember(ctx: &LayerContext, cache: &LayerCache, key: &Digest, rec: &CacheRecord) -> Result<()> {
    cache.put(key, rec)?;
    if let Some(remote) = ctx.remote {
        remote.push(ctx.store, key, rec);
    }
    Ok(())
}

fn kind_name(l: &Layer) -> &'static str {
    match l {
        Layer::Files(_) => "files",
        Layer::Packages(_) => "packages",
        Layer::Run(_) => "run",
    }
}

fn key(
    ctx: &LayerContext,
    l: &Layer,
    chain: &[String],
    inputs: Vec<String>,
    pins: &[(String, String)],
    opts: &LayerOptions,
) -> Result<Digest> {
    // Host paths of `files` sources are not part of the definition: the content is.
    let definition = match l {
        Layer::Files(f) => serde_json::to_value(
            f.iter()
                .map(|f| (&f.dest, f.mode, f.uid, f.gid))
                .collect::<Vec<_>>(),
        )?,
        Layer::Packages(_) if !ctx.bp.apt_sources.is_empty() => serde_json::json!({
            "layer": l,
            "apt_sources": ctx.bp.apt_sources,
        }),
        other => serde_json::to_value(other)?,
    };
    CacheKeyInput {
        format: CACHE_FORMAT,
        parent_chain: chain,
        definition,
        inputs,
        locked_packages: pins.to_vec(),
        epoch: opts.epoch,
        compression: opts.compression,
    }
    .key()
}

/// How layer `i` gets its package versions: the lock's pins when they cover the layer
/// (every requested package, the upgrade resolved, the same sources) and nothing asks to
/// move them; else resolve now. Under `--locked`, resolving is an error that says to
/// run `corebuild lock`. `None` for layers that are not `packages`.
fn plan_for(ctx: &LayerContext, i: usize, l: &Layer) -> Result<Option<Plan>> {
    let Layer::Packages(spec) = l else {
        return Ok(None);
    };
    let lock = ctx.bp.lock.as_ref();
    let locked: Vec<(String, String)> = lock
        .iter()
        .flat_map(|lf| lf.packages.iter())
        .filter(|p| p.layer == i)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    for (n, v) in &locked {
        if !crate::build::apt::valid_pin(n, v) {
            return Err(crate::error::input(format!(
                "blueprint.lock: package pin {n}={v} has characters Debian names and versions cannot have"
            )));
        }
    }
    let covers = |p: &PackageSpec| {
        locked
            .iter()
            .any(|(n, v)| *n == p.name && p.version.as_ref().is_none_or(|want| want == v))
    };
    let sources: Vec<LockedSource> = ctx.bp.apt_sources.iter().map(LockedSource::of).collect();
    let same_sources = lock.is_some_and(|lf| lf.sources == sources);
    let upgrade_locked =
        !spec.upgrade || lock.is_some_and(|lf| lf.upgrades.contains(&LockedUpgrade { layer: i }));
    let uncovered: Vec<&str> = spec
        .packages
        .iter()
        .filter(|p| !covers(p))
        .map(|p| p.name.as_str())
        .collect();
    let complete = uncovered.is_empty()
        && (!locked.is_empty() || spec.packages.is_empty())
        && upgrade_locked
        && same_sources;
    let moving: Vec<&String> = ctx
        .update_packages
        .iter()
        .filter(|n| {
            locked.iter().any(|(l, _)| l == *n)
                || spec.packages.iter().any(|p| p.name == **n)
                || spec.upgrade
        })
        .collect();
    if complete && !ctx.update_pins && moving.is_empty() {
        return Ok(Some(Plan::Pinned(locked)));
    }
    if complete && !ctx.update_pins {
        return Ok(Some(partial_plan(spec, &locked, &ctx.update_packages)));
    }
    if ctx.locked {
        let why = if !same_sources {
            "the [[apt.source]] entries (or their keys) differ from the lock's [[source]] entries"
                .to_string()
        } else if !upgrade_locked {
            "its upgrade = true has not been resolved".to_string()
        } else {
            format!("no lock entry for {}", uncovered.join(", "))
        };
        return Err(not_pinned(ctx, i, &why));
    }
    Ok(Some(Plan::Resolve {
        install: spec.packages.iter().map(wanted).collect(),
        upgrade_all: spec.upgrade,
        only_upgrade: Vec::new(),
    }))
}

/// The `--locked` refusal of a packages layer the lock does not cover, saying why.
fn not_pinned(ctx: &LayerContext, i: usize, why: &str) -> anyhow::Error {
    crate::error::input(format!(
        "{}: packages layer {} is not fully pinned ({why}); run `corebuild lock {}`",
        crate::blueprint::display_path(&crate::blueprint::lock_path(&ctx.bp.dir)),
        i + 1,
        crate::blueprint::display_path(&ctx.bp.dir)
    ))
}

/// `name` or `name=version` as the blueprint asks for it.
fn wanted(p: &PackageSpec) -> String {
    match &p.version {
        Some(v) => format!("{}={v}", p.name),
        None => p.name.clone(),
    }
}

/// Resolving only `moving` again: every other locked pin stays as it is; requested
/// packages that move are asked for by name; locked dependencies and upgraded base
/// packages that move (and, in an upgrade layer, any installed package named) are
/// upgraded if the sources have something newer.
fn partial_plan(
    spec: &crate::blueprint::PackagesSpec,
    locked: &[(String, String)],
    moving: &[String],
) -> Plan {
    let moves = |n: &str| moving.iter().any(|m| m == n);
    let mut install: Vec<String> = Vec::new();
    for p in &spec.packages {
        if moves(&p.name) {
            install.push(wanted(p));
        }
    }
    for (n, v) in locked {
        if !moves(n) {
            install.push(format!("{n}={v}"));
        }
    }
    let mut only_upgrade: Vec<String> = locked
        .iter()
        .filter(|(n, _)| moves(n) && !spec.packages.iter().any(|p| p.name == *n))
        .map(|(n, _)| n.clone())
        .collect();
    if spec.upgrade {
        for m in moving {
            if !only_upgrade.contains(m) {
                only_upgrade.push(m.clone());
            }
        }
    }
    Plan::Resolve {
        install,
        upgrade_all: false,
        only_upgrade,
    }
}

/// Writes every `files` layer, in parallel; other kinds get `None`.
fn build_files_layers(
    store: &OciDir,
    bp: &Blueprint,
    opts: &LayerOptions,
) -> Result<Vec<Option<LayerInfo>>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = bp
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                s.spawn(move || match l {
                    Layer::Files(files) => write_files_layer(store, files, opts)
                        .map(Some)
                        .with_context(|| format!("building layer {} of {}", i + 1, bp.name)),
                    _ => Ok(None),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("layer builder panicked"))
            .collect()
    })
}

fn write_files_layer(
    store: &OciDir,
    files: &[crate::blueprint::FileSpec],
    opts: &LayerOptions,
) -> Result<LayerInfo> {
    let mut entries: Vec<Entry> = Vec::new();
    for f in files {
        entries.extend(
            layer::files_from_host(&f.src, &f.dest, f.mode, f.uid, f.gid)
                .with_context(|| format!("reading {}", f.src.display()))?,
        );
    }
    let w = store.create_blob()?;
    let (w, info) = layer::write_layer(entries, opts, w)?;
    w.complete()?;
    Ok(info)
}
