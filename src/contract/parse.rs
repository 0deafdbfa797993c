//! Reading a suite file into a [`Suite`]: the raw TOML (unknown keys refused), then every
//! test checked for exactly one kind, options that belong to it, and valid regexes, modes,
//! durations and versions. Errors are `BlueprintError`s naming the file, line and column.

use super::raw::{options_of, RawMetadata, RawSuite, RawTest};
use super::schema::*;
use super::values;
use crate::blueprint::{display_path, BlueprintError, Source, SuiteRef};
use crate::debian::version::Constraint;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

type Result<T> = std::result::Result<T, BlueprintError>;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(120);
const KINDS: &str = "command, file, metadata, package, library, service or boot";

/// Reads and validates `contract-tests/<name>.toml`. The suite's `name` must match the
/// file name, as the blueprint's suite lookup requires.
pub fn load_suite(path: &Path) -> Result<Suite> {
    parse_source(&Source::read(path)?)
}

/// Validates suite text as if read from `path` (which only names it in errors).
pub fn parse_suite(path: &Path, text: &str) -> Result<Suite> {
    parse_source(&Source {
        path: path.to_path_buf(),
        text: text.to_string(),
    })
}

/// Loads the suite a blueprint resolved. The file is read again for its positions; if it
/// changed since the blueprint was loaded (another name or version) that is an error.
pub fn load_suite_ref(r: &SuiteRef) -> Result<Suite> {
    let suite = load_suite(&r.path)?;
    if suite.name != r.name || suite.version != r.version {
        return Err(BlueprintError::file(
            &r.path,
            format!(
                "suite changed while in use: the blueprint resolved {} {}, the file now says {} {}",
                r.name, r.version, suite.name, suite.version
            ),
        )
        .with_hint("load the blueprint again"));
    }
    Ok(suite)
}

/// Loads every suite a blueprint resolved, in its order.
pub fn load_suites(refs: &[SuiteRef]) -> Result<Vec<Suite>> {
    refs.iter().map(load_suite_ref).collect()
}

fn parse_source(src: &Source) -> Result<Suite> {
    let raw: RawSuite = src.parse()?;
    let name = raw.name.get_ref().clone();
    if let Some(stem) = src.path.file_stem().and_then(|s| s.to_str()) {
        if stem != name {
            return Err(src
                .error(
                    raw.name.span(),
                    format!(
                        "suite file {} declares name {name:?}",
                        display_path(&src.path)
                    ),
                )
                .with_hint("a suite's name must match its file name; rename one of them"));
        }
    }
    let version = raw.version.get_ref().parse().map_err(|e| {
        src.error(
            raw.version.span(),
            format!("invalid suite version {:?}: {e}", raw.version.get_ref()),
        )
        .with_hint("use a semantic version MAJOR.MINOR.PATCH, e.g. version = \"1.0.0\"")
    })?;
    if raw.test.is_empty() {
        return Err(BlueprintError::file(&src.path, "suite has no tests")
            .with_hint("add [[test]] tables; an empty suite would pass every image"));
    }
    let targets = super::parse_boot::targets(src, &raw)?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut tests = Vec::with_capacity(raw.test.len());
    for t in raw.test {
        let test = test(src, t)?;
        if let Some(first) = seen.insert(test.name.clone(), test.line) {
            return Err(BlueprintError::at(
                &src.path,
                test.line,
                1,
                format!(
                    "duplicate test name {:?} (first defined on line {first})",
                    test.name
                ),
            )
            .with_hint("test names identify results in reports; make each one unique"));
        }
        tests.push(test);
    }
    Ok(Suite {
        name,
        version,
        description: raw.description,
        path: src.path.clone(),
        targets,
        tests,
    })
}

