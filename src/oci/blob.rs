//! Writing a blob (temp file, hash while writing, fsync, rename, fsync dir) and reading one
//! back with its digest and size verified at end of stream.

use crate::digest::{Digest, HashingReader, HashingWriter};
use crate::oci::DigestMismatch;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// A blob being written. Bytes go to a temp file in the layout's blob directory and are
/// hashed as they pass; `complete()` moves the file to `blobs/sha256/<hex>`.
pub struct BlobWriter {
    tmp: tempfile::NamedTempFile,
    out: HashingWriter<BufWriter<File>>,
    blob_dir: PathBuf,
}

impl BlobWriter {
    pub(crate) fn new(blob_dir: &Path) -> io::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-blob-")
            .tempfile_in(blob_dir)?;
        let file = tmp.reopen()?;
        Ok(BlobWriter {
            tmp,
            out: HashingWriter::new(BufWriter::with_capacity(1 << 20, file)),
            blob_dir: blob_dir.to_path_buf(),
        })
    }

    /// Finishes the blob: flush, fsync, rename into place, fsync the directory.
    /// Returns the digest and size. An existing blob with that digest is kept as it is.
    pub fn complete(self) -> io::Result<(Digest, u64)> {
        let (buf, digest, size) = self.out.finish();
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        let dest = self.blob_dir.join(digest.hex());
        if dest.exists() {
            // Same name means same content; dropping the temp file removes it.
            return Ok((digest, size));
        }
        set_read_only(self.tmp.path())?;
        crate::failpoint::hit("blob.persist");
        self.tmp.persist(&dest).map_err(|e| e.error)?;
        crate::failpoint::hit("blob.persisted");
        File::open(&self.blob_dir)?.sync_all()?;
        Ok((digest, size))
    }
}

fn set_read_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::failpoint::hit("blob.write");
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads a blob and fails at end of stream (or when it runs past its size) if the bytes
/// do not match the expected digest and size. Callers must read to the end.
pub struct VerifiedReader<R> {
    inner: Option<HashingReader<R>>,
    expected: Digest,
    expected_size: Option<u64>,
    read: u64,
}

impl<R: Read> VerifiedReader<R> {
    pub fn new(inner: R, expected: Digest, expected_size: Option<u64>) -> Self {
        VerifiedReader {
            inner: Some(HashingReader::new(inner)),
            expected,
            expected_size,
            read: 0,
        }
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        let n = inner.read(buf)?;
        self.read += n as u64;
        if let Some(size) = self.expected_size {
            if self.read > size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is larger than its descriptor's size {size}",
                        self.expected
                    ),
                ));
            }
        }
        if n == 0 && !buf.is_empty() {
            let (actual, size) = self.inner.take().expect("checked above").finish();
            if actual != self.expected || self.expected_size.is_some_and(|s| s != size) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    DigestMismatch {
                        expected: self.expected.clone(),
                        actual,
                        size,
                    },
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_reader_accepts_good_and_rejects_bad() {
        let good = Digest::of_bytes(b"hello");
        let mut out = Vec::new();
        VerifiedReader::new(&b"hello"[..], good.clone(), Some(5))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        let err = VerifiedReader::new(&b"hellp"[..], good.clone(), Some(5))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        let err = VerifiedReader::new(&b"hello!"[..], good, Some(5))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("larger"), "{err}");
    }
}
