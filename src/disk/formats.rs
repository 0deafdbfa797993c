//! The cloud import formats made from the finished raw disk through `qemu-img`: a fixed
//! VHD (Azure) and a streamOptimized VMDK (VMware, OVA), each made reproducible.
//!
//! `qemu-img convert` puts two things of its own into each: the VHD footer's timestamp
//! (the clock) and unique id (random), and the VMDK descriptor's `CID=` (random, written
//! as 1 to 8 hex digits, so even the descriptor's length varies) and extent file name
//! (the output's name). Everything else it writes is a function of the raw bytes and the
//! qemu/zlib versions. We convert under a fixed file name in a scratch directory beside
//! `out`, then overwrite the rest in place: the VHD timestamp from the image epoch, its
//! id and the VMDK CID derived from the disk GUID, the VHD checksum recomputed. Nothing
//! else moves: the footer is the last 512 bytes, and the descriptor lives in a region of
//! fixed size (from the VMDK header) that is zero-padded after the text, so a CID of
//! another length is rewritten with the whole region. Before the file is renamed to
//! `out` the patched bytes are parsed back and `qemu-img compare` proves the file reads
//! back as the raw disk, byte for byte.

use super::ids::{DiskIds, Uuid};
use super::qemu_img::{self, Info};
use super::Format;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The name the file has while `qemu-img` writes it; the VMDK descriptor records it as
/// its extent's file name, so it must not depend on `out`.
const SCRATCH_NAME: &str = "disk";

/// Converts the raw disk `raw` into `out` as `format` (`vhd` or `vmdk`); `epoch` and `ids`
/// stand in for whatever the format would otherwise take from the clock or chance.
pub fn convert(format: Format, raw: &Path, out: &Path, ids: &DiskIds, epoch: u64) -> Result<()> {
    let size = std::fs::metadata(raw)
        .with_context(|| format!("reading {}", raw.display()))?
        .len();
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let scratch = tempfile::Builder::new()
        .prefix(".convert-")
        .tempdir_in(dir)
        .with_context(|| format!("making a scratch directory in {}", dir.display()))?;
    let tmp = scratch
        .path()
        .join(format!("{SCRATCH_NAME}.{}", format.as_str()));
    match format {
        Format::Vhd => {
            if !size.is_multiple_of(MIB) {
                return Err(crate::error::input(format!(
                    "a VHD for Azure must be a whole number of MiB; this disk is {size} bytes"
                )));
            }
            crate::tool::run(&mut qemu_img::vhd_command(raw, &tmp))
                .context("converting the raw disk to a fixed VHD with qemu-img")?;
            pin_vhd_file(&tmp, vhd_timestamp(epoch), vhd_uuid(ids))?;
        }
        Format::Vmdk => {
            crate::tool::run(&mut qemu_img::vmdk_command(raw, &tmp))
                .context("converting the raw disk to a streamOptimized VMDK with qemu-img")?;
            pin_vmdk_file(&tmp, vmdk_cid(ids))?;
        }
        Format::Qcow2 | Format::Raw => {
            return Err(crate::error::input(format!(
                "{} disks are not made by disk::formats (only vhd and vmdk are)",
                format.as_str()
            )))
        }
    }
    let problems = file_problems(&tmp, format, size)?;
    if !problems.is_empty() {
        return Err(crate::error::environment(format!(
            "the {} qemu-img wrote does not hold what we pinned: {}",
            format.as_str(),
            problems.join("; ")
        )));
    }
    if !qemu_img::same_content(raw, &tmp, qemu_img::format_name(format))? {
        return Err(crate::error::environment(format!(
            "the {} made by qemu-img does not read back as the raw disk",
            format.as_str()
        )));
    }
    std::fs::rename(&tmp, out).with_context(|| format!("moving the disk to {}", out.display()))?;
    Ok(())
}

/// What is wrong with a finished `vhd` or `vmdk` of virtual size `size`, as read by us
/// (the footer or descriptor) and by `qemu-img info` (`info`); empty for other formats.
pub fn problems(path: &Path, format: Format, size: u64, info: &Info) -> Result<Vec<String>> {
    let mut p = file_problems(path, format, size)?;
    if format == Format::Vmdk {
        let data = info.format_specific.as_ref().and_then(|f| f.data.as_ref());
        let create_type = data.and_then(|d| d.create_type.as_deref());
        if create_type != Some("streamOptimized") {
            p.push(format!(
                "qemu-img reads its create type as {create_type:?}, not streamOptimized"
            ));
        }
    }
    Ok(p)
}

fn file_problems(path: &Path, format: Format, size: u64) -> Result<Vec<String>> {
    let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let len = f.metadata()?.len();
    Ok(match format {
        Format::Vhd => {
            if len != size + FOOTER_LEN as u64 {
                return Ok(vec![format!(
                    "a fixed VHD of {size} bytes is {} bytes long, not {len}",
                    size + FOOTER_LEN as u64
                )]);
            }
            let mut b = [0u8; FOOTER_LEN];
            f.seek(SeekFrom::Start(size))?;
            f.read_exact(&mut b)?;
            match VhdFooter::parse(&b) {
                Ok(footer) => footer.problems(size),
                Err(e) => vec![e.to_string()],
            }
        }
        Format::Vmdk => match read_descriptor(&mut f, len) {
            Ok((_, _, text)) => match VmdkDescriptor::parse(&text) {
                Ok(d) => d.problems(size),
                Err(e) => vec![e.to_string()],
            },
            Err(e) => vec![e.to_string()],
        },
        Format::Qcow2 | Format::Raw => Vec::new(),
    })
}

const MIB: u64 = 1 << 20;

// ---- VHD ----------------------------------------------------------------------------

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

fn pin_vhd_file(path: &Path, timestamp: u32, uuid: [u8; 16]) -> Result<()> {
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

// ---- VMDK ---------------------------------------------------------------------------

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
fn read_descriptor(f: &mut File, len: u64) -> Result<(u64, usize, Vec<u8>), DescriptorError> {
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

fn pin_vmdk_file(path: &Path, cid: u32) -> Result<()> {
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

    #[test]
    fn a_vhd_of_a_size_azure_refuses_is_not_made() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("disk.raw");
        File::create(&raw).unwrap().set_len(MIB + 512).unwrap();
        let d: crate::digest::Digest = format!("sha256:{}", "ef".repeat(32)).parse().unwrap();
        let e = convert(
            Format::Vhd,
            &raw,
            &dir.path().join("d.vhd"),
            &DiskIds::of(&d),
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("whole number of MiB"), "{e}");
        assert_eq!(crate::error::exit_code(&e), 2);
        let e = convert(
            Format::Qcow2,
            &raw,
            &dir.path().join("d"),
            &DiskIds::of(&d),
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("only vhd and vmdk"), "{e}");
        assert!(!dir.path().join("d.vhd").exists());
    }

    #[test]
    fn ids_are_derived_and_stable() {
        let d: crate::digest::Digest = format!("sha256:{}", "cd".repeat(32)).parse().unwrap();
        let ids = DiskIds::of(&d);
        assert_eq!(vmdk_cid(&ids), vmdk_cid(&DiskIds::of(&d)));
        assert_ne!(vmdk_cid(&ids), u32::MAX);
        assert_eq!(vhd_uuid(&ids), vhd_uuid(&DiskIds::of(&d)));
        assert_ne!(vhd_uuid(&ids), ids.disk_guid.0);
    }
}
