//! The deterministic layer writer: sorted, validated entries become a tar stream that is
//! hashed (diff_id), compressed and hashed again (digest) in one pass.
//!
//! Two stages run concurrently: this module's producer thread builds the tar stream into
//! fixed 1 MiB blocks and hashes them; the calling thread compresses and hashes the
//! result onto `out` (zstd with its own worker threads, gzip with `gzip.rs` workers).
//! Memory is bounded by the block channel, whatever the layer size.

use super::compress::Compression;
use super::entry::{normalize_dest, split_parent, Entry, EntryKind, FileSource, MAX_PATH_BYTES};
use super::{gzip, header};
use crate::digest::{Digest, HashingWriter};
use anyhow::{anyhow, bail, Context as _};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::mpsc::{sync_channel, SyncSender};

/// zstd level used for every zstd layer.
pub const ZSTD_LEVEL: i32 = 3;

/// zstd worker threads. Multithreaded zstd output is the same for any worker count >= 1
/// but differs from single-threaded mode, so it is always on and always this number.
pub const ZSTD_WORKERS: u32 = 2;

/// Blocks queued between the tar producer and the compressor.
const QUEUE_BLOCKS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerOptions {
    pub compression: Compression,
    /// SOURCE_DATE_EPOCH: every mtime is clamped to it.
    pub epoch: u64,
}

/// What a written layer is, for its descriptor and the image config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Digest of the blob as written (compressed).
    pub digest: Digest,
    pub size: u64,
    /// Digest of the uncompressed tar stream.
    pub diff_id: Digest,
    pub uncompressed_size: u64,
    pub media_type: &'static str,
}

/// Writes `entries` as one layer blob onto `out` and returns `out` with the layer's
/// digests. Entries are validated and sorted here (bytewise by tar name, so parents come
/// before children); duplicates, unnormalized paths, hard links to anything but an earlier
/// file of this layer, and files whose size changed since they were described are errors.
pub fn write_layer<W: Write + Send>(
    entries: Vec<Entry>,
    opts: &LayerOptions,
    out: W,
) -> anyhow::Result<(W, LayerInfo)> {
    let entries = prepare(entries)?;
    let epoch = opts.epoch;
    let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE_BLOCKS);
    std::thread::scope(|s| {
        let producer = s.spawn(move || produce(&entries, epoch, tx));
        let consumed = consume(opts.compression, rx, out);
        let produced = producer
            .join()
            .map_err(|_| anyhow!("the tar producer thread panicked"))?;
        // A failed producer explains a short stream better than the consumer can, unless
        // it failed only because the consumer (say, a full disk) stopped first.
        let (diff_id, uncompressed_size) = match produced {
            Ok(p) => p,
            Err(e) if is_consumer_gone(&e) && consumed.is_err() => {
                return Err(consumed.err().expect("consumer failed"))
            }
            Err(e) => return Err(e),
        };
        let (out, digest, size) = consumed?;
        Ok((
            out,
            LayerInfo {
                digest,
                size,
                diff_id,
                uncompressed_size,
                media_type: opts.compression.media_type(),
            },
        ))
    })
}

