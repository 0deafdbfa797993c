//! The fan-out scenario from the `json` plan, with this test as the engine: 3 worker
//! processes with their own stores, one docker-registry as catalog and cache, 4
//! blueprints of which one is built on another through `catalog:NAME:VERSION`. Every
//! blueprint is built and published exactly once, the dependent after its base, with the
//! digests one machine gets building them all, and a rerun of the plan is entirely cached.
//!
//! Build steps are counted by a logging shim in front of the real runc, one per worker.

use crate::plan::IMAGE;
use crate::registry::Registry;
use crate::util::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const WORKERS: usize = 3;
const BASE: &str = "fan-base";
const DEPENDENT: &str = "fan-app";

/// `root/blueprints/<name>` for the four blueprints, and `root/release-notes`.
fn checkout(root: &Path) {
    let set = [
        (BASE, "busybox-tiny:1"),
        (DEPENDENT, "catalog:fan-base:1.0.0"),
        ("fan-one", "busybox-tiny:1"),
        ("fan-two", "busybox-tiny:1"),
    ];
    for (name, base) in set {
        let d = root.join("blueprints").join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("blueprint.toml"),
            format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"fan-out {name}\"\n\
                 epoch = 1735689600\n[base]\nref = \"{base}\"\n\
                 [[layer]]\nrun = [\"/bin/sh\", \"-c\", \"echo {name} > /etc/{name}\"]\n"
            ),
        )
        .unwrap();
    }
    std::fs::create_dir_all(root.join("release-notes")).unwrap();
}

/// A machine: its own store with the busybox base, and a runc shim logging to `runc.log`.
struct Worker {
    ws: Ws,
}

