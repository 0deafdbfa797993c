//! `packages` layers: the two shell scripts that install Debian packages with the base's
//! own apt inside build containers, and the parsing of what they report back.
//!
//! The download phase ([`download_script`]) is the only one with a network (user-mode,
//! see `runtime::usernet`) and runs no maintainer script; the install phase
//! ([`install_script`]) has no network at all. Given pins (from blueprint.lock), the
//! download checks and fetches exactly those versions; without pins it asks apt what it
//! would install (`apt-get -s`) and pins that. Either way it prints `COREBUILD-PIN name
//! version` lines, which become the lock's `[[package]]` entries and the install's list;
//! the install marks dependencies automatic so the layer is the same whichever mode
//! made it.
//!
//! Maintainer scripts run with SOURCE_DATE_EPOCH set to the build epoch: the Debian
//! tools that would otherwise read the clock honour it (mkinitramfs: `gzip -n`, `cpio
//! --reproducible`, clamped mtimes; useradd and systemd-sysusers: the password-change
//! day in /etc/shadow; Python's byte-compilation: hash-checked `.pyc` files instead of
//! time-stamped ones). After the install, [`CLEANUP`] removes apt's downloads and logs
//! and [`crate::build::scrub`] the per-machine identities and keys postinsts generate.

use crate::blueprint::PackageSpec;
use std::collections::BTreeMap;

pub const PIN_MARKER: &str = "COREBUILD-PIN";
pub const MISSING_MARKER: &str = "COREBUILD-MISSING";

