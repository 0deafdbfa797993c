//! `docker://` bases from a real docker-registry on loopback: the lock pins the digest
//! (and the index a multi-platform tag names), `--locked` fetches that digest in a fresh
//! store even after the tag moved, a store holding it needs no registry at all, Docker
//! schema 2 bases build into OCI images, and `base import --registry`.

use crate::registry::Registry;
use crate::util::*;
use corebuild::digest::Digest;
use corebuild::registry::{Client, RetryPolicy};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A workspace with the busybox base in its store, and a registry beside it.
struct Env {
    ws: Ws,
    reg: Registry,
    base: String,
}

impl Env {
    fn new() -> Env {
        let ws = Ws::new();
        let base = ws.tiny_base();
        Env {
            ws,
            reg: Registry::start(),
            base,
        }
    }

    /// `docker://ADDR/REPO`.
    fn docker(&self, repo: &str) -> String {
        format!("docker://{}/{repo}", self.reg.addr)
    }

    /// Copies the store's image `tag` to `ADDR/dest` with skopeo (`extra`: e.g. `--format v2s2`).
    fn push(&self, tag: &str, dest: &str, extra: &[&str]) {
        run_ok(
            Command::new(require("skopeo"))
                .args(["copy", "--quiet", "--dest-tls-verify=false"])
                .args(extra)
                .arg(format!("oci:{}:{tag}", self.ws.store().display()))
                .arg(format!("docker://{}/{dest}", self.reg.addr)),
        );
    }

    /// Builds `other:1.0.0`: the busybox base and one more file, a second image to push.
    fn other_image(&self) {
        let dir = self.ws.blueprint(
            "other",
            "name = \"other\"\nversion = \"1.0.0\"\ndescription = \"a second image\"\nepoch = 1700000000\n[base]\nref = \"busybox-tiny:1\"\n\
             [[layer]]\nfiles = [ { src = \"f\", dest = \"/etc/other\" } ]\n",
        );
        std::fs::write(dir.join("f"), "other\n").unwrap();
        run_ok(cb(&self.ws).arg("build").arg(&dir));
    }

    /// The raw manifest at `ADDR/repo:tag` (bytes as the registry holds them).
    fn raw_manifest(&self, repo_tag: &str) -> Vec<u8> {
        run_ok(
            Command::new(require("skopeo"))
                .args(["inspect", "--raw", "--tls-verify=false"])
                .arg(format!("docker://{}/{repo_tag}", self.reg.addr)),
        )
        .stdout
    }
}

/// A corebuild command on `ws`'s store that may use the loopback registry over HTTP.
fn cb(ws: &Ws) -> Command {
    let mut c = ws.cb();
    c.env("COREBUILD_INSECURE", "1")
        .env("DOCKER_CONFIG", ws.path().join("docker"));
    c
}

/// The tiny fixture blueprint, copied into `ws`, on `base`.
fn blueprint_on(ws: &Ws, base: &str) -> PathBuf {
    let bp = ws.fixture("tiny");
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let toml = toml.replace("ref = \"busybox-tiny:1\"", &format!("ref = \"{base}\""));
    std::fs::write(bp.join("blueprint.toml"), toml).unwrap();
    bp
}

/// A fresh workspace (empty store) with a copy of the blueprint directory `bp` (and its lock).
fn fresh_copy(bp: &Path) -> (Ws, PathBuf) {
    let ws = Ws::new();
    let dest = ws.path().join("bp");
    copy_dir(bp, &dest);
    (ws, dest)
}

fn build(ws: &Ws, bp: &Path, extra: &[&str]) -> Value {
    build_json(cb(ws).arg("build").arg(bp).args(extra).arg("--json"))
}

fn lock_text(bp: &Path) -> String {
    std::fs::read_to_string(bp.join("blueprint.lock")).unwrap()
}

/// The manifest of `digest` in `ws`'s store.
fn stored_manifest(ws: &Ws, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::from_slice(&std::fs::read(ws.store().join("blobs/sha256").join(hex)).unwrap())
        .unwrap()
}

