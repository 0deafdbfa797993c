//! How big a disk an image needs: a walk of the flattened rootfs counts inodes and
//! blocks, and a model of ext4's own overhead (inode tables, bitmaps, group descriptors
//! and their reserve, the journal) turns that into the smallest disk that holds it. The
//! model errs on the large side, so the size it names is one that works.

use super::ext4::{BLOCK_SIZE, INODE_SIZE};
use super::gpt::ALIGN;
use anyhow::{Context, Result};
use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The smallest disk we make: below this ext4 gets no journal.
pub const MIN_DISK: u64 = 16 << 20;
const BLOCKS_PER_GROUP: u64 = 32768;
const BYTES_PER_INODE: u64 = 16384;

/// What the flattened rootfs holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Content {
    /// Distinct inodes (hard links count once).
    pub inodes: u64,
    /// Bytes of regular files (hard links count once).
    pub file_bytes: u64,
    /// 4 KiB blocks for file data, directories and long symlinks.
    pub blocks: u64,
    /// The most entries in one directory.
    pub largest_dir: u64,
}

/// Walks `rootfs` (without following symlinks).
pub fn scan(rootfs: &Path) -> Result<Content> {
    let mut c = Content::default();
    let mut seen = HashSet::new();
    for e in walkdir::WalkDir::new(rootfs).follow_links(false) {
        let e = e.with_context(|| format!("reading {}", rootfs.display()))?;
        let md = e.metadata()?;
        if md.nlink() > 1 && !md.is_dir() && !seen.insert((md.dev(), md.ino())) {
            continue;
        }
        c.inodes += 1;
        let ft = md.file_type();
        if ft.is_file() {
            c.file_bytes += md.len();
            let data = md.len().div_ceil(BLOCK_SIZE);
            // Extent tree blocks of a large file, one per 128 MiB, generously.
            c.blocks += data + data / BLOCKS_PER_GROUP;
        } else if ft.is_dir() {
            let mut n = 0u64;
            let mut bytes = 24u64; // "." and ".."
            for child in std::fs::read_dir(e.path())? {
                let name_len = child?.file_name().len() as u64;
                bytes += 8 + name_len.div_ceil(4) * 4;
                n += 1;
            }
            c.largest_dir = c.largest_dir.max(n);
            // Hashed directories leave leaf blocks part empty and add index blocks.
            c.blocks += (bytes * 2).div_ceil(BLOCK_SIZE).max(1);
        } else if ft.is_symlink() && md.len() > 59 {
            c.blocks += 1;
        } else if ft.is_block_device() || ft.is_char_device() {
            // The safe apply never makes device nodes; a tree that has them did not come
            // from it, and a disk must not carry them (the guest's devtmpfs makes them).
            return Err(crate::error::input(format!(
                "{} is a device node: a disk never carries device nodes",
                e.path().display()
            )));
        }
    }
    Ok(c)
}

/// The inodes a file system of `fs_size` bytes gets for `content`: ext4's usual ratio,
/// or more when the content has more files than that gives.
pub fn inode_count(content: &Content, fs_size: u64) -> u64 {
    let by_ratio = fs_size / BYTES_PER_INODE;
    let needed = (content.inodes + 16) * 5 / 4 + 64;
    by_ratio.max(needed)
}

/// Blocks ext4 spends on itself in a file system of `fs_size` bytes with `inodes` inodes.
fn overhead_blocks(fs_size: u64, inodes: u64) -> u64 {
    let blocks = fs_size / BLOCK_SIZE;
    let groups = blocks.div_ceil(BLOCKS_PER_GROUP).max(1);
    let inode_table = (inodes * INODE_SIZE).div_ceil(BLOCK_SIZE) + groups;
    let bitmaps = 2 * groups;
    let per_block = BLOCK_SIZE / 64;
    let gdt = groups.div_ceil(per_block);
    let grow_to = (blocks * 1024).min(u64::from(u32::MAX));
    let reserve = (grow_to.div_ceil(BLOCKS_PER_GROUP).div_ceil(per_block))
        .saturating_sub(gdt)
        .min(BLOCK_SIZE / 4);
    let backups = backup_groups(groups);
    let journal = journal_blocks(blocks);
    // Root, lost+found, the resize inode's own blocks, and some slack.
    let misc = 64 + blocks / 100;
    inode_table + bitmaps + backups * (1 + gdt + reserve) + journal + misc
}

