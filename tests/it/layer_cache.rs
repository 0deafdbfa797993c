//! The shared layer cache in a real docker-registry: a second store with only the base
//! builds a locked blueprint from the cache alone (its runtime fails if called, and is
//! not), a poisoned entry is refused, rebuilt and repaired, a registry that is down
//! costs a warning, not the build, and a bad `--cache` is a usage error.

use crate::registry::Registry;
use crate::util::*;
use corebuild::build::cache::CacheRecord;
use corebuild::build::registry_cache::{tag, Entry};
use corebuild::digest::Digest;
use corebuild::registry::{Client, RetryPolicy};
use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = "corebuild/cache";

/// A busybox blueprint with a `run` layer and a `files` layer, locked.
fn tiny_project(ws: &Ws) -> PathBuf {
    let bp = ws.blueprint(
        "cached",
        "name = \"cached\"\nversion = \"1.0.0\"\ndescription = \"t\"\nepoch = 1700000000\n\
         [base]\nref = \"busybox-tiny:1\"\n\
         [[layer]]\nrun = [\"/bin/sh\", \"-c\", \"mkdir -p /opt && echo built > /opt/x\"]\n\
         [[layer]]\nfiles = [ { src = \"motd\", dest = \"/etc/motd\" } ]\n",
    );
    std::fs::write(bp.join("motd"), "hello\n").unwrap();
    run_ok(ws.cb().arg("lock").arg(&bp));
    bp
}