fn test(src: &Source, t: RawTest) -> Result<TestCase> {
    let name = t.name.get_ref().clone();
    let name_span = t.name.span();
    let (line, _) = src.line_col(name_span.start);
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(src.error(
            name_span,
            "test name must be non-empty text without control characters",
        ));
    }
    let regression_for = match &t.regression_for {
        Some(r) if r.get_ref().trim().is_empty() || r.get_ref().contains(char::is_whitespace) => {
            return Err(src
                .error(
                    r.span(),
                    "regression_for must be a bug id such as \"BUG-123\"",
                )
                .with_hint("name the bug this test guards against, without spaces"))
        }
        r => r.as_ref().map(|r| r.get_ref().clone()),
    };
    let kinds = t.kinds();
    let kind = match kinds.as_slice() {
        [] => {
            return Err(src
                .error(name_span, format!("test {name:?} has no kind"))
                .with_hint(format!("give it exactly one of {KINDS}")))
        }
        [one] => one.0,
        [first, second, ..] => {
            let (l, _) = src.line_col(first.1.start);
            return Err(src
                .error(
                    second.1.clone(),
                    format!(
                        "test {name:?} has two kinds: `{}` (line {l}) and `{}`",
                        first.0, second.0
                    ),
                )
                .with_hint("a test checks one thing; split it into two tests"));
        }
    };
    for (key, span) in t.options() {
        if !options_of(kind).contains(&key) {
            let owners: Vec<&str> = ["command", "file", "package", "library", "service"]
                .into_iter()
                .filter(|k| options_of(k).contains(&key))
                .collect();
            return Err(src
                .error(
                    span,
                    format!("`{key}` does not apply to a {kind} test (test {name:?})"),
                )
                .with_hint(format!(
                    "`{key}` belongs to {} tests; a {kind} test takes {}",
                    owners.join(" and "),
                    match options_of(kind) {
                        [] => "no other keys".to_string(),
                        o => o.join(", "),
                    }
                )));
        }
    }
    let check = match kind {
        "command" => Check::Command(command(src, &t)?),
        "file" => Check::File(file(src, &t)?),
        "metadata" => Check::Metadata(metadata(src, t.metadata.as_ref().expect("kind"))?),
        "package" => Check::Package(package(src, &t)?),
        "library" => Check::Library(library(src, &t)?),
        "service" => Check::Service(service(src, &t)?),
        "boot" => {
            let b = t.boot.as_ref().expect("kind").get_ref();
            let expect = pat(src, &b.expect, true)?;
            let timeout = dur(src, b.timeout.as_ref(), DEFAULT_BOOT_TIMEOUT)?;
            Check::Boot(super::parse_boot::boot(src, b, expect, timeout)?)
        }
        _ => unreachable!("kinds() only returns known kinds"),
    };
    Ok(TestCase {
        name,
        regression_for,
        description: t.description,
        line,
        check,
    })
}

fn pat(src: &Source, s: &Spanned<String>, multi_line: bool) -> Result<Pattern> {
    values::pattern(s.get_ref(), multi_line).map_err(|e| src.error(s.span(), e))
}

fn opt_pat(src: &Source, s: Option<&Spanned<String>>) -> Result<Option<Pattern>> {
    s.map(|s| pat(src, s, true)).transpose()
}

fn dur(src: &Source, s: Option<&Spanned<String>>, default: Duration) -> Result<Duration> {
    match s {
        None => Ok(default),
        Some(s) => values::duration(s.get_ref()).map_err(|e| src.error(s.span(), e)),
    }
}

fn argv(src: &Source, a: &Spanned<Vec<String>>, key: &str) -> Result<Vec<String>> {
    if a.get_ref().first().is_none_or(String::is_empty) {
        return Err(src
            .error(a.span(), format!("`{key}` needs a program to run"))
            .with_hint(format!("e.g. {key} = [\"/bin/sh\", \"-c\", \"true\"]")));
    }
    Ok(a.get_ref().clone())
}

