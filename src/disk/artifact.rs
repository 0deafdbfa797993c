//! Keeping a disk in the store as an OCI 1.1 artifact beside its image, so the catalog
//! can publish it with the release: an image manifest with `artifactType`
//! [`artifact_type`] (`application/vnd.corebuild.disk.qcow2.v1` or `….raw.v1`), the
//! empty config (`{}`), the disk as its one layer (media type [`layer_media_type`]), and
//! `subject` = the image's manifest, so a registry's referrers API lists it under the
//! image. In a layout, which has no referrers API, the index names it with the tag
//! `sha256-<image hex>.disk-<format>` (the contract reports use `.contract-<n>` the same
//! way), so finding the disk of an image needs its digest alone. One disk per image and
//! format: exporting again (another size, another compression) moves the tag.

use super::ids::DiskIds;
use super::qemu_img::Compression;
use super::{BootMode, Format};
use crate::digest::Digest;
use crate::oci::{OciDir, StoredImage, REF_NAME};
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};
use std::collections::HashMap;
use std::path::PathBuf;

/// Manifest annotation: the image digest the disk was made from.
pub const SUBJECT_ANNOTATION: &str = "dev.corebuild.disk.subject";
/// Manifest annotation: the disk's virtual size in bytes.
pub const SIZE_ANNOTATION: &str = "dev.corebuild.disk.size";
/// Manifest annotation: `none`, `zstd` or `zlib` (qcow2 cluster compression).
pub const COMPRESSION_ANNOTATION: &str = "dev.corebuild.disk.compression";
pub const DISK_GUID_ANNOTATION: &str = "dev.corebuild.disk.disk-guid";
pub const PARTITION_ANNOTATION: &str = "dev.corebuild.disk.partition-uuid";
pub const FILESYSTEM_ANNOTATION: &str = "dev.corebuild.disk.filesystem-uuid";
pub const LABEL_ANNOTATION: &str = "dev.corebuild.disk.label";
/// Manifest annotation of a bootable disk: `bios+uefi`, `uefi` or `bios` (absent: none).
pub const BOOT_ANNOTATION: &str = "dev.corebuild.disk.boot";
/// Manifest annotation of a bootable disk: the blueprint's kernel parameters, space separated.
pub const KERNEL_CMDLINE_ANNOTATION: &str = "dev.corebuild.disk.kernel-cmdline";
const TITLE: &str = "org.opencontainers.image.title";
const EMPTY_JSON: &[u8] = b"{}";

pub fn artifact_type(format: Format) -> String {
    format!("application/vnd.corebuild.disk.{}.v1", format.as_str())
}

pub fn layer_media_type(format: Format) -> String {
    format!("application/vnd.corebuild.disk.{}", format.as_str())
}

/// The index tag of an image's disk of one format.
pub fn tag(image: &Digest, format: Format) -> String {
    format!(
        "{}-{}.disk-{}",
        image.algorithm(),
        image.hex(),
        format.as_str()
    )
}

/// A disk found in the store.
#[derive(Debug, Clone)]
pub struct StoredDisk {
    pub tag: String,
    /// The artifact manifest.
    pub manifest: Descriptor,
    /// The disk blob.
    pub blob: Digest,
    pub blob_size: u64,
    pub path: PathBuf,
    pub format: Format,
    pub size: u64,
    pub compression: Compression,
    pub boot: BootMode,
    pub kernel_cmdline: Vec<String>,
}

/// What [`store`] records about a disk.
pub struct Record<'a> {
    pub format: Format,
    pub size: u64,
    pub compression: Compression,
    pub ids: &'a DiskIds,
    pub blob: &'a Digest,
    pub blob_size: u64,
    pub boot: BootMode,
    pub kernel_cmdline: &'a [String],
}

