//! Puts `/boot/grub/grub.cfg` into the root file system after `mke2fs -d` made it: the
//! configuration names the disk's own partition GUID, so it cannot be in the image, and
//! the flattened image is not ours to change (it may be the contract runner's cache).
//! `debugfs -w` writes it, with `E2FSPROGS_FAKE_TIME` so every time it records is the
//! image epoch (checked: two runs seconds apart give identical bytes); ownership and mode
//! are set explicitly, whoever runs it.

use crate::contract::rootfs::RootFs;
use crate::tool;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

/// Where the configuration goes in the image.
pub const GRUB_CFG: &str = "/boot/grub/grub.cfg";

/// Writes `text` as /boot/grub/grub.cfg into the ext4 file system at `offset` of `disk`.
/// `rootfs` (the tree the file system was made from) tells what is there already: /boot
/// must be a directory, /boot/grub a directory or absent, and an existing grub.cfg a
/// regular file (it is replaced).
pub fn write_grub_cfg(
    disk: &Path,
    offset: u64,
    rootfs: &Path,
    text: &str,
    epoch: u64,
    scratch: &Path,
) -> Result<()> {
    let plan = plan(rootfs)?;
    let src = scratch.join("grub.cfg");
    std::fs::write(&src, text)?;
    let mut cmds = String::new();
    if !plan.has_dir {
        cmds.push_str("mkdir /boot/grub\nsif /boot/grub uid 0\nsif /boot/grub gid 0\n");
        cmds.push_str("sif /boot/grub mode 040755\n");
    }
    if plan.has_file {
        cmds.push_str(&format!("rm {GRUB_CFG}\n"));
    }
    cmds.push_str(&format!(
        "write {} {GRUB_CFG}\nsif {GRUB_CFG} uid 0\nsif {GRUB_CFG} gid 0\nsif {GRUB_CFG} mode 0100644\n",
        src.display()
    ));
    let script = scratch.join("debugfs.cmds");
    std::fs::write(&script, cmds)?;
    let out = tool::run(
        Command::new("debugfs")
            .env("E2FSPROGS_FAKE_TIME", epoch.max(1).to_string())
            .arg("-w")
            .arg("-f")
            .arg(&script)
            .arg(format!("{}?offset={offset}", disk.display())),
    )
    .context("writing /boot/grub/grub.cfg into the root file system")?;
    // debugfs reports a failed request on stderr and still exits 0.
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(line) = stderr.lines().find(|l| {
        l.contains(": ") && !l.starts_with("debugfs ") && !l.starts_with("Allocated inode")
    }) {
        anyhow::bail!("debugfs could not write {GRUB_CFG}: {line}");
    }
    Ok(())
}

struct Plan {
    has_dir: bool,
    has_file: bool,
}

/// What the image has at /boot/grub, looked at without following links.
fn plan(rootfs: &Path) -> Result<Plan> {
    let fs = RootFs::new(rootfs);
    let kind =
        |p: &str| -> Result<Option<std::fs::Metadata>> { Ok(fs.lookup(p, false)?.map(|f| f.meta)) };
    let bad = |what: &str| {
        crate::error::input(format!(
            "the image's {what}: a bootable disk needs /boot/grub to be a plain directory \
             (or absent) and {GRUB_CFG} a regular file (or absent)"
        ))
    };
    match kind("/boot")? {
        Some(m) if m.is_dir() => {}
        _ => return Err(bad("/boot is not a directory")),
    }
    let has_dir = match kind("/boot/grub")? {
        None => false,
        Some(m) if m.is_dir() => true,
        Some(_) => return Err(bad("/boot/grub is not a directory")),
    };
    let has_file = match kind(GRUB_CFG)? {
        None => false,
        Some(m) if m.is_file() => true,
        Some(_) => return Err(bad("/boot/grub/grub.cfg is not a regular file")),
    };
    Ok(Plan { has_dir, has_file })
}
