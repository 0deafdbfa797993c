//! The per-machine state a package install leaves behind and a `packages` layer must not
//! carry: identities and secrets that maintainer scripts generate. Each differs on every
//! build (so the layer would not be reproducible) and would be shared by every machine
//! made from the image (so it would be wrong even if it were). The first boot makes each
//! of them afresh. The packages-layer script runs these rules after apt.

/// One rule: a shell fragment, run with `$R` set to the root it applies to (empty in a
/// build step, whose root is `/`), and why it is there.
pub struct Rule {
    pub why: &'static str,
    pub sh: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule {
        why: "systemd's postinst fills /etc/machine-id with a random id. An empty file is \
              what systemd wants in an image: the machine is uninitialized, and its first \
              boot writes its own id (a missing file would also mean first boot, but then \
              systemd presets every unit and may undo what the image enabled)",
        sh: "if [ -s \"$R/etc/machine-id\" ]; then : > \"$R/etc/machine-id\"; fi",
    },
    Rule {
        why: "dbus's postinst writes a second random id to /var/lib/dbus/machine-id; \
              Debian's dbus makes it a link to /etc/machine-id at boot (tmpfiles.d) when \
              it is missing, so the image has that link",
        sh: "if [ -f \"$R/var/lib/dbus/machine-id\" ] && [ ! -L \"$R/var/lib/dbus/machine-id\" ]; \
             then ln -sfn /etc/machine-id \"$R/var/lib/dbus/machine-id\"; fi",
    },
    Rule {
        why: "SSH host keys (openssh-server's and dropbear's postinst): private keys every \
              VM of the image would share; cloud-init or `ssh-keygen -A` make them at first \
              boot",
        sh: "rm -f \"$R\"/etc/ssh/ssh_host_*_key \"$R\"/etc/ssh/ssh_host_*_key.pub \
             \"$R\"/etc/dropbear/dropbear_*_host_key",
    },
    Rule {
        why: "systemd's saved entropy and its credential-encryption secret, when a postinst \
              started systemd-random-seed or systemd-creds: secrets, never shared",
        sh: "rm -f \"$R/var/lib/systemd/random-seed\" \"$R/var/lib/systemd/credential.secret\"",
    },
];

/// The rules as one shell fragment for the root `root` ("" in a build step).
pub fn script(root: &str) -> String {
    let mut s = format!("R='{}'\n", root.replace('\'', r"'\''"));
    for r in RULES {
        s.push_str(r.sh);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn write(root: &Path, p: &str, content: &str) {
        let p = root.join(p.trim_start_matches('/'));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    fn run(root: &Path) {
        let out = std::process::Command::new("sh")
            .arg("-ec")
            .arg(script(root.to_str().unwrap()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    #[test]
    fn clears_generated_identities_and_keeps_everything_else() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, "/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        write(
            r,
            "/var/lib/dbus/machine-id",
            "fedcba98765432100123456789abcdef\n",
        );
        write(r, "/etc/ssh/ssh_host_ed25519_key", "PRIVATE");
        write(r, "/etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAA");
        write(r, "/etc/ssh/sshd_config", "Port 22\n");
        write(r, "/var/lib/systemd/random-seed", "entropy");
        run(r);
        assert_eq!(fs::read(r.join("etc/machine-id")).unwrap(), b"");
        let link = fs::read_link(r.join("var/lib/dbus/machine-id")).unwrap();
        assert_eq!(link, Path::new("/etc/machine-id"));
        let ssh: Vec<_> = fs::read_dir(r.join("etc/ssh"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(ssh, vec!["sshd_config".to_string()]);
        assert!(!r.join("var/lib/systemd/random-seed").exists());
    }

    #[test]
    fn leaves_a_root_without_that_state_unchanged() {
        // core-minimal's case: no systemd, no dbus, no ssh. Nothing may be created, or
        // the layer would grow files (and an empty machine-id where the base has none).
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, "/etc/hostname", "localhost\n");
        run(r);
        let names: Vec<_> = fs::read_dir(r.join("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["hostname"]);
        assert!(!r.join("var").exists());
    }
}
