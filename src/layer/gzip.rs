//! Deterministic, block-parallel gzip (pigz-style).
//!
//! The uncompressed stream is cut into fixed 1 MiB blocks; each block is deflated on its
//! own (miniz_oxide, level 1, no shared dictionary) and ends with a sync flush, so the
//! compressed blocks concatenate into one valid deflate stream, closed by an empty final
//! block. The output depends only on the input bytes, the block size, the level and the
//! miniz_oxide version — never on the number of threads or the machine.
//!
//! miniz_oxide is called directly rather than through flate2 because flate2 picks its
//! backend by cargo feature unification: any crate in the graph enabling `flate2/zlib-rs`
//! would silently change our bytes. A golden digest test in `writer.rs` guards the rest.

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

/// Size of the independently compressed blocks; part of the output format, never change
/// it without changing the golden digests on purpose.
pub(crate) const BLOCK_SIZE: usize = 1 << 20;

/// Deflate level 1: measured fastest with a ratio close to `gzip -1` (see the module
/// report in `writer.rs`).
const LEVEL: i32 = 1;

/// Magic, deflate, no flags, mtime 0, no extra flags, OS 255 ("unknown": the host is none
/// of the reader's business).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// An empty final fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block).
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

struct Deflater(Box<CompressorOxide>);

impl Deflater {
    fn new() -> Self {
        // Negative window bits: raw deflate, we write the gzip framing ourselves.
        let flags = create_comp_flags_from_zip_params(LEVEL, -15, 0);
        Deflater(Box::new(CompressorOxide::new(flags)))
    }

    /// Deflates one block into non-final deflate blocks ending on a byte boundary.
    fn block(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        self.0.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let (status, consumed) = compress_to_output(&mut self.0, data, TDEFLFlush::Sync, |b| {
            out.extend_from_slice(b);
            true
        });
        if status != TDEFLStatus::Okay || consumed != data.len() {
            return Err(io::Error::other(format!(
                "deflate failed: {status:?} after {consumed} of {} bytes",
                data.len()
            )));
        }
        Ok(out)
    }
}

struct Done {
    seq: u64,
    deflated: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
}

/// Gzips the blocks received from `blocks` (each exactly [`BLOCK_SIZE`] bytes except the
/// last) onto `out`, deflating on `workers` threads. Returns the uncompressed length.
pub(crate) fn compress<W: Write>(
    blocks: Receiver<Vec<u8>>,
    workers: usize,
    out: &mut W,
) -> io::Result<u64> {
    let workers = workers.max(1);
    // Credits bound the blocks in flight (queued, deflating or waiting to be written in
    // order), so memory stays bounded however unevenly the workers progress.
    let in_flight = 2 * workers + 2;
    std::thread::scope(|s| {
        let (job_tx, job_rx) = sync_channel::<(u64, Vec<u8>)>(workers);
        let (done_tx, done_rx) = sync_channel::<io::Result<Done>>(in_flight);
        let (credit_tx, credit_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            credit_tx.send(()).expect("credit channel has room");
        }
        s.spawn(move || {
            for (seq, block) in (0u64..).zip(blocks.iter()) {
                debug_assert!(block.len() <= BLOCK_SIZE);
                if credit_rx.recv().is_err() || job_tx.send((seq, block)).is_err() {
                    return;
                }
            }
        });
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let job_rx = Arc::clone(&job_rx);
            s.spawn(move || {
                let mut d = Deflater::new();
                loop {
                    let job = job_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((seq, block)) = job else { return };
                    let mut crc = crc32fast::Hasher::new();
                    crc.update(&block);
                    let len = block.len() as u64;
                    let done = d.block(&block).map(|deflated| Done {
                        seq,
                        deflated,
                        crc,
                        len,
                    });
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);

        out.write_all(&HEADER)?;
        let mut crc = crc32fast::Hasher::new();
        let mut len = 0u64;
        let mut next = 0u64;
        let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
        for done in done_rx.iter() {
            let done = done?;
            waiting.insert(done.seq, done);
            while let Some(d) = waiting.remove(&next) {
                out.write_all(&d.deflated)?;
                len += d.len;
                crc.combine(&d.crc);
                next += 1;
                // The feeder may have stopped; a lost credit only matters to it.
                let _ = credit_tx.send(());
            }
        }
        debug_assert!(waiting.is_empty());
        out.write_all(&FINAL_BLOCK)?;
        out.write_all(&crc.finalize().to_le_bytes())?;
        // ISIZE is the length modulo 2^32 (RFC 1952).
        out.write_all(&(len as u32).to_le_bytes())?;
        Ok(len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip_with(data: &[u8], workers: usize) -> Vec<u8> {
        let (tx, rx) = sync_channel(2);
        let chunks: Vec<Vec<u8>> = data.chunks(BLOCK_SIZE).map(|c| c.to_vec()).collect();
        let feeder = std::thread::spawn(move || {
            for c in chunks {
                tx.send(c).unwrap();
            }
        });
        let mut out = Vec::new();
        let n = compress(rx, workers, &mut out).unwrap();
        feeder.join().unwrap();
        assert_eq!(n, data.len() as u64);
        out
    }

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter mixed into text.
        let mut v = Vec::with_capacity(len);
        let mut i = 0u32;
        while v.len() < len {
            v.extend_from_slice(
                format!("line {i} of the sample {}\n", i.wrapping_mul(2654435761)).as_bytes(),
            );
            i += 1;
        }
        v.truncate(len);
        v
    }

    #[test]
    fn output_is_independent_of_worker_count_and_decodes() {
        let data = sample(3 * BLOCK_SIZE + 12345);
        let one = gzip_with(&data, 1);
        for w in [2, 3, 5] {
            assert_eq!(gzip_with(&data, w), one, "{w} workers");
        }
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&one[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert_eq!(&one[..10], &HEADER);
    }

    #[test]
    fn empty_input_is_a_valid_gzip() {
        let out = gzip_with(&[], 2);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn system_gzip_accepts_it() {
        let data = sample(BLOCK_SIZE + 7);
        let gz = gzip_with(&data, 2);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        std::fs::write(&p, &gz).unwrap();
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, data);
    }
}
