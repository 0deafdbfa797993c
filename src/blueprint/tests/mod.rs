//! Tests for loading blueprints: the full fixture, each class of error with its position,
//! includes and their conflicts, and the lock file.

mod apt;
mod errors;
mod includes;
mod lock;
mod product;
mod valid;

use super::{load, Blueprint, BlueprintError, LoadOptions};
use std::path::{Path, PathBuf};

/// A blueprint header that loads, six lines long, so a test's own lines start at line 7.
pub const HEAD: &str = r#"name = "demo"
version = "1.0.0"
description = "demo image"
[base]
ref = "debian-minbase:12"
digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
"#;

/// A temporary workspace laid out like the repository: `blueprints/`, `contract-tests/`.
pub struct Ws {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Ws {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().canonicalize().expect("canonical tempdir");
        let ws = Ws { _tmp: tmp, root };
        ws.write(
            "contract-tests/posix-base.toml",
            "name = \"posix-base\"\nversion = \"1.0.0\"\ndescription = \"posix\"\n",
        );
        ws
    }

    /// Writes a file (creating its directories) and returns its absolute path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes `blueprints/demo/blueprint.toml` and loads it.
    pub fn load_bp(&self, text: &str) -> Result<Blueprint, BlueprintError> {
        let p = self.write("blueprints/demo/blueprint.toml", text);
        load(&p, &LoadOptions::default())
    }

    pub fn bp_path(&self) -> PathBuf {
        self.path("blueprints/demo/blueprint.toml")
    }
}

/// Asserts an error's file, line and column, and that its text mentions each of `words`.
#[track_caller]
pub fn assert_err(err: &BlueprintError, file: &Path, line: usize, column: usize, words: &[&str]) {
    assert_eq!(err.file, file, "wrong file in: {err}");
    assert_eq!(
        (err.line, err.column),
        (Some(line), Some(column)),
        "wrong position in: {err}"
    );
    let text = err.to_string();
    for w in words {
        assert!(text.contains(w), "{w:?} not in: {text}");
    }
}

/// The directory of the committed full fixture.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/blueprint/fixtures")
        .join(rel)
}
