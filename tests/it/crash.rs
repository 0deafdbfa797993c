//! Crash consistency: `build`, `publish` (layout and registry), `promote` and `release`
//! killed with SIGKILL at every named fail point they pass (`COREBUILD_FAILPOINT=*:kill:N`)
//! and at evenly spaced moments of a clean run. After each kill: `corebuild fsck` finds
//! nothing in the store or a layout catalog, no catalog lists a version it cannot serve,
//! and a rerun converges to the clean run's digests.
//!
//! The normal suite kills at every 25th named point and tops up with timed kills to 8
//! per command, to stay short; `scripts/crash.sh` sets `COREBUILD_CRASH_STRIDE=1` (every
//! named point) and `COREBUILD_CRASH_POINTS=50` (timed kills until 50 in all) and prints
//! the figures.

use crate::registry::Registry;
use crate::util::*;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The blueprint: a `run` step (runc, an overlay, a cache record) and a files layer.
const BLUEPRINT: &str = r#"name = "crash-web"
version = "1.0.0"
description = "A busybox image that crash tests kill while it is built and published"
epoch = 1735689600

[base]
ref = "busybox-tiny:1"

[[layer]]
run = ["/bin/sh", "-c", "mkdir -p /var/www && for i in 1 2 3 4 5 6 7 8; do echo line $i >> /var/www/notes.txt; done"]

[[layer]]
files = [ { src = "files/index.html", dest = "/var/www/index.html", mode = "0644" } ]

[config]
env = { LANG = "C.UTF-8" }
labels = { "org.opencontainers.image.vendor" = "corebuild", "org.opencontainers.image.source" = "tests/it/crash.rs" }
entrypoint = ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/var/www"]
exposed_ports = ["8080/tcp"]

[contract]
suites = ["posix-base", "core-metadata", "httpd-service"]

[lifecycle]
end_of_support = "2027-06-30"

[[change]]
kind = "enhancement"
summary = "First release"
"#;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A prepared state (store, project, catalog: the workspace) that each attempt starts
/// from a copy of.
struct Scenario {
    pre: Ws,
    attempts: tempfile::TempDir,
}

