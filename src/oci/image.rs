//! Finding an image (manifest + config) in a layout by tag, digest or only-entry, and
//! importing one from another layout with every blob verified on the way in.

use crate::digest::Digest;
use crate::oci::layout::ref_name;
use crate::oci::{ImageRef, OciDir};
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest, MediaType};

/// An image whose manifest and config have been read and verified.
#[derive(Debug, Clone)]
pub struct StoredImage {
    pub desc: Descriptor,
    pub digest: Digest,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
}

impl OciDir {
    /// Reads the image a manifest descriptor points to.
    pub fn image(&self, desc: &Descriptor) -> Result<StoredImage> {
        let digest = Digest::try_from(desc.digest())?;
        if *desc.media_type() != MediaType::ImageManifest
            && desc.media_type().to_string()
                != "application/vnd.docker.distribution.manifest.v2+json"
        {
            return Err(crate::error::input(format!(
                "{digest} is a {}, not an image manifest (multi-platform indexes are not supported yet; name one platform's manifest)",
                desc.media_type()
            )));
        }
        let manifest: ImageManifest = self
            .read_json(desc)
            .with_context(|| format!("reading manifest {digest}"))?;
        let config: ImageConfiguration = self
            .read_json(manifest.config())
            .with_context(|| format!("reading the config of {digest}"))?;
        Ok(StoredImage {
            desc: desc.clone(),
            digest,
            manifest,
            config,
        })
    }

    /// Finds an image by tag, by manifest digest, or (no tag given) the layout's only image.
    pub fn find_image(
        &self,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> Result<Option<StoredImage>> {
        let index = self.index()?;
        let entries = index.manifests();
        let found = match (tag, digest) {
            (Some(t), _) => entries.iter().find(|d| ref_name(d) == Some(t)),
            (None, Some(d)) => entries
                .iter()
                .find(|e| Digest::try_from(e.digest()).ok().as_ref() == Some(d)),
            (None, None) => {
                let mut distinct: Vec<&Descriptor> = entries.iter().collect();
                distinct.dedup_by(|a, b| a.digest() == b.digest());
                if distinct.len() > 1 {
                    return Err(crate::error::input(format!(
                        "{} holds {} images; name one with :TAG",
                        self.root().display(),
                        distinct.len()
                    )));
                }
                distinct.first().copied()
            }
        };
        if let Some(desc) = found {
            return self.image(desc).map(Some);
        }
        // A digest that no index entry names may still be a manifest blob we hold.
        if let (None, Some(d)) = (tag, digest) {
            if self.has_blob(d) {
                let size = std::fs::metadata(self.blob_path(d))?.len();
                let desc = Descriptor::new(MediaType::ImageManifest, size, d.to_oci());
                return self.image(&desc).map(Some);
            }
        }
        Ok(None)
    }

    /// Resolves a store reference (tag or digest); a layout reference is read from there.
    pub fn resolve(&self, r: &ImageRef) -> Result<StoredImage> {
        let not_found = || {
            crate::error::input(format!(
                "image {r} is not in the store at {} (build it, or import a base with `corebuild base import`)",
                self.root().display()
            ))
        };
        match r {
            ImageRef::Tag(t) => self.find_image(Some(t), None)?.ok_or_else(not_found),
            ImageRef::Digest { digest, .. } => {
                self.find_image(None, Some(digest))?.ok_or_else(not_found)
            }
            ImageRef::Layout { path, tag } => {
                let src = OciDir::open(path)?;
                src.find_image(tag.as_deref(), None)?.ok_or_else(|| {
                    crate::error::input(format!(
                        "no image {r} (tag not found in {})",
                        path.display()
                    ))
                })
            }
        }
    }

    /// Copies an image (manifest, config, layers) from another layout, verifying every blob.
    pub fn import_image(&self, src: &OciDir, image: &StoredImage) -> Result<()> {
        for l in image.manifest.layers() {
            let d = Digest::try_from(l.digest())?;
            self.copy_blob_from(src, &d, Some(l.size()))
                .with_context(|| format!("importing layer {d}"))?;
        }
        let c = image.manifest.config();
        self.copy_blob_from(src, &Digest::try_from(c.digest())?, Some(c.size()))?;
        self.copy_blob_from(src, &image.digest, Some(image.desc.size()))?;
        Ok(())
    }

    /// Writes a self-contained layout at `self` holding `image` from `store` (blobs linked,
    /// not re-verified: the store verified them when they were written), tagged `tags`.
    pub fn export_image(&self, store: &OciDir, image: &StoredImage, tags: &[String]) -> Result<()> {
        for l in image.manifest.layers() {
            self.link_blob_from(store, &Digest::try_from(l.digest())?)?;
        }
        self.link_blob_from(store, &Digest::try_from(image.manifest.config().digest())?)?;
        self.link_blob_from(store, &image.digest)?;
        let plain = Descriptor::new(
            MediaType::ImageManifest,
            image.desc.size(),
            image.digest.to_oci(),
        );
        for t in tags {
            self.set_tag(t, &plain)?;
        }
        Ok(())
    }
}
