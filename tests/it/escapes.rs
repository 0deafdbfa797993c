//! Escapes from build steps and contract tests: the same probes run in a `packages`
//! layer (both phases: a stand-in `apt-get` on the busybox base runs them when the
//! download phase calls `apt-get update` and the install phase `apt-get install`), in `run` layers with and without network, and in
//! a contract command test. Every probe must fail; the host's canary and loopback
//! server must stay untouched. Only loopback and namespaces the test made are used.

use crate::util::*;

/// One probe: a name and a busybox shell command that succeeds only if the escape works.
/// `$PORT`, `$HOSTPID` and `$CANARY` are set by the probe script.
const PROBES: &[(&str, &str)] = &[
    (
        "host-loopback",
        "nc -w 2 127.0.0.1 $PORT </dev/null 2>/dev/null | grep -q SECRET",
    ),
    (
        "host-via-gateway",
        "nc -w 2 10.0.2.2 $PORT </dev/null 2>/dev/null | grep -q SECRET",
    ),
    ("raw-socket", "ping -c1 -W1 127.0.0.1 >/dev/null 2>&1"),
    ("unshare-user", "unshare -U true 2>/dev/null"),
    ("unshare-net", "unshare -n true 2>/dev/null"),
    ("mount-tmpfs", "mkdir -p /tmp/m && mount -t tmpfs x /tmp/m 2>/dev/null"),
    (
        "see-host-pid",
        "grep -q deps/it- /proc/$HOSTPID/cmdline 2>/dev/null",
    ),
    (
        "setns-host-pid-netns",
        "nsenter -t $HOSTPID -n true 2>/dev/null",
    ),
    (
        "setns-proc1-netns",
        "nsenter --net=/proc/1/ns/net true 2>/dev/null",
    ),
    (
        "write-proc-sys",
        "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null",
    ),
    (
        "write-proc-sysrq",
        "echo h > /proc/sysrq-trigger 2>/dev/null",
    ),
    ("read-host-canary", "cat $CANARY 2>/dev/null | grep -q canary"),
    (
        "read-canary-via-proc-root",
        "cat /proc/$HOSTPID/root$CANARY 2>/dev/null | grep -q canary",
    ),
    (
        "chroot-escape",
        "chroot / /bin/sh -c 'cd ../../../../..; cat $CANARY' 2>/dev/null | grep -q canary",
    ),
    ("read-host-keyrings", "test -s /proc/keys"),
    ("kernel-log", "dmesg >/dev/null 2>&1"),
    (
        "load-module",
        "head -c 65536 /dev/zero > /tmp/x.ko; ! insmod /tmp/x.ko 2>&1 | grep -q 'not permitted'",
    ),
    (
        "mknod-block-read",
        "mknod /tmp/blk b 7 0 2>/dev/null; head -c1 /tmp/blk >/dev/null 2>&1",
    ),
    (
        "mknod-mem-read",
        "mknod /tmp/mem c 1 1 2>/dev/null; head -c1 /tmp/mem >/dev/null 2>&1",
    ),
    ("write-sys", "echo 1280 > /sys/class/net/lo/mtu 2>/dev/null"),
    ("net-admin", "ip link add cbprobe type dummy 2>/dev/null"),
    (
        "swapon",
        "dd if=/dev/zero of=/tmp/swap bs=4096 count=10 2>/dev/null; mkswap /tmp/swap >/dev/null 2>&1; swapon /tmp/swap 2>/dev/null",
    ),
    // Last: in a pid namespace of its own, a successful reboot(2) only ends the
    // container, and the missing `probes-done` line fails the test.
    ("reboot", "reboot -f 2>/dev/null; sleep 1; false"),
];

/// The probe script: one `BLOCKED name` or `ESCAPE name` line per probe, then
/// `probes-done`.
fn probe_script(port: u16, canary: &std::path::Path) -> String {
    let mut s = format!(
        "PORT={port}; HOSTPID={}; CANARY='{}'\n",
        std::process::id(),
        canary.display()
    );
    for (name, cmd) in PROBES {
        s.push_str(&format!(
            "if ( {cmd} ); then echo 'ESCAPE {name}'; else echo 'BLOCKED {name}'; fi\n"
        ));
    }
    s.push_str("echo probes-done\n");
    s
}

/// Checks one context's output: every probe reported blocked, none escaped.
fn all_blocked(context: &str, out: &str) -> usize {
    let escaped: Vec<&str> = out.lines().filter(|l| l.contains("ESCAPE ")).collect();
    assert!(escaped.is_empty(), "{context}: {escaped:?}\n{out}");
    assert!(
        out.contains("probes-done"),
        "{context} did not finish:\n{out}"
    );
    let blocked = PROBES
        .iter()
        .filter(|(n, _)| out.contains(&format!("BLOCKED {n}")))
        .count();
    assert_eq!(blocked, PROBES.len(), "{context}:\n{out}");
    blocked
}