impl Scenario {
    /// The tiny base and the project; `prepare` takes it further (test, publish).
    fn new(prepare: &dyn Fn(&Path)) -> Scenario {
        let pre = Ws::new();
        pre.tiny_base();
        let proj = pre.path().join("proj");
        std::fs::create_dir_all(proj.join("blueprints/crash-web/files")).unwrap();
        copy_dir(&repo_root().join("contract-tests"), &proj);
        let bp = proj.join("blueprints/crash-web");
        std::fs::write(bp.join("blueprint.toml"), BLUEPRINT).unwrap();
        std::fs::write(bp.join("files/index.html"), "ok\n").unwrap();
        prepare(pre.path());
        Scenario {
            pre,
            attempts: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh copy of the prepared state.
    fn attempt(&self, n: usize) -> PathBuf {
        let dir = self.attempts.path().join(format!("attempt-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        run_ok(Command::new("cp").arg("-a").arg(self.pre.path()).arg(&dir));
        dir
    }
}

fn cb(dir: &Path, args: &[String]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("COREBUILD_STORE", dir.join("store"))
        .env("COREBUILD_INSECURE", "1")
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("COREBUILD_FAILPOINT")
        .current_dir(dir);
    c
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// What a command under test must converge to.
struct Target {
    args: Vec<String>,
    /// The digest the clean run's outcome names, read from the dir and the catalog
    /// (`""` for a command that writes none) after the run.
    outcome: fn(&Path, &str) -> String,
}

/// How one attempt was stopped.
enum Stop {
    Point(usize),
    After(Duration),
}

/// Kills the command at every `COREBUILD_CRASH_STRIDE`th named point, then at timed
/// moments until `COREBUILD_CRASH_POINTS` kills were made; returns (named, timed) kills.
fn crash_everywhere(
    s: &Scenario,
    target: &Target,
    catalog_of: &dyn Fn(usize) -> String,
) -> (usize, usize) {
    // The clean run: its outcome and its duration.
    let clean = s.attempt(0);
    let cat0 = catalog_of(0);
    let started = Instant::now();
    run_ok(&mut cb(&clean, &with_catalog(&target.args, &cat0)));
    let took = started.elapsed();
    let want = (target.outcome)(&clean, &cat0);

    let stride = env_or("COREBUILD_CRASH_STRIDE", 25).max(1);
    let (mut n, mut point, mut named) = (1, 1, 0);
    loop {
        let dir = s.attempt(n);
        let cat = catalog_of(n);
        let args = with_catalog(&target.args, &cat);
        if !run_killed(&dir, &args, Stop::Point(point)) {
            break;
        }
        check_and_rerun(&dir, target, &cat, &want, &format!("fail point {point}"));
        named += 1;
        point += stride;
        n += 1;
    }
    assert!(
        named >= 1,
        "only {} fail points passed: are they wired in?",
        point - 1
    );
    let timed = env_or("COREBUILD_CRASH_POINTS", 8).saturating_sub(named);
    for i in 0..timed {
        let at = took.mul_f64((i as f64 + 0.5) / timed as f64);
        let dir = s.attempt(n);
        let cat = catalog_of(n);
        run_killed(&dir, &with_catalog(&target.args, &cat), Stop::After(at));
        check_and_rerun(&dir, target, &cat, &want, &format!("a kill at {at:?}"));
        n += 1;
    }
    eprintln!(
        "{:?}: {named} named points + {timed} timed kills (clean run {took:?}): all converged",
        target.args
    );
    (named, timed)
}

fn with_catalog(args: &[String], cat: &str) -> Vec<String> {
    let mut a = args.to_vec();
    if !cat.is_empty() {
        a.push("--catalog".into());
        a.push(cat.into());
    }
    a
}

/// Runs the command until it is stopped; false when it finished first.
fn run_killed(dir: &Path, args: &[String], stop: Stop) -> bool {
    match stop {
        Stop::Point(k) => {
            let o = cb(dir, args)
                .env("COREBUILD_FAILPOINT", format!("*:kill:{k}"))
                .output()
                .unwrap();
            match o.status.signal() {
                Some(9) => true,
                _ => {
                    assert!(
                        o.status.success(),
                        "{args:?} failed unkilled:\n{}",
                        stderr(&o)
                    );
                    false
                }
            }
        }
        Stop::After(at) => {
            let mut child = cb(dir, args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(at);
            let _ = child.kill();
            let _ = child.wait();
            true
        }
    }
}

fn check_and_rerun(dir: &Path, target: &Target, cat: &str, want: &str, when: &str) {
    fsck_clean(&dir.join("store"), when);
    if let Some(path) = cat.strip_prefix("oci-layout:") {
        if Path::new(path).join("oci-layout").exists() {
            fsck_clean(Path::new(path), when);
        }
    }
    if !cat.is_empty() {
        listed_means_served(dir, cat, when);
    }
    let o = cb(dir, &with_catalog(&target.args, cat)).output().unwrap();
    assert!(
        o.status.success(),
        "rerun after {when} failed:\n{}",
        stderr(&o)
    );
    let got = (target.outcome)(dir, cat);
    assert_eq!(got, want, "rerun after {when} did not converge");
    fsck_clean(&dir.join("store"), when);
}

fn fsck_clean(layout: &Path, when: &str) {
    let o = Command::new(BIN)
        .args(["fsck", "--json"])
        .env("COREBUILD_STORE", layout)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("fsck after {when}: {}", stderr(&o)));
    assert_eq!(
        r["problems"],
        serde_json::json!([]),
        "fsck of {} after {when}",
        layout.display()
    );
    assert!(o.status.success(), "fsck after {when}: {}", stderr(&o));
}

/// Every version the catalog lists resolves and pulls with every blob verified.
fn listed_means_served(dir: &Path, cat: &str, when: &str) {
    let o = cb(
        dir,
        &strings(&["catalog", "list", "--json", "--catalog", cat]),
    )
    .output()
    .unwrap();
    if !o.status.success() {
        // A catalog that was never created lists nothing: fine, as long as it says so.
        assert_eq!(
            o.status.code(),
            Some(2),
            "catalog list after {when}: {}",
            stderr(&o)
        );
        return;
    }
    let list: Value = serde_json::from_slice(&o.stdout).unwrap();
    for image in list.as_array().into_iter().flatten() {
        for r in image["releases"].as_array().into_iter().flatten() {
            let reference = format!(
                "{}:{}",
                image["name"].as_str().unwrap(),
                r["version"].as_str().unwrap()
            );
            let out = dir.join(format!("pulled-{}", r["version"].as_str().unwrap()));
            let o = cb(dir, &strings(&["pull", &reference, "--out"]))
                .arg(&out)
                .args(["--catalog", cat])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{reference} is listed after {when} but does not pull:\n{}",
                stderr(&o)
            );
            let _ = std::fs::remove_dir_all(&out);
        }
    }
}

fn build_digest(dir: &Path, _cat: &str) -> String {
    let o = run_ok(&mut cb(
        dir,
        &strings(&["inspect", "crash-web:1.0.0", "--json"]),
    ));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["digest"].as_str().unwrap().to_string()
}

fn published_digest(dir: &Path, cat: &str) -> String {
    let o = run_ok(&mut cb(
        dir,
        &strings(&["catalog", "resolve", "crash-web:1.0.0", "--catalog", cat]),
    ));
    stdout(&o).trim().to_string()
}

fn channel_digest(dir: &Path, cat: &str) -> String {
    let o = run_ok(&mut cb(
        dir,
        &strings(&["catalog", "resolve", "crash-web@stable", "--catalog", cat]),
    ));
    stdout(&o).trim().to_string()
}

fn layout_catalog(_n: usize) -> String {
    "oci-layout:catalog".to_string()
}

fn tested(pre: &Path) {
    run_ok(&mut cb(
        pre,
        &strings(&["test", "proj/blueprints/crash-web"]),
    ));
}

fn published(pre: &Path) {
    tested(pre);
    run_ok(&mut cb(
        pre,
        &strings(&[
            "publish",
            "crash-web:1.0.0",
            "--catalog",
            "oci-layout:catalog",
        ]),
    ));
}

#[test]
fn build_killed_anywhere_converges() {
    let s = Scenario::new(&|_| {});
    let t = Target {
        args: strings(&["build", "proj/blueprints/crash-web"]),
        outcome: build_digest,
    };
    crash_everywhere(&s, &t, &|_| String::new());
}

#[test]
fn publish_to_a_layout_killed_anywhere_converges() {
    let s = Scenario::new(&tested);
    let t = Target {
        args: strings(&["publish", "crash-web:1.0.0"]),
        outcome: published_digest,
    };
    crash_everywhere(&s, &t, &layout_catalog);
}

#[test]
fn publish_to_a_registry_killed_anywhere_converges() {
    let reg = Registry::start();
    let s = Scenario::new(&tested);
    let t = Target {
        args: strings(&["publish", "crash-web:1.0.0"]),
        outcome: published_digest,
    };
    // A namespace per attempt: each starts from an empty catalog, like the copied store.
    crash_everywhere(&s, &t, &|n| reg.spec(&format!("crash{n}")));
}

#[test]
fn promote_killed_anywhere_converges() {
    let s = Scenario::new(&published);
    let t = Target {
        args: strings(&["promote", "crash-web:1.0.0", "stable"]),
        outcome: channel_digest,
    };
    crash_everywhere(&s, &t, &layout_catalog);
}

#[test]
fn release_killed_anywhere_converges() {
    let s = Scenario::new(&|_| {});
    let t = Target {
        args: strings(&[
            "release",
            "proj/blueprints/crash-web",
            "--channel",
            "stable",
        ]),
        outcome: channel_digest,
    };
    crash_everywhere(&s, &t, &layout_catalog);
}

#[test]
fn a_panic_exits_3_with_a_message_not_101() {
    let s = Scenario::new(&|_| {});
    let dir = s.attempt(1);
    let o = cb(&dir, &strings(&["build", "proj/blueprints/crash-web"]))
        .env("COREBUILD_FAILPOINT", "blob.persist:panic")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("internal error"), "{}", stderr(&o));
    fsck_clean(&dir.join("store"), "a panic");
}
