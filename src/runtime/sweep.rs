//! Cleaning up after processes that died without doing it themselves (SIGKILL, a
//! crash): their containers, bundles and overlay mounts, found through the owner
//! recorded in each (`dev.corebuild.owner`, the overlay mount source).

use super::overlay::{mountinfo, SOURCE_PREFIX};
use super::owner::Owner;
use super::runc::{from_name, ContainerState, OciRuntime, DEFAULT_BASE, OWNER_ANNOTATION};
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// What [`sweep_stale`] removed, and what it could not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    pub containers: Vec<String>,
    pub bundles: Vec<PathBuf>,
    pub mounts: Vec<PathBuf>,
    /// Failures; the sweep goes on past them.
    pub problems: Vec<String>,
}

/// Removes what processes that died without cleaning up (SIGKILL, a crash) left under
/// [`DEFAULT_BASE`]: their containers (for every runtime with a state dir there), their
/// bundles, and their overlay mounts (source `corebuild:<pid>:<start>`). Things owned by
/// live processes are left alone. Call it at the start of a build or test run.
pub fn sweep_stale() -> anyhow::Result<Sweep> {
    sweep_stale_in(Path::new(DEFAULT_BASE))
}

/// [`sweep_stale`] for another base directory.
pub fn sweep_stale_in(base: &Path) -> anyhow::Result<Sweep> {
    let mut sweep = Sweep::default();
    let mut live_ids = Vec::new();
    if base.exists() {
        let dirs =
            std::fs::read_dir(base).with_context(|| format!("reading {}", base.display()))?;
        for d in dirs {
            let d = d.with_context(|| format!("reading {}", base.display()))?;
            let name = d.file_name().to_string_lossy().into_owned();
            if name == "bundles" || !d.path().is_dir() {
                continue;
            }
            let rt = match from_name(&name) {
                Ok(rt) => rt.with_base(base),
                Err(e) => {
                    sweep.problems.push(format!("state of {name}: {e}"));
                    continue;
                }
            };
            sweep_containers(&rt, &mut sweep, &mut live_ids);
        }
        sweep_bundles(&base.join("bundles"), &live_ids, &mut sweep);
    }
    sweep_mounts(&mut sweep)?;
    Ok(sweep)
}

fn sweep_containers<R: OciRuntime + ?Sized>(rt: &R, sweep: &mut Sweep, live: &mut Vec<String>) {
    let list = match rt.list() {
        Ok(l) => l,
        Err(e) => {
            sweep
                .problems
                .push(format!("listing {} containers: {e:#}", rt.name()));
            return;
        }
    };
    for c in list {
        if owner_alive(&c) {
            live.push(c.id);
            continue;
        }
        match rt.delete(&c.id) {
            Ok(()) => sweep.containers.push(c.id),
            Err(e) => {
                sweep
                    .problems
                    .push(format!("deleting {} container {}: {e}", rt.name(), c.id))
            }
        }
    }
}

fn sweep_bundles(dir: &Path, live: &[String], sweep: &mut Sweep) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if live.contains(&id) {
            continue;
        }
        let owner = std::fs::read(e.path().join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<oci_spec::runtime::Spec>(&b).ok())
            .and_then(|s| s.annotations().as_ref()?.get(OWNER_ANNOTATION).cloned())
            .and_then(|o| Owner::parse(&o));
        let alive = match owner {
            Some(o) => o.is_alive(),
            // Being written right now by a live process, or garbage.
            None => pid_exists(&id),
        };
        if alive {
            continue;
        }
        match std::fs::remove_dir_all(e.path()) {
            Ok(()) => sweep.bundles.push(e.path()),
            Err(err) => sweep
                .problems
                .push(format!("removing {}: {err}", e.path().display())),
        }
    }
}

fn sweep_mounts(sweep: &mut Sweep) -> anyhow::Result<()> {
    let mut stale: Vec<PathBuf> = mountinfo()?
        .into_iter()
        .filter(|m| m.fstype == "overlay")
        .filter_map(|m| {
            let owner = Owner::parse(m.source.strip_prefix(SOURCE_PREFIX)?)?;
            (!owner.is_alive()).then_some(m.mount_point)
        })
        .collect();
    // Deepest first, so a mount inside another goes before its parent.
    stale.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    stale.dedup();
    for p in stale {
        match rustix::mount::unmount(&p, rustix::mount::UnmountFlags::DETACH) {
            Ok(()) => sweep.mounts.push(p),
            Err(e) => sweep
                .problems
                .push(format!("unmounting {}: {e}", p.display())),
        }
    }
    Ok(())
}

/// Whether the process owning `c` runs: from the annotation, else from the id's pid
/// (whose start time is unknown).
fn owner_alive(c: &ContainerState) -> bool {
    match c.annotations.as_ref().and_then(|a| a.get(OWNER_ANNOTATION)) {
        Some(o) => Owner::parse(o).is_some_and(|o| o.is_alive()),
        None => pid_exists(&c.id),
    }
}

/// Whether the pid in a `corebuild-<pid>-<n>` id is a running process.
fn pid_exists(id: &str) -> bool {
    pid_of_id(id).is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

fn pid_of_id(id: &str) -> Option<u32> {
    id.strip_prefix("corebuild-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_from_annotations_or_ids() {
        let list: Vec<ContainerState> = serde_json::from_str(
            r#"[{"ociVersion":"1.0.2-dev","id":"corebuild-1-0","pid":9739,"status":"running","bundle":"/b","rootfs":"/r","created":"2026-11-21T21:22:55Z","annotations":{"dev.corebuild.owner":"1:2"},"owner":"root"}]"#,
        )
        .unwrap();
        assert_eq!(list[0].id, "corebuild-1-0");
        assert_eq!(list[0].rootfs, "/r");
        assert!(!owner_alive(&list[0]));
        let mine = ContainerState {
            id: format!("corebuild-{}-3", std::process::id()),
            pid: 0,
            status: String::new(),
            annotations: None,
            rootfs: String::new(),
        };
        assert!(owner_alive(&mine));
        assert_eq!(pid_of_id("corebuild-42-7"), Some(42));
        assert_eq!(pid_of_id("other"), None);
    }
}