/// The host side: a loopback server with a secret, and a canary file.
struct Host {
    port: u16,
    canary: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn host() -> Host {
    use std::io::Write as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(b"SECRET\n");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    std::fs::write(&canary, "canary\n").unwrap();
    Host {
        port,
        canary,
        _dir: dir,
    }
}

fn lines_of_layer(stderr: &str, layer: usize) -> String {
    let prefix = format!("[layer {layer}] ");
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn probes_fail_in_run_layers_with_and_without_network() {
    let h = host();
    let ws = Ws::new();
    ws.tiny_base();
    let script = probe_script(h.port, &h.canary);
    let mut counted = 0;
    for network in [false, true] {
        let name = format!("escrun{network}");
        let bp = ws.blueprint(
            &name,
            &format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"t\"\nepoch = 1700000000\n\
                 [base]\nref = \"busybox-tiny:1\"\n\
                 [[layer]]\nrun = [\"/bin/sh\", \"-c\", '''{script}''']\nnetwork = {network}\n"
            ),
        );
        let o = run_ok(ws.cb().arg("build").arg(&bp));
        counted += all_blocked(
            &format!("run layer, network = {network}"),
            &lines_of_layer(&stderr(&o), 1),
        );
    }
    assert_eq!(counted, 2 * PROBES.len());
    assert_eq!(std::fs::read_to_string(&h.canary).unwrap(), "canary\n");
}

#[test]
fn probes_fail_in_both_phases_of_a_packages_layer() {
    let h = host();
    let ws = Ws::new();
    ws.tiny_base();
    // A stand-in apt: `-s` answers one package; every other call runs the probes and
    // says which call it was, so the download (update, --download-only) and the
    // install (--no-download, clean) phases each report.
    let fake_apt = format!(
        "#!/bin/sh\ncase \" $* \" in *\" -s \"*) echo 'Inst escprobe (1.0 probe [all])'; exit 0;; esac\n\
         echo \"PHASE $*\"\necho \"ROUTES $(ip route | grep -c default)\"\n{}\nexit 0\n",
        probe_script(h.port, &h.canary)
    );
    let bp = ws.blueprint(
        "escpkg",
        "name = \"escpkg\"\nversion = \"1.0.0\"\ndescription = \"t\"\nepoch = 1700000000\n\
         [base]\nref = \"busybox-tiny:1\"\n\
         [[layer]]\nfiles = [ { src = \"apt-get\", dest = \"/usr/bin/apt-get\", mode = \"0755\" },\n\
           { src = \"apt-get\", dest = \"/usr/bin/apt-mark\", mode = \"0755\" },\n\
           { src = \"keep\", dest = \"/var/lib/apt/lists/.keep\", mode = \"0644\" },\n\
           { src = \"keep\", dest = \"/var/cache/apt/archives/.keep\", mode = \"0644\" } ]\n\
         [[layer]]\npackages = [\"escprobe\"]\n",
    );
    std::fs::write(bp.join("apt-get"), fake_apt).unwrap();
    std::fs::write(bp.join("keep"), "").unwrap();
    let o = run_ok(ws.cb().arg("build").arg(&bp));
    let out = lines_of_layer(&stderr(&o), 2);
    // Split the output by the apt call that ran the probes.
    let mut phases: Vec<(String, String)> = Vec::new();
    for l in out.lines() {
        if let Some(call) = l.strip_prefix("PHASE ") {
            phases.push((call.to_string(), String::new()));
        } else if let Some((_, text)) = phases.last_mut() {
            text.push_str(l);
            text.push('\n');
        }
    }
    let kinds: Vec<&str> = phases
        .iter()
        .map(|(call, _)| {
            if call.contains(" update") {
                "update"
            } else if call.contains("--download-only") {
                "download"
            } else if call.contains("--no-download") {
                "install"
            } else {
                "other"
            }
        })
        .collect();
    // (The --download-only call's output goes to /dev/null; `update` runs in the same
    // download container.)
    for want in ["update", "install"] {
        assert!(kinds.contains(&want), "{want} missing in {kinds:?}:\n{out}");
    }
    for ((call, text), kind) in phases.iter().zip(&kinds) {
        all_blocked(&format!("packages layer, apt-get {call}"), text);
        // The download phase has a route out (slirp4netns); the install phase none.
        let routes = if *kind == "update" { 1 } else { 0 };
        assert!(
            text.contains(&format!("ROUTES {routes}\n")),
            "{kind}: {text}"
        );
    }
    assert_eq!(std::fs::read_to_string(&h.canary).unwrap(), "canary\n");
}

#[test]
fn probes_fail_in_a_contract_command_test() {
    let h = host();
    let ws = Ws::new();
    ws.tiny_base();
    let bp = ws.project_blueprint("tiny-web");
    let suites = bp
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("contract-tests");
    let script = probe_script(h.port, &h.canary);
    std::fs::write(
        suites.join("probes.toml"),
        format!(
            "name = \"probes\"\nversion = \"1.0.0\"\ndescription = \"escape probes\"\n\
             [[test]]\nname = \"every probe is blocked\"\n\
             command = [\"/bin/sh\", \"-c\", '''{script}''']\n\
             stdout = \"probes-done\"\nstdout_excludes = \"ESCAPE\"\n"
        ),
    )
    .unwrap();
    let o = ws
        .cb()
        .arg("test")
        .arg(&bp)
        .arg("--suite")
        .arg("probes")
        .arg("--json")
        .output()
        .unwrap();
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let t = &r["suites"][0]["results"][0];
    assert_eq!(t["outcome"]["status"], "passed", "{t}");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&h.canary).unwrap(), "canary\n");
}
