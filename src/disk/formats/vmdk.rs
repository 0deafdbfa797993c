//! The streamOptimized VMDK's embedded descriptor: finding, parsing and checking it, and
//! pinning its CID.

use super::SCRATCH_NAME;
use crate::disk::ids::{DiskIds, Uuid};
use anyhow::Result;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const VMDK_MAGIC: &[u8; 4] = b"KDMV";
/// The descriptor of a monolithic sparse VMDK is at most this long (qemu writes 20
/// sectors; VMware's own files have the same).
const MAX_DESCRIPTOR: u64 = 1 << 20;

/// Why a VMDK's embedded descriptor cannot be read or pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    #[error("not a sparse VMDK: its magic is {0:?}, not \"KDMV\"")]
    BadMagic(String),
    #[error("the VMDK header puts its descriptor at sector {offset} ({sectors} sectors), outside the file")]
    BadPlace { offset: u64, sectors: u64 },
    #[error("the VMDK descriptor has no `CID=` line of 1 to 8 hex digits")]
    NoCid,
    #[error("the pinned VMDK descriptor ({len} bytes) does not fit its {room}-byte region")]
    TooLong { len: usize, room: usize },
    #[error("the VMDK descriptor is not text: {0}")]
    NotText(String),
}

/// The parts of an embedded VMDK descriptor we pin or check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmdkDescriptor {
    pub cid: u32,
    pub parent_cid: Option<u32>,
    pub create_type: Option<String>,
    /// The extent lines, e.g. `RW 4194304 SPARSE "disk.vmdk"`.
    pub extents: Vec<String>,
}

/// Where the hex digits of `CID=` are in the descriptor (qemu writes `%x`: 1 to 8 digits).
fn cid_span(text: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut at = 0;
    for line in text.split(|b| *b == b'\n') {
        if let Some(v) = line.strip_prefix(b"CID=") {
            let v = v.strip_suffix(b"\r").unwrap_or(v);
            if (1..=8).contains(&v.len()) && v.iter().all(u8::is_ascii_hexdigit) {
                return Some(at + 4..at + 4 + v.len());
            }
        }
        at += line.len() + 1;
    }
    None
}

impl VmdkDescriptor {
    /// Reads the descriptor text (its zero padding already cut off).
    pub fn parse(text: &[u8]) -> Result<VmdkDescriptor, DescriptorError> {
        let s = std::str::from_utf8(text).map_err(|e| DescriptorError::NotText(e.to_string()))?;
        let span = cid_span(text).ok_or(DescriptorError::NoCid)?;
        let cid = u32::from_str_radix(&s[span], 16).map_err(|_| DescriptorError::NoCid)?;
        let value = |key: &str| {
            s.lines()
                .find_map(|l| l.trim_end().strip_prefix(key))
                .map(|v| v.trim_matches('"').to_string())
        };
        Ok(VmdkDescriptor {
            cid,
            parent_cid: value("parentCID=").and_then(|v| u32::from_str_radix(&v, 16).ok()),
            create_type: value("createType="),
            extents: s
                .lines()
                .filter(|l| l.starts_with("RW ") || l.starts_with("RDONLY "))
                .map(|l| l.trim_end().to_string())
                .collect(),
        })
    }

    /// What keeps this from being the descriptor of a standalone streamOptimized disk of
    /// `size` bytes, named as we name it.
    pub fn problems(&self, size: u64) -> Vec<String> {
        let mut p = Vec::new();
        if self.create_type.as_deref() != Some("streamOptimized") {
            p.push(format!(
                "its createType is {:?}, not streamOptimized",
                self.create_type
            ));
        }
        if self.parent_cid != Some(u32::MAX) {
            p.push(format!(
                "its parentCID is {:?}, not ffffffff (none)",
                self.parent_cid
            ));
        }
        let extent = format!("RW {} SPARSE \"{SCRATCH_NAME}.vmdk\"", size / 512);
        if self.extents != [extent.clone()] {
            p.push(format!(
                "its extents are {:?}, not [{extent}]",
                self.extents
            ));
        }
        p
    }
}

