//! A throwaway GnuPG signing key in its own GNUPGHOME: generate, export, clear-sign and
//! detach-sign a Release file. The gpg-agent it starts is stopped when dropped.

use crate::util::{require, run_ok};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every gpg call runs with this frozen clock, so key and signature dates are fixed
/// (2026-01-01T00:00:00Z, the fixture's date everywhere).
const FROZEN_TIME: &str = "20260101T000000!";

pub struct Signer {
    home: PathBuf,
    /// The key's fingerprint, as `gpg --with-colons` prints it.
    pub fingerprint: String,
}

impl Signer {
    /// Generates a passphrase-less ed25519 signing key named `uid` in `home` (created 0700).
    pub fn generate(home: &Path, uid: &str) -> Signer {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(home)
            .unwrap();
        let params = home.join("keygen.batch");
        std::fs::write(
            &params,
            format!(
                "%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n\
                 Name-Real: {uid}\nName-Email: archive@corebuild.test\nExpire-Date: 0\n%commit\n"
            ),
        )
        .unwrap();
        let mut signer = Signer {
            home: home.to_path_buf(),
            fingerprint: String::new(),
        };
        run_ok(signer.gpg().arg("--gen-key").arg(&params));
        let listing = run_ok(signer.gpg().args(["--with-colons", "--list-secret-keys"]));
        signer.fingerprint = String::from_utf8_lossy(&listing.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|f| !f.is_empty()))
            .expect("gpg lists the new key's fingerprint")
            .to_string();
        signer
    }

    /// The public key, ASCII-armored or binary (what apt's `signed-by` takes either way).
    pub fn export(&self, armored: bool) -> Vec<u8> {
        let mut cmd = self.gpg();
        cmd.args(["--export-options", "export-minimal"]);
        if armored {
            cmd.arg("--armor");
        }
        run_ok(cmd.arg("--export").arg(&self.fingerprint)).stdout
    }

    /// Writes `InRelease` (clear-signed) and `Release.gpg` (armored, detached) beside
    /// `release`, replacing any earlier ones.
    pub fn sign_release(&self, release: &Path) {
        let dir = release.parent().unwrap();
        for (flag, name) in [
            ("--clearsign", "InRelease"),
            ("--detach-sign", "Release.gpg"),
        ] {
            run_ok(
                self.gpg()
                    .args(["--armor", "--digest-algo", "SHA512", "--local-user"])
                    .arg(&self.fingerprint)
                    .arg("--output")
                    .arg(dir.join(name))
                    .arg(flag)
                    .arg(release),
            );
        }
    }

    fn gpg(&self) -> Command {
        let mut c = Command::new(require("gpg"));
        c.env("GNUPGHOME", &self.home)
            .env("TZ", "UTC")
            .args(["--batch", "--yes", "--no-tty", "--quiet"])
            .args(["--pinentry-mode", "loopback", "--passphrase", ""])
            .args(["--faked-system-time", FROZEN_TIME]);
        c
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        // Best effort: the agent would otherwise outlive the test's temp dir.
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.home)
            .output();
    }
}
