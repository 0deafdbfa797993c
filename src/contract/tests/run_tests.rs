//! Running suites on a real rootfs: every kind of test, passing and failing, hostile
//! symlinks, the host's real libc, real commands under chroot, parallel runs.

use super::chroot::ChrootExecutor;
use super::TestRoot;
use crate::contract::*;
use crate::digest::Digest;
use std::collections::BTreeMap;
use std::path::Path;

pub fn config() -> oci_spec::image::ImageConfiguration {
    serde_json::from_str(
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
        "config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/bin/sh"],"User":"0:0",
        "Labels":{"org.opencontainers.image.vendor":"Core Team"},"ExposedPorts":{"22/tcp":{}}}}"#,
    )
    .unwrap()
}

pub fn candidate(root: &Path) -> Candidate {
    Candidate {
        digest: Digest::of_bytes(b"candidate manifest"),
        rootfs: root.to_path_buf(),
        config: config(),
        vm: None,
    }
}

const SUITE: &str = r#"
name = "posix-base"
version = "1.0.0"
description = "a bit of everything, passing and failing"

[[test]]
name = "passwd"
file = "/etc/passwd"
type = "file"
mode = "0644"
uid = 0
contains = "^root:x:0:0:"
excludes = "^toor:"

[[test]]
name = "passwd wrong"
file = "/etc/passwd"
mode = "0600"
contains = "^daemon:"
excludes = "^nobody:"

[[test]]
name = "tmp sticky"
file = "/tmp"
type = "dir"
mode = "1777"

[[test]]
name = "sh is dash"
file = "/bin/sh"
type = "symlink"
target = "dash"

[[test]]
name = "sh resolves to a file"
file = "/bin/sh"
type = "file"

[[test]]
name = "no telnet config"
file = "/etc/inetd.conf"
exists = false

[[test]]
name = "shadow must not exist"
file = "/etc/shadow"
exists = false

[[test]]
name = "evil absolute"
file = "/etc/evil-absolute"
contains = "host secret"

[[test]]
name = "evil dotdot"
file = "/etc/evil-dotdot"
contains = "host secret"

[[test]]
name = "config"
metadata = { env = { PATH = "/usr/bin" }, cmd = ["/bin/sh"], exposed_ports = ["22"], labels = { "org.opencontainers.image.vendor" = "^Core" } }

[[test]]
name = "config wrong"
metadata = { user = "nobody", exposed_ports = ["80"] }

[[test]]
name = "glibc"
package = "libc6"
version = ">= 2.36"

[[test]]
name = "glibc too old"
package = "libc6"
version = ">= 2.37"

[[test]]
name = "telnetd gone"
regression_for = "BUG-7"
package = "telnetd"
absent = true

[[test]]
name = "bash present"
package = "bash"

[[test]]
name = "libc abi"
library = "libc.so.6"
provides = ["GLIBC_2.34"]

[[test]]
name = "libc future abi"
library = "libc.so.6"
provides = ["GLIBC_2.34", "GLIBC_99.0"]

[[test]]
name = "no such library"
library = "libnope.so.1"

[[test]]
name = "not elf"
library = "libnotelf.so.1"

[[test]]
name = "shell"
command = ["/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"]
exit = 3
stdout = "^hello$"
stderr = "oops"
stdout_excludes = "ERROR"

[[test]]
name = "env"
command = ["/bin/sh", "-c", "echo $GREETING"]
env = { GREETING = "hi there" }
stdout = "^hi there$"

[[test]]
name = "wrong exit"
command = ["/bin/sh", "-c", "echo ERROR; exit 1"]
stdout_excludes = "ERROR"

[[test]]
name = "spins"
command = ["/bin/sh", "-c", "while :; do :; done"]
timeout = "300ms"

[[test]]
name = "sshd"
service = ["/usr/sbin/sshd", "-D"]
port = 22

[[test]]
name = "boots"
boot = { expect = "login:" }
"#;

fn suite() -> Suite {
    parse_suite(Path::new("/suites/posix-base.toml"), SUITE).unwrap()
}

fn outcomes(report: &ContractReport) -> BTreeMap<String, Outcome> {
    report.suites[0]
        .results
        .iter()
        .map(|r| (r.name.clone(), r.outcome.clone()))
        .collect()
}

#[track_caller]
fn failed<'a>(o: &'a BTreeMap<String, Outcome>, name: &str) -> (&'a str, &'a str) {
    match &o[name] {
        Outcome::Failed { expected, actual } => (expected, actual),
        other => panic!("{name}: expected a failure, got {other:?}"),
    }
}

