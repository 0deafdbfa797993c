//! Artifacts attached to an image: manifests with an `artifactType`, the empty config and
//! their content as layers, whose `subject` is the image. Where the registry indexes
//! subjects itself (it answers `OCI-Subject`), that is all; elsewhere (Docker
//! distribution 2.8, image layouts) the OCI 1.1 tag-schema fallback applies: an image
//! index tagged `sha256-<subject hex>` lists the referrers, updated by read, merge, put
//! and read-back until it holds ours.

use super::{Catalog, RawManifest};
use crate::digest::Digest;
use crate::oci::{to_canonical_json, OciDir, VerifiedReader};
use anyhow::{Context, Result};
use oci_spec::image::{
    Descriptor, ImageIndex, ImageIndexBuilder, ImageManifest, ImageManifestBuilder, MediaType,
};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;

/// The fallback tag of a subject is this prefix and its hex digest.
pub const FALLBACK_TAG_PREFIX: &str = "sha256-";

const EMPTY_JSON: &[u8] = b"{}";

/// Where a blob's bytes come from when it is pushed.
#[derive(Debug, Clone)]
pub enum BlobData {
    Bytes(Vec<u8>),
    /// A file, e.g. a qcow2 disk.
    File(PathBuf),
    /// A blob of an OCI layout (the build store).
    Layout(OciDir),
}

impl BlobData {
    /// Opens the bytes for streaming; the reader fails at the end unless they match.
    pub fn open(&self, digest: &Digest, size: u64) -> Result<Box<dyn Read + Send + '_>> {
        Ok(match self {
            BlobData::Bytes(b) => Box::new(VerifiedReader::new(&b[..], digest.clone(), Some(size))),
            BlobData::File(p) => {
                let f =
                    std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
                Box::new(VerifiedReader::new(
                    std::io::BufReader::with_capacity(1 << 20, f),
                    digest.clone(),
                    Some(size),
                ))
            }
            BlobData::Layout(dir) => Box::new(dir.open_blob(digest, Some(size))?),
        })
    }
}

/// One blob of an artifact with where its bytes are.
#[derive(Debug, Clone)]
pub struct ArtifactLayer {
    pub descriptor: Descriptor,
    pub data: BlobData,
}

impl ArtifactLayer {
    /// A layer of `bytes` with `media_type`, titled `title` (the file name a puller uses).
    pub fn bytes(media_type: &str, bytes: Vec<u8>, title: Option<&str>) -> Self {
        let d = Digest::of_bytes(&bytes);
        let mut descriptor =
            Descriptor::new(MediaType::from(media_type), bytes.len() as u64, d.to_oci());
        if let Some(t) = title {
            descriptor.set_annotations(Some(HashMap::from([(
                "org.opencontainers.image.title".to_string(),
                t.to_string(),
            )])));
        }
        ArtifactLayer {
            descriptor,
            data: BlobData::Bytes(bytes),
        }
    }

    /// A layer read from a file (hashed once here, and verified again as it is pushed).
    pub fn file(media_type: &str, path: &std::path::Path) -> Result<Self> {
        let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut r =
            crate::digest::HashingReader::new(std::io::BufReader::with_capacity(1 << 20, f));
        std::io::copy(&mut r, &mut std::io::sink())?;
        let (d, size) = r.finish();
        let mut descriptor = Descriptor::new(MediaType::from(media_type), size, d.to_oci());
        if let Some(name) = path.file_name() {
            descriptor.set_annotations(Some(HashMap::from([(
                "org.opencontainers.image.title".to_string(),
                name.to_string_lossy().into_owned(),
            )])));
        }
        Ok(ArtifactLayer {
            descriptor,
            data: BlobData::File(path.to_path_buf()),
        })
    }
}

/// An artifact ready to push: its manifest's exact bytes and every blob it names.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub artifact_type: String,
    pub manifest: RawManifest,
    pub blobs: Vec<ArtifactLayer>,
}

