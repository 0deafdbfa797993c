//! Building the blueprint's own layers, in order, over the base. `files` layers do not
//! depend on what is below them, so they are all written first, in parallel; `run` and
//! `packages` layers execute over the flattened layers below them, one after another.
//! Every layer goes through the layer cache.

use crate::blueprint::{Blueprint, Layer, PackageSpec};
use crate::build::cache::{CacheKeyInput, CacheRecord, LayerCache};
use crate::build::step;
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
    /// The environment build steps run with (the base image's `Env`).
    pub env: Vec<String>,
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
        let pins = pins_for(ctx, i, l).with_context(|| label.clone())?;
        let built = match l {
            Layer::Files(_) => {
                let info = files[i].clone().expect("built in the first pass");
                // The layer's inputs are its content, which the diff_id names exactly.
                let key = key(l, &chain, vec![info.diff_id.to_string()], &[], &opts)?;
                let hit = cache.get(ctx.store, &key).is_some();
                if !hit {
                    cache.put(&key, &CacheRecord::from_info(&info, Vec::new()))?;
                }
                BuiltLayer {
                    kind: "files",
                    info,
                    cache_hit: hit && !ctx.no_cache,
                    packages: Vec::new(),
                }
            }
            Layer::Packages(_) | Layer::Run(_) => {
                let key = key(l, &chain, Vec::new(), pins.as_deref().unwrap_or(&[]), &opts)?;
                let cached = if ctx.no_cache || pins.is_none() && matches!(l, Layer::Packages(_)) {
                    None
                } else {
                    cache
                        .get(ctx.store, &key)
                        .and_then(|r| Some((r.to_info()?, r.packages)))
                };
                match cached {
                    Some((info, packages)) => BuiltLayer {
                        kind: kind_name(l),
                        info,
                        cache_hit: true,
                        packages,
                    },
                    None => {
                        let (info, packages) =
                            step::build_step(ctx, i, l, pins.as_deref(), &layers, &chain, &opts)
                                .with_context(|| format!("building {label}"))?;
                        // A resolved packages layer is cached under the key its pins give.
                        let key = if pins.is_none() {
                            self::key(l, &chain, Vec::new(), &packages, &opts)?
                        } else {
                            key
                        };
                        cache.put(&key, &CacheRecord::from_info(&info, packages.clone()))?;
                        BuiltLayer {
                            kind: kind_name(l),
                            info,
                            cache_hit: false,
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

fn kind_name(l: &Layer) -> &'static str {
    match l {
        Layer::Files(_) => "files",
        Layer::Packages(_) => "packages",
        Layer::Run(_) => "run",
    }
}

fn key(
    l: &Layer,
    chain: &[String],
    inputs: Vec<String>,
    pins: &[(String, String)],
    opts: &LayerOptions,
) -> Result<crate::digest::Digest> {
    // Host paths of `files` sources are not part of the definition: the content is.
    let definition = match l {
        Layer::Files(f) => serde_json::to_value(
            f.iter()
                .map(|f| (&f.dest, f.mode, f.uid, f.gid))
                .collect::<Vec<_>>(),
        )?,
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

/// The package pins for layer `i`: from the lock when it covers every requested package
/// (and `--update` was not asked), `None` to resolve now. Under `--locked`, a packages
/// layer without complete pins is an error that says to run `corebuild lock`.
fn pins_for(ctx: &LayerContext, i: usize, l: &Layer) -> Result<Option<Vec<(String, String)>>> {
    let Layer::Packages(requested) = l else {
        return Ok(None);
    };
    let locked: Vec<(String, String)> = ctx
        .bp
        .lock
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
    let complete = !locked.is_empty() && requested.iter().all(covers);
    if complete && !ctx.update_pins {
        return Ok(Some(locked));
    }
    if ctx.locked {
        let missing: Vec<&str> = requested
            .iter()
            .filter(|p| !covers(p))
            .map(|p| p.name.as_str())
            .collect();
        return Err(crate::error::input(format!(
            "{}: packages layer {} is not fully pinned (no lock entry for {}); run `corebuild lock {}`",
            crate::blueprint::display_path(&crate::blueprint::lock_path(&ctx.bp.dir)),
            i + 1,
            missing.join(", "),
            crate::blueprint::display_path(&ctx.bp.dir)
        )));
    }
    Ok(None)
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