fn command(src: &Source, t: &RawTest) -> Result<CommandTest> {
    let argv = argv(src, t.command.as_ref().expect("kind"), "command")?;
    let exit = match &t.exit {
        None => 0,
        Some(e) => i32::try_from(*e.get_ref())
            .ok()
            .filter(|c| (0..=255).contains(c))
            .ok_or_else(|| src.error(e.span(), "exit must be a status from 0 to 255"))?,
    };
    if let Some(env) = &t.env {
        if let Some(k) = env
            .get_ref()
            .keys()
            .find(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
        {
            return Err(src.error(
                env.span(),
                format!("invalid environment variable name {k:?}"),
            ));
        }
    }
    Ok(CommandTest {
        spec: CommandSpec {
            argv,
            env: t
                .env
                .as_ref()
                .map(|e| e.get_ref().clone())
                .unwrap_or_default(),
            user: t.user.as_ref().map(|u| u.get_ref().clone()),
            timeout: dur(src, t.timeout.as_ref(), DEFAULT_TIMEOUT)?,
        },
        exit,
        stdout: opt_pat(src, t.stdout.as_ref())?,
        stderr: opt_pat(src, t.stderr.as_ref())?,
        stdout_excludes: opt_pat(src, t.stdout_excludes.as_ref())?,
    })
}

fn file(src: &Source, t: &RawTest) -> Result<FileTest> {
    let path = t.file.as_ref().expect("kind");
    if !path.get_ref().starts_with('/') || path.get_ref().contains('\0') {
        return Err(src.error(path.span(), "file must be an absolute path in the image"));
    }
    let exists = t.exists.as_ref().is_none_or(|e| *e.get_ref());
    if !exists {
        let others: Vec<(&str, Range<usize>)> = t
            .options()
            .into_iter()
            .filter(|(k, _)| *k != "exists")
            .collect();
        if let Some((k, span)) = others.first() {
            return Err(src
                .error(
                    span.clone(),
                    format!("`{k}` cannot be checked on a file that must not exist"),
                )
                .with_hint("remove it, or drop `exists = false`"));
        }
    }
    let file_type = t
        .file_type
        .as_ref()
        .map(|ft| match ft.get_ref().as_str() {
            "file" => Ok(FileType::File),
            "dir" => Ok(FileType::Dir),
            "symlink" => Ok(FileType::Symlink),
            other => Err(src
                .error(ft.span(), format!("unknown file type {other:?}"))
                .with_hint("use type = \"file\", \"dir\" or \"symlink\"")),
        })
        .transpose()?;
    let mode = t
        .mode
        .as_ref()
        .map(|m| match m.get_ref() {
            toml::Value::String(s) => values::mode(s).map_err(|e| src.error(m.span(), e)),
            _ => Err(src
                .error(m.span(), "mode must be a string of octal digits")
                .with_hint("quote it: mode = \"0644\"")),
        })
        .transpose()?;
    if let (Some(target), Some(ft)) = (&t.target, file_type) {
        if ft != FileType::Symlink {
            return Err(src.error(
                target.span(),
                format!(
                    "`target` is for symlinks, but this test says type = \"{}\"",
                    ft.as_str()
                ),
            ));
        }
    }
    let content_check = [&t.contains, &t.excludes, &t.sha256]
        .into_iter()
        .flatten()
        .next();
    if let Some(c) = content_check {
        if matches!(file_type, Some(FileType::Dir | FileType::Symlink)) || t.target.is_some() {
            return Err(src.error(
                c.span(),
                "content checks (contains, excludes, sha256) need a regular file, not a directory or the link itself",
            ));
        }
    }
    Ok(FileTest {
        path: path.get_ref().clone(),
        exists,
        file_type,
        mode,
        uid: t.uid.as_ref().map(|u| *u.get_ref()),
        gid: t.gid.as_ref().map(|g| *g.get_ref()),
        contains: opt_pat(src, t.contains.as_ref())?,
        excludes: opt_pat(src, t.excludes.as_ref())?,
        sha256: t
            .sha256
            .as_ref()
            .map(|s| values::sha256(s.get_ref()).map_err(|e| src.error(s.span(), e)))
            .transpose()?,
        target: t.target.as_ref().map(|s| s.get_ref().clone()),
    })
}

fn metadata(src: &Source, m: &Spanned<RawMetadata>) -> Result<MetadataTest> {
    let r = m.get_ref();
    let map =
        |table: &Option<BTreeMap<String, Spanned<String>>>| -> Result<BTreeMap<String, Pattern>> {
            table
                .iter()
                .flatten()
                .map(|(k, v)| Ok((k.clone(), pat(src, v, false)?)))
                .collect()
        };
    let test = MetadataTest {
        env: map(&r.env)?,
        entrypoint: r.entrypoint.clone(),
        cmd: r.cmd.clone(),
        user: r.user.clone(),
        workdir: r.workdir.clone(),
        labels: map(&r.labels)?,
        exposed_ports: r
            .exposed_ports
            .iter()
            .flatten()
            .map(|p| values::exposed_port(p.get_ref()).map_err(|e| src.error(p.span(), e)))
            .collect::<Result<_>>()?,
    };
    let checks_nothing = r.env.is_none()
        && r.entrypoint.is_none()
        && r.cmd.is_none()
        && r.user.is_none()
        && r.workdir.is_none()
        && r.labels.is_none()
        && r.exposed_ports.is_none();
    if checks_nothing {
        return Err(src
            .error(m.span(), "metadata test checks nothing")
            .with_hint("give one of env, entrypoint, cmd, user, workdir, labels, exposed_ports"));
    }
    Ok(test)
}

fn package(src: &Source, t: &RawTest) -> Result<PackageTest> {
    let name = t.package.as_ref().expect("kind");
    let (pkg, arch) = match name.get_ref().split_once(':') {
        Some((p, a)) => (p, Some(a)),
        None => (name.get_ref().as_str(), None),
    };
    let valid_pkg = pkg.len() >= 2
        && pkg.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && pkg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let valid_arch = arch
        .is_none_or(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !valid_pkg || !valid_arch {
        return Err(src.error(
            name.span(),
            format!(
                "{:?} is not a Debian package name (lowercase letters, digits, + - ., optionally :ARCH)",
                name.get_ref()
            ),
        ));
    }
    let absent = t.absent.as_ref().is_some_and(|a| *a.get_ref());
    let expect = match (&t.version, absent) {
        (Some(v), true) => {
            return Err(src
                .error(
                    v.span(),
                    "`version` cannot be checked on a package that must be absent",
                )
                .with_hint("remove `version` or `absent = true`"))
        }
        (Some(v), false) => {
            PackageExpect::Installed(Some(Constraint::parse(v.get_ref()).map_err(|e| {
                src.error(v.span(), e)
                    .with_hint("e.g. version = \">= 2.36\"; relations are >=, <=, >>, <<, =")
            })?))
        }
        (None, false) => PackageExpect::Installed(None),
        (None, true) => PackageExpect::Absent,
    };
    Ok(PackageTest {
        name: name.get_ref().clone(),
        expect,
    })
}

fn library(src: &Source, t: &RawTest) -> Result<LibraryTest> {
    let name = t.library.as_ref().expect("kind");
    let n = name.get_ref();
    if n.is_empty() || n.contains('/') || n == "." || n == ".." || n.contains('\0') {
        return Err(src
            .error(name.span(), format!("library {n:?} must be a file name such as \"libc.so.6\""))
            .with_hint("it is searched for in /lib, /usr/lib, /lib64, /usr/lib64 and the multiarch directories"));
    }
    let provides = t
        .provides
        .as_ref()
        .map(|p| {
            if p.get_ref().iter().any(|v| v.trim().is_empty()) {
                Err(src.error(
                    p.span(),
                    "provides lists version names such as \"GLIBC_2.34\"",
                ))
            } else {
                Ok(p.get_ref().clone())
            }
        })
        .transpose()?
        .unwrap_or_default();
    Ok(LibraryTest {
        name: n.clone(),
        provides,
    })
}

fn service(src: &Source, t: &RawTest) -> Result<ServiceTest> {
    let svc = t.service.as_ref().expect("kind");
    let argv = argv(src, svc, "service")?;
    if t.port.is_none() && t.http.is_none() {
        return Err(src
            .error(
                svc.span(),
                "a service test needs `port` and/or `http` to know when the service is ready",
            )
            .with_hint(
                "e.g. port = 8080, or http = \"/healthz\" (port 80 unless `port` says otherwise)",
            ));
    }
    if let Some(p) = &t.port {
        if *p.get_ref() == 0 {
            return Err(src.error(p.span(), "port must be from 1 to 65535"));
        }
    }
    if let Some(h) = &t.http {
        if !h.get_ref().starts_with('/')
            || h.get_ref()
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(src.error(
                h.span(),
                "http must be a request path starting with '/', without spaces",
            ));
        }
    }
    let status = match (&t.status, &t.http) {
        (Some(s), None) => {
            return Err(src
                .error(
                    s.span(),
                    "`status` needs `http`: only an HTTP probe has a status",
                )
                .with_hint("add http = \"/path\" or remove `status`"))
        }
        (Some(s), Some(_)) if !(100..=599).contains(s.get_ref()) => {
            return Err(src.error(s.span(), "status must be an HTTP status from 100 to 599"))
        }
        (Some(s), Some(_)) => *s.get_ref(),
        (None, _) => 200,
    };
    Ok(ServiceTest {
        spec: ServiceSpec {
            argv,
            port: t.port.as_ref().map_or(80, |p| *p.get_ref()),
            http: t.http.as_ref().map(|h| h.get_ref().clone()),
            ready_timeout: dur(src, t.ready_timeout.as_ref(), DEFAULT_READY_TIMEOUT)?,
        },
        status,
    })
}
