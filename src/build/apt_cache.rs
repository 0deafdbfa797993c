//! Whether a pinned `packages` layer can skip its download phase: every pinned package's
//! .deb is in the package cache and matches the SHA256 that the cached (signed, verified
//! by apt when fetched) Packages indexes give for that name and version. Checked on every
//! use; any doubt (a missing index, a missing or different file) means "download".

use crate::build::apt::Pin;
use crate::digest::Digest;
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

/// The largest index file read.
const INDEX_LIMIT: u64 = 512 << 20;

/// apt's file name for a downloaded package: `name_version_arch.deb`, `:` as `%3a`.
fn archive_name(name: &str, version: &str, arch: &str) -> String {
    format!("{name}_{}_{arch}.deb", version.replace(':', "%3a"))
}

/// (name, version) -> (architecture, SHA256) from every `*_Packages` index in `lists`.
fn index(
    lists: &Path,
    wanted: &HashMap<&str, &str>,
) -> Result<HashMap<(String, String), (String, String)>> {
    let mut out = HashMap::new();
    for e in std::fs::read_dir(lists)? {
        let p = e?.path();
        let is_index = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("_Packages"));
        if !is_index || std::fs::metadata(&p)?.len() > INDEX_LIMIT {
            continue;
        }
        let text = std::fs::read(&p)?;
        for stanza in String::from_utf8_lossy(&text).split("\n\n") {
            let field = |k: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                    .map(|v| v.trim().to_string())
            };
            let Some(name) = field("Package") else {
                continue;
            };
            if !wanted.contains_key(name.as_str()) {
                continue;
            }
            if let (Some(v), Some(a), Some(h)) =
                (field("Version"), field("Architecture"), field("SHA256"))
            {
                out.insert((name, v), (a, h));
            }
        }
    }
    Ok(out)
}

/// True when every pin's .deb is in `archives` with the SHA256 the indexes in `lists`
/// give it.
pub fn covers(lists: &Path, archives: &Path, pins: &[Pin]) -> Result<bool> {
    if pins.is_empty() {
        return Ok(false);
    }
    let wanted: HashMap<&str, &str> = pins.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let idx = index(lists, &wanted)?;
    for (n, v) in pins {
        let Some((arch, sha)) = idx.get(&(n.clone(), v.clone())) else {
            return Ok(false);
        };
        let path = archives.join(archive_name(n, v, arch));
        let Ok(f) = std::fs::File::open(&path) else {
            return Ok(false);
        };
        let mut hw = crate::digest::HashingWriter::new(std::io::sink());
        std::io::copy(&mut std::io::BufReader::new(f), &mut hw)?;
        let (_, got, _): (_, Digest, u64) = hw.finish();
        if got.hex() != sha.to_ascii_lowercase() {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_deb_counts_only_with_the_indexed_sha256() {
        let t = tempfile::tempdir().unwrap();
        let (lists, archives) = (t.path().join("lists"), t.path().join("archives"));
        std::fs::create_dir_all(&lists).unwrap();
        std::fs::create_dir_all(&archives).unwrap();
        let deb = b"not really a deb";
        let sha = Digest::of_bytes(deb).hex().to_string();
        std::fs::write(
            lists.join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"),
            format!("Package: other\nVersion: 1\nArchitecture: all\nSHA256: 00\n\nPackage: libfoo1\nVersion: 1:2.0-1\nArchitecture: amd64\nSHA256: {sha}\n"),
        )
        .unwrap();
        let pins = vec![("libfoo1".to_string(), "1:2.0-1".to_string())];
        assert!(!covers(&lists, &archives, &pins).unwrap(), "no file yet");
        std::fs::write(archives.join("libfoo1_1%3a2.0-1_amd64.deb"), deb).unwrap();
        assert!(covers(&lists, &archives, &pins).unwrap());
        std::fs::write(archives.join("libfoo1_1%3a2.0-1_amd64.deb"), b"tampered").unwrap();
        assert!(
            !covers(&lists, &archives, &pins).unwrap(),
            "a changed file is refused"
        );
        let other = vec![("libfoo1".to_string(), "1:2.0-2".to_string())];
        assert!(
            !covers(&lists, &archives, &other).unwrap(),
            "a version no index has"
        );
    }
}
