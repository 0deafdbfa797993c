//! The image under test: its digest, its flattened rootfs and its config, unpacked from
//! the store with the layer module's safe apply.

use crate::digest::Digest;
use crate::layer::ApplyOptions;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use oci_spec::image::ImageConfiguration;
use std::path::{Path, PathBuf};

/// The image under test: its manifest digest, its flattened rootfs and its config.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub digest: Digest,
    /// The image unpacked; read-only to the checks, and the lower layer of each command
    /// test's overlay.
    pub rootfs: PathBuf,
    pub config: ImageConfiguration,
    /// The candidate's VM disk, for `boot` tests; without one they are skipped.
    pub vm: Option<crate::disk::qemu::VmTarget>,
}

impl Candidate {
    /// Whether the candidate is a VM core build (it has a kernel under /boot, resolved
    /// inside the image): only then does a suite's `vm` target apply. A container-only
    /// image runs the same suite in the container alone.
    pub fn is_vm(&self) -> bool {
        crate::disk::kernels::find(&self.rootfs).is_ok()
    }

    /// Flattens the image `digest` from `store` into `dir` (created if missing; it should
    /// be empty) with the layer module's safe apply, every blob verified.
    pub fn unpack(store: &OciDir, digest: &Digest, dir: &Path) -> Result<Candidate> {
        let image = store.find_image(None, Some(digest))?.ok_or_else(|| {
            crate::error::input(format!(
                "candidate {digest} is not in the store at {}",
                store.root().display()
            ))
        })?;
        crate::build::unpack::unpack(store, &image, dir, &ApplyOptions::default())
            .with_context(|| format!("unpacking candidate {digest} into {}", dir.display()))?;
        Ok(Candidate {
            digest: digest.clone(),
            rootfs: dir.to_path_buf(),
            config: image.config,
            vm: None,
        })
    }
}
