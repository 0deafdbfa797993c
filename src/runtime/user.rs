//! Resolving a `user` string ("root", "1000", "1000:1000", "name", "name:group") against
//! an image's /etc/passwd and /etc/group, read without trusting the image: every path is
//! resolved inside the rootfs (openat2 `RESOLVE_IN_ROOT`, so a symlink to `/../../etc/shadow`
//! stays in the image), only regular files are read, and their size is capped.

use anyhow::Context as _;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::io::Read as _;
use std::path::Path;

/// Largest /etc/passwd or /etc/group we read (a real one is a few KiB).
const MAX_DB_BYTES: u64 = 4 << 20;

/// Who the container process runs as, and the home directory for `HOME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Groups of /etc/group that list the user by name, without the primary group, in
    /// file order.
    pub additional_gids: Vec<u32>,
    /// The user's name when /etc/passwd has one for it.
    pub name: Option<String>,
    /// The passwd home directory; "/root" for uid 0 and "/" for others without an entry.
    pub home: String,
}

/// One line of /etc/passwd, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// One line of /etc/group, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Resolves `user` (None means root) inside `rootfs`.
///
/// A numeric uid needs no passwd entry (its primary gid is then 0, like Docker); a name
/// must have one. A group after `:` is a gid or a name that /etc/group must have.
/// Unknown names are input errors (exit 2); a malformed passwd or group file is an input
/// error naming the file and line.
pub fn resolve_user(rootfs: &Path, user: Option<&str>) -> anyhow::Result<ResolvedUser> {
    let spec = user.unwrap_or("").trim();
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_db(rootfs, "etc/passwd")?
        .map(|text| parse_passwd(&text, &rootfs.join("etc/passwd")))
        .transpose()?
        .unwrap_or_default();
    let entry = if user_part.is_empty() {
        passwd.iter().find(|p| p.uid == 0)
    } else if let Ok(uid) = user_part.parse::<u32>() {
        passwd.iter().find(|p| p.uid == uid)
    } else {
        let found = passwd.iter().find(|p| p.name == user_part);
        if found.is_none() {
            return Err(crate::error::input(format!(
                "user {user_part:?} is not in {}/etc/passwd; use a numeric uid or add the user in an earlier layer",
                rootfs.display()
            )));
        }
        found
    };
    let uid = match entry {
        Some(p) => p.uid,
        None if user_part.is_empty() => 0,
        None => number(user_part, "uid")?,
    };
    let mut gid = entry.map_or(0, |p| p.gid);
    let groups = match read_db(rootfs, "etc/group")? {
        Some(text) => parse_group(&text, &rootfs.join("etc/group"))?,
        None => Vec::new(),
    };
    if let Some(g) = group_part {
        gid = if g.is_empty() {
            return Err(crate::error::input(format!(
                "user {spec:?}: empty group after ':'"
            )));
        } else if let Ok(n) = g.parse::<u32>() {
            n
        } else {
            match groups.iter().find(|e| e.name == g) {
                Some(e) => e.gid,
                None => {
                    return Err(crate::error::input(format!(
                        "group {g:?} is not in {}/etc/group",
                        rootfs.display()
                    )))
                }
            }
        };
    }
    let name = entry.map(|p| p.name.clone());
    let mut additional_gids = Vec::new();
    if let Some(n) = &name {
        for g in &groups {
            if g.gid != gid && g.members.iter().any(|m| m == n) && !additional_gids.contains(&g.gid)
            {
                additional_gids.push(g.gid);
            }
        }
    }
    let home = match entry {
        Some(p) if !p.home.is_empty() => p.home.clone(),
        _ if uid == 0 => "/root".to_string(),
        _ => "/".to_string(),
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        name,
        home,
    })
}

fn number(s: &str, what: &str) -> anyhow::Result<u32> {
    s.parse::<u32>()
        .map_err(|_| crate::error::input(format!("{what} {s:?} is not a number below 2^32")))
}

/// Reads `rel` (relative to the rootfs) as UTF-8; None when it does not exist.
fn read_db(rootfs: &Path, rel: &str) -> anyhow::Result<Option<String>> {
    let shown = rootfs.join(rel);
    let root = rustix::fs::open(
        rootfs,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening rootfs {}", rootfs.display()))?;
    // NONBLOCK: a FIFO planted at /etc/passwd must not hang us before the type check.
    let fd = match rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::NOSYS) => {
            return Err(crate::error::environment(format!(
                "reading {}: the kernel has no openat2 (Linux 5.6+ is needed to read image files safely)",
                shown.display()
            )))
        }
        Err(e) => {
            return Err(std::io::Error::from(e)).with_context(|| format!("opening {}", shown.display()))
        }
    };
    let st = rustix::fs::fstat(&fd).with_context(|| format!("reading {}", shown.display()))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(crate::error::input(format!(
            "{} is not a regular file",
            shown.display()
        )));
    }
    if st.st_size as u64 > MAX_DB_BYTES {
        return Err(crate::error::input(format!(
            "{} is larger than {} MiB",
            shown.display(),
            MAX_DB_BYTES >> 20
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_DB_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", shown.display()))?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Some(s)),
        Err(_) => Err(crate::error::input(format!(
            "{} is not UTF-8",
            shown.display()
        ))),
    }
}

/// Lines that carry an entry: not blank, not a comment, not a NIS `+`/`-` include.
fn records(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.trim_end_matches('\r');
        let skip = l.trim().is_empty() || l.starts_with('#') || l.starts_with(['+', '-']);
        (!skip).then_some((i + 1, l))
    })
}

