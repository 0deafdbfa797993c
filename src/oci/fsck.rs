//! `fsck`: verifies every blob against its name and every reference from the index down
//! (index → manifests → configs and layers), and reports all problems, not just the first.

use crate::digest::{Digest, HashingReader};
use crate::oci::OciDir;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FsckProblem {
    /// The blob or file concerned.
    pub object: String,
    pub problem: String,
}

#[derive(Debug, Default, Serialize)]
pub struct FsckReport {
    pub blobs_checked: u64,
    pub references_checked: u64,
    pub problems: Vec<FsckProblem>,
}

impl FsckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    fn problem(&mut self, object: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(FsckProblem {
            object: object.into(),
            problem: problem.into(),
        });
    }
}

impl OciDir {
    /// Checks the whole layout. Errors only when the layout cannot be read at all.
    pub fn fsck(&self) -> anyhow::Result<FsckReport> {
        let mut report = FsckReport::default();
        let blob_dir = self.root().join("blobs/sha256");
        let mut present = BTreeSet::new();
        if let Ok(rd) = std::fs::read_dir(&blob_dir) {
            let mut names: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
            names.sort();
            for name in names {
                let name = name.to_string_lossy().into_owned();
                if name.starts_with(".tmp-") {
                    continue; // an interrupted write; harmless, never referenced
                }
                report.blobs_checked += 1;
                let Ok(expected) = format!("sha256:{name}").parse::<Digest>() else {
                    report.problem(
                        format!("blobs/sha256/{name}"),
                        "file name is not a sha256 digest",
                    );
                    continue;
                };
                match hash_file(&self.blob_path(&expected)) {
                    Ok(actual) if actual == expected => {
                        present.insert(expected);
                    }
                    Ok(actual) => report.problem(
                        expected.to_string(),
                        format!("content hashes to {actual}; the blob is corrupt"),
                    ),
                    Err(e) => report.problem(expected.to_string(), format!("unreadable: {e}")),
                }
            }
        } else {
            report.problem("blobs/sha256", "directory missing");
        }
        match self.index() {
            Ok(index) => {
                for d in index.manifests() {
                    self.check_descriptor(d, &present, &mut report, 0);
                }
            }
            Err(e) => report.problem("index.json", format!("{e:#}")),
        }
        Ok(report)
    }

    fn check_descriptor(
        &self,
        d: &Descriptor,
        present: &BTreeSet<Digest>,
        report: &mut FsckReport,
        depth: usize,
    ) {
        report.references_checked += 1;
        let Ok(digest) = Digest::try_from(d.digest()) else {
            report.problem(d.digest().to_string(), "unsupported or invalid digest");
            return;
        };
        if !present.contains(&digest) {
            if !self.has_blob(&digest) {
                report.problem(
                    digest.to_string(),
                    format!("referenced ({}) but missing", d.media_type()),
                );
            }
            return;
        }
        let size = std::fs::metadata(self.blob_path(&digest))
            .map(|m| m.len())
            .unwrap_or(0);
        if size != d.size() {
            report.problem(
                digest.to_string(),
                format!("descriptor says {} bytes, blob has {size}", d.size()),
            );
            return;
        }
        if depth > 4 {
            report.problem(digest.to_string(), "index nesting too deep");
            return;
        }
        match d.media_type() {
            MediaType::ImageManifest => match self.read_json::<ImageManifest>(d) {
                Ok(m) => {
                    self.check_descriptor(m.config(), present, report, depth + 1);
                    for l in m.layers() {
                        self.check_descriptor(l, present, report, depth + 1);
                    }
                }
                Err(e) => report.problem(digest.to_string(), format!("bad manifest: {e:#}")),
            },
            MediaType::ImageIndex => match self.read_json::<ImageIndex>(d) {
                Ok(i) => {
                    for m in i.manifests() {
                        self.check_descriptor(m, present, report, depth + 1);
                    }
                }
                Err(e) => report.problem(digest.to_string(), format!("bad index: {e:#}")),
            },
            _ => {}
        }
    }
}

fn hash_file(path: &std::path::Path) -> std::io::Result<Digest> {
    let f = std::fs::File::open(path)?;
    let mut r = HashingReader::new(std::io::BufReader::with_capacity(1 << 20, f));
    std::io::copy(&mut r, &mut std::io::sink())?;
    Ok(r.finish().0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::MediaType;

    #[test]
    fn reports_every_problem() {
        let t = tempfile::tempdir().unwrap();
        let dir = OciDir::open_or_create(t.path()).unwrap();
        let (good, n) = dir.write_blob(b"good").unwrap();
        let (bad, _) = dir.write_blob(b"bad").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let p = dir.blob_path(&bad);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&p, b"BAD").unwrap();
        let missing = Digest::of_bytes(b"never written");
        dir.set_tag(
            "ok",
            &Descriptor::new(MediaType::Other("x".into()), n, good.to_oci()),
        )
        .unwrap();
        dir.set_tag(
            "gone",
            &Descriptor::new(MediaType::Other("x".into()), 1, missing.to_oci()),
        )
        .unwrap();
        let r = dir.fsck().unwrap();
        assert_eq!(r.blobs_checked, 2);
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems.iter().any(|p| p.object == bad.to_string()));
        assert!(r.problems.iter().any(|p| p.object == missing.to_string()));
    }
}
