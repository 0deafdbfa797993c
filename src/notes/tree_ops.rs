//! What one layer does to an image's file tree, as a list of operations: read once from
//! the layer's tar (every file hashed, the few kept files' bytes held) and kept in the
//! store (`cache/scan/tree-<layer blob hex>.json`), so that diffing and describing images
//! that share layers — every release of a core build shares its base — reads each layer
//! once per store. Replaying the operations gives the same tree as reading the tar.

use super::tree::{clean, open_layer, remove_tree, Node, Tree, KEEP, KEEP_LIMIT};
use crate::digest::{Digest, HashingWriter};
use crate::layer::{ApplyOptions, RawEntry, TarReader};
use crate::oci::{OciDir, StoredImage};
use anyhow::{Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::io::Read;

/// Bumped when the operations or their meaning change.
const FORMAT: u32 = 1;

/// A node's fields as the cache keeps them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeData {
    kind: String,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Op {
    /// An opaque whiteout: lower layers' entries below the directory go.
    Opaque(String),
    /// A whiteout: the path and everything below it go.
    Whiteout(String),
    /// An entry; `kept` holds the bytes (base64) of a file in [`KEEP`].
    Put {
        path: String,
        node: NodeData,
        kept: Option<String>,
    },
    /// A hard link to `target`; `node` stands in when the target is missing.
    Link {
        path: String,
        target: String,
        node: NodeData,
    },
}

/// One layer's operations and its uncompressed size.
#[derive(Debug, Serialize, Deserialize)]
pub struct LayerOps {
    format: u32,
    pub ops: Vec<Op>,
    pub size: u64,
}

/// The operations of layer `i` of `image`: from the store's cache, else read now (and
/// kept). A cache file that does not parse is read again, never trusted half.
pub fn layer_ops(store: &OciDir, image: &StoredImage, i: usize) -> Result<LayerOps> {
    let l = &image.manifest.layers()[i];
    let digest = Digest::try_from(l.digest())?;
    let path = store
        .root()
        .join("cache/scan")
        .join(format!("tree-{}.json", digest.hex()));
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(ops) = serde_json::from_slice::<LayerOps>(&bytes) {
            if ops.format == FORMAT {
                return Ok(ops);
            }
        }
    }
    let ops = read_ops(store, image, i).with_context(|| format!("reading layer {i} ({digest})"))?;
    std::fs::create_dir_all(path.parent().expect("under cache/scan"))?;
    crate::oci::write_atomic(&path, &serde_json::to_vec(&ops)?)?;
    Ok(ops)
}

/// Scans (and keeps) every layer of the image `digest` on a thread of its own, so that
/// the notes find the scans ready; dropping the handle waits for it. Errors are left
/// for the notes to meet and report when they read the same layers.
pub fn scan_ahead(store: &OciDir, digest: &Digest) -> ScanAhead {
    let store = store.clone();
    let digest = digest.clone();
    ScanAhead(Some(std::thread::spawn(move || {
        let _t = crate::profile::span(|| "notes: scan the layers ahead".into());
        if let Ok(Some(image)) = store.find_image(None, Some(&digest)) {
            for i in 0..image.manifest.layers().len() {
                if layer_ops(&store, &image, i).is_err() {
                    return;
                }
            }
        }
    })))
}

/// The thread [`scan_ahead`] started; joined when dropped.
pub struct ScanAhead(Option<std::thread::JoinHandle<()>>);

impl Drop for ScanAhead {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = t.join();
        }
    }
}

