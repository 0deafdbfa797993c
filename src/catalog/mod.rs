//! The catalog of released core images: releases, versions, channels and lifecycle, with
//! two backends behind one trait, [`Catalog`]: an OCI image layout directory (the
//! embedded default, `oci-layout:PATH`) and an OCI registry (`registry:HOST[:PORT]/NS`).
//!
//! The trait holds only OCI primitives (blobs, manifests by tag or digest, tag lists), so
//! everything above it (publish, the referrers fallback, lifecycle records, resolve,
//! pull) is written once and runs the same on both backends:
//!
//! - a release of blueprint NAME is the image manifest tagged `VERSION` in repository
//!   NAME (`HOST/NS/NAME:VERSION` in a registry, `NAME:VERSION` in a layout), so plain
//!   clients (skopeo, docker) find it;
//! - artifacts about an image (contract reports, SBOM, provenance, disks, later release
//!   notes) are manifests whose `subject` is the image, listed by the referrers API where
//!   the registry has it and by the OCI 1.1 tag-schema fallback `sha256-<hex>` where it
//!   does not ([`Catalog::attach`], [`Catalog::referrers`]);
//! - lifecycle state (released, promoted, rolled back, deprecated, revoked) is an
//!   append-only log of event artifacts, each under its own unique tag
//!   `corebuild.event.<time>-<random>`; the state is a deterministic fold of the log
//!   (see [`events`] and runbook/decisions/0007-catalog.md for why not a record moved by
//!   compare-and-swap: Docker distribution has no conditional writes);
//! - a publish writes blobs, the manifest, the artifacts and the release event, and the
//!   version tag last: a release is listed only when its tag names the released digest,
//!   so an interrupted publish shows nothing, and a rerun converges.

mod artifact;
pub mod attest;
pub mod base;
mod base_policy;
pub mod dependents;
pub mod events;
mod layout;
mod lifecycle;
mod publish;
mod registry;
mod resolve;
mod spec;
mod state;
pub mod view;

pub use crate::registry::RetryPolicy;
pub use artifact::{read_artifact_layer, Artifact, ArtifactLayer, BlobData, FALLBACK_TAG_PREFIX};
pub use events::{Event, EventKind, EVENT_MEDIA_TYPE, EVENT_TAG_PREFIX};
pub use layout::LayoutCatalog;
pub use lifecycle::{deprecate, promote, revoke, rollback, LifecycleOutcome};
pub use publish::{
    gate_without_blueprint, publish, PublishOutcome, PublishRequest, DISK_MEDIA_TYPE,
    PROVENANCE_MEDIA_TYPE, SBOM_MEDIA_TYPE,
};
pub use registry::RegistryCatalog;
pub use resolve::{
    check_channel, list, pull, resolve, state, today, CatalogRef, PullOutcome, Resolved,
};
pub use spec::{CatalogSpec, DEFAULT_CATALOG};
pub use state::{Assignment, ChannelState, Release, State, Status, StatusChange};

use crate::digest::Digest;
use crate::oci::OciDir;
use anyhow::Result;
use oci_spec::image::{Descriptor, MediaType};
use std::str::FromStr;

/// A manifest exactly as stored: its bytes, media type and digest (of the bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl RawManifest {
    pub fn new(media_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        RawManifest {
            media_type: media_type.into(),
            digest: Digest::of_bytes(&bytes),
            bytes,
        }
    }

    /// A descriptor of this manifest (media type, size, digest).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            MediaType::from(self.media_type.as_str()),
            self.bytes.len() as u64,
            self.digest.to_oci(),
        )
    }

    /// Parses the bytes as JSON of type `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.bytes).map_err(|e| {
            crate::error::input(format!(
                "manifest {} ({}) does not parse: {e}",
                self.digest, self.media_type
            ))
        })
    }
}

/// What a registry said when a manifest was put.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutManifest {
    /// The registry answered `OCI-Subject`: it indexes `subject` itself (referrers API),
    /// so the tag-schema fallback is not needed.
    pub subject_indexed: bool,
}

/// A catalog backend: the OCI primitives the catalog is built from. `repo` is a
/// blueprint name; a backend maps it to a repository (`NS/NAME` in a registry) or a tag
/// prefix (`NAME:` in a layout). Every read is verified against its digest and size.
pub trait Catalog: Send + Sync {
    /// The catalog as the user names it (`oci-layout:/srv/catalog`, `registry:host/ns`).
    fn location(&self) -> String;

