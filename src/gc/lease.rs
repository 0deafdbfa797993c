//! The store lease: `<store>/gc.lock`, flocked shared by every command that reads or
//! writes the store for as long as it runs, and exclusively by `gc`. A build's blobs are
//! unreachable until its tag is written; holding the lease keeps `gc` from collecting
//! them (and its scratch trees) mid-build.

use anyhow::{Context, Result};
use std::fs::{File, TryLockError};
use std::path::Path;

/// The lease file's name inside the store.
pub const LEASE_FILE: &str = "gc.lock";

/// A held lease; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct Lease {
    _file: File,
}

/// A shared lease for a command that writes into the store: the store directory and the
/// lease file are created when missing, so a first build is leased from its first blob.
pub fn for_writer(store: &Path) -> Result<Lease> {
    std::fs::create_dir_all(store)
        .with_context(|| format!("creating the store {}", store.display()))?;
    let file = open(store, true)?.expect("created when missing");
    file.lock_shared()
        .with_context(|| format!("taking the lease {}", lease_path(store).display()))?;
    Ok(Lease { _file: file })
}

/// A shared lease for a command that only reads: none when the store (or its lease file)
/// does not exist or cannot be opened (a read-only store): reading needs no lease to be
/// correct, only to see every tagged blob while `gc` runs, and gc never removes those.
pub fn for_reader(store: &Path) -> Option<Lease> {
    let file = open(store, false).ok().flatten()?;
    file.lock_shared().ok()?;
    Some(Lease { _file: file })
}

/// How `gc` takes the lease when another command holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Block until every holder is done; `notice` is called once before blocking.
    Block,
    /// Fail at once (exit 3).
    NoWait,
}

/// The exclusive lease `gc` holds while it decides and removes. `create` is false for a
/// dry run, which must change nothing: without a lease file nobody holds a lease.
pub fn exclusive(
    store: &Path,
    wait: Wait,
    create: bool,
    notice: impl FnOnce(),
) -> Result<Option<Lease>> {
    let Some(file) = open(store, create)? else {
        return Ok(None);
    };
    match file.try_lock() {
        Ok(()) => return Ok(Some(Lease { _file: file })),
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", lease_path(store).display()))
        }
        Err(TryLockError::WouldBlock) => {}
    }
    if wait == Wait::NoWait {
        return Err(crate::error::environment(format!(
            "the store {} is in use: another corebuild command (a build, test or release) \
             holds its lease ({}); rerun gc when it is done, or without --no-wait to wait for it",
            store.display(),
            lease_path(store).display()
        )));
    }
    notice();
    file.lock()
        .with_context(|| format!("waiting for the lease {}", lease_path(store).display()))?;
    Ok(Some(Lease { _file: file }))
}

fn lease_path(store: &Path) -> std::path::PathBuf {
    store.join(LEASE_FILE)
}

/// Opens the lease file: `Ok(None)` when it is missing and `create` is false.
fn open(store: &Path, create: bool) -> Result<Option<File>> {
    let path = lease_path(store);
    let opened = File::options()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .open(&path);
    match opened {
        Ok(f) => Ok(Some(f)),
        Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("opening the lease {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_share_and_gc_waits_for_them() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("store");
        let a = for_writer(&store).unwrap();
        let b = for_writer(&store).unwrap();
        let err = exclusive(&store, Wait::NoWait, true, || {}).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 3);
        assert!(format!("{err:#}").contains("is in use"), "{err:#}");
        drop(a);
        assert!(
            exclusive(&store, Wait::NoWait, true, || {}).is_err(),
            "b holds it"
        );
        drop(b);
        let held = exclusive(&store, Wait::NoWait, true, || {}).unwrap();
        assert!(held.is_some());
    }

    #[test]
    fn readers_need_no_lease_file_and_dry_runs_create_none() {
        let t = tempfile::tempdir().unwrap();
        assert!(for_reader(&t.path().join("missing")).is_none());
        assert!(exclusive(t.path(), Wait::NoWait, false, || {})
            .unwrap()
            .is_none());
        assert!(!t.path().join(LEASE_FILE).exists());
    }
}
