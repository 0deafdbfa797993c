//! A NoCloud seed volume for cloud-init: a small FAT file system labelled `cidata` that
//! holds `user-data` and `meta-data`, attached to the VM as a second drive. Made with
//! `mkfs.fat` and `mcopy` straight into an image file: no loop device, no mount, as root
//! or not. The caller makes it in a scratch directory that is removed after the run.

use crate::tool::{self, ToolError};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What cloud-init reads from the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// `user-data`: a `#cloud-config` document or a script.
    pub user_data: String,
    /// `instance-id`: cloud-init runs its once-per-instance modules for a new id.
    pub instance_id: String,
    pub local_hostname: String,
}

impl Seed {
    /// The `meta-data` document (YAML; both values are quoted as JSON strings, which
    /// YAML reads the same).
    pub fn meta_data(&self) -> String {
        format!(
            "instance-id: {}\nlocal-hostname: {}\n",
            serde_json::Value::from(self.instance_id.as_str()),
            serde_json::Value::from(self.local_hostname.as_str())
        )
    }

    /// Writes `seed.img` into `dir` and returns its path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let files = dir.join("seed-files");
        std::fs::create_dir_all(&files)?;
        std::fs::write(files.join("user-data"), &self.user_data)?;
        std::fs::write(files.join("meta-data"), self.meta_data())?;
        let img = dir.join("seed.img");
        let kib = size_kib(self.user_data.len() + self.meta_data().len());
        fat_tool(
            Command::new("mkfs.fat")
                .args(["-C", "-n", "cidata"])
                .arg(&img)
                .arg(kib.to_string()),
            "dosfstools",
        )?;
        fat_tool(
            Command::new("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .arg("-i")
                .arg(&img)
                .arg(files.join("user-data"))
                .arg(files.join("meta-data"))
                .arg("::/"),
            "mtools",
        )?;
        std::fs::remove_dir_all(&files)?;
        Ok(img)
    }
}

/// Room for the files and FAT's own structures: at least 1 MiB, then twice the data.
fn size_kib(data: usize) -> u64 {
    let kib = (data as u64).div_ceil(1024);
    (1024 + 2 * kib).next_multiple_of(64)
}

/// Runs a dosfstools/mtools program; a missing one is an environment error naming its
/// package.
fn fat_tool(cmd: &mut Command, package: &str) -> Result<()> {
    match tool::run(cmd) {
        Ok(_) => Ok(()),
        Err(ToolError::Missing { program, .. }) => Err(crate::error::environment(format!(
            "`{program}` is not installed; the cloud-init seed volume needs it (apt-get install {package})"
        ))),
        Err(e) => Err(e).context("making the cloud-init seed volume"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_data_quotes_its_values() {
        let s = Seed {
            user_data: "#cloud-config\n".into(),
            instance_id: "iid-corebuild-0123".into(),
            local_hostname: "core-vm".into(),
        };
        assert_eq!(
            s.meta_data(),
            "instance-id: \"iid-corebuild-0123\"\nlocal-hostname: \"core-vm\"\n"
        );
    }

    #[test]
    fn the_size_grows_with_the_data() {
        assert_eq!(size_kib(0), 1024);
        assert_eq!(size_kib(10 << 20), 1024 + 20480);
    }
}
