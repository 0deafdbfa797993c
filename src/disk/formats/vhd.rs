//! The fixed VHD's footer: parsing and checking it, pinning its timestamp and unique id,
//! and recomputing its checksum.

use super::MIB;
use crate::disk::ids::{DiskIds, Uuid};
use anyhow::Result;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A VHD footer (the "hard disk footer" of Microsoft's VHD specification): the last
/// 512 bytes of every VHD, and all of a fixed one's metadata.
pub const FOOTER_LEN: usize = 512;
const COOKIE: &[u8; 8] = b"conectix";
/// VHD times count seconds from 2000-01-01T00:00:00Z.
const VHD_EPOCH: u64 = 946_684_800;
/// Disk type 2: fixed (3 is dynamic, 4 differencing).
pub const DISK_TYPE_FIXED: u32 = 2;
const AT_TIMESTAMP: usize = 24;
const AT_ORIGINAL_SIZE: usize = 40;
const AT_CURRENT_SIZE: usize = 48;
const AT_DISK_TYPE: usize = 60;
const AT_CHECKSUM: usize = 64;
const AT_UUID: usize = 68;
const AT_DATA_OFFSET: usize = 16;

/// Why 512 bytes are not a VHD footer we can trust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FooterError {
    #[error("the VHD footer's cookie is {0:?}, not \"conectix\"")]
    BadCookie(String),
    #[error("the VHD footer's checksum is {stored:#010x}, but its bytes sum to {computed:#010x}")]
    BadChecksum { stored: u32, computed: u32 },
}

/// The fields of a VHD footer we pin or check (all big-endian on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VhdFooter {
    pub data_offset: u64,
    /// Seconds since 2000-01-01T00:00:00Z.
    pub timestamp: u32,
    pub original_size: u64,
    pub current_size: u64,
    pub disk_type: u32,
    pub uuid: [u8; 16],
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The footer checksum: the one's complement of the sum of its bytes, the checksum
/// field itself counted as zero.
pub fn vhd_checksum(b: &[u8; FOOTER_LEN]) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(AT_CHECKSUM..AT_CHECKSUM + 4).contains(i))
        .fold(0u32, |s, (_, x)| s.wrapping_add(u32::from(*x)));
    !sum
}

impl VhdFooter {
    /// Reads a footer, refusing a wrong cookie or checksum.
    pub fn parse(b: &[u8; FOOTER_LEN]) -> Result<VhdFooter, FooterError> {
        if &b[..8] != COOKIE {
            return Err(FooterError::BadCookie(
                String::from_utf8_lossy(&b[..8]).into_owned(),
            ));
        }
        let stored = be32(b, AT_CHECKSUM);
        let computed = vhd_checksum(b);
        if stored != computed {
            return Err(FooterError::BadChecksum { stored, computed });
        }
        Ok(VhdFooter {
            data_offset: be64(b, AT_DATA_OFFSET),
            timestamp: be32(b, AT_TIMESTAMP),
            original_size: be64(b, AT_ORIGINAL_SIZE),
            current_size: be64(b, AT_CURRENT_SIZE),
            disk_type: be32(b, AT_DISK_TYPE),
            uuid: b[AT_UUID..AT_UUID + 16].try_into().expect("16 bytes"),
        })
    }

    /// What keeps this footer from being a fixed VHD of `size` bytes that Azure takes.
    pub fn problems(&self, size: u64) -> Vec<String> {
        let mut p = Vec::new();
        if self.disk_type != DISK_TYPE_FIXED {
            p.push(format!(
                "its disk type is {}, not {DISK_TYPE_FIXED} (fixed)",
                self.disk_type
            ));
        }
        if self.data_offset != u64::MAX {
            p.push(format!(
                "its data offset is {:#x}; a fixed VHD has none",
                self.data_offset
            ));
        }
        if self.current_size != size {
            p.push(format!(
                "its current size is {}, not {size}",
                self.current_size
            ));
        }
        if !self.current_size.is_multiple_of(MIB) {
            p.push(format!(
                "its size {} is not a whole number of MiB (Azure refuses it)",
                self.current_size
            ));
        }
        p
    }
}

