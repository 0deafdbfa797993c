//! `[[apt.source]]` and `upgrade = true` against a real signed repository on loopback
//! (the offline fixture): the declared source is reachable from the download step, the
//! lock records it, `--locked` builds are reproducible, and every bad source is exit 2
//! naming it with the store untouched.

use crate::aptrepo::{corelib_changelog, AptRepo, PkgOpts, Server};
use crate::util::{build_json, stderr, tree_state, Ws};
use std::path::{Path, PathBuf};

pub const SUITE: &str = "bookworm-security";

/// A repository holding corelib at each of `versions`, published and served.
fn repo(ws: &Ws, versions: &[&str]) -> (AptRepo, Server) {
    let mut r = AptRepo::new(&ws.path().join("repo"), SUITE);
    for v in versions {
        add_corelib(&mut r, v);
    }
    r.publish();
    let s = r.serve();
    (r, s)
}

pub fn add_corelib(r: &mut AptRepo, v: &str) {
    r.add_package(
        "corelib",
        v,
        &PkgOpts {
            changelog: corelib_changelog(v),
            ..Default::default()
        },
    );
}

/// A blueprint on the minbase with the repository as its one declared source (key
/// copied beside it as `repo.asc`) and `layers` (TOML text).
pub fn blueprint(ws: &Ws, name: &str, repo: &AptRepo, uri: &str, layers: &str) -> PathBuf {
    let base = ws.minbase();
    let dir = ws.blueprint(
        name,
        &format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"apt sources\"\nepoch = 1767225600\n\
             [base]\nref = \"{base}\"\n\n\
             # the fixture repository\n[[apt.source]]\nuri = \"{uri}\"\nsuite = \"{SUITE}\"\n\
             components = [\"main\"]\nsigned_by = \"repo.asc\"\n\n{layers}"
        ),
    );
    std::fs::copy(repo.key_asc(), dir.join("repo.asc")).unwrap();
    dir
}

fn lock_text(bp: &Path) -> String {
    std::fs::read_to_string(bp.join("blueprint.lock")).unwrap()
}

/// The store's content without its caches (apt lists and flattened trees are derived).
fn store_content(ws: &Ws) -> Vec<(String, String)> {
    tree_state(&ws.store())
        .into_iter()
        .filter(|(p, _)| !p.starts_with("cache"))
        .collect()
}

#[test]
fn a_declared_loopback_source_installs_locks_and_upgrades_reproducibly() {
    let ws = Ws::new();
    let (mut repo, server) = repo(&ws, &["1.0-1"]);
    let bp = blueprint(
        &ws,
        "core-a",
        &repo,
        &server.uri(),
        "[[layer]]\npackages = [\"corelib=1.0-1\"]\n\n[[layer]]\npackages = []\nupgrade = true\n",
    );
    // corelib 1.0-2 lands: the upgrade layer takes it over the 1.0-1 below it.
    add_corelib(&mut repo, "1.0-2");
    repo.publish();
    crate::util::run_ok(ws.cb().arg("lock").arg(&bp));
    let lock = lock_text(&bp);
    for want in [
        "[[source]]",
        &format!("uri = \"{}\"", server.uri().trim_end_matches('/')),
        "suite = \"bookworm-security\"",
        "key_sha256 = ",
        "[[upgrade]]\nlayer = 1",
        "name = \"corelib\"\nversion = \"1.0-1\"\nlayer = 0",
        "name = \"corelib\"\nversion = \"1.0-2\"\nlayer = 1",
    ] {
        assert!(lock.contains(want), "lock lacks {want:?}:\n{lock}");
    }
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains("corelib_1.0-2") && r.ends_with(" 200")),
        "the download step never fetched the package from the declared source: {:?}",
        server.requests()
    );
    let first = build_json(ws.cb().args(["build", "--locked", "--json"]).arg(&bp));
    // A fresh store, the same lock: the same digest.
    let other = Ws::new();
    other.minbase();
    let second = build_json(other.cb().args(["build", "--locked", "--json"]).arg(&bp));
    assert_eq!(
        first["digest"], second["digest"],
        "upgrade layer is not reproducible"
    );
    assert_eq!(
        first["layers"].as_array().unwrap().last().unwrap()["packages"][0],
        "corelib=1.0-2"
    );
    assert_eq!(lock_text(&bp), lock, "a --locked build rewrote the lock");
}

#[test]
fn bad_sources_are_refused_naming_them_with_the_store_unchanged() {
    let ws = Ws::new();
    let (repo, server) = repo(&ws, &["1.0-1"]);
    let layers = "[[layer]]\npackages = [\"corelib\"]\n";
    let bp = blueprint(&ws, "core-bad", &repo, &server.uri(), layers);
    crate::util::run_ok(ws.cb().arg("lock").arg(&bp));
    crate::util::run_ok(ws.cb().args(["build", "--locked"]).arg(&bp));
    let store = store_content(&ws);
    let lock = lock_text(&bp);
    let refused = |args: &[&str], needles: &[&str]| {
        let o = ws.cb().args(args).arg(&bp).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: error lacks {n:?}:\n{err}");
        }
        assert_eq!(store_content(&ws), store, "{args:?} changed the store");
        assert_eq!(lock_text(&bp), lock, "{args:?} changed the lock");
    };

    // 1. The Release file is signed by another key.
    repo.break_signature();
    let source = format!("apt source {}", server.uri().trim_end_matches('/'));
    refused(
        &["build", "--no-cache"],
        &[
            &source,
            "could not be fetched or verified",
            "blueprint.toml:",
        ],
    );
    refused(&["lock", "--update"], &[&source]);
    repo.publish();

    // 2. A key file that is not there.
    let text = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    std::fs::write(
        bp.join("blueprint.toml"),
        text.replace("repo.asc", "missing.asc"),
    )
    .unwrap();
    refused(&["build"], &["blueprint.toml:", "missing.asc", "signed_by"]);
    std::fs::write(bp.join("blueprint.toml"), &text).unwrap();

    // 3. The archive drops the locked version (a security archive keeps only the newest).
    let mut repo = repo;
    add_corelib(&mut repo, "1.0-2");
    repo.remove_package("corelib", "1.0-1");
    repo.publish();
    refused(
        &["build", "--locked", "--no-cache"],
        &["corelib=1.0-1", "no longer served", "corebuild rebuild"],
    );
}
