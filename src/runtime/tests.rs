//! End-to-end tests with the real runc, real overlayfs and a busybox rootfs (run as
//! root). Tests that check "nothing left behind" use a private base directory so that
//! containers of tests running in parallel do not show up in their listing.

use super::*;
use crate::layer::{upper_to_entries, DiffOptions, EntryKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BUSYBOX: &str = "/bin/busybox";

/// A busybox rootfs like blueprints/bases/busybox-tiny.sh makes.
fn busybox_rootfs(dir: &Path) -> PathBuf {
    let r = dir.join("rootfs");
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "proc", "sys", "dev",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, r.join("bin/busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list-full").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet == "bin/busybox" {
            continue;
        }
        let p = r.join(applet);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::os::unix::fs::symlink("/bin/busybox", &p);
    }
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    r
}

/// The runtime under test: runc, or the one named by `COREBUILD_TEST_RUNTIME` (e.g.
/// `crun`) to run the same suite on another runtime.
fn runc() -> CliRuntime {
    let name = std::env::var("COREBUILD_TEST_RUNTIME").unwrap_or_else(|_| "runc".into());
    from_name(&name).expect("the runtime is installed (Debian package runc or crun)")
}

/// runc with a base directory of its own, for tests that count what is left.
fn private_runc(dir: &Path) -> CliRuntime {
    runc().with_base(dir.join("base"))
}

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Mount points under `dir` (the test's temp dir) that are still mounted.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let dir = std::fs::canonicalize(dir).unwrap();
    overlay::mountinfo()
        .unwrap()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(&dir))
        .collect()
}

fn assert_nothing_left(rt: &CliRuntime, dir: &Path) {
    assert!(
        rt.list().unwrap().is_empty(),
        "containers left: {:?}",
        rt.list()
    );
    let out = Command::new(rt.binary())
        .arg("--root")
        .arg(rt.state_dir())
        .args(["list", "-q"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout).trim(), "", "runc list");
    let bundles = rt.base().join("bundles");
    if bundles.exists() {
        let left: Vec<_> = std::fs::read_dir(&bundles).unwrap().collect();
        assert!(left.is_empty(), "bundles left: {left:?}");
    }
    assert_eq!(mounts_under(dir), Vec::<PathBuf>::new());
}

#[test]
fn echo_hi() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let out = runc()
        .run(
            &r,
            &RunSpec::build_step(vec!["/bin/echo".into(), "hi".into()]),
        )
        .unwrap();
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.success());
    assert_eq!(out.stdout, b"hi\n");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert_eq!(out.tail, ["hi"]);
}

#[test]
fn nonzero_exit_is_an_outcome_with_the_last_lines() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    // The tail interleaves the two pipes in the order their reads arrive; the pause
    // makes that order the order of writing.
    let script =
        "for i in $(seq 1 30); do echo out $i; done; sleep 0.2; echo 'apt: broken' >&2; exit 3";
    let out = runc().run(&r, &RunSpec::build_step(sh(script))).unwrap();
    assert_eq!(
        (out.exit_code, out.signal, out.timed_out),
        (Some(3), None, false)
    );
    assert_eq!(out.describe(), "exited with status 3");
    assert_eq!(out.tail.len(), TAIL_LINES);
    assert!(
        out.tail.contains(&"apt: broken".to_string()),
        "{:?}",
        out.tail
    );
    assert!(out.tail.contains(&"out 30".to_string()));
    assert!(!out.tail.contains(&"out 5".to_string()));
    assert_eq!(text(&out.stderr), "apt: broken\n");
    // A status above 128 is read the shell's way, as a signal (the runtime reports a
    // killed container that way).
    let out = runc()
        .run(&r, &RunSpec::build_step(sh("exit 137")))
        .unwrap();
    assert_eq!((out.exit_code, out.signal), (None, Some(9)));
    assert_eq!(out.describe(), "was killed by SIGKILL");
}

#[test]
fn missing_command_is_exit_127_not_a_runner_error() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let out = runc()
        .run(
            &r,
            &RunSpec::build_step(vec!["/usr/bin/no-such-tool".into()]),
        )
        .unwrap();
    assert_eq!(out.exit_code, Some(127), "{out:?}");
    assert!(
        out.tail.iter().any(|l| l.contains("no-such-tool")),
        "{:?}",
        out.tail
    );
    std::fs::write(r.join("etc/not-exec"), "x").unwrap();
    let out = runc()
        .run(&r, &RunSpec::build_step(vec!["/etc/not-exec".into()]))
        .unwrap();
    assert_eq!(out.exit_code, Some(126), "{out:?}");
}

