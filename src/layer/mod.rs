//! Layers: deterministic tar writing, compression, scanning a host tree into entries, and
//! the safe apply of (untrusted) layers onto a directory.

pub mod apply;
pub mod compress;
pub mod entry;
mod gzip;
mod header;
mod rootfs;
pub mod scan;
mod tarread;
pub mod writer;

#[cfg(test)]
mod testutil;

pub use apply::{apply_layer, apply_layers, ApplyError, ApplyOptions, ApplyStats, DevicePolicy};
pub use compress::{decompress, Compression};
pub use entry::{normalize_dest, Entry, EntryKind, FileSource, PathError};
pub use scan::{files_from_host, scan_dir, scan_dir_report, Scan, Skipped};
pub use writer::{write_layer, LayerInfo, LayerOptions};
