//! Reading chosen files' bytes from an image whose tree is known: each path is resolved
//! inside the tree (symlinks followed, a bounded number of hops, `..` never above the
//! root), then a second pass reads only the layers that hold the resolved files, through
//! the bounded tar reader, and keeps bytes only when they hash to what the tree says the
//! top layer has.

use crate::digest::HashingWriter;
use crate::layer::{ApplyOptions, TarReader};
use crate::notes::tree::{clean, open_layer, Tree};
use crate::oci::{OciDir, StoredImage};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::Read;

/// The most symlinks one lookup follows (Linux's own limit).
pub const MAX_HOPS: usize = 40;

/// The tree path of the regular file `path` names, following symlinks inside the tree,
/// or `None` (missing, not a regular file, a symlink loop). A directory the layers never
/// named (a tar without directory entries) is walked through.
pub fn resolve(tree: &Tree, path: &str) -> Option<String> {
    let mut todo: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => done.push(c),
        }
        let Some(node) = tree.nodes.get(&done.join("/")) else {
            continue;
        };
        if node.kind == "symlink" {
            hops += 1;
            if hops > MAX_HOPS {
                return None;
            }
            done.pop();
            if node.content.starts_with('/') {
                done.clear();
            }
            todo.extend(node.content.split('/').rev().map(str::to_string));
        }
    }
    let here = done.join("/");
    (tree.nodes.get(&here)?.kind == "file").then_some(here)
}

/// The bytes of each of `paths` that names a regular file of the image (after symlinks),
/// keyed by the path as asked (without its leading `/`). A file larger than `limit` is an
/// error naming it; a path that names nothing is left out.
pub fn read_files(
    store: &OciDir,
    image: &StoredImage,
    tree: &Tree,
    paths: &[String],
    limit: u64,
) -> Result<BTreeMap<String, Vec<u8>>> {
    // layer → tar path → (asked path, expected digest)
    let mut want: BTreeMap<usize, BTreeMap<String, Vec<(String, String)>>> = BTreeMap::new();
    for p in paths {
        let Some(r) = resolve(tree, p) else {
            continue;
        };
        let node = &tree.nodes[&r];
        if node.size > limit {
            return Err(crate::error::input(format!(
                "/{} is larger than {} MiB",
                clean(p),
                limit >> 20
            )));
        }
        let at = node.origin.1.clone().unwrap_or(r);
        want.entry(node.origin.0)
            .or_default()
            .entry(at)
            .or_default()
            .push((clean(p), node.content.clone()));
    }
    let mut out = BTreeMap::new();
    for (i, files) in want {
        let (digest, layer) = open_layer(store, image, i)?;
        read_layer(layer, &files, limit, &mut out)
            .with_context(|| format!("reading layer {i} ({digest})"))?;
    }
    Ok(out)
}

/// Reads the wanted files of one layer, stopping once each has bytes of its digest (a
/// path a layer writes twice is found at its last copy by that check).
fn read_layer(
    layer: impl Read,
    files: &BTreeMap<String, Vec<(String, String)>>,
    limit: u64,
    out: &mut BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    let mut tar = TarReader::bounded(layer, &ApplyOptions::default());
    let mut left = files.len();
    while left > 0 {
        let Some(e) = tar.next_entry()? else {
            break;
        };
        let path = clean(&String::from_utf8_lossy(&e.name));
        let Some(asked) = files.get(&path).filter(|_| e.is_file()) else {
            continue;
        };
        let mut hw = HashingWriter::new(Vec::new());
        std::io::copy(&mut tar.data().take(limit + 1), &mut hw)?;
        let (bytes, d, n) = hw.finish();
        if n > limit {
            return Err(crate::error::input(format!(
                "/{path} is larger than {} MiB",
                limit >> 20
            )));
        }
        let d = d.to_string();
        if asked.iter().any(|(_, want)| *want == d) {
            for (p, _) in asked.iter().filter(|(_, want)| *want == d) {
                out.insert(p.clone(), bytes.clone());
            }
            left -= 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::tree::Node;

    fn node(kind: &'static str, content: &str) -> Node {
        Node {
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            content: content.to_string(),
            origin: (0, None),
        }
    }

    fn tree(entries: &[(&str, &'static str, &str)]) -> Tree {
        let mut t = Tree::default();
        for (p, k, c) in entries {
            t.nodes.insert(p.to_string(), node(k, c));
        }
        t
    }

    #[test]
    fn resolves_doc_dir_symlinks_inside_the_root() {
        let t = tree(&[
            ("usr/share/doc/openssl", "dir", ""),
            (
                "usr/share/doc/openssl/changelog.Debian.gz",
                "file",
                "sha256:a",
            ),
            ("usr/share/doc/libssl3", "symlink", "openssl"),
            (
                "usr/share/doc/libssl-abs",
                "symlink",
                "/usr/share/doc/openssl",
            ),
            (
                "usr/share/doc/escape",
                "symlink",
                "../../../../../../usr/share/doc/openssl",
            ),
            ("usr/share/doc/loop", "symlink", "loop"),
            ("usr/share/doc/dir-only", "symlink", "openssl"),
        ]);
        let want = Some("usr/share/doc/openssl/changelog.Debian.gz".to_string());
        for p in [
            "/usr/share/doc/openssl/changelog.Debian.gz",
            "/usr/share/doc/libssl3/changelog.Debian.gz",
            "usr/share/doc/libssl-abs/changelog.Debian.gz",
            // `..` stops at the root, as in a chroot: never outside the image.
            "/usr/share/doc/escape/changelog.Debian.gz",
            "/usr/share/doc/./libssl3/../openssl/changelog.Debian.gz",
        ] {
            assert_eq!(resolve(&t, p), want, "{p}");
        }
        assert_eq!(resolve(&t, "/usr/share/doc/loop/changelog.Debian.gz"), None);
        assert_eq!(resolve(&t, "/usr/share/doc/dir-only"), None, "a directory");
        assert_eq!(
            resolve(&t, "/usr/share/doc/missing/changelog.Debian.gz"),
            None
        );
    }
}