#[test]
fn runner_failures_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    // An unknown user is bad input.
    let mut spec = RunSpec::build_step(vec!["true".into()]);
    spec.user = Some("ghost".into());
    let e = runc().run(&r, &spec).unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 2, "{e:#}");
    // A runtime that breaks is an environment error with its message.
    let mut spec = RunSpec::build_step(vec!["true".into()]);
    spec.binds.push(Bind {
        src: d.path().join("no-such-source"),
        dest: "/mnt/x".into(),
        readonly: true,
    });
    let e = runc().run(&r, &spec).unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 3, "{e:#}");
    assert!(format!("{e:#}").contains("no-such-source"), "{e:#}");
    // A runtime binary that is gone by the time we run is exit 3, naming it.
    let copy = d.path().join("runc");
    std::fs::copy(runc().binary(), &copy).unwrap();
    let gone = from_name(copy.to_str().unwrap()).unwrap();
    std::fs::remove_file(&copy).unwrap();
    let e = gone
        .run(&r, &RunSpec::build_step(vec!["true".into()]))
        .unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 3, "{e:#}");
    assert!(e.to_string().contains("not installed"), "{e:#}");
}

#[test]
fn user_and_cwd_and_env_apply() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let mut spec = RunSpec::contract_test(sh("id -u; id -g; pwd; echo $HOME $GREETING"));
    spec.user = Some("nobody".into());
    spec.cwd = "/tmp".into();
    spec.env.push("GREETING=hello".into());
    let out = runc().run(&r, &spec).unwrap();
    assert_eq!(
        text(&out.stdout),
        "65534\n65534\n/tmp\n/nonexistent hello\n",
        "{out:?}"
    );
}

#[test]
fn timeout_kills_and_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let lower = busybox_rootfs(d.path());
    let rt = private_runc(d.path());
    let (upper, work, merged) = (d.path().join("u"), d.path().join("w"), d.path().join("m"));
    for p in [&upper, &work, &merged] {
        std::fs::create_dir(p).unwrap();
    }
    let m = OverlayMount::mount(&[&lower], &upper, &work, &merged).unwrap();
    let mut spec = RunSpec::build_step(vec!["sleep".into(), "100".into()]);
    spec.timeout = Duration::from_secs(1);
    let t = Instant::now();
    let out = rt.run(m.target(), &spec).unwrap();
    let took = t.elapsed();
    m.close().unwrap();
    assert!(out.timed_out, "{out:?}");
    assert_eq!((out.signal, out.exit_code), (Some(9), None));
    assert!(!out.success());
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(out.describe().starts_with("timed out"));
    assert_nothing_left(&rt, d.path());
}

#[test]
fn isolated_network_has_only_lo_and_no_route() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let spec = RunSpec::contract_test(sh("cat /proc/net/dev; ip link"));
    let out = runc().run(&r, &spec).unwrap();
    assert!(out.success(), "{out:?}");
    let s = text(&out.stdout);
    let ifaces: Vec<&str> = s
        .lines()
        .skip(2)
        .take_while(|l| l.contains(':') && !l.starts_with(char::is_numeric))
        .map(|l| l.split(':').next().unwrap().trim())
        .collect();
    assert_eq!(ifaces, ["lo"], "{s}");
    assert!(s.contains("lo: <LOOPBACK,UP"), "lo is up: {s}");
    // By name (no DNS) and by the address the host resolves (no route).
    let out = runc()
        .run(
            &r,
            &RunSpec::contract_test(sh(&http_head("deb.debian.org"))),
        )
        .unwrap();
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert!(!text(&out.stdout).contains("HTTP/"), "{out:?}");
    let addr = mirror_addr();
    let out = runc()
        .run(&r, &RunSpec::contract_test(sh(&http_head(&addr))))
        .unwrap();
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert!(text(&out.stderr).contains("unreachable"), "{out:?}");
}

/// A HEAD request for the mirror's bookworm Release file through busybox `nc` to
/// `host` (the busybox `wget` applet of busybox-static 1.35 crashes on this machine,
/// with or without network). busybox `nc` hangs up when its stdin ends, hence the
/// sleep while the answer comes. Prints the status line.
fn http_head(host: &str) -> String {
    format!(
        "(printf 'HEAD /debian/dists/bookworm/Release HTTP/1.1\\r\\nHost: deb.debian.org\\r\\nConnection: close\\r\\n\\r\\n'; sleep 2) \\
         | nc -w 10 {host} 80 > /tmp/resp; rc=$?; head -1 /tmp/resp; exit $rc"
    )
}

