//! Layers: deterministic tar writing, compression, and the safe apply of layers onto a directory.
//! (Placeholder: the layer helper replaces this module.)

pub mod compress;

pub use compress::Compression;

/// An entry in a layer was refused while applying it.
#[derive(Debug, thiserror::Error)]
#[error("layer entry {entry:?}: {reason}")]
pub struct ApplyError {
    pub entry: String,
    pub reason: String,
}