impl Worker {
    fn new(tiny_digest: Option<&str>) -> Worker {
        let ws = Ws::new();
        let d = ws.tiny_base();
        if let Some(expected) = tiny_digest {
            assert_eq!(
                d, expected,
                "the busybox base imports to one digest everywhere"
            );
        }
        let shim = ws.path().join("shim");
        std::fs::create_dir_all(&shim).unwrap();
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            ws.path().join("runc.log").display(),
            require("runc").display()
        );
        std::fs::write(shim.join("runc"), script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(shim.join("runc"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        Worker { ws }
    }

    /// How many containers (build steps: the blueprints declare no contract suites) this
    /// worker's runc has started so far.
    fn runc_runs(&self) -> usize {
        std::fs::read_to_string(self.ws.path().join("runc.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" run --bundle "))
            .count()
    }

    /// `corebuild ARGS` as this machine, in `cwd`, with `env` on top.
    fn cb(&self, cwd: &Path, env: &BTreeMap<String, String>) -> Command {
        let mut c = self.ws.cb();
        let path = format!(
            "{}:{}",
            self.ws.path().join("shim").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.current_dir(cwd)
            .env("PATH", path)
            .env("DOCKER_CONFIG", self.ws.path().join("docker"))
            .env_remove("COREBUILD_CACHE")
            .envs(env);
        c
    }
}

fn release_json(mut c: Command) -> Value {
    let o = c.arg("--json").output().unwrap();
    assert!(
        o.status.success(),
        "{c:?} failed\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

/// One machine builds them all: locks every blueprint (the dependent's against the base it
/// released) and releases each, returning the digests by name.
fn reference(reg: &Registry, root: &Path, tiny: &str) -> BTreeMap<String, String> {
    let machine = Worker::new(Some(tiny));
    let env = BTreeMap::from([
        ("COREBUILD_CATALOG".to_string(), reg.spec("reference")),
        ("COREBUILD_INSECURE".to_string(), "1".to_string()),
    ]);
    let mut digests = BTreeMap::new();
    for name in [BASE, "fan-one", "fan-two", DEPENDENT] {
        let bp = format!("blueprints/{name}");
        run_ok(machine.cb(root, &env).args(["lock", &bp]));
        let mut c = machine.cb(root, &env);
        c.args(["release", "--locked", &bp]);
        let v = release_json(c);
        digests.insert(name.to_string(), v["digest"].as_str().unwrap().to_string());
    }
    digests
}

/// What the engine saw of one job.
#[derive(Debug, Clone)]
struct Ran {
    name: String,
    worker: usize,
    started: usize,
    finished: usize,
    digest: String,
    already_published: bool,
    runc_runs: usize,
}

/// Runs the plan level by level; a level's jobs go round-robin to the workers (starting
/// one worker further each level), each worker runs its share in its own thread.
fn run_plan(plan: &Value, workers: &[Worker], root: &Path) -> Vec<Ran> {
    let clock = AtomicUsize::new(0);
    let ran = Mutex::new(Vec::new());
    let jobs: BTreeMap<&str, &Value> = plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap(), j))
        .collect();
    for (level, names) in plan["levels"].as_array().unwrap().iter().enumerate() {
        let mut shares: Vec<Vec<&Value>> = vec![Vec::new(); workers.len()];
        for (i, n) in names.as_array().unwrap().iter().enumerate() {
            shares[(i + level) % workers.len()].push(jobs[n.as_str().unwrap()]);
        }
        std::thread::scope(|s| {
            for (w, share) in shares.into_iter().enumerate() {
                let (clock, ran, worker) = (&clock, &ran, &workers[w]);
                s.spawn(move || {
                    for job in share {
                        let r = run_job(job, w, worker, root, clock);
                        ran.lock().unwrap().push(r);
                    }
                });
            }
        });
    }
    ran.into_inner().unwrap()
}

fn run_job(job: &Value, w: usize, worker: &Worker, root: &Path, clock: &AtomicUsize) -> Ran {
    let argv: Vec<&str> = job["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[0], "corebuild");
    let env: BTreeMap<String, String> =
        serde_json::from_value(job["env"].clone()).expect("env is a string map");
    let before = worker.runc_runs();
    let started = clock.fetch_add(1, Ordering::SeqCst);
    let mut c = worker.cb(root, &env);
    c.args(&argv[1..]);
    let v = release_json(c);
    let finished = clock.fetch_add(1, Ordering::SeqCst);
    Ran {
        name: job["name"].as_str().unwrap().to_string(),
        worker: w,
        started,
        finished,
        digest: v["digest"].as_str().unwrap().to_string(),
        already_published: v["already_published"].as_bool().unwrap(),
        runc_runs: worker.runc_runs() - before,
    }
}

#[test]
fn three_workers_run_the_json_plan_once_in_order_then_all_cached() {
    let reg = Registry::start();
    let tiny = Ws::new().tiny_base();
    let one_machine = tempfile::tempdir().unwrap();
    checkout(one_machine.path());
    let expected = reference(&reg, one_machine.path(), &tiny);

    // The fleet's checkout: the same blueprints with the locks the reference run wrote.
    let fleet = tempfile::tempdir().unwrap();
    let root: PathBuf = fleet.path().join("checkout");
    std::fs::create_dir_all(&root).unwrap();
    copy_dir(
        &one_machine.path().join("blueprints"),
        &root.join("blueprints"),
    );
    std::fs::create_dir_all(root.join("release-notes")).unwrap();
    let workers: Vec<Worker> = (0..WORKERS).map(|_| Worker::new(Some(&tiny))).collect();
    let o = run_ok(
        workers[0]
            .cb(&root, &BTreeMap::new())
            .args(["plan", "blueprints", "--emit", "json", "--insecure"])
            .args(["--catalog", &reg.spec("fleet")])
            .args(["--cache", &format!("registry:{}/cache", reg.addr)])
            .args(["--image", IMAGE]),
    );
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        plan["levels"],
        serde_json::json!([[BASE, "fan-one", "fan-two"], [DEPENDENT]])
    );

    let first = run_plan(&plan, &workers, &root);
    let by_name: BTreeMap<&str, &Ran> = first.iter().map(|r| (r.name.as_str(), r)).collect();
    assert_eq!(first.len(), 4, "{first:?}");
    assert_eq!(by_name.len(), 4, "each blueprint ran once: {first:?}");
    for r in &first {
        assert_eq!(
            r.runc_runs, 1,
            "{} ran its one build step once: {r:?}",
            r.name
        );
        assert!(!r.already_published, "{r:?}");
        assert_eq!(r.digest, expected[&r.name], "{} as on one machine", r.name);
    }
    let (base, dep) = (by_name[BASE], by_name[DEPENDENT]);
    assert!(dep.started > base.finished, "{dep:?} after {base:?}");
    assert_ne!(dep.worker, base.worker, "the base came through the catalog");
    let level0: std::collections::BTreeSet<usize> = first
        .iter()
        .filter(|r| r.name != DEPENDENT)
        .map(|r| r.worker)
        .collect();
    assert_eq!(
        level0.len(),
        WORKERS,
        "level 0 was spread over every worker"
    );

    // The catalog holds each blueprint once, at the reference digest.
    let list = run_ok(
        workers[0]
            .cb(&root, &BTreeMap::new())
            .args(["catalog", "list", "--json", "--insecure"])
            .args(["--catalog", &reg.spec("fleet")]),
    );
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let mut in_catalog = BTreeMap::new();
    for s in listed.as_array().unwrap() {
        let releases = s["releases"].as_array().unwrap();
        assert_eq!(releases.len(), 1, "{s}");
        in_catalog.insert(
            s["name"].as_str().unwrap().to_string(),
            releases[0]["digest"].as_str().unwrap().to_string(),
        );
    }
    assert_eq!(in_catalog, expected);

    // The rerun: every layer from the cache (no build step started anywhere), every
    // release already published, the same digests.
    let again = run_plan(&plan, &workers, &root);
    assert_eq!(again.len(), 4);
    for r in &again {
        assert_eq!(r.runc_runs, 0, "{} started no build step: {r:?}", r.name);
        assert!(r.already_published, "{r:?}");
        assert_eq!(r.digest, expected[&r.name]);
    }

    // Fresh machines (empty stores but for the busybox base): the same digests, nothing
    // published twice. Where release takes the shared registry cache (--cache /
    // COREBUILD_CACHE), every layer comes from it and no build step starts anywhere; a
    // corebuild without it builds each blueprint again, locally.
    let fresh: Vec<Worker> = (0..WORKERS).map(|_| Worker::new(Some(&tiny))).collect();
    let help = run_ok(Command::new(BIN).args(["release", "--help"]));
    let shared_cache = stdout(&help).contains("--cache");
    let cold = run_plan(&plan, &fresh, &root);
    assert_eq!(cold.len(), 4);
    for r in &cold {
        assert!(r.already_published, "{r:?}");
        assert_eq!(r.digest, expected[&r.name]);
        let runs = if shared_cache { 0 } else { 1 };
        assert_eq!(r.runc_runs, runs, "shared cache: {shared_cache}: {r:?}");
    }
}
