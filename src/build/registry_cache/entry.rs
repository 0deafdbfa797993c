//! One entry of the shared layer cache as the registry holds it: an OCI image manifest
//! tagged `cache-<key hex>` whose config blob is the cache record (with its key) and
//! whose one layer is the layer blob. Written canonically, so the same layer makes the
//! same manifest on every machine. See runbook/layer-cache.md.

use crate::build::cache::CacheRecord;
use crate::digest::Digest;
use crate::oci::to_canonical_json;
use anyhow::Result;
use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.corebuild.layer-cache.v1+json";
/// The config blob's media type.
pub const CONFIG_TYPE: &str = "application/vnd.corebuild.layer-cache.config.v1+json";
/// The annotation naming the key (also in the config; the tag is derived from it).
pub const KEY_ANNOTATION: &str = "dev.corebuild.layer-cache.key";
/// The largest config blob we read: a record with a long package list is a few KiB.
pub const CONFIG_LIMIT: u64 = 1 << 20;

/// The tag an entry lives under.
pub fn tag(key: &Digest) -> String {
    format!("cache-{}", key.hex())
}

/// The config blob: the key the record answers and the record itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryConfig {
    pub key: Digest,
    #[serde(flatten)]
    pub record: CacheRecord,
}

/// An entry ready to push: the config blob and the manifest, both canonical JSON.
pub struct Entry {
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl Entry {
    pub fn new(key: &Digest, rec: &CacheRecord) -> Result<Entry> {
        let config = to_canonical_json(&EntryConfig {
            key: key.clone(),
            record: rec.clone(),
        })?;
        let config_desc = Descriptor::new(
            MediaType::Other(CONFIG_TYPE.to_string()),
            config.len() as u64,
            Digest::of_bytes(&config).to_oci(),
        );
        let layer = Descriptor::new(
            MediaType::Other(rec.media_type.clone()),
            rec.size,
            rec.digest.to_oci(),
        );
        let manifest: ImageManifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .artifact_type(MediaType::Other(ARTIFACT_TYPE.to_string()))
            .config(config_desc)
            .layers(vec![layer])
            .annotations(HashMap::from([(
                KEY_ANNOTATION.to_string(),
                key.to_string(),
            )]))
            .build()?;
        Ok(Entry {
            config,
            manifest: to_canonical_json(&manifest)?,
        })
    }
}

/// What a fetched manifest points at: the config blob and the layer.
#[derive(Debug)]
pub struct Parsed {
    pub config: Descriptor,
    pub layer: Descriptor,
}

/// Parses a fetched manifest; `Err` says why it is not one of our entries.
pub fn parse_manifest(bytes: &[u8]) -> Result<Parsed, String> {
    let m: ImageManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest does not parse: {e}"))?;
    let artifact = m.artifact_type().as_ref().map(|t| t.to_string());
    if artifact.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(format!(
            "the manifest's artifactType is {artifact:?}, not {ARTIFACT_TYPE}"
        ));
    }
    if m.config().media_type().to_string() != CONFIG_TYPE {
        return Err(format!(
            "the config media type is {}, not {CONFIG_TYPE}",
            m.config().media_type()
        ));
    }
    if m.config().size() > CONFIG_LIMIT {
        return Err(format!(
            "the config claims {} bytes, more than {CONFIG_LIMIT}",
            m.config().size()
        ));
    }
    let [layer] = m.layers().as_slice() else {
        return Err(format!("{} layers instead of one", m.layers().len()));
    };
    Ok(Parsed {
        config: m.config().clone(),
        layer: layer.clone(),
    })
}

/// Reads the config blob and checks it against the key looked up and the manifest's
/// layer descriptor; `Err` says what did not match.
pub fn check_config(key: &Digest, layer: &Descriptor, bytes: &[u8]) -> Result<CacheRecord, String> {
    let c: EntryConfig =
        serde_json::from_slice(bytes).map_err(|e| format!("the record does not parse: {e}"))?;
    if c.key != *key {
        return Err(format!("the record is for key {}", c.key));
    }
    let rec = c.record;
    let desc_digest = Digest::try_from(layer.digest()).map_err(|e| e.to_string())?;
    if desc_digest != rec.digest
        || layer.size() != rec.size
        || layer.media_type().to_string() != rec.media_type
    {
        return Err(format!(
            "the layer descriptor ({desc_digest}, {} bytes, {}) does not agree with the record ({}, {} bytes, {})",
            layer.size(),
            layer.media_type(),
            rec.digest,
            rec.size,
            rec.media_type
        ));
    }
    if rec.to_info().is_none() {
        return Err(format!(
            "the record's media type {} is not a layer type we read",
            rec.media_type
        ));
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CacheRecord {
        CacheRecord {
            digest: Digest::of_bytes(b"blob"),
            size: 4,
            diff_id: Digest::of_bytes(b"tar"),
            uncompressed_size: 3,
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".to_string(),
            packages: vec![("curl".to_string(), "7.88.1-10+deb12u8".to_string())],
        }
    }

    #[test]
    fn an_entry_round_trips_and_is_deterministic() {
        let key = Digest::of_bytes(b"key");
        let e = Entry::new(&key, &record()).unwrap();
        let again = Entry::new(&key, &record()).unwrap();
        assert_eq!(e.manifest, again.manifest);
        let p = parse_manifest(&e.manifest).unwrap();
        assert_eq!(p.config.size(), e.config.len() as u64);
        let rec = check_config(&key, &p.layer, &e.config).unwrap();
        assert_eq!(rec.diff_id, record().diff_id);
        assert_eq!(rec.packages, record().packages);
        let text = String::from_utf8(e.manifest).unwrap();
        assert!(text.contains(ARTIFACT_TYPE), "{text}");
        assert!(text.contains(&key.to_string()), "{text}");
        assert_eq!(tag(&key), format!("cache-{}", key.hex()));
    }

    #[test]
    fn a_record_for_another_key_or_layer_is_refused() {
        let key = Digest::of_bytes(b"key");
        let e = Entry::new(&key, &record()).unwrap();
        let p = parse_manifest(&e.manifest).unwrap();
        let other = Digest::of_bytes(b"other");
        assert!(check_config(&other, &p.layer, &e.config)
            .unwrap_err()
            .contains("for key"));
        let mut wrong = record();
        wrong.size = 5;
        let e2 = Entry::new(&key, &wrong).unwrap();
        let err = check_config(&key, &p.layer, &e2.config).unwrap_err();
        assert!(err.contains("does not agree"), "{err}");
    }

    #[test]
    fn foreign_manifests_are_refused() {
        let key = Digest::of_bytes(b"key");
        let e = Entry::new(&key, &record()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&e.manifest).unwrap();
        v["artifactType"] = "application/vnd.example+json".into();
        let err = parse_manifest(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.contains("artifactType"), "{err}");
        let mut v: serde_json::Value = serde_json::from_slice(&e.manifest).unwrap();
        v["layers"] = serde_json::json!([]);
        let err = parse_manifest(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.contains("0 layers"), "{err}");
        assert!(parse_manifest(b"{").is_err());
    }
}
