//! `run` and `packages` layers in a real runc, the layer cache, and package pins.

use crate::util::*;
use std::process::Command;

fn tiny_run(ws: &Ws, name: &str, run: &str) -> std::path::PathBuf {
    ws.blueprint(
        name,
        &format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"t\"\nepoch = 1700000000\n\
             [base]\nref = \"busybox-tiny:1\"\n{run}\n"
        ),
    )
}

#[test]
fn failing_run_layer_exits_1_names_the_layer_and_leaves_nothing_behind() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = tiny_run(
        &ws,
        "fails",
        "[[layer]]\nrun = [\"/bin/sh\", \"-c\", \"echo step-output-one; echo step-output-two >&2; exit 7\"]",
    );
    let before = tree_state(&ws.store().join("index.json"));
    let child = ws
        .cb()
        .arg("build")
        .arg(&bp)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("layer 1"), "{err}");
    assert!(err.contains("exited with status 7"), "{err}");
    assert!(err.contains("step-output-two"), "{err}");
    assert_eq!(
        before,
        tree_state(&ws.store().join("index.json")),
        "index changed"
    );
    assert!(
        mounts_under(ws.path()).is_empty(),
        "{:?}",
        mounts_under(ws.path())
    );
    // Containers are named corebuild-<pid>-<n>; none of this build's may remain.
    let list = Command::new(require("runc"))
        .args(["--root", "/run/corebuild/runc", "list", "-q"])
        .output()
        .unwrap();
    let prefix = format!("corebuild-{pid}-");
    assert!(
        !stdout(&list).lines().any(|l| l.starts_with(&prefix)),
        "left behind: {}",
        stdout(&list)
    );
}

#[test]
fn run_layer_network_is_off_unless_asked() {
    let ws = Ws::new();
    ws.tiny_base();
    // busybox wget crashes on these machines; nc speaks enough HTTP for the proof.
    // The mirror's proxy drops a client that half-closes early, hence the sleep.
    let fetch = r"(printf 'GET /debian/dists/bookworm/Release HTTP/1.1\r\nHost: deb.debian.org\r\nConnection: close\r\n\r\n'; sleep 3) | nc -w 10 deb.debian.org 80 > /fetched && grep -q Codename /fetched";
    let off = tiny_run(
        &ws,
        "netoff",
        &format!("[[layer]]\nrun = [\"/bin/sh\", \"-c\", '''{fetch}''']"),
    );
    let o = ws.cb().arg("build").arg(&off).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "reached the network without asking: {}",
        stderr(&o)
    );
    let on = tiny_run(
        &ws,
        "neton",
        &format!("[[layer]]\nrun = [\"/bin/sh\", \"-c\", '''{fetch}''']\nnetwork = true"),
    );
    run_ok(ws.cb().arg("build").arg(&on));
    let flat = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("neton:1.0.0").arg(&flat));
    let release = std::fs::read_to_string(flat.join("fetched")).unwrap();
    assert!(release.contains("Codename: bookworm"), "{release}");
    // The host's resolver did not leak into the layer.
    assert!(!flat.join("etc/resolv.conf").exists());
}

#[test]
fn run_layer_is_reproducible_and_cached() {
    let ws = Ws::new();
    ws.tiny_base();
    let bp = tiny_run(
        &ws,
        "steps",
        "[[layer]]\nrun = [\"/bin/sh\", \"-c\", \"mkdir -p /opt/app && echo built > /opt/app/data && rm /etc/group && touch /var/www/index.html\"]\n\
         [[layer]]\nfiles = [ { src = \"motd\", dest = \"/etc/motd\" } ]",
    );
    std::fs::write(bp.join("motd"), "one\n").unwrap();
    let first = build_json(ws.cb().arg("build").arg(&bp).arg("--json"));
    assert_eq!(first["layers"][1]["cache_hit"], false);
    let again = build_json(
        ws.cb()
            .arg("build")
            .arg(&bp)
            .arg("--json")
            .arg("--no-cache"),
    );
    assert_eq!(
        first["digest"], again["digest"],
        "a run layer rebuilt from scratch differs"
    );
    assert_eq!(again["layers"][1]["cache_hit"], false);
    // Changing the last layer reuses the run layer from the cache.
    std::fs::write(bp.join("motd"), "two\n").unwrap();
    let changed = build_json(ws.cb().arg("build").arg(&bp).arg("--json"));
    assert_eq!(changed["layers"][1]["cache_hit"], true, "{changed}");
    assert_eq!(changed["layers"][1]["digest"], first["layers"][1]["digest"]);
    assert_eq!(changed["layers"][2]["cache_hit"], false);
    assert_ne!(changed["digest"], first["digest"]);
    // The deletion became a whiteout, the new files are there.
    let flat = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("steps:1.0.0").arg(&flat));
    assert!(!flat.join("etc/group").exists());
    assert_eq!(
        std::fs::read_to_string(flat.join("opt/app/data")).unwrap(),
        "built\n"
    );
    assert_eq!(
        std::fs::read_to_string(flat.join("etc/motd")).unwrap(),
        "two\n"
    );
}

