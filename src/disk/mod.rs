//! VM disks from images: the flattened image becomes an ext4 root file system in the one
//! partition of a GPT disk, written as raw or qcow2, bit for bit the same for the same
//! image wherever and whenever it is made, and kept in the store as an OCI artifact
//! beside the image.
//!
//! The steps ([`export`]): flatten the image with the layer module's safe apply; measure
//! it ([`size`]) and refuse a size that cannot hold it, naming the size that can; make a
//! sparse raw file; `mke2fs -d` builds ext4 into the partition's place in it with every
//! varying input pinned ([`ext4`]); a native pass resets the inode times mke2fs copied
//! from the host ([`ext4::reset_times`]); the GPT is written natively ([`gpt`]) with
//! GUIDs derived from the image digest ([`ids`]); `qemu-img convert` makes the qcow2 and
//! `qemu-img info`/`check` prove it has no backing or data file and no errors
//! ([`qemu_img`]); the result is moved into the store and recorded as an artifact
//! ([`artifact`]). [`boot`] boots a disk in qemu for the contract's `boot` tests.
//!
//! What a disk holds: ownership, modes, symlinks, hard links and `security.capability`
//! as the image has them (the safe apply restores them, mke2fs copies them); no device
//! nodes (the image has none; the guest's devtmpfs makes them). Atime, ctime and crtime
//! of every inode, and the file system's own times, are the image's epoch (its config's
//! `created`); mtimes are the image's, clamped to that epoch.

pub mod artifact;
pub mod boot;
mod crc32c;
pub mod ext4;
pub mod formats;
pub mod gpt;
pub mod ids;
pub mod kernels;
pub mod qemu;
pub mod qemu_img;
pub mod size;

use crate::digest::{Digest, HashingWriter};
use crate::oci::{OciDir, StoredImage};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use artifact::StoredDisk;
pub use boot::{BootMode, Firmware};
pub use ids::{DiskIds, Uuid};
pub use qemu_img::Compression;
pub use size::Content;

/// The file format of a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Qcow2,
    Raw,
    /// A fixed VHD (what Azure imports).
    Vhd,
    /// A streamOptimized VMDK (what VMware and OVA imports take).
    Vmdk,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Qcow2 => "qcow2",
            Format::Raw => "raw",
            Format::Vhd => "vhd",
            Format::Vmdk => "vmdk",
        }
    }
}

/// How big a disk to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiskSize {
    /// The smallest size that holds the image, plus a quarter, rounded up to 64 MiB.
    #[default]
    Auto,
    /// Exactly this many bytes (a whole number of MiB).
    Bytes(u64),
}

impl DiskSize {
    /// `auto` or a size with a binary unit (`2GiB`).
    pub fn parse(s: &str) -> Option<DiskSize> {
        if s == "auto" {
            return Some(DiskSize::Auto);
        }
        size::parse_size(s).map(DiskSize::Bytes)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    pub format: Format,
    pub size: DiskSize,
    pub compression: Compression,
    /// Make the disk again even when the store has one for this image and format.
    pub rebuild: bool,
    /// The image already flattened (e.g. the contract runner's unpacked candidate);
    /// otherwise it is unpacked into a scratch directory.
    pub rootfs: Option<PathBuf>,
    /// The firmware the disk boots under; `None`: BIOS and UEFI when the image has a
    /// kernel under /boot, else no boot loader.
    pub boot: Option<BootMode>,
    /// Kernel parameters appended to the generated GRUB configuration's command line.
    pub kernel_cmdline: Vec<String>,
    /// The OCI runtime that runs the image's grub-mkimage (`runc` when `None`).
    pub runtime: Option<String>,
}

/// Milliseconds each step took.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timings {
    pub unpack_ms: u64,
    pub scan_ms: u64,
    pub mkfs_ms: u64,
    pub reset_times_ms: u64,
    /// GRUB images, grub.cfg and the ESP.
    pub boot_ms: u64,
    pub gpt_ms: u64,
    pub convert_ms: u64,
    pub verify_ms: u64,
    pub store_ms: u64,
    pub total_ms: u64,
}

