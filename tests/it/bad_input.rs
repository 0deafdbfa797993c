//! Bad blueprints get a clear error naming the place, exit code 2, and the store is unchanged.

use crate::util::*;

/// Builds `bp` expecting exit 2; returns stderr. Asserts the store did not change.
fn expect_refused(ws: &Ws, args: &[&str], bp: &std::path::Path) -> String {
    let before = tree_state(&ws.store());
    let o = ws.cb().arg("build").args(args).arg(bp).output().unwrap();
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2, got {:?}\n{err}",
        o.status
    );
    assert_eq!(
        before,
        tree_state(&ws.store()),
        "the store changed on a refused build"
    );
    err
}

fn edit(bp: &std::path::Path, from: &str, to: &str) {
    let p = bp.join("blueprint.toml");
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "fixture has no {from:?}");
    std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
}

fn setup() -> (Ws, std::path::PathBuf) {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.fixture("tiny");
    (ws, bp)
}

#[test]
fn unknown_field_names_file_line_and_column() {
    let (ws, bp) = setup();
    edit(&bp, "[config]\n", "[config]\nenvv = { A = \"1\" }\n");
    let err = expect_refused(&ws, &[], &bp);
    assert!(err.contains("blueprint.toml:20:"), "{err}");
    assert!(err.contains("envv"), "{err}");
}

#[test]
fn bad_semver_is_refused() {
    let (ws, bp) = setup();
    edit(&bp, "version = \"0.1.0\"", "version = \"0.1\"");
    let err = expect_refused(&ws, &[], &bp);
    assert!(err.contains("blueprint.toml:3:"), "{err}");
    assert!(err.to_lowercase().contains("version"), "{err}");
}

#[test]
fn missing_source_file_is_named() {
    let (ws, bp) = setup();
    std::fs::remove_file(bp.join("files/motd")).unwrap();
    let err = expect_refused(&ws, &[], &bp);
    assert!(err.contains("files/motd"), "{err}");
    assert!(err.contains("blueprint.toml:"), "{err}");
}

#[test]
fn include_conflict_names_both_fragments() {
    let (ws, bp) = setup();
    std::fs::write(bp.join("a.toml"), "[config]\nuser = \"alice\"\n").unwrap();
    std::fs::write(bp.join("b.toml"), "[config]\nuser = \"bob\"\n").unwrap();
    edit(
        &bp,
        "epoch = ",
        "include = [\"a.toml\", \"b.toml\"]\nepoch = ",
    );
    let err = expect_refused(&ws, &[], &bp);
    assert!(err.contains("a.toml") && err.contains("b.toml"), "{err}");
    // The blueprint deciding the key resolves the conflict.
    edit(&bp, "[config]\n", "[config]\nuser = \"root\"\n");
    run_ok(ws.cb().arg("build").arg(&bp));
}

#[test]
fn unpinned_base_fails_under_locked() {
    let (ws, bp) = setup();
    let err = expect_refused(&ws, &["--locked"], &bp);
    assert!(err.contains("corebuild lock"), "{err}");
    // After locking, --locked builds.
    run_ok(ws.cb().arg("lock").arg(&bp));
    assert!(bp.join("blueprint.lock").is_file());
    run_ok(ws.cb().arg("build").arg("--locked").arg(&bp));
}

#[test]
fn base_digest_mismatch_is_refused() {
    let (ws, bp) = setup();
    let wrong = format!("sha256:{}", "0".repeat(64));
    edit(
        &bp,
        "ref = \"busybox-tiny:1\"",
        &format!("ref = \"busybox-tiny:1\"\ndigest = \"{wrong}\""),
    );
    let err = expect_refused(&ws, &[], &bp);
    assert!(err.contains(&wrong), "{err}");
    assert!(err.contains("busybox-tiny:1"), "{err}");
}

#[test]
fn bad_usage_is_exit_2() {
    let ws = Ws::new();
    let o = ws.cb().args(["build"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = ws.cb().args(["inspect", "not a ref"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn base_import_and_test_refuse_bad_arguments_with_exit_2() {
    let ws = Ws::new();
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "base",
                "import",
                "--rootfs",
                "/nonexistent-rootfs",
                "--name",
                "b",
                "--version",
                "1",
            ],
            "--rootfs /nonexistent-rootfs: no such directory or tarball",
        ),
        (
            &[
                "base",
                "import",
                "--rootfs",
                "/",
                "--name",
                "Bad Name",
                "--version",
                "1",
            ],
            "--name \"Bad Name\": use lowercase letters",
        ),
        (
            &["test", "busybox-tiny:1"],
            "is an image reference: name the suites to run with --suite NAME",
        ),
    ];
    ws.tiny_base();
    for (args, needle) in cases {
        let before = tree_state(&ws.store());
        let o = ws.cb().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert_eq!(
            before,
            tree_state(&ws.store()),
            "{args:?} changed the store"
        );
    }
}
