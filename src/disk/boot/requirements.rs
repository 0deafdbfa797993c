//! What an image must carry to be made into a disk of a boot mode, checked twice: at
//! plan time from package names (the base's dpkg database and the blueprint's packages
//! and pins), so a blueprint that cannot work fails before anything is built; and at
//! export time from the files themselves, resolved inside the image root.

use super::BootMode;
use crate::contract::rootfs::RootFs;
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

/// The Debian package that ships GRUB for UEFI, and the file that proves it is there.
pub const UEFI_PACKAGE: &str = "grub-efi-amd64-bin";
const UEFI_FILE: &str = "/usr/lib/grub/x86_64-efi/moddep.lst";
/// The Debian package that ships GRUB for BIOS, and its files.
pub const BIOS_PACKAGE: &str = "grub-pc-bin";
const BIOS_FILE: &str = "/usr/lib/grub/i386-pc/moddep.lst";
/// grub-mkimage itself (a dependency of both).
const MKIMAGE: &str = "/usr/bin/grub-mkimage";
const MKIMAGE_PACKAGE: &str = "grub-common";

/// The packages a boot mode needs, besides a kernel.
pub fn packages(mode: BootMode) -> Vec<&'static str> {
    let mut v = Vec::new();
    if mode.bios() {
        v.push(BIOS_PACKAGE);
    }
    if mode.uefi() {
        v.push(UEFI_PACKAGE);
    }
    v
}

/// Plan time: `have` is every package name the image will hold (the base's installed
/// packages, the blueprint's `packages` and the lock's pins). A missing boot loader
/// package or kernel is an input error naming what to add.
pub fn check_packages(mode: BootMode, have: &BTreeSet<String>, where_: &str) -> Result<()> {
    let mut missing: Vec<String> = packages(mode)
        .into_iter()
        .filter(|p| !have.contains(*p))
        .map(|p| format!("{p:?}"))
        .collect();
    if mode != BootMode::None && !have.iter().any(|p| p.starts_with("linux-image-")) {
        missing.push("a kernel such as \"linux-image-cloud-amd64\"".into());
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(crate::error::input(format!(
        "{where_}: boot = \"{mode}\" needs a kernel and GRUB in the image: add {} to a \
         packages layer (or set boot = \"none\")",
        missing.join(" and ")
    )))
}

/// Export time: the files a boot mode reads from the image, and its kernels.
pub fn check_image(mode: BootMode, rootfs: &Path) -> Result<()> {
    let fs = RootFs::new(rootfs);
    let mut needs = Vec::new();
    if mode.uefi() {
        needs.push((UEFI_FILE, UEFI_PACKAGE));
    }
    if mode.bios() {
        needs.push((BIOS_FILE, BIOS_PACKAGE));
    }
    // grub-common comes with either; name it only if the image somehow lacks it.
    needs.push((MKIMAGE, MKIMAGE_PACKAGE));
    for (file, package) in needs {
        let found = fs.lookup(file, true)?;
        if !found.is_some_and(|f| f.meta.is_file()) {
            return Err(crate::error::input(format!(
                "boot = \"{mode}\" needs {file} in the image: add {package:?} to a packages \
                 layer of the blueprint (or set boot = \"none\")"
            )));
        }
    }
    crate::disk::kernels::find(rootfs).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plan_time_names_each_missing_package() {
        let err = check_packages(BootMode::Uefi, &set(&["linux-image-cloud-amd64"]), "bp")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"grub-efi-amd64-bin\""), "{err}");
        assert!(!err.contains("grub-pc-bin\" and"), "{err}");
        let err = check_packages(
            BootMode::BiosUefi,
            &set(&["grub-efi-amd64-bin", "grub-pc-bin"]),
            "bp",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("linux-image-cloud-amd64"), "{err}");
        check_packages(
            BootMode::BiosUefi,
            &set(&[
                "grub-efi-amd64-bin",
                "grub-pc-bin",
                "linux-image-6.1.0-28-amd64",
            ]),
            "bp",
        )
        .unwrap();
        check_packages(BootMode::None, &set(&[]), "bp").unwrap();
    }

    #[test]
    fn export_time_reads_the_files_inside_the_image() {
        let t = tempfile::tempdir().unwrap();
        let r = &t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(outside.join("i386-pc")).unwrap();
        std::fs::write(outside.join("i386-pc/moddep.lst"), "").unwrap();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::write(r.join("usr/bin/grub-mkimage"), "").unwrap();
        let err = check_image(BootMode::Uefi, r).unwrap_err().to_string();
        assert!(err.contains("grub-efi-amd64-bin"), "{err}");
        // A link out of the image does not count, whatever the host has.
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink(&outside, r.join("usr/lib/grub")).unwrap();
        let err = check_image(BootMode::Bios, r).unwrap_err().to_string();
        assert!(err.contains("grub-pc-bin"), "{err}");
    }
}