/// What [`export`] made (or found).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiskReport {
    /// The image's manifest digest.
    pub image: Digest,
    pub format: Format,
    /// The disk's virtual size in bytes.
    pub size: u64,
    pub compression: Compression,
    /// The disk file's digest: the blob in the store.
    pub digest: Digest,
    /// The disk file's length in bytes.
    pub file_size: u64,
    /// The artifact manifest's digest and its tag in the store.
    pub artifact: Digest,
    pub tag: String,
    /// The blob's path in the store (read-only).
    pub path: PathBuf,
    /// Whether an already stored disk was used instead of making one.
    pub reused: bool,
    /// The firmware the disk boots under (`none`: direct kernel boot only).
    pub boot: BootMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids: Option<DiskIds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The smallest disk that holds the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inodes_reset: Option<ext4::ResetStats>,
    pub timings: Timings,
}

fn ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The time the disk's file system records: the image's config `created`, at least 1.
/// (`E2FSPROGS_FAKE_TIME=0` means "not set" to e2fsprogs, which would read the clock.)
pub fn epoch_of(image: &StoredImage) -> u64 {
    image
        .config
        .created()
        .as_deref()
        .and_then(crate::build::epoch::parse_rfc3339)
        .unwrap_or(0)
        .max(1)
}

/// Makes the disk of `image` (or finds it in the store) and records it as an artifact.
pub fn export(store: &OciDir, image: &StoredImage, opts: &ExportOptions) -> Result<DiskReport> {
    let start = Instant::now();
    if !opts.rebuild {
        if let Some(found) = artifact::find(store, &image.digest, opts.format)? {
            if matches(&found, opts) {
                return Ok(reused(image, found, start));
            }
        }
    }
    let mut t = Timings::default();
    let work_root = store.root().join("cache/work");
    std::fs::create_dir_all(&work_root)?;
    let work = tempfile::Builder::new()
        .prefix("disk-")
        .tempdir_in(&work_root)
        .context("making a scratch directory for the disk")?;

    let step = Instant::now();
    let rootfs = flattened(store, image, opts)?;
    t.unpack_ms = ms(step);

    let step = Instant::now();
    let content = size::scan(&rootfs)?;
    t.scan_ms = ms(step);
    let boot = boot_mode(opts.boot, &rootfs)?;
    let disk_size = disk_size(image, opts.size, &content, boot)?;
    let ids = DiskIds::of(&image.digest).for_boot(boot);
    let epoch = epoch_of(image);
    let layout = gpt::Layout::new(disk_size, boot)?;
    let made = Made {
        rootfs: &rootfs,
        content: &content,
        work: work.path(),
        layout,
        ids: &ids,
        epoch,
        image,
        opts,
    };
    let (raw_path, reset) = made.raw_disk(&mut t)?;

    let step = Instant::now();
    let final_path = match opts.format {
        Format::Raw => raw_path.clone(),
        Format::Qcow2 => {
            let q = work.path().join("disk.qcow2");
            qemu_img::convert(&raw_path, &q, opts.compression)?;
            std::fs::remove_file(&raw_path)?;
            q
        }
        other => {
            let out = work.path().join(format!("disk.{}", other.as_str()));
            formats::convert(other, &raw_path, &out, &ids, epoch)?;
            std::fs::remove_file(&raw_path)?;
            out
        }
    };
    t.convert_ms = ms(step);
    let step = Instant::now();
    verify(&final_path, opts.format, disk_size)?;
    t.verify_ms = ms(step);

    let step = Instant::now();
    let (digest, file_size) = move_into_store(store, &final_path)?;
    let stored = artifact::store(
        store,
        image,
        &artifact::Record {
            format: opts.format,
            size: disk_size,
            compression: opts.compression,
            ids: &ids,
            blob: &digest,
            blob_size: file_size,
            boot,
            kernel_cmdline: &opts.kernel_cmdline,
        },
    )?;
    t.store_ms = ms(step);
    t.total_ms = ms(start);
    Ok(DiskReport {
        image: image.digest.clone(),
        format: opts.format,
        size: disk_size,
        compression: opts.compression,
        digest,
        file_size,
        artifact: Digest::try_from(stored.manifest.digest())?,
        tag: stored.tag,
        path: stored.path,
        reused: false,
        boot,
        ids: Some(ids),
        epoch: Some(epoch),
        minimum_size: Some(minimum_size(&content, boot)),
        content: Some(content),
        inodes_reset: Some(reset),
        timings: t,
    })
}

