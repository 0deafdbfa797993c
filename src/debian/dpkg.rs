//! The dpkg database of an image: `/var/lib/dpkg/status` (and the one-file-per-package
//! `/var/lib/dpkg/status.d/` that distroless images use), parsed into package records.

use crate::contract::rootfs::RootFs;
use std::io;

pub const STATUS: &str = "/var/lib/dpkg/status";
pub const STATUS_D: &str = "/var/lib/dpkg/status.d";
const LIMIT: u64 = 256 << 20;

/// One paragraph of the status file, with the fields package tests need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub package: String,
    pub architecture: Option<String>,
    pub version: Option<String>,
    pub status: Option<String>,
    /// The source package (`Source:` without its optional `(version)`); absent when it
    /// has the binary package's name.
    pub source: Option<String>,
}

impl Record {
    /// Only `install ok installed` counts as installed; half-installed, config-files and
    /// removed packages do not.
    pub fn installed(&self) -> bool {
        self.status.as_deref() == Some("install ok installed")
    }

    /// Whether `name` (`pkg` or `pkg:arch`) names this record.
    pub fn is(&self, name: &str) -> bool {
        match name.split_once(':') {
            Some((p, a)) => p == self.package && self.architecture.as_deref() == Some(a),
            None => name == self.package,
        }
    }
}

/// Parses deb822 paragraphs. Continuation lines and unknown fields are skipped; a
/// paragraph without `Package` is ignored, as dpkg would refuse it anyway.
pub fn parse(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut cur: Option<Record> = None;
    let mut flush = |cur: &mut Option<Record>| {
        if let Some(r) = cur.take() {
            if !r.package.is_empty() {
                out.push(r);
            }
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut cur);
            continue;
        }
        if line.starts_with([' ', '\t']) || line.starts_with('#') {
            continue;
        }
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let r = cur.get_or_insert_with(|| Record {
            package: String::new(),
            architecture: None,
            version: None,
            status: None,
            source: None,
        });
        let value = value.trim().to_string();
        match field.to_ascii_lowercase().as_str() {
            "package" => r.package = value,
            "architecture" => r.architecture = Some(value),
            "version" => r.version = Some(value),
            "status" => r.status = Some(value),
            "source" => r.source = value.split_whitespace().next().map(str::to_string),
            _ => {}
        }
    }
    flush(&mut cur);
    out
}

/// Every record of the image's database, or `None` when the image has no dpkg database.
/// The installed packages of a status file: name → (version, architecture; `all` when
/// the record names none). Records without a version are left out.
pub fn installed(text: &str) -> std::collections::BTreeMap<String, (String, String)> {
    parse(text)
        .into_iter()
        .filter(|r| r.installed())
        .filter_map(|r| {
            let arch = r.architecture.clone().unwrap_or_else(|| "all".into());
            Some((r.package, (r.version?, arch)))
        })
        .collect()
}

/// The source package of every installed binary package whose source has another name.
pub fn sources(text: &str) -> std::collections::BTreeMap<String, String> {
    parse(text)
        .into_iter()
        .filter(|r| r.installed())
        .filter_map(|r| Some((r.package.clone(), r.source.filter(|s| *s != r.package)?)))
        .collect()
}

pub fn read(fs: RootFs<'_>) -> io::Result<Option<Vec<Record>>> {
    let mut records = Vec::new();
    let mut found = false;
    if let Some(f) = fs.lookup(STATUS, true)? {
        if f.meta.is_file() {
            found = true;
            records.extend(parse(&read_text(fs, &f, STATUS)?));
        }
    }
    for name in fs.list_dir(STATUS_D)? {
        let path = format!("{STATUS_D}/{name}");
        if let Some(f) = fs.lookup(&path, true)? {
            if f.meta.is_file() {
                found = true;
                records.extend(parse(&read_text(fs, &f, &path)?));
            }
        }
    }
    Ok(found.then_some(records))
}

fn read_text(fs: RootFs<'_>, f: &crate::contract::rootfs::Found, path: &str) -> io::Result<String> {
    let bytes = fs
        .read_limited(f, LIMIT)?
        .ok_or_else(|| io::Error::other(format!("{path} is larger than {} MiB", LIMIT >> 20)))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Source: glibc
Multi-Arch: same
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
 .
 Version: 9.9 (a continuation line, not a field)

Package: telnetd
Status: deinstall ok config-files
Architecture: amd64
Source: inetutils (2:2.4-2)
Version: 0.17+2.4-2

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u4
";

    #[test]
    fn source_names_of_installed_packages_only_where_they_differ() {
        let r = parse(STATUS_TEXT);
        assert_eq!(r[1].source.as_deref(), Some("inetutils"));
        let s = sources(&format!("{STATUS_TEXT}\nPackage: curl\nStatus: install ok installed\nSource: curl\nVersion: 1\n"));
        assert_eq!(
            s.into_iter().collect::<Vec<_>>(),
            [("libc6".to_string(), "glibc".to_string())]
        );
    }

    #[test]
    fn parses_paragraphs_and_status() {
        let r = parse(STATUS_TEXT);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].version.as_deref(), Some("2.36-9+deb12u4"));
        assert!(r[0].installed() && !r[1].installed());
        assert!(r[0].is("libc6") && r[0].is("libc6:amd64") && !r[0].is("libc6:i386"));
        assert!(r[2].is("libc6:i386"));
        assert_eq!(parse("").len(), 0);
        assert_eq!(parse("\n\nVersion: 1\n").len(), 0);
    }
}
