//! Resolves the parts one file contributes (its layers, config, suites, changes) into
//! checked values that still remember where each came from, for the merge step.

use super::check;
use super::error::{BlueprintError, Origin, Source};
use super::model::{AptSource, Change, FileSpec, Layer, PackagesSpec, RunSpec};
use super::raw::{RawConfig, RawFile, RawLayer, RawParts};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

type Result<T> = std::result::Result<T, BlueprintError>;

/// A value and the place in a file that set it.
#[derive(Debug, Clone)]
pub struct Placed<T> {
    pub value: T,
    pub origin: Origin,
}

/// One image-config key, at the granularity at which fragments may conflict.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConfigKey {
    Env(String),
    Label(String),
    Entrypoint,
    Cmd,
    User,
    Workdir,
    StopSignal,
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigKey::Env(k) => write!(f, "[config] env.{k}"),
            ConfigKey::Label(k) => write!(f, "[config] labels.{k:?}"),
            ConfigKey::Entrypoint => f.write_str("[config] entrypoint"),
            ConfigKey::Cmd => f.write_str("[config] cmd"),
            ConfigKey::User => f.write_str("[config] user"),
            ConfigKey::Workdir => f.write_str("[config] workdir"),
            ConfigKey::StopSignal => f.write_str("[config] stop_signal"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Str(String),
    List(Vec<String>),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Str(s) => write!(f, "{s:?}"),
            ConfigValue::List(l) => write!(f, "{l:?}"),
        }
    }
}

/// Everything one file (the blueprint or a fragment) contributes.
#[derive(Debug)]
pub struct Unit {
    pub file: PathBuf,
    pub from_blueprint: bool,
    pub layers: Vec<Layer>,
    /// Every `files` entry of `layers`, placed at its `dest`.
    pub files: Vec<Placed<FileSpec>>,
    pub config: Vec<(ConfigKey, Placed<ConfigValue>)>,
    pub ports: Vec<String>,
    pub suites: Vec<Placed<String>>,
    pub changes: Vec<Change>,
    pub apt_sources: Vec<AptSource>,
}

pub fn resolve(src: &Source, parts: RawParts, from_blueprint: bool) -> Result<Unit> {
    let dir = src
        .path
        .parent()
        .expect("a loaded file has a parent directory");
    let mut unit = Unit {
        file: src.path.clone(),
        from_blueprint,
        layers: Vec::new(),
        files: Vec::new(),
        config: Vec::new(),
        ports: Vec::new(),
        suites: Vec::new(),
        changes: Vec::new(),
        apt_sources: Vec::new(),
    };
    for raw in parts.apt.map(|a| a.source).unwrap_or_default() {
        unit.apt_sources.push(super::apt::source(src, dir, raw)?);
    }
    for raw in parts.layer {
        let layer = layer(src, dir, raw, &mut unit.files)?;
        unit.layers.push(layer);
    }
    if let Some(cfg) = parts.config {
        config(src, cfg, &mut unit)?;
    }
    for s in parts.contract.map(|c| c.suites).unwrap_or_default() {
        unit.suites.push(Placed {
            value: check::suite_name(src, &s)?,
            origin: src.origin(&s.span()),
        });
    }
    for c in parts.change {
        if c.summary.get_ref().trim().is_empty() {
            return Err(src
                .error(c.summary.span(), "change summary is empty")
                .with_hint("say in one line what changed, for the release notes"));
        }
        unit.changes.push(Change {
            kind: c.kind,
            id: c.id.filter(|id| !id.is_empty()),
            summary: c.summary.into_inner(),
        });
    }
    Ok(unit)
}

