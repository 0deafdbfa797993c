//! `OciDir`: one handle on an OCI image layout directory (`oci-layout`, `index.json`,
//! `blobs/sha256/`). Tags are `org.opencontainers.image.ref.name` annotations on the
//! index's descriptors; `index.json` is replaced atomically under an exclusive lock.

use crate::digest::Digest;
use crate::oci::{canonical::to_canonical_json, BlobWriter, DigestMismatch, VerifiedReader};
use anyhow::{anyhow, Context, Result};
use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder, MediaType};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// The annotation that names a tag in an image layout's index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciDir {
    root: PathBuf,
}

impl OciDir {
    /// Opens an existing layout; fails if `oci-layout` is missing or of another version.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let marker = root.join(LAYOUT_FILE);
        let text = fs::read_to_string(&marker).map_err(|e| {
            crate::error::input(format!(
                "{} is not an OCI image layout (reading {}: {e})",
                root.display(),
                marker.display()
            ))
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", marker.display()))?;
        if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
            return Err(crate::error::input(format!(
                "{}: unsupported imageLayoutVersion (expected 1.0.0)",
                marker.display()
            )));
        }
        Ok(OciDir { root })
    }

    /// Opens the layout, creating an empty one first if the directory has none.
    pub fn open_or_create(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        if root.join(LAYOUT_FILE).exists() {
            return Self::open(root);
        }
        fs::create_dir_all(root.join("blobs/sha256"))
            .with_context(|| format!("creating OCI layout at {}", root.display()))?;
        let dir = OciDir {
            root: root.to_path_buf(),
        };
        if !root.join("index.json").exists() {
            dir.write_index(&empty_index())?;
        }
        write_atomic(&root.join(LAYOUT_FILE), LAYOUT_CONTENT.as_bytes())?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blob_dir().join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Starts a new blob; write to it, then call `complete()`.
    pub fn create_blob(&self) -> Result<BlobWriter> {
        fs::create_dir_all(self.blob_dir())?;
        BlobWriter::new(&self.blob_dir())
            .with_context(|| format!("creating a blob in {}", self.root.display()))
    }

    /// Writes bytes as a blob and returns its digest and size.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<(Digest, u64)> {
        let d = Digest::of_bytes(bytes);
        if self.has_blob(&d) {
            return Ok((d, bytes.len() as u64));
        }
        let mut w = self.create_blob()?;
        w.write_all(bytes)?;
        Ok(w.complete()?)
    }

    /// Writes a value as canonical JSON and returns a descriptor with the given media type.
    pub fn write_json<T: Serialize>(&self, value: &T, media_type: MediaType) -> Result<Descriptor> {
        let bytes = to_canonical_json(value)?;
        let (digest, size) = self.write_blob(&bytes)?;
        Ok(Descriptor::new(media_type, size, digest.to_oci()))
    }