/// The flattened image: the caller's, the contract runner's cached tree, or a fresh one.
fn flattened(store: &OciDir, image: &StoredImage, opts: &ExportOptions) -> Result<PathBuf> {
    if let Some(r) = &opts.rootfs {
        return Ok(r.clone());
    }
    // Flattening is most of an export's time: the store keeps one tree per chain of
    // layers, shared with the build and the contract runner.
    crate::build::rootfs::flattened(
        store,
        image.manifest.layers(),
        image.config.rootfs().diff_ids(),
    )
    .with_context(|| format!("flattening {}", image.digest))
}

/// The boot mode asked for, or the default: BIOS and UEFI when the image has a kernel
/// under /boot (resolved inside the image), else none. A bootable mode must find what it
/// needs in the image (exit 2 naming the package otherwise).
pub fn boot_mode(asked: Option<BootMode>, rootfs: &Path) -> Result<BootMode> {
    let mode = match asked {
        Some(m) => m,
        None if kernels::find(rootfs).is_ok() => BootMode::BiosUefi,
        None => BootMode::None,
    };
    if mode != BootMode::None {
        boot::requirements::check_image(mode, rootfs)?;
    }
    Ok(mode)
}

/// Bytes of a bootable layout that the size model (one partition) does not count.
fn boot_extra(boot: BootMode) -> u64 {
    gpt::Layout::overhead(boot) - gpt::Layout::overhead(BootMode::None)
}

fn minimum_size(content: &Content, boot: BootMode) -> u64 {
    size::minimum(content) + boot_extra(boot)
}

/// The disk size asked for, checked to hold the image, or the automatic one.
fn disk_size(
    image: &StoredImage,
    asked: DiskSize,
    content: &Content,
    boot: BootMode,
) -> Result<u64> {
    let extra = boot_extra(boot);
    match asked {
        DiskSize::Auto => Ok(size::auto(content) + extra),
        DiskSize::Bytes(b) => {
            if !b.is_multiple_of(gpt::ALIGN) {
                return Err(crate::error::input(format!(
                    "disk size {b} bytes is not a whole number of MiB; ask for e.g. {}",
                    size::human(size::round_up(b, gpt::ALIGN))
                )));
            }
            if b < extra || !size::fits(content, b - extra) {
                return Err(too_small(image, b, content, minimum_size(content, boot)));
            }
            Ok(b)
        }
    }
}

/// One raw disk being made: the root file system, the boot loader, the partition table.
struct Made<'a> {
    rootfs: &'a Path,
    /// What [`size::scan`] found in `rootfs`.
    content: &'a Content,
    work: &'a Path,
    layout: gpt::Layout,
    ids: &'a DiskIds,
    epoch: u64,
    image: &'a StoredImage,
    opts: &'a ExportOptions,
}

