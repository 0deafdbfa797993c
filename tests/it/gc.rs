//! `corebuild gc`: tags and lock pins keep their images whole, caches leave least
//! recently used first under `--keep-size`, `--dry-run` changes nothing and reports what
//! the real run removes, and a running build holds the store's lease against gc.

use crate::util::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A blueprint `gcapp` on the busybox base with two run layers; `v` changes both, so
/// every variant has its own layers, records and parent trees.
fn app(ws: &Ws, v: &str) -> PathBuf {
    ws.blueprint(
        "gcapp",
        &format!(
            "name = \"gcapp\"\nversion = \"1.0.0\"\ndescription = \"t\"\nepoch = 1700000000\n\
             [base]\nref = \"busybox-tiny:1\"\n\
             [[layer]]\nrun = [\"/bin/sh\", \"-c\", \"head -c 262144 /dev/urandom > /one; echo {v} > /v\"]\n\
             [[layer]]\nrun = [\"/bin/sh\", \"-c\", \"head -c 131072 /dev/urandom > /two; cat /v > /w\"]\n"
        ),
    )
}

/// Builds three variants of gcapp:1.0.0 (the tag moves, leaving two untagged images,
/// their layer records and rootfs trees) and another image; returns the last gcapp build.
fn several_builds(ws: &Ws) -> Value {
    ws.tiny_base();
    for v in ["a", "b"] {
        build_json(ws.cb().arg("build").arg(app(ws, v)).arg("--json"));
    }
    let other = ws.blueprint(
        "other",
        "name = \"other\"\nversion = \"2.0.0\"\ndescription = \"t\"\nepoch = 1700000000\n\
         [base]\nref = \"busybox-tiny:1\"\n\
         [[layer]]\nrun = [\"/bin/sh\", \"-c\", \"echo other > /other\"]\n",
    );
    build_json(ws.cb().arg("build").arg(other).arg("--json"));
    build_json(ws.cb().arg("build").arg(app(ws, "c")).arg("--json"))
}

