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

    /// A stored image whose layers are the given uncompressed tars.
    fn image(dir: &std::path::Path, layers: &[Vec<u8>]) -> (OciDir, StoredImage) {
        use crate::build::image::DraftImage;
        let store = OciDir::open_or_create(dir).unwrap();
        let mut draft = DraftImage::new(Default::default());
        for l in layers {
            let (digest, size) = store.write_blob(l).unwrap();
            let info = crate::layer::writer::LayerInfo {
                diff_id: digest.clone(),
                digest,
                size,
                uncompressed_size: size,
                media_type: "application/vnd.oci.image.layer.v1.tar",
            };
            draft = draft.append(&info, "test");
        }
        let (desc, _) = draft.write(&store).unwrap();
        let img = store.image(&desc).unwrap();
        (store, img)
    }

    /// A tar of (path, kind, data or link target) entries.
    fn tar(entries: &[(&str, u8, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::new(*kind));
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            let body: &[u8] = if *kind == b'0' { data.as_bytes() } else { b"" };
            if *kind == b'1' || *kind == b'2' {
                h.set_link_name(data).unwrap();
            }
            h.set_size(body.len() as u64);
            b.append_data(&mut h, path, body).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn reads_the_top_layers_bytes_through_symlinks_and_hard_links() {
        let t = tempfile::tempdir().unwrap();
        let doc = "usr/share/doc/openssl/changelog.Debian.gz";
        let (store, img) = image(
            t.path(),
            &[
                tar(&[
                    ("usr/share/doc/openssl/", b'5', ""),
                    (doc, b'0', "old"),
                    ("usr/share/doc/libssl3", b'2', "openssl"),
                    ("a/orig", b'0', "linked"),
                    ("a/link", b'1', "a/orig"),
                ]),
                tar(&[(doc, b'0', "new"), ("a/orig", b'0', "replaced")]),
            ],
        );
        let tree = crate::notes::tree::read_tree(&store, &img).unwrap();
        let ask: Vec<String> = [
            "/usr/share/doc/libssl3/changelog.Debian.gz",
            "a/link",
            "a/orig",
            "/usr/share/doc/missing/changelog.Debian.gz",
        ]
        .map(String::from)
        .to_vec();
        let got = read_files(&store, &img, &tree, &ask, 1 << 20).unwrap();
        let text = |k: &str| got.get(k).map(|b| String::from_utf8_lossy(b).into_owned());
        assert_eq!(
            text("usr/share/doc/libssl3/changelog.Debian.gz").as_deref(),
            Some("new")
        );
        // The hard link keeps the bytes its target had when it was made.
        assert_eq!(text("a/link").as_deref(), Some("linked"));
        assert_eq!(text("a/orig").as_deref(), Some("replaced"));
        assert_eq!(got.len(), 3, "{:?}", got.keys());
        let e = read_files(&store, &img, &tree, &ask, 2)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("usr/share/doc/libssl3/changelog.Debian.gz") && e.contains("larger"),
            "{e}"
        );
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
