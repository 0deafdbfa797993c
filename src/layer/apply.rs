//! The safe apply of one layer (an uncompressed tar stream, untrusted) onto a directory,
//! following the OCI changeset rules: whiteouts delete lower entries, opaque whiteouts
//! hide a directory's lower children, entries replace non-directories, a directory over
//! a directory updates its metadata.
//!
//! Containment: every name is normalized lexically (a `..` that climbs above the root is
//! refused) and then walked inside the target by `rootfs.rs`, which follows symlinks only
//! within the target. The last component is created, replaced, chowned and timestamped
//! with `*at` calls that never follow it, or through the fd we just created. Limits on
//! members, stream bytes, file bytes and nesting are checked before anything is read
//! or written.

use super::compress::{decompress, Compression};
use super::entry::{MAX_PATH_BYTES, OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use super::rootfs::{self, inode, is_dir, lstat, open_dir, Fail, Root, Touched, MAX_DEPTH};
use super::scan::KEPT_XATTR;
use super::tarread::{RawEntry, TarReader};
use anyhow::Context as _;
use dirs::{DirFix, Dirs};
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// An entry in a layer was refused, or could not be applied. It always names the entry
/// (its name as found in the tar, or `<member N>` before a name was read).
#[derive(Debug, thiserror::Error)]
#[error("layer entry {entry:?}: {reason}")]
pub struct ApplyError {
    pub entry: String,
    pub reason: String,
    /// Set when the file system or the stream failed rather than the layer being refused.
    #[source]
    pub source: Option<io::Error>,
}

impl ApplyError {
    pub(crate) fn refused(entry: String, reason: impl Into<String>) -> Self {
        ApplyError {
            entry,
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn io(entry: String, what: &str, e: io::Error) -> Self {
        ApplyError {
            entry,
            reason: format!("{what} failed"),
            source: Some(e),
        }
    }

    /// True when the layer was fine but reading or writing failed (disk full, I/O error).
    pub fn is_io(&self) -> bool {
        self.source.is_some()
    }
}

/// What to do with device nodes in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePolicy {
    /// Fail the apply: the default, a built layer has no business creating devices.
    #[default]
    Refuse,
    /// Leave them out and list them (importing a vendor base image).
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Tar members (extension headers included) in one layer.
    pub max_entries: u64,
    /// File bytes written by one layer; the stream itself may exceed it by its headers.
    pub max_total_bytes: u64,
    /// Bytes of one file.
    pub max_file_bytes: u64,
    pub devices: DevicePolicy,
    /// Set owners (and `security.capability`, which only root may set) from the layer.
    pub preserve_owner: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            max_entries: 2_000_000,
            max_total_bytes: 64 << 30,
            max_file_bytes: 16 << 30,
            devices: DevicePolicy::Refuse,
            preserve_owner: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Entries applied (whiteouts included).
    pub entries: u64,
    /// File bytes written.
    pub bytes: u64,
    /// Entries left out (device nodes under `DevicePolicy::Skip`).
    pub skipped: Vec<String>,
}

/// Applies one uncompressed layer tar stream onto `target` (an existing directory).
/// Reads the stream to its end, so a hashing reader around it sees every byte.
pub fn apply_layer<R: Read>(
    tar: R,
    target: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyStats, ApplyError> {
    let root = Root::open(target).map_err(|e| {
        ApplyError::io(
            "<target>".into(),
            &format!("opening target {}", target.display()),
            e,
        )
    })?;
    let mut a = Applier {
        root,
        opts,
        tar: TarReader::bounded(tar, opts),
        touched: Touched::new(),
        seen: HashSet::new(),
        dirs: Dirs::default(),
        cache: None,
        stats: ApplyStats::default(),
        buf: vec![0; 256 << 10],
    };
    while let Some(raw) = a.tar.next_entry()? {
        let name = String::from_utf8_lossy(&raw.name).into_owned();
        a.entry(raw, &name)?;
        a.stats.entries += 1;
    }
    a.tar.drain()?;
    a.fix_dirs()?;
    Ok(a.stats)
}

/// Applies compressed layers in order (lowest first) onto `target`.
pub fn apply_layers<'a, I, R>(
    layers: I,
    target: &Path,
    opts: &ApplyOptions,
) -> anyhow::Result<Vec<ApplyStats>>
where
    I: IntoIterator<Item = (Compression, R)>,
    R: Read + 'a,
{
    layers
        .into_iter()
        .enumerate()
        .map(|(i, (c, r))| {
            apply_layer(decompress(c, r), target, opts)
                .with_context(|| format!("applying layer {} onto {}", i + 1, target.display()))
        })
        .collect()
}

/// What an entry asks for, once its name and type are understood.
enum Action {
    Dir,
    File,
    Symlink,
    Hardlink(Vec<String>),
    Fifo,
    Device,
    Whiteout,
    Opaque,
}

struct Applier<'o, R> {
    root: Root,
    opts: &'o ApplyOptions,
    tar: TarReader<R>,
    touched: Touched,
    /// Hashes of the names already applied from this layer.
    seen: HashSet<[u8; 16]>,
    /// Directories whose metadata is set last.
    dirs: Dirs,
    /// The parent directory of the previous entry, reused while entries share it.
    cache: Option<(Vec<String>, OwnedFd)>,
    stats: ApplyStats,
    buf: Vec<u8>,
}

impl<R: Read> Applier<'_, R> {
    fn entry(&mut self, raw: RawEntry, name: &str) -> Result<(), ApplyError> {
        let refuse = |r: &str| ApplyError::refused(name.to_string(), r.to_string());
        if std::str::from_utf8(&raw.name).is_err() {
            return Err(refuse("name is not UTF-8"));
        }
        let mut comps = layer_components(name).map_err(|r| refuse(&r))?;
        let action = match raw.typeflag {
            b'0' | b'\0' | b'7' if name.ends_with('/') => Action::Dir,
            b'0' | b'\0' | b'7' => Action::File,
            b'1' => {
                let link = std::str::from_utf8(&raw.link)
                    .map_err(|_| refuse("hard link target is not UTF-8"))?;
                let target = layer_components(link)
                    .map_err(|r| refuse(&format!("hard link target {link:?}: {r}")))?;
                if target.is_empty() || target == comps {
                    return Err(refuse("hard link to itself or to the root"));
                }
                Action::Hardlink(target)
            }
            b'2' => Action::Symlink,
            b'3' | b'4' => Action::Device,
            b'5' => Action::Dir,
            b'6' => Action::Fifo,
            t => return Err(refuse(&format!("unsupported entry type {:?}", t as char))),
        };
        let last = comps.last().map(String::as_str).unwrap_or("");
        let action = if last == OPAQUE_WHITEOUT {
            comps.pop();
            Action::Opaque
        } else if let Some(rest) = last.strip_prefix(WHITEOUT_PREFIX) {
            if rest.is_empty() || rest == "." || rest == ".." || rest.starts_with(WHITEOUT_PREFIX) {
                return Err(refuse("not a valid whiteout name"));
            }
            let rest = rest.to_string();
            *comps.last_mut().expect("non-empty") = rest;
            Action::Whiteout
        } else {
            action
        };
        if comps.len() > 1
            && comps[..comps.len() - 1]
                .iter()
                .any(|c| c.starts_with(WHITEOUT_PREFIX))
        {
            return Err(refuse("a directory name starts with `.wh.`"));
        }
        self.check_unique(&action, &comps).map_err(|r| refuse(&r))?;
        if comps.is_empty() && !matches!(action, Action::Dir | Action::Opaque) {
            return Err(refuse("only a directory can stand for the root"));
        }
        if self.opts.preserve_owner && (raw.uid > u32::MAX as u64 || raw.gid > u32::MAX as u64) {
            return Err(refuse("uid or gid does not fit in 32 bits"));
        }
        // Data of any member must be read (if only to skip it), so the per-file cap
        // applies to all of them.
        if raw.size > self.opts.max_file_bytes {
            return Err(refuse(&format!(
                "entry data of {} bytes (limit {})",
                raw.size, self.opts.max_file_bytes
            )));
        }
        if matches!(action, Action::File)
            && self.stats.bytes.saturating_add(raw.size) > self.opts.max_total_bytes
        {
            return Err(refuse(&format!(
                "layer writes more than {} bytes (limit)",
                self.opts.max_total_bytes
            )));
        }
        let fail = |f: Fail| match f {
            Fail::Refused(r) => ApplyError::refused(name.to_string(), r),
            Fail::Io(what, e) => ApplyError::io(name.to_string(), what, e),
        };
        match action {
            Action::Device => match self.opts.devices {
                DevicePolicy::Refuse => Err(refuse("device nodes are refused")),
                DevicePolicy::Skip => {
                    self.stats.skipped.push(name.to_string());
                    Ok(())
                }
            },
            Action::Whiteout => self.whiteout(&comps).map_err(fail),
            Action::Opaque => self.opaque(&comps).map_err(fail),
            Action::Dir if comps.is_empty() => self.root_dir(&raw).map_err(fail),
            action => {
                let (parent_comps, leaf) = comps.split_at(comps.len() - 1);
                let leaf = leaf[0].as_str();
                self.parent(parent_comps).map_err(fail)?;
                let parent = self.cache.take().expect("parent just resolved");
                let r = self.put(&action, parent.1.as_fd(), leaf, &comps, &raw);
                self.cache = Some(parent);
                r.map_err(fail)
            }
        }
    }

    /// Refuses a second entry for the same name in one layer (whiteouts of a name and
    /// the name itself are separate: a layer may delete then recreate).
    fn check_unique(&mut self, action: &Action, comps: &[String]) -> Result<(), String> {
        let tag: &[u8] = match action {
            Action::Whiteout => b"w",
            Action::Opaque => b"o",
            _ => b"e",
        };
        let mut h = Sha256::new();
        h.update(tag);
        for c in comps {
            h.update(c.as_bytes());
            h.update(b"/");
        }
        let d = h.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&d[..16]);
        if self.seen.insert(key) {
            Ok(())
        } else {
            Err("appears twice in the layer".into())
        }
    }

    /// Resolves (creating) the parent directory into the cache, remembering on the way
    /// the directories whose metadata is restored at the end.
    fn parent(&mut self, comps: &[String]) -> Result<(), Fail> {
        if let Some((c, _)) = &self.cache {
            if c == comps {
                return Ok(());
            }
        }
        self.cache = None;
        let refs: Vec<&str> = comps.iter().map(String::as_str).collect();
        let (dirs, touched) = (&mut self.dirs, &mut self.touched);
        let mut visit = |real: &[String], fd: &OwnedFd, created: bool| {
            let st = rustix::fs::fstat(fd).map_err(|e| Fail::Io("stat", e.into()))?;
            touched.insert(inode(&st));
            dirs.visit_parent(real, &st, created)
        };
        let fd = self
            .root
            .walk(&refs, true, Some(&mut visit))?
            .expect("created when missing");
        self.cache = Some((comps.to_vec(), fd));
        Ok(())
    }

    fn put(
        &mut self,
        action: &Action,
        parent: BorrowedFd<'_>,
        leaf: &str,
        comps: &[String],
        raw: &RawEntry,
    ) -> Result<(), Fail> {
        let io = |what: &'static str| move |e: Errno| Fail::Io(what, e.into());
        let owner = self
            .opts
            .preserve_owner
            .then(|| (Uid::from_raw(raw.uid as u32), Gid::from_raw(raw.gid as u32)));
        let times = timestamps(raw.mtime);
        match action {
            Action::Dir => {
                match lstat(parent, leaf).map_err(io("reading the existing entry"))? {
                    Some(st) if is_dir(&st) => {}
                    Some(_) => {
                        rootfs::remove_tree(parent, leaf)
                            .map_err(io("replacing the existing entry"))?;
                        rustix::fs::mkdirat(parent, leaf, Mode::from_raw_mode(0o700))
                            .map_err(io("creating the directory"))?;
                    }
                    None => rustix::fs::mkdirat(parent, leaf, Mode::from_raw_mode(0o700))
                        .map_err(io("creating the directory"))?,
                }
                let fd = open_dir(parent, leaf).map_err(io("opening the directory"))?;
                if let Some((u, g)) = owner {
                    rustix::fs::fchown(&fd, Some(u), Some(g)).map_err(io("setting the owner"))?;
                }
                let st = rustix::fs::fstat(&fd).map_err(io("reading the directory"))?;
                self.touched.insert(inode(&st));
                self.dirs.own(DirFix {
                    path: comps.join("/"),
                    inode: inode(&st),
                    mode: raw.mode,
                    mtime: raw.mtime,
                })?;
            }
            Action::File => {
                rootfs::remove_tree(parent, leaf).map_err(io("replacing the existing entry"))?;
                let fd = rustix::fs::openat(
                    parent,
                    leaf,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(io("creating the file"))?;
                let mut file = std::fs::File::from(fd);
                loop {
                    let n = self
                        .tar
                        .read_data(&mut self.buf)
                        .map_err(|e| Fail::Io("reading the file data", e))?;
                    if n == 0 {
                        break;
                    }
                    file.write_all(&self.buf[..n])
                        .map_err(|e| Fail::Io("writing the file", e))?;
                    self.stats.bytes += n as u64;
                }
                if let Some((u, g)) = owner {
                    rustix::fs::fchown(&file, Some(u), Some(g)).map_err(io("setting the owner"))?;
                }
                // After chown, which clears setuid bits and capabilities.
                rustix::fs::fchmod(&file, Mode::from_raw_mode(raw.mode))
                    .map_err(io("setting the mode"))?;
                if owner.is_some() {
                    for (k, v) in &raw.xattrs {
                        if k == KEPT_XATTR {
                            rustix::fs::fsetxattr(
                                &file,
                                k.as_str(),
                                v,
                                rustix::fs::XattrFlags::empty(),
                            )
                            .map_err(io("setting security.capability"))?;
                        }
                    }
                }
                rustix::fs::futimens(&file, &times).map_err(io("setting the mtime"))?;
                let st = rustix::fs::fstat(&file).map_err(io("reading the file"))?;
                self.touched.insert(inode(&st));
            }
            Action::Symlink => {
                if raw.link.is_empty() {
                    return Err(Fail::Refused("symlink with an empty target".into()));
                }
                rootfs::remove_tree(parent, leaf).map_err(io("replacing the existing entry"))?;
                rustix::fs::symlinkat(&raw.link[..], parent, leaf)
                    .map_err(io("creating the symlink"))?;
                self.finish_special(parent, leaf, owner, None, &times)?;
            }
            Action::Fifo => {
                rootfs::remove_tree(parent, leaf).map_err(io("replacing the existing entry"))?;
                rustix::fs::mknodat(parent, leaf, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
                    .map_err(io("creating the FIFO"))?;
                self.finish_special(parent, leaf, owner, Some(raw.mode), &times)?;
            }
            Action::Hardlink(target) => {
                let (tparent, tleaf) = target.split_at(target.len() - 1);
                let refs: Vec<&str> = tparent.iter().map(String::as_str).collect();
                let missing = || {
                    Fail::Refused(format!(
                        "hard link target {:?} does not exist",
                        target.join("/")
                    ))
                };
                let tdir = self.root.dir(&refs, false, None)?.ok_or_else(missing)?;
                match lstat(tdir.as_fd(), &tleaf[0]).map_err(io("reading the link target"))? {
                    None => return Err(missing()),
                    Some(st) if is_dir(&st) => {
                        return Err(Fail::Refused("hard link to a directory".into()))
                    }
                    Some(st) => {
                        rootfs::remove_tree(parent, leaf)
                            .map_err(io("replacing the existing entry"))?;
                        rustix::fs::linkat(
                            tdir.as_fd(),
                            tleaf[0].as_str(),
                            parent,
                            leaf,
                            AtFlags::empty(),
                        )
                        .map_err(io("creating the hard link"))?;
                        self.touched
                            .link(parent, leaf, &st)
                            .map_err(io("recording the hard link"))?;
                    }
                }
            }
            Action::Device | Action::Whiteout | Action::Opaque => {
                unreachable!("handled by entry()")
            }
        }
        Ok(())
    }

    /// Owner, mode and mtime of a just-created symlink or FIFO, by name, not following it.
    fn finish_special(
        &mut self,
        parent: BorrowedFd<'_>,
        leaf: &str,
        owner: Option<(Uid, Gid)>,
        mode: Option<u32>,
        times: &Timestamps,
    ) -> Result<(), Fail> {
        let io = |what: &'static str| move |e: Errno| Fail::Io(what, e.into());
        if let Some((u, g)) = owner {
            rustix::fs::chownat(parent, leaf, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(io("setting the owner"))?;
        }
        if let Some(mode) = mode {
            // Only FIFOs get here: we created `leaf` as one an instant ago, in a directory
            // no one else writes to during the apply.
            rustix::fs::chmodat(parent, leaf, Mode::from_raw_mode(mode), AtFlags::empty())
                .map_err(io("setting the mode"))?;
        }
        rustix::fs::utimensat(parent, leaf, times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io("setting the mtime"))?;
        let st = lstat(parent, leaf)
            .map_err(io("reading the entry"))?
            .ok_or_else(|| Fail::Refused("vanished while being applied".into()))?;
        self.touched.insert(inode(&st));
        Ok(())
    }

    fn root_dir(&mut self, raw: &RawEntry) -> Result<(), Fail> {
        let fd = self
            .root
            .dir(&[], true, Some(&mut self.touched))?
            .expect("the root exists");
        if self.opts.preserve_owner {
            rustix::fs::fchown(
                &fd,
                Some(Uid::from_raw(raw.uid as u32)),
                Some(Gid::from_raw(raw.gid as u32)),
            )
            .map_err(|e| Fail::Io("setting the owner", e.into()))?;
        }
        let st = rustix::fs::fstat(&fd).map_err(|e| Fail::Io("reading the root", e.into()))?;
        self.dirs.own(DirFix {
            path: String::new(),
            inode: inode(&st),
            mode: raw.mode,
            mtime: raw.mtime,
        })
    }

    /// Deletes the lower entry `comps`; a name this layer created stays (the OCI rule:
    /// a whiteout only applies to lower layers).
    fn whiteout(&mut self, comps: &[String]) -> Result<(), Fail> {
        self.cache = None;
        let (parent, leaf) = comps.split_at(comps.len() - 1);
        let refs: Vec<&str> = parent.iter().map(String::as_str).collect();
        let Some(dir) = self.root.dir(&refs, false, None)? else {
            return Ok(());
        };
        let io = |what: &'static str| move |e: Errno| Fail::Io(what, e.into());
        match lstat(dir.as_fd(), &leaf[0]).map_err(io("reading the whited-out entry"))? {
            Some(st)
                if !self
                    .touched
                    .owns(dir.as_fd(), &leaf[0], &st)
                    .map_err(io("reading the whited-out entry"))? =>
            {
                rootfs::remove_tree(dir.as_fd(), &leaf[0])
                    .map_err(io("removing the whited-out entry"))
            }
            _ => Ok(()),
        }
    }

    /// Removes the lower children of directory `comps`.
    fn opaque(&mut self, comps: &[String]) -> Result<(), Fail> {
        self.cache = None;
        let refs: Vec<&str> = comps.iter().map(String::as_str).collect();
        match self.root.dir(&refs, false, None)? {
            Some(dir) => rootfs::clear_lower(dir.as_fd(), &self.touched)
                .map_err(|e| Fail::Io("clearing the opaque directory", e.into())),
            None => Ok(()),
        }
    }

    /// Sets directory modes and mtimes last; a directory replaced later in the layer
    /// (its inode changed) is left alone.
    fn fix_dirs(&mut self) -> Result<(), ApplyError> {
        // Parents first, so a directory this layer names itself gets the layer's metadata.
        let Dirs { parents, own, .. } = std::mem::take(&mut self.dirs);
        let mut cursor = dirs::Cursor::new(&self.root);
        for d in parents.iter().chain(own.iter().rev()) {
            let name = if d.path.is_empty() {
                "./".to_string()
            } else {
                d.path.clone()
            };
            let fail =
                |e: Errno| ApplyError::io(name.clone(), "setting directory metadata", e.into());
            let comps = d.comps();
            // Most paths are real ones sharing a prefix with the previous: the cursor
            // opens them without a walk from the root; a symlink on the way needs one.
            let found = match cursor.open(&comps).map_err(fail)? {
                Some(fd) => Ok(Some(fd)),
                None => self.root.dir(&comps, false, None),
            };
            let fd = match found {
                Ok(Some(fd)) => fd,
                Ok(None) | Err(Fail::Refused(_)) => continue,
                Err(Fail::Io(what, e)) => return Err(ApplyError::io(name, what, e)),
            };
            let st = rustix::fs::fstat(&fd).map_err(fail)?;
            if inode(&st) != d.inode {
                continue;
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(d.mode)).map_err(fail)?;
            rustix::fs::futimens(&fd, &timestamps(d.mtime)).map_err(fail)?;
        }
        Ok(())
    }
}

fn timestamps(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime.min(i64::MAX as u64) as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// A tar name as components below the root: leading `/`, `.` and empty components
/// dropped, `..` applied lexically and refused if it climbs above the root.
fn layer_components(name: &str) -> Result<Vec<String>, String> {
    if name.len() > MAX_PATH_BYTES {
        return Err(format!("name longer than {MAX_PATH_BYTES} bytes"));
    }
    if name.contains('\0') {
        return Err("name contains a NUL byte".into());
    }
    let mut out: Vec<String> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err("`..` escapes the layer root".into());
                }
            }
            c => out.push(c.to_string()),
        }
    }
    if out.len() > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} directories"));
    }
    Ok(out)
}

mod dirs;

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "apply/hostile_tests.rs"]
mod hostile_tests;

#[cfg(test)]
#[path = "apply/corpus_cases.rs"]
mod corpus_cases;

#[cfg(test)]
#[path = "apply/corpus_tests.rs"]
mod corpus_tests;

#[cfg(test)]
#[path = "apply/fuzz_tests.rs"]
mod fuzz_tests;
