//! Debian changelogs (`/usr/share/doc/<pkg>/changelog.Debian.gz`): the entries a package
//! ships, and the advisory ids (CVE, DSA, DLA) named in the entries between two versions,
//! which is what a release that upgraded the package fixed.

use crate::debian::version::DebVersion;
use anyhow::Result;
use regex::Regex;
use std::io::Read;
use std::sync::LazyLock;

/// The most a changelog may decompress to (the largest in Debian are a few MiB).
pub const LIMIT: u64 = 16 << 20;

/// One entry: `pkg (version) dists; urgency=..`, its body, up to the ` -- ` trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub package: String,
    pub version: String,
    pub body: String,
}

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-z0-9][a-z0-9.+-]*) \(([^()\s]+)\)(?: [^;]*)?;").expect("header regex")
});

/// CVE-YYYY-NNNN+, DSA-NNNN(-N), DLA-NNNN(-N); any case, written upper-case.
static ADVISORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:CVE-(\d{4})-(\d{4,12})|(DSA|DLA)-(\d{2,9})(?:-(\d{1,4}))?)\b")
        .expect("advisory regex")
});

/// Decompresses a gzip changelog of `package`, refusing more than [`LIMIT`] bytes (a
/// changelog comes from an image, so it may be hostile).
pub fn decompress(package: &str, gz: &[u8]) -> Result<String> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .take(LIMIT + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            crate::error::input(format!(
                "the changelog of {package} does not decompress: {e}"
            ))
        })?;
    if out.len() as u64 > LIMIT {
        return Err(crate::error::input(format!(
            "the changelog of {package} decompresses to more than {} MiB",
            LIMIT >> 20
        )));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The entries of a changelog, in file order. Indented and blank lines belong to the
/// entry above them; the ` -- ` trailer ends it, and so does any other line at column 0
/// (an Emacs footer, an "Old Changelog:" section), whose text then belongs to no entry.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut cur: Option<Entry> = None;
    for line in text.lines() {
        if let Some(c) = HEADER.captures(line) {
            out.extend(cur.take());
            cur = Some(Entry {
                package: c[1].to_string(),
                version: c[2].to_string(),
                body: String::new(),
            });
        } else if line.starts_with(" -- ") || !(line.is_empty() || line.starts_with([' ', '\t'])) {
            out.extend(cur.take());
        } else if let Some(e) = cur.as_mut() {
            e.body.push_str(line);
            e.body.push('\n');
        }
    }
    out.extend(cur);
    out
}

/// The advisory ids named in `text`, upper-cased, deduplicated and in [`order`].
pub fn advisories_in(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = ADVISORY
        .find_iter(text)
        .map(|m| m.as_str().to_ascii_uppercase())
        .collect();
    sort(&mut ids);
    ids
}

/// The advisory ids named in the entries of `text` whose version `v` has
/// `old < v <= new` in Debian order (every entry up to `new` when `old` is `None`).
/// Entries whose version does not parse are skipped: they cannot be placed in the range.
/// Deduplicated and sorted by [`order`].
pub fn advisories_between(text: &str, old: Option<&DebVersion>, new: &DebVersion) -> Vec<String> {
    let mut ids = Vec::new();
    for e in parse(text) {
        let Ok(v) = DebVersion::parse(&e.version) else {
            continue;
        };
        if old.is_none_or(|o| v > *o) && v <= *new {
            ids.extend(advisories_in(&e.body));
        }
    }
    sort(&mut ids);
    ids
}

/// The order advisories are listed in: CVEs first, then DSAs, then DLAs; within each by
/// their numbers compared as numbers (CVE-2024-9999 before CVE-2024-10000), so the same
/// set always reads the same way.
pub fn order(id: &str) -> (u8, Vec<u64>) {
    let mut parts = id.split('-');
    let kind = match parts.next() {
        Some("CVE") => 0,
        Some("DSA") => 1,
        Some("DLA") => 2,
        _ => 3,
    };
    (kind, parts.map(|p| p.parse().unwrap_or(u64::MAX)).collect())
}

