//! `base import`: turning a root filesystem (a directory or a tarball) or an image from
//! another OCI layout into a known-good base in the store, tagged `name:version`.

use crate::build::epoch;
use crate::layer::{self, ApplyOptions, Compression, DevicePolicy, LayerOptions};
use crate::oci::{ImageRef, OciDir, StoredImage};
use anyhow::{Context, Result};
use oci_spec::image::{Arch, ConfigBuilder, ImageConfigurationBuilder, Os, RootFsBuilder};
use std::io::Read;
use std::path::Path;

pub struct ImportOptions {
    pub name: String,
    pub version: String,
    pub compression: Compression,
    /// Clamp for mtimes and the image's `created`; `None` keeps the rootfs's own mtimes.
    pub epoch: Option<u64>,
    pub arch: String,
}

/// What an import produced.
#[derive(Debug, serde::Serialize)]
pub struct Imported {
    pub name: String,
    pub version: String,
    pub digest: crate::digest::Digest,
    /// Entries left out because a base layer may not carry them (device nodes, sockets).
    pub skipped: Vec<String>,
}

/// Imports a rootfs directory as a one-layer image.
pub fn import_rootfs_dir(store: &OciDir, dir: &Path, opts: &ImportOptions) -> Result<Imported> {
    let scan =
        layer::scan_dir_report(dir).with_context(|| format!("reading rootfs {}", dir.display()))?;
    let lopts = LayerOptions {
        compression: opts.compression,
        epoch: opts.epoch.unwrap_or(u64::MAX),
    };
    let w = store.create_blob()?;
    let (w, info) = layer::write_layer(scan.entries, &lopts, w)
        .with_context(|| format!("writing the layer of {}", dir.display()))?;
    w.complete()?;
    let created = epoch::rfc3339(opts.epoch.unwrap_or(0));
    let config = ImageConfigurationBuilder::default()
        .architecture(Arch::from(opts.arch.as_str()))
        .os(Os::Linux)
        .created(created.clone())
        .config(
            ConfigBuilder::default()
                .env(vec![
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
                ])
                .cmd(vec!["/bin/sh".to_string()])
                .build()?,
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(Vec::<String>::new())
                .build()?,
        )
        .build()?;
    let draft = crate::build::image::DraftImage::new(config)
        .append(
            &info,
            // The name is metadata, not content: one rootfs imports to one digest.
            "corebuild base import",
        )
        .with_created(&created);
    let (desc, _) = draft.write(store)?;
    let tag = format!("{}:{}", opts.name, opts.version);
    store.set_tag(&tag, &desc)?;
    Ok(Imported {
        name: opts.name.clone(),
        version: opts.version.clone(),
        digest: crate::digest::Digest::try_from(desc.digest())?,
        skipped: scan
            .skipped
            .iter()
            .map(|s| format!("{} ({})", s.path, s.kind))
            .collect(),
    })
}

/// Imports a rootfs tarball (plain, gzip or zstd): extracted with the safe apply into a
/// scratch directory of the temp directory (device nodes skipped), then imported like a
/// directory.
pub fn import_rootfs_tar(store: &OciDir, tar: &Path, opts: &ImportOptions) -> Result<Imported> {
    let mut f = std::fs::File::open(tar).with_context(|| format!("opening {}", tar.display()))?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic)?;
    let compression = match &magic[..n] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    };
    let f = std::fs::File::open(tar)?;
    // In the system's temp directory ($TMPDIR), not the store: on ext4 the thousands
    // of inodes the scratch tree frees made the first flatten in the store 3-4x slower
    // (the allocator checks each freed inode for recent deletion before reusing it).
    let scratch = tempfile::Builder::new()
        .prefix("corebuild-import-")
        .tempdir()
        .context("creating a scratch directory in the temp directory ($TMPDIR)")?;
    let root = scratch.path().join("rootfs");
    std::fs::create_dir(&root)?;
    let aopts = ApplyOptions {
        devices: DevicePolicy::Skip,
        ..ApplyOptions::default()
    };
    let stats = layer::apply_layer(
        layer::decompress(compression, std::io::BufReader::new(f)),
        &root,
        &aopts,
    )
    .with_context(|| format!("extracting {}", tar.display()))?;
    let mut imported = import_rootfs_dir(store, &root, opts)?;
    imported.skipped.extend(stats.skipped);
    Ok(imported)
}

/// Imports an image from another OCI layout (`DIR[:TAG]`), every blob verified.
pub fn import_layout(store: &OciDir, spec: &str, name: &str, version: &str) -> Result<Imported> {
    let r = ImageRef::parse(&format!("oci-layout:{spec}"))?;
    let ImageRef::Layout { path, .. } = &r else {
        unreachable!("parsed from an oci-layout: prefix")
    };
    let src = OciDir::open(path)?;
    let img: StoredImage = store.resolve(&r)?;
    store.import_image(&src, &img)?;
    let tag = format!("{name}:{version}");
    let desc = oci_spec::image::Descriptor::new(
        oci_spec::image::MediaType::ImageManifest,
        img.desc.size(),
        img.digest.to_oci(),
    );
    store.set_tag(&tag, &desc)?;
    Ok(Imported {
        name: name.to_string(),
        version: version.to_string(),
        digest: img.digest,
        skipped: Vec::new(),
    })
}

/// The OCI architecture name of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}
