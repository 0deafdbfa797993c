//! What a release fixed, read from the packages themselves: for every package the
//! previous release had at an older version, the advisory ids (CVE, DSA, DLA) of the
//! entries of its Debian changelog in the new image newer than the old version.
//!
//! A package new in this release contributes nothing: the previous release never carried
//! it, so no consumer was exposed to what its changelog fixed over the years, and listing
//! its whole history (hundreds of ids for openssl or glibc) as "fixed by this release"
//! would bury the advisories that matter. A downgrade fixes nothing either: no entry is
//! newer than the old version and no newer than the new one.

use crate::debian::{changelog, dpkg, version::DebVersion};
use crate::notes::tree::Tree;
use crate::notes::tree_files::read_files;
use crate::oci::{OciDir, StoredImage};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest changelog file read from an image (compressed; it is capped again when
/// decompressed).
const FILE_LIMIT: u64 = changelog::LIMIT;

/// A package the release upgraded and the advisories its changelog says that fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub package: String,
    /// The dpkg architecture (`amd64`, `all`), for the package's purl.
    pub architecture: String,
    pub old_version: String,
    pub new_version: String,
    /// In `changelog::order`: CVEs, then DSAs, then DLAs.
    pub advisories: Vec<String>,
}

/// One upgraded package, before its changelog is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub package: String,
    pub architecture: String,
    pub old: String,
    pub new: String,
}

/// The fixes of the release whose image is `image` (tree `new`) over the release with tree
/// `old`: only packages with at least one advisory, by package name.
pub fn fixes(store: &OciDir, image: &StoredImage, old: &Tree, new: &Tree) -> Result<Vec<Fix>> {
    let ups = upgrades(&installed(old), &installed(new));
    let paths: Vec<String> = ups.iter().flat_map(changelog_paths).collect();
    let files = read_files(store, image, new, &paths, FILE_LIMIT)?;
    from_changelogs(&ups, &files)
}

/// Installed packages: name → (version, architecture).
fn installed(tree: &Tree) -> BTreeMap<String, (String, String)> {
    dpkg::installed(
        &tree
            .dpkg_status()
            .map(String::from_utf8_lossy)
            .unwrap_or_default(),
    )
}

/// Packages in both with a newer version (Debian order) in `new`.
pub fn upgrades(
    old: &BTreeMap<String, (String, String)>,
    new: &BTreeMap<String, (String, String)>,
) -> Vec<Upgrade> {
    new.iter()
        .filter_map(|(name, (nv, arch))| {
            let (ov, _) = old.get(name)?;
            let newer = DebVersion::parse(nv).ok()? > DebVersion::parse(ov).ok()?;
            // A name or architecture that could not be a path component names no file.
            let plain = |s: &str| !s.is_empty() && !s.contains('/') && s != "..";
            (newer && plain(name) && plain(arch)).then(|| Upgrade {
                package: name.clone(),
                architecture: arch.clone(),
                old: ov.clone(),
                new: nv.clone(),
            })
        })
        .collect()
}

/// Where dpkg puts a package's Debian changelog: `changelog.Debian.gz`, with the binNMU
/// entries in `changelog.Debian.<arch>.gz` beside it; a native package (no revision)
/// ships its Debian changelog as `changelog.gz`.
pub fn changelog_paths(u: &Upgrade) -> Vec<String> {
    let dir = format!("usr/share/doc/{}", u.package);
    let mut v = vec![
        format!("{dir}/changelog.Debian.{}.gz", u.architecture),
        format!("{dir}/changelog.Debian.gz"),
    ];
    if !u.new.contains('-') {
        v.push(format!("{dir}/changelog.gz"));
    }
    v
}

