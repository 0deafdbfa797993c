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

use crate::blueprint::{AptSource, PackageSpec};
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
         APT='-o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false -o APT::Install-Suggests=false -o Acquire::Retries=3 -o Acquire::Languages=none'\n"
    )
}

/// How the download phase picks the versions to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Exactly these, every package the layer installs (from the lock).
    Pinned(Vec<Pin>),
    /// Ask apt: what `install` of these (`name` or `name=version`) adds, with
    /// `upgrade_all` what an upgrade of everything installed changes, and what an
    /// upgrade of only the `only_upgrade` names (those installed) changes.
    Resolve {
        install: Vec<String>,
        upgrade_all: bool,
        only_upgrade: Vec<String>,
    },
}

/// The download phase: with the base's own apt and network, `apt-get update` (which
/// verifies the signed InRelease files with the base's keyring, or a source's own
/// key) and `apt-get install --download-only` (which checks each .deb against the
/// verified Packages index and runs no maintainer script), into the package cache
/// bound at /var/lib/apt/lists and /var/cache/apt/archives. Prints the [`PIN_MARKER`]
/// lines; [`MISSING_MARKER`] lines for locked versions the sources no longer have;
/// [`SOURCE_MARKER`] lines for a declared source apt could not fetch or verify.
pub fn download_script(plan: &Plan, sources: &[AptSource]) -> String {
    let mut s = preamble(0);
    s.push_str(&sources_setup(sources));
    s.push_str(&update_script(sources));
    match plan {
        Plan::Resolve {
            install,
            upgrade_all,
            only_upgrade,
        } => s.push_str(&resolve_script(install, *upgrade_all, only_upgrade)),
        Plan::Pinned(pins) => {
            // Names and versions were checked by `valid_pin` when the lock was read.
            s.push_str(&format!("pins=\"{}\"\n", pin_list(pins)));
            // Name each locked version the sources no longer have, so the error can say
            // which. One `apt-cache madison` for every name: `name | version | source`.
            s.push_str(&format!(
                "avail=$(apt-cache $APT madison $(for p in $pins; do echo ${{p%%=*}}; done) | \
                 awk -F'|' '{{gsub(/ /, \"\", $1); gsub(/ /, \"\", $2); print $1 \"=\" $2}}')\n\
                 missing=0\nfor p in $pins; do \
                 if ! printf '%s\\n' \"$avail\" | grep -qxF \"$p\"; then \
                 echo \"{MISSING_MARKER} ${{p%%=*}} ${{p#*=}}\"; missing=1; fi; done\n\
                 [ \"$missing\" = 0 ] || exit 100\n"
            ));
        }
    }
    s.push_str(&format!(
        "for p in $pins; do echo \"{PIN_MARKER} ${{p%%=*}} ${{p#*=}}\"; done\n\
         [ -z \"$pins\" ] || apt-get $APT -y --download-only install $pins >/dev/null\n"
    ));
    s
}

/// `apt-get update`, failing with [`SOURCE_MARKER`] lines when apt reports a declared
/// source (the base's own sources keep apt's usual leniency: a warning).
fn update_script(sources: &[AptSource]) -> String {
    let mut s = String::from(
        "upd=$(apt-get $APT -q update 2>&1) || updfail=1\nprintf '%s\\n' \"$upd\" >&2\n",
    );
    if sources.is_empty() {
        s.push_str("[ -z \"${updfail:-}\" ] || exit 100\n");
        return s;
    }
    s.push_str("bad=0\n");
    for (i, src) in sources.iter().enumerate() {
        s.push_str(&format!(
            "printf '%s\\n' \"$upd\" | grep -E '^(W|E|Err):' | grep -F {} | \
             while IFS= read -r l; do echo \"{SOURCE_MARKER} {i} $l\"; done | grep . && bad=1\n",
            quote(&src.uri)
        ));
    }
    s.push_str("[ \"$bad\" = 0 ] || exit 100\n[ -z \"${updfail:-}\" ] || exit 100\n");
    s
}

