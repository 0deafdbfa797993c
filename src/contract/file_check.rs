//! `file` tests: existence, type, mode, owner, content patterns, sha256 and symlink
//! target of one path in the flattened rootfs, read through [`RootFs`] so that no link
//! leads outside it.

use super::report::Outcome;
use super::rootfs::{Found, RootFs};
use super::schema::{FileTest, FileType};
use sha2::{Digest as _, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Content patterns are searched in memory; a larger file is a runner limit (an error),
/// not a property of the image.
const CONTENT_LIMIT: u64 = 64 << 20;

pub fn check(root: &Path, t: &FileTest) -> Outcome {
    match run(RootFs::new(root), t) {
        Ok(o) => o,
        Err(e) => Outcome::error(format!("reading {} in the rootfs: {e}", t.path)),
    }
}

fn run(fs: RootFs<'_>, t: &FileTest) -> std::io::Result<Outcome> {
    let found = fs.lookup(&t.path, !t.is_about_link())?;
    let Some(found) = found else {
        return Ok(if t.exists {
            Outcome::failed(format!("{} exists", t.path), why_absent(fs, &t.path)?)
        } else {
            Outcome::Passed
        });
    };
    if !t.exists {
        return Ok(Outcome::failed(
            format!("{} does not exist", t.path),
            format!("it exists ({})", describe(&found)),
        ));
    }
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    let mut mismatch = |e: String, a: String| {
        expected.push(e);
        actual.push(a);
    };
    let ft = found.meta.file_type();
    if let Some(want) = t.file_type {
        let is = type_of(&found);
        if is != Some(want) {
            mismatch(
                format!("type {}", want.as_str()),
                format!("type {}", describe(&found)),
            );
        }
    }
    let mode = found.meta.mode() & 0o7777;
    if let Some(m) = t.mode {
        if m != mode {
            mismatch(format!("mode {m:04o}"), format!("mode {mode:04o}"));
        }
    }
    if let Some(uid) = t.uid {
        if uid != found.meta.uid() {
            mismatch(format!("uid {uid}"), format!("uid {}", found.meta.uid()));
        }
    }
    if let Some(gid) = t.gid {
        if gid != found.meta.gid() {
            mismatch(format!("gid {gid}"), format!("gid {}", found.meta.gid()));
        }
    }
    if let Some(target) = &t.target {
        if !ft.is_symlink() {
            mismatch(format!("a symlink to {target}"), describe(&found));
        } else {
            let is = std::fs::read_link(&found.host)?;
            if is.as_os_str() != target.as_str() {
                mismatch(
                    format!("target {target}"),
                    format!("target {}", is.display()),
                );
            }
        }
    }
    let wants_content = t.contains.is_some() || t.excludes.is_some() || t.sha256.is_some();
    if wants_content && !ft.is_file() {
        mismatch(
            "a regular file to read".into(),
            format!("a {}", describe(&found)),
        );
    } else if wants_content {
        if let Some(want) = &t.sha256 {
            let mut h = Sha256::new();
            std::io::copy(&mut fs.open(&found)?, &mut h)?;
            let is = hex::encode(h.finalize());
            if &is != want {
                mismatch(format!("sha256 {want}"), format!("sha256 {is}"));
            }
        }
        if t.contains.is_some() || t.excludes.is_some() {
            let Some(bytes) = fs.read_limited(&found, CONTENT_LIMIT)? else {
                return Ok(Outcome::error(format!(
                    "{} is larger than {} MiB; content patterns are not searched in files that big",
                    t.path,
                    CONTENT_LIMIT >> 20
                )));
            };
            if let Some(p) = &t.contains {
                if !p.is_match(&bytes) {
                    mismatch(
                        format!("content matching /{}/", p.source),
                        "no line matches".into(),
                    );
                }
            }
            if let Some(p) = &t.excludes {
                if let Some(m) = p.regex.find(&bytes) {
                    mismatch(
                        format!("no content matching /{}/", p.source),
                        format!("matched: {}", line_at(&bytes, m.start())),
                    );
                }
            }
        }
    }
    Ok(if expected.is_empty() {
        Outcome::Passed
    } else {
        Outcome::failed(
            format!("{}: {}", t.path, expected.join("; ")),
            format!("{}: {}", found.image_path, actual.join("; ")),
        )
    })
}

/// "it does not exist", saying so when a symlink is why (dangling, or aimed outside the
/// image, which inside the rootfs is the same thing).
fn why_absent(fs: RootFs<'_>, path: &str) -> std::io::Result<String> {
    if let Some(link) = fs.lookup(path, false)? {
        if link.meta.file_type().is_symlink() {
            let target = std::fs::read_link(&link.host)?;
            return Ok(format!(
                "it does not exist: the symlink {} -> {} leads nowhere inside the image",
                link.image_path,
                target.display()
            ));
        }
    }
    Ok("it does not exist".into())
}

fn type_of(f: &Found) -> Option<FileType> {
    let ft = f.meta.file_type();
    if ft.is_symlink() {
        Some(FileType::Symlink)
    } else if ft.is_dir() {
        Some(FileType::Dir)
    } else if ft.is_file() {
        Some(FileType::File)
    } else {
        None
    }
}

fn describe(f: &Found) -> String {
    use std::os::unix::fs::FileTypeExt;
    let ft = f.meta.file_type();
    match type_of(f) {
        Some(t) => t.as_str().to_string(),
        None if ft.is_char_device() => "character device".into(),
        None if ft.is_block_device() => "block device".into(),
        None if ft.is_fifo() => "fifo".into(),
        None if ft.is_socket() => "socket".into(),
        None => "special file".into(),
    }
}

/// The line holding byte `at`, shortened for a report.
fn line_at(bytes: &[u8], at: usize) -> String {
    let start = bytes[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| at + i);
    super::text::shorten(&String::from_utf8_lossy(&bytes[start..end]), 200)
}
