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

mod vhd;
mod vmdk;

pub use vhd::{
    pin_vhd_footer, vhd_checksum, vhd_timestamp, vhd_uuid, FooterError, VhdFooter, DISK_TYPE_FIXED,
    FOOTER_LEN,
};
pub use vmdk::{
    descriptor_place, descriptor_region, pin_vmdk_cid, vmdk_cid, DescriptorError, VmdkDescriptor,
};

use super::ids::DiskIds;
use super::qemu_img::{self, Info};
use super::Format;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use vhd::pin_vhd_file;
use vmdk::{pin_vmdk_file, read_descriptor};

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

#[cfg(test)]
mod tests {
    use super::*;

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
