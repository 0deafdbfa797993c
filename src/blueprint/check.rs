//! Checks for single values: each takes the file and the value's span, and returns the
//! validated value or an error at that span that says what is accepted.

use super::error::{BlueprintError, Source};
use super::model::{BaseRef, PackageSpec};
use crate::digest::Digest;
use std::path::Path;
use toml::Spanned;

type Result<T> = std::result::Result<T, BlueprintError>;

/// `[a-z0-9-]+`, starting with a letter or digit: it becomes a tag and a file name.
pub fn name(src: &Source, v: &Spanned<String>) -> Result<String> {
    let s = v.get_ref();
    let ok = s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        let suggestion: String = s
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .trim_start_matches('-')
            .to_string();
        let err = src.error(
            v.span(),
            format!(
                "invalid name {s:?}: use lowercase letters, digits and `-`, starting with a letter or digit"
            ),
        );
        return Err(if suggestion.is_empty() {
            err
        } else {
            err.with_hint(format!("for example name = {suggestion:?}"))
        });
    }
    Ok(s.clone())
}

pub fn version(src: &Source, v: &Spanned<String>) -> Result<semver::Version> {
    v.get_ref().parse().map_err(|e| {
        src.error(v.span(), format!("invalid version {:?}: {e}", v.get_ref()))
            .with_hint("use a semantic version MAJOR.MINOR.PATCH, e.g. version = \"1.0.0\"")
    })
}

pub fn digest(src: &Source, v: &Spanned<String>) -> Result<Digest> {
    v.get_ref().parse().map_err(|e| {
        src.error(v.span(), format!("{e}")).with_hint(
            "copy the digest from `corebuild base list`, or remove it and run `corebuild lock`",
        )
    })
}

/// The base reference: `name:version` of a base in the store, `oci-layout:PATH[:TAG]`
/// (PATH relative to `dir`), `catalog:NAME:VERSION` or `docker://HOST/REPO[:TAG][@DIGEST]`.
pub fn base_ref(src: &Source, v: &Spanned<String>, dir: &Path) -> Result<BaseRef> {
    parse_base_ref(v.get_ref(), dir).map_err(|why| {
        src.error(
            v.span(),
            format!("invalid base ref {:?}: {why}", v.get_ref()),
        )
        .with_hint(
            "write ref = \"NAME:VERSION\" for a base in the store, \"oci-layout:PATH[:TAG]\", \"catalog:NAME:VERSION\", \
             or \"docker://HOST[:PORT]/REPOSITORY:TAG\" (or @sha256:HEX) for an image in a registry, with the host written out",
        )
    })
}

pub(super) fn parse_base_ref(s: &str, dir: &Path) -> std::result::Result<BaseRef, String> {
    if s.chars().any(char::is_whitespace) {
        return Err("it contains whitespace".into());
    }
    if let Some(rest) = s.strip_prefix(super::docker_ref::DOCKER_PREFIX) {
        return super::docker_ref::parse(rest);
    }
    if let Some(rest) = s.strip_prefix("oci-layout:") {
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.is_empty() && !t.contains('/') => (p, Some(t.to_string())),
            _ => (rest, None),
        };
        if path.is_empty() {
            return Err("the layout path is empty".into());
        }
        return Ok(BaseRef::OciLayout {
            path: dir.join(path),
            tag,
        });
    }
    let catalog = s.strip_prefix("catalog:");
    let (name, version) = catalog
        .unwrap_or(s)
        .split_once(':')
        .ok_or("expected NAME:VERSION (the version is missing)")?;
    let name_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c));
    if !name_ok {
        return Err("the name must be lowercase letters, digits, `-`, `.` or `_`".into());
    }
    if version.is_empty() || version.contains(['/', ':']) {
        return Err("the version must be non-empty and contain no `/` or `:`".into());
    }
    if catalog.is_some() {
        return Ok(BaseRef::Catalog {
            name: name.to_string(),
            version: version.to_string(),
        });
    }
    Ok(BaseRef::Store {
        name: name.to_string(),
        version: version.to_string(),
    })
}

