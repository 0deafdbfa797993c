//! The kernels an image carries: `/boot/vmlinuz-<version>` with its
//! `/boot/initrd.img-<version>`, newest first. Every path is resolved inside the image
//! root ([`RootFs`]), as the guest would see it: an image whose `/boot` is a link to
//! `/boot`, or whose kernel is a link to `/vmlinuz`, never reaches a file of the build host.

use crate::contract::rootfs::RootFs;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Largest kernel or initrd we accept (a guard against a hostile image, not a policy).
pub const MAX_BOOT_FILE: u64 = 1 << 30;

/// One bootable kernel of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// `6.1.0-28-cloud-amd64`: what follows `vmlinuz-`.
    pub version: String,
    /// In-image paths, as the bootloader reads them from the root file system.
    pub vmlinuz: String,
    pub initrd: String,
    /// Where those files are in the flattened tree on this machine (regular files).
    pub vmlinuz_host: PathBuf,
    pub initrd_host: PathBuf,
}

/// Every kernel under the image's `/boot` that has its initrd, newest first. An image
/// without any is an input error naming what to install.
pub fn find(rootfs: &Path) -> Result<Vec<Kernel>> {
    let fs = RootFs::new(rootfs);
    let boot = fs
        .lookup("/boot", true)
        .map_err(|e| crate::error::input(format!("the image's /boot cannot be read: {e}")))?;
    let names = match boot {
        Some(b) if b.meta.is_dir() => fs.list_dir(&b.image_path)?,
        _ => Vec::new(),
    };
    let mut versions: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix("vmlinuz-"))
        .filter(|v| is_plain_version(v))
        .collect();
    versions.sort_by(|a, b| natural_cmp(b, a));
    if versions.is_empty() {
        return Err(crate::error::input(
            "the image has no kernel (/boot/vmlinuz-*) to boot: install one \
             (e.g. packages = [\"linux-image-cloud-amd64\"]) or set boot = \"none\"",
        ));
    }
    let mut kernels = Vec::new();
    let mut missing = Vec::new();
    for v in versions {
        let vmlinuz = regular_file(&fs, &format!("/boot/vmlinuz-{v}"))?;
        match regular_file(&fs, &format!("/boot/initrd.img-{v}")) {
            Ok(initrd) => kernels.push(Kernel {
                version: v.to_string(),
                vmlinuz: format!("/boot/vmlinuz-{v}"),
                initrd: format!("/boot/initrd.img-{v}"),
                vmlinuz_host: vmlinuz,
                initrd_host: initrd,
            }),
            Err(_) => missing.push(v.to_string()),
        }
    }
    if kernels.is_empty() {
        return Err(crate::error::input(format!(
            "the image has /boot/vmlinuz-{v} but no /boot/initrd.img-{v}: its initramfs was \
             not made (install initramfs-tools before the kernel)",
            v = missing[0]
        )));
    }
    Ok(kernels)
}

/// Whether a kernel version is safe to write unquoted into a boot loader's configuration
/// (Debian's are `6.1.0-28-cloud-amd64`); a name with anything else is not a kernel we boot.
fn is_plain_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c))
}

/// The newest kernel (the one a disk boots by default).
pub fn newest(rootfs: &Path) -> Result<Kernel> {
    Ok(find(rootfs)?.remove(0))
}

/// Resolves `path` inside the image (following links as the guest would) and insists on
/// a regular file of a sane size: a device, a directory or a loop is an input error.
fn regular_file(fs: &RootFs<'_>, path: &str) -> Result<PathBuf> {
    let found = fs
        .lookup(path, true)
        .map_err(|e| crate::error::input(format!("{path} in the image: {e}")))?
        .ok_or_else(|| crate::error::input(format!("{path} is not in the image")))?;
    if !found.meta.is_file() {
        return Err(crate::error::input(format!(
            "{path} in the image is not a regular file"
        )));
    }
    if found.meta.len() > MAX_BOOT_FILE {
        return Err(crate::error::input(format!(
            "{path} in the image is {} bytes, more than any kernel or initrd should be",
            found.meta.len()
        )));
    }
    Ok(found.host)
}