#[test]
fn docker_base_locks_builds_locked_in_a_fresh_store_and_catches_a_moved_tag() {
    let env = Env::new();
    env.push("busybox-tiny:1", "vendor/debian:12", &[]);
    let base_ref = env.docker("vendor/debian:12");
    let bp = blueprint_on(&env.ws, &base_ref);

    let o = run_ok(cb(&env.ws).arg("lock").arg(&bp).arg("--json"));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["base"]["digest"], env.base.as_str(), "{v}");
    assert!(
        v["base"]["index"].is_null(),
        "a plain manifest has no index"
    );
    let lock = lock_text(&bp);
    assert!(
        lock.contains(&format!("digest = \"{}\"", env.base)),
        "{lock}"
    );
    assert!(!lock.contains("index"), "{lock}");

    let first = build(&env.ws, &bp, &["--locked"]);
    let digest = first["digest"].as_str().unwrap().to_string();
    assert_eq!(first["base"]["digest"], env.base.as_str());
    let m = stored_manifest(&env.ws, &digest);
    let name = format!("{}/vendor/debian:12", env.reg.addr);
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.name"],
        name.as_str()
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        env.base.as_str()
    );

    // A fresh store (no base imported) gets the pinned base from the registry.
    let (fresh, bp2) = fresh_copy(&bp);
    assert_eq!(
        build(&fresh, &bp2, &["--locked"])["digest"],
        digest.as_str()
    );

    // The tag moves to another image.
    env.other_image();
    env.push("other:1.0.0", "vendor/debian:12", &[]);
    // --locked never resolves the tag: a third store still builds the pinned digest.
    let (third, bp3) = fresh_copy(&bp);
    assert_eq!(
        build(&third, &bp3, &["--locked"])["digest"],
        digest.as_str()
    );
    // Unlocked with the lock present, the moved tag is the base mismatch.
    fails_with(
        {
            let mut c = cb(&env.ws);
            c.arg("build").arg(&bp);
            c
        },
        2,
        "the base changed since it was pinned",
    );

    // A store that holds the pinned digest asks the registry nothing: stop it, build again.
    drop(env.reg);
    assert_eq!(
        build(&fresh, &bp2, &["--locked"])["digest"],
        digest.as_str()
    );
    let pinned = fresh.path().join("pinned");
    copy_dir(&bp, &pinned);
    std::fs::remove_file(pinned.join("blueprint.lock")).unwrap();
    let toml = std::fs::read_to_string(pinned.join("blueprint.toml")).unwrap();
    let by_digest = format!("{name}@{}", env.base);
    let toml = toml.replace(&base_ref, &format!("docker://{by_digest}"));
    std::fs::write(pinned.join("blueprint.toml"), toml).unwrap();
    let b = build(&fresh, &pinned, &["--locked"]);
    assert_eq!(b["base"]["digest"], env.base.as_str());
    let m = stored_manifest(&fresh, b["digest"].as_str().unwrap());
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.name"],
        by_digest.as_str()
    );
}

/// Puts an OCI index into `repo:tag` with the two manifests as linux/amd64 and linux/arm64.
fn push_index(env: &Env, repo: &str, tag: &str, amd64: &[u8], arm64: &[u8]) -> Digest {
    let entry = |bytes: &[u8], arch: &str| {
        let m: Value = serde_json::from_slice(bytes).unwrap();
        serde_json::json!({
            "mediaType": m["mediaType"],
            "digest": Digest::of_bytes(bytes).to_string(),
            "size": bytes.len(),
            "platform": {"os": "linux", "architecture": arch},
        })
    };
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(arm64, "arm64"), entry(amd64, "amd64")],
    }))
    .unwrap();
    let digest = Digest::of_bytes(&index);
    let client = Client::new(&env.reg.addr, true, RetryPolicy::default()).unwrap();
    client
        .put_manifest(
            repo,
            tag,
            "application/vnd.oci.image.index.v1+json",
            &index,
            &digest,
        )
        .unwrap();
    digest
}

