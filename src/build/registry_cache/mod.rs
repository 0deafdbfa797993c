//! The shared layer cache in a registry (`--cache registry:HOST[:PORT]/REPO`): entries
//! looked up by cache key before a layer is built and pushed after, on top of the
//! registry client. Every entry is checked before use (manifest, record, descriptor,
//! blob digest and size, and the layer's uncompressed diff_id); a bad one is refused
//! with a warning and the layer is built locally. The cache is best effort: a registry
//! that is down or fails costs one warning, never the build.

mod entry;
mod spec;

pub use entry::{tag, Entry, ARTIFACT_TYPE, CONFIG_TYPE};
pub use spec::{CacheSpec, CACHE_ENV};

use crate::build::cache::CacheRecord;
use crate::digest::{Digest, HashingReader};
use crate::layer::LayerInfo;
use crate::oci::OciDir;
use crate::registry::{is_loopback, Client, RetryPolicy};
use anyhow::{Context, Result};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The OCI image manifest media type entries are pushed with.
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A verified entry; for a layer built here already its blob was not fetched,
    /// otherwise it is now in the store.
    Hit(CacheRecord),
    Miss,
    /// An entry that failed a check: refused (and warned about), to be rebuilt and
    /// pushed over.
    Poisoned,
}

/// An open registry cache. Out of use for the rest of the build after the first lookup
/// that fails for a reason that is not the entry's (unreachable, 5xx past the retries),
/// and without pushes after the first refused push (a read-only job still reads).
pub struct RegistryCache {
    spec: CacheSpec,
    client: Client,
    down: AtomicBool,
    no_push: AtomicBool,
    warned: AtomicBool,
}