/// Compares strings with digit runs as numbers (`6.1.0-10` after `6.1.0-9`).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| -> Vec<(bool, String)> {
        let mut parts: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let d = c.is_ascii_digit();
            match parts.last_mut() {
                Some((pd, p)) if *pd == d => p.push(c),
                _ => parts.push((d, c.to_string())),
            }
        }
        parts
    };
    let (pa, pb) = (split(a), split(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = if x.0 && y.0 {
            let (xs, ys) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
            xs.len().cmp(&ys.len()).then(xs.cmp(ys))
        } else {
            x.1.cmp(&y.1)
        };
        if o.is_ne() {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn boot_dir() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("boot")).unwrap();
        (t, root)
    }

    #[test]
    fn newest_first_and_each_needs_its_initrd() {
        let (_t, root) = boot_dir();
        let err = find(&root).unwrap_err().to_string();
        assert!(
            err.contains("no kernel") && err.contains("linux-image"),
            "{err}"
        );
        for v in [
            "6.1.0-9-amd64",
            "6.1.0-10-amd64",
            "5.10.0-1-amd64",
            "9 ; reboot",
        ] {
            std::fs::write(root.join(format!("boot/vmlinuz-{v}")), "k").unwrap();
        }
        let err = find(&root).unwrap_err().to_string();
        assert!(err.contains("initrd.img-6.1.0-10-amd64"), "{err}");
        for v in ["6.1.0-9-amd64", "6.1.0-10-amd64"] {
            std::fs::write(root.join(format!("boot/initrd.img-{v}")), "i").unwrap();
        }
        let ks = find(&root).unwrap();
        let vs: Vec<_> = ks.iter().map(|k| k.version.as_str()).collect();
        assert_eq!(vs, ["6.1.0-10-amd64", "6.1.0-9-amd64"]);
        assert_eq!(ks[0].vmlinuz, "/boot/vmlinuz-6.1.0-10-amd64");
        assert!(ks[0].initrd_host.starts_with(&root));
    }

    #[test]
    fn links_resolve_inside_the_image_never_on_the_host() {
        let (t, root) = boot_dir();
        // The host has a kernel; the image's /boot is a link to /boot.
        let host_boot = t.path().join("host-boot");
        std::fs::create_dir(&host_boot).unwrap();
        std::fs::remove_dir(root.join("boot")).unwrap();
        symlink("/boot", root.join("boot")).unwrap();
        let err = find(&root).unwrap_err().to_string();
        assert!(err.contains("/boot"), "{err}");
        // A kernel that is an absolute link resolves in the image, where it is missing.
        std::fs::remove_file(root.join("boot")).unwrap();
        std::fs::create_dir(root.join("boot")).unwrap();
        std::fs::write(host_boot.join("vmlinuz-9"), "host kernel").unwrap();
        symlink(host_boot.join("vmlinuz-9"), root.join("boot/vmlinuz-9")).unwrap();
        std::fs::write(root.join("boot/initrd.img-9"), "i").unwrap();
        let err = find(&root).unwrap_err().to_string();
        assert!(err.contains("not in the image"), "{err}");
        // A relative link inside the image is fine (Debian's /vmlinuz style).
        std::fs::remove_file(root.join("boot/vmlinuz-9")).unwrap();
        std::fs::write(root.join("boot/real"), "k").unwrap();
        symlink("real", root.join("boot/vmlinuz-9")).unwrap();
        assert_eq!(newest(&root).unwrap().vmlinuz_host, root.join("boot/real"));
    }

    #[test]
    fn natural_order_compares_numbers() {
        assert!(natural_cmp("6.1.0-10", "6.1.0-9").is_gt());
        assert!(natural_cmp("5.10", "6.1").is_lt());
    }
}
