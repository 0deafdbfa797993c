//! From store to gate on a real image: a rootfs imported into the store, unpacked as a
//! candidate, tested (commands really run, under the test-only chroot executor), the
//! report stored beside the image, and the gate asked.

use super::chroot::ChrootExecutor;
use super::TestRoot;
use crate::blueprint::SuiteRef;
use crate::build::import::{import_rootfs_dir, ImportOptions};
use crate::contract::*;
use crate::layer::Compression;
use crate::oci::OciDir;

const SUITE: &str = r#"name = "posix-base"
version = "1.0.0"
description = "what every core image promises a POSIX shell consumer"

[[test]]
name = "shell runs"
command = ["/bin/sh", "-c", "echo ok"]
stdout = "^ok$"

[[test]]
name = "passwd has root"
file = "/etc/passwd"
contains = "^root:x:0:0:"
mode = "0644"
uid = 0

[[test]]
name = "tmp is sticky"
file = "/tmp"
type = "dir"
mode = "1777"

[[test]]
name = "glibc"
package = "libc6"
version = ">= 2.36"

[[test]]
name = "libc abi"
library = "libc.so.6"
provides = ["GLIBC_2.34"]
"#;

#[test]
fn import_unpack_test_store_gate() {
    let t = TestRoot::new();
    let work = tempfile::tempdir().unwrap();
    let store = OciDir::open_or_create(work.path().join("store")).unwrap();
    let imported = import_rootfs_dir(
        &store,
        &t.root,
        &ImportOptions {
            name: "tiny-root".into(),
            version: "1".into(),
            compression: Compression::Gzip,
            epoch: Some(1_700_000_000),
            arch: "amd64".into(),
        },
    )
    .unwrap();
    let digest = imported.digest;
    let cand = Candidate::unpack(&store, &digest, &work.path().join("rootfs")).unwrap();

    let suites_dir = work.path().join("contract-tests");
    std::fs::create_dir_all(&suites_dir).unwrap();
    let path = suites_dir.join("posix-base.toml");
    std::fs::write(&path, SUITE).unwrap();
    let declared = vec![SuiteRef {
        name: "posix-base".into(),
        path: path.clone(),
        version: semver::Version::new(1, 0, 0),
        description: String::new(),
        raw: toml::from_str(SUITE).unwrap(),
    }];
    let suites = load_suites(&declared).unwrap();

    assert!(
        !gate(&store, &digest, &declared).unwrap().passed(),
        "untested"
    );
    let report = run_suites(&cand, &suites, &ChrootExecutor, &RunOptions::default());
    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(report.candidate, digest);
    store_report(&store, &report).unwrap();
    let v = gate(&store, &digest, &declared).unwrap();
    assert!(v.passed(), "{v}");

    // The suite is bumped: the stored report no longer covers it.
    let mut bumped = declared.clone();
    bumped[0].version = semver::Version::new(1, 1, 0);
    let v = gate(&store, &digest, &bumped).unwrap();
    assert!(
        matches!(&v.suites[0].status, GateStatus::Outdated { .. }),
        "{v}"
    );
    assert_eq!(crate::error::exit_code(&v.check().unwrap_err()), 1);

    // An unknown digest cannot be unpacked: bad input.
    let err = Candidate::unpack(
        &store,
        &crate::digest::Digest::of_bytes(b"nope"),
        &work.path().join("x"),
    )
    .unwrap_err();
    assert_eq!(crate::error::exit_code(&err), 2);
}
