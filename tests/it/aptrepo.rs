//! An offline, signed apt repository for the security-response tests: real .debs made by
//! `dpkg-deb`, indices by `apt-ftparchive`, a throwaway GPG key, a loopback HTTP server.
//!
//! ```ignore
//! let mut repo = AptRepo::new(&ws.path().join("repo"), "bookworm-security");
//! repo.add_package("corelib", "1.0-1", &PkgOpts { changelog: corelib_changelog("1.0-1"), ..Default::default() });
//! repo.publish();
//! let server = repo.serve();            // server.uri() = http://127.0.0.1:PORT/
//! // blueprint: uri = server.uri(), suite = repo.suite(), signed_by = repo.key_asc()
//! ```
//!
//! The layout under `dir`: `dists/SUITE/{Release,InRelease,Release.gpg}`,
//! `dists/SUITE/main/binary-amd64/Packages{,.gz}`, `pool/main/…`, `key.asc`, `key.gpg`;
//! the GNUPGHOMEs and scratch space sit in dot-directories the server refuses to serve.

mod apt_client;
mod deb;
mod gpg;
mod server;
#[cfg(test)]
mod tests;

pub use apt_client::AptClient;
pub use deb::{Changelog, PkgOpts};
pub use server::Server;

use crate::util::{require, run_ok};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const ORIGIN: &str = "corebuild-test";

pub struct AptRepo {
    dir: PathBuf,
    suite: String,
    signer: gpg::Signer,
}

