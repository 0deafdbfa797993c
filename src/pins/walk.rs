//! Which files `pins check` reads: the files named, and under each directory named the
//! Dockerfiles, Containerfiles, YAML files and pin lists, skipping hidden directories
//! and symbolic links, with a bound on file size and count.

use super::find::Syntax;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Files larger than this are skipped (named in the report): no pin file is this big.
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// More candidate files than this under the paths is refused: name narrower paths.
pub const MAX_FILES: usize = 20_000;

/// A file to read, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    pub syntax: Syntax,
    /// Named on the command line (a problem reading it is an error, not a skip).
    pub explicit: bool,
}

/// How a file's name says to read it, when it is one `pins check` looks at in a directory.
pub fn syntax_of(path: &Path) -> Option<Syntax> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e);
    if lower == "dockerfile"
        || lower == "containerfile"
        || lower.starts_with("dockerfile.")
        || lower.starts_with("containerfile.")
        || matches!(ext, Some("dockerfile" | "containerfile"))
    {
        Some(Syntax::Dockerfile)
    } else if matches!(ext, Some("yaml" | "yml")) {
        Some(Syntax::Yaml)
    } else if matches!(ext, Some("pins" | "list" | "txt")) {
        Some(Syntax::List)
    } else {
        None
    }
}

/// The files under `paths`, in the order given, each directory's files sorted by name.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| crate::error::input(format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(Target {
                path: p.clone(),
                syntax: syntax_of(p).unwrap_or(Syntax::List),
                explicit: true,
            });
        }
        if out.len() > MAX_FILES {
            return Err(crate::error::input(format!(
                "more than {MAX_FILES} files to check under {}: name narrower paths",
                p.display()
            )));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Target>) -> Result<()> {
    let hidden = |e: &walkdir::DirEntry| {
        e.depth() > 0 && e.file_name().to_str().is_some_and(|n| n.starts_with('.'))
    };
    let entries = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !hidden(e));
    for e in entries {
        let e = e.map_err(|e| crate::error::input(format!("{}: {e}", dir.display())))?;
        if !e.file_type().is_file() {
            continue;
        }
        if let Some(syntax) = syntax_of(e.path()) {
            out.push(Target {
                path: e.into_path(),
                syntax,
                explicit: false,
            });
            if out.len() > MAX_FILES {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_how_to_read() {
        let s = |n: &str| syntax_of(Path::new(n));
        for n in [
            "Dockerfile",
            "x/Containerfile",
            "Dockerfile.prod",
            "app.Dockerfile",
            "b.containerfile",
        ] {
            assert_eq!(s(n), Some(Syntax::Dockerfile), "{n}");
        }
        for n in ["deploy.yaml", "compose.YML"] {
            assert_eq!(s(n), Some(Syntax::Yaml), "{n}");
        }
        for n in ["images.pins", "a.list", "pins.txt"] {
            assert_eq!(s(n), Some(Syntax::List), "{n}");
        }
        for n in ["main.rs", "Makefile", "dockerfile-notes.md"] {
            assert_eq!(s(n), None, "{n}");
        }
    }

    #[test]
    fn directories_skip_hidden_and_unknown_files() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "Dockerfile",
            "k8s/app.yaml",
            ".git/x.yaml",
            "src/main.rs",
            "pins.txt",
        ] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        std::os::unix::fs::symlink(d.path().join("pins.txt"), d.path().join("link.txt")).unwrap();
        let got: Vec<_> = collect(&[d.path().to_path_buf()])
            .unwrap()
            .into_iter()
            .map(|t| t.path.strip_prefix(d.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            got,
            ["Dockerfile", "k8s/app.yaml", "pins.txt"].map(PathBuf::from)
        );
        let err = collect(&[d.path().join("missing")]).unwrap_err();
        assert!(format!("{err:#}").contains("missing"));
        assert_eq!(crate::error::kind_of(&err), crate::error::Kind::Input);
    }
}
