//! GRUB for BIOS on a GPT disk, as `grub-install` would lay it out but without it (after
//! osbuild's `org.osbuild.grub2.inst`): `core.img` in the BIOS boot partition, told where
//! its second sector is (LBA + 1, as a u64 at byte 500 of its first sector: the end of
//! diskboot's block list), and `boot.img`'s code (its first 440 bytes only, so the
//! protective MBR's partition entry and signature stay) in the MBR, told where core.img
//! starts (a u64 at byte 0x5c).

use crate::disk::gpt::SECTOR;
use anyhow::{bail, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Where boot.img keeps the LBA of core.img (GRUB_BOOT_MACHINE_KERNEL_SECTOR).
const KERNEL_SECTOR_AT: u64 = 0x5c;
/// Where diskboot.img (core.img's first sector) keeps the LBA of the next sector.
const BLOCKLIST_START_AT: u64 = 500;
/// boot.img bytes that are code (the rest of the sector is the partition table).
const BOOT_CODE: usize = 440;

/// Writes `core` at `offset` (the BIOS boot partition, `room` bytes long) and the MBR's
/// boot code from `boot_img`.
pub fn install(
    disk: &File,
    core: &[u8],
    offset: u64,
    room: u64,
    boot_img: &[u8; 512],
) -> Result<()> {
    if core.len() as u64 > room || core.len() < SECTOR as usize {
        bail!(
            "GRUB's core.img is {} bytes; the BIOS boot partition holds {room}",
            core.len()
        );
    }
    let lba = offset / SECTOR;
    disk.write_all_at(core, offset)?;
    disk.write_all_at(&(lba + 1).to_le_bytes(), offset + BLOCKLIST_START_AT)?;
    disk.write_all_at(&boot_img[..BOOT_CODE], 0)?;
    disk.write_all_at(&lba.to_le_bytes(), KERNEL_SECTOR_AT)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_both_pointers_and_keeps_the_partition_table() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(4 << 20).unwrap();
        let mut mbr = [0u8; 512];
        mbr[446] = 0x11; // a partition entry byte
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        f.write_all_at(&mbr, 0).unwrap();
        let core = vec![0xC0u8; 3 * 512];
        let boot = [0xB0u8; 512];
        install(&f, &core, 1 << 20, 1 << 20, &boot).unwrap();
        let mut got = [0u8; 512];
        f.read_exact_at(&mut got, 0).unwrap();
        assert_eq!(&got[..0x5c], &boot[..0x5c]);
        assert_eq!(
            u64::from_le_bytes(got[0x5c..0x64].try_into().unwrap()),
            2048
        );
        assert_eq!(&got[0x64..440], &boot[0x64..440]);
        assert_eq!((got[446], got[510], got[511]), (0x11, 0x55, 0xAA));
        let mut first = [0u8; 512];
        f.read_exact_at(&mut first, 1 << 20).unwrap();
        assert_eq!(
            u64::from_le_bytes(first[500..508].try_into().unwrap()),
            2049
        );
        assert_eq!(first[508], 0xC0);
        assert!(install(&f, &vec![0; (1 << 20) + 1], 1 << 20, 1 << 20, &boot).is_err());
    }
}