/// Groups holding a superblock backup under `sparse_super`: 0, 1 and powers of 3, 5, 7.
fn backup_groups(groups: u64) -> u64 {
    let mut n = groups.min(2);
    for base in [3u64, 5, 7] {
        let mut p = base;
        while p < groups {
            n += 1;
            p *= base;
        }
    }
    n
}

/// e2fsprogs' default journal size for a file system of `blocks` 4 KiB blocks.
fn journal_blocks(blocks: u64) -> u64 {
    match blocks {
        0..=2047 => 0,
        2048..=32767 => 1024,
        32768..=262_143 => 4096,
        262_144..=524_287 => 8192,
        524_288..=4_194_303 => 16384,
        4_194_304..=8_388_607 => 32768,
        8_388_608..=16_777_215 => 65536,
        16_777_216..=33_554_431 => 131_072,
        _ => 262_144,
    }
}

/// Whether a disk of `disk_size` bytes holds `content`.
pub fn fits(content: &Content, disk_size: u64) -> bool {
    let fs = disk_size.saturating_sub(2 * ALIGN);
    let inodes = inode_count(content, fs);
    let need = content.blocks + overhead_blocks(fs, inodes);
    disk_size >= MIN_DISK && need <= fs / BLOCK_SIZE
}

/// The smallest disk (a whole number of MiB) that holds `content`.
pub fn minimum(content: &Content) -> u64 {
    let mut size = round_up(content.blocks * BLOCK_SIZE + 2 * ALIGN, ALIGN).max(MIN_DISK);
    while !fits(content, size) {
        let fs = size - 2 * ALIGN;
        let need = content.blocks + overhead_blocks(fs, inode_count(content, fs));
        size = round_up(need * BLOCK_SIZE + 2 * ALIGN, ALIGN).max(size + ALIGN);
    }
    size
}

/// The size `--size auto` picks: the minimum plus a quarter, rounded up to 64 MiB, so
/// that the guest has room to write.
pub fn auto(content: &Content) -> u64 {
    let m = minimum(content);
    round_up(m + m / 4, 64 << 20)
}

pub fn round_up(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

/// `2GiB`, `512 MiB`, `1TiB`, `4096KiB`: a whole number with a binary unit.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match s[digits..].trim() {
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        _ => return None,
    };
    if n == 0 {
        return None;
    }
    n.checked_mul(1 << shift)
}

/// A size for messages: whole MiB below 10 GiB, else GiB with one decimal.
pub fn human(n: u64) -> String {
    if n < 10 << 30 {
        format!("{}MiB", n.div_ceil(1 << 20))
    } else {
        format!("{:.1}GiB", n as f64 / f64::from(1u32 << 30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_fits_and_one_mib_less_does_not_hold_more() {
        for blocks in [0u64, 100, 50_000, 300_000, 2_000_000] {
            let c = Content {
                inodes: blocks / 4 + 10,
                file_bytes: blocks * BLOCK_SIZE,
                blocks,
                largest_dir: 10,
            };
            let m = minimum(&c);
            assert!(fits(&c, m), "{blocks}: {m}");
            assert_eq!(m % ALIGN, 0);
            assert!(m >= MIN_DISK);
            assert!(auto(&c) > m);
        }
    }

    #[test]
    fn many_small_files_raise_the_inode_count() {
        let c = Content {
            inodes: 100_000,
            file_bytes: 0,
            blocks: 1000,
            largest_dir: 18_000,
        };
        assert!(inode_count(&c, 64 << 20) >= 100_000);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("0MiB"), None);
        assert_eq!(parse_size("2GB"), None);
        assert_eq!(parse_size("GiB"), None);
        assert_eq!(human(2 << 30), "2048MiB");
    }

    #[test]
    fn backups_follow_sparse_super() {
        // 0, 1, 3, 5, 7, 9 below 16 groups.
        assert_eq!(backup_groups(16), 6);
        assert_eq!(backup_groups(1), 1);
    }
}
