//! The script that runs a suite's `command` tests inside the booted VM, and the
//! `#cloud-config` that makes cloud-init run it (NoCloud `write_files` + `runcmd`).
//!
//! Each test runs as the container runs it, as far as a VM allows: in a private mount
//! namespace where `/` is remounted read-only (a per-mount flag: the guest's own root
//! stays writable) and `/tmp` is a fresh tmpfs; stdin from /dev/null; as the test's
//! user with no capabilities and no-new-privileges (`setpriv`); with the image's
//! environment and the test's `env` only (`env -i`); killed at its timeout (coreutils
//! `timeout`). The last 64 KiB of stdout and stderr (what the container keeps) are sent
//! base64-encoded on the serial console, one line per test:
//!
//! `@CBVM <nonce> <index> <exit> <timed-out 0|1> <stdout|-> <stderr|->`
//!
//! between `@CBVM <nonce> begin <count>` and `@CBVM <nonce> end`; then the VM powers
//! off. The nonce is random per run and the script never holds a whole result line, so
//! neither an echo of the script nor an earlier run can pass for a result.

use base64::Engine as _;

/// The prefix of every line the script prints.
pub const TAG: &str = "@CBVM";
/// Bytes of each stream the script sends (the container keeps as many).
pub const STREAM_LIMIT: usize = 64 << 10;
/// Stderr of a sandbox that could not be set up (exit 125): a runner error, not a result.
pub const SANDBOX_FAILED: &str = "corebuild-vm-sandbox:";
/// Where the script is written in the guest.
const SCRIPT_PATH: &str = "/run/corebuild-vm-tests.sh";

/// One command test as the guest runs it: everything resolved on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmCommand {
    pub argv: Vec<String>,
    /// `KEY=VALUE`, the whole environment.
    pub env: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub timeout_ms: u64,
}

const PRELUDE: &str = r#"#!/bin/sh
# Written by corebuild: runs a suite's command tests and prints their results on the
# serial console. Not part of the image.
C=/dev/ttyS0
D=$(mktemp -d /run/corebuild-vm.XXXXXX) || exit 1
say() { printf '%s %s %s\n' "@CBVM" "$N" "$*" > "$C"; }
enc() { b=$(tail -c LIMIT "$1" | base64 -w0); [ -n "$b" ] || b=-; printf '%s' "$b"; }
S='mount --make-rprivate / && mount -o remount,bind,ro / && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || { echo "SANDBOX cannot make / read-only and /tmp a fresh tmpfs" >&2; exit 125; }; exec "$@"'
one() {
  i=$1; t=$2; tf=$3; shift 3
  s0=$(cut -d. -f1 /proc/uptime)
  timeout -k 5 "$t" unshare --mount --propagation private sh -c "$S" sandbox "$@" </dev/null >"$D/o" 2>"$D/e"
  rc=$?
  s1=$(cut -d. -f1 /proc/uptime)
  to=0
  if [ "$rc" -eq 124 ] && [ $((s1 - s0)) -ge "$tf" ]; then to=1; fi
  say "$i $rc $to $(enc "$D/o") $(enc "$D/e")"
}
"#;

/// The script for `cmds` (indexes are positions in `cmds`).
pub fn script(nonce: &str, cmds: &[VmCommand]) -> String {
    let mut s = PRELUDE
        .replace("LIMIT", &STREAM_LIMIT.to_string())
        .replace("SANDBOX", SANDBOX_FAILED)
        .replace("\"@CBVM\"", &quote(TAG));
    s.push_str(&format!("N={}\nsay begin {}\n", quote(nonce), cmds.len()));
    for (i, c) in cmds.iter().enumerate() {
        s.push_str(&line(i, c));
    }
    s.push_str("say end\nrm -rf \"$D\"\nsystemctl poweroff --no-block 2>/dev/null || poweroff\n");
    s
}