fn layer(
    src: &Source,
    dir: &Path,
    raw: Spanned<RawLayer>,
    placed: &mut Vec<Placed<FileSpec>>,
) -> Result<Layer> {
    let span = raw.span();
    let l = raw.into_inner();
    let mut kinds: Vec<(&str, Range<usize>)> = Vec::new();
    if let Some(v) = &l.files {
        kinds.push(("files", v.span()));
    }
    if let Some(v) = &l.packages {
        kinds.push(("packages", v.span()));
    }
    if let Some(v) = &l.run {
        kinds.push(("run", v.span()));
    }
    match kinds.as_slice() {
        [] => return Err(src
            .error(
                span,
                "this [[layer]] has none of `files`, `packages` or `run`",
            )
            .with_hint(
                "give each [[layer]] exactly one of files = [...], packages = [...] or run = [...]",
            )),
        [_] => {}
        [(first, first_span), (second, second_span), ..] => {
            let (first_line, _) = src.line_col(first_span.start);
            return Err(src
                .error(
                    second_span.clone(),
                    format!(
                        "this [[layer]] has both `{first}` (line {first_line}) and `{second}`; \
                         a layer must have exactly one of files, packages or run"
                    ),
                )
                .with_hint("split it into two [[layer]] tables, one for each kind"));
        }
    }
    if l.run.is_none() {
        let run_only = [
            ("env", l.env.as_ref().map(|v| v.span())),
            ("user", l.user.as_ref().map(|v| v.span())),
            ("workdir", l.workdir.as_ref().map(|v| v.span())),
            ("network", l.network.as_ref().map(|v| v.span())),
        ];
        if let Some((key, Some(span))) = run_only.into_iter().find(|(_, s)| s.is_some()) {
            return Err(src
                .error(span, format!("`{key}` only applies to a `run` layer"))
                .with_hint(format!(
                    "move `{key}` to the [[layer]] with run = [...] it is meant for, or remove it"
                )));
        }
    }
    if let (Some(u), None) = (&l.upgrade, &l.packages) {
        return Err(src
            .error(u.span(), "`upgrade` only applies to a `packages` layer")
            .with_hint(
                "write packages = [] beside upgrade = true for a layer that only upgrades",
            ));
    }
    let upgrade = l.upgrade.as_ref().is_some_and(|u| *u.get_ref());
    let empty = match (&l.files, &l.packages) {
        (Some(f), _) if f.get_ref().is_empty() => Some(("files", f.span())),
        (_, Some(p)) if p.get_ref().is_empty() && !upgrade => Some(("packages", p.span())),
        _ => None,
    };
    if let Some((key, span)) = empty {
        return Err(src
            .error(
                span,
                format!("`{key}` is empty; an empty layer adds nothing"),
            )
            .with_hint(format!(
                "list at least one entry in `{key}`, or remove this [[layer]]"
            )));
    }
    if let Some(files) = l.files {
        let mut specs = Vec::new();
        for f in files.into_inner() {
            let (spec, origin) = file(src, dir, f.into_inner())?;
            placed.push(Placed {
                value: spec.clone(),
                origin,
            });
            specs.push(spec);
        }
        return Ok(Layer::Files(specs));
    }
    if let Some(pkgs) = l.packages {
        let specs = pkgs
            .get_ref()
            .iter()
            .map(|p| check::package(src, p))
            .collect::<Result<Vec<_>>>()?;
        return Ok(Layer::Packages(PackagesSpec {
            packages: specs,
            upgrade,
        }));
    }
    let run = l.run.expect("exactly one kind is present");
    if run.get_ref().first().is_none_or(|p| p.is_empty()) {
        return Err(src
            .error(
                run.span(),
                "`run` needs a command: its first element is the program",
            )
            .with_hint("write run = [\"/bin/sh\", \"-c\", \"...\"]"));
    }
    let mut env = BTreeMap::new();
    if let Some(e) = l.env {
        let span = e.span();
        for (k, v) in e.into_inner() {
            env_key(src, span.clone(), &k)?;
            env.insert(k, v);
        }
    }
    Ok(Layer::Run(RunSpec {
        argv: run.into_inner(),
        env,
        user: l.user.map(|u| check::plain(src, &u, "user")).transpose()?,
        workdir: l
            .workdir
            .map(|w| check::image_path(src, &w, "workdir"))
            .transpose()?,
        network: l.network.is_some_and(|n| *n.get_ref()),
    }))
}