/// deb.debian.org's IPv4 address as the host resolves it.
fn mirror_addr() -> String {
    use std::net::ToSocketAddrs;
    ("deb.debian.org", 80)
        .to_socket_addrs()
        .expect("the host resolves deb.debian.org")
        .find(|a| a.is_ipv4())
        .expect("an IPv4 address")
        .ip()
        .to_string()
}

/// A server on the host's 127.0.0.1 that answers every connection with `marker`; its
/// port.
fn host_loopback_server(marker: &'static str) -> u16 {
    use std::io::Write as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(marker.as_bytes());
        }
    });
    port
}

#[test]
fn user_network_reaches_the_mirror_but_not_the_host_loopback() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let port = host_loopback_server("HOST-LOOPBACK-SECRET");
    // The server answers on the host.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut got = String::new();
    std::io::Read::read_to_string(&mut c, &mut got).unwrap();
    assert_eq!(got, "HOST-LOOPBACK-SECRET");

    let probe = format!(
        "cat /etc/resolv.conf; ip route; ip -o link; \
         for h in 127.0.0.1 10.0.2.2; do nc -w 3 $h {port} </dev/null; done; \
         {}",
        http_head("deb.debian.org")
    );
    let mut spec = RunSpec::build_step(sh(&probe));
    spec.network = Network::User;
    let out = runc().run(&r, &spec).unwrap();
    let s = text(&out.stdout);
    assert!(!s.contains("HOST-LOOPBACK-SECRET"), "{s}");
    assert!(s.contains("nameserver 10.0.2.3"), "{s}");
    assert!(s.contains("default via 10.0.2.2 dev tap0"), "{s}");
    assert!(s.contains("HTTP/1.1 200"), "{out:?}");
    assert!(out.success(), "{out:?}");
    // The resolver file is read-only and not the host's.
    let mut spec = RunSpec::build_step(sh("echo x >> /etc/resolv.conf"));
    spec.network = Network::User;
    let out = runc().run(&r, &spec).unwrap();
    assert_ne!(out.exit_code, Some(0));
    // Nothing of slirp4netns or the holder stays behind.
    assert!(!slirp_children(), "a slirp4netns of ours is still running");
}

/// Whether a slirp4netns or `unshare --net` child of this process still runs.
fn slirp_children() -> bool {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .any(|stat| {
            let after = stat.rsplit(')').next().unwrap_or("");
            let ppid = after.split_whitespace().nth(1).unwrap_or("");
            ppid == me
                && ["(slirp4netns)", "(unshare)", "(cat)"]
                    .iter()
                    .any(|n| stat.contains(n))
        })
}