fn line(i: usize, c: &VmCommand) -> String {
    let secs = c.timeout_ms.max(1) as f64 / 1000.0;
    // Timed out when `timeout` says 124 and at least the whole seconds of the limit passed.
    let floor = (c.timeout_ms / 1000).saturating_sub(1);
    let groups = match c.groups.as_slice() {
        [] => "--clear-groups".to_string(),
        g => format!(
            "--groups={}",
            g.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        ),
    };
    let mut words = vec![
        "one".to_string(),
        i.to_string(),
        format!("{secs:.3}"),
        floor.to_string(),
        "setpriv".into(),
        format!("--reuid={}", c.uid),
        format!("--regid={}", c.gid),
        groups,
        "--inh-caps=-all".into(),
        "--ambient-caps=-all".into(),
        "--bounding-set=-all".into(),
        "--no-new-privs".into(),
        "env".into(),
        "-i".into(),
    ];
    words.extend(c.env.iter().map(|e| quote(e)));
    words.extend(c.argv.iter().map(|a| quote(a)));
    words.join(" ") + "\n"
}

/// `s` as one shell word: single quotes, a quote inside written `'\''`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `#cloud-config` user-data that writes the script and runs it. JSON is YAML, and
/// serde_json escapes whatever the script holds.
pub fn user_data(script: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(script);
    let doc = serde_json::json!({
        "write_files": [{
            "path": SCRIPT_PATH,
            "permissions": "0700",
            "encoding": "b64",
            "content": b64,
        }],
        // Through sh: /run may be mounted noexec.
        "runcmd": [["sh", SCRIPT_PATH]],
    });
    format!("#cloud-config\n{doc}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> VmCommand {
        VmCommand {
            argv: vec!["/bin/sh".into(), "-c".into(), "echo 'it''s' $HOME".into()],
            env: vec!["PATH=/usr/bin:/bin".into(), "HOME=/root".into()],
            uid: 0,
            gid: 0,
            groups: vec![],
            timeout_ms: 60_000,
        }
    }

    #[test]
    fn a_test_runs_sandboxed_as_its_user_with_its_env_and_timeout() {
        let mut nobody = cmd();
        nobody.uid = 65534;
        nobody.gid = 65534;
        nobody.groups = vec![100, 200];
        nobody.timeout_ms = 1500;
        let s = script("n0nce", &[cmd(), nobody]);
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("mount -o remount,bind,ro /"));
        assert!(s.contains("mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp"));
        assert!(s.contains("</dev/null"));
        assert!(
            s.contains(
                "one 0 60.000 59 setpriv --reuid=0 --regid=0 --clear-groups --inh-caps=-all \
             --ambient-caps=-all --bounding-set=-all --no-new-privs env -i 'PATH=/usr/bin:/bin' \
             'HOME=/root' '/bin/sh' '-c' 'echo '\\''it'\\'''\\''s'\\'' $HOME'\n"
            ),
            "{s}"
        );
        assert!(s.contains("one 1 1.500 0 setpriv --reuid=65534 --regid=65534 --groups=100,200 "));
        assert!(s.contains("tail -c 65536"));
        assert!(s.contains("say begin 2\n") && s.contains("say end\n"));
        // The script never holds a whole result line: the nonce is only in N=.
        assert!(!s.contains("@CBVM n0nce"));
        assert!(s.contains("N='n0nce'"));
    }

    #[test]
    fn the_user_data_is_cloud_config_that_writes_and_runs_the_script() {
        let u = user_data("#!/bin/sh\necho \"hi\"\n");
        let (first, rest) = u.split_once('\n').unwrap();
        assert_eq!(first, "#cloud-config");
        let v: serde_json::Value = serde_json::from_str(rest).unwrap();
        let f = &v["write_files"][0];
        assert_eq!(f["path"], SCRIPT_PATH);
        let body = base64::engine::general_purpose::STANDARD
            .decode(f["content"].as_str().unwrap())
            .unwrap();
        assert_eq!(body, b"#!/bin/sh\necho \"hi\"\n");
        assert_eq!(v["runcmd"][0], serde_json::json!(["sh", SCRIPT_PATH]));
    }
}
