//! Test workspace helpers: a temp dir with its own store, a command runner, the tiny base.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_corebuild");

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch workspace: `root/store` is the store; blueprints are copied in.
pub struct Ws {
    pub dir: tempfile::TempDir,
}

impl Ws {
    pub fn new() -> Ws {
        Ws {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn store(&self) -> PathBuf {
        self.path().join("store")
    }
    /// A `corebuild` command with this workspace's store and a clean environment.
    pub fn cb(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("COREBUILD_STORE", self.store())
            .env_remove("SOURCE_DATE_EPOCH")
            .current_dir(self.path());
        c
    }
    /// Imports the busybox tiny base into this workspace's store and returns its digest.
    pub fn tiny_base(&self) -> String {
        let out = run_ok(
            Command::new("bash")
                .arg(repo_root().join("blueprints/bases/busybox-tiny.sh"))
                .arg("--store")
                .arg(self.store())
                .env("COREBUILD", BIN),
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
    /// Copies a fixture directory from tests/fixtures into the workspace.
    pub fn fixture(&self, name: &str) -> PathBuf {
        let dest = self.path().join(name);
        copy_dir(&repo_root().join("tests/fixtures").join(name), &dest);
        dest
    }
}

pub fn copy_dir(src: &Path, dest: &Path) {
    run_ok(Command::new("cp").arg("-a").arg(src).arg(dest));
}

/// Runs a command, panicking with its output unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `build --json` and returns the parsed summary.
pub fn build_json(cmd: &mut Command) -> serde_json::Value {
    let out = run_ok(cmd);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", stdout(&out)))
}

/// A tool the tests need; setup.sh installs it, so its absence is a failure, not a skip.
pub fn require(tool: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
    {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("{tool} is not installed: run scripts/setup.sh (it installs the Debian packages the tests use)");
}

/// A listing of every file under `dir` with its content hash, for "nothing changed" checks.
pub fn tree_state(dir: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if !dir.exists() {
        return v;
    }
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
        let h = if e.file_type().is_file() {
            corebuild::digest::Digest::of_bytes(&std::fs::read(e.path()).unwrap()).to_string()
        } else {
            String::new()
        };
        v.push((rel, h));
    }
    v
}

impl Ws {
    /// Imports the Debian minbase into this workspace's store. The mmdebstrap tarball is
    /// made once per checkout (target/it-cache) and shared by every test.
    pub fn minbase(&self) -> String {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let out = run_ok(
            Command::new("bash")
                .arg(repo_root().join("blueprints/bases/debian-minbase.sh"))
                .arg("--store")
                .arg(self.store())
                .env("COREBUILD", BIN)
                .env(
                    "MINBASE_TARBALL",
                    repo_root().join("target/it-cache/minbase.tar"),
                ),
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Copies `blueprints/<name>` with the repo's `contract-tests/` into a project
    /// layout under the workspace and returns the blueprint's directory.
    pub fn project_blueprint(&self, name: &str) -> PathBuf {
        let root = self.path().join("proj");
        std::fs::create_dir_all(root.join("blueprints")).unwrap();
        if !root.join("contract-tests").exists() {
            copy_dir(
                &repo_root().join("contract-tests"),
                &root.join("contract-tests"),
            );
        }
        let bp = root.join("blueprints").join(name);
        copy_dir(&repo_root().join("blueprints").join(name), &bp);
        bp
    }

    /// Writes a blueprint `name/blueprint.toml` with the given body into the workspace.
    pub fn blueprint(&self, name: &str, body: &str) -> PathBuf {
        let dir = self.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("blueprint.toml"), body).unwrap();
        dir
    }
}

/// Mount points under `dir` that are still mounted (there must be none after a build).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&*dir.to_string_lossy()))
        .collect()
}

/// `umoci unpack`s `layout:tag` into `bundle` and runs `args` there with `runc run`,
/// independent of our own runtime code; returns runc's output.
pub fn umoci_runc(layout: &Path, tag: &str, bundle: &Path, args: &[&str]) -> Output {
    run_ok(
        Command::new(require("umoci"))
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:{tag}", layout.display()))
            .arg(bundle),
    );
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::Value::Bool(false);
    cfg["process"]["args"] = serde_json::json!(args);
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let id = format!(
        "cb-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let runc = require("runc");
    let o = Command::new(&runc)
        .arg("run")
        .arg("--bundle")
        .arg(bundle)
        .arg(&id)
        .output()
        .unwrap();
    let _ = Command::new(&runc).args(["delete", "-f", &id]).output();
    assert!(o.status.success(), "runc failed: {}", stderr(&o));
    o
}

/// Runs a command that must fail with exit `code` and say `needle` on stderr.
pub fn fails_with(mut c: Command, code: i32, needle: &str) -> Output {
    let o = c.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(needle),
        "no {needle:?} in:\n{}",
        stderr(&o)
    );
    o
}