#[test]
fn a_multi_arch_index_resolves_to_linux_amd64_and_the_lock_records_both() {
    let env = Env::new();
    env.other_image();
    env.push("busybox-tiny:1", "vendor/multi:amd64", &[]);
    env.push("other:1.0.0", "vendor/multi:arm64", &[]);
    let amd64 = env.raw_manifest("vendor/multi:amd64");
    let arm64 = env.raw_manifest("vendor/multi:arm64");
    let index = push_index(&env, "vendor/multi", "12", &amd64, &arm64);
    let amd64_digest = Digest::of_bytes(&amd64).to_string();

    let bp = blueprint_on(&env.ws, &env.docker("vendor/multi:12"));
    let o = run_ok(cb(&env.ws).arg("lock").arg(&bp).arg("--json"));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["base"]["digest"], amd64_digest.as_str(), "{v}");
    assert_eq!(v["base"]["index"], index.to_string().as_str(), "{v}");
    let lock = lock_text(&bp);
    assert!(
        lock.contains(&format!(
            "digest = \"{amd64_digest}\"\nindex = \"{index}\"\n"
        )),
        "{lock}"
    );
    let first = build(&env.ws, &bp, &["--locked"]);
    assert_eq!(first["base"]["digest"], amd64_digest.as_str());
    let (fresh, bp2) = fresh_copy(&bp);
    assert_eq!(
        build(&fresh, &bp2, &["--locked"])["digest"],
        first["digest"]
    );

    // base import of the index's tag prints both digests.
    let o = run_ok(
        cb(&fresh)
            .args(["base", "import", "--registry"])
            .arg(format!("{}/vendor/multi:12", env.reg.addr))
            .args(["--name", "multi", "--version", "12", "--json"]),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["digest"], amd64_digest.as_str(), "{v}");
    assert_eq!(v["index_digest"], index.to_string().as_str(), "{v}");

    // A reference pinned to the index by digest needs no lock: a fresh store fetches the
    // amd64 image through the index; with the registry stopped, a second build reads
    // both from the store alone.
    let (by_index, bp3) = fresh_copy(&bp);
    std::fs::remove_file(bp3.join("blueprint.lock")).unwrap();
    let toml = std::fs::read_to_string(bp3.join("blueprint.toml")).unwrap();
    let pinned_ref = format!("{}@{index}", env.docker("vendor/multi"));
    let toml = toml.replace(&env.docker("vendor/multi:12"), &pinned_ref);
    std::fs::write(bp3.join("blueprint.toml"), toml).unwrap();
    let b = build(&by_index, &bp3, &["--locked"]);
    assert_eq!(b["base"]["digest"], amd64_digest.as_str());
    drop(env.reg);
    let again = build(&by_index, &bp3, &["--locked"]);
    assert_eq!(again["digest"], b["digest"]);
}

