//! The root file system: `mke2fs -d` builds ext4 from the flattened rootfs straight into
//! the partition of the raw disk (`-E offset=`), with every input that could vary pinned
//! (its configuration file, UUID, hash seed, label, time), and then [`reset_times`]
//! rewrites the inode times it copied from the host.
//!
//! Why a pass after mke2fs: `mke2fs -d` copies each source file's atime and ctime into
//! the inode. The atime could be set on the staging tree, but the ctime is the moment the
//! file was unpacked, which no one can choose. The pass walks the inode tables of the
//! new file system, sets atime, ctime and crtime of every used inode to the image's
//! epoch, clamps mtimes to it (the image's mtimes are never later; a later one is the
//! clock of the flatten, on a directory a later layer added to), and recomputes the
//! inode checksums.
//! That is one sequential read of the inode tables and a write of the inodes it changes,
//! instead of one debugfs `sif` command per field and inode.

use super::crc32c;
use super::ids::DiskIds;
use crate::tool;
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

/// The mke2fs configuration we run with, instead of the host's `/etc/mke2fs.conf`, so
/// that a host edit cannot change our bytes. The ext4 feature set is Debian 12's default
/// (no `orphan_file`, no `metadata_csum_seed`: older kernels and GRUB read the result).
/// The same block size and inode ratio for every size (no `small`/`floppy` types).
pub const MKE2FS_CONF: &str = "[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
	reserved_ratio = 5.0
	lazy_itable_init = false
	lazy_journal_init = false

[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
";

pub const BLOCK_SIZE: u64 = 4096;
pub const INODE_SIZE: u64 = 256;

/// One `mke2fs -d` run.
pub struct Mkfs<'a> {
    /// The flattened image.
    pub rootfs: &'a Path,
    /// The raw disk file; the file system goes at `offset`, `size` bytes long.
    pub disk: &'a Path,
    pub offset: u64,
    pub size: u64,
    pub ids: &'a DiskIds,
    /// Seconds since the epoch for every time the file system itself records.
    pub epoch: u64,
    /// Inodes to create.
    pub inodes: u64,
    /// A scratch directory for the configuration file.
    pub scratch: &'a Path,
}

impl Mkfs<'_> {
    pub fn command(&self) -> Result<Command> {
        let conf = self.scratch.join("mke2fs.conf");
        std::fs::write(&conf, MKE2FS_CONF)?;
        let mut c = Command::new("mke2fs");
        c.env("MKE2FS_CONFIG", &conf)
            .env("E2FSPROGS_FAKE_TIME", self.epoch.to_string())
            .env_remove("MKE2FS_DEVICE_SECTSIZE")
            .env_remove("MKE2FS_DEVICE_PHYS_SECTSIZE")
            .env_remove("MKE2FS_SYNC")
            .env_remove("MKE2FS_FIRST_META_BG")
            .args(["-q", "-F", "-t", "ext4", "-T", "ext4"])
            .arg("-b")
            .arg(BLOCK_SIZE.to_string())
            .arg("-I")
            .arg(INODE_SIZE.to_string())
            .arg("-N")
            .arg(self.inodes.to_string())
            .arg("-U")
            .arg(self.ids.filesystem_uuid.to_string())
            .arg("-L")
            .arg(&self.ids.label)
            .arg("-E")
            .arg(format!(
                "hash_seed={},root_owner=0:0,nodiscard,assume_storage_prezeroed=1,offset={}",
                self.ids.hash_seed, self.offset
            ))
            .arg("-d")
            .arg(self.rootfs)
            .arg(self.disk)
            .arg(format!("{}k", self.size / 1024));
        Ok(c)
    }

    /// Runs mke2fs. A failure for lack of space comes back as [`NoSpace`].
    pub fn run(&self) -> Result<()> {
        let out = tool::output(&mut self.command()?)?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if is_no_space(&stderr) {
            return Err(NoSpace {
                stderr: tail(&stderr),
            }
            .into());
        }
        Err(tool::run(&mut self.command()?)
            .err()
            .map(anyhow::Error::from)
            .unwrap_or_else(|| anyhow::anyhow!("mke2fs failed once and then succeeded")))
        .context("making the ext4 file system with mke2fs -d")
    }
}

