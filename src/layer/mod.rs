//! Layers: deterministic tar writing, compression, scanning a host tree into entries, and
//! the safe apply of (untrusted) layers onto a directory.
//!
//! What fixes a layer's bytes (changing any of these changes every digest; the golden
//! test in `writer_tests.rs` fails loudly): entries sorted bytewise by tar name; ustar
//! headers with empty uname/gname, zero device fields and mtime `min(mtime, epoch)`; PAX
//! records only for what does not fit; two zero blocks at the end and no record padding;
//! gzip = 1 MiB blocks deflated independently by miniz_oxide level 1 (`gzip.rs`); zstd =
//! level 3, multithreaded mode with 2 workers, no checksum, no content size.

pub mod apply;
pub mod compress;
pub mod entry;
mod gzip;
mod header;
pub mod overlay_diff;
pub mod read_ahead;
mod rootfs;
pub mod scan;
mod tarread;
pub mod writer;

#[cfg(test)]
mod testutil;

pub use apply::{apply_layer, apply_layers, ApplyError, ApplyOptions, ApplyStats, DevicePolicy};
pub use compress::{decompress, Compression};
pub use entry::{normalize_dest, Entry, EntryKind, FileSource, PathError};
pub use overlay_diff::{upper_to_entries, DiffOptions, BUILD_EXCLUDES};
pub use scan::{files_from_host, scan_dir, scan_dir_report, Scan, Skipped};
pub(crate) use tarread::{RawEntry, TarReader};
pub use writer::{write_layer, LayerInfo, LayerOptions};