#[test]
fn every_kind_on_a_real_rootfs() {
    let t = TestRoot::new();
    let report = run_suites(
        &candidate(&t.root),
        &[suite()],
        &ChrootExecutor,
        &RunOptions { jobs: 4 },
    );
    let o = outcomes(&report);
    for name in [
        "passwd",
        "tmp sticky",
        "sh is dash",
        "sh resolves to a file",
        "no telnet config",
        "config",
        "glibc",
        "telnetd gone",
        "libc abi",
        "shell",
        "env",
    ] {
        assert_eq!(o[name], Outcome::Passed, "{name}");
    }

    let (e, a) = failed(&o, "passwd wrong");
    assert!(
        e.contains("mode 0600") && a.contains("mode 0644"),
        "{e} / {a}"
    );
    assert!(
        e.contains("/^daemon:/") && a.contains("no line matches"),
        "{a}"
    );
    assert!(a.contains("matched: nobody:x:65534"), "{a}");
    let (_, a) = failed(&o, "shadow must not exist");
    assert!(a.contains("it exists (file)"), "{a}");

    // The hostile links resolve inside the root, where there is no /secret or host path.
    for name in ["evil absolute", "evil dotdot"] {
        let (_, a) = failed(&o, name);
        assert!(
            a.starts_with("it does not exist: the symlink"),
            "{name}: {a}"
        );
        assert!(a.contains("leads nowhere inside the image"), "{name}: {a}");
    }
    assert!(t.secret.exists());

    let (e, a) = failed(&o, "config wrong");
    assert!(e.contains("user nobody") && e.contains("80/tcp"), "{e}");
    assert!(
        a.contains("user 0:0") && a.contains("exposed ports 22/tcp"),
        "{a}"
    );

    let (e, a) = failed(&o, "glibc too old");
    assert_eq!(e, "libc6 installed, version >= 2.37");
    assert_eq!(a, "installed: 2.36-9+deb12u4 (amd64)");
    let (_, a) = failed(&o, "bash present");
    assert_eq!(a, "not installed");

    let (_, a) = failed(&o, "libc future abi");
    assert!(a.contains("does not define GLIBC_99.0"), "{a}");
    assert!(a.contains("newest GLIBC: GLIBC_2."), "{a}");
    assert!(!a.contains("GLIBC_2.34,"), "{a}");
    let (_, a) = failed(&o, "no such library");
    assert!(a.contains("not found in") && a.contains("/usr/lib"), "{a}");
    let (_, a) = failed(&o, "not elf");
    assert!(
        a.contains("/usr/lib/libnotelf.so.1: not an ELF file"),
        "{a}"
    );

    let (e, a) = failed(&o, "wrong exit");
    assert!(
        e.contains("exit 0") && e.contains("stdout without /ERROR/"),
        "{e}"
    );
    assert!(
        a.contains("exit 1") && a.contains("stdout: \"ERROR\\n\""),
        "{a}"
    );
    let (_, a) = failed(&o, "spins");
    assert!(a.contains("killed at the 0.3s timeout"), "{a}");

    match &o["sshd"] {
        Outcome::Error { message } => assert!(message.contains("does not run services")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(&o["boots"], Outcome::Skipped { reason } if reason.contains("no VM disk")));

    let r = &report.suites[0].results;
    assert_eq!(r.len(), suite().tests.len());
    let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
    let in_file: Vec<String> = suite().tests.iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, in_file, "results keep suite order");
    assert_eq!(r[13].regression_for.as_deref(), Some("BUG-7"));
    assert_eq!(r[13].kind, TestKind::Package);

    let s = report.summary;
    assert_eq!((s.tests, s.skipped, s.errors), (25, 1, 1));
    assert_eq!(s.passed + s.failed + s.skipped + s.errors, s.tests);
    assert!(!report.passed());
    assert_eq!(
        report.exit_code(),
        3,
        "an executor error makes the run exit 3"
    );
    assert_eq!(crate::error::exit_code(&report.check().unwrap_err()), 3);
}

#[test]
fn one_job_or_many_gives_the_same_report() {
    let t = TestRoot::new();
    let strip = |mut r: ContractReport| {
        for s in &mut r.suites {
            for t in &mut s.results {
                t.duration_ms = 0;
            }
        }
        r
    };
    let c = candidate(&t.root);
    let one = strip(run_suites(
        &c,
        &[suite()],
        &ChrootExecutor,
        &RunOptions { jobs: 1 },
    ));
    let many = strip(run_suites(
        &c,
        &[suite()],
        &ChrootExecutor,
        &RunOptions { jobs: 8 },
    ));
    let default = strip(run_suites(
        &c,
        &[suite()],
        &ChrootExecutor,
        &RunOptions { jobs: 0 },
    ));
    assert_eq!(one, many);
    assert_eq!(one, default);
}

#[test]
fn failures_only_exit_1_and_passing_exit_0() {
    let t = TestRoot::new();
    let c = candidate(&t.root);
    let only_fail = parse_suite(
        Path::new("/s/f.toml"),
        "name = \"f\"\nversion = \"1.0.0\"\ndescription = \"\"\n[[test]]\nname = \"x\"\nfile = \"/nope\"\n",
    )
    .unwrap();
    let r = run_suites(&c, &[only_fail], &ChrootExecutor, &RunOptions::default());
    assert_eq!(r.exit_code(), 1);
    assert_eq!(crate::error::exit_code(&r.check().unwrap_err()), 1);
    let pass = parse_suite(
        Path::new("/s/p.toml"),
        "name = \"p\"\nversion = \"1.0.0\"\ndescription = \"\"\n[[test]]\nname = \"x\"\ncommand = [\"/bin/sh\", \"-c\", \"true\"]\n",
    )
    .unwrap();
    let r = run_suites(&c, &[pass], &ChrootExecutor, &RunOptions::default());
    assert!(r.passed() && r.check().is_ok(), "{r:?}");
    assert_eq!(r.exit_code(), 0);
}

/// A rootfs that does not exist: checks report errors or failures, never a pass.
#[test]
fn missing_rootfs_never_passes() {
    let t = tempfile::tempdir().unwrap();
    let r = run_suites(
        &candidate(&t.path().join("gone")),
        &[suite()],
        &ChrootExecutor,
        &RunOptions::default(),
    );
    let o = outcomes(&r);
    for name in ["passwd", "glibc", "libc abi", "shell"] {
        assert!(!matches!(o[name], Outcome::Passed), "{name}: {:?}", o[name]);
    }
    assert!(!r.passed());
}