/// mke2fs ran out of blocks or inodes while copying the tree in.
#[derive(Debug, thiserror::Error)]
#[error("mke2fs ran out of space: {stderr}")]
pub struct NoSpace {
    pub stderr: String,
}

fn is_no_space(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("could not allocate block")
        || s.contains("no free space")
        || s.contains("could not allocate inode")
        || s.contains("inode bitmap")
        || s.contains("not enough space")
        || s.contains("too small")
        || s.contains("no space left")
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// What [`reset_times`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResetStats {
    pub inodes_in_use: u64,
    pub inodes_rewritten: u64,
}

const SB_OFFSET: u64 = 1024;
const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_CSUM_SEED: u32 = 0x2000;
const RO_COMPAT_GDT_CSUM: u32 = 0x10;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
const BG_INODE_UNINIT: u16 = 0x1;

// ext4_inode field offsets.
const I_ATIME: usize = 0x08;
const I_CTIME: usize = 0x0C;
const I_MTIME: usize = 0x10;
const I_MTIME_EXTRA: usize = 0x88;
const I_CHECKSUM_LO: usize = 0x7C;
const I_EXTRA_ISIZE: usize = 0x80;
const I_CHECKSUM_HI: usize = 0x82;
const I_CTIME_EXTRA: usize = 0x84;
const I_ATIME_EXTRA: usize = 0x8C;
const I_CRTIME: usize = 0x90;
const I_CRTIME_EXTRA: usize = 0x94;
const I_GENERATION: usize = 0x64;
const GOOD_OLD_INODE_SIZE: usize = 128;

/// Sets atime, ctime and crtime of every used inode of the ext4 file system at `offset`
/// in `file` to `epoch`, clamps mtimes to it, and recomputes the inode checksums
/// (`metadata_csum`).
pub fn reset_times(file: &File, offset: u64, epoch: u64) -> Result<ResetStats> {
    let secs = u32::try_from(epoch).context("an epoch after 2106 does not fit ext4 times")?;
    let mut sb = [0u8; 1024];
    file.read_exact_at(&mut sb, offset + SB_OFFSET)?;
    if u16_at(&sb, 0x38) != 0xEF53 {
        bail!("no ext4 superblock at offset {offset}");
    }
    let block_size = 1024u64 << u32_at(&sb, 0x18);
    let inodes_count = u64::from(u32_at(&sb, 0x00));
    let ipg = u64::from(u32_at(&sb, 0x28));
    let first_data_block = u64::from(u32_at(&sb, 0x14));
    let inode_size = usize::from(u16_at(&sb, 0x58));
    let incompat = u32_at(&sb, 0x60);
    let ro_compat = u32_at(&sb, 0x64);
    let desc_size = if incompat & INCOMPAT_64BIT != 0 {
        usize::from(u16_at(&sb, 0xFE))
    } else {
        32
    };
    if ipg == 0 || inode_size < GOOD_OLD_INODE_SIZE || desc_size < 32 {
        bail!("implausible ext4 superblock (inodes per group {ipg}, inode size {inode_size})");
    }
    let csum = ro_compat & RO_COMPAT_METADATA_CSUM != 0;
    let seed = if incompat & INCOMPAT_CSUM_SEED != 0 {
        u32_at(&sb, 0x270)
    } else {
        crc32c::update(!0, &sb[0x68..0x78])
    };
    let groups = inodes_count.div_ceil(ipg);
    let mut gdt = vec![0u8; groups as usize * desc_size];
    file.read_exact_at(&mut gdt, offset + (first_data_block + 1) * block_size)?;

    let mut stats = ResetStats::default();
    for g in 0..groups {
        let d = &gdt[g as usize * desc_size..(g as usize + 1) * desc_size];
        if u16_at(d, 0x12) & BG_INODE_UNINIT != 0 {
            continue;
        }
        let hi = |at: usize| {
            if desc_size >= 64 {
                u64::from(u32_at(d, at))
            } else {
                0
            }
        };
        let bitmap_block = u64::from(u32_at(d, 0x04)) | hi(0x24) << 32;
        let table_block = u64::from(u32_at(d, 0x08)) | hi(0x28) << 32;
        let mut used = ipg;
        if ro_compat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM) != 0 {
            let unused = u64::from(u16_at(d, 0x1C))
                | if desc_size >= 64 {
                    u64::from(u16_at(d, 0x32)) << 16
                } else {
                    0
                };
            used = ipg.saturating_sub(unused);
        }
        if used == 0 {
            continue;
        }
        let mut bitmap = vec![0u8; used.div_ceil(8) as usize];
        file.read_exact_at(&mut bitmap, offset + bitmap_block * block_size)?;
        let mut table = vec![0u8; used as usize * inode_size];
        let table_at = offset + table_block * block_size;
        file.read_exact_at(&mut table, table_at)?;
        for i in 0..used as usize {
            if bitmap[i / 8] & (1 << (i % 8)) == 0 {
                continue;
            }
            stats.inodes_in_use += 1;
            let ino = g * ipg + i as u64 + 1;
            let inode = &mut table[i * inode_size..(i + 1) * inode_size];
            if set_times(inode, secs, csum, seed, ino as u32) {
                file.write_all_at(inode, table_at + (i * inode_size) as u64)?;
                stats.inodes_rewritten += 1;
            }
        }
    }
    Ok(stats)
}