/// Simulations that pick the versions, then the pins: one `name=version` each.
fn resolve_script(install: &[String], upgrade_all: bool, only_upgrade: &[String]) -> String {
    let sed = "sed -n 's/^Inst \\([^ ]*\\) \\(\\[[^]]*\\] \\)\\{0,1\\}(\\([^ ]*\\) .*/\\1=\\3/p'";
    let mut s = String::from("sim=''\n");
    let simulate = |s: &mut String, args: String| {
        s.push_str(&format!(
            "out=$(apt-get $APT -s {args}) || {{ printf '%s\\n' \"$out\" >&2; exit 100; }}\n\
             sim=\"$sim\n$out\"\n"
        ));
    };
    if !install.is_empty() {
        let wanted: Vec<String> = install.iter().map(|w| quote(w)).collect();
        simulate(&mut s, format!("install {}", wanted.join(" ")));
    }
    if upgrade_all {
        simulate(&mut s, "--with-new-pkgs upgrade".to_string());
    }
    if !only_upgrade.is_empty() {
        let names: Vec<String> = only_upgrade.iter().map(|w| quote(w)).collect();
        s.push_str(&format!(
            "up=''\nfor n in {}; do dpkg-query -W -f='${{Status}}' \"$n\" 2>/dev/null | grep -q ' installed$' && up=\"$up $n\"; done\n",
            names.join(" ")
        ));
        s.push_str("if [ -n \"$up\" ]; then\n");
        simulate(&mut s, "install --only-upgrade $up".to_string());
        s.push_str("fi\n");
    }
    s.push_str(&format!(
        "pins=$(printf '%s\\n' \"$sim\" | {sed} | sort -u)\n"
    ));
    s
}

/// Makes apt read the declared sources too: the base's own source parts and ours are
/// copied to a scratch directory (tmpfs; never part of a layer) that apt is pointed at.
fn sources_setup(sources: &[AptSource]) -> String {
    if sources.is_empty() {
        return String::new();
    }
    format!(
        "parts=/tmp/corebuild-apt-parts\nmkdir -p \"$parts\"\n\
         [ ! -d /etc/apt/sources.list.d ] || cp -a /etc/apt/sources.list.d/. \"$parts/\"\n\
         cp {SOURCES_MOUNT}/{SOURCES_FILE} \"$parts/zz-corebuild.sources\"\n\
         APT=\"$APT -o Dir::Etc::SourceParts=$parts\"\n"
    )
}

/// Where a build step sees the declared sources (read-only): [`SOURCES_FILE`] and the
/// key files under `keys/`.
pub const SOURCES_MOUNT: &str = "/run/corebuild-apt/sources";
/// The deb822 file of the declared sources.
pub const SOURCES_FILE: &str = "corebuild.sources";
/// A declared source apt could not fetch or verify: `SOURCE_MARKER index apt-message`.
pub const SOURCE_MARKER: &str = "COREBUILD-SOURCE-FAILED";

/// The key file name of source `i` under `keys/` (apt tells armored keys by `.asc`).
pub fn key_file_name(i: usize, armored: bool) -> String {
    format!("{i}.{}", if armored { "asc" } else { "gpg" })
}

