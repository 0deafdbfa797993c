//! The machine's package cache (`COREBUILD_PACKAGE_CACHE`, by default the user's cache
//! directory): a second, empty store builds a locked packages layer from it with the
//! mirror gone, to the same digest; `--no-cache` still needs the mirror; and a cached
//! .deb that no longer matches its signed index is never installed.

use crate::apt_sources::{add_corelib, blueprint, SUITE};
use crate::aptrepo::AptRepo;
use crate::util::{build_json, run_ok, stderr, Ws};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixture's package layer: corelib, at the version the lock resolves.
const LAYER: &str = "[[layer]]\npackages = [\"corelib\"]\n";

/// `build --locked BP --json` in `ws`'s store with the package cache at `cache`.
fn build(ws: &Ws, cache: &Path, bp: &Path, extra: &[&str]) -> Command {
    let mut c = ws.cb();
    c.env("COREBUILD_PACKAGE_CACHE", cache)
        .args(["build", "--locked", "--json"])
        .args(extra)
        .arg(bp);
    c
}

/// Every cached .deb under `cache`.
fn cached_debs(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for chain in std::fs::read_dir(cache).unwrap() {
        let archives = chain.unwrap().path().join("archives");
        for f in std::fs::read_dir(&archives).into_iter().flatten() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "deb") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_second_store_builds_from_the_machine_package_cache_with_the_mirror_gone() {
    let ws = Ws::new();
    let mut repo = AptRepo::new(&ws.path().join("repo"), SUITE);
    add_corelib(&mut repo, "1.0-1");
    repo.publish();
    let server = repo.serve();
    let bp = blueprint(&ws, "core-pc", &repo, &server.uri(), LAYER);
    let cache = ws.path().join("machine-packages");
    run_ok(
        ws.cb()
            .env("COREBUILD_PACKAGE_CACHE", &cache)
            .arg("lock")
            .arg(&bp),
    );
    let first = build_json(&mut build(&ws, &cache, &bp, &[]));
    assert!(
        !ws.store().join("cache/apt").exists(),
        "the packages went to the machine's cache, not the store's"
    );
    assert_eq!(cached_debs(&cache).len(), 1, "corelib's .deb is cached");
    drop(server);

    // An empty store on the same machine, the mirror gone: every .deb is cached and
    // matches its signed index, so no download phase runs, and the layer is the same.
    let ws2 = Ws::new();
    ws2.minbase();
    let second = build_json(&mut build(&ws2, &cache, &bp, &[]));
    assert_eq!(second["digest"], first["digest"]);

    // --no-cache fetches as before: with the mirror gone it cannot build.
    let ws3 = Ws::new();
    ws3.minbase();
    let no_cache = build(&ws3, &cache, &bp, &["--no-cache"]).output().unwrap();
    assert!(
        !no_cache.status.success(),
        "--no-cache built without the mirror"
    );

    // A cached .deb changed after apt verified it: not installed. The build falls back
    // to the download, which the missing mirror fails.
    for deb in cached_debs(&cache) {
        let mut bytes = std::fs::read(&deb).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&deb, bytes).unwrap();
    }
    let ws4 = Ws::new();
    ws4.minbase();
    let o = build(&ws4, &cache, &bp, &[]).output().unwrap();
    assert!(
        !o.status.success(),
        "a tampered cached .deb was used:\n{}",
        stderr(&o)
    );
    assert_eq!(
        o.status.code(),
        no_cache.status.code(),
        "it failed as a build that must download fails:\n{}",
        stderr(&o)
    );
}

/// Without `COREBUILD_PACKAGE_CACHE` the cache is the user's (`$XDG_CACHE_HOME`), shared
/// by every store; the test suite itself runs with `store` (.cargo/config.toml).
#[test]
fn by_default_the_package_cache_is_the_users() {
    assert_eq!(
        std::env::var("COREBUILD_PACKAGE_CACHE").as_deref(),
        Ok("store"),
        "cargo's [env] keeps the suite's package caches in each store"
    );
    let ws = Ws::new();
    let mut repo = AptRepo::new(&ws.path().join("repo"), SUITE);
    add_corelib(&mut repo, "1.0-1");
    repo.publish();
    let server = repo.serve();
    let bp = blueprint(&ws, "core-pc", &repo, &server.uri(), LAYER);
    let xdg = ws.path().join("xdg-cache");
    let mut lock = ws.cb();
    lock.env_remove("COREBUILD_PACKAGE_CACHE")
        .env("XDG_CACHE_HOME", &xdg)
        .arg("lock")
        .arg(&bp);
    run_ok(&mut lock);
    assert_eq!(cached_debs(&xdg.join("corebuild/packages")).len(), 1);
    assert!(!ws.store().join("cache/apt").exists());
}