/// The fixes, given the changelog files read (path → gzip bytes).
pub fn from_changelogs(ups: &[Upgrade], files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<Fix>> {
    let mut out = Vec::new();
    for u in ups {
        let mut text = String::new();
        for p in changelog_paths(u) {
            if let Some(gz) = files.get(&p) {
                text.push_str(&changelog::decompress(&u.package, gz)?);
                text.push('\n');
            }
        }
        let (Ok(old), Ok(new)) = (DebVersion::parse(&u.old), DebVersion::parse(&u.new)) else {
            continue;
        };
        let advisories = changelog::advisories_between(&text, Some(&old), &new);
        if !advisories.is_empty() {
            out.push(Fix {
                package: u.package.clone(),
                architecture: u.architecture.clone(),
                old_version: u.old.clone(),
                new_version: u.new.clone(),
                advisories,
            });
        }
    }
    Ok(out)
}

/// Advisory id → the fixes that name it, in `changelog::order`.
pub fn by_advisory(fixes: &[Fix]) -> Vec<(String, Vec<&Fix>)> {
    let mut m: BTreeMap<String, Vec<&Fix>> = BTreeMap::new();
    for f in fixes {
        for a in &f.advisories {
            m.entry(a.clone()).or_default().push(f);
        }
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by_cached_key(|a| changelog::order(&a.0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(s: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(s.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn pkgs(list: &[(&str, &str)]) -> BTreeMap<String, (String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), (v.to_string(), "amd64".to_string())))
            .collect()
    }

    const CORELIB: &str = "\
corelib (1.0-2) bookworm-security; urgency=high

  * Fix a heap overflow in the parser (CVE-2026-0001, DSA-6001-1).

 -- Core Team <core@example.org>  Mon, 05 Jan 2026 00:00:00 +0000

corelib (1.0-1) bookworm; urgency=medium

  * Initial release; CVE-2025-0099 was fixed before this package existed here.

 -- Core Team <core@example.org>  Thu, 01 Jan 2026 00:00:00 +0000
";

    #[test]
    fn upgraded_packages_only_new_and_downgraded_ones_fix_nothing() {
        let old = pkgs(&[
            ("corelib", "1.0-1"),
            ("down", "2.0-1"),
            ("same", "1"),
            ("gone", "1"),
        ]);
        let new = pkgs(&[
            ("corelib", "1.0-2"),
            ("down", "1.0-1"),
            ("same", "1"),
            ("fresh", "1"),
        ]);
        let ups = upgrades(&old, &new);
        assert_eq!(ups.len(), 1);
        assert_eq!(
            (ups[0].package.as_str(), ups[0].old.as_str()),
            ("corelib", "1.0-1")
        );
        let weird = pkgs(&[("../etc", "2")]);
        assert!(upgrades(&pkgs(&[("../etc", "1")]), &weird).is_empty());
    }

    #[test]
    fn fixes_come_from_the_entries_after_the_old_version() {
        let ups = upgrades(
            &pkgs(&[("corelib", "1.0-1")]),
            &pkgs(&[("corelib", "1.0-2")]),
        );
        let files = BTreeMap::from([(
            "usr/share/doc/corelib/changelog.Debian.gz".to_string(),
            gz(CORELIB),
        )]);
        let f = from_changelogs(&ups, &files).unwrap();
        assert_eq!(
            f,
            [Fix {
                package: "corelib".into(),
                architecture: "amd64".into(),
                old_version: "1.0-1".into(),
                new_version: "1.0-2".into(),
                advisories: vec!["CVE-2026-0001".into(), "DSA-6001-1".into()],
            }]
        );
        // No changelog in the image: nothing is claimed.
        assert!(from_changelogs(&ups, &BTreeMap::new()).unwrap().is_empty());
        // A corrupt one is an error that names the package.
        let bad = BTreeMap::from([(
            "usr/share/doc/corelib/changelog.Debian.gz".to_string(),
            b"junk".to_vec(),
        )]);
        let e = from_changelogs(&ups, &bad).unwrap_err().to_string();
        assert!(e.contains("corelib"), "{e}");
    }

    #[test]
    fn binnmu_and_native_changelog_paths() {
        let u = Upgrade {
            package: "openssl".into(),
            architecture: "amd64".into(),
            old: "3.0.14-1".into(),
            new: "3.0.15-1+b1".into(),
        };
        assert_eq!(
            changelog_paths(&u),
            [
                "usr/share/doc/openssl/changelog.Debian.amd64.gz",
                "usr/share/doc/openssl/changelog.Debian.gz"
            ]
        );
        let native = Upgrade {
            package: "debianutils".into(),
            new: "5.7".into(),
            ..u
        };
        assert_eq!(changelog_paths(&native).len(), 3);
    }

    #[test]
    fn advisories_group_the_packages_that_fixed_them() {
        let fix = |p: &str, ids: &[&str]| Fix {
            package: p.into(),
            architecture: "amd64".into(),
            old_version: "1".into(),
            new_version: "2".into(),
            advisories: ids.iter().map(|s| s.to_string()).collect(),
        };
        let fixes = [
            fix("libssl3", &["CVE-2024-10000", "DSA-1-1"]),
            fix("openssl", &["CVE-2024-9999", "CVE-2024-10000"]),
        ];
        let g = by_advisory(&fixes);
        let ids: Vec<&str> = g.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, ["CVE-2024-9999", "CVE-2024-10000", "DSA-1-1"]);
        let who: Vec<&str> = g[1].1.iter().map(|f| f.package.as_str()).collect();
        assert_eq!(who, ["libssl3", "openssl"]);
    }
}