/// Sets a footer's timestamp and unique id and recomputes its checksum; the footer must
/// be valid to begin with.
pub fn pin_vhd_footer(
    b: &mut [u8; FOOTER_LEN],
    timestamp: u32,
    uuid: [u8; 16],
) -> Result<(), FooterError> {
    VhdFooter::parse(b)?;
    b[AT_TIMESTAMP..AT_TIMESTAMP + 4].copy_from_slice(&timestamp.to_be_bytes());
    b[AT_UUID..AT_UUID + 16].copy_from_slice(&uuid);
    let sum = vhd_checksum(b);
    b[AT_CHECKSUM..AT_CHECKSUM + 4].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

/// The image epoch (Unix seconds) as a VHD time: seconds since 2000, clamped to the
/// field's range.
pub fn vhd_timestamp(epoch: u64) -> u32 {
    u32::try_from(epoch.saturating_sub(VHD_EPOCH)).unwrap_or(u32::MAX)
}

/// The VHD's unique id, derived from the disk GUID (so, from the image digest).
pub fn vhd_uuid(ids: &DiskIds) -> [u8; 16] {
    Uuid::derive(format!("{}/vhd", ids.disk_guid).as_bytes()).0
}

pub(super) fn pin_vhd_file(path: &Path, timestamp: u32, uuid: [u8; 16]) -> Result<()> {
    let mut f = File::options().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let at = len
        .checked_sub(FOOTER_LEN as u64)
        .ok_or_else(|| crate::error::environment("qemu-img wrote a VHD shorter than its footer"))?;
    let mut b = [0u8; FOOTER_LEN];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut b)?;
    pin_vhd_footer(&mut b, timestamp, uuid)
        .map_err(|e| crate::error::environment(format!("the VHD qemu-img wrote: {e}")))?;
    f.seek(SeekFrom::Start(at))?;
    f.write_all(&b)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A footer as qemu-img 7.2 wrote it for a 64 MiB fixed VHD (`force_size=on`).
    fn qemu_footer() -> [u8; FOOTER_LEN] {
        let mut b = [0u8; FOOTER_LEN];
        b[..8].copy_from_slice(COOKIE);
        b[8..12].copy_from_slice(&2u32.to_be_bytes());
        b[12..16].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        b[16..24].copy_from_slice(&u64::MAX.to_be_bytes());
        b[24..28].copy_from_slice(&0x30c0_ffeeu32.to_be_bytes());
        b[28..32].copy_from_slice(b"qemu");
        b[32..36].copy_from_slice(&0x0005_0003u32.to_be_bytes());
        b[36..40].copy_from_slice(b"Wi2k");
        b[40..48].copy_from_slice(&(64u64 << 20).to_be_bytes());
        b[48..56].copy_from_slice(&(64u64 << 20).to_be_bytes());
        b[56..60].copy_from_slice(&[0x00, 0x82, 0x10, 0x3f]);
        b[60..64].copy_from_slice(&DISK_TYPE_FIXED.to_be_bytes());
        b[68..84].copy_from_slice(&[0x5a; 16]);
        let sum = vhd_checksum(&b);
        b[64..68].copy_from_slice(&sum.to_be_bytes());
        b
    }

    #[test]
    fn pinning_a_footer_sets_time_and_id_and_keeps_it_valid() {
        let mut b = qemu_footer();
        let before = b;
        pin_vhd_footer(&mut b, 7, [1; 16]).unwrap();
        let f = VhdFooter::parse(&b).unwrap();
        assert_eq!((f.timestamp, f.uuid), (7, [1; 16]));
        assert!(
            f.problems(64 << 20).is_empty(),
            "{:?}",
            f.problems(64 << 20)
        );
        // Only the timestamp, the checksum and the id changed.
        let changed: Vec<usize> = (0..FOOTER_LEN).filter(|i| b[*i] != before[*i]).collect();
        assert!(
            changed
                .iter()
                .all(|i| (24..28).contains(i) || (64..84).contains(i)),
            "{changed:?}"
        );
        let mut again = before;
        pin_vhd_footer(&mut again, 7, [1; 16]).unwrap();
        assert_eq!(again, b);
    }

    #[test]
    fn a_bad_cookie_or_checksum_is_refused() {
        let mut b = qemu_footer();
        b[0] = b'C';
        assert_eq!(
            VhdFooter::parse(&b),
            Err(FooterError::BadCookie("Conectix".into()))
        );
        assert!(pin_vhd_footer(&mut b, 0, [0; 16]).is_err());
        let mut b = qemu_footer();
        b[100] ^= 1;
        let e = VhdFooter::parse(&b).unwrap_err();
        assert!(matches!(e, FooterError::BadChecksum { .. }), "{e}");
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn footer_problems_name_type_size_and_alignment() {
        let mut b = qemu_footer();
        b[60..64].copy_from_slice(&3u32.to_be_bytes());
        b[48..56].copy_from_slice(&((64u64 << 20) + 512).to_be_bytes());
        let sum = vhd_checksum(&b);
        b[64..68].copy_from_slice(&sum.to_be_bytes());
        let p = VhdFooter::parse(&b).unwrap().problems(64 << 20);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("disk type is 3"), "{p:?}");
        assert!(p[2].contains("whole number of MiB"), "{p:?}");
    }

    #[test]
    fn vhd_time_counts_from_2000_and_clamps() {
        assert_eq!(vhd_timestamp(0), 0);
        assert_eq!(vhd_timestamp(VHD_EPOCH - 1), 0);
        assert_eq!(vhd_timestamp(VHD_EPOCH + 86_400), 86_400);
        assert_eq!(vhd_timestamp(u64::MAX), u32::MAX);
    }
}