/// The deb822 text of the declared sources, keys at [`SOURCES_MOUNT`]`/keys/`.
pub fn sources_text(sources: &[AptSource]) -> String {
    let mut out = String::new();
    for (i, s) in sources.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "Types: deb\nURIs: {}/\nSuites: {}\n",
            s.uri, s.suite
        ));
        if !s.components.is_empty() {
            out.push_str(&format!("Components: {}\n", s.components.join(" ")));
        }
        if s.signed_by.is_some() {
            out.push_str(&format!(
                "Signed-By: {SOURCES_MOUNT}/keys/{}\n",
                key_file_name(i, s.key_is_armored())
            ));
        }
    }
    out
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
pub fn install_script(
    requested: &[PackageSpec],
    pins: &[(String, String)],
    epoch: u64,
    sources: &[AptSource],
) -> String {
    let names: Vec<&str> = requested.iter().map(|p| p.name.as_str()).collect();
    let mut s = preamble(epoch);
    s.push_str(&sources_setup(sources));
    // Installing a package by name marks it manual: afterwards only what was asked for
    // and what was manual before (an upgraded base package) stays manual.
    s.push_str(&format!(
        "pins=\"{pins}\"\n\
         manual=\" $(apt-mark showmanual | tr '\\n' ' ') \"\n\
         cp -a {CACHE_MOUNT}/lists/. /var/lib/apt/lists/\n\
         find {CACHE_MOUNT}/archives -maxdepth 1 -name '*.deb' -exec cp -a -t /var/cache/apt/archives/ {{}} +\n\
         {local_debs}if [ -n \"$debs\" ]; then apt-get $APT -o Dir::State::Lists=$nolists/ -y install $debs; \
         elif [ -n \"$pins\" ]; then apt-get $APT -y --no-download install $pins; fi\n\
         auto=''\nfor p in $pins; do n=${{p%%=*}}; case \" {} \" in *\" $n \"*) ;; *) \
         case \"$manual\" in *\" $n \"*) ;; *) auto=\"$auto $n\";; esac;; esac; done\n\
         [ -z \"$auto\" ] || apt-mark -o Dir::State::Lists=$nolists/ auto $auto >/dev/null\n\
         apt-get $APT clean\n\
         rm -rf {}\n",
        names.join(" "),
        CLEANUP.join(" "),
        pins = pin_list(pins),
        local_debs = local_debs("/var/cache/apt/archives"),
    ));
    s.push_str(&crate::build::scrub::script(""));
    s
}

/// Sets `debs` to the cached file of every pin (`name_version_arch.deb`, `:` as `%3a`;
/// an `name:arch` pin names its architecture), or to nothing when any pin has not exactly
/// one. Installing those files with apt pointed at an empty lists directory (`nolists`)
/// gives the same layer as installing `name=version` from the indexes, without parsing
/// the whole archive's indexes (0.7 s for Debian's main): the pins are the whole set the
/// download phase resolved, so apt has nothing left to choose. The indexes are still
/// copied in and removed as before, so the layer's apt directories do not change.
fn local_debs(archives: &str) -> String {
    format!(
        "nolists=/tmp/corebuild-nolists\nmkdir -p $nolists/partial\ndebs=''\n\
         for p in $pins; do n=${{p%%=*}}; v=$(printf '%s' \"${{p#*=}}\" | sed 's/:/%3a/g'); a='*'; \
         case $n in *:*) a=${{n#*:}}; n=${{n%%:*}};; esac; \
         set -- {archives}/${{n}}_${{v}}_$a.deb; \
         if [ $# = 1 ] && [ -f \"$1\" ]; then debs=\"$debs $1\"; else debs=''; break; fi; done\n"
    )
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

/// What the download script reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Every package to install, by name.
    pub pins: Vec<Pin>,
    /// Locked versions the sources no longer have.
    pub missing: Vec<Pin>,
    /// Declared sources (by index) apt could not fetch or verify, with apt's message.
    pub failed_sources: Vec<(usize, String)>,
}