impl Artifact {
    /// Builds an artifact manifest: `artifactType`, the empty config, `layers`, the
    /// `subject` (when it is about an image) and annotations, as canonical JSON (the same input gives the same digest).
    pub fn new(
        artifact_type: &str,
        subject: Option<&Descriptor>,
        layers: Vec<ArtifactLayer>,
        annotations: BTreeMap<String, String>,
    ) -> Result<Self> {
        let empty = ArtifactLayer::bytes(
            "application/vnd.oci.empty.v1+json",
            EMPTY_JSON.to_vec(),
            None,
        );
        let mut config = empty.descriptor.clone();
        config.set_media_type(MediaType::EmptyJSON);
        config.set_data(Some("e30=".into()));
        let mut b = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .artifact_type(MediaType::from(artifact_type))
            .config(config)
            .layers(
                layers
                    .iter()
                    .map(|l| l.descriptor.clone())
                    .collect::<Vec<_>>(),
            );
        if let Some(s) = subject {
            // Only what a descriptor must say: the subject's own annotations stay with it.
            b = b.subject(Descriptor::new(
                s.media_type().clone(),
                s.size(),
                s.digest().clone(),
            ));
        }
        if !annotations.is_empty() {
            b = b.annotations(annotations.into_iter().collect::<HashMap<_, _>>());
        }
        let manifest = b.build().context("building an artifact manifest")?;
        let bytes = to_canonical_json(&manifest)?;
        let mut blobs = vec![empty];
        blobs.extend(layers);
        Ok(Artifact {
            artifact_type: artifact_type.to_string(),
            manifest: RawManifest::new(MediaType::ImageManifest.to_string(), bytes),
            blobs,
        })
    }

    /// An artifact already in an OCI layout (a stored contract report), copied byte for
    /// byte so its digest stays the same.
    pub fn from_layout(dir: &OciDir, desc: &Descriptor) -> Result<Self> {
        let digest = Digest::try_from(desc.digest())?;
        let bytes = dir.read_blob(&digest, Some(desc.size()))?;
        let m: ImageManifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("artifact manifest {digest} does not parse"))?;
        let artifact_type = m
            .artifact_type()
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| m.config().media_type().to_string());
        let mut blobs = Vec::new();
        for d in std::iter::once(m.config()).chain(m.layers().iter()) {
            blobs.push(ArtifactLayer {
                descriptor: d.clone(),
                data: BlobData::Layout(dir.clone()),
            });
        }
        Ok(Artifact {
            artifact_type,
            manifest: RawManifest::new(MediaType::ImageManifest.to_string(), bytes),
            blobs,
        })
    }

    /// The descriptor a referrers index lists for this artifact.
    pub fn descriptor(&self) -> Result<Descriptor> {
        let m: ImageManifest = self.manifest.parse()?;
        let mut d = self.manifest.descriptor();
        d.set_artifact_type(Some(MediaType::from(self.artifact_type.as_str())));
        d.set_annotations(m.annotations().clone());
        Ok(d)
    }
}

/// The fallback tag of `subject`: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("{FALLBACK_TAG_PREFIX}{}", subject.hex())
}

/// Pushes the blobs `repo` lacks (asking first), verifying every byte.
pub(crate) fn push_missing<C: Catalog + ?Sized>(
    c: &C,
    repo: &str,
    blobs: &[(Digest, u64, BlobData)],
) -> Result<u64> {
    let mut pushed = 0;
    for (d, size, data) in blobs {
        if !c.has_blob(repo, d)? {
            c.push_blob(repo, d, *size, data)
                .with_context(|| format!("pushing blob {d}"))?;
            pushed += size;
        }
    }
    Ok(pushed)
}