/// The descriptor text with its `CID=` value replaced, written as qemu writes it (`%x`).
pub fn pin_vmdk_cid(text: &[u8], cid: u32) -> Result<Vec<u8>, DescriptorError> {
    let span = cid_span(text).ok_or(DescriptorError::NoCid)?;
    let mut out = Vec::with_capacity(text.len() + 8);
    out.extend_from_slice(&text[..span.start]);
    out.extend_from_slice(format!("{cid:x}").as_bytes());
    out.extend_from_slice(&text[span.end..]);
    Ok(out)
}

/// The whole descriptor region: the text, then zeros up to `room` bytes.
pub fn descriptor_region(text: &[u8], room: usize) -> Result<Vec<u8>, DescriptorError> {
    // A reader stops at the first zero byte; leave at least one.
    if text.len() >= room {
        return Err(DescriptorError::TooLong {
            len: text.len(),
            room,
        });
    }
    let mut r = text.to_vec();
    r.resize(room, 0);
    Ok(r)
}

/// The header fields that place the embedded descriptor: (byte offset, byte length).
pub fn descriptor_place(header: &[u8; 512], file_len: u64) -> Result<(u64, u64), DescriptorError> {
    if &header[..4] != VMDK_MAGIC {
        return Err(DescriptorError::BadMagic(
            String::from_utf8_lossy(&header[..4]).into_owned(),
        ));
    }
    let le64 = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let (offset, sectors) = (le64(0x1c), le64(0x24));
    let fits = offset > 0
        && sectors > 0
        && sectors <= MAX_DESCRIPTOR / 512
        && offset
            .checked_add(sectors)
            .and_then(|end| end.checked_mul(512))
            .is_some_and(|end| end <= file_len);
    if !fits {
        return Err(DescriptorError::BadPlace { offset, sectors });
    }
    Ok((offset * 512, sectors * 512))
}

/// The VMDK's content id, derived from the disk GUID; never `ffffffff`, which VMDK
/// readers take for "no parent".
pub fn vmdk_cid(ids: &DiskIds) -> u32 {
    let u = Uuid::derive(format!("{}/vmdk-cid", ids.disk_guid).as_bytes());
    let cid = u32::from_be_bytes(u.0[..4].try_into().expect("4 bytes"));
    if cid == u32::MAX {
        cid - 1
    } else {
        cid
    }
}

/// Reads the embedded descriptor: (its region's byte offset and length, its text
/// without the zero padding).
pub(super) fn read_descriptor(
    f: &mut File,
    len: u64,
) -> Result<(u64, usize, Vec<u8>), DescriptorError> {
    let mut header = [0u8; 512];
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_exact(&mut header))
        .map_err(|e| DescriptorError::NotText(format!("reading the header: {e}")))?;
    let (offset, size) = descriptor_place(&header, len)?;
    let room = usize::try_from(size).expect("at most 1 MiB");
    let mut text = vec![0u8; room];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut text))
        .map_err(|e| DescriptorError::NotText(format!("reading the descriptor: {e}")))?;
    let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
    text.truncate(end);
    Ok((offset, room, text))
}