impl Made<'_> {
    /// The complete raw disk in the scratch directory.
    fn raw_disk(&self, t: &mut Timings) -> Result<(PathBuf, ext4::ResetStats)> {
        let layout = &self.layout;
        let raw_path = self.work.join("disk.raw");
        let raw = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&raw_path)?;
        raw.set_len(layout.disk_size)?;

        let step = Instant::now();
        self.mkfs(&raw_path)?;
        t.mkfs_ms = ms(step);
        let step = Instant::now();
        let images = self.boot_loader(&raw_path)?;
        t.boot_ms = ms(step);

        let step = Instant::now();
        let reset = ext4::reset_times(&raw, layout.partition_offset(), self.epoch)
            .context("resetting inode times")?;
        t.reset_times_ms = ms(step);
        let step = Instant::now();
        gpt::write(&raw, layout, self.ids)?;
        if let (Some(core), Some(boot_img), Some(offset)) =
            (&images.core, &images.boot_img, layout.bios_boot_offset())
        {
            boot::bios::install(
                &raw,
                &std::fs::read(core)?,
                offset,
                gpt::BIOS_BOOT_SIZE,
                boot_img,
            )?;
        }
        raw.sync_all()?;
        t.gpt_ms = ms(step);
        Ok((raw_path, reset))
    }

    fn mkfs(&self, raw_path: &Path) -> Result<()> {
        let layout = &self.layout;
        let content = self.content;
        let mkfs = ext4::Mkfs {
            rootfs: self.rootfs,
            disk: raw_path,
            offset: layout.partition_offset(),
            size: layout.partition_size(),
            ids: self.ids,
            epoch: self.epoch,
            inodes: size::inode_count(content, layout.partition_size()),
            scratch: self.work,
        };
        match mkfs.run() {
            Err(e) if e.downcast_ref::<ext4::NoSpace>().is_some() => {
                let d = layout.disk_size;
                let minimum = minimum_size(content, layout.boot);
                Err(too_small(self.image, d, content, minimum.max(d + d / 4))
                    .context(format!("{e}")))
            }
            other => other,
        }
    }

    /// GRUB from the image, its configuration on the root file system, the ESP.
    fn boot_loader(&self, raw_path: &Path) -> Result<boot::grub::GrubImages> {
        let layout = &self.layout;
        if layout.boot == BootMode::None {
            return Ok(boot::grub::GrubImages::default());
        }
        let kernels = kernels::find(self.rootfs)?;
        let images = boot::grub::make(&boot::grub::MakeRequest {
            rootfs: self.rootfs,
            ids: self.ids,
            bios: layout.boot.bios(),
            uefi: layout.boot.uefi(),
            work: self.work,
            runtime: self.opts.runtime.as_deref().unwrap_or("runc"),
        })?;
        let title = image_title(self.image);
        let cfg = boot::config::grub_cfg(&boot::config::MenuInput {
            title: &title,
            kernels: &kernels,
            ids: self.ids,
            kernel_cmdline: &self.opts.kernel_cmdline,
        });
        boot::rootfile::write_grub_cfg(
            raw_path,
            layout.partition_offset(),
            self.rootfs,
            &cfg,
            self.epoch,
            self.work,
        )?;
        if let (Some(efi), Some(offset)) = (&images.efi, layout.esp_offset()) {
            boot::esp::Esp {
                disk: raw_path,
                offset,
                size: gpt::ESP_SIZE,
                volume_id: self.ids.esp_volume_id,
                epoch: self.epoch,
                bootx64: efi,
                scratch: self.work,
            }
            .make()?;
        }
        Ok(images)
    }
}

/// `name version` from the image's OCI annotations or labels, for boot menu titles.
fn image_title(image: &StoredImage) -> String {
    let labels = image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .unwrap_or_default();
    let name = labels
        .get("org.opencontainers.image.title")
        .cloned()
        .unwrap_or_else(|| "corebuild image".to_string());
    match labels.get("org.opencontainers.image.version") {
        Some(v) => format!("{name} {v}"),
        None => name,
    }
}

fn reused(image: &StoredImage, found: StoredDisk, start: Instant) -> DiskReport {
    DiskReport {
        image: image.digest.clone(),
        format: found.format,
        size: found.size,
        compression: found.compression,
        digest: found.blob.clone(),
        file_size: found.blob_size,
        artifact: Digest::try_from(found.manifest.digest()).expect("read from the store"),
        tag: found.tag,
        path: found.path,
        reused: true,
        boot: found.boot,
        ids: Some(DiskIds::of(&image.digest).for_boot(found.boot)),
        epoch: Some(epoch_of(image)),
        content: None,
        minimum_size: None,
        inodes_reset: None,
        timings: Timings {
            total_ms: ms(start),
            ..Timings::default()
        },
    }
}

fn too_small(image: &StoredImage, asked: u64, content: &Content, needed: u64) -> anyhow::Error {
    crate::error::input(format!(
        "a disk of {} is too small for {}: its {} files ({} of data) need a disk of at least {} \
         (ext4 metadata and journal included); ask for size = \"{}\" or more",
        size::human(asked),
        image.digest,
        content.inodes,
        size::human(content.file_bytes),
        size::human(needed),
        size::human(needed),
    ))
}