fn read_ops(store: &OciDir, image: &StoredImage, i: usize) -> Result<LayerOps> {
    let (_, layer) = open_layer(store, image, i)?;
    let counted = crate::digest::HashingReader::new(layer);
    // Untrusted (a pulled previous release, an imported base): the bounded reader.
    let mut tar = TarReader::bounded(counted, &ApplyOptions::default());
    let mut ops = Vec::new();
    while let Some(e) = tar.next_entry()? {
        ops.push(op(&mut tar, &e)?);
    }
    tar.drain()?;
    Ok(LayerOps {
        format: FORMAT,
        ops,
        size: tar.into_inner().finish().1,
    })
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

fn op<R: Read>(tar: &mut TarReader<R>, e: &RawEntry) -> Result<Op> {
    let path = clean(&String::from_utf8_lossy(&e.name));
    let (dir, base) = match path.rsplit_once('/') {
        Some((d, b)) => (d.to_string(), b.to_string()),
        None => (String::new(), path.clone()),
    };
    if base == ".wh..wh..opq" {
        return Ok(Op::Opaque(dir));
    }
    if let Some(victim) = base.strip_prefix(".wh.") {
        let target = if dir.is_empty() {
            victim.to_string()
        } else {
            format!("{dir}/{victim}")
        };
        return Ok(Op::Whiteout(target));
    }
    let kind = kind(e);
    let mut kept = None;
    let content = match kind {
        "file" if KEEP.contains(&path.as_str()) => {
            let mut hw = HashingWriter::new(Vec::new());
            std::io::copy(&mut tar.data().take(KEEP_LIMIT + 1), &mut hw)?;
            let (bytes, d, n) = hw.finish();
            if n > KEEP_LIMIT {
                return Err(crate::error::input(format!(
                    "/{path} is larger than {} MiB",
                    KEEP_LIMIT >> 20
                )));
            }
            kept = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
            d.to_string()
        }
        "file" => {
            let mut hw = HashingWriter::new(std::io::sink());
            std::io::copy(&mut tar.data(), &mut hw)?;
            hw.finish().1.to_string()
        }
        "symlink" | "hardlink" => String::from_utf8_lossy(&e.link).into_owned(),
        _ => String::new(),
    };
    let node = NodeData {
        kind: kind.to_string(),
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        size: e.size,
        content,
    };
    Ok(if kind == "hardlink" {
        Op::Link {
            path,
            target: clean(&node.content),
            node,
        }
    } else {
        Op::Put { path, node, kept }
    })
}

fn static_kind(k: &str) -> &'static str {
    match k {
        "file" => "file",
        "dir" => "dir",
        "symlink" => "symlink",
        "hardlink" => "hardlink",
        "fifo" => "fifo",
        _ => "other",
    }
}

fn node(d: &NodeData, layer: usize) -> Node {
    Node {
        kind: static_kind(&d.kind),
        mode: d.mode,
        uid: d.uid,
        gid: d.gid,
        size: d.size,
        content: d.content.clone(),
        origin: (layer, None),
    }
}

/// Applies layer `layer`'s operations to `tree`.
pub fn replay(tree: &mut Tree, ops: &[Op], layer: usize) {
    let mut opaque_here: Vec<&str> = Vec::new();
    let mut added_here: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for op in ops {
        match op {
            Op::Opaque(dir) => opaque_here.push(dir),
            Op::Whiteout(target) => remove_tree(tree, target),
            Op::Put {
                path,
                node: d,
                kept,
            } => {
                if d.kind != "dir" {
                    // A non-directory replaces whatever was there, including a tree.
                    remove_tree(tree, path);
                }
                if let Some(b) = kept {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .unwrap_or_default();
                    tree.kept.insert(path.clone(), bytes);
                }
                tree.nodes.insert(path.clone(), node(d, layer));
                added_here.insert(path.as_str());
            }
            Op::Link {
                path,
                target,
                node: d,
            } => {
                remove_tree(tree, path);
                // A hard link shares its target's content: record it as that file. Its
                // bytes stay where the target's are (the target's own layer and path).
                let n = match tree.nodes.get(target).cloned() {
                    Some(mut t) => {
                        if t.origin.1.is_none() {
                            t.origin.1 = Some(target.clone());
                        }
                        t
                    }
                    None => node(d, layer),
                };
                tree.nodes.insert(path.clone(), n);
                added_here.insert(path.as_str());
            }
        }
    }
    // Opaque directories drop what lower layers had below them, not this layer's entries.
    for dir in opaque_here {
        let prefix = format!("{dir}/");
        let lower: Vec<String> = tree
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .filter(|k| !added_here.contains(k.as_str()))
            .collect();
        for k in lower {
            tree.nodes.remove(&k);
        }
    }
}
