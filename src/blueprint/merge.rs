//! Merges the units of a blueprint (fragments in include order, the blueprint last) and
//! finds conflicts between fragments.
//!
//! Layers and changes append; `exposed_ports` and suites are unions in first-seen order;
//! every other config key is one value. Two fragments that give one config key, or one
//! file `dest`, different definitions are a conflict naming both places, unless the
//! blueprint itself sets that key or dest: then the blueprint's value wins (its layers
//! come last, so its file is the one left in the image).

use super::error::BlueprintError;
use super::model::{AptSource, Change, ConfigSpec, FileSpec, Layer};
use super::unit::{ConfigKey, ConfigValue, Placed, Unit};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, BlueprintError>;

#[derive(Debug)]
pub struct Merged {
    pub layers: Vec<Layer>,
    pub config: ConfigSpec,
    pub suites: Vec<Placed<String>>,
    pub changes: Vec<Change>,
    pub apt_sources: Vec<AptSource>,
}

pub fn merge(units: Vec<Unit>, blueprint: &Path) -> Result<Merged> {
    check_files(&units, blueprint)?;
    let config = merge_config(&units, blueprint)?;
    let mut merged = Merged {
        layers: Vec::new(),
        config,
        suites: Vec::new(),
        changes: Vec::new(),
        apt_sources: Vec::new(),
    };
    let mut suites = HashSet::new();
    for unit in units {
        for s in unit.apt_sources {
            add_source(&mut merged.apt_sources, s)?;
        }
        merged.layers.extend(unit.layers);
        merged.changes.extend(unit.changes);
        for port in unit.ports {
            if !merged.config.exposed_ports.contains(&port) {
                merged.config.exposed_ports.push(port);
            }
        }
        for s in unit.suites {
            if suites.insert(s.value.clone()) {
                merged.suites.push(s);
            }
        }
    }
    Ok(merged)
}

/// Adds an apt source unless the same one is there; one URI and suite declared twice
/// with different components or keys is a conflict naming both places.
fn add_source(sources: &mut Vec<AptSource>, s: AptSource) -> Result<()> {
    match sources
        .iter()
        .find(|o| o.uri == s.uri && o.suite == s.suite)
    {
        None => sources.push(s),
        Some(o) if o.components == s.components && o.key_sha256 == s.key_sha256 => {}
        Some(o) => {
            return Err(BlueprintError::at(
                &s.declared_in,
                s.line,
                s.column,
                format!(
                "apt source {} {} is also declared at {}:{} with other components or another key",
                s.uri,
                s.suite,
                super::error::display_path(&o.declared_in),
                o.line
            ),
            )
            .with_hint("declare each source once, in the blueprint or in one fragment"))
        }
    }
    Ok(())
}

fn merge_config(units: &[Unit], blueprint: &Path) -> Result<ConfigSpec> {
    let mut by_key: BTreeMap<&ConfigKey, Vec<(&Placed<ConfigValue>, bool)>> = BTreeMap::new();
    for unit in units {
        for (key, placed) in &unit.config {
            by_key
                .entry(key)
                .or_default()
                .push((placed, unit.from_blueprint));
        }
    }
    let mut cfg = ConfigSpec::default();
    for (key, settings) in by_key {
        let chosen = match settings.iter().find(|(_, from_bp)| *from_bp) {
            Some((bp, _)) => &bp.value,
            None => {
                let (first, _) = settings[0];
                if let Some((other, _)) = settings.iter().find(|(s, _)| s.value != first.value) {
                    return Err(conflict(
                        &key.to_string(),
                        (first, &first.value.to_string()),
                        (other, &other.value.to_string()),
                        &format!("set {key}"),
                        blueprint,
                    ));
                }
                &first.value
            }
        };
        apply(&mut cfg, key, chosen.clone());
    }
    Ok(cfg)
}

fn apply(cfg: &mut ConfigSpec, key: &ConfigKey, value: ConfigValue) {
    match (key, value) {
        (ConfigKey::Env(k), ConfigValue::Str(v)) => {
            cfg.env.insert(k.clone(), v);
        }
        (ConfigKey::Label(k), ConfigValue::Str(v)) => {
            cfg.labels.insert(k.clone(), v);
        }
        (ConfigKey::Entrypoint, ConfigValue::List(v)) => cfg.entrypoint = Some(v),
        (ConfigKey::Cmd, ConfigValue::List(v)) => cfg.cmd = Some(v),
        (ConfigKey::User, ConfigValue::Str(v)) => cfg.user = Some(v),
        (ConfigKey::Workdir, ConfigValue::Str(v)) => cfg.workdir = Some(v),
        (ConfigKey::StopSignal, ConfigValue::Str(v)) => cfg.stop_signal = Some(v),
        (key, value) => unreachable!("unit.rs pairs {key} with a {value:?}"),
    }
}