/// The example blueprint: packages from the Debian mirror, pinned, reproducible, and the
/// image runs curl under runc after an independent `umoci unpack`.
#[test]
fn core_minimal_builds_locked_reproducibly_and_curl_runs() {
    let ws = Ws::new();
    let base = ws.minbase();
    let bp = ws.project_blueprint("core-minimal");
    // The committed lock pins the base this machine makes.
    let lock = std::fs::read_to_string(bp.join("blueprint.lock")).unwrap();
    assert!(
        lock.contains(&base),
        "blueprint.lock does not pin {base}:\n{lock}"
    );
    assert!(lock.contains("name = \"curl\""), "{lock}");
    let out = ws.path().join("out");
    let first = build_json(
        ws.cb()
            .arg("build")
            .arg("--locked")
            .arg(&bp)
            .arg("--json")
            .arg("--out")
            .arg(&out),
    );
    let second = build_json(
        ws.cb()
            .arg("build")
            .arg("--locked")
            .arg("--no-cache")
            .arg(&bp)
            .arg("--json"),
    );
    assert_eq!(
        first["digest"], second["digest"],
        "packages layer is not reproducible"
    );
    let pkgs = first["layers"][1]["packages"].as_array().unwrap();
    assert!(
        pkgs.iter()
            .any(|p| p.as_str().unwrap().starts_with("curl=")),
        "{pkgs:?}"
    );

    let bundle = ws.path().join("bundle");
    let o = umoci_runc(
        &out,
        first["version"].as_str().unwrap(),
        &bundle,
        &["curl", "--version"],
    );
    assert!(stdout(&o).starts_with("curl 7."), "{}", stdout(&o));
    assert!(
        std::fs::read_to_string(bundle.join("rootfs/usr/lib/os-release"))
            .unwrap()
            .contains("IMAGE_ID=core-minimal")
    );
}

#[test]
fn locked_build_names_a_pinned_version_the_mirror_lacks() {
    let ws = Ws::new();
    ws.minbase();
    let bp = ws.project_blueprint("core-minimal");
    let lock_path = bp.join("blueprint.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    let start = lock.find("name = \"curl\"").unwrap();
    let vline = lock[start..].find("version = \"").unwrap() + start;
    let vend = lock[vline + 11..].find('"').unwrap() + vline + 11;
    let broken = format!(
        "{}version = \"0.0.1-corebuild-missing{}",
        &lock[..vline],
        &lock[vend..]
    );
    std::fs::write(&lock_path, broken).unwrap();
    let o = ws
        .cb()
        .arg("build")
        .arg("--locked")
        .arg(&bp)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("curl=0.0.1-corebuild-missing"), "{err}");
}

/// A `run` layer with `network = true` has a network of its own (slirp4netns): a server
/// on the host's 127.0.0.1 stays out of reach, while the step has a default route out.
#[test]
fn run_layer_network_does_not_reach_the_host_loopback() {
    use std::io::Write as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(b"HOST-LOOPBACK-SECRET\n");
        }
    });
    let ws = Ws::new();
    ws.tiny_base();
    let probe = format!(
        "for h in 127.0.0.1 10.0.2.2; do nc -w 3 $h {port} </dev/null >> /got; done; \
         ip route > /route; ip -o link > /links; true"
    );
    let bp = tiny_run(
        &ws,
        "hostlo",
        &format!("[[layer]]\nrun = [\"/bin/sh\", \"-c\", '''{probe}''']\nnetwork = true"),
    );
    run_ok(ws.cb().arg("build").arg(&bp));
    let flat = ws.path().join("flat");
    run_ok(ws.cb().arg("unpack").arg("hostlo:1.0.0").arg(&flat));
    let got = std::fs::read_to_string(flat.join("got")).unwrap();
    assert!(
        !got.contains("SECRET"),
        "the step reached the host's loopback: {got}"
    );
    let route = std::fs::read_to_string(flat.join("route")).unwrap();
    assert!(route.contains("default via 10.0.2.2 dev tap0"), "{route}");
    let links = std::fs::read_to_string(flat.join("links")).unwrap();
    assert!(links.contains("tap0") && !links.contains("eth0"), "{links}");
}
