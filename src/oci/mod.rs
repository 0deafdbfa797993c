//! The OCI image layout on disk: one handle (`OciDir`) that owns a layout directory, writes
//! blobs atomically while hashing them, reads them back verified, and keeps `index.json`.
//! The build store and the local catalog both use it.

mod blob;
mod canonical;
mod fsck;
mod image;
mod layout;
mod reference;
mod tags;

pub use blob::{BlobWriter, VerifiedReader};
pub use canonical::to_canonical_json;
pub use fsck::{FsckProblem, FsckReport};
pub use image::StoredImage;
pub use layout::{write_atomic, write_atomic_mode, OciDir, REF_NAME};
pub use reference::ImageRef;

/// A blob's bytes do not match its digest or size.
#[derive(Debug, thiserror::Error)]
#[error("blob {expected}: content does not match its digest (got {actual}, {size} bytes); the store or source is corrupt: run `corebuild fsck`")]
pub struct DigestMismatch {
    pub expected: crate::digest::Digest,
    pub actual: crate::digest::Digest,
    pub size: u64,
}
