//! Where cosign keeps signatures and attestations of an image: manifests tagged
//! `sha256-<hex>.sig` and `sha256-<hex>.att` in the image's own repository, one layer per
//! signature (a simple-signing payload, the signature in the
//! `dev.cosignproject.cosign/signature` annotation) or per DSSE envelope (with its
//! `predicateType` annotation). Adding to one reads what is there, keeps every layer,
//! appends ours and reads back: a signature is never dropped.

use super::repo::Repository;
use crate::catalog::RawManifest;
use crate::digest::Digest;
use crate::oci::to_canonical_json;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};
use std::collections::HashMap;

pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// How many layer blobs upload at once.
const PARALLEL_PUSHES: usize = 6;

/// The largest number of layers one signature or attestation manifest may hold.
pub const MAX_LAYERS: usize = 1000;

/// Which of the two tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Signatures,
    Attestations,
}

/// `sha256-<hex>.sig` or `.att` for `subject`.
pub fn tag(subject: &Digest, kind: Kind) -> String {
    let ext = match kind {
        Kind::Signatures => "sig",
        Kind::Attestations => "att",
    };
    format!("sha256-{}.{ext}", subject.hex())
}

/// A layer to add: its media type, bytes and annotations.
pub struct NewLayer {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub annotations: HashMap<String, String>,
}

impl NewLayer {
    fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::new(
            MediaType::from(self.media_type.as_str()),
            self.bytes.len() as u64,
            Digest::of_bytes(&self.bytes).to_oci(),
        );
        d.set_annotations(Some(self.annotations.clone()));
        d
    }
}

/// The layers under `subject`'s tag of `kind` (none when there is no such tag).
pub fn layers(repo: &dyn Repository, subject: &Digest, kind: Kind) -> Result<Vec<Descriptor>> {
    let t = tag(subject, kind);
    let Some(m) = repo.get_manifest(&t)? else {
        return Ok(Vec::new());
    };
    let manifest: ImageManifest = m
        .parse()
        .map_err(|e| crate::error::failed(format!("{t} in {}: {e:#}", repo.identity())))?;
    if manifest.layers().len() > MAX_LAYERS {
        return Err(crate::error::failed(format!(
            "{t} in {} has {} layers, more than {MAX_LAYERS}",
            repo.identity(),
            manifest.layers().len()
        )));
    }
    Ok(manifest.layers().clone())
}

/// The same layer: digest and annotations (two signatures of one payload differ only in
/// their annotation).
fn same(a: &Descriptor, b: &Descriptor) -> bool {
    a.digest() == b.digest() && a.annotations() == b.annotations()
}

/// Adds `new` to `subject`'s tag of `kind`, keeping every layer already there. Returns
/// how many layers were added (0: all were there already).
pub fn append(
    repo: &dyn Repository,
    subject: &Digest,
    kind: Kind,
    new: &[NewLayer],
) -> Result<usize> {
    let t = tag(subject, kind);
    let ours: Vec<Descriptor> = new.iter().map(NewLayer::descriptor).collect();
    // Docker distribution ignores If-Match: put, read back, and merge again if another
    // signer replaced the manifest in between.
    let mut added = 0;
    for round in 0..20 {
        let mut current = layers(repo, subject, kind)?;
        let missing: Vec<&Descriptor> = ours
            .iter()
            .filter(|o| !current.iter().any(|c| same(c, o)))
            .collect();
        if missing.is_empty() {
            return Ok(added);
        }
        if round == 0 {
            added = missing.len();
        }
        current.extend(missing.into_iter().cloned());
        let (m, config) = manifest(current)?;
        // The config and (first round) our layers upload at once: a registry's latency,
        // not our bytes, is what they cost.
        let mut blobs: Vec<(Digest, &[u8])> = vec![(Digest::of_bytes(&config), &config[..])];
        if round == 0 {
            for (l, d) in new.iter().zip(&ours) {
                blobs.push((Digest::try_from(d.digest())?, &l.bytes));
            }
        }
        crate::parallel::map(&blobs, PARALLEL_PUSHES, |(d, bytes)| {
            if !repo.has_blob(d)? {
                repo.push_blob(d, bytes)
                    .with_context(|| format!("pushing a blob of {t}"))?;
            }
            Ok(())
        })?;
        repo.put_manifest(&t, &m)
            .with_context(|| format!("putting {t}"))?;
    }
    Err(crate::error::environment(format!(
        "could not record {t} in {}: other writers kept replacing it",
        repo.identity()
    )))
}

/// The manifest cosign writes for these layers, and its config: an image config whose
/// rootfs lists the layers, with cosign's zero times (nothing from the clock).
fn manifest(layers: Vec<Descriptor>) -> Result<(RawManifest, Vec<u8>)> {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest().to_string()).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{ "created": "0001-01-01T00:00:00Z" }],
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))?;
    let config_desc = Descriptor::new(
        MediaType::ImageConfig,
        config.len() as u64,
        Digest::of_bytes(&config).to_oci(),
    );
    let m = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(layers)
        .build()
        .context("building a signature manifest")?;
    Ok((
        RawManifest::new(MediaType::ImageManifest.to_string(), to_canonical_json(&m)?),
        config,
    ))
}