pub fn parse_output(stdout: &str) -> Report {
    let mut pins = BTreeMap::new();
    let mut r = Report::default();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix(SOURCE_MARKER) {
            let rest = rest.trim_start();
            let (i, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Ok(i) = i.parse() {
                r.failed_sources.push((i, msg.trim().to_string()));
            }
            continue;
        }
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(PIN_MARKER), Some(n), Some(v)) if valid_pin(n, v) => {
                pins.insert(n.to_string(), v.to_string());
            }
            (Some(MISSING_MARKER), Some(n), Some(v)) => {
                r.missing.push((n.to_string(), v.to_string()))
            }
            _ => {}
        }
    }
    r.pins = pins.into_iter().collect();
    r
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
            &Plan::Resolve {
                install: vec!["curl".into(), "ca-certificates=20230311".into()],
                upgrade_all: false,
                only_upgrade: Vec::new(),
            },
            &[],
        );
        assert!(
            s.contains("-s install 'curl' 'ca-certificates=20230311'"),
            "{s}"
        );
        assert!(!s.contains("upgrade"), "{s}");
        assert!(s.contains("-y --download-only install $pins"), "{s}");
        assert!(!s.contains(MISSING_MARKER));
    }

    #[test]
    fn pinned_script_checks_every_version() {
        let pins = vec![("curl".to_string(), "7.88.1-10+deb12u5".to_string())];
        let s = download_script(&Plan::Pinned(pins), &[]);
        assert!(s.contains("pins=\"curl=7.88.1-10+deb12u5\""), "{s}");
        assert!(s.contains("apt-cache $APT madison"));
    }

    /// The file of every pin, epochs as `%3a` and an `:arch` pin in its architecture; one
    /// pin without exactly one file means none (the install falls back to the indexes).
    #[test]
    fn local_debs_names_each_pins_file_or_none() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().to_str().unwrap();
        for f in [
            "curl_7.88.1-10_amd64.deb",
            "libfoo1_1%3a2.0-1_amd64.deb",
            "libfoo1_1%3a2.0-1_i386.deb",
            "tzdata_2025b-0+deb12u1_all.deb",
        ] {
            std::fs::write(t.path().join(f), "").unwrap();
        }
        let run = |pins: &str| {
            let script = format!("pins=\"{pins}\"\n{}printf '%s' \"$debs\"", local_debs(dir))
                .replace("/tmp/corebuild-nolists", &format!("{dir}/nolists"));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout)
                .unwrap()
                .replace(&format!("{dir}/"), "")
        };
        assert_eq!(
            run("curl=7.88.1-10 libfoo1:i386=1:2.0-1 tzdata=2025b-0+deb12u1"),
            " curl_7.88.1-10_amd64.deb libfoo1_1%3a2.0-1_i386.deb tzdata_2025b-0+deb12u1_all.deb"
        );
        assert_eq!(
            run("curl=7.88.1-10 libfoo1=1:2.0-1"),
            "",
            "two architectures: none"
        );
        assert_eq!(run("curl=7.88.1-11"), "", "a version not cached");
        assert_eq!(run(""), "");
    }

    #[test]
    fn maintainer_scripts_get_the_epoch_and_the_scrub_runs_last() {
        let pins = vec![("openssh-server".to_string(), "1:9.2p1-2".to_string())];
        let s = install_script(&[spec("openssh-server", None)], &pins, 1735689600, &[]);
        assert!(s.contains("export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 SOURCE_DATE_EPOCH=1735689600\n"), "{s}");
        // Nothing is fetched: no update, and the install may not download.
        assert!(!s.contains(" update"), "{s}");
        assert!(s.contains("pins=\"openssh-server=1:9.2p1-2\""), "{s}");
        assert!(
            s.contains("apt-mark -o Dir::State::Lists=$nolists/ auto $auto"),
            "{s}"
        );
        let install = s.find("-y --no-download install $pins").unwrap();
        assert!(s.find("-y install $debs").unwrap() < install, "{s}");
        let scrub = s.find("ssh_host_*_key").unwrap();
        let clean = s.find("rm -rf ").unwrap();
        assert!(install < clean && clean < scrub, "{s}");
    }

    #[test]
    fn parses_pins_and_missing() {
        let out = "noise\nCOREBUILD-PIN curl 7.88\nCOREBUILD-PIN libc6 2.36-9\nCOREBUILD-MISSING zlib1g 1:1.2\n";
        let Report { pins, missing, .. } = parse_output(out);
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
        let s = download_script(
            &Plan::Resolve {
                install: vec!["curl".into()],
                upgrade_all: false,
                only_upgrade: Vec::new(),
            },
            &[],
        );
        let sed = s.lines().find(|l| l.starts_with("pins=$(")).unwrap();
        let expr = sed
            .split("sed -n ")
            .nth(1)
            .unwrap()
            .split(" | sort")
            .next()
            .unwrap();
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
