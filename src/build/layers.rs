//! Building the blueprint's own layers: each `[[layer]]` becomes one blob in the store.
//! Layers do not depend on each other's bytes, so they are written in parallel.

use crate::blueprint::{Blueprint, Layer};
use crate::layer::{self, Entry, LayerInfo, LayerOptions};
use crate::oci::OciDir;
use anyhow::{Context, Result};

/// Builds every layer; returns (kind, info) in blueprint order.
pub fn build_all(
    store: &OciDir,
    bp: &Blueprint,
    epoch: u64,
) -> Result<Vec<(&'static str, LayerInfo)>> {
    let opts = LayerOptions {
        compression: bp.outputs.compression,
        epoch,
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = bp
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let opts = &opts;
                s.spawn(move || {
                    build_one(store, l, opts)
                        .with_context(|| format!("building layer {} of {}", i + 1, bp.name))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("layer builder panicked"))
            .collect()
    })
}

fn build_one(store: &OciDir, l: &Layer, opts: &LayerOptions) -> Result<(&'static str, LayerInfo)> {
    match l {
        Layer::Files(files) => {
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
            Ok(("files", info))
        }
        Layer::Packages(_) | Layer::Run(_) => Err(crate::error::input(
            "`packages` and `run` layers are not supported by this build of corebuild yet",
        )),
    }
}