fn gc_json(ws: &Ws, args: &[&str]) -> Value {
    let o = run_ok(ws.cb().arg("gc").args(args).arg("--json"));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn tags(ws: &Ws) -> Vec<String> {
    corebuild::oci::OciDir::open(ws.store())
        .unwrap()
        .tag_names()
        .unwrap()
}

/// Every tag inspects, every image tag unpacks, and fsck finds nothing.
fn assert_intact(ws: &Ws) {
    for t in tags(ws) {
        run_ok(ws.cb().arg("inspect").arg(&t));
        if !t.starts_with("sha256-") {
            let dir = ws.path().join(format!("unpacked-{}", t.replace(':', "-")));
            run_ok(ws.cb().arg("unpack").arg(&t).arg(&dir));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
    let o = run_ok(ws.cb().arg("fsck").arg("--json"));
    let f: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(f["problems"], serde_json::json!([]), "{f}");
}

fn count(ws: &Ws, dir: &str) -> usize {
    std::fs::read_dir(ws.store().join(dir))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn keep_size_brings_the_store_under_budget_and_keeps_tags_whole() {
    let ws = Ws::new();
    let last = several_builds(&ws);
    let tags_before = tags(&ws);
    let (records, trees) = (count(&ws, "cache/layers"), count(&ws, "cache/rootfs"));
    assert!(
        records >= 7 && trees >= 3,
        "{records} records, {trees} trees"
    );

    // A budget between what tags hold and the whole store: some caches go, not all.
    let probe = gc_json(&ws, &["--dry-run"]);
    let (before, tagged) = (
        probe["before"].as_u64().unwrap(),
        probe["tagged"].as_u64().unwrap(),
    );
    assert!(before > tagged, "{probe}");
    let budget = tagged + (before - tagged) / 3;
    let r = gc_json(&ws, &["--keep-size", &budget.to_string()]);
    assert!(r["after"].as_u64().unwrap() <= budget, "{r}");
    assert_eq!(r["over_budget"], Value::Null, "{r}");
    assert!(r["removed"]["blobs"]["count"].as_u64().unwrap() > 0, "{r}");
    assert!(r["removed"]["rootfs"]["count"].as_u64().unwrap() > 0, "{r}");
    assert!(
        r["removed"]["layer_records"]["count"].as_u64().unwrap() > 0,
        "{r}"
    );
    assert!(count(&ws, "cache/layers") > 0, "the newest records stay");
    assert_eq!(tags(&ws), tags_before);
    assert_intact(&ws);
    // The newest records survived: the last build is a cache hit, the same image.
    let again = build_json(ws.cb().arg("build").arg(app(&ws, "c")).arg("--json"));
    assert_eq!(again["digest"], last["digest"]);
    for l in again["layers"].as_array().unwrap().iter().skip(1) {
        assert_eq!(l["cache_hit"], true, "{again}");
    }

    // A budget the tags alone exceed: every cache goes, the tags stay, and it says so.
    let o = run_ok(ws.cb().args(["gc", "--keep-size", "1MiB"]));
    let out = stdout(&o);
    assert!(out.contains("over budget by"), "{out}");
    assert!(out.contains("tagged content alone is"), "{out}");
    assert_eq!(count(&ws, "cache/layers"), 0);
    assert_eq!(count(&ws, "cache/rootfs"), 0);
    assert_eq!(tags(&ws), tags_before);
    assert_intact(&ws);
    let after = gc_json(&ws, &["--keep-size", "1MiB", "--dry-run"]);
    assert_eq!(after["removed"]["blobs"]["count"], 0, "{after}");
    assert!(after["over_budget"].as_u64().unwrap() > 0, "{after}");
}

#[test]
fn dry_run_changes_nothing_and_reports_what_the_real_run_removes() {
    let ws = Ws::new();
    several_builds(&ws);
    // Scratch a killed build would leave: a temp blob and a half-flattened tree.
    std::fs::write(ws.store().join("blobs/sha256/.tmp-blob-x"), b"partial").unwrap();
    std::fs::create_dir_all(ws.store().join("cache/rootfs/.tmp-rootfs-x/rootfs")).unwrap();
    let before = tree_state(&ws.store());
    let dry = gc_json(&ws, &["--dry-run", "--keep-size", "3MiB"]);
    assert_eq!(
        before,
        tree_state(&ws.store()),
        "--dry-run changed the store"
    );
    assert_eq!(dry["dry_run"], true);
    assert!(
        dry["removed"]["scratch"]["count"].as_u64().unwrap() >= 2,
        "{dry}"
    );
    let real = gc_json(&ws, &["--keep-size", "3MiB"]);
    assert_eq!(real["removed"], dry["removed"]);
    assert_eq!(real["before"], dry["before"]);
    assert!(!ws.store().join("blobs/sha256/.tmp-blob-x").exists());
    assert_intact(&ws);
}

#[test]
fn a_base_only_a_lock_names_is_kept_with_locks() {
    let ws = Ws::new();
    let base = ws.tiny_base();
    let bp = app(&ws, "a");
    run_ok(ws.cb().arg("lock").arg(&bp));
    build_json(ws.cb().arg("build").arg(&bp).arg("--json"));
    // A registry base is stored untagged; here the imported base loses its tag.
    let store = corebuild::oci::OciDir::open(ws.store()).unwrap();
    assert!(store.remove_tag("busybox-tiny:1").unwrap());
    let digest: corebuild::digest::Digest = base.parse().unwrap();

    let kept = gc_json(&ws, &["--locks", bp.to_str().unwrap()]);
    assert_eq!(kept["lock_pins"], 1, "{kept}");
    assert!(
        store.has_blob(&digest),
        "the locked base was collected: {kept}"
    );
    run_ok(ws.cb().arg("inspect").arg(&base));

    let o = run_ok(ws.cb().arg("gc"));
    assert!(
        !store.has_blob(&digest),
        "without --locks the base is garbage: {}",
        stdout(&o)
    );
    assert_intact(&ws);

    std::fs::write(bp.join("blueprint.lock"), "version = 1\n[base\n").unwrap();
    let o = fails_with(
        {
            let mut c = ws.cb();
            c.args(["gc", "--locks"]).arg(ws.path());
            c
        },
        2,
        "blueprint.lock",
    );
    assert!(stdout(&o).is_empty());
    fails_with(
        {
            let mut c = ws.cb();
            c.args(["gc", "--keep-size", "20 gigs"]);
            c
        },
        2,
        "--keep-size",
    );
}

/// The merged overlay of the running build step under `store`, once the step started.
fn running_step(store: &Path) -> PathBuf {
    for _ in 0..6000 {
        if let Some(m) = mounts_under(store)
            .into_iter()
            .map(PathBuf::from)
            .find(|m| m.ends_with("merged") && m.join("started").exists())
        {
            return m;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the build step never started");
}

#[test]
fn gc_waits_for_a_running_build_or_refuses_with_no_wait() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.blueprint(
        "slow",
        "name = \"slow\"\nversion = \"1.0.0\"\ndescription = \"t\"\nepoch = 1700000000\n\
         [base]\nref = \"busybox-tiny:1\"\n\
         [[layer]]\nrun = [\"/bin/sh\", \"-c\", \"touch /started; while [ ! -e /go ]; do sleep 0.1; done; rm /go /started; echo done > /out\"]\n",
    );
    let build = ws
        .cb()
        .arg("build")
        .arg(&bp)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let merged = running_step(&ws.store());

    fails_with(
        {
            let mut c = ws.cb();
            c.args(["gc", "--no-wait", "--keep-size", "0"]);
            c
        },
        3,
        "is in use",
    );
    let mut gc = ws
        .cb()
        .args(["gc", "--keep-size", "0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(gc.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("waiting for the commands using"), "{line}");
    // The build holds the lease until it exits, so gc cannot have run yet.
    assert!(gc.try_wait().unwrap().is_none(), "gc did not wait");

    std::fs::write(merged.join("go"), b"").unwrap();
    let b = build.wait_with_output().unwrap();
    assert!(b.status.success(), "{}", stderr(&b));
    let built: Value = serde_json::from_slice(&b.stdout).unwrap();
    let g = gc.wait_with_output().unwrap();
    assert!(g.status.success());
    let r: Value = serde_json::from_slice(&g.stdout).unwrap();
    assert_eq!(
        r["removed"]["blobs"]["count"], 0,
        "the build's blobs are tagged: {r}"
    );
    assert_intact(&ws);
    let flat = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("slow:1.0.0").arg(&flat));
    assert_eq!(std::fs::read_to_string(flat.join("out")).unwrap(), "done\n");
    assert!(built["digest"].is_string());
}

#[test]
fn a_gc_killed_mid_way_leaves_scratch_that_no_build_takes_and_the_next_gc_removes() {
    let ws = Ws::new();
    several_builds(&ws);
    for point in ["gc.blob:kill", "gc.renamed:kill"] {
        let o = ws
            .cb()
            .args(["gc", "--keep-size", "0"])
            .env("COREBUILD_FAILPOINT", point)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), None, "{point}: not killed: {}", stderr(&o));
        assert_intact(&ws);
    }
    let left: Vec<_> = walkdir::WalkDir::new(ws.store().join("cache"))
        .max_depth(2)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-gc-"))
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // The renamed tree is no cache entry: the build flattens its parent afresh.
    build_json(ws.cb().arg("build").arg(app(&ws, "d")).arg("--json"));
    let r = gc_json(&ws, &[]);
    assert!(
        r["removed"]["scratch"]["count"].as_u64().unwrap() >= 1,
        "{r}"
    );
    assert!(!left[0].path().exists());
    assert_intact(&ws);
}