    /// Opens a blob for streaming; the reader fails at the end if digest or size differ.
    pub fn open_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<VerifiedReader<BufReader<File>>> {
        let path = self.blob_path(digest);
        let f = File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                crate::error::input(format!(
                    "blob {digest} is missing from {}",
                    self.root.display()
                ))
            } else {
                anyhow!(e).context(format!("opening {}", path.display()))
            }
        })?;
        Ok(VerifiedReader::new(
            BufReader::with_capacity(1 << 20, f),
            digest.clone(),
            size,
        ))
    }

    /// Reads a whole (small) blob, verified.
    pub fn read_blob(&self, digest: &Digest, size: Option<u64>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_blob(digest, size)?
            .read_to_end(&mut out)
            .map_err(|e| blob_io_error(e, format!("reading blob {digest}")))?;
        Ok(out)
    }

    /// Reads and parses the JSON blob a descriptor points to, verified.
    pub fn read_json<T: DeserializeOwned>(&self, desc: &Descriptor) -> Result<T> {
        let digest = Digest::try_from(desc.digest())?;
        let bytes = self.read_blob(&digest, Some(desc.size()))?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "blob {digest} ({}) is not valid JSON of the expected kind",
                desc.media_type()
            )
        })
    }

    pub fn index(&self) -> Result<ImageIndex> {
        let bytes = self.index_bytes()?;
        serde_json::from_slice(&bytes).map_err(|e| self.invalid_index(e))
    }

    fn index_bytes(&self) -> Result<Vec<u8>> {
        let path = self.root.join("index.json");
        fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }

    fn invalid_index(&self, e: serde_json::Error) -> anyhow::Error {
        let path = self.root.join("index.json");
        crate::error::input(format!("{}: invalid index: {e}", path.display()))
    }

    fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let bytes = to_canonical_json(index)?;
        write_atomic(&self.root.join("index.json"), &bytes)
    }

    /// Runs `f` on the index under an exclusive lock and writes the result atomically.
    pub fn update_index<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&mut Vec<Descriptor>) -> Result<()>,
    {
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(".lock"))?;
        lock.lock()?;
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        f(&mut manifests)?;
        index.set_manifests(manifests);
        self.write_index(&index)
    }

    /// Points tag `name` at `desc`, replacing what the tag named before.
    pub fn set_tag(&self, name: &str, desc: &Descriptor) -> Result<()> {
        let mut tagged = desc.clone();
        let mut ann = tagged.annotations().clone().unwrap_or_default();
        ann.insert(REF_NAME.to_string(), name.to_string());
        tagged.set_annotations(Some(ann));
        self.update_index(|m| {
            m.retain(|d| ref_name(d) != Some(name));
            m.push(tagged);
            m.sort_by(|a, b| ref_name(a).cmp(&ref_name(b)));
            Ok(())
        })
    }

    /// Removes a tag; returns whether it existed.
    pub fn remove_tag(&self, name: &str) -> Result<bool> {
        let mut found = false;
        self.update_index(|m| {
            let before = m.len();
            m.retain(|d| ref_name(d) != Some(name));
            found = m.len() != before;
            Ok(())
        })?;
        Ok(found)
    }

    /// The descriptor a tag names, if any (only that descriptor is parsed: `oci::tags`).
    pub fn resolve_tag(&self, name: &str) -> Result<Option<Descriptor>> {
        super::tags::find(&self.index_bytes()?, name).map_err(|e| self.invalid_index(e))
    }

    /// All tags with their descriptors, sorted by tag.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        super::tags::all(&self.index_bytes()?).map_err(|e| self.invalid_index(e))
    }

    /// All tags, sorted, without their descriptors.
    pub fn tag_names(&self) -> Result<Vec<String>> {
        super::tags::names(&self.index_bytes()?).map_err(|e| self.invalid_index(e))
    }

    /// Copies a blob from another layout, verifying it; a blob already present is kept.
    /// Uses a hard link when both layouts are on one filesystem (blobs are immutable).
    pub fn copy_blob_from(&self, src: &OciDir, digest: &Digest, size: Option<u64>) -> Result<()> {
        if self.has_blob(digest) {
            return Ok(());
        }
        let mut reader = src.open_blob(digest, size)?;
        let mut w = self.create_blob()?;
        std::io::copy(&mut reader, &mut w)
            .map_err(|e| blob_io_error(e, format!("copying blob {digest}")))?;
        w.complete()?;
        Ok(())
    }

    /// Links (or copies) a blob we trust from another layout without re-hashing it: used
    /// to export blobs from our own store, where every blob was verified when written.
    pub fn link_blob_from(&self, src: &OciDir, digest: &Digest) -> Result<()> {
        let dest = self.blob_path(digest);
        if dest.exists() {
            return Ok(());
        }
        fs::create_dir_all(self.blob_dir())?;
        let from = src.blob_path(digest);
        if fs::hard_link(&from, &dest).is_err() {
            let tmp = self.blob_dir().join(format!(".tmp-copy-{}", digest.hex()));
            fs::copy(&from, &tmp)
                .with_context(|| format!("copying blob {digest} from {}", src.root.display()))?;
            File::open(&tmp)?.sync_all()?;
            crate::failpoint::hit("blob.link");
            fs::rename(&tmp, &dest)?;
        }
        Ok(())
    }
}