pub(super) fn pin_vmdk_file(path: &Path, cid: u32) -> Result<()> {
    let bad =
        |e: DescriptorError| crate::error::environment(format!("the VMDK qemu-img wrote: {e}"));
    let mut f = File::options().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let (offset, room, text) = read_descriptor(&mut f, len).map_err(bad)?;
    let region = pin_vmdk_cid(&text, cid)
        .and_then(|t| descriptor_region(&t, room))
        .map_err(bad)?;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(&region)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The descriptor qemu-img 7.2 writes for a 64 MiB streamOptimized disk.
    const DESCRIPTOR: &str = "# Disk DescriptorFile\nversion=1\nCID=37aaf074\nparentCID=ffffffff\n\
        createType=\"streamOptimized\"\n\n# Extent description\nRW 131072 SPARSE \"disk.vmdk\"\n\n\
        # The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.geometry.cylinders = \"130\"\n\
        ddb.geometry.heads = \"16\"\nddb.geometry.sectors = \"63\"\nddb.adapterType = \"ide\"\n\
        ddb.toolsVersion = \"2147483647\"\n";

    #[test]
    fn the_cid_is_replaced_whatever_its_length() {
        let d = VmdkDescriptor::parse(DESCRIPTOR.as_bytes()).unwrap();
        assert_eq!(d.cid, 0x37aa_f074);
        assert!(
            d.problems(64 << 20).is_empty(),
            "{:?}",
            d.problems(64 << 20)
        );
        let t = pin_vmdk_cid(DESCRIPTOR.as_bytes(), 0xab).unwrap();
        let s = String::from_utf8(t.clone()).unwrap();
        assert_eq!(s, DESCRIPTOR.replace("CID=37aaf074", "CID=ab"));
        assert_eq!(VmdkDescriptor::parse(&t).unwrap().cid, 0xab);
        // parentCID is not mistaken for CID.
        assert!(s.contains("parentCID=ffffffff"));
        // qemu writes `%x`: a short CID (1 run in 16) is pinned the same way.
        let short = DESCRIPTOR.replace("CID=37aaf074", "CID=5f0a1");
        let again = pin_vmdk_cid(short.as_bytes(), 0x1234_5678).unwrap();
        assert_eq!(
            again,
            pin_vmdk_cid(DESCRIPTOR.as_bytes(), 0x1234_5678).unwrap()
        );
        let r = descriptor_region(&again, 10240).unwrap();
        assert_eq!(r.len(), 10240);
        assert!(r[again.len()..].iter().all(|b| *b == 0));
        assert!(matches!(
            descriptor_region(&again, again.len()),
            Err(DescriptorError::TooLong { .. })
        ));
    }

    #[test]
    fn a_descriptor_without_cid_or_of_another_type_is_refused() {
        let t = DESCRIPTOR.replace("CID=37aaf074\n", "");
        assert_eq!(pin_vmdk_cid(t.as_bytes(), 1), Err(DescriptorError::NoCid));
        let t = DESCRIPTOR.replace("CID=37aaf074", "CID=37aaf07400");
        assert_eq!(pin_vmdk_cid(t.as_bytes(), 1), Err(DescriptorError::NoCid));
        let d = VmdkDescriptor::parse(
            DESCRIPTOR
                .replace("streamOptimized", "monolithicSparse")
                .as_bytes(),
        )
        .unwrap();
        let p = d.problems(64 << 20);
        assert!(p[0].contains("monolithicSparse"), "{p:?}");
        let p = VmdkDescriptor::parse(DESCRIPTOR.as_bytes())
            .unwrap()
            .problems(32 << 20);
        assert!(p[0].contains("RW 65536 SPARSE"), "{p:?}");
    }

    #[test]
    fn the_descriptor_place_is_checked() {
        let mut h = [0u8; 512];
        h[..4].copy_from_slice(VMDK_MAGIC);
        h[0x1c..0x24].copy_from_slice(&1u64.to_le_bytes());
        h[0x24..0x2c].copy_from_slice(&20u64.to_le_bytes());
        assert_eq!(descriptor_place(&h, 1 << 20), Ok((512, 20 * 512)));
        assert!(matches!(
            descriptor_place(&h, 4096),
            Err(DescriptorError::BadPlace { .. })
        ));
        h[0x24..0x2c].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(descriptor_place(&h, u64::MAX).is_err());
        h[0] = b'X';
        assert!(matches!(
            descriptor_place(&h, 1 << 20),
            Err(DescriptorError::BadMagic(_))
        ));
    }
}
