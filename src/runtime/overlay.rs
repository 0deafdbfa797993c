//! An overlayfs mount as an RAII guard: explicit [`OverlayMount::close`], best-effort
//! lazy unmount on drop. The mount source names the owning process
//! (`corebuild:<pid>:<start>`) so that `sweep_stale` can find mounts left by a killed
//! process in /proc/self/mountinfo.

use super::owner::Owner;
use anyhow::{bail, Context as _};
use rustix::mount::{MountFlags, UnmountFlags};
use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The mount source prefix of our overlays.
pub const SOURCE_PREFIX: &str = "corebuild:";

/// Options that keep the upper dir a self-contained diff: without them the kernel may
/// record a renamed directory as a redirect xattr (`redirect_dir`) or a chmod as a
/// metadata-only copy-up (`metacopy`), and the upper dir alone would not say what the
/// files hold. `index=off` keeps the mount independent of earlier mounts of the same
/// lower dirs.
const OPTIONS: &str = "index=off,redirect_dir=off,metacopy=off";

/// The longest mount data the kernel takes (one page, NUL included).
const MAX_DATA: usize = 4095;

/// A mounted overlay at `target`.
#[derive(Debug)]
pub struct OverlayMount {
    target: PathBuf,
    mounted: bool,
}

impl OverlayMount {
    /// Mounts `lowers` (topmost first, as overlayfs orders them) under the writable
    /// `upper` at `target`. `work` must be an empty directory on the same filesystem as
    /// `upper`. Paths may not contain `,`, `:` or `\` (the option syntax).
    pub fn mount(
        lowers: &[&Path],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> anyhow::Result<OverlayMount> {
        if lowers.is_empty() {
            bail!("an overlay needs at least one lower directory");
        }
        let abs = |p: &Path| -> anyhow::Result<String> {
            let c = std::fs::canonicalize(p)
                .with_context(|| format!("overlay directory {}", p.display()))?;
            match c.to_str() {
                Some(s) if !s.contains([',', ':', '\\', '\n']) => Ok(s.to_string()),
                _ => bail!(
                    "overlay directory {} must be UTF-8 without `,`, `:`, `\\` or newlines",
                    c.display()
                ),
            }
        };
        let lower = lowers
            .iter()
            .map(|p| abs(p))
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(":");
        let data = format!(
            "lowerdir={lower},upperdir={},workdir={},{OPTIONS}",
            abs(upper)?,
            abs(work)?
        );
        if data.len() > MAX_DATA {
            bail!(
                "overlay options are {} bytes, over the kernel's {MAX_DATA}: use fewer or \
                 shorter lower directory paths",
                data.len()
            );
        }
        let data = CString::new(data).expect("paths were checked for NUL bytes by the OS");
        let source = format!("{SOURCE_PREFIX}{}", Owner::current());
        rustix::mount::mount(
            source,
            target,
            "overlay",
            MountFlags::empty(),
            data.as_c_str(),
        )
        .map_err(std::io::Error::from)
        .with_context(|| {
            format!(
                "mounting overlay at {} (upper {}, work {}; they must be on one \
                     filesystem and work must be empty; dmesg has the kernel's reason)",
                target.display(),
                upper.display(),
                work.display()
            )
        })?;
        Ok(OverlayMount {
            target: target.to_path_buf(),
            mounted: true,
        })
    }

    /// Where the merged tree is.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Unmounts. A mount still busy after a short wait is detached (it disappears when
    /// its last user goes) and reported as an error, since its upper dir may still
    /// change.
    pub fn close(mut self) -> anyhow::Result<()> {
        self.mounted = false;
        let mut last = None;
        for _ in 0..20 {
            match rustix::mount::unmount(&self.target, UnmountFlags::empty()) {
                Ok(()) => return Ok(()),
                Err(rustix::io::Errno::BUSY) => {
                    last = Some(rustix::io::Errno::BUSY);
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        let _ = rustix::mount::unmount(&self.target, UnmountFlags::DETACH);
        Err(std::io::Error::from(
            last.unwrap_or(rustix::io::Errno::BUSY),
        ))
        .with_context(|| format!("unmounting overlay at {}", self.target.display()))
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = rustix::mount::unmount(&self.target, UnmountFlags::DETACH);
        }
    }
}

/// An overlay of `lowers` over a fresh temp directory under `work_root`, holding the
/// `upper`, `work` and `merged` directories: what a build step and a contract test each
/// run in.
///
/// Dropped without [`ScratchOverlay::close`], it detaches the mount first and removes
/// the directory only once `merged` is no longer a mount point: removing through a
/// mounted `merged` would delete through the overlay (whiteouts into `upper`, and into
/// whatever else is mounted below). A directory still mounted is left for
/// `sweep_stale`.
#[derive(Debug)]
pub struct ScratchOverlay {
    // Options so that `close` can take them out of a type with a Drop.
    dir: Option<tempfile::TempDir>,
    mount: Option<OverlayMount>,
}

impl ScratchOverlay {
    pub fn mount(lowers: &[&Path], work_root: &Path, prefix: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(work_root)
            .with_context(|| format!("creating {}", work_root.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(work_root)?;
        let (upper, work, merged) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("merged"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir(d)?;
        }
        let mount = OverlayMount::mount(lowers, &upper, &work, &merged)?;
        Ok(ScratchOverlay {
            dir: Some(dir),
            mount: Some(mount),
        })
    }

    /// The merged tree: the root filesystem to run in.
    pub fn merged(&self) -> &Path {
        self.mount
            .as_ref()
            .expect("mounted until close or drop")
            .target()
    }

    /// Unmounts and returns the directory, whose `upper/` holds what changed; it is
    /// removed when the returned value is dropped.
    pub fn close(mut self) -> anyhow::Result<tempfile::TempDir> {
        let mount = self.mount.take().expect("mounted until close or drop");
        let dir = self.dir.take().expect("present until close or drop");
        match mount.close() {
            Ok(()) => Ok(dir),
            Err(e) => {
                self.dir = Some(dir);
                Err(e)
            }
        }
    }
}

impl Drop for ScratchOverlay {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else {
            return;
        };
        let merged = dir.path().join("merged");
        if let Some(m) = self.mount.take() {
            drop(m); // a lazy (detaching) unmount
        }
        if is_mount_point(&merged) {
            // Never remove through a mount: keep the directory.
            let _ = dir.keep();
        }
    }
}

/// Whether `path` is a mount point in our mount namespace (unknown counts as yes).
fn is_mount_point(path: &Path) -> bool {
    let Ok(path) = std::fs::canonicalize(path) else {
        return false;
    };
    mountinfo().map_or(true, |m| m.iter().any(|i| i.mount_point == path))
}

/// One line of /proc/self/mountinfo, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// The mounts of this process's mount namespace.
pub fn mountinfo() -> anyhow::Result<Vec<MountInfo>> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

/// Parses mountinfo lines: `id parent maj:min root mount_point opts [tags] - fstype
/// source super_opts`, fields octal-escaped (`\040` is a space).
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mount_point = pre.split(' ').nth(4)?;
            let mut post = post.split(' ');
            let fstype = post.next()?;
            let source = post.next()?;
            Some(MountInfo {
                mount_point: PathBuf::from(<std::ffi::OsString as OsStringExt>::from_vec(
                    unescape(mount_point),
                )),
                fstype: fstype.to_string(),
                source: String::from_utf8_lossy(&unescape(source)).into_owned(),
            })
        })
        .collect()
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_with_escapes() {
        let text = "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - overlay corebuild:12:34 rw,lowerdir=/l\n\
                    37 35 98:0 / /proc rw - proc proc rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, Path::new("/mnt/a b"));
        assert_eq!(m[0].fstype, "overlay");
        assert_eq!(m[0].source, "corebuild:12:34");
        assert_eq!(m[1].mount_point, Path::new("/proc"));
    }

    fn mounted(target: &Path) -> bool {
        let t = std::fs::canonicalize(target).unwrap();
        mountinfo().unwrap().iter().any(|m| m.mount_point == t)
    }

    #[test]
    fn mounts_layers_in_order_and_unmounts() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| {
            let p = d.path().join(n);
            std::fs::create_dir_all(&p).unwrap();
            p
        };
        let (top, bottom, upper, work, target) = (p("top"), p("bottom"), p("u"), p("w"), p("m"));
        std::fs::write(bottom.join("f"), "bottom").unwrap();
        std::fs::write(bottom.join("only-bottom"), "b").unwrap();
        std::fs::write(top.join("f"), "top").unwrap();
        let m = OverlayMount::mount(&[&top, &bottom], &upper, &work, &target).unwrap();
        assert!(mounted(&target));
        let info = mountinfo().unwrap();
        let ours = info
            .iter()
            .find(|i| i.mount_point == std::fs::canonicalize(&target).unwrap())
            .unwrap();
        assert_eq!(ours.fstype, "overlay");
        assert_eq!(ours.source, format!("{SOURCE_PREFIX}{}", Owner::current()));
        assert_eq!(std::fs::read_to_string(target.join("f")).unwrap(), "top");
        assert!(target.join("only-bottom").exists());
        std::fs::write(target.join("new"), "n").unwrap();
        m.close().unwrap();
        assert!(!mounted(&target));
        assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "n");
        assert!(!bottom.join("new").exists() && !top.join("new").exists());

