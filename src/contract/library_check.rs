//! `library` tests: a shared library is found in the image's usual library directories
//! and its ELF version definitions (`.gnu.version_d`) include every listed version.

use super::report::Outcome;
use super::rootfs::{Found, RootFs};
use super::schema::LibraryTest;
use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::FileHeader;
use object::{elf, Endianness, FileKind};
use std::path::Path;

const LIMIT: u64 = 512 << 20;
const PARENTS: [&str; 2] = ["/lib", "/usr/lib"];
const PLAIN: [&str; 4] = ["/lib64", "/usr/lib64", "/lib", "/usr/lib"];

pub fn check(root: &Path, t: &LibraryTest) -> Outcome {
    let fs = RootFs::new(root);
    let found = match find(fs, &t.name) {
        Ok(f) => f,
        Err(e) => return Outcome::error(format!("searching for {}: {e}", t.name)),
    };
    let want = if t.provides.is_empty() {
        format!("{} in a library directory", t.name)
    } else {
        format!("{} defining {}", t.name, t.provides.join(", "))
    };
    let Some(found) = found else {
        return Outcome::failed(
            want,
            format!(
                "not found in {}",
                search_dirs(fs).unwrap_or_default().join(", ")
            ),
        );
    };
    let data = match fs.read_limited(&found, LIMIT) {
        Ok(Some(d)) => d,
        Ok(None) => return Outcome::error(format!("{} is larger than 512 MiB", found.image_path)),
        Err(e) => return Outcome::error(format!("reading {}: {e}", found.image_path)),
    };
    let defined = match version_definitions(&data) {
        Ok(v) => v,
        Err(why) => return Outcome::failed(want, format!("{}: {why}", found.image_path)),
    };
    let missing: Vec<&str> = t
        .provides
        .iter()
        .map(String::as_str)
        .filter(|v| !defined.iter().any(|d| d == v))
        .collect();
    if missing.is_empty() {
        Outcome::Passed
    } else {
        Outcome::failed(
            want,
            format!(
                "{} does not define {} (it defines {} versions{})",
                found.image_path,
                missing.join(", "),
                defined.len(),
                newest(&defined, &missing)
            ),
        )
    }
}

/// The directories searched, in order: multiarch directories (`/lib/x86_64-linux-gnu`,
/// `/usr/lib/aarch64-linux-gnu` …) first, as Debian's ld.so.conf lists them, then the
/// plain ones. Each is named as it resolves (`/lib` is `/usr/lib` after usrmerge) and
/// appears once.
pub fn search_dirs(fs: RootFs<'_>) -> std::io::Result<Vec<String>> {
    let mut dirs = Vec::new();
    for parent in PARENTS {
        for name in fs.list_dir(parent)? {
            if is_multiarch(&name) {
                dirs.push(format!("{parent}/{name}"));
            }
        }
    }
    dirs.extend(PLAIN.iter().map(|d| d.to_string()));
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for d in dirs {
        if let Some(f) = fs.lookup(&d, true)? {
            if f.meta.is_dir() && !seen.contains(&f.host) {
                seen.push(f.host);
                out.push(f.image_path);
            }
        }
    }
    Ok(out)
}

/// The first regular file named `name` in the search directories.
fn find(fs: RootFs<'_>, name: &str) -> std::io::Result<Option<Found>> {
    for d in search_dirs(fs)? {
        if let Some(f) = fs.lookup(&format!("{d}/{name}"), true)? {
            if f.meta.is_file() {
                return Ok(Some(f));
            }
        }
    }
    Ok(None)
}

/// A GNU multiarch tuple such as `x86_64-linux-gnu` or `arm-linux-gnueabihf`.
fn is_multiarch(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() == 3
        && parts[1] == "linux"
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// The version names an ELF file defines, without the base entry (the file's own soname).
pub fn version_definitions(data: &[u8]) -> Result<Vec<String>, String> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => verdefs::<FileHeader64<Endianness>>(data),
        Ok(FileKind::Elf32) => verdefs::<FileHeader32<Endianness>>(data),
        _ => Err("not an ELF file".into()),
    }
}

fn verdefs<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<Vec<String>, String> {
    let bad = |e: object::Error| format!("malformed ELF: {e}");
    let header = Elf::parse(data).map_err(bad)?;
    let endian = header.endian().map_err(bad)?;
    let sections = header.sections(endian, data).map_err(bad)?;
    let Some((mut defs, link)) = sections.gnu_verdef(endian, data).map_err(bad)? else {
        return Ok(Vec::new());
    };
    let strings = sections.strings(endian, data, link).map_err(bad)?;
    let mut out = Vec::new();
    while let Some((def, mut aux)) = defs.next().map_err(bad)? {
        if def.vd_flags.get(endian).0 & elf::VER_FLG_BASE.0 != 0 {
            continue;
        }
        // The first auxiliary entry names the version; later ones name its parents.
        if let Some(a) = aux.next().map_err(bad)? {
            let name = a.name(endian, strings).map_err(bad)?;
            out.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(out)
}

/// For a failure message: the highest defined version in each missing version's family
/// (`GLIBC_2.36` when `GLIBC_2.38` was asked for).
fn newest(defined: &[String], missing: &[&str]) -> String {
    let mut hints = Vec::new();
    for m in missing {
        let family = m.rsplit_once('_').map_or(*m, |(f, _)| f);
        let best = defined
            .iter()
            .filter(|d| d.rsplit_once('_').is_some_and(|(f, _)| f == family))
            .max_by(|a, b| version_key(a).cmp(&version_key(b)));
        if let Some(b) = best {
            hints.push(format!("newest {family}: {b}"));
        }
    }
    if hints.is_empty() {
        String::new()
    } else {
        format!("; {}", hints.join(", "))
    }
}

fn version_key(v: &str) -> Vec<u64> {
    v.rsplit_once('_')
        .map(|(_, n)| n.split('.').map(|p| p.parse().unwrap_or(0)).collect())
        .unwrap_or_default()
}