#[test]
fn a_docker_schema_2_base_builds_an_oci_image() {
    let env = Env::new();
    env.push("busybox-tiny:1", "vendor/dv2:12", &["--format", "v2s2"]);
    let raw: Value = serde_json::from_slice(&env.raw_manifest("vendor/dv2:12")).unwrap();
    assert_eq!(
        raw["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let bp = blueprint_on(&env.ws, &env.docker("vendor/dv2:12"));
    run_ok(cb(&env.ws).arg("lock").arg(&bp));
    let (fresh, bp2) = fresh_copy(&bp);
    let out = fresh.path().join("out");
    let b = build_json(
        cb(&fresh)
            .arg("build")
            .arg(&bp2)
            .arg("--locked")
            .arg("--out")
            .arg(&out)
            .arg("--json"),
    );
    let m = stored_manifest(&fresh, b["digest"].as_str().unwrap());
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    for l in m["layers"].as_array().unwrap() {
        assert_eq!(
            l["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip",
            "{m}"
        );
    }
    // Independent readers accept it, and it runs.
    let o = run_ok(
        Command::new(require("skopeo"))
            .arg("inspect")
            .arg(format!("oci:{}:0.1.0", out.display())),
    );
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["Digest"], b["digest"]);
    let o = umoci_runc(
        &out,
        "0.1.0",
        &fresh.path().join("bundle"),
        &["/usr/local/bin/hello"],
    );
    assert!(!o.stdout.is_empty());
}

#[test]
fn base_import_registry_tags_the_image_and_refuses_bad_references() {
    let env = Env::new();
    env.push("busybox-tiny:1", "vendor/debian:12", &[]);
    let fresh = Ws::new();
    let import = |r: &str| {
        let mut c = cb(&fresh);
        c.args([
            "base",
            "import",
            "--registry",
            r,
            "--name",
            "deb",
            "--version",
            "12",
        ]);
        c
    };
    let plain = format!("{}/vendor/debian:12", env.reg.addr);
    let o = run_ok(import(&plain).arg("--json"));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "deb");
    assert_eq!(v["version"], "12");
    assert_eq!(v["digest"], env.base.as_str());
    assert_eq!(v["source"], format!("docker://{plain}").as_str());
    assert!(v.get("index_digest").is_none(), "{v}");
    let o = run_ok(&mut import(&env.docker("vendor/debian:12")));
    assert_eq!(stdout(&o).trim(), env.base);
    // skopeo reads the tag we wrote.
    let o = run_ok(
        Command::new(require("skopeo"))
            .arg("inspect")
            .arg(format!("oci:{}:deb:12", fresh.store().display())),
    );
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["Digest"], env.base.as_str());

    fails_with(import("debian:12"), 2, "write the host explicitly");
    fails_with(
        import("docker://reg.example/Debian:12"),
        2,
        "invalid repository \"Debian\"",
    );
    fails_with(import(&env.docker("vendor/none:12")), 2, "no such manifest");
    fails_with(import("127.0.0.1:1/vendor/debian:12"), 3, "127.0.0.1:1");
}

#[test]
fn the_signature_policy_refuses_an_unsigned_registry_base_until_it_is_signed() {
    let env = Env::new();
    env.push("busybox-tiny:1", "vendor/debian:12", &[]);
    let base_ref = env.docker("vendor/debian:12");
    let bp = blueprint_on(&env.ws, &base_ref);
    run_ok(cb(&env.ws).arg("lock").arg(&bp));
    let unsigned_build = build(&env.ws, &bp, &["--locked"]);
    let keys = env.ws.path().join("keys");
    run_ok(cb(&env.ws).args(["key", "generate", "--out"]).arg(&keys));
    let public = keys.join("cosign.pub");
    let policy_build = |ws: &Ws, bp: &Path| {
        let mut c = cb(ws);
        c.args(["build", "--locked", "--json", "--require-signed"])
            .arg(&public)
            .arg(bp);
        c
    };
    // Unsigned: refused from a fresh store and from a store that already holds it.
    let (fresh, bp2) = fresh_copy(&bp);
    fails_with(policy_build(&fresh, &bp2), 1, &env.base);
    fails_with(policy_build(&env.ws, &bp), 1, "keys tried");
    assert!(
        !fresh.store().join("index.json").exists() || {
            let idx = std::fs::read_to_string(fresh.store().join("index.json")).unwrap();
            !idx.contains(&env.base["sha256:".len()..])
        }
    );
    let verify = || {
        let mut c = cb(&env.ws);
        c.arg("verify").arg(&base_ref).arg("--key").arg(&public);
        c
    };
    fails_with(verify(), 1, "is not signed");
    // Signed in its own repository (cosign's format), it is accepted, same digest.
    let o = run_ok(
        cb(&env.ws)
            .args(["sign", "--json", "--sign-key"])
            .arg(keys.join("cosign.key"))
            .arg(&base_ref),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["signatures_added"], 1, "{v}");
    run_ok(&mut verify());
    let ok = run_ok(&mut policy_build(&fresh, &bp2));
    let b: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(b["digest"], unsigned_build["digest"]);
    // Another key's signature does not count.
    let other = env.ws.path().join("other");
    run_ok(cb(&env.ws).args(["key", "generate", "--out"]).arg(&other));
    let mut c = cb(&fresh);
    c.env("COREBUILD_TRUSTED_KEYS", other.join("cosign.pub"))
        .args(["build", "--locked"])
        .arg(&bp2);
    fails_with(c, 1, "no signature of");
}
