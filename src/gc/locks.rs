//! The base pins of the `blueprint.lock` files under the `--locks` directories: a base a
//! lock names is kept even when no tag reaches it (a registry base is stored untagged).
//! The walk is bounded: it does not follow symlinks, skips hidden directories and
//! `target/`, goes at most [`MAX_DEPTH`] deep and visits at most [`MAX_ENTRIES`] entries.

use super::reach::Root;
use crate::blueprint::{read_lock, LOCK_FILE_NAME};
use anyhow::Result;
use std::path::Path;

pub const MAX_DEPTH: usize = 12;
pub const MAX_ENTRIES: usize = 200_000;

/// Every base digest (manifest and, when recorded, the index it was picked from) pinned
/// by a lock under `dir`, in path order. A lock that does not parse is bad input.
pub fn pins_under(dir: &Path) -> Result<Vec<Root>> {
    if !dir.is_dir() {
        return Err(crate::error::input(format!(
            "--locks {}: not a directory",
            dir.display()
        )));
    }
    let walk = walkdir::WalkDir::new(dir)
        .max_depth(MAX_DEPTH)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !skipped(e));
    let mut roots = Vec::new();
    for (n, entry) in walk.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(crate::error::input(format!(
                "--locks {}: more than {MAX_ENTRIES} entries; name the directory that holds the blueprints",
                dir.display()
            )));
        }
        let entry = entry
            .map_err(|e| crate::error::environment(format!("--locks {}: {e}", dir.display())))?;
        if entry.file_type().is_file() && entry.file_name() == LOCK_FILE_NAME {
            roots.extend(pins_of(entry.path())?);
        }
    }
    Ok(roots)
}

fn skipped(e: &walkdir::DirEntry) -> bool {
    let name = e.file_name().to_string_lossy();
    e.file_type().is_dir() && (name.starts_with('.') || name == "target")
}

fn pins_of(path: &Path) -> Result<Vec<Root>> {
    let lock = read_lock(path)?.into_iter();
    let named_by = format!("the base pinned by {}", path.display());
    Ok(lock
        .filter_map(|l| l.base)
        .flat_map(|b| std::iter::once(b.digest).chain(b.index))
        .map(|digest| Root {
            named_by: named_by.clone(),
            digest,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "version = 1\n\n[base]\nref = \"docker://r/x:1\"\n\
        digest = \"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n\
        index = \"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n";

    #[test]
    fn finds_pins_and_skips_hidden_and_target() {
        let t = tempfile::tempdir().unwrap();
        for d in ["a/b", ".git/x", "target/y", "c"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
            std::fs::write(t.path().join(d).join(LOCK_FILE_NAME), LOCK).unwrap();
        }
        std::fs::write(t.path().join("c").join(LOCK_FILE_NAME), "version = 1\n").unwrap();
        let pins = pins_under(t.path()).unwrap();
        assert_eq!(pins.len(), 2, "{pins:?}");
        assert!(pins[0].named_by.contains("a/b/blueprint.lock"));
    }

    #[test]
    fn a_bad_lock_is_named_and_exits_2() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(LOCK_FILE_NAME), "version = [\n").unwrap();
        let err = pins_under(t.path()).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(format!("{err:#}").contains(LOCK_FILE_NAME), "{err:#}");
        let err = pins_under(&t.path().join("nope")).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
    }
}
