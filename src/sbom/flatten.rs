//! The regular files of an image as its layers stack them (whiteouts, opaque directories
//! and replaced directories applied), each with its SHA-1 (SPDX requires it) and SHA-256,
//! plus the text of the dpkg files the SBOM reads (`/var/lib/dpkg/status` and the
//! `/var/lib/dpkg/info/*.list` file lists). Nothing is written to disk: every layer is
//! streamed once through the bounded [`TarReader`], bottom up.

use crate::digest::Digest;
use crate::layer::{RawEntry, TarReader};
use crate::oci::{OciDir, StoredImage};
use anyhow::{Context, Result};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::io::Read;

/// The most files an SBOM lists; an image with more gets none listed (and says so).
pub const MAX_FILES: usize = 200_000;
/// The most bytes of one dpkg text kept (the status file of a big image is a few MiB).
const TEXT_LIMIT: u64 = 256 << 20;

/// One regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSum {
    pub sha1: [u8; 20],
    pub sha256: Digest,
}

/// The stacked image: regular files by path (relative, no leading `/`) and dpkg texts.
#[derive(Debug, Default)]
pub struct Flat {
    pub files: BTreeMap<String, FileSum>,
    pub texts: BTreeMap<String, Vec<u8>>,
    /// Symbolic links by path, to their target as written.
    pub links: BTreeMap<String, String>,
}

/// Whether the SBOM keeps the text of `path`.
fn is_text(path: &str) -> bool {
    path == "var/lib/dpkg/status"
        || path
            .strip_prefix("var/lib/dpkg/info/")
            .is_some_and(|f| f.ends_with(".list") && !f.contains('/'))
}

/// What one layer does to the layers below it.
#[derive(Default)]
struct LayerChanges {
    /// Paths a whiteout deletes (with everything below them).
    deleted: Vec<String>,
    /// Directories an opaque whiteout empties.
    emptied: Vec<String>,
    /// Every other entry: (path, is a directory).
    replaced: Vec<(String, bool)>,
    files: BTreeMap<String, FileSum>,
    texts: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, String>,
}

/// Removes `prefix/…` (not `prefix` itself) from `m`.
fn remove_under<V>(m: &mut BTreeMap<String, V>, prefix: &str) {
    let p = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let doomed: Vec<String> = m
        .range(p.clone()..)
        .take_while(|(k, _)| k.starts_with(&p))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        m.remove(&k);
    }
}

impl Flat {
    fn apply(&mut self, c: LayerChanges) {
        fn hide<V>(m: &mut BTreeMap<String, V>, c: &LayerChanges) {
            for d in &c.deleted {
                m.remove(d);
                remove_under(m, d);
            }
            for d in &c.emptied {
                remove_under(m, d);
            }
            for (p, is_dir) in &c.replaced {
                m.remove(p);
                if !is_dir {
                    remove_under(m, p);
                }
            }
        }
        hide(&mut self.files, &c);
        hide(&mut self.texts, &c);
        hide(&mut self.links, &c);
        self.files.extend(c.files);
        self.texts.extend(c.texts);
        self.links.extend(c.links);
    }

    /// `path` (relative) with the symbolic links of its directories followed, as dpkg's
    /// lists name files through them (`/bin/ls` is `/usr/bin/ls` with a merged `/usr`).
    /// At most 16 links are followed; the last component is not.
    pub fn resolve_dirs(&self, path: &str) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut rest: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut hops = 0;
        while let Some(c) = rest.pop() {
            if c.is_empty() || c == "." {
                continue;
            }
            if c == ".." {
                parts.pop();
                continue;
            }
            parts.push(c);
            let here = parts.join("/");
            let Some(target) = self.links.get(&here).filter(|_| !rest.is_empty()) else {
                continue;
            };
            hops += 1;
            if hops > 16 {
                break;
            }
            parts.pop();
            if target.starts_with('/') {
                parts.clear();
            }
            rest.extend(target.split('/').rev().map(str::to_string));
        }
        parts.join("/")
    }
}

fn norm(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Hashes (and keeps, when `keep`) the current entry's data.
fn read_file<R: Read>(tar: &mut TarReader<R>, keep: bool) -> Result<(FileSum, Option<Vec<u8>>)> {
    let mut sha1 = sha1::Sha1::new();
    let mut sha256 = sha2::Sha256::new();
    let mut kept = keep.then(Vec::new);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = tar.data().read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha1.update(&buf[..n]);
        sha256.update(&buf[..n]);
        if let Some(k) = kept.as_mut() {
            if (k.len() + n) as u64 > TEXT_LIMIT {
                return Err(crate::error::input(format!(
                    "larger than {} MiB",
                    TEXT_LIMIT >> 20
                )));
            }
            k.extend_from_slice(&buf[..n]);
        }
    }
    let sum = FileSum {
        sha1: sha1.finalize().into(),
        sha256: Digest::from_hasher(sha256),
    };
    Ok((sum, kept))
}