impl AptRepo {
    /// Creates the layout in `dir` (made if missing) with a fresh signing key, and
    /// exports its public key to `key.asc` (armored) and `key.gpg` (binary).
    pub fn new(dir: &Path, suite: &str) -> AptRepo {
        std::fs::create_dir_all(dir.join("dists").join(suite).join("main/binary-amd64")).unwrap();
        std::fs::create_dir_all(dir.join("pool")).unwrap();
        let signer = gpg::Signer::generate(&dir.join(".gnupg"), "corebuild test archive");
        std::fs::write(dir.join("key.asc"), signer.export(true)).unwrap();
        std::fs::write(dir.join("key.gpg"), signer.export(false)).unwrap();
        AptRepo {
            dir: dir.to_path_buf(),
            suite: suite.to_string(),
            signer,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn suite(&self) -> &str {
        &self.suite
    }
    /// The armored public key (`key.asc`), for a blueprint's `signed_by`.
    pub fn key_asc(&self) -> PathBuf {
        self.dir.join("key.asc")
    }
    /// The binary public key (`key.gpg`).
    pub fn key_gpg(&self) -> PathBuf {
        self.dir.join("key.gpg")
    }

    /// The one-line sources.list entry for this archive served at `uri`, trusting only
    /// its own key.
    pub fn sources_line(&self, uri: &str) -> String {
        format!(
            "deb [signed-by={}] {uri} {} main\n",
            self.key_gpg().display(),
            self.suite
        )
    }

    /// Builds `NAME_VERSION` into `pool/main/N/NAME/NAME_VERSION_ARCH.deb` and returns its
    /// path. The package holds `/usr/share/NAME/version` (the version and a newline: one
    /// fixed path for `--file` queries) and `/usr/share/doc/NAME/changelog.Debian.gz`
    /// (`opts.changelog`, suite = this archive's). Visible to apt after [`AptRepo::publish`].
    pub fn add_package(&mut self, name: &str, version: &str, opts: &PkgOpts) -> PathBuf {
        let out = self.dir.join(deb::pool_path(name, version, &opts.arch));
        deb::build(
            &self.dir.join(".build"),
            &self.suite,
            name,
            version,
            opts,
            &out,
        );
        out
    }

    /// Drops `NAME_VERSION` (any architecture) from the pool, as a security archive drops a
    /// superseded version. Takes effect at the next [`AptRepo::publish`].
    pub fn remove_package(&mut self, name: &str, version: &str) {
        let mut gone = 0;
        for arch in ["amd64", "all"] {
            let p = self.dir.join(deb::pool_path(name, version, arch));
            if p.exists() {
                std::fs::remove_file(p).unwrap();
                gone += 1;
            }
        }
        assert!(gone > 0, "no {name} {version} in the pool");
    }

    /// Regenerates Packages, Packages.gz and Release from the pool and signs Release
    /// (InRelease and Release.gpg) with the archive key. Same pool ⇒ same bytes.
    pub fn publish(&self) {
        let suite_dir = self.dir.join("dists").join(&self.suite);
        let packages = suite_dir.join("main/binary-amd64/Packages");
        let listing = run_ok(self.ftparchive().args(["packages", "pool"]));
        std::fs::write(
            &packages,
            sorted_stanzas(&String::from_utf8_lossy(&listing.stdout)),
        )
        .unwrap();
        let gz = run_ok(Command::new(require("gzip")).arg("-9nc").arg(&packages));
        std::fs::write(packages.with_extension("gz"), gz.stdout).unwrap();
        for old in ["Release", "InRelease", "Release.gpg"] {
            let _ = std::fs::remove_file(suite_dir.join(old));
        }
        let release = run_ok(self.release_cmd().arg(Path::new("dists").join(&self.suite)));
        std::fs::write(suite_dir.join("Release"), release.stdout).unwrap();
        self.signer.sign_release(&suite_dir.join("Release"));
    }

    /// Re-signs the current Release with a different throwaway key, so a client that
    /// trusts `key.gpg` sees signatures it cannot verify. [`AptRepo::publish`] repairs it.
    pub fn break_signature(&self) {
        let rogue = gpg::Signer::generate(&self.dir.join(".gnupg-rogue"), "rogue archive");
        rogue.sign_release(&self.dir.join("dists").join(&self.suite).join("Release"));
    }

    /// Serves the archive on 127.0.0.1 at a free port until the server is dropped.
    pub fn serve(&self) -> Server {
        Server::start(&self.dir)
    }

    fn ftparchive(&self) -> Command {
        let mut c = Command::new(require("apt-ftparchive"));
        c.current_dir(&self.dir)
            .env("SOURCE_DATE_EPOCH", deb::EPOCH.to_string())
            .env("TZ", "UTC");
        c
    }

    fn release_cmd(&self) -> Command {
        let mut c = self.ftparchive();
        for (field, value) in [
            ("Origin", ORIGIN),
            ("Label", ORIGIN),
            ("Suite", &self.suite),
            ("Codename", &self.suite),
            ("Architectures", "amd64"),
            ("Components", "main"),
            ("Description", "corebuild offline test archive"),
            ("Date", deb::DATE),
        ] {
            c.arg("-o")
                .arg(format!("APT::FTPArchive::Release::{field}={value}"));
        }
        c.arg("release");
        c
    }
}

/// apt-ftparchive lists the pool in directory order; sort the stanzas so the index does
/// not depend on the filesystem.
fn sorted_stanzas(listing: &str) -> String {
    let mut stanzas: Vec<&str> = listing
        .split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    stanzas.sort_unstable();
    stanzas.iter().map(|s| format!("{s}\n\n")).collect()
}

/// corelib's changelog as the fixture tells it: `1.0-1` the first release; `1.0-2` the
/// security update fixing CVE-2026-0001 (DSA-5999-1) on top of it.
pub fn corelib_changelog(version: &str) -> Changelog {
    let first = ("1.0-1".to_string(), vec!["* Initial release.".to_string()]);
    let fix = (
        "1.0-2".to_string(),
        vec![
            "* Security: fix a heap overflow in corelib_parse (CVE-2026-0001, DSA-5999-1)."
                .to_string(),
        ],
    );
    match version {
        "1.0-1" => vec![first],
        "1.0-2" => vec![fix, first],
        v => panic!("corelib_changelog knows 1.0-1 and 1.0-2, not {v}"),
    }
}
