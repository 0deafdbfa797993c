//! The file tree of an image, computed from its layers without unpacking: each layer's
//! tar is read in order and whiteouts applied to an in-memory map of path → metadata and
//! content digest. Used to diff two images and to read small files (the dpkg database);
//! once the tree is known, `tree_files::read_files` reads chosen files' bytes in a second
//! pass over only the layers that hold them (changelogs, too many to keep on the first).

use crate::digest::{Digest, HashingWriter};
use crate::layer::{self, ApplyOptions, Compression, RawEntry, TarReader};
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

/// The largest of those files we hold in memory.
const KEEP_LIMIT: u64 = 256 << 20;

/// What one path is in the flattened image. Equality (what a diff compares) leaves out
/// where the bytes are.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Node {
    /// `file`, `dir`, `symlink`, `hardlink`, `fifo`, `other`.
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Content digest of regular files; link target of links.
    pub content: String,
    /// Where a regular file's bytes are: the layer, and the tar path that carries them
    /// when it is not this node's own (a hard link's target).
    #[serde(skip)]
    pub origin: (usize, Option<String>),
}

impl PartialEq for Node {
    fn eq(&self, o: &Self) -> bool {
        (
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.size,
            &self.content,
        ) == (o.kind, o.mode, o.uid, o.gid, o.size, &o.content)
    }
}

impl Eq for Node {}

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

pub(crate) fn clean(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Reads every layer of `image` from `store` into a tree.
pub fn read_tree(store: &OciDir, image: &StoredImage) -> Result<Tree> {
    let mut tree = Tree::default();
    for i in 0..image.manifest.layers().len() {
        let (digest, layer) = open_layer(store, image, i)?;
        let counted = crate::digest::HashingReader::new(layer);
        // Untrusted (a pulled previous release, an imported base): the bounded reader.
        let mut tar = TarReader::bounded(counted, &ApplyOptions::default());
        apply(&mut tree, &mut tar, i).with_context(|| format!("reading layer {i} ({digest})"))?;
        tar.drain()?;
        tree.layer_sizes.push(tar.into_inner().finish().1);
    }
    Ok(tree)
}

/// The decompressed tar stream of layer `i` of `image`.
pub(crate) fn open_layer(
    store: &OciDir,
    image: &StoredImage,
    i: usize,
) -> Result<(Digest, impl Read)> {
    let l = &image.manifest.layers()[i];
    let digest = Digest::try_from(l.digest())?;
    let compression = Compression::from_media_type(l.media_type().as_ref()).ok_or_else(|| {
        crate::error::input(format!(
            "layer {i}: unsupported media type {}",
            l.media_type()
        ))
    })?;
    let blob = store.open_blob(&digest, Some(l.size()))?;
    Ok((digest, layer::decompress(compression, blob)))
}

/// The kind of node an entry makes.
fn kind(e: &RawEntry) -> &'static str {
    match e.typeflag {
        _ if e.is_file() => "file",
        b'0' | b'\0' | b'7' | b'5' => "dir",
        b'2' => "symlink",
        b'1' => "hardlink",
        b'6' => "fifo",
        _ => "other",
    }
}

fn apply<R: Read>(tree: &mut Tree, tar: &mut TarReader<R>, layer: usize) -> Result<()> {
    let mut opaque_here: Vec<String> = Vec::new();
    let mut added_here: std::collections::HashSet<String> = std::collections::HashSet::new();
    while let Some(e) = tar.next_entry()? {
        let path = clean(&String::from_utf8_lossy(&e.name));
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
        let kind = kind(&e);
        let (mode, uid, gid, size) = (e.mode, e.uid, e.gid, e.size);
        if kind != "dir" {
            // A non-directory replaces whatever was there, including a directory tree.
            remove_tree(tree, &path);
        }
        let content = match kind {
            "file" => {
                let mut hw = HashingWriter::new(Vec::new());
                let keep = KEEP.contains(&path.as_str());
                if keep {
                    std::io::copy(&mut tar.data().take(KEEP_LIMIT + 1), &mut hw)?;
                    let (bytes, d, n) = hw.finish();
                    if n > KEEP_LIMIT {
                        return Err(crate::error::input(format!(
                            "/{path} is larger than {} MiB",
                            KEEP_LIMIT >> 20
                        )));
                    }
                    tree.kept.insert(path.clone(), bytes);
                    d.to_string()
                } else {
                    let mut hw = HashingWriter::new(std::io::sink());
                    std::io::copy(&mut tar.data(), &mut hw)?;
                    hw.finish().1.to_string()
                }
            }
            "symlink" | "hardlink" => String::from_utf8_lossy(&e.link).into_owned(),
            _ => String::new(),
        };
        if kind == "hardlink" {
            // A hard link shares its target's content: record it as that file.
            // Its bytes stay where the target's are (the target's own layer and path).
            let target = clean(&content);
            if let Some(mut t) = tree.nodes.get(&target).cloned() {
                if t.origin.1.is_none() {
                    t.origin.1 = Some(target);
                }
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
                origin: (layer, None),
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