/// Sorts ids by [`order`] and drops repeats.
pub fn sort(ids: &mut Vec<String>) {
    ids.sort_by(|a, b| order(a).cmp(&order(b)).then_with(|| a.cmp(b)));
    ids.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    const OPENSSL: &str = "\
openssl (3.0.15-1~deb12u1) bookworm-security; urgency=medium

  * Import 3.0.15
    - CVE-2024-5535 (SSL_select_next_proto buffer overread).
    - CVE-2024-6119 (Possible denial of service in X.509 name checks).
  * Drop patches included upstream.

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 01 Sep 2024 20:57:33 +0200

openssl (3.0.14-1~deb12u2) bookworm; urgency=medium

  * Fix cve-2024-4741 (Use After Free with SSL_free_buffers), see DSA-5764-1.
  * CVE-2024-5535 was fixed in 3.0.15 as well (named twice on purpose).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Mon, 24 Jun 2024 22:08:16 +0200

openssl (3.0.11-1~deb12u2) bookworm-security; urgency=medium

  * CVE-2023-5678 (Excessive time spent in DH check / generation).
  * CVE-2024-0727 (PKCS12 Decoding crashes), DLA-3942-1.

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sat, 03 Feb 2024 11:39:44 +0100

Local variables:
mode: debian-changelog
CVE-1999-0001 in a footer belongs to no entry
End:
";

    const BINNMU: &str = "\
openssl (3.0.15-1~deb12u1+b1) bookworm; urgency=low, binary-only=yes

  * Binary-only non-maintainer upload for amd64; no source changes.
  * Rebuild against libc6 2.36-9+deb12u9.

 -- amd64 / i386 Build Daemon (x86-conova-01) <buildd_amd64-x86-conova-01@buildd.debian.org>  Mon, 02 Sep 2024 10:00:00 +0000
";

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap()
    }

    #[test]
    fn parses_entries_with_bodies_and_ignores_footers() {
        let e = parse(OPENSSL);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].package, "openssl");
        assert_eq!(e[0].version, "3.0.15-1~deb12u1");
        assert!(e[0].body.contains("CVE-2024-6119") && !e[0].body.contains(" -- "));
        assert_eq!(e[2].version, "3.0.11-1~deb12u2");
        assert!(!e[2].body.contains("CVE-1999-0001"));
        assert!(parse("").is_empty());
        assert!(parse("not a changelog\n  * CVE-2024-1111\n").is_empty());
    }

    #[test]
    fn ids_of_entries_newer_than_old_up_to_new() {
        let old = v("3.0.11-1~deb12u2");
        assert_eq!(
            advisories_between(OPENSSL, Some(&old), &v("3.0.15-1~deb12u1")),
            [
                "CVE-2024-4741",
                "CVE-2024-5535",
                "CVE-2024-6119",
                "DSA-5764-1"
            ]
        );
        assert_eq!(
            advisories_between(OPENSSL, Some(&old), &v("3.0.14-1~deb12u2")),
            ["CVE-2024-4741", "CVE-2024-5535", "DSA-5764-1"]
        );
        // The old version's own entry is not new; nothing is newer than the newest.
        assert!(advisories_between(
            OPENSSL,
            Some(&v("3.0.15-1~deb12u1")),
            &v("3.0.15-1~deb12u1")
        )
        .is_empty());
        // No old version: every entry up to the new one.
        assert_eq!(
            advisories_between(OPENSSL, None, &v("3.0.11-1~deb12u2")),
            ["CVE-2023-5678", "CVE-2024-0727", "DLA-3942-1"]
        );
    }

    #[test]
    fn a_binnmu_entry_adds_nothing_and_includes_its_source_version() {
        // dpkg installs the binNMU entry in changelog.Debian.<arch>.gz beside the source
        // changelog; read together, the binNMU version includes its source entries.
        let text = format!("{BINNMU}\n{OPENSSL}");
        let ids = advisories_between(
            &text,
            Some(&v("3.0.14-1~deb12u2")),
            &v("3.0.15-1~deb12u1+b1"),
        );
        assert_eq!(ids, ["CVE-2024-5535", "CVE-2024-6119"]);
        assert!(advisories_between(
            &text,
            Some(&v("3.0.15-1~deb12u1")),
            &v("3.0.15-1~deb12u1+b1")
        )
        .is_empty());
    }

    #[test]
    fn ids_sort_by_kind_then_number() {
        assert_eq!(
            advisories_in("DLA-10-1 DSA-5764-1 CVE-2024-10000 CVE-2024-9999 cve-2023-0001 CVE-2024-9999 DSA-99"),
            ["CVE-2023-0001", "CVE-2024-9999", "CVE-2024-10000", "DSA-99", "DSA-5764-1", "DLA-10-1"]
        );
        // Not ids: too short, embedded in a word.
        assert!(advisories_in("CVE-24-1 xCVE-2024-1234 CVE-2024-12").is_empty());
    }

    #[test]
    fn decompression_is_capped_and_names_the_package() {
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(
            decompress("openssl", &gz(OPENSSL.as_bytes())).unwrap(),
            OPENSSL
        );
        let bomb = gz(&vec![b'a'; (LIMIT + 1) as usize]);
        let e = decompress("zlib1g", &bomb).unwrap_err().to_string();
        assert!(e.contains("zlib1g") && e.contains("16 MiB"), "{e}");
        let e = decompress("libfoo", b"not gzip").unwrap_err().to_string();
        assert!(e.contains("libfoo"), "{e}");
    }

    proptest! {
        /// Whatever the versions, exactly the entries in (old, new] contribute.
        #[test]
        fn versions_outside_the_range_contribute_nothing(
            versions in proptest::collection::vec((0u32..6, 0u32..4), 1..12),
            old in (0u32..6, 0u32..4),
            new in (0u32..6, 0u32..4),
        ) {
            let mut text = String::new();
            for (i, (a, b)) in versions.iter().enumerate() {
                text.push_str(&format!(
                    "corelib (1.{a}-{b}) unstable; urgency=medium\n\n  * Fix CVE-2026-{:04}.\n\n -- A <a@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n\n",
                    1000 + i
                ));
            }
            let (old, new) = (v(&format!("1.{}-{}", old.0, old.1)), v(&format!("1.{}-{}", new.0, new.1)));
            let got = advisories_between(&text, Some(&old), &new);
            let mut want: Vec<String> = versions
                .iter()
                .enumerate()
                .filter(|(_, (a, b))| {
                    let x = v(&format!("1.{a}-{b}"));
                    x > old && x <= new
                })
                .map(|(i, _)| format!("CVE-2026-{:04}", 1000 + i))
                .collect();
            sort(&mut want);
            prop_assert_eq!(got, want);
        }
    }
}