/// Checks every entry and returns them with their tar names, sorted.
fn prepare(entries: Vec<Entry>) -> anyhow::Result<Vec<(String, Entry)>> {
    let mut by_path: HashMap<&str, &EntryKind> = HashMap::with_capacity(entries.len());
    for e in &entries {
        check_entry(e).with_context(|| format!("layer entry {:?}", e.path))?;
        if e.kind == EntryKind::OpaqueWhiteout {
            continue;
        }
        if by_path.insert(&e.path, &e.kind).is_some() {
            bail!("layer entry {:?} appears twice", e.path);
        }
    }
    let mut opaque = std::collections::HashSet::new();
    for e in &entries {
        let (parent, _) = split_parent(&e.path);
        if e.kind == EntryKind::OpaqueWhiteout && !opaque.insert(&e.path) {
            bail!("layer entry {:?} has two opaque whiteouts", e.path);
        }
        match by_path.get(parent) {
            Some(EntryKind::Dir) | None => {}
            Some(_) => bail!(
                "layer entry {:?}: its parent {parent:?} is not a directory in this layer",
                e.path
            ),
        }
        if let EntryKind::OpaqueWhiteout = e.kind {
            if let Some(k) = by_path.get(e.path.as_str()) {
                if **k != EntryKind::Dir {
                    bail!(
                        "layer entry {:?}: opaque whiteout on a non-directory",
                        e.path
                    );
                }
            }
        }
        if let EntryKind::Hardlink { target } = &e.kind {
            match by_path.get(target.as_str()) {
                Some(EntryKind::File { .. }) if target.as_str() < e.path.as_str() => {}
                Some(EntryKind::File { .. }) => bail!(
                    "layer entry {:?}: hard link target {target:?} sorts after the link; \
                     link the first name to the others instead",
                    e.path
                ),
                _ => bail!(
                    "layer entry {:?}: hard link target {target:?} is not a file in this layer",
                    e.path
                ),
            }
        }
    }
    drop(by_path);
    let mut named: Vec<(String, Entry)> = entries
        .into_iter()
        .map(|e| (header::tar_name(&e), e))
        .collect();
    named.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(named)
}

fn check_entry(e: &Entry) -> anyhow::Result<()> {
    let norm = normalize_dest(&e.path)?;
    if norm != e.path {
        bail!("path is not normalized (expected {norm:?})");
    }
    if e.mode & !0o7777 != 0 {
        bail!("mode {:o} has bits beyond 0o7777", e.mode);
    }
    for k in e.xattrs.keys() {
        if k.is_empty() || k.contains(['=', '\0', '\n']) {
            bail!("xattr name {k:?} cannot be stored in a PAX record");
        }
    }
    match &e.kind {
        EntryKind::Symlink { target }
            if (target.is_empty() || target.contains('\0') || target.len() > MAX_PATH_BYTES) =>
        {
            bail!("symlink target {target:?} is empty, too long or contains NUL");
        }
        EntryKind::Hardlink { target }
            if normalize_dest(target).ok().as_deref() != Some(target.as_str()) =>
        {
            bail!("hard link target {target:?} is not a normalized layer path");
        }
        EntryKind::File {
            source: FileSource::Bytes(b),
            size,
        } if b.len() as u64 != *size => {
            bail!("declared size {size} but holds {} bytes", b.len());
        }
        _ => {}
    }
    Ok(())
}