fn scan_layer(
    store: &OciDir,
    l: &oci_spec::image::Descriptor,
    below: &Flat,
) -> Result<LayerChanges> {
    let mut tar = super::layer_tar(store, l)?;
    let mut out = LayerChanges::default();
    while let Some(e) = tar.next_entry()? {
        let path = norm(&String::from_utf8_lossy(&e.name));
        entry(&mut tar, &e, path, below, &mut out)?;
    }
    Ok(out)
}

fn entry<R: Read>(
    tar: &mut TarReader<R>,
    e: &RawEntry,
    path: String,
    below: &Flat,
    out: &mut LayerChanges,
) -> Result<()> {
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", &path));
    if base == ".wh..wh..opq" {
        out.emptied.push(dir.to_string());
        return Ok(());
    }
    if let Some(hidden) = base.strip_prefix(".wh.") {
        out.deleted.push(if dir.is_empty() {
            hidden.to_string()
        } else {
            format!("{dir}/{hidden}")
        });
        return Ok(());
    }
    if path.is_empty() {
        return Ok(());
    }
    let is_dir = e.typeflag == b'5' || (!e.is_file() && e.name.ends_with(b"/"));
    out.replaced.push((path.clone(), is_dir));
    if e.is_file() {
        let keep = is_text(&path);
        let (sum, text) = read_file(tar, keep).with_context(|| format!("reading /{path}"))?;
        out.files.insert(path.clone(), sum);
        if let Some(t) = text {
            out.texts.insert(path, t);
        }
    } else if e.typeflag == b'2' {
        out.links
            .insert(path, String::from_utf8_lossy(&e.link).into_owned());
    } else if e.typeflag == b'1' {
        // A hard link: the same content as its target, in this layer or below.
        let target = norm(&String::from_utf8_lossy(&e.link));
        if let Some(sum) = out.files.get(&target).or(below.files.get(&target)) {
            out.files.insert(path.clone(), sum.clone());
        }
        if let Some(t) = out.texts.get(&target).or(below.texts.get(&target)) {
            out.texts.insert(path, t.clone());
        }
    }
    Ok(())
}

/// Stacks the layers of `image`.
pub fn flatten(store: &OciDir, image: &StoredImage) -> Result<Flat> {
    let mut flat = Flat::default();
    for l in image.manifest.layers() {
        let changes =
            scan_layer(store, l, &flat).with_context(|| format!("reading layer {}", l.digest()))?;
        flat.apply(changes);
    }
    Ok(flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(n: u8) -> FileSum {
        FileSum {
            sha1: [n; 20],
            sha256: Digest::of_bytes(&[n]),
        }
    }

    #[test]
    fn upper_layers_hide_and_replace_lower_files() {
        let mut f = Flat::default();
        for p in ["a/x", "a/y", "b/z", "c/w", "d", "e/v", "keep"] {
            f.files.insert(p.into(), sum(1));
        }
        f.apply(LayerChanges {
            deleted: vec!["a/x".into(), "b".into()],
            emptied: vec!["c".into()],
            replaced: vec![
                ("d".into(), false),
                ("e".into(), false),
                ("keep".into(), false),
            ],
            files: BTreeMap::from([("c/new".to_string(), sum(2)), ("keep".to_string(), sum(3))]),
            texts: BTreeMap::new(),
            links: BTreeMap::new(),
        });
        let left: Vec<(&str, u8)> = f
            .files
            .iter()
            .map(|(k, v)| (k.as_str(), v.sha1[0]))
            .collect();
        assert_eq!(left, [("a/y", 1), ("c/new", 2), ("keep", 3)]);
    }

    #[test]
    fn directory_links_are_followed() {
        let mut f = Flat::default();
        f.links.insert("bin".into(), "usr/bin".into());
        f.links.insert("usr/lib64".into(), "/usr/lib".into());
        f.links.insert("usr/bin/sh".into(), "dash".into());
        f.links.insert("loop".into(), "loop".into());
        assert_eq!(f.resolve_dirs("bin/ls"), "usr/bin/ls");
        assert_eq!(f.resolve_dirs("usr/lib64/x/../ld.so"), "usr/lib/ld.so");
        assert_eq!(
            f.resolve_dirs("bin/sh"),
            "usr/bin/sh",
            "the last component stays"
        );
        assert_eq!(f.resolve_dirs("etc/passwd"), "etc/passwd");
        let _ = f.resolve_dirs("loop/x"); // ends
    }

    #[test]
    fn only_dpkg_texts_are_kept() {
        assert!(is_text("var/lib/dpkg/status"));
        assert!(is_text("var/lib/dpkg/info/libc6:amd64.list"));
        assert!(!is_text("var/lib/dpkg/info/libc6.md5sums"));
        assert!(!is_text("var/lib/dpkg/status-old"));
        assert_eq!(norm("./usr//bin/"), "usr/bin");
    }
}
