//! File-system primitives that never leave a root directory.
//!
//! Every path is walked one component at a time from a directory fd with `O_NOFOLLOW`;
//! a symlink met on the way is read and its target walked the same way, with `..` and
//! absolute targets clamped at the root (the semantics of `openat2(RESOLVE_IN_ROOT)`, done
//! in user space so the code that runs is the same on every kernel and sandbox). The last
//! component of a path is always handled by the caller with `*at` calls that do not
//! follow it. Nothing here ever hands the kernel a path with more than one component.

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Deepest directory nesting we create, resolve or remove (each level holds an fd).
pub(crate) const MAX_DEPTH: usize = 256;
/// Symlinks followed while resolving one path (the kernel's own limit).
const MAX_SYMLINKS: u32 = 40;

mod touched;

pub(crate) use touched::Touched;

/// Why a walk failed: the layer asked for something refused, or the file system failed.
#[derive(Debug)]
pub(crate) enum Fail {
    Refused(String),
    Io(&'static str, io::Error),
}

impl Fail {
    fn io(what: &'static str) -> impl FnOnce(Errno) -> Fail {
        move |e| Fail::Io(what, e.into())
    }
}

pub(crate) fn inode(st: &Stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

pub(crate) fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// A directory that everything is kept inside.
pub(crate) struct Root {
    fd: OwnedFd,
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the directory at `comps` inside the root. With `create`, missing directories
    /// are made (0755) and every directory passed is recorded in `touched`; without it, a
    /// missing component gives `Ok(None)`.
    pub fn dir(
        &self,
        comps: &[&str],
        create: bool,
        touched: Option<&mut Touched>,
    ) -> Result<Option<OwnedFd>, Fail> {
        let Some(t) = touched else {
            return self.walk(comps, create, None);
        };
        let mut record = |_: &[String], fd: &OwnedFd, _: bool| {
            let st = rustix::fs::fstat(fd).map_err(Fail::io("reading a parent directory"))?;
            t.insert(inode(&st));
            Ok(())
        };
        self.walk(comps, create, Some(&mut record))
    }

    /// [`Root::dir`], calling `visit` with each directory passed (the root first): its
    /// real path inside the root (symlinks resolved), its fd, and whether it was just
    /// made. A visit happens before anything is created inside that directory.
    pub fn walk(
        &self,
        comps: &[&str],
        create: bool,
        mut visit: Option<&mut Visit<'_>>,
    ) -> Result<Option<OwnedFd>, Fail> {
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut queue: VecDeque<String> = comps.iter().map(|c| c.to_string()).collect();
        let mut links = 0u32;
        if let Some(v) = visit.as_deref_mut() {
            v(&[], &self.fd, false)?;
        }
        while let Some(c) = queue.pop_front() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    // clamped: `..` of the root is the root
                    stack.pop();
                    names.pop();
                    continue;
                }
                _ => {}
            }
            let cur = stack.last().map_or(self.fd.as_fd(), |f| f.as_fd());
            let st = match lstat(cur, &c).map_err(Fail::io("reading a parent directory"))? {
                Some(st) => st,
                None if create => {
                    rustix::fs::mkdirat(cur, c.as_str(), Mode::from_raw_mode(0o755))
                        .map_err(Fail::io("creating a parent directory"))?;
                    let fd = open_dir(cur, &c).map_err(Fail::io("opening a parent directory"))?;
                    // mkdir's mode went through the umask; make it the same everywhere.
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755))
                        .map_err(Fail::io("setting a parent directory's mode"))?;
                    names.push(c);
                    push(&mut stack, &names, fd, true, visit.as_deref_mut())?;
                    continue;
                }
                None => return Ok(None),
            };
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => {
                    let fd = open_dir(cur, &c).map_err(Fail::io("opening a parent directory"))?;
                    names.push(c);
                    push(&mut stack, &names, fd, false, visit.as_deref_mut())?;
                }
                FileType::Symlink => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Fail::Refused("too many levels of symbolic links".into()));
                    }
                    let target = rustix::fs::readlinkat(cur, c.as_str(), Vec::new())
                        .map_err(Fail::io("reading a symlink"))?;
                    let target = target.to_bytes();
                    let Ok(target) = std::str::from_utf8(target) else {
                        return Err(Fail::Refused("a parent symlink target is not UTF-8".into()));
                    };
                    if target.starts_with('/') {
                        stack.clear();
                        names.clear();
                    }
                    for part in target.split('/').rev() {
                        queue.push_front(part.to_string());
                    }
                }
                _ => {
                    return Err(Fail::Refused(format!(
                        "parent component {c:?} is not a directory"
                    )))
                }
            }
        }
        match stack.pop() {
            Some(fd) => Ok(Some(fd)),
            None => self
                .fd
                .try_clone()
                .map(Some)
                .map_err(|e| Fail::Io("duplicating the root fd", e)),
        }
    }
}

