//! The file tree of an image, computed from its layers without unpacking: each layer's
//! tar is read in order and whiteouts applied to an in-memory map of path → metadata and
//! content digest. Used to diff two images and to read small files (the dpkg database);
//! once the tree is known, `tree_files::read_files` reads chosen files' bytes in a second
//! pass over only the layers that hold them (changelogs, too many to keep on the first).
//! Reading a layer is in [`super::tree_ops`], which keeps what each layer does per store.

use crate::digest::Digest;
use crate::layer::{self, Compression};
use crate::oci::{OciDir, StoredImage};
use anyhow::Result;
use std::collections::BTreeMap;
use std::io::Read;

/// Files we keep the bytes of while walking, for later parsing.
pub(crate) const KEEP: &[&str] = &[
    "var/lib/dpkg/status",
    "etc/os-release",
    "usr/lib/os-release",
];

/// The largest of those files we hold in memory.
pub(crate) const KEEP_LIMIT: u64 = 256 << 20;

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

/// Reads every layer of `image` from `store` into a tree. Each layer is read once per
/// store: what it does to a tree is kept in `cache/scan/` (see [`super::tree_ops`]).
pub fn read_tree(store: &OciDir, image: &StoredImage) -> Result<Tree> {
    let mut tree = Tree::default();
    for i in 0..image.manifest.layers().len() {
        let scan = super::tree_ops::layer_ops(store, image, i)?;
        super::tree_ops::replay(&mut tree, &scan.ops, i);
        tree.layer_sizes.push(scan.size);
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

pub(crate) fn remove_tree(tree: &mut Tree, path: &str) {
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