    /// How a plain client names `repo` at `reference` (a tag or digest): `HOST/NS/NAME:TAG`,
    /// `HOST/NS/NAME@sha256:…`, or `oci:PATH:NAME:TAG` for a layout.
    fn client_reference(&self, repo: &str, reference: &str) -> String;

    /// The repository as a signature names it (cosign's `docker-reference`): `HOST/NS/NAME`
    /// in a registry; in a layout the bare name, so a layout's signatures do not depend on
    /// where the layout lives.
    fn identity(&self, repo: &str) -> String {
        repo.to_string()
    }

    /// Whether the catalog holds the blob (a registry is asked with HEAD).
    fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool>;

    /// Uploads a blob; the bytes are verified against `digest` and `size` as they stream.
    fn push_blob(&self, repo: &str, digest: &Digest, size: u64, data: &BlobData) -> Result<()>;

    /// Reads a small blob (at most 64 MiB), verified.
    fn read_blob(&self, repo: &str, digest: &Digest, size: u64) -> Result<Vec<u8>>;

    /// Streams a blob into `dest`, verified; a blob `dest` holds already is kept.
    fn fetch_blob(&self, repo: &str, digest: &Digest, size: u64, dest: &OciDir) -> Result<()>;

    /// Puts a manifest under `reference`: its digest (no tag) or a tag (which moves).
    fn put_manifest(&self, repo: &str, reference: &str, m: &RawManifest) -> Result<PutManifest>;

    /// Reads a manifest by tag or digest, verified; `None` when there is none.
    fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<RawManifest>>;

    /// The digest a tag names (or whether a digest is held), without the body.
    fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Digest>>;

    /// Every tag of `repo` (empty when the repository does not exist).
    fn tags(&self, repo: &str) -> Result<Vec<String>>;

    /// Every repository (blueprint name) the catalog holds.
    fn repositories(&self) -> Result<Vec<String>>;

    /// The referrers of `subject` from the registry's referrers API, or `None` when the
    /// backend has none (the caller then reads the `sha256-<hex>` fallback tag).
    fn referrers_api(&self, _repo: &str, _subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        Ok(None)
    }

    /// Attaches artifacts to `subject` (an image manifest in `repo`): pushes their blobs
    /// and manifests and lists them under the subject (referrers API, else the
    /// `sha256-<hex>` fallback index, updated with read-back verification). Idempotent.
    fn attach(
        &self,
        repo: &str,
        subject: &Descriptor,
        artifacts: &[Artifact],
    ) -> Result<Vec<Descriptor>> {
        artifact::attach(self, repo, subject, artifacts)
    }

    /// The artifacts attached to `subject`, optionally only those of `artifact_type`.
    fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        artifact::referrers(self, repo, subject, artifact_type)
    }
}

/// How to open a catalog.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Plain HTTP to the registry; only allowed for loopback hosts.
    pub insecure: bool,
    /// Retry policy for registry requests (the default when `None`).
    pub retry: Option<RetryPolicy>,
}

/// Opens the catalog `spec` names (a layout is created when missing).
pub fn open(spec: &CatalogSpec, opts: &OpenOptions) -> Result<Box<dyn Catalog>> {
    Ok(match spec {
        CatalogSpec::Layout(path) => Box::new(LayoutCatalog::open(path)?),
        CatalogSpec::Registry { host, namespace } => Box::new(RegistryCatalog::new(
            host,
            namespace,
            opts.insecure,
            opts.retry.clone().unwrap_or_default(),
        )?),
    })
}

/// Opens the catalog named by a string (see [`CatalogSpec`]).
pub fn open_str(spec: &str, opts: &OpenOptions) -> Result<Box<dyn Catalog>> {
    open(&CatalogSpec::from_str(spec)?, opts)
}

/// A blueprint name as a repository: lowercase letters, digits and `._-`, starting with
/// a letter or digit (what blueprints allow, and a valid OCI repository component).
pub fn check_name(name: &str) -> Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(crate::error::input(format!(
            "{name:?} is not a valid image name (lowercase letters, digits, `.`, `_`, `-`)"
        )))
    }
}

/// A version as a tag: a semantic version (what blueprints declare), whose `+` becomes
/// `_` because tags cannot hold `+`.
pub fn version_tag(version: &semver::Version) -> String {
    version.to_string().replace('+', "_")
}

#[cfg(test)]
mod tests;