/// What [`Root::walk`] calls for each directory it passes.
pub(crate) type Visit<'a> = dyn FnMut(&[String], &OwnedFd, bool) -> Result<(), Fail> + 'a;

fn push(
    stack: &mut Vec<OwnedFd>,
    names: &[String],
    fd: OwnedFd,
    created: bool,
    visit: Option<&mut Visit<'_>>,
) -> Result<(), Fail> {
    if stack.len() >= MAX_DEPTH {
        return Err(Fail::Refused(format!(
            "directories nested deeper than {MAX_DEPTH}"
        )));
    }
    if let Some(v) = visit {
        v(names, &fd, created)?;
    }
    stack.push(fd);
    Ok(())
}

/// `lstat` of `name` in `dir`; `None` if it does not exist.
pub(crate) fn lstat(dir: BorrowedFd<'_>, name: &str) -> Result<Option<Stat>, Errno> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens directory `name` in `dir`, refusing to follow a symlink.
pub(crate) fn open_dir(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Names in a directory, `.` and `..` left out.
fn children(dir: BorrowedFd<'_>) -> Result<Vec<String>, Errno> {
    let mut out = Vec::new();
    for ent in rustix::fs::Dir::read_from(dir)? {
        let ent = ent?;
        let name = ent.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        // Our apply only makes UTF-8 names; anything else was put there by someone else.
        match std::str::from_utf8(name) {
            Ok(n) => out.push(n.to_string()),
            Err(_) => return Err(Errno::ILSEQ),
        }
    }
    Ok(out)
}

/// Removes `name` from `dir`, recursively if it is a directory, never following symlinks.
pub(crate) fn remove_tree(dir: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    remove_at_depth(dir, name, 0)
}

fn remove_at_depth(dir: BorrowedFd<'_>, name: &str, depth: usize) -> Result<(), Errno> {
    let Some(st) = lstat(dir, name)? else {
        return Ok(());
    };
    if !is_dir(&st) {
        return rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
    if depth >= MAX_DEPTH {
        return Err(Errno::LOOP);
    }
    let sub = open_dir(dir, name)?;
    for child in children(sub.as_fd())? {
        remove_at_depth(sub.as_fd(), &child, depth + 1)?;
    }
    drop(sub);
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
}

/// Removes from `dir` everything this layer did not create or update: what an opaque
/// whiteout hides. Directories this layer touched are kept and cleaned the same way.
pub(crate) fn clear_lower(dir: BorrowedFd<'_>, touched: &Touched) -> Result<(), Errno> {
    clear_at_depth(dir, touched, 0)
}

fn clear_at_depth(dir: BorrowedFd<'_>, touched: &Touched, depth: usize) -> Result<(), Errno> {
    if depth >= MAX_DEPTH {
        return Err(Errno::LOOP);
    }
    for child in children(dir)? {
        let Some(st) = lstat(dir, &child)? else {
            continue;
        };
        if !touched.owns(dir, &child, &st)? {
            remove_at_depth(dir, &child, depth + 1)?;
        } else if is_dir(&st) {
            let sub = open_dir(dir, &child)?;
            clear_at_depth(sub.as_fd(), touched, depth + 1)?;
        }
    }
    Ok(())
}