/// Proves a disk is safe to ship: the format and size we meant, no backing file, no
/// external data file, (qcow2, vmdk) a clean `qemu-img check`, and (vhd, vmdk) the
/// footer or descriptor we pinned.
pub fn verify(path: &Path, format: Format, size: u64) -> Result<()> {
    let name = qemu_img::format_name(format);
    let info = qemu_img::info(path, name)?;
    let mut problems = info.problems(name, size);
    problems.extend(formats::problems(path, format, size, &info)?);
    if matches!(format, Format::Qcow2 | Format::Vmdk) {
        let check = qemu_img::check_as(path, name)?;
        if !check.clean() {
            problems.push(format!(
                "qemu-img check found {} errors, {} corruptions, {} leaks",
                check.check_errors, check.corruptions, check.leaks
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::error::environment(format!(
            "the disk {} is not safe to ship: {}",
            path.display(),
            problems.join("; ")
        )))
    }
}

/// Hashes a finished disk file and renames it into the store's blob directory (it is
/// made in the store's scratch space, so this is a rename, and a raw disk stays sparse).
fn move_into_store(store: &OciDir, path: &Path) -> Result<(Digest, u64)> {
    let mut f = File::open(path)?;
    let mut w = HashingWriter::new(std::io::sink());
    std::io::copy(&mut f, &mut w)?;
    let (_, digest, size) = w.finish();
    f.sync_all()?;
    let dest = store.blob_path(&digest);
    if !dest.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))?;
        std::fs::rename(path, &dest)
            .with_context(|| format!("moving the disk into {}", dest.display()))?;
        if let Some(dir) = dest.parent() {
            File::open(dir)?.sync_all()?;
        }
    }
    Ok((digest, size))
}

/// Copies a stored disk to `out` (temp file, then rename), keeping zero runs as holes.
pub fn copy_out(from: &Path, out: &Path) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-disk-")
        .tempfile_in(dir)
        .with_context(|| format!("writing {}", out.display()))?;
    let mut src = File::open(from)?;
    let len = src.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    let f = tmp.as_file_mut();
    loop {
        let n = read_full(&mut src, &mut buf)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().all(|b| *b == 0) {
            f.seek(SeekFrom::Current(n as i64))?;
        } else {
            f.write_all(&buf[..n])?;
        }
    }
    f.set_len(len)?;
    f.sync_all()?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
    tmp.persist(out).map_err(|e| e.error)?;
    Ok(())
}

fn read_full(r: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The disks a blueprint's `[outputs]` asks for, made from the built image `digest`, each
/// at its size and boot mode. The image is flattened once for all of them (the store's
/// tree for its chain of layers).
pub fn export_outputs(
    store: &OciDir,
    digest: &Digest,
    outputs: &crate::blueprint::Outputs,
) -> Result<Vec<DiskReport>> {
    let disks = outputs.disks();
    if disks.is_empty() {
        return Ok(Vec::new());
    }
    let image = store
        .find_image(None, Some(digest))?
        .ok_or_else(|| crate::error::input(format!("image {digest} is not in the store")))?;
    let mut reports = Vec::new();
    for (format, d) in disks {
        // The flattened tree is the store's, made by the first export that needs it.
        let opts = ExportOptions::for_output(format, d);
        reports.push(
            export(store, &image, &opts)
                .with_context(|| format!("making the {} disk", format.as_str()))?,
        );
    }
    Ok(reports)
}

impl ExportOptions {
    /// The options for one `[outputs]` disk.
    pub fn for_output(format: Format, d: &crate::blueprint::DiskOutput) -> ExportOptions {
        ExportOptions {
            format,
            size: d.size_bytes.map(DiskSize::Bytes).unwrap_or_default(),
            boot: d.boot,
            kernel_cmdline: d.kernel_cmdline.clone(),
            ..ExportOptions::default()
        }
    }
}

/// Whether a stored disk is the one `opts` asks for.
fn matches(found: &StoredDisk, opts: &ExportOptions) -> bool {
    let size_ok = match opts.size {
        DiskSize::Auto => true,
        DiskSize::Bytes(b) => b == found.size,
    };
    let boot_ok = opts.boot.is_none_or(|b| b == found.boot);
    size_ok
        && boot_ok
        && found.compression == opts.compression
        && found.kernel_cmdline == opts.kernel_cmdline
}