/// The error for two fragments that disagree. It is placed at the second one and names both.
/// `decide` says what the blueprint would have to set to settle it.
fn conflict<T>(
    what: &str,
    (first, first_def): (&Placed<T>, &str),
    (second, second_def): (&Placed<T>, &str),
    decide: &str,
    blueprint: &Path,
) -> BlueprintError {
    second
        .origin
        .error(format!(
            "fragments conflict on {what}: {} sets {second_def}, but {} sets {first_def}",
            second.origin, first.origin
        ))
        .with_hint(format!(
            "make the fragments agree, or {decide} in the blueprint ({}) to decide which wins",
            super::error::display_path(blueprint)
        ))
}

/// Two fragments may copy to one `dest` only with the same definition: same content,
/// mode, uid and gid. Entries from one file may overwrite each other: that file's owner
/// chose it.
fn check_files(units: &[Unit], blueprint: &Path) -> Result<()> {
    let decided: HashSet<&str> = units
        .iter()
        .filter(|u| u.from_blueprint)
        .flat_map(|u| u.files.iter().map(|f| f.value.dest.as_str()))
        .collect();
    let mut first_by_dest: HashMap<&str, (&PathBuf, &Placed<FileSpec>)> = HashMap::new();
    let mut content = ContentCache::default();
    for unit in units.iter().filter(|u| !u.from_blueprint) {
        for f in &unit.files {
            let dest = f.value.dest.as_str();
            if decided.contains(dest) {
                continue;
            }
            let Some((first_file, first)) = first_by_dest.get(dest).copied() else {
                first_by_dest.insert(dest, (&unit.file, f));
                continue;
            };
            if *first_file == unit.file || same_definition(&first.value, &f.value, &mut content)? {
                continue;
            }
            return Err(conflict(
                &format!("the file at dest {dest:?}"),
                (first, &describe(&first.value)),
                (f, &describe(&f.value)),
                &format!("add a files entry with dest {dest:?}"),
                blueprint,
            ));
        }
    }
    Ok(())
}

fn describe(f: &FileSpec) -> String {
    let mode = f.mode.map_or("unset".to_string(), |m| format!("{m:04o}"));
    format!(
        "src {} (mode {mode}, uid {}, gid {})",
        super::error::display_path(&f.src),
        f.uid,
        f.gid
    )
}

fn same_definition(a: &FileSpec, b: &FileSpec, content: &mut ContentCache) -> Result<bool> {
    if (a.mode, a.uid, a.gid) != (b.mode, b.uid, b.gid) {
        return Ok(false);
    }
    if a.src == b.src {
        return Ok(true);
    }
    Ok(content.get(&a.src)? == content.get(&b.src)?)
}

/// A hash of what a `src` would put in the image: file bytes, or for a directory every
/// entry's relative path, type, permission bits and content or link target.
#[derive(Default)]
struct ContentCache(HashMap<PathBuf, [u8; 32]>);

impl ContentCache {
    fn get(&mut self, src: &Path) -> Result<[u8; 32]> {
        if let Some(h) = self.0.get(src) {
            return Ok(*h);
        }
        let h = hash_tree(src).map_err(|e| {
            BlueprintError::file(src, format!("cannot read src to compare it: {e}"))
        })?;
        self.0.insert(src.to_path_buf(), h);
        Ok(h)
    }
}

fn hash_tree(root: &Path) -> std::io::Result<[u8; 32]> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut h = Sha256::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_root_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(std::io::Error::from)?;
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let meta = entry.metadata().map_err(std::io::Error::from)?;
        h.update(rel.as_os_str().as_encoded_bytes());
        h.update([0]);
        h.update(meta.permissions().mode().to_le_bytes());
        if entry.file_type().is_symlink() {
            h.update(b"l");
            h.update(
                std::fs::read_link(entry.path())?
                    .as_os_str()
                    .as_encoded_bytes(),
            );
        } else if entry.file_type().is_file() {
            h.update(b"f");
            h.update(meta.len().to_le_bytes());
            let mut file = std::fs::File::open(entry.path())?;
            let mut buf = [0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        } else {
            h.update(b"d");
        }
        h.update([0]);
    }
    Ok(h.finalize().into())
}
