//! The host's own apt, confined to a private root: its configuration, sources, trusted
//! keys, lists, cache and dpkg status all live under one directory (via APT_CONFIG, which
//! apt reads before anything in /etc/apt), so tests never touch the machine's apt state.

use crate::util::require;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct AptClient {
    root: PathBuf,
}

impl AptClient {
    /// Sets up `root` with `sources` as its only sources.list and no other trusted keys.
    pub fn new(root: &Path, sources: &str) -> AptClient {
        for d in [
            "etc/apt.conf.d",
            "etc/sources.list.d",
            "etc/trusted.gpg.d",
            "etc/preferences.d",
            "state/lists/partial",
            "cache/archives/partial",
            "log",
            "download",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("etc/sources.list"), sources).unwrap();
        std::fs::write(root.join("state/status"), "").unwrap();
        std::fs::write(root.join("apt.conf"), config(root)).unwrap();
        AptClient {
            root: root.to_path_buf(),
        }
    }

    /// `tool` (`apt-get`, `apt-cache`) with the private configuration, run in
    /// `ROOT/download` (where `apt-get download` leaves the .deb).
    pub fn cmd(&self, tool: &str) -> Command {
        let mut c = Command::new(require(tool));
        c.env("APT_CONFIG", self.root.join("apt.conf"))
            .env("LC_ALL", "C")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .current_dir(self.download_dir());
        c
    }

    pub fn download_dir(&self) -> PathBuf {
        self.root.join("download")
    }
}

fn config(root: &Path) -> String {
    let r = root.display();
    format!(
        "Dir::Etc \"{r}/etc\";\n\
         Dir::Etc::Parts \"{r}/etc/apt.conf.d\";\n\
         Dir::Etc::Main \"{r}/etc/apt.conf\";\n\
         Dir::Etc::SourceList \"{r}/etc/sources.list\";\n\
         Dir::Etc::SourceParts \"{r}/etc/sources.list.d\";\n\
         Dir::Etc::Trusted \"{r}/etc/trusted.gpg\";\n\
         Dir::Etc::TrustedParts \"{r}/etc/trusted.gpg.d\";\n\
         Dir::State \"{r}/state\";\n\
         Dir::State::Lists \"{r}/state/lists\";\n\
         Dir::State::status \"{r}/state/status\";\n\
         Dir::Cache \"{r}/cache\";\n\
         Dir::Log \"{r}/log\";\n\
         APT::Architecture \"amd64\";\n\
         APT::Architectures {{ \"amd64\"; }};\n\
         APT::Sandbox::User \"root\";\n\
         Acquire::Languages \"none\";\n\
         Acquire::Retries \"0\";\n\
         Acquire::http::Timeout \"10\";\n\
         Acquire::http::Proxy \"DIRECT\";\n"
    )
}