/// Writes the artifact manifest for a disk blob already in `store` and tags it.
pub fn store(store: &OciDir, image: &StoredImage, r: &Record) -> Result<StoredDisk> {
    let subject = Descriptor::new(
        image.desc.media_type().clone(),
        image.desc.size(),
        image.digest.to_oci(),
    );
    let mut layer = Descriptor::new(
        MediaType::Other(layer_media_type(r.format)),
        r.blob_size,
        r.blob.to_oci(),
    );
    layer.set_annotations(Some(HashMap::from([(
        TITLE.to_string(),
        file_name(image, r.format),
    )])));
    let (empty, empty_size) = store.write_blob(EMPTY_JSON)?;
    let mut config = Descriptor::new(MediaType::EmptyJSON, empty_size, empty.to_oci());
    config.set_data(Some("e30=".into()));
    let mut annotations = HashMap::from([
        (SUBJECT_ANNOTATION.to_string(), image.digest.to_string()),
        (SIZE_ANNOTATION.to_string(), r.size.to_string()),
        (
            COMPRESSION_ANNOTATION.to_string(),
            r.compression.as_str().to_string(),
        ),
        (
            DISK_GUID_ANNOTATION.to_string(),
            r.ids.disk_guid.to_string(),
        ),
        (
            PARTITION_ANNOTATION.to_string(),
            r.ids.partition_guid.to_string(),
        ),
        (
            FILESYSTEM_ANNOTATION.to_string(),
            r.ids.filesystem_uuid.to_string(),
        ),
        (LABEL_ANNOTATION.to_string(), r.ids.label.clone()),
    ]);
    // Only bootable disks carry these, so a disk without a boot loader keeps the
    // manifest it always had.
    if r.boot != BootMode::None {
        annotations.insert(BOOT_ANNOTATION.to_string(), r.boot.as_str().to_string());
        annotations.insert(
            KERNEL_CMDLINE_ANNOTATION.to_string(),
            r.kernel_cmdline.join(" "),
        );
    }
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(artifact_type(r.format)))
        .config(config)
        .layers(vec![layer])
        .subject(subject)
        .annotations(annotations)
        .build()
        .context("building the disk artifact manifest")?;
    let mut desc = store.write_json(&manifest, MediaType::ImageManifest)?;
    desc.set_artifact_type(Some(MediaType::Other(artifact_type(r.format))));
    desc.set_annotations(Some(HashMap::from([(
        SUBJECT_ANNOTATION.to_string(),
        image.digest.to_string(),
    )])));
    let t = tag(&image.digest, r.format);
    store.set_tag(&t, &desc)?;
    let desc = store.resolve_tag(&t)?.expect("the tag was just written");
    read(store, &t, &desc, &image.digest)
}

/// The file name a consumer would save the disk as: `<title>-<version>.<format>` from
/// the image's annotations, else the digest.
fn file_name(image: &StoredImage, format: Format) -> String {
    let ann = image.manifest.annotations().clone().unwrap_or_default();
    let base = match (
        ann.get("org.opencontainers.image.title"),
        ann.get("org.opencontainers.image.version"),
    ) {
        (Some(t), Some(v)) => format!("{t}-{v}"),
        _ => image.digest.hex()[..12].to_string(),
    };
    format!("{base}.{}", format.as_str())
}

/// The disk of `image` in `format`, if one is stored. An entry whose type, subject or
/// layer does not match is an error, not skipped.
pub fn find(store: &OciDir, image: &Digest, format: Format) -> Result<Option<StoredDisk>> {
    let t = tag(image, format);
    match store.resolve_tag(&t)? {
        Some(desc) => read(store, &t, &desc, image)
            .with_context(|| format!("reading the disk artifact {t}"))
            .map(Some),
        None => Ok(None),
    }
}

fn read(store: &OciDir, tag: &str, desc: &Descriptor, image: &Digest) -> Result<StoredDisk> {
    let bad = |why: String| crate::error::input(format!("not a disk of {image}: {why}"));
    let m: ImageManifest = store.read_json(desc)?;
    let at = m.artifact_type().as_ref().map(ToString::to_string);
    let format = [Format::Qcow2, Format::Raw, Format::Vhd, Format::Vmdk]
        .into_iter()
        .find(|f| at.as_deref() == Some(artifact_type(*f).as_str()))
        .ok_or_else(|| bad(format!("artifactType is {at:?}")))?;
    let subject = m.subject().as_ref().map(|s| s.digest().to_string());
    if subject.as_deref() != Some(image.to_string().as_str()) {
        return Err(bad(format!("its subject is {subject:?}")));
    }
    let [layer] = m.layers().as_slice() else {
        return Err(bad(format!("it has {} layers, not 1", m.layers().len())));
    };
    if layer.media_type().to_string() != layer_media_type(format) {
        return Err(bad(format!("its layer is a {}", layer.media_type())));
    }
    let ann = m.annotations().clone().unwrap_or_default();
    let size = ann
        .get(SIZE_ANNOTATION)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("no {SIZE_ANNOTATION} annotation")))?;
    let compression = match ann.get(COMPRESSION_ANNOTATION).map(String::as_str) {
        Some("zstd") => Compression::Zstd,
        Some("zlib") => Compression::Zlib,
        _ => Compression::None,
    };
    let boot = match ann.get(BOOT_ANNOTATION) {
        None => BootMode::None,
        Some(b) => BootMode::parse(b).ok_or_else(|| bad(format!("boot mode {b:?}")))?,
    };
    let kernel_cmdline = ann
        .get(KERNEL_CMDLINE_ANNOTATION)
        .map(|c| c.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let blob = Digest::try_from(layer.digest())?;
    if !store.has_blob(&blob) {
        return Err(bad(format!("its disk blob {blob} is missing")));
    }
    let mut manifest = desc.clone();
    let mut a = manifest.annotations().clone().unwrap_or_default();
    a.retain(|k, _| k != REF_NAME);
    manifest.set_annotations(Some(a));
    Ok(StoredDisk {
        tag: tag.to_string(),
        manifest,
        path: store.blob_path(&blob),
        blob,
        blob_size: layer.size(),
        format,
        size,
        compression,
        boot,
        kernel_cmdline,
    })
}
