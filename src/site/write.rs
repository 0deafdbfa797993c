//! Where the site goes: built in a fresh directory beside `--out`, then swapped into
//! place, so a reader never sees half a site and files of an older catalog never linger.
//! An existing `--out` is replaced only when it is empty or a site made by this command
//! (it holds [`MARKER`]); anything else is refused rather than deleted.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The file that marks a directory as a site this command made.
pub const MARKER: &str = ".corebuild-site";
const MARKER_TEXT: &str = "A static web catalog made by `corebuild catalog site`; regenerating replaces this directory.\n";

/// A site being built: a temporary directory beside its destination.
pub struct Staging {
    pub dir: tempfile::TempDir,
    out: PathBuf,
}

fn may_replace(out: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(out) else {
        if out.exists() {
            return Err(crate::error::input(format!(
                "--out {} exists and is not a directory",
                out.display()
            )));
        }
        return Ok(());
    };
    if entries.next().is_none() || out.join(MARKER).is_file() {
        return Ok(());
    }
    Err(crate::error::input(format!(
        "--out {} is a directory that is neither empty nor a site made by `corebuild catalog site` \
         (no {MARKER}); choose a new or empty directory",
        out.display()
    )))
}

impl Staging {
    /// Checks `out` and makes the staging directory beside it.
    pub fn begin(out: &Path) -> Result<Staging> {
        may_replace(out)?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| {
            crate::error::environment(format!("creating {}: {e}", parent.display()))
        })?;
        let dir = tempfile::Builder::new()
            .prefix(".site-tmp-")
            .tempdir_in(&parent)
            .map_err(|e| {
                crate::error::environment(format!(
                    "creating a directory in {}: {e}",
                    parent.display()
                ))
            })?;
        std::fs::write(dir.path().join(MARKER), MARKER_TEXT)?;
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `bytes` at `rel` (a path this module's callers build from checked names).
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let p = self.root().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        std::fs::write(&p, bytes).with_context(|| format!("writing {rel}"))
    }

    /// Readable by a web server, then swapped into place; the old site is removed.
    pub fn finish(self) -> Result<PathBuf> {
        open_permissions(self.root())?;
        may_replace(&self.out)?;
        let tmp = self.dir.keep();
        let old = if self.out.exists() {
            let old = tmp.with_file_name(format!(
                ".site-old-{}",
                tmp.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            std::fs::rename(&self.out, &old)
                .with_context(|| format!("moving the old site {} aside", self.out.display()))?;
            Some(old)
        } else {
            None
        };
        std::fs::rename(&tmp, &self.out)
            .with_context(|| format!("moving the new site into {}", self.out.display()))?;
        if let Some(old) = old {
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("removing the old site {}", old.display()))?;
        }
        Ok(self.out)
    }
}

/// Directories 0755 and files 0644: a static host's server user must read them.
fn open_permissions(root: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(root) {
        let e = e?;
        let mode = if e.file_type().is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_empty_dirs_and_own_sites() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("site");
        let s = Staging::begin(&out).unwrap();
        s.write("index.html", b"one").unwrap();
        s.finish().unwrap();
        assert_eq!(std::fs::read(out.join("index.html")).unwrap(), b"one");
        let s = Staging::begin(&out).unwrap();
        s.write("other.html", b"two").unwrap();
        s.finish().unwrap();
        assert!(
            !out.join("index.html").exists(),
            "files of the old site are gone"
        );
        let foreign = t.path().join("home");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("thesis.tex"), b"x").unwrap();
        let e = Staging::begin(&foreign).err().unwrap();
        assert!(
            format!("{e:#}").contains("neither empty nor a site"),
            "{e:#}"
        );
        assert!(foreign.join("thesis.tex").exists());
        let leftovers: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }
}
