//! The EFI system partition, made in place inside the raw disk without a loop device or a
//! mount: `mkfs.fat --offset` formats the partition's sectors as FAT32 with a volume id
//! derived from the image digest, then `mcopy -i disk@@OFFSET` copies a staging tree in.
//!
//! Reproducibly: `--invariant` (before `-i`, or the id resets) pins what mkfs.fat would
//! take from the clock; FAT stores local time, so mcopy runs with `TZ=UTC` and the staging
//! tree's times are the image epoch (`-m` keeps them); names are 8.3 upper case, so no
//! long-name entries (whose short-name tails depend on insertion order) are made.

use crate::tool;
use anyhow::{Context, Result};
use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The FAT volume label; `/etc/fstab` of a core build may mount `LABEL=ESP`.
pub const LABEL: &str = "ESP";

/// One ESP to make.
pub struct Esp<'a> {
    pub disk: &'a Path,
    /// Byte offset and size of the partition.
    pub offset: u64,
    pub size: u64,
    pub volume_id: u32,
    pub epoch: u64,
    /// The UEFI GRUB image, installed as the removable-media path `EFI/BOOT/BOOTX64.EFI`
    /// (no NVRAM entry needed).
    pub bootx64: &'a Path,
    /// A scratch directory for the staging tree.
    pub scratch: &'a Path,
}

impl Esp<'_> {
    pub fn make(&self) -> Result<()> {
        let mut mkfs = Command::new("mkfs.fat");
        mkfs.env("TZ", "UTC")
            .args([
                "-F",
                "32",
                "-s",
                "1",
                "-S",
                "512",
                "-n",
                LABEL,
                "--invariant",
            ])
            .arg("-i")
            .arg(format!("{:08x}", self.volume_id))
            .arg(format!("--offset={}", self.offset / 512))
            .arg(self.disk)
            .arg((self.size / 1024).to_string());
        tool::run(&mut mkfs).context("formatting the EFI system partition")?;
        let staging = self.stage()?;
        let mut mcopy = Command::new("mcopy");
        mcopy
            .env("TZ", "UTC")
            .env("MTOOLS_SKIP_CHECK", "1")
            .env_remove("MTOOLSRC")
            .args(["-s", "-m", "-Q", "-i"])
            .arg(format!("{}@@{}", self.disk.display(), self.offset))
            .arg(staging.join("EFI"))
            .arg("::/");
        tool::run(&mut mcopy).context("copying the boot loader onto the EFI system partition")?;
        Ok(())
    }

    /// `EFI/BOOT/BOOTX64.EFI` under the scratch directory, every time the epoch.
    fn stage(&self) -> Result<std::path::PathBuf> {
        let root = self.scratch.join("esp");
        let boot = root.join("EFI/BOOT");
        std::fs::create_dir_all(&boot)?;
        let file = boot.join("BOOTX64.EFI");
        std::fs::copy(self.bootx64, &file)?;
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(self.epoch);
        for p in [file.as_path(), boot.as_path(), &root.join("EFI")] {
            File::open(p)?
                .set_modified(t)
                .with_context(|| format!("setting the time of {}", p.display()))?;
        }
        Ok(root)
    }
}