/// The tar producer: writes every entry into fixed-size blocks sent to the compressor.
fn produce(
    entries: &[(String, Entry)],
    epoch: u64,
    tx: SyncSender<Vec<u8>>,
) -> anyhow::Result<(Digest, u64)> {
    let mut blocks = Blocks::new(tx);
    let mut hdr = Vec::with_capacity(4 * header::BLOCK);
    for (name, e) in entries {
        let ctx = || format!("writing layer entry {:?}", e.path);
        hdr.clear();
        let size = header::encode(e, name, epoch, &mut hdr).with_context(ctx)?;
        blocks.write(&hdr)?;
        if let EntryKind::File { source, .. } = &e.kind {
            match source {
                FileSource::Bytes(b) => blocks.write(b)?,
                FileSource::Host(p) => {
                    let mut f = File::options()
                        .read(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(p)
                        .with_context(|| format!("opening {}", p.display()))
                        .with_context(ctx)?;
                    let n = blocks.copy_from(&mut f, size).with_context(ctx)?;
                    let grew = f.read(&mut [0u8; 1]).with_context(ctx)? != 0;
                    if n != size || grew {
                        bail!(
                            "{}: {}: the file changed size while the layer was written \
                             (described as {size} bytes)",
                            ctx(),
                            p.display()
                        );
                    }
                }
            }
            blocks.write(&[0u8; header::BLOCK][..header::padding(size)])?;
        }
    }
    // End of archive: two zero blocks.
    blocks.write(&[0u8; 2 * header::BLOCK])?;
    blocks.finish()
}

/// The compressor side: reads blocks until the producer hangs up.
fn consume<W: Write>(
    c: Compression,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    out: W,
) -> anyhow::Result<(W, Digest, u64)> {
    let mut hashed = HashingWriter::new(out);
    match c {
        Compression::None => {
            for block in rx.iter() {
                hashed.write_all(&block).context("writing the layer blob")?;
            }
        }
        Compression::Gzip => {
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
            gzip::compress(rx, workers, &mut hashed).context("writing the gzip layer blob")?;
        }
        Compression::Zstd => {
            let mut enc =
                zstd::stream::write::Encoder::new(hashed, ZSTD_LEVEL).context("starting zstd")?;
            enc.multithread(ZSTD_WORKERS)
                .context("starting zstd workers")?;
            enc.include_checksum(false)?;
            enc.include_contentsize(false)?;
            enc.include_dictid(false)?;
            enc.long_distance_matching(false)?;
            for block in rx.iter() {
                enc.write_all(&block)
                    .context("writing the zstd layer blob")?;
            }
            hashed = enc.finish().context("finishing the zstd layer blob")?;
        }
    }
    hashed.flush().context("flushing the layer blob")?;
    Ok(hashed.finish())
}

const CONSUMER_GONE: &str = "the layer compressor stopped";

fn is_consumer_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.to_string() == CONSUMER_GONE)
}

/// Fixed-size blocks of the tar stream, hashed (diff_id) as they are sent.
struct Blocks {
    buf: Vec<u8>,
    pos: usize,
    tx: SyncSender<Vec<u8>>,
    hasher: Sha256,
    total: u64,
}

impl Blocks {
    fn new(tx: SyncSender<Vec<u8>>) -> Self {
        Blocks {
            buf: vec![0; gzip::BLOCK_SIZE],
            pos: 0,
            tx,
            hasher: Sha256::new(),
            total: 0,
        }
    }

    fn write(&mut self, mut data: &[u8]) -> anyhow::Result<()> {
        while !data.is_empty() {
            let n = data.len().min(self.buf.len() - self.pos);
            self.buf[self.pos..self.pos + n].copy_from_slice(&data[..n]);
            self.pos += n;
            data = &data[n..];
            self.send_if_full()?;
        }
        Ok(())
    }

    /// Streams up to `len` bytes of `r` straight into the blocks; returns how many came.
    fn copy_from(&mut self, r: &mut impl Read, len: u64) -> anyhow::Result<u64> {
        let mut left = len;
        while left > 0 {
            let room = (self.buf.len() - self.pos).min(left.min(usize::MAX as u64) as usize);
            let n = match r.read(&mut self.buf[self.pos..self.pos + room]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            self.pos += n;
            left -= n as u64;
            self.send_if_full()?;
        }
        Ok(len - left)
    }

    fn send_if_full(&mut self) -> anyhow::Result<()> {
        if self.pos == self.buf.len() {
            let full = std::mem::replace(&mut self.buf, vec![0; gzip::BLOCK_SIZE]);
            self.send(full)?;
        }
        Ok(())
    }

    fn send(&mut self, block: Vec<u8>) -> anyhow::Result<()> {
        self.hasher.update(&block);
        self.total += block.len() as u64;
        self.pos = 0;
        self.tx.send(block).map_err(|_| anyhow!(CONSUMER_GONE))
    }

    fn finish(mut self) -> anyhow::Result<(Digest, u64)> {
        if self.pos > 0 {
            let mut last = std::mem::take(&mut self.buf);
            last.truncate(self.pos);
            self.send(last)?;
        }
        Ok((Digest::from_hasher(self.hasher), self.total))
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