/// A file mode as an octal string (`"0644"`, `"755"`), at most `0o7777`.
pub fn mode(src: &Source, v: &Spanned<toml::Value>) -> Result<u32> {
    let hint = "write the mode as an octal string of 3 or 4 digits, e.g. mode = \"0644\"";
    let s = match v.get_ref() {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) => {
            return Err(src
                .error(
                    v.span(),
                    format!("mode must be a string, found the integer {i}"),
                )
                .with_hint(hint))
        }
        other => {
            return Err(src
                .error(
                    v.span(),
                    format!("mode must be an octal string, found a {}", other.type_str()),
                )
                .with_hint(hint))
        }
    };
    let digits_ok = (3..=4).contains(&s.len()) && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(s, 8) {
        Ok(m) if digits_ok && m <= 0o7777 => Ok(m),
        _ => Err(src
            .error(
                v.span(),
                format!("invalid mode {s:?}: expected octal digits 0-7, at most 7777"),
            )
            .with_hint(hint)),
    }
}

/// An absolute path in the image without `..`; returned normalized (no `.`, no `//`,
/// no trailing `/`), so two spellings of one path compare equal.
pub fn image_path(src: &Source, v: &Spanned<String>, what: &str) -> Result<String> {
    let s = v.get_ref();
    if !s.starts_with('/') {
        return Err(src
            .error(v.span(), format!("{what} {s:?} is not an absolute path"))
            .with_hint(format!(
                "paths in the image start with `/`, e.g. \"/{}\"",
                s.trim_start_matches("./")
            )));
    }
    if s.contains('\0') {
        return Err(src.error(v.span(), format!("{what} {s:?} contains a NUL byte")));
    }
    let mut parts = Vec::new();
    for part in s.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(src
                    .error(v.span(), format!("{what} {s:?} contains `..`"))
                    .with_hint(
                        "write the path without `..`; nothing may point outside the image root",
                    ))
            }
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// `YYYY-MM-DD`, a real calendar date. Accepts a string or a bare TOML local date.
pub fn date(src: &Source, v: &Spanned<toml::Value>) -> Result<String> {
    let hint = "write the date as \"YYYY-MM-DD\", e.g. end_of_support = \"2027-12-31\"";
    let s = match v.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
        other => {
            return Err(src
                .error(v.span(), format!("expected a date, found {other}"))
                .with_hint(hint))
        }
    };
    if is_real_date(&s) {
        Ok(s)
    } else {
        Err(src
            .error(
                v.span(),
                format!("invalid date {s:?}: not a real YYYY-MM-DD calendar date"),
            )
            .with_hint(hint))
    }
}

fn is_real_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// A disk size with a binary unit: `512MiB`, `2GiB`, `1 TiB`.
pub fn size(src: &Source, v: &Spanned<String>) -> Result<u64> {
    parse_size(v.get_ref()).ok_or_else(|| {
        src.error(v.span(), format!("invalid size {:?}", v.get_ref()))
            .with_hint("write a positive whole number with a unit KiB, MiB, GiB or TiB, e.g. size = \"2GiB\"")
    })
}

/// `boot = "bios+uefi" | "uefi" | "bios" | "none"`.
pub fn boot_mode(src: &Source, v: &Spanned<String>) -> Result<crate::disk::BootMode> {
    crate::disk::BootMode::parse(v.get_ref()).ok_or_else(|| {
        src.error(v.span(), format!("unknown boot mode {:?}", v.get_ref()))
            .with_hint("use boot = \"bios+uefi\" (the default with a kernel), \"uefi\", \"bios\" or \"none\"")
    })
}

/// Kernel parameters: each one word of the characters a kernel parameter uses, so none
/// can break out of the GRUB configuration line it is written into.
pub fn kernel_cmdline(src: &Source, v: &Spanned<Vec<Spanned<String>>>) -> Result<Vec<String>> {
    v.get_ref()
        .iter()
        .map(|p| {
            let s = p.get_ref();
            if !crate::disk::boot::config::is_plain_param(s) {
                return Err(src
                    .error(p.span(), format!("kernel parameter {s:?} is not one plain word"))
                    .with_hint("write one parameter per string, e.g. kernel_cmdline = [\"quiet\", \"net.ifnames=0\"]; letters, digits and ._,:=/+@%-~[] only"));
            }
            Ok(s.clone())
        })
        .collect()
}

