//! Flattened chains of layers: the root filesystem a `run` or `packages` layer runs over,
//! the tree contract tests read and the tree a disk is made from. One tree per chain of
//! diff_ids, kept in the store's cache (`cache/rootfs/<chain id>`) and shared by build,
//! test and disk export.
//!
//! A new chain starts from the longest chain already flattened below it: that tree is
//! copied as hard links (directories are made anew, with their metadata) and only the
//! layers above it are applied. The safe apply never writes into an existing file: it
//! replaces files, symlinks and FIFOs (unlink, create) and changes only directories in
//! place, and directories are never shared, so no tree changes another. Callers must not
//! modify a tree.

use crate::build::unpack;
use crate::digest::Digest;
use crate::layer::ApplyOptions;
use crate::oci::OciDir;
use anyhow::{Context, Result};
use oci_spec::image::Descriptor;
use std::path::{Path, PathBuf};

/// The chain id of a list of diff_ids: one digest naming the whole stack.
pub fn chain_id(diff_ids: &[String]) -> Digest {
    Digest::of_bytes(diff_ids.join("\n").as_bytes())
}

/// The cache directory of flattened trees.
pub fn trees_dir(store: &OciDir) -> PathBuf {
    store.root().join("cache/rootfs")
}

/// Returns a directory holding the flattened `layers` (with their diff_ids), making it
/// when the cache has none. Callers must not modify the directory.
pub fn flattened(store: &OciDir, layers: &[Descriptor], diff_ids: &[String]) -> Result<PathBuf> {
    let parent = trees_dir(store);
    let dir = parent.join(chain_id(diff_ids).hex());
    if dir.is_dir() {
        touch(&dir);
        return Ok(dir);
    }
    std::fs::create_dir_all(&parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-rootfs-")
        .tempdir_in(&parent)?;
    let target = tmp.path().join("rootfs");
    let from = (1..diff_ids.len()).rev().find_map(|n| {
        let d = parent.join(chain_id(&diff_ids[..n]).hex());
        d.is_dir().then_some((n, d))
    });
    let start = match &from {
        Some((n, below)) => {
            let _t = crate::profile::span(|| format!("rootfs: link the tree of {n} layers"));
            link_tree(below, &target)
                .with_context(|| format!("copying {} as hard links", below.display()))?;
            *n
        }
        None => 0,
    };
    let opts = ApplyOptions {
        devices: crate::layer::DevicePolicy::Skip,
        ..ApplyOptions::default()
    };
    let _t = crate::profile::span(|| format!("rootfs: apply {} layers", layers.len() - start));
    unpack::unpack_layers(store, &layers[start..], &diff_ids[start..], &target, &opts)
        .with_context(|| format!("flattening the layers ({})", chain_id(diff_ids)))?;
    match std::fs::rename(&target, &dir) {
        Ok(()) => Ok(dir),
        // Another build made the same tree meanwhile: the same content, keep theirs.
        Err(_) if dir.is_dir() => Ok(dir),
        Err(e) => Err(e).with_context(|| format!("keeping the tree at {}", dir.display())),
    }
}

/// Marks a tree as just used (`corebuild gc` removes the least recently used first).
fn touch(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Copies the tree `from` to `to` (which must not exist): directories are created with
/// the same owner, mode and mtime; everything else is hard-linked, symlinks included
/// (never followed).
pub fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let md = std::fs::symlink_metadata(from)?;
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&src, &dst)?;
        } else {
            std::fs::hard_link(&src, &dst)?;
        }
    }
    std::os::unix::fs::lchown(to, Some(md.uid()), Some(md.gid()))?;
    std::fs::set_permissions(
        to,
        std::os::unix::fs::PermissionsExt::from_mode(md.mode() & 0o7777),
    )?;
    let mtime = std::time::UNIX_EPOCH
        + std::time::Duration::new(md.mtime().max(0) as u64, md.mtime_nsec().max(0) as u32);
    std::fs::File::open(to)?.set_modified(mtime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn a_linked_tree_has_the_same_entries_and_shares_only_non_directories() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        std::fs::create_dir_all(a.join("etc/sub")).unwrap();
        std::fs::write(a.join("etc/motd"), b"hi").unwrap();
        std::os::unix::fs::symlink("/nowhere", a.join("etc/dangling")).unwrap();
        std::os::unix::fs::symlink("..", a.join("etc/sub/up")).unwrap();
        std::fs::set_permissions(a.join("etc/sub"), PermissionsExt::from_mode(0o1750)).unwrap();
        std::fs::File::open(a.join("etc/sub"))
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
            .unwrap();
        let b = t.path().join("b");
        link_tree(&a, &b).unwrap();

        let md = |p: &Path| std::fs::symlink_metadata(p).unwrap();
        assert_eq!(md(&b.join("etc/motd")).ino(), md(&a.join("etc/motd")).ino());
        assert_eq!(
            std::fs::read_link(b.join("etc/dangling")).unwrap(),
            Path::new("/nowhere")
        );
        assert_eq!(
            std::fs::read_link(b.join("etc/sub/up")).unwrap(),
            Path::new("..")
        );
        let (da, db) = (md(&a.join("etc/sub")), md(&b.join("etc/sub")));
        assert_ne!(da.ino(), db.ino(), "directories are never shared");
        assert_eq!(db.mode() & 0o7777, 0o1750);
        assert_eq!(db.mtime(), 1_000_000);
        // Replacing a file in the copy (as the apply does: unlink, create) leaves the
        // original alone.
        std::fs::remove_file(b.join("etc/motd")).unwrap();
        std::fs::write(b.join("etc/motd"), b"changed").unwrap();
        assert_eq!(std::fs::read(a.join("etc/motd")).unwrap(), b"hi");
    }
}