pub(crate) fn attach<C: Catalog + ?Sized>(
    c: &C,
    repo: &str,
    subject: &Descriptor,
    artifacts: &[Artifact],
) -> Result<Vec<Descriptor>> {
    let subject_digest = Digest::try_from(subject.digest())?;
    let mut descs = Vec::new();
    let mut need_fallback = false;
    for a in artifacts {
        let blobs: Vec<_> = a
            .blobs
            .iter()
            .map(|l| {
                Ok((
                    Digest::try_from(l.descriptor.digest())?,
                    l.descriptor.size(),
                    l.data.clone(),
                ))
            })
            .collect::<Result<_>>()?;
        push_missing(c, repo, &blobs)?;
        let put = c.put_manifest(repo, &a.manifest.digest.to_string(), &a.manifest)?;
        need_fallback |= !put.subject_indexed;
        descs.push(a.descriptor()?);
    }
    if need_fallback {
        add_to_fallback(c, repo, &subject_digest, &descs)?;
    }
    Ok(descs)
}

/// Adds `descs` to the subject's fallback index. Distribution ignores `If-Match`, so this
/// reads, merges, puts and reads back until the index holds every one of ours; a writer
/// that raced us and dropped ours is repaired by the next round.
fn add_to_fallback<C: Catalog + ?Sized>(
    c: &C,
    repo: &str,
    subject: &Digest,
    descs: &[Descriptor],
) -> Result<()> {
    let tag = fallback_tag(subject);
    for _round in 0..20 {
        let current = read_index(c, repo, &tag)?;
        let missing: Vec<&Descriptor> = descs
            .iter()
            .filter(|d| !current.iter().any(|e| e.digest() == d.digest()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut entries = current;
        entries.extend(missing.into_iter().cloned());
        // Sorted by digest: the same set of referrers is the same index, byte for byte.
        entries.sort_by_key(|a| a.digest().to_string());
        entries.dedup_by(|a, b| a.digest() == b.digest());
        let index: ImageIndex = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(entries)
            .build()
            .context("building the referrers index")?;
        let m = RawManifest::new(
            MediaType::ImageIndex.to_string(),
            to_canonical_json(&index)?,
        );
        c.put_manifest(repo, &tag, &m)?;
    }
    Err(crate::error::environment(format!(
        "could not record the referrers of {subject} under tag {tag}: other writers kept replacing it"
    )))
}

fn read_index<C: Catalog + ?Sized>(c: &C, repo: &str, tag: &str) -> Result<Vec<Descriptor>> {
    match c.get_manifest(repo, tag)? {
        None => Ok(Vec::new()),
        Some(m) => {
            let index: ImageIndex = m.parse()?;
            Ok(index.manifests().clone())
        }
    }
}

pub(crate) fn referrers<C: Catalog + ?Sized>(
    c: &C,
    repo: &str,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<Descriptor>> {
    let all = match c.referrers_api(repo, subject)? {
        Some(v) => v,
        None => read_index(c, repo, &fallback_tag(subject))?,
    };
    Ok(all
        .into_iter()
        .filter(|d| {
            artifact_type.is_none_or(|t| {
                d.artifact_type()
                    .as_ref()
                    .map(ToString::to_string)
                    .as_deref()
                    == Some(t)
            })
        })
        .collect())
}

/// Reads an artifact's one layer of `media_type` (small), verified.
pub fn read_artifact_layer<C: Catalog + ?Sized>(
    c: &C,
    repo: &str,
    artifact: &Digest,
) -> Result<(ImageManifest, Vec<u8>)> {
    let m = c
        .get_manifest(repo, &artifact.to_string())?
        .ok_or_else(|| crate::error::input(format!("artifact {artifact} is not in {repo}")))?;
    let manifest: ImageManifest = m.parse()?;
    let layer = manifest
        .layers()
        .first()
        .ok_or_else(|| crate::error::input(format!("artifact {artifact} has no layer")))?;
    let d = Digest::try_from(layer.digest())?;
    let bytes = c.read_blob(repo, &d, layer.size())?;
    Ok((manifest, bytes))
}