pub(super) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let mult: u64 = match unit.trim_start() {
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    let n: u64 = n.parse().ok()?;
    n.checked_mul(mult).filter(|&b| b > 0)
}

/// `PORT` or `PORT/tcp|udp|sctp`, as the OCI image config's ExposedPorts keys.
pub fn port(src: &Source, v: &Spanned<String>) -> Result<String> {
    let s = v.get_ref();
    let (num, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let ok = matches!(num.parse::<u16>(), Ok(p) if p > 0 && num.bytes().all(|b| b.is_ascii_digit()))
        && matches!(proto, "tcp" | "udp" | "sctp");
    if !ok {
        return Err(src
            .error(v.span(), format!("invalid port {s:?}"))
            .with_hint(
                "write PORT/PROTO with a port 1-65535 and tcp, udp or sctp, e.g. \"8080/tcp\"",
            ));
    }
    Ok(format!("{num}/{proto}"))
}

/// A signal name (`SIGTERM`) or number.
pub fn signal(src: &Source, v: &Spanned<String>) -> Result<String> {
    let s = v.get_ref();
    let named = s.strip_prefix("SIG").is_some_and(|n| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+' || c == '-')
    });
    let numbered = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if named || numbered {
        Ok(s.clone())
    } else {
        Err(src
            .error(v.span(), format!("invalid stop signal {s:?}"))
            .with_hint("write a signal name like \"SIGTERM\" or a number"))
    }
}

/// `name` or `name=version`, with a Debian-style package name.
pub fn package(src: &Source, v: &Spanned<String>) -> Result<PackageSpec> {
    let s = v.get_ref();
    let (name, version) = match s.split_once('=') {
        Some((n, ver)) => (n, Some(ver)),
        None => (s.as_str(), None),
    };
    let name_ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let version_ok = version.is_none_or(|v| !v.is_empty() && !v.contains(char::is_whitespace));
    if !name_ok || !version_ok {
        return Err(src
            .error(v.span(), format!("invalid package {s:?}"))
            .with_hint("write \"NAME\" or \"NAME=VERSION\", e.g. \"ca-certificates=20230311\""));
    }
    Ok(PackageSpec {
        name: name.to_string(),
        version: version.map(str::to_string),
    })
}

/// A suite name: it becomes a file name under `contract-tests/`, so no path separators.
pub fn suite_name(src: &Source, v: &Spanned<String>) -> Result<String> {
    let s = v.get_ref();
    let ok = s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(src
            .error(v.span(), format!("invalid suite name {s:?}"))
            .with_hint(
            "name a suite by its file under contract-tests/ without `.toml`, e.g. \"posix-base\"",
        ));
    }
    Ok(s.clone())
}

