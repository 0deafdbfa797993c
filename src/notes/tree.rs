//! The file tree of an image, computed from its layers without unpacking: each layer's
//! tar is read in order and whiteouts applied to an in-memory map of path → metadata and
//! content digest. Used to diff two images and to read small files (the dpkg database).

use crate::digest::{Digest, HashingWriter};
use crate::layer::{self, Compression};
use crate::oci::{OciDir, StoredImage};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::Read;

/// Files we keep the bytes of while walking, for later parsing.
const KEEP: &[&str] = &[
    "var/lib/dpkg/status",
    "etc/os-release",
    "usr/lib/os-release",
];

/// What one path is in the flattened image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// `file`, `dir`, `symlink`, `hardlink`, `fifo`, `other`.
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Content digest of regular files; link target of links.
    pub content: String,
}

#[derive(Debug, Default)]
pub struct Tree {
    pub nodes: BTreeMap<String, Node>,
    /// The bytes of the few files in `KEEP`, as the top layer has them.
    pub kept: BTreeMap<String, Vec<u8>>,
    /// Uncompressed size of each layer's tar, in order.
    pub layer_sizes: Vec<u64>,
}

impl Tree {
    pub fn dpkg_status(&self) -> Option<&[u8]> {
        self.kept.get("var/lib/dpkg/status").map(Vec::as_slice)
    }

    /// The total size of regular file content.
    pub fn content_size(&self) -> u64 {
        self.nodes
            .values()
            .filter(|n| n.kind == "file")
            .map(|n| n.size)
            .sum()
    }
}

fn clean(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Reads every layer of `image` from `store` into a tree.
pub fn read_tree(store: &OciDir, image: &StoredImage) -> Result<Tree> {
    let mut tree = Tree::default();
    for (i, l) in image.manifest.layers().iter().enumerate() {
        let digest = Digest::try_from(l.digest())?;
        let compression =
            Compression::from_media_type(l.media_type().as_ref()).ok_or_else(|| {
                crate::error::input(format!(
                    "layer {i}: unsupported media type {}",
                    l.media_type()
                ))
            })?;
        let blob = store.open_blob(&digest, Some(l.size()))?;
        let mut counted = crate::digest::HashingReader::new(layer::decompress(compression, blob));
        apply(&mut tree, &mut counted).with_context(|| format!("reading layer {i} ({digest})"))?;
        std::io::copy(&mut counted, &mut std::io::sink())?;
        tree.layer_sizes.push(counted.finish().1);
    }
    Ok(tree)
}

fn apply(tree: &mut Tree, r: &mut dyn Read) -> Result<()> {
    let mut archive = tar::Archive::new(r);
    let mut opaque_here: Vec<String> = Vec::new();
    let mut added_here: std::collections::HashSet<String> = std::collections::HashSet::new();
    for entry in archive.entries()? {
        let mut e = entry?;
        let path = clean(&String::from_utf8_lossy(&e.path_bytes()));
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_string(), b.to_string()),
            None => (String::new(), path.clone()),
        };
        if base == ".wh..wh..opq" {
            opaque_here.push(dir);
            continue;
        }
        if let Some(victim) = base.strip_prefix(".wh.") {
            let target = if dir.is_empty() {
                victim.to_string()
            } else {
                format!("{dir}/{victim}")
            };
            remove_tree(tree, &target);
            continue;
        }
        let h = e.header();
        let kind = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => "file",
            tar::EntryType::Directory => "dir",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Link => "hardlink",
            tar::EntryType::Fifo => "fifo",
            _ => "other",
        };
        let (mode, uid, gid, size) = (h.mode()?, h.uid()?, h.gid()?, h.size()?);
        if kind != "dir" {
            // A non-directory replaces whatever was there, including a directory tree.
            remove_tree(tree, &path);
        }
        let content = match kind {
            "file" => {
                let mut hw = HashingWriter::new(Vec::new());
                let keep = KEEP.contains(&path.as_str());
                if keep {
                    std::io::copy(&mut e, &mut hw)?;
                    let (bytes, d, _) = hw.finish();
                    tree.kept.insert(path.clone(), bytes);
                    d.to_string()
                } else {
                    let mut hw = HashingWriter::new(std::io::sink());
                    std::io::copy(&mut e, &mut hw)?;
                    hw.finish().1.to_string()
                }
            }
            "symlink" | "hardlink" => e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        if kind == "hardlink" {
            // A hard link shares its target's content: record it as that file.
            if let Some(t) = tree.nodes.get(&clean(&content)).cloned() {
                tree.nodes.insert(path.clone(), t);
                added_here.insert(path);
                continue;
            }
        }
        tree.nodes.insert(
            path.clone(),
            Node {
                kind,
                mode,
                uid,
                gid,
                size,
                content,
            },
        );
        added_here.insert(path);
    }
    // Opaque directories drop what lower layers had below them, not this layer's entries.
    for dir in opaque_here {
        let prefix = format!("{dir}/");
        let lower: Vec<String> = tree
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .filter(|k| !added_here.contains(k))
            .collect();
        for k in lower {
            tree.nodes.remove(&k);
        }
    }
    Ok(())
}

fn remove_tree(tree: &mut Tree, path: &str) {
    tree.nodes.remove(path);
    tree.kept.remove(path);
    let prefix = format!("{path}/");
    let below: Vec<String> = tree
        .nodes
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in below {
        tree.nodes.remove(&k);
    }
}