#[test]
fn build_step_over_overlay_becomes_a_layer_diff() {
    let d = tempfile::tempdir().unwrap();
    let lower = busybox_rootfs(d.path());
    std::fs::write(lower.join("etc/motd"), "welcome\n").unwrap();
    std::fs::write(lower.join("etc/old"), "old\n").unwrap();
    std::fs::create_dir_all(lower.join("data/sub")).unwrap();
    std::fs::write(lower.join("data/sub/a"), "a").unwrap();
    let snapshot = || {
        let mut v: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(&lower)
            .into_iter()
            .map(|e| e.unwrap())
            .map(|e| {
                let data = if e.file_type().is_file() {
                    std::fs::read(e.path()).unwrap()
                } else {
                    Vec::new()
                };
                (e.path().display().to_string(), data)
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot();
    let (upper, work, merged) = (d.path().join("u"), d.path().join("w"), d.path().join("m"));
    for p in [&upper, &work, &merged] {
        std::fs::create_dir(p).unwrap();
    }
    let m = OverlayMount::mount(&[&lower], &upper, &work, &merged).unwrap();
    let script = "set -e; echo new > /new; echo more >> /etc/motd; rm /etc/old; \
                  rm -rf /data && mkdir /data && echo y > /data/y; \
                  ln /new /new.link; ln -s new /new.sym; mkfifo /fifo; \
                  chown 65534:65534 /new; chmod 4755 /new; echo scratch > /tmp/s";
    let mut spec = RunSpec::build_step(sh(script));
    spec.stream_prefix = Some("[layer 1] ".into());
    let out = runc().run(m.target(), &spec).unwrap();
    assert!(out.success(), "{out:?}");
    m.close().unwrap();
    assert_eq!(snapshot(), before, "the lower dir is unchanged");

    let entries = upper_to_entries(&upper, &DiffOptions::build_step(1_700_000_000)).unwrap();
    let find = |p: &str| -> Vec<&EntryKind> {
        entries
            .iter()
            .filter(|e| e.path == p)
            .map(|e| &e.kind)
            .collect()
    };
    assert!(matches!(find("new")[..], [EntryKind::File { size: 4, .. }]));
    let new = entries.iter().find(|e| e.path == "new").unwrap();
    assert_eq!((new.mode, new.uid, new.gid), (0o4755, 65534, 65534));
    assert!(new.mtime <= 1_700_000_000);
    assert_eq!(
        find("new.link"),
        [&EntryKind::Hardlink {
            target: "new".into()
        }]
    );
    assert_eq!(
        find("new.sym"),
        [&EntryKind::Symlink {
            target: "new".into()
        }]
    );
    assert_eq!(find("fifo"), [&EntryKind::Fifo]);
    assert!(matches!(
        find("etc/motd")[..],
        [EntryKind::File { size: 13, .. }]
    ));
    assert_eq!(find("etc/old"), [&EntryKind::Whiteout]);
    let data = find("data");
    assert!(data.contains(&&EntryKind::Dir) && data.contains(&&EntryKind::OpaqueWhiteout));
    assert!(matches!(find("data/y")[..], [EntryKind::File { .. }]));
    // Nothing of the runtime's scaffolding or /tmp reaches the layer.
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "data", "data", "data/y", "etc", "etc/motd", "etc/old", "fifo", "new", "new.link",
            "new.sym"
        ]
    );
    for e in &entries {
        assert!(e.xattrs.keys().all(|k| !k.starts_with("trusted.")), "{e:?}");
    }
}

#[test]
fn contract_profile_is_sandboxed() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let canary = d.path().join("canary-4f1c");
    std::fs::write(&canary, "secret").unwrap();
    let run = |script: &str| runc().run(&r, &RunSpec::contract_test(sh(script))).unwrap();

    let out = run("touch /written");
    assert_ne!(out.exit_code, Some(0));
    assert!(text(&out.stderr).contains("Read-only"), "{out:?}");
    assert!(!r.join("written").exists());

    let out = run("echo ok > /tmp/f && cat /tmp/f");
    assert_eq!(
        (out.exit_code, text(&out.stdout)),
        (Some(0), "ok\n".to_string())
    );

    let out = run("mkdir -p /tmp/m && mount -t tmpfs x /tmp/m");
    assert_ne!(
        out.exit_code,
        Some(0),
        "mount without CAP_SYS_ADMIN: {out:?}"
    );

    let out = run("touch /tmp/f && chown 1234 /tmp/f");
    assert_ne!(out.exit_code, Some(0), "chown without CAP_CHOWN: {out:?}");

    let out =
        run("grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status");
    let status = text(&out.stdout);
    assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
    assert!(status.contains("CapBnd:\t0000000000000000"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");

    let out = run(&format!("cat {}", canary.display()));
    assert_ne!(out.exit_code, Some(0));
    assert!(!text(&out.stdout).contains("secret"));
    let out = run("grep -r secret / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head -1");
    assert_eq!(text(&out.stdout), "", "{out:?}");

    let out = run("ulimit -n; ulimit -c");
    assert_eq!(text(&out.stdout), "1024\n0\n");
}

/// The pids cgroup (v1) of the running container whose pids.max is `limit`, with its
/// highest task count and how many forks it refused, read until the container goes.
fn watch_pids_cgroup(limit: u32, within: Duration) -> Option<(u64, u64)> {
    let root = Path::new("/sys/fs/cgroup/pids/corebuild");
    let read = |p: PathBuf| std::fs::read_to_string(p).ok();
    let t = Instant::now();
    let dir = loop {
        let found = std::fs::read_dir(root).ok().and_then(|dirs| {
            dirs.flatten().map(|d| d.path()).find(|d| {
                read(d.join("pids.max")).as_deref().map(str::trim) == Some(&limit.to_string())
            })
        });
        if let Some(d) = found {
            break d;
        }
        if t.elapsed() > within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut last = None;
    while let (Some(peak), Some(events)) =
        (read(dir.join("pids.peak")), read(dir.join("pids.events")))
    {
        let refused = events
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        last = Some((peak.trim().parse().unwrap_or(0), refused));
        std::thread::sleep(Duration::from_millis(50));
    }
    last
}

#[test]
fn fork_bomb_is_bounded_and_killed() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let rt = private_runc(d.path());
    // Every bomb process forks copies of itself until a fork fails; pid 1 spins until
    // the timeout. 61 is a limit no other test uses, to find the container's cgroup.
    let mut spec = RunSpec::contract_test(sh(
        "f() { while :; do f & done; }; ( f ) 2>/dev/null & while :; do :; done",
    ));
    spec.pids_limit = Some(61);
    spec.timeout = Duration::from_secs(4);
    let t = Instant::now();
    let (out, pids) = std::thread::scope(|s| {
        let run = s.spawn(|| rt.run(&r, &spec).unwrap());
        let pids = watch_pids_cgroup(61, Duration::from_secs(3));
        (run.join().unwrap(), pids)
    });
    assert!(t.elapsed() < Duration::from_secs(9), "{:?}", t.elapsed());
    assert!(out.timed_out, "{out:?}");
    let (peak, refused) = pids.expect("the container had a pids cgroup with pids.max 61");
    // The bomb reached the limit and no further; the kernel refused its other forks.
    assert!((50..=61).contains(&peak), "peak {peak} under a limit of 61");
    assert!(refused > 0, "no fork was refused");
    assert_nothing_left(&rt, d.path());
    // The host still forks.
    assert!(Command::new("true").status().unwrap().success());
}

#[test]
fn binds_are_read_only_when_asked() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let host = d.path().join("shared");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from host").unwrap();
    let mut spec = RunSpec::build_step(sh("cat /mnt/shared/in; echo x > /mnt/shared/out"));
    spec.binds.push(Bind {
        src: host.clone(),
        dest: "/mnt/shared".into(),
        readonly: true,
    });
    let out = runc().run(&r, &spec).unwrap();
    assert_eq!(text(&out.stdout), "from host");
    assert_ne!(out.exit_code, Some(0));
    assert!(!host.join("out").exists());
    spec.binds[0].readonly = false;
    let out = runc().run(&r, &spec).unwrap();
    assert!(out.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "x\n");
}

/// Environment of the helper process used by the tests below.
const HELPER_DIR: &str = "COREBUILD_TEST_HELPER_DIR";

/// Not a test: the process the sweep and interrupt tests kill. It mounts an overlay and
/// runs a command that prints, then sleeps 1000 s, through the API with its output
/// streamed, like a build step that hangs. Does nothing
/// unless started by those tests.
#[test]
#[ignore]
fn helper_hold_container() {
    let Some(dir) = std::env::var_os(HELPER_DIR).map(PathBuf::from) else {
        return;
    };
    let rt = private_runc(&dir);
    let lower = dir.join("rootfs");
    let m = OverlayMount::mount(&[&lower], &dir.join("u"), &dir.join("w"), &dir.join("m")).unwrap();
    let mut spec = RunSpec::build_step(sh(
        "echo ready; echo steady >&2; touch /started; exec sleep 1000",
    ));
    spec.timeout = Duration::from_secs(600);
    spec.stream_prefix = Some("[helper] ".into());
    let r = rt.run(m.target(), &spec);
    drop(m);
    match r {
        Ok(o) => println!("helper outcome: {o:?}"),
        Err(e) => {
            eprintln!("helper error: {e:#}");
            std::process::exit(42);
        }
    }
}

/// Starts [`helper_hold_container`] in a child process and waits until its container runs.
fn start_helper(dir: &Path) -> std::process::Child {
    busybox_rootfs(dir);
    for p in ["u", "w", "m"] {
        std::fs::create_dir(dir.join(p)).unwrap();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "runtime::tests::helper_hold_container",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(HELPER_DIR, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    // The helper's command marks its start in the overlay's upper dir, after its output.
    while !dir.join("u/started").exists() {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!("helper exited early: {}", text(&out.stderr));
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "helper container did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn sweep_stale_removes_what_a_killed_process_left() {
    let d = tempfile::tempdir().unwrap();
    let rt = private_runc(d.path());
    let mut child = start_helper(d.path());
    // While its owner lives, nothing is swept.
    let sweep = sweep_stale_in(rt.base()).unwrap();
    assert!(
        sweep.containers.is_empty() && sweep.bundles.is_empty(),
        "{sweep:?}"
    );
    assert_eq!(mounts_under(d.path()).len(), 1);

    child.kill().unwrap(); // SIGKILL: no cleanup runs in the helper
    child.wait().unwrap();
    let left = rt.list().unwrap();
    assert_eq!(
        left.len(),
        1,
        "the killed process left its container: {left:?}"
    );
    assert_eq!(mounts_under(d.path()).len(), 1, "and its overlay");

    let sweep = sweep_stale_in(rt.base()).unwrap();
    assert_eq!(sweep.containers, [left[0].id.clone()], "{sweep:?}");
    assert_eq!(sweep.bundles.len(), 1, "{sweep:?}");
    assert_eq!(
        sweep.mounts,
        [std::fs::canonicalize(d.path().join("m")).unwrap()]
    );
    assert!(sweep.problems.is_empty(), "{sweep:?}");
    assert_nothing_left(&rt, d.path());
    // A second sweep finds nothing.
    let again = sweep_stale_in(rt.base()).unwrap();
    assert_eq!(again, Sweep::default());
}

#[test]
fn sigterm_removes_the_container_and_unwinds() {
    let d = tempfile::tempdir().unwrap();
    let rt = private_runc(d.path());
    let child = start_helper(d.path());
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    let t = Instant::now();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(42), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    // Both streams were copied to our stderr as they came, behind the prefix.
    assert!(
        err.contains("[helper] ready\n") && err.contains("[helper] steady\n"),
        "{err}"
    );
    assert_nothing_left(&rt, d.path());
}

/// Per-command overhead of the API against a bare `runc run` of the same config.json.
/// `cargo test --release -- --ignored --nocapture runtime::tests::bench_overhead`
#[test]
#[ignore]
fn bench_overhead() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    let rt = private_runc(d.path());
    let spec = RunSpec::build_step(vec!["/bin/true".into()]);
    let n = 40;
    // The bare bundle: the config our API would write, run by runc directly.
    let user = resolve_user(&r, None).unwrap();
    let bundle = d.path().join("bare");
    std::fs::create_dir(&bundle).unwrap();
    let config = build_config(&spec, &r, &user).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let bare_root = d.path().join("bare-state");
    let mut bare = Vec::new();
    let mut api = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        let st = Command::new(rt.binary())
            .arg("--root")
            .arg(&bare_root)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(format!("bare-{i}"))
            .stdin(std::process::Stdio::null())
            .status()
            .unwrap();
        bare.push(t.elapsed());
        assert!(st.success());
        let t = Instant::now();
        let out = rt.run(&r, &spec).unwrap();
        api.push(t.elapsed());
        assert!(out.success());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (b, a) = (median(&mut bare), median(&mut api));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "per-command /bin/true, {n} runs each: bare runc run median {:.1} ms (min {:.1}), \
         corebuild run median {:.1} ms (min {:.1}), ratio of medians {:.2}",
        ms(b),
        ms(bare[0]),
        ms(a),
        ms(api[0]),
        a.as_secs_f64() / b.as_secs_f64()
    );
}

/// Probes a build step must not pass: each prints `ESCAPE <name>` when it succeeds.
const FILTER_PROBES: &str = "\
    unshare -U true 2>/dev/null && echo 'ESCAPE unshare-user'; \
    unshare -r true 2>/dev/null && echo 'ESCAPE unshare-root'; \
    mkdir -p /tmp/m; mount -t tmpfs x /tmp/m 2>/dev/null && echo 'ESCAPE mount'; \
    ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && echo 'ESCAPE raw-socket'; \
    echo probes-done";

#[test]
fn build_steps_have_no_raw_sockets_and_a_seccomp_filter() {
    let d = tempfile::tempdir().unwrap();
    let r = busybox_rootfs(d.path());
    for spec in [
        RunSpec::build_step(sh(FILTER_PROBES)),
        RunSpec::contract_test(sh(FILTER_PROBES)),
    ] {
        let out = runc().run(&r, &spec).unwrap();
        let s = text(&out.stdout);
        assert!(s.contains("probes-done"), "{out:?}");
        assert!(!s.contains("ESCAPE"), "{s}");
    }
    // The filter is there (mode 2), and CAP_NET_RAW (bit 13) is not in the bounding set.
    let out = runc()
        .run(
            &r,
            &RunSpec::build_step(sh("grep -E '^(Seccomp|CapBnd):' /proc/self/status")),
        )
        .unwrap();
    let s = text(&out.stdout);
    assert!(s.contains("Seccomp:\t2"), "{s}");
    let bnd = s
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(bnd & (1 << 13), 0, "{s}");
    assert_ne!(bnd & 1, 0, "CAP_CHOWN stays: {s}");
}