/// A runtime that writes down every call into `log` and fails.
fn failing_runtime(dir: &Path, log: &Path) -> PathBuf {
    let p = dir.join("refusing-runtime.sh");
    std::fs::write(
        &p,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 99\n", log.display()),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("755").arg(&p));
    p
}

/// `build --locked --json` with the registry cache.
fn cached_build(ws: &Ws, bp: &Path, cache: &str, runtime: Option<&Path>) -> serde_json::Value {
    let mut c = ws.cb();
    c.env("COREBUILD_INSECURE", "1")
        .arg("build")
        .arg("--locked")
        .arg(bp)
        .arg("--cache")
        .arg(cache)
        .arg("--json");
    if let Some(r) = runtime {
        c.arg("--runtime").arg(r);
    }
    build_json(&mut c)
}

/// The layers a blueprint added (not the base's), as (cache_hit, cache).
fn own_layers(v: &serde_json::Value) -> Vec<(bool, serde_json::Value)> {
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"] != "base")
        .map(|l| (l["cache_hit"].as_bool().unwrap(), l["cache"].clone()))
        .collect()
}

fn all_from_registry(v: &serde_json::Value) {
    let layers = own_layers(v);
    assert!(!layers.is_empty());
    for (hit, src) in layers {
        assert!(
            hit && src == "registry",
            "not every layer came from the registry: {v}"
        );
    }
}

/// Store B, empty but for the base, builds from store A's pushes alone: every layer from
/// the registry, the same digest, and no call to its runtime.
fn second_store_builds_from_the_cache(import_base: fn(&Ws) -> String, project: fn(&Ws) -> PathBuf) {
    let reg = Registry::start();
    let cache = format!("registry:{}/{REPO}", reg.addr);
    let a = Ws::new();
    import_base(&a);
    let bp_a = project(&a);
    let first = cached_build(&a, &bp_a, &cache, None);
    assert!(own_layers(&first).iter().all(|(hit, _)| !hit), "{first}");

    let b = Ws::new();
    import_base(&b);
    let bp_b = project(&b);
    let log = b.path().join("runtime-calls");
    let rt = failing_runtime(b.path(), &log);
    let second = cached_build(&b, &bp_b, &cache, Some(&rt));
    assert!(
        !log.exists(),
        "the runtime was started: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    all_from_registry(&second);
    assert_eq!(first["digest"], second["digest"]);
    // The entries are now this store's own records too.
    let third = cached_build(&b, &bp_b, &cache, Some(&rt));
    assert!(
        own_layers(&third)
            .iter()
            .all(|(hit, src)| *hit && src == "local"),
        "{third}"
    );
    run_ok(b.cb().arg("fsck"));
}

#[test]
fn a_second_store_builds_busybox_from_the_registry_cache_without_a_runtime() {
    second_store_builds_from_the_cache(|ws| ws.tiny_base(), tiny_project);
}

/// `release` reads the cache from `COREBUILD_CACHE`: a store with only the base releases
/// what another store built, without its runtime.
#[test]
fn release_takes_the_cache_from_the_environment() {
    let reg = Registry::start();
    let cache = format!("registry:{}/{REPO}", reg.addr);
    let a = Ws::new();
    a.tiny_base();
    let built = cached_build(&a, &tiny_project(&a), &cache, None);
    let b = Ws::new();
    b.tiny_base();
    let bp = tiny_project(&b);
    let log = b.path().join("runtime-calls");
    let rt = failing_runtime(b.path(), &log);
    let o = run_ok(
        b.cb()
            .env("COREBUILD_INSECURE", "1")
            .env("COREBUILD_CACHE", &cache)
            .arg("release")
            .arg("--locked")
            .arg(&bp)
            .arg("--catalog")
            .arg(format!("oci-layout:{}", b.path().join("catalog").display()))
            .arg("--runtime")
            .arg(&rt)
            .arg("--json"),
    );
    assert!(!log.exists(), "the runtime was started");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["digest"], built["digest"], "{v}");
}

#[test]
fn a_second_store_builds_core_minimal_from_the_registry_cache_without_a_runtime() {
    second_store_builds_from_the_cache(
        |ws| ws.minbase(),
        |ws| ws.project_blueprint("core-minimal"),
    );
}

fn client(reg: &Registry) -> Client {
    Client::new(&reg.addr, true, RetryPolicy::default()).unwrap()
}

/// The key and record of the entry that holds `layer` (a layer digest).
fn entry_of(c: &Client, layer: &str) -> (Digest, CacheRecord) {
    for t in c.tags(REPO).unwrap() {
        let m = c.get_manifest(REPO, &t).unwrap().unwrap();
        let m: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
        if m["layers"][0]["digest"] != layer {
            continue;
        }
        let cfg: Digest = m["config"]["digest"].as_str().unwrap().parse().unwrap();
        let bytes = c
            .read_blob(REPO, &cfg, m["config"]["size"].as_u64().unwrap())
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let key: Digest = v["key"].as_str().unwrap().parse().unwrap();
        assert_eq!(t, tag(&key));
        return (key, serde_json::from_value(v).unwrap());
    }
    panic!("no cache entry holds {layer}");
}

/// A real gzip'd tar layer whose content is not what the record says.
fn evil_layer() -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    let body = b"evil\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    t.append_data(&mut h, "opt/x", &body[..]).unwrap();
    let tar = t.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

/// Replaces the entry for `key` with one whose blob is `blob` (its digest and size in
/// the descriptor and record, so every digest checks out) but whose record keeps the
/// good diff_id: only the diff_id check can catch it.
fn poison(c: &Client, key: &Digest, good: &CacheRecord, blob: &[u8]) {
    let digest = Digest::of_bytes(blob);
    let rec = CacheRecord {
        digest: digest.clone(),
        size: blob.len() as u64,
        ..good.clone()
    };
    let e = Entry::new(key, &rec).unwrap();
    for bytes in [blob, &e.config[..]] {
        let open = || -> anyhow::Result<Box<dyn std::io::Read + Send + '_>> { Ok(Box::new(bytes)) };
        c.push_blob(REPO, &Digest::of_bytes(bytes), bytes.len() as u64, &open)
            .unwrap();
    }
    let md = Digest::of_bytes(&e.manifest);
    c.put_manifest(
        REPO,
        &tag(key),
        "application/vnd.oci.image.manifest.v1+json",
        &e.manifest,
        &md,
    )
    .unwrap();
}

#[test]
fn a_poisoned_entry_is_refused_rebuilt_and_repaired() {
    let reg = Registry::start();
    let cache = format!("registry:{}/{REPO}", reg.addr);
    let a = Ws::new();
    a.tiny_base();
    let bp_a = tiny_project(&a);
    let good = cached_build(&a, &bp_a, &cache, None);
    let run_layer = good["layers"][1]["digest"].as_str().unwrap().to_string();
    let c = client(&reg);
    let (key, rec) = entry_of(&c, &run_layer);
    poison(&c, &key, &rec, &evil_layer());

    // A fresh store refuses the entry, says which and why, and builds with runc.
    let b = Ws::new();
    b.tiny_base();
    let bp_b = tiny_project(&b);
    let o = run_ok(
        b.cb()
            .env("COREBUILD_INSECURE", "1")
            .arg("build")
            .arg("--locked")
            .arg(&bp_b)
            .arg("--cache")
            .arg(&cache)
            .arg("--json"),
    );
    let err = stderr(&o);
    assert!(err.contains(&key.to_string()), "{err}");
    assert!(err.contains("refused") && err.contains("diff_id"), "{err}");
    let built: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(built["digest"], good["digest"]);
    assert_eq!(built["layers"][1]["cache_hit"], false, "{built}");
    assert!(built["layers"][1]["cache"].is_null(), "{built}");
    // The bad blob never entered the store.
    let evil = Digest::of_bytes(&evil_layer());
    assert!(!b.store().join("blobs/sha256").join(evil.hex()).exists());
    run_ok(b.cb().arg("fsck"));

    // The entry was repaired: a third store gets everything from it, runtime unused.
    let (_, repaired) = entry_of(&c, &run_layer);
    assert_eq!(repaired.digest.to_string(), run_layer);
    let d = Ws::new();
    d.tiny_base();
    let bp_d = tiny_project(&d);
    let log = d.path().join("runtime-calls");
    let rt = failing_runtime(d.path(), &log);
    let third = cached_build(&d, &bp_d, &cache, Some(&rt));
    assert!(!log.exists());
    all_from_registry(&third);
    assert_eq!(third["digest"], good["digest"]);
}

#[test]
fn a_registry_that_is_down_costs_one_warning_not_the_build() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = Ws::new();
    ws.tiny_base();
    let bp = tiny_project(&ws);
    let o = run_ok(
        ws.cb()
            .env("COREBUILD_INSECURE", "1")
            .env(
                "COREBUILD_CACHE",
                format!("registry:127.0.0.1:{port}/{REPO}"),
            )
            .arg("build")
            .arg("--locked")
            .arg(&bp)
            .arg("--json"),
    );
    let err = stderr(&o);
    assert_eq!(err.matches("warning: layer cache").count(), 1, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(own_layers(&v).iter().all(|(hit, _)| !hit), "{v}");
}

#[test]
fn a_bad_cache_value_is_a_usage_error_naming_flag_or_env() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = tiny_project(&ws);
    let mut c = ws.cb();
    c.arg("build")
        .arg(&bp)
        .arg("--cache")
        .arg("127.0.0.1:5000/cache");
    let o = fails_with(c, 2, "--cache");
    assert!(stderr(&o).contains("registry:HOST[:PORT]/REPO"));
    let mut c = ws.cb();
    c.env("COREBUILD_CACHE", "registry:127.0.0.1:5000")
        .arg("release")
        .arg(&bp);
    fails_with(c, 2, "COREBUILD_CACHE");
}
