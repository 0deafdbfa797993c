//! Flattening an image from the store into a directory: each layer's blob is read verified,
//! decompressed, checked against its diff_id, and applied with the safe apply.

use crate::digest::{Digest, HashingReader};
use crate::layer::{self, read_ahead, ApplyOptions, Compression};
use crate::oci::{OciDir, StoredImage};
use anyhow::{anyhow, Context, Result};
use oci_spec::image::Descriptor;
use std::path::Path;

/// Applies every layer of `image` onto `target` (created if missing).
pub fn unpack(
    store: &OciDir,
    image: &StoredImage,
    target: &Path,
    opts: &ApplyOptions,
) -> Result<()> {
    unpack_layers(
        store,
        image.manifest.layers(),
        image.config.rootfs().diff_ids(),
        target,
        opts,
    )
}

/// Applies `layers` (checked against `diff_ids`) onto `target` (created if missing).
pub fn unpack_layers(
    store: &OciDir,
    layers: &[Descriptor],
    diff_ids: &[String],
    target: &Path,
    opts: &ApplyOptions,
) -> Result<()> {
    std::fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    for (i, l) in layers.iter().enumerate() {
        let digest = Digest::try_from(l.digest())?;
        let mt = l.media_type().to_string();
        let compression = Compression::from_media_type(&mt).ok_or_else(|| {
            crate::error::input(format!("layer {i} ({digest}): unsupported media type {mt}"))
        })?;
        let blob = store.open_blob(&digest, Some(l.size()))?;
        // Read, verified and decompressed on a thread of its own, overlapping the apply.
        let mut tar = read_ahead::spawn(
            move || HashingReader::new(layer::decompress(compression, blob)),
            HashingReader::finish,
        );
        layer::apply_layer(&mut tar, target, opts)
            .with_context(|| format!("applying layer {i} ({digest})"))?;
        // Read to the end so the blob's digest and the diff_id are checked in full.
        let (diff_id, _) = tar
            .finish()
            .map_err(|e| anyhow!(e).context(format!("layer {i} ({digest}) failed verification")))?;
        if let Some(expected) = diff_ids.get(i) {
            if diff_id.to_string() != *expected {
                return Err(crate::error::input(format!(
                    "layer {i} ({digest}): uncompressed content is {diff_id}, config says {expected}"
                )));
            }
        }
    }
    Ok(())
}