/// Turns an I/O error from a `VerifiedReader` into an error the caller can classify: a
/// digest mismatch it carried comes out as itself (bad input); any other I/O error keeps
/// its kind and message (an environment failure), with `what` as context.
fn blob_io_error(e: std::io::Error, what: String) -> anyhow::Error {
    if e.get_ref()
        .is_some_and(|inner| inner.is::<DigestMismatch>())
    {
        if let Some(Ok(m)) = e.into_inner().map(|i| i.downcast::<DigestMismatch>()) {
            return anyhow::Error::from(*m);
        }
        unreachable!("checked to hold a DigestMismatch");
    }
    anyhow::Error::from(e).context(what)
}

pub(crate) fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()
        .and_then(|a: &HashMap<String, String>| a.get(REF_NAME))
        .map(String::as_str)
}

fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::<Descriptor>::new())
        .build()
        .expect("all required fields are set")
}

/// Writes a file atomically: temp file in the same directory, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// [`write_atomic`] with the file's permission bits (`pins check --fix` keeps a file's own).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))?;
    crate::failpoint::hit("atomic.persist");
    tmp.persist(path).map_err(|e| e.error)?;
    crate::failpoint::hit("atomic.persisted");
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_tags_replace() {
        let t = tempfile::tempdir().unwrap();
        let dir = OciDir::open_or_create(t.path().join("store")).unwrap();
        let (d, n) = dir.write_blob(b"{}").unwrap();
        assert_eq!(n, 2);
        assert_eq!(dir.read_blob(&d, Some(2)).unwrap(), b"{}");
        let desc = Descriptor::new(MediaType::ImageManifest, n, d.to_oci());
        dir.set_tag("a:1", &desc).unwrap();
        dir.set_tag("a:1", &desc).unwrap();
        dir.set_tag("b:1", &desc).unwrap();
        assert_eq!(dir.tags().unwrap().len(), 2);
        assert!(dir.resolve_tag("a:1").unwrap().is_some());
        assert!(dir.remove_tag("a:1").unwrap());
        assert!(dir.resolve_tag("a:1").unwrap().is_none());
        // Reopening sees the same state.
        let again = OciDir::open(t.path().join("store")).unwrap();
        assert_eq!(again.tags().unwrap().len(), 1);
    }

    #[test]
    fn corrupt_blob_is_an_error_not_a_warning() {
        let t = tempfile::tempdir().unwrap();
        let dir = OciDir::open_or_create(t.path()).unwrap();
        let (d, _) = dir.write_blob(b"original").unwrap();
        let p = dir.blob_path(&d);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&p, b"tampered").unwrap();
        let err = dir.read_blob(&d, None).unwrap_err();
        assert!(err.downcast_ref::<DigestMismatch>().is_some(), "{err:#}");
        assert_eq!(crate::error::exit_code(&err), 2);
    }

    #[test]
    fn other_read_errors_keep_their_cause() {
        let t = tempfile::tempdir().unwrap();
        let dir = OciDir::open_or_create(t.path()).unwrap();
        let d = Digest::of_bytes(b"never written");
        // A directory where the blob should be: reading fails with EISDIR, not a mismatch.
        fs::create_dir(dir.blob_path(&d)).unwrap();
        let err = dir.read_blob(&d, None).unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!("reading blob {d}")),
            "{err:#}"
        );
        assert!(err
            .chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some()));
        assert_eq!(crate::error::exit_code(&err), 3);
    }

    #[test]
    fn open_refuses_non_layout() {
        let t = tempfile::tempdir().unwrap();
        let err = OciDir::open(t.path()).unwrap_err();
        assert!(format!("{err:#}").contains("not an OCI image layout"));
    }
}
