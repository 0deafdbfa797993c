//! The firmware a VM starts with. BIOS is qemu's default SeaBIOS and needs nothing. UEFI
//! is OVMF from Debian's `ovmf` package: its read-only code and a writable copy of its
//! variable store per run (UEFI writes boot entries there; a shared or packaged copy
//! must never change). Both files are the 4 MiB build: a 2 MiB VARS file with the 4 MiB
//! code does not start.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// OVMF's code and variable-store template (Debian `ovmf`, bookworm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub vars: PathBuf,
}

impl Default for Ovmf {
    fn default() -> Self {
        Ovmf {
            code: PathBuf::from("/usr/share/OVMF/OVMF_CODE_4M.fd"),
            vars: PathBuf::from("/usr/share/OVMF/OVMF_VARS_4M.fd"),
        }
    }
}

impl Ovmf {
    /// Copies the variable store into `dir` for one run and returns the copy's path. A
    /// missing file is an environment error naming the package.
    pub fn vars_copy(&self, dir: &Path) -> Result<PathBuf> {
        for f in [&self.code, &self.vars] {
            if !f.is_file() {
                return Err(crate::error::environment(format!(
                    "UEFI firmware {} is missing: install it (apt-get install ovmf)",
                    f.display()
                )));
            }
        }
        let copy = dir.join("OVMF_VARS.fd");
        std::fs::copy(&self.vars, &copy).with_context(|| {
            format!(
                "copying the UEFI variable store {} for this run",
                self.vars.display()
            )
        })?;
        Ok(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ovmf_names_the_package_and_a_present_one_is_copied() {
        let d = tempfile::tempdir().unwrap();
        let missing = Ovmf {
            code: d.path().join("nope.fd"),
            vars: d.path().join("nope-vars.fd"),
        };
        let e = missing.vars_copy(d.path()).unwrap_err();
        assert!(format!("{e:#}").contains("apt-get install ovmf"), "{e:#}");
        assert_eq!(crate::error::exit_code(&e), 3);

        std::fs::write(d.path().join("code.fd"), b"c").unwrap();
        std::fs::write(d.path().join("vars.fd"), b"v").unwrap();
        let o = Ovmf {
            code: d.path().join("code.fd"),
            vars: d.path().join("vars.fd"),
        };
        let run = tempfile::tempdir().unwrap();
        let copy = o.vars_copy(run.path()).unwrap();
        assert_eq!(std::fs::read(copy).unwrap(), b"v");
    }
}