/// A non-empty string without control characters (user names, env keys, labels).
pub fn plain(src: &Source, v: &Spanned<String>, what: &str) -> Result<String> {
    let s = v.get_ref();
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(src.error(
            v.span(),
            format!("{what} must be non-empty and without control characters"),
        ));
    }
    Ok(s.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        for good in ["2027-12-31", "2024-02-29", "2000-02-29"] {
            assert!(is_real_date(good), "{good}");
        }
        for bad in [
            "2027-02-30",
            "2023-02-29",
            "1900-02-29",
            "2027-13-01",
            "2027-1-01",
            "27-12-31",
            "2027-12-3x",
            "2027-00-10",
        ] {
            assert!(!is_real_date(bad), "{bad}");
        }
    }

    #[test]
    fn sizes_need_a_binary_unit() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("4KiB"), Some(4096));
        for bad in [
            "2",
            "2GB",
            "GiB",
            "0GiB",
            "-1GiB",
            "1.5GiB",
            "99999999999TiB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn base_refs_split_into_parts() {
        let dir = Path::new("/bp");
        assert_eq!(
            parse_base_ref("debian-minbase:12", dir),
            Ok(BaseRef::Store {
                name: "debian-minbase".into(),
                version: "12".into()
            })
        );
        assert_eq!(
            parse_base_ref("oci-layout:../bases/deb:12", dir),
            Ok(BaseRef::OciLayout {
                path: "/bp/../bases/deb".into(),
                tag: Some("12".into())
            })
        );
        assert_eq!(
            parse_base_ref("oci-layout:/srv/layout", dir),
            Ok(BaseRef::OciLayout {
                path: "/srv/layout".into(),
                tag: None
            })
        );
        assert_eq!(
            parse_base_ref("catalog:core-minimal:1.0.0", dir),
            Ok(BaseRef::Catalog {
                name: "core-minimal".into(),
                version: "1.0.0".into()
            })
        );
        assert!(parse_base_ref("debian-minbase", dir).is_err());
        assert!(parse_base_ref("Debian:12", dir).is_err());
        assert!(parse_base_ref("oci-layout:", dir).is_err());
    }

    #[test]
    fn docker_refs_split_into_host_repository_tag_and_digest() {
        let dir = Path::new("/bp");
        let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let docker = |host: &str, repo: &str, tag: Option<&str>, digest: Option<&str>| {
            Ok(BaseRef::Docker {
                host: host.into(),
                repository: repo.into(),
                tag: tag.map(Into::into),
                digest: digest.map(|d| d.parse().unwrap()),
            })
        };
        assert_eq!(
            parse_base_ref("docker://registry.example/debian:12", dir),
            docker("registry.example", "debian", Some("12"), None)
        );
        assert_eq!(
            parse_base_ref("docker://127.0.0.1:5000/vendor/debian:12", dir),
            docker("127.0.0.1:5000", "vendor/debian", Some("12"), None)
        );
        assert_eq!(
            parse_base_ref(&format!("docker://localhost/a/b-c__d.e@{d}"), dir),
            docker("localhost", "a/b-c__d.e", None, Some(d))
        );
        assert_eq!(
            parse_base_ref(&format!("docker://[::1]:5000/x:v1.0_rc-1@{d}"), dir),
            docker("[::1]:5000", "x", Some("v1.0_rc-1"), Some(d))
        );
        assert_eq!(
            parse_base_ref("docker://reg:5000/x:1", dir)
                .unwrap()
                .docker_name(),
            Some("reg:5000/x:1".to_string())
        );
        for bad in [
            "docker://debian:12",                  // no host: there is no default registry
            "docker://library/debian:12",          // a path, not a host
            "docker://registry.example/debian",    // neither tag nor digest
            "docker://registry.example/Debian:12", // uppercase repository
            "docker://registry.example/a//b:1",
            "docker://registry.example/a-:1",
            "docker://registry.example/a...b:1",
            "docker://registry.example/a___b:1",
            "docker://registry.example/debian:.12",
            "docker://registry.example/debian:",
            "docker://registry.example/debian@sha256:abc",
            "docker://registry.example/debian@md5:00",
            "docker://reg.example:0/x:1",
            "docker://reg.example:99999/x:1",
            "docker://reg.example:/x:1",
            "docker://-reg.example/x:1",
            "docker://[::zz]/x:1",
            "docker://reg.example/x:1 ",
            "docker:// reg.example/x:1",
            "docker://",
        ] {
            assert!(parse_base_ref(bad, dir).is_err(), "{bad}");
        }
        let long = format!("docker://r.example/{}:1", "a".repeat(250));
        assert!(parse_base_ref(&long, dir).is_err());
        let long_tag = format!("docker://r.example/a:{}", "t".repeat(129));
        assert!(parse_base_ref(&long_tag, dir).is_err());
        let why = parse_base_ref("docker://debian:12", dir).unwrap_err();
        assert!(why.contains("write the host explicitly"), "{why}");
        // `base import --registry` takes the same without `docker://`.
        assert_eq!(
            crate::blueprint::parse_docker_ref("reg.example/debian:12"),
            docker("reg.example", "debian", Some("12"), None)
        );
    }
}
