//! Getting a resolved base into the store: from the store itself when it holds the
//! digest (no request at all), else manifest, config and layers from the registry, each
//! verified, written untagged with the manifest last (so a stored manifest means a
//! complete image).

use super::manifest::{self, Document, Platform};
use super::Source;
use crate::digest::Digest;
use crate::oci::{OciDir, StoredImage};
use crate::registry::{Client, MANIFEST_LIMIT};
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageConfiguration, MediaType};

/// A manifest digest picked for a reference, and the index it was picked from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub digest: Digest,
    /// The index's digest and bytes (kept in the store beside the image).
    pub index: Option<(Digest, Vec<u8>)>,
}

/// A stored manifest or index, read back (bounded) and parsed; `None` when not stored.
pub fn stored(store: &OciDir, d: &Digest) -> Result<Option<(Document, String, Vec<u8>)>> {
    if !store.has_blob(d) {
        return Ok(None);
    }
    let size = std::fs::metadata(store.blob_path(d))?.len();
    if size > MANIFEST_LIMIT {
        return Err(crate::error::input(format!(
            "{d} in the store is {size} bytes: not a manifest"
        )));
    }
    let bytes = store.read_blob(d, Some(size))?;
    let (doc, mt) = manifest::parse(&bytes, None, &format!("stored manifest {d}"))?;
    Ok(Some((doc, mt, bytes)))
}

/// The stored image `d` names (through a stored index when `d` is one), if complete.
pub fn from_store(store: &OciDir, d: &Digest) -> Result<Option<(StoredImage, Option<Digest>)>> {
    match stored(store, d)? {
        None => Ok(None),
        Some((Document::Image(_), mt, bytes)) => {
            Ok(Some((stored_image(store, d, &mt, &bytes)?, None)))
        }
        Some((Document::Index(i), _, _)) => {
            let child = manifest::select(&i, &Platform::host(), &format!("index {d}"))?;
            let child = Digest::try_from(child.digest())?;
            Ok(match stored(store, &child)? {
                Some((Document::Image(_), mt, bytes)) => {
                    Some((stored_image(store, &child, &mt, &bytes)?, Some(d.clone())))
                }
                _ => None,
            })
        }
    }
}

fn stored_image(store: &OciDir, d: &Digest, media_type: &str, bytes: &[u8]) -> Result<StoredImage> {
    let desc = Descriptor::new(MediaType::from(media_type), bytes.len() as u64, d.to_oci());
    store.image(&desc)
}

/// What digest `reference` (a tag or a digest) names in the registry: the manifest for
/// this machine's platform, through the index when it names one.
pub fn resolve(client: &Client, src: &Source, reference: &str) -> Result<Resolved> {
    let what = format!("{}/{}:{reference}", src.host, src.repository);
    let (doc, bytes) = get(client, src, reference, &what)?;
    let digest = Digest::of_bytes(&bytes);
    match doc {
        Document::Image(_) => Ok(Resolved {
            digest,
            index: None,
        }),
        Document::Index(i) => {
            let child = manifest::select(&i, &Platform::host(), &what)?;
            Ok(Resolved {
                digest: Digest::try_from(child.digest())?,
                index: Some((digest, bytes)),
            })
        }
    }
}

fn get(client: &Client, src: &Source, reference: &str, what: &str) -> Result<(Document, Vec<u8>)> {
    let m = client
        .get_manifest(&src.repository, reference)?
        .ok_or_else(|| {
            crate::error::input(format!(
                "{what}: no such manifest in the registry (check the repository and tag)"
            ))
        })?;
    let (doc, _) = manifest::parse(&m.bytes, Some(&m.media_type), what)?;
    Ok((doc, m.bytes))
}

/// Fetches the image `r` names into the store (unless it is there) and keeps the index.
pub fn fetch(store: &OciDir, client: &Client, src: &Source, r: &Resolved) -> Result<StoredImage> {
    let img = match from_store(store, &r.digest)? {
        Some((img, _)) => img,
        None => fetch_image(store, client, src, &r.digest)
            .with_context(|| format!("fetching {} ({})", src.name, r.digest))?,
    };
    if let Some((_, bytes)) = &r.index {
        store.write_blob(bytes)?;
    }
    Ok(img)
}

fn fetch_image(store: &OciDir, client: &Client, src: &Source, d: &Digest) -> Result<StoredImage> {
    let what = format!("{}@{d}", src.name);
    let (doc, bytes) = get(client, src, &d.to_string(), &what)?;
    let Document::Image(m) = doc else {
        return Err(crate::error::input(format!(
            "{what} is an index, not an image manifest"
        )));
    };
    manifest::check_image(&m, &what)?;
    let repo = &src.repository;
    let cfg = m.config();
    client.fetch_blob(repo, &Digest::try_from(cfg.digest())?, cfg.size(), store)?;
    let config: ImageConfiguration = store
        .read_json(cfg)
        .with_context(|| format!("reading the config of {what}"))?;
    manifest::check_platform(&config, &Platform::host(), &what)?;
    if config.rootfs().diff_ids().len() != m.layers().len() {
        return Err(crate::error::input(format!(
            "{what}: {} layers but {} diff_ids in its config",
            m.layers().len(),
            config.rootfs().diff_ids().len()
        )));
    }
    for l in m.layers() {
        client.fetch_blob(repo, &Digest::try_from(l.digest())?, l.size(), store)?;
    }
    store.write_blob(&bytes)?;
    let mt = m
        .media_type()
        .as_ref()
        .map(|t| t.to_string())
        .unwrap_or_else(|| MediaType::ImageManifest.to_string());
    stored_image(store, d, &mt, &bytes)
}