fn parse_passwd(text: &str, file: &Path) -> anyhow::Result<Vec<Passwd>> {
    records(text)
        .map(|(n, line)| {
            let f: Vec<&str> = line.split(':').collect();
            let bad = |what: &str| {
                crate::error::input(format!("{} line {n}: {what}: {line:?}", file.display()))
            };
            if f.len() != 7 {
                return Err(bad("expected 7 fields name:x:uid:gid:gecos:home:shell"));
            }
            Ok(Passwd {
                name: f[0].to_string(),
                uid: f[2].parse().map_err(|_| bad("uid is not a number"))?,
                gid: f[3].parse().map_err(|_| bad("gid is not a number"))?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

fn parse_group(text: &str, file: &Path) -> anyhow::Result<Vec<Group>> {
    records(text)
        .map(|(n, line)| {
            let f: Vec<&str> = line.split(':').collect();
            let bad = |what: &str| {
                crate::error::input(format!("{} line {n}: {what}: {line:?}", file.display()))
            };
            if f.len() != 4 {
                return Err(bad("expected 4 fields name:x:gid:members"));
            }
            Ok(Group {
                name: f[0].to_string(),
                gid: f[2].parse().map_err(|_| bad("gid is not a number"))?,
                members: f[3]
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rootfs(passwd: &str, group: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), passwd).unwrap();
        std::fs::write(d.path().join("etc/group"), group).unwrap();
        d
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          app:x:1000:1001:App:/home/app:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:app,other\napp:x:1001:\naudio:x:29:app\n";

    #[test]
    fn resolves_names_numbers_and_groups() {
        let d = rootfs(PASSWD, GROUP);
        let r = |u: Option<&str>| resolve_user(d.path(), u).unwrap();
        let root = r(None);
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        assert_eq!(r(Some("root")), root);
        let app = r(Some("app"));
        assert_eq!((app.uid, app.gid), (1000, 1001));
        assert_eq!(app.additional_gids, vec![50, 29]);
        assert_eq!(app.home, "/home/app");
        assert_eq!(r(Some("1000")), app);
        let g = r(Some("app:staff"));
        assert_eq!((g.gid, g.additional_gids.clone()), (50, vec![29]));
        let n = r(Some("1000:7"));
        assert_eq!((n.uid, n.gid), (1000, 7));
        // A uid without an entry is allowed, with gid 0 and HOME=/.
        let u = r(Some("4242"));
        assert_eq!(
            (u.uid, u.gid, u.home.as_str(), u.name),
            (4242, 0, "/", None)
        );
    }

    #[test]
    fn unknown_names_are_input_errors() {
        let d = rootfs(PASSWD, GROUP);
        for bad in ["ghost", "app:ghosts", "99999999999", "app:"] {
            let e = resolve_user(d.path(), Some(bad)).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{bad}: {e:#}");
        }
    }

    #[test]
    fn malformed_files_name_the_file_and_line() {
        let d = rootfs(
            "root:x:0:0:root:/root:/bin/sh\nbroken:x:zero:0::/:/bin/sh\n",
            GROUP,
        );
        let e = resolve_user(d.path(), Some("root")).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("etc/passwd line 2") && msg.contains("uid"),
            "{msg}"
        );
        let d = rootfs(PASSWD, "root:x:0\n");
        let msg = format!("{:#}", resolve_user(d.path(), None).unwrap_err());
        assert!(msg.contains("etc/group line 1"), "{msg}");
    }

    #[test]
    fn missing_files_allow_root_and_numbers_only() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(resolve_user(d.path(), None).unwrap().uid, 0);
        assert_eq!(resolve_user(d.path(), Some("12:34")).unwrap().gid, 34);
        assert!(resolve_user(d.path(), Some("app")).is_err());
    }

    #[test]
    fn symlinks_resolve_inside_the_rootfs() {
        // The host file the link would reach outside the rootfs.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("passwd"), "evil:x:7:7::/:/bin/sh\n").unwrap();
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::create_dir_all(d.path().join("usr/lib")).unwrap();
        std::fs::write(d.path().join("usr/lib/passwd"), PASSWD).unwrap();
        // Absolute link inside the image: followed, relative to the image root.
        symlink("/usr/lib/passwd", d.path().join("etc/passwd")).unwrap();
        assert_eq!(resolve_user(d.path(), Some("app")).unwrap().uid, 1000);
        // A link that climbs out with `..` or names a host path stays inside the image.
        std::fs::remove_file(d.path().join("etc/passwd")).unwrap();
        let escape = format!("../../../../../../..{}/passwd", outside.path().display());
        symlink(&escape, d.path().join("etc/passwd")).unwrap();
        assert!(resolve_user(d.path(), Some("evil")).is_err());
        std::fs::remove_file(d.path().join("etc/passwd")).unwrap();
        symlink(outside.path().join("passwd"), d.path().join("etc/passwd")).unwrap();
        assert!(resolve_user(d.path(), Some("evil")).is_err());
    }

    #[test]
    fn refuses_fifos_and_devices() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.path().join("etc/passwd"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let msg = format!("{:#}", resolve_user(d.path(), Some("app")).unwrap_err());
        assert!(msg.contains("not a regular file"), "{msg}");
        std::fs::remove_file(d.path().join("etc/passwd")).unwrap();
        symlink("/dev/zero", d.path().join("etc/passwd")).unwrap();
        // /dev/zero inside this rootfs does not exist: treated as no passwd.
        assert!(resolve_user(d.path(), Some("app")).is_err());
        assert_eq!(resolve_user(d.path(), Some("0")).unwrap().uid, 0);
    }
}