        // Drop detaches too.
        let work2 = p("w2");
        let m = OverlayMount::mount(&[&bottom], &upper, &work2, &target).unwrap();
        assert!(mounted(&target));
        drop(m);
        assert!(!mounted(&target));
    }

    #[test]
    fn scratch_overlay_dropped_unclosed_unmounts_before_removing() {
        let d = tempfile::tempdir().unwrap();
        let lower = d.path().join("lower");
        std::fs::create_dir_all(lower.join("sub")).unwrap();
        std::fs::write(lower.join("sub/keep"), "lower").unwrap();
        let root = d.path().join("work-root");
        let s = ScratchOverlay::mount(&[&lower], &root, "t-").unwrap();
        let merged = s.merged().to_path_buf();
        std::fs::write(merged.join("new"), "n").unwrap();
        drop(s);
        assert!(!mounted_under(d.path()), "still mounted");
        // Removed completely (a removal through the mount fails at `merged` and leaves
        // the directory, with whiteouts for the lower files in its upper dir).
        let left: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert_eq!(
            std::fs::read_to_string(lower.join("sub/keep")).unwrap(),
            "lower"
        );
    }

    fn mounted_under(dir: &Path) -> bool {
        let dir = std::fs::canonicalize(dir).unwrap();
        mountinfo()
            .unwrap()
            .iter()
            .any(|m| m.mount_point.starts_with(&dir))
    }

    #[test]
    fn refuses_bad_paths_with_a_reason() {
        let d = tempfile::tempdir().unwrap();
        let odd = d.path().join("a:b");
        std::fs::create_dir_all(&odd).unwrap();
        let e = OverlayMount::mount(&[&odd], d.path(), d.path(), d.path()).unwrap_err();
        assert!(e.to_string().contains("without"), "{e}");
        let e = OverlayMount::mount(&[], d.path(), d.path(), d.path()).unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
        let missing = d.path().join("missing");
        let e = OverlayMount::mount(&[&missing], d.path(), d.path(), d.path()).unwrap_err();
        assert!(format!("{e:#}").contains("missing"), "{e:#}");
    }
}
