//! Flattened parent chains for build steps: the root filesystem a `run` or `packages`
//! layer runs over, unpacked once per chain of diff_ids and kept in the store's cache.

use crate::build::unpack;
use crate::digest::Digest;
use crate::layer::ApplyOptions;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use oci_spec::image::Descriptor;
use std::path::PathBuf;

/// The chain id of a list of diff_ids: one digest naming the whole stack.
pub fn chain_id(diff_ids: &[String]) -> Digest {
    Digest::of_bytes(diff_ids.join("\n").as_bytes())
}

/// Returns a directory holding the flattened `layers` (with their diff_ids), unpacking
/// it when the cache has none. Callers must not modify the directory.
pub fn flattened(store: &OciDir, layers: &[Descriptor], diff_ids: &[String]) -> Result<PathBuf> {
    let id = chain_id(diff_ids);
    let dir = store.root().join("cache/rootfs").join(id.hex());
    if dir.is_dir() {
        return Ok(dir);
    }
    let parent = store.root().join("cache/rootfs");
    std::fs::create_dir_all(&parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-rootfs-")
        .tempdir_in(&parent)?;
    let target = tmp.path().join("rootfs");
    let opts = ApplyOptions {
        devices: crate::layer::DevicePolicy::Skip,
        ..ApplyOptions::default()
    };
    unpack::unpack_layers(store, layers, diff_ids, &target, &opts)
        .with_context(|| format!("flattening the parent layers ({id})"))?;
    std::fs::rename(&target, &dir)?;
    Ok(dir)
}