impl RegistryCache {
    /// A client for the cache's registry: plain HTTP only for a loopback host with
    /// `COREBUILD_INSECURE=1`; a shorter retry budget than publishing has, since a
    /// miss only costs a local build.
    pub fn open(spec: &CacheSpec) -> Result<RegistryCache> {
        let insecure = is_loopback(&spec.host)
            && std::env::var("COREBUILD_INSECURE").is_ok_and(|v| v == "1" || v == "true");
        let retry = RetryPolicy {
            budget: Duration::from_secs(10),
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let client = Client::new(&spec.host, insecure, retry)
            .with_context(|| format!("opening the layer cache {spec}"))?;
        Ok(RegistryCache {
            spec: spec.clone(),
            client,
            down: AtomicBool::new(false),
            no_push: AtomicBool::new(false),
            warned: AtomicBool::new(false),
        })
    }

    /// [`Self::open`], or `None` after a warning: the build goes on without the cache.
    pub fn open_or_warn(spec: &CacheSpec) -> Option<RegistryCache> {
        Self::open(spec)
            .map_err(|e| eprintln!("warning: {e:#}; building without the layer cache"))
            .ok()
    }

    fn enabled(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    fn pushing(&self) -> bool {
        self.enabled() && !self.no_push.load(Ordering::Relaxed)
    }

    /// Puts the cache out of use for this build, warning (once).
    fn go_down(&self, what: &str, e: &anyhow::Error) {
        self.down.store(true, Ordering::Relaxed);
        self.warn_once(&format!("{what}: {e:#}; building without it"));
    }

    /// Stops pushing for this build, warning (once); lookups go on.
    fn stop_pushing(&self, what: &str, e: &anyhow::Error) {
        self.no_push.store(true, Ordering::Relaxed);
        self.warn_once(&format!("{what}: {e:#}; layers built here are not pushed"));
    }

    fn warn_once(&self, msg: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("warning: layer cache {}: {msg}", self.spec);
        }
    }

    fn refuse(&self, key: &Digest, why: &str) -> Lookup {
        eprintln!(
            "warning: layer cache {}: entry {} (key {key}) refused: {why}; building the layer locally",
            self.spec,
            tag(key)
        );
        Lookup::Poisoned
    }

    /// Looks `key` up. `built` is the layer when it was made here already (a `files`
    /// layer): the entry must then describe exactly it, and no blob is fetched.
    pub fn lookup(&self, store: &OciDir, key: &Digest, built: Option<&LayerInfo>) -> Lookup {
        if !self.enabled() {
            return Lookup::Miss;
        }
        match self.try_lookup(store, key, built) {
            Ok(Ok(Some(rec))) => Lookup::Hit(rec),
            Ok(Ok(None)) => Lookup::Miss,
            Ok(Err(why)) => self.refuse(key, &why),
            // The registry served bytes that do not match their digest: the entry's fault.
            Err(e) if crate::error::exit_code(&e) == 2 => self.refuse(key, &format!("{e:#}")),
            Err(e) => {
                self.go_down("looking up a layer", &e);
                Lookup::Miss
            }
        }
    }

    /// `Ok(Err(why))` for an entry that fails a check; `Err` when the registry fails.
    fn try_lookup(
        &self,
        store: &OciDir,
        key: &Digest,
        built: Option<&LayerInfo>,
    ) -> Result<Result<Option<CacheRecord>, String>> {
        let repo = &self.spec.repo;
        let Some(m) = self.client.get_manifest(repo, &tag(key))? else {
            return Ok(Ok(None));
        };
        let parsed = match entry::parse_manifest(&m.bytes) {
            Ok(p) => p,
            Err(why) => return Ok(Err(why)),
        };
        let config_digest = Digest::try_from(parsed.config.digest())?;
        let config = self
            .client
            .read_blob(repo, &config_digest, parsed.config.size())?;
        let rec = match entry::check_config(key, &parsed.layer, &config) {
            Ok(r) => r,
            Err(why) => return Ok(Err(why)),
        };
        if let Some(info) = built {
            return Ok(same_layer(info, &rec).map(|()| Some(rec)));
        }
        Ok(self.fetch_layer(store, &rec)?.map(|()| Some(rec)))
    }

    /// Brings the layer blob into the store only once its diff_id and uncompressed size
    /// match the record: it is fetched (digest and size verified) into a staging layout
    /// beside the store, decompressed and hashed there, and only then linked in.
    fn fetch_layer(&self, store: &OciDir, rec: &CacheRecord) -> Result<Result<(), String>> {
        if store.has_blob(&rec.digest) {
            return check_diff_id(store, rec);
        }
        let incoming = store.root().join("cache/incoming");
        std::fs::create_dir_all(&incoming)?;
        let staging_dir = tempfile::tempdir_in(&incoming)?;
        let staging = OciDir::open_or_create(staging_dir.path())?;
        self.client
            .fetch_blob(&self.spec.repo, &rec.digest, rec.size, &staging)?;
        if let Err(why) = check_diff_id(&staging, rec)? {
            return Ok(Err(why));
        }
        store.link_blob_from(&staging, &rec.digest)?;
        Ok(Ok(()))
    }

    /// Makes sure the registry has the entry for `key`, pushing it when it does not:
    /// for a layer found in the local cache, so a cache that came later fills up.
    pub fn ensure(&self, store: &OciDir, key: &Digest, rec: &CacheRecord) {
        if !self.pushing() {
            return;
        }
        match self.client.head_manifest(&self.spec.repo, &tag(key)) {
            Ok(Some(_)) => {}
            Ok(None) => self.push(store, key, rec),
            Err(e) => self.go_down("looking up a layer", &e),
        }
    }

    /// Pushes the entry for `key` (the layer blob, the record, the tagged manifest),
    /// replacing whatever the tag named before.
    pub fn push(&self, store: &OciDir, key: &Digest, rec: &CacheRecord) {
        if !self.pushing() {
            return;
        }
        if let Err(e) = self.try_push(store, key, rec) {
            self.stop_pushing(&format!("pushing {}", tag(key)), &e);
        }
    }

    fn try_push(&self, store: &OciDir, key: &Digest, rec: &CacheRecord) -> Result<()> {
        let repo = &self.spec.repo;
        let e = Entry::new(key, rec)?;
        if !self.client.has_blob(repo, &rec.digest)? {
            let open = || -> Result<Box<dyn Read + Send>> {
                Ok(Box::new(store.open_blob(&rec.digest, Some(rec.size))?))
            };
            self.client.push_blob(repo, &rec.digest, rec.size, &open)?;
        }
        let config_digest = Digest::of_bytes(&e.config);
        if !self.client.has_blob(repo, &config_digest)? {
            let bytes = &e.config;
            let open = || -> Result<Box<dyn Read + Send + '_>> { Ok(Box::new(&bytes[..])) };
            self.client
                .push_blob(repo, &config_digest, bytes.len() as u64, &open)?;
        }
        let digest = Digest::of_bytes(&e.manifest);
        self.client
            .put_manifest(repo, &tag(key), MANIFEST_TYPE, &e.manifest, &digest)?;
        Ok(())
    }
}

/// A `files` layer built here must be the very layer the entry records.
fn same_layer(info: &LayerInfo, rec: &CacheRecord) -> Result<(), String> {
    if info.digest == rec.digest
        && info.size == rec.size
        && info.diff_id == rec.diff_id
        && info.uncompressed_size == rec.uncompressed_size
    {
        return Ok(());
    }
    Err(format!(
        "it records layer {} (diff_id {}), this build made {} (diff_id {})",
        rec.digest, rec.diff_id, info.digest, info.diff_id
    ))
}

/// Decompresses the blob in `dir` and checks its sha256 and length against the
/// record's diff_id and uncompressed size, reading at most one byte past that size.
fn check_diff_id(dir: &OciDir, rec: &CacheRecord) -> Result<Result<(), String>> {
    let compression = crate::layer::Compression::from_media_type(&rec.media_type)
        .context("checked by check_config")?;
    let blob = dir.open_blob(&rec.digest, Some(rec.size))?;
    let tar = crate::layer::decompress(compression, blob).take(rec.uncompressed_size + 1);
    let mut h = HashingReader::new(tar);
    if let Err(e) = std::io::copy(&mut h, &mut std::io::sink()) {
        return Ok(Err(format!("the layer does not decompress: {e}")));
    }
    let (diff_id, size) = h.finish();
    if diff_id != rec.diff_id || size != rec.uncompressed_size {
        let more = if size > rec.uncompressed_size {
            "more than ".to_string()
        } else {
            String::new()
        };
        return Ok(Err(format!(
            "the layer's content is {diff_id} ({more}{size} bytes uncompressed), the record says diff_id {} ({} bytes)",
            rec.diff_id, rec.uncompressed_size
        )));
    }
    Ok(Ok(()))
}
