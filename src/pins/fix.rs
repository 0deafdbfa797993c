//! `--fix`: replace the byte spans of pins with their suggested references, every other
//! byte kept, and write the file atomically (temp file beside it, same mode, rename; a
//! symbolic link named on the command line is kept and its target rewritten).

use anyhow::{Context, Result};
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// One replacement: the bytes `span` of the file become `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Range<usize>,
    pub to: String,
}

/// `text` with `edits` applied (sorted by position, overlapping ones dropped).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut edits: Vec<&Edit> = edits.iter().collect();
    edits.sort_by_key(|e| e.span.start);
    let mut out = String::with_capacity(text.len() + 128 * edits.len());
    let mut at = 0;
    for e in edits {
        if e.span.start < at || e.span.end > text.len() {
            continue;
        }
        out.push_str(&text[at..e.span.start]);
        out.push_str(&e.to);
        at = e.span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Replaces the content of `path` with `bytes`, atomically, keeping its mode (a symbolic
/// link is followed: its target is rewritten).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let real =
        std::fs::canonicalize(path).with_context(|| format!("resolving {}", path.display()))?;
    let mode = std::fs::metadata(&real)
        .with_context(|| format!("reading {}", real.display()))?
        .permissions()
        .mode();
    crate::oci::write_atomic_mode(&real, bytes, mode & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::find::{find, Syntax};

    #[test]
    fn only_the_spans_change() {
        let text = "FROM core:1 AS a\r\n# keep  spacing\tand tabs\nFROM --platform=x other:2\nFROM  core:3\n";
        let edits: Vec<Edit> = find(Syntax::Dockerfile, text)
            .into_iter()
            .filter(|f| f.text.starts_with("core"))
            .map(|f| Edit {
                span: f.span.unwrap(),
                to: format!("{}@sha256:{}", f.text, "0".repeat(64)),
            })
            .collect();
        let out = apply(text, &edits);
        let z = "0".repeat(64);
        assert_eq!(
            out,
            format!("FROM core:1@sha256:{z} AS a\r\n# keep  spacing\tand tabs\nFROM --platform=x other:2\nFROM  core:3@sha256:{z}\n")
        );
        assert_eq!(apply(text, &[]), text);
    }

    #[test]
    fn write_keeps_the_mode_and_the_link() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("Dockerfile");
        std::fs::write(&f, "FROM a:1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        write(&link, b"FROM a:2\n").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "FROM a:2\n");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
}