/// Sets the times of one inode and its checksum; returns whether anything changed.
fn set_times(inode: &mut [u8], secs: u32, csum: bool, seed: u32, ino: u32) -> bool {
    let before = inode.to_vec();
    let extra = if inode.len() > GOOD_OLD_INODE_SIZE {
        usize::from(u16_at(inode, I_EXTRA_ISIZE))
    } else {
        0
    };
    let has = |field: usize| GOOD_OLD_INODE_SIZE + extra >= field + 4;
    let put = |inode: &mut [u8], at: usize, v: u32| {
        inode[at..at + 4].copy_from_slice(&v.to_le_bytes());
    };
    put(inode, I_ATIME, secs);
    put(inode, I_CTIME, secs);
    // Clamp mtimes to the epoch, as SOURCE_DATE_EPOCH does: our layers never carry a
    // later one, so a later mtime is a clock reading of the flatten (a directory a later
    // layer added to without carrying the directory itself).
    if u32_at(inode, I_MTIME) > secs {
        put(inode, I_MTIME, secs);
        if has(I_MTIME_EXTRA) {
            put(inode, I_MTIME_EXTRA, 0);
        }
    }
    for f in [I_CTIME_EXTRA, I_ATIME_EXTRA, I_CRTIME_EXTRA] {
        if has(f) {
            put(inode, f, 0);
        }
    }
    if has(I_CRTIME) {
        put(inode, I_CRTIME, secs);
    }
    if csum {
        let has_hi = extra >= I_CHECKSUM_HI + 2 - GOOD_OLD_INODE_SIZE;
        inode[I_CHECKSUM_LO..I_CHECKSUM_LO + 2].fill(0);
        if has_hi {
            inode[I_CHECKSUM_HI..I_CHECKSUM_HI + 2].fill(0);
        }
        let mut c = crc32c::update(seed, &ino.to_le_bytes());
        c = crc32c::update(c, &inode[I_GENERATION..I_GENERATION + 4]);
        c = crc32c::update(c, inode);
        inode[I_CHECKSUM_LO..I_CHECKSUM_LO + 2].copy_from_slice(&(c as u16).to_le_bytes());
        if has_hi {
            inode[I_CHECKSUM_HI..I_CHECKSUM_HI + 2]
                .copy_from_slice(&((c >> 16) as u16).to_le_bytes());
        }
    }
    inode != before.as_slice()
}