fn file(src: &Source, dir: &Path, f: RawFile) -> Result<(FileSpec, Origin)> {
    let rel = f.src.get_ref();
    let joined = dir.join(rel);
    let found = if rel.is_empty() {
        Err(std::io::ErrorKind::NotFound.into())
    } else {
        std::fs::metadata(&joined).and_then(|_| absolute_src(&joined))
    };
    let abs = found.map_err(|e| {
        src.error(
            f.src.span(),
            format!(
                "src {rel:?} not found: {} ({})",
                joined.display(),
                e.kind()
            ),
        )
        .with_hint(format!(
            "src paths are relative to the file that declares them ({}); create the file or fix the path",
            super::error::display_path(dir)
        ))
    })?;
    let dest = check::image_path(src, &f.dest, "dest")?;
    let mode = f.mode.as_ref().map(|m| check::mode(src, m)).transpose()?;
    Ok((
        FileSpec {
            src: abs,
            dest,
            mode,
            uid: f.uid,
            gid: f.gid,
        },
        src.origin(&f.dest.span()),
    ))
}

/// The directory part made canonical, the last component kept as written (so a `src`
/// that is a symlink stays that symlink, and the path does not depend on the checkout).
fn absolute_src(joined: &Path) -> std::io::Result<PathBuf> {
    match (joined.parent(), joined.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
            Ok(parent.canonicalize()?.join(name))
        }
        _ => joined.canonicalize(),
    }
}

fn env_key(src: &Source, span: Range<usize>, key: &str) -> Result<()> {
    if key.is_empty() || key.contains('=') || key.chars().any(char::is_control) {
        return Err(src
            .error(span, format!("invalid environment variable name {key:?}"))
            .with_hint("names are non-empty and contain no `=`"));
    }
    Ok(())
}

fn config(src: &Source, cfg: RawConfig, unit: &mut Unit) -> Result<()> {
    let mut set = |key: ConfigKey, value: ConfigValue, span: Range<usize>| {
        unit.config.push((
            key,
            Placed {
                value,
                origin: src.origin(&span),
            },
        ));
    };
    for (k, v) in cfg.env {
        env_key(src, v.span(), &k)?;
        set(
            ConfigKey::Env(k),
            ConfigValue::Str(v.get_ref().clone()),
            v.span(),
        );
    }
    for (k, v) in cfg.labels {
        if k.is_empty() {
            return Err(src.error(v.span(), "label keys must be non-empty"));
        }
        set(
            ConfigKey::Label(k),
            ConfigValue::Str(v.get_ref().clone()),
            v.span(),
        );
    }
    for (key, v) in [
        (ConfigKey::Entrypoint, cfg.entrypoint),
        (ConfigKey::Cmd, cfg.cmd),
    ] {
        if let Some(v) = v {
            set(key, ConfigValue::List(v.get_ref().clone()), v.span());
        }
    }
    if let Some(v) = cfg.user {
        set(
            ConfigKey::User,
            ConfigValue::Str(check::plain(src, &v, "user")?),
            v.span(),
        );
    }
    if let Some(v) = cfg.workdir {
        let w = check::image_path(src, &v, "workdir")?;
        set(ConfigKey::Workdir, ConfigValue::Str(w), v.span());
    }
    if let Some(v) = cfg.stop_signal {
        set(
            ConfigKey::StopSignal,
            ConfigValue::Str(check::signal(src, &v)?),
            v.span(),
        );
    }
    for p in cfg.exposed_ports {
        unit.ports.push(check::port(src, &p)?);
    }
    Ok(())
}