/// Paths the cleanup removes: downloaded indexes and packages, and logs with time
/// stamps. Only what the install added: directories the base ships (`lists/partial`,
/// `/var/log/apt`) stay, so the layer carries no whiteouts for them.
pub const CLEANUP: &[&str] = &[
    "/var/lib/apt/lists/*_*",
    "/var/lib/apt/lists/partial/*",
    "/var/cache/apt/*.bin",
    "/var/cache/apt/archives/*.deb",
    "/var/cache/apt/archives/partial/*",
    "/var/log/apt/*",
    "/var/log/dpkg.log",
    "/var/log/alternatives.log",
    "/var/cache/ldconfig/aux-cache",
];

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Where the install phase sees the package cache (read-only; /run never reaches a
/// layer).
pub const CACHE_MOUNT: &str = "/run/corebuild-apt";

fn preamble(epoch: u64) -> String {
    format!(
        "set -eu\n\
         export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 SOURCE_DATE_EPOCH={epoch}\n\
         APT='-o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false -o APT::Install-Suggests=false -o Acquire::Retries=3'\n"
    )
}

/// The download phase: with the base's own apt and network, `apt-get update` (which
/// verifies the signed InRelease files with the base's keyring) and `apt-get install
/// --download-only` (which checks each .deb against the verified Packages index and
/// runs no maintainer script), into the package cache bound at /var/lib/apt/lists and
/// /var/cache/apt/archives. `pins` are (name, version) for every package to install,
/// requested ones and dependencies; empty means "resolve now". Prints the
/// [`PIN_MARKER`] lines, or [`MISSING_MARKER`] lines for locked versions the mirror no
/// longer has.
pub fn download_script(requested: &[PackageSpec], pins: &[(String, String)]) -> String {
    let wanted: Vec<String> = requested
        .iter()
        .map(|p| match &p.version {
            Some(v) => format!("{}={}", p.name, v),
            None => p.name.clone(),
        })
        .collect();
    let mut s = preamble(0);
    s.push_str("apt-get $APT -qq update\n");
    if pins.is_empty() {
        s.push_str(&format!(
            "pins=$(apt-get $APT -s install {} | sed -n 's/^Inst \\([^ ]*\\) \\(\\[[^]]*\\] \\)\\{{0,1\\}}(\\([^ ]*\\) .*/\\1=\\3/p')\n",
            wanted.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
        ));
    } else {
        // Names and versions were checked by `valid_pin` when the lock was read.
        s.push_str(&format!("pins=\"{}\"\n", pin_list(pins)));
        // Name each locked version the mirror no longer has, so the error can say which.
        // One `apt-cache madison` for every name: `name | version | source` lines.
        s.push_str(&format!(
            "avail=$(apt-cache madison $(for p in $pins; do echo ${{p%%=*}}; done) | \
             awk -F'|' '{{gsub(/ /, \"\", $1); gsub(/ /, \"\", $2); print $1 \"=\" $2}}')\n\
             missing=0\nfor p in $pins; do \
             if ! printf '%s\\n' \"$avail\" | grep -qxF \"$p\"; then \
             echo \"{MISSING_MARKER} ${{p%%=*}} ${{p#*=}}\"; missing=1; fi; done\n\
             [ \"$missing\" = 0 ] || exit 100\n"
        ));
    }
    s.push_str(&format!(
        "for p in $pins; do echo \"{PIN_MARKER} ${{p%%=*}} ${{p#*=}}\"; done\n\
         [ -z \"$pins\" ] || apt-get $APT -y --download-only install $pins >/dev/null\n"
    ));
    s
}

fn pin_list(pins: &[(String, String)]) -> String {
    pins.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The install phase, with no network: the downloaded indexes and packages are copied
/// from [`CACHE_MOUNT`] to where apt keeps them (so the layer's apt directories end up
/// as a networked install leaves them), installed with `--no-download`, and removed
/// again. `pins` are every package to install (what the download phase reported);
/// `epoch` is the build's time stamp, given to maintainer scripts as SOURCE_DATE_EPOCH.
pub fn install_script(requested: &[PackageSpec], pins: &[(String, String)], epoch: u64) -> String {
    let names: Vec<&str> = requested.iter().map(|p| p.name.as_str()).collect();
    let mut s = preamble(epoch);
    s.push_str(&format!(
        "pins=\"{pins}\"\n\
         cp -a {CACHE_MOUNT}/lists/. /var/lib/apt/lists/\n\
         find {CACHE_MOUNT}/archives -maxdepth 1 -name '*.deb' -exec cp -a -t /var/cache/apt/archives/ {{}} +\n\
         [ -z \"$pins\" ] || apt-get $APT -y --no-download install $pins\n\
         auto=''\nfor p in $pins; do n=${{p%%=*}}; case \" {} \" in *\" $n \"*) ;; *) auto=\"$auto $n\";; esac; done\n\
         [ -z \"$auto\" ] || apt-mark auto $auto >/dev/null\n\
         apt-get $APT clean\n\
         rm -rf {}\n",
        names.join(" "),
        CLEANUP.join(" "),
        pins = pin_list(pins),
    ));
    s.push_str(&crate::build::scrub::script(""));
    s
}

/// Whether a package name and version are safe to put in the script unquoted (Debian
/// policy's character sets for names and versions).
pub fn valid_pin(name: &str, version: &str) -> bool {
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.:".contains(c));
    let version_ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~:-".contains(c));
    name_ok && version_ok
}

/// A package name and version.
pub type Pin = (String, String);

/// The pins the script reported, in order, and the locked versions it could not find.
pub fn parse_output(stdout: &str) -> (Vec<Pin>, Vec<Pin>) {
    let mut pins = BTreeMap::new();
    let mut missing = Vec::new();
    for line in stdout.lines() {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(PIN_MARKER), Some(n), Some(v)) if valid_pin(n, v) => {
                pins.insert(n.to_string(), v.to_string());
            }
            (Some(MISSING_MARKER), Some(n), Some(v)) => {
                missing.push((n.to_string(), v.to_string()))
            }
            _ => {}
        }
    }
    (pins.into_iter().collect(), missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: &str, v: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: n.into(),
            version: v.map(Into::into),
        }
    }

    #[test]
    fn resolving_script_simulates_then_installs() {
        let s = download_script(
            &[
                spec("curl", None),
                spec("ca-certificates", Some("20230311")),
            ],
            &[],
        );
        assert!(
            s.contains("-s install 'curl' 'ca-certificates=20230311'"),
            "{s}"
        );
        assert!(s.contains("-y --download-only install $pins"), "{s}");
        assert!(!s.contains(MISSING_MARKER));
    }

    #[test]
    fn pinned_script_checks_every_version() {
        let pins = vec![("curl".to_string(), "7.88.1-10+deb12u5".to_string())];
        let s = download_script(&[spec("curl", None)], &pins);
        assert!(s.contains("pins=\"curl=7.88.1-10+deb12u5\""), "{s}");
        assert!(s.contains("apt-cache madison"));
    }

    #[test]
    fn maintainer_scripts_get_the_epoch_and_the_scrub_runs_last() {
        let pins = vec![("openssh-server".to_string(), "1:9.2p1-2".to_string())];
        let s = install_script(&[spec("openssh-server", None)], &pins, 1735689600);
        assert!(s.contains("export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 SOURCE_DATE_EPOCH=1735689600\n"), "{s}");
        // Nothing is fetched: no update, and the install may not download.
        assert!(!s.contains(" update"), "{s}");
        assert!(s.contains("pins=\"openssh-server=1:9.2p1-2\""), "{s}");
        assert!(s.contains("apt-mark auto"));
        let install = s.find("-y --no-download install $pins").unwrap();
        let scrub = s.find("ssh_host_*_key").unwrap();
        let clean = s.find("rm -rf ").unwrap();
        assert!(install < clean && clean < scrub, "{s}");
    }

    #[test]
    fn parses_pins_and_missing() {
        let out = "noise\nCOREBUILD-PIN curl 7.88\nCOREBUILD-PIN libc6 2.36-9\nCOREBUILD-MISSING zlib1g 1:1.2\n";
        let (pins, missing) = parse_output(out);
        assert_eq!(
            pins,
            vec![
                ("curl".into(), "7.88".into()),
                ("libc6".into(), "2.36-9".into())
            ]
        );
        assert_eq!(missing, vec![("zlib1g".into(), "1:1.2".into())]);
    }

    #[test]
    fn the_sed_expression_reads_apt_simulation_lines() {
        // Run the script's own sed on real-looking `apt-get -s` output.
        let s = download_script(&[spec("curl", None)], &[]);
        let sed = s.lines().find(|l| l.starts_with("pins=$(")).unwrap();
        let expr = sed.split("sed -n ").nth(1).unwrap().trim_end_matches(')');
        let input = "Inst libcurl4 (7.88.1-10+deb12u5 Debian:12.5/stable [amd64])\n\
                     Inst libc6 [2.36-9] (2.36-9+deb12u4 Debian-Security:12/stable-security [amd64])\n\
                     Conf libcurl4 (7.88.1-10+deb12u5 Debian:12.5/stable [amd64])\n";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' \"$0\" | sed -n {expr}"))
            .arg(input)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "libcurl4=7.88.1-10+deb12u5\nlibc6=2.36-9+deb12u4\n"
        );
    }
}
