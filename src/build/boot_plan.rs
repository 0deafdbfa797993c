//! The plan-time check of a blueprint's bootable disks: before anything is built, the
//! image-to-be must carry a kernel and the GRUB packages each asked-for boot mode needs.
//! What it will carry is known from package names alone: the base's dpkg database, the
//! blueprint's `packages` layers and the lock's pins (dependencies included). The export
//! checks the files themselves again, inside the built image.

use crate::blueprint::{Blueprint, Layer};
use crate::disk::boot::requirements;
use crate::oci::{OciDir, StoredImage};
use anyhow::Result;
use std::collections::BTreeSet;

/// Fails (exit 2) when a disk of `bp` asks for a boot mode the image cannot have.
/// A disk that leaves `boot` to the default gets BIOS and UEFI when the image will have a
/// kernel, so it needs GRUB for both.
pub fn check(store: &OciDir, bp: &Blueprint, base: &StoredImage) -> Result<()> {
    let disks = bp.outputs.disks();
    if disks.is_empty() {
        return Ok(());
    }
    let have = package_names(store, bp, base)?;
    let kernel = have.iter().any(|p| p.starts_with("linux-image-"));
    let mut modes = bp.outputs.explicit_boot_modes();
    if kernel && disks.iter().any(|(_, d)| d.boot.is_none()) {
        modes.push(crate::disk::BootMode::BiosUefi);
    }
    let place = format!("{} [outputs]", crate::blueprint::display_path(&bp.path));
    for m in modes {
        requirements::check_packages(m, &have, &place)?;
    }
    Ok(())
}

fn package_names(store: &OciDir, bp: &Blueprint, base: &StoredImage) -> Result<BTreeSet<String>> {
    let mut have = BTreeSet::new();
    if let Some(status) = crate::sbom::dpkg_status(store, base)? {
        have.extend(
            crate::debian::dpkg::parse(&String::from_utf8_lossy(&status))
                .into_iter()
                .filter(|r| r.installed())
                .map(|r| r.package),
        );
    }
    for layer in &bp.layers {
        if let Layer::Packages(ps) = layer {
            have.extend(ps.packages.iter().map(|p| p.name.clone()));
        }
    }
    if let Some(lock) = &bp.lock {
        have.extend(lock.packages.iter().map(|p| p.name.clone()));
    }
    Ok(have)
}
