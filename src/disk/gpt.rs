//! A GUID partition table, written natively: protective MBR, primary header and entry
//! array at the start, their backup at the end, CRC32s over both. Partitions start at
//! 1 MiB and the last ends 1 MiB before the end of the disk, so each is 1 MiB aligned
//! and the backup table has room.
//!
//! A disk without a boot loader has one partition, the root file system. A bootable one
//! has the layout of Debian's cloud images: a 1 MiB BIOS boot partition (GRUB's
//! `core.img`) when it boots under BIOS, a 127 MiB EFI system partition when it boots
//! under UEFI, and the root file system last, so that it can grow into a larger disk.

use super::ids::{DiskIds, Uuid};
use super::BootMode;
use anyhow::{bail, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;

pub const SECTOR: u64 = 512;
/// Partition alignment and the space kept before and after it.
pub const ALIGN: u64 = 1 << 20;
const ENTRIES: u32 = 128;
const ENTRY_SIZE: u32 = 128;
/// Sectors the entry array takes (128 × 128 bytes).
const ENTRY_SECTORS: u64 = (ENTRIES as u64 * ENTRY_SIZE as u64) / SECTOR;
const HEADER_SIZE: u32 = 92;

/// "Linux root (x86-64)" from the Discoverable Partitions Specification: systemd and
/// other tools find the root file system by this type.
pub const LINUX_ROOT_X86_64: &str = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
/// The root partition's GPT name.
pub const PARTITION_NAME: &str = "root-x86-64";
/// "BIOS boot partition": where GRUB's i386-pc `core.img` lives on a GPT disk.
pub const BIOS_BOOT: &str = "21686148-6449-6e6f-744e-656564454649";
/// "EFI System Partition".
pub const EFI_SYSTEM: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
/// Bytes of the BIOS boot partition.
pub const BIOS_BOOT_SIZE: u64 = ALIGN;
/// Bytes of the EFI system partition (FAT32 with 512-byte clusters, as Debian's images).
pub const ESP_SIZE: u64 = 127 * ALIGN;

/// One partition to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionSpec {
    pub type_guid: &'static str,
    pub guid: Uuid,
    pub name: &'static str,
    /// Byte offset and length, both whole MiB.
    pub offset: u64,
    pub size: u64,
}

/// Where things sit on a disk of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub disk_size: u64,
    pub boot: BootMode,
}

impl Layout {
    /// A disk of `disk_size` bytes, which must be a whole number of MiB and leave the root
    /// partition at least 1 MiB.
    pub fn new(disk_size: u64, boot: BootMode) -> Result<Layout> {
        let least = Layout::overhead(boot) + ALIGN;
        if !disk_size.is_multiple_of(ALIGN) || disk_size < least {
            bail!(
                "a disk size must be a whole number of MiB, at least {} MiB (got {disk_size} bytes)",
                least / ALIGN
            );
        }
        Ok(Layout { disk_size, boot })
    }
    /// Bytes of the disk that are not the root partition.
    pub fn overhead(boot: BootMode) -> u64 {
        let mut n = 2 * ALIGN;
        if boot.bios() {
            n += BIOS_BOOT_SIZE;
        }
        if boot.uefi() {
            n += ESP_SIZE;
        }
        n
    }
    fn sectors(&self) -> u64 {
        self.disk_size / SECTOR
    }
    /// Byte offset of the BIOS boot partition, when the disk boots under BIOS.
    pub fn bios_boot_offset(&self) -> Option<u64> {
        self.boot.bios().then_some(ALIGN)
    }
    /// Byte offset of the EFI system partition, when the disk boots under UEFI.
    pub fn esp_offset(&self) -> Option<u64> {
        self.boot
            .uefi()
            .then(|| ALIGN + if self.boot.bios() { BIOS_BOOT_SIZE } else { 0 })
    }
    /// Byte offset of the root partition.
    pub fn partition_offset(&self) -> u64 {
        self.disk_size - ALIGN - self.partition_size()
    }
    /// Bytes in the root partition.
    pub fn partition_size(&self) -> u64 {
        self.disk_size - Layout::overhead(self.boot)
    }
    /// The partitions in table order: BIOS boot, ESP, root (those the mode has).
    pub fn partitions(&self, ids: &DiskIds) -> Vec<PartitionSpec> {
        let mut v = Vec::new();
        if let Some(offset) = self.bios_boot_offset() {
            v.push(PartitionSpec {
                type_guid: BIOS_BOOT,
                guid: ids.bios_boot_guid,
                name: "bios-boot",
                offset,
                size: BIOS_BOOT_SIZE,
            });
        }
        if let Some(offset) = self.esp_offset() {
            v.push(PartitionSpec {
                type_guid: EFI_SYSTEM,
                guid: ids.esp_guid,
                name: "esp",
                offset,
                size: ESP_SIZE,
            });
        }
        v.push(PartitionSpec {
            type_guid: LINUX_ROOT_X86_64,
            guid: ids.partition_guid,
            name: PARTITION_NAME,
            offset: self.partition_offset(),
            size: self.partition_size(),
        });
        v
    }
}

/// The one partition as read back from a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub type_guid: Uuid,
    pub guid: Uuid,
    pub first_lba: u64,
    pub last_lba: u64,
    pub name: String,
}

/// What [`read`] finds in a disk's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub disk_guid: Uuid,
    pub partitions: Vec<Partition>,
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn protective_mbr(layout: &Layout) -> [u8; 512] {
    let mut m = [0u8; 512];
    let e = &mut m[446..462];
    e[0] = 0x00; // not bootable
    e[1..4].copy_from_slice(&[0x00, 0x02, 0x00]); // CHS of LBA 1
    e[4] = 0xEE; // GPT protective
    e[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
    put_u32(e, 8, 1);
    put_u32(
        e,
        12,
        u32::try_from(layout.sectors() - 1).unwrap_or(u32::MAX),
    );
    m[510] = 0x55;
    m[511] = 0xAA;
    m
}

fn entries(parts: &[PartitionSpec]) -> Vec<u8> {
    let mut a = vec![0u8; (ENTRIES * ENTRY_SIZE) as usize];
    for (p, e) in parts.iter().zip(a.chunks_mut(ENTRY_SIZE as usize)) {
        let t = Uuid::parse(p.type_guid).expect("a valid constant");
        e[0..16].copy_from_slice(&t.to_gpt_bytes());
        e[16..32].copy_from_slice(&p.guid.to_gpt_bytes());
        put_u64(e, 32, p.offset / SECTOR);
        put_u64(e, 40, (p.offset + p.size) / SECTOR - 1);
        put_u64(e, 48, 0); // attributes
        for (i, u) in p.name.encode_utf16().take(36).enumerate() {
            e[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
    }
    a
}

fn header(
    layout: &Layout,
    disk_guid: Uuid,
    entries_crc: u32,
    primary: bool,
) -> [u8; SECTOR as usize] {
    let last = layout.sectors() - 1;
    let (my, alternate, entries_lba) = if primary {
        (1, last, 2)
    } else {
        (last, 1, last - ENTRY_SECTORS)
    };
    let mut h = [0u8; SECTOR as usize];
    h[0..8].copy_from_slice(b"EFI PART");
    put_u32(&mut h, 8, 0x0001_0000);
    put_u32(&mut h, 12, HEADER_SIZE);
    put_u64(&mut h, 24, my);
    put_u64(&mut h, 32, alternate);
    put_u64(&mut h, 40, 2 + ENTRY_SECTORS); // first usable LBA
    put_u64(&mut h, 48, last - 1 - ENTRY_SECTORS); // last usable LBA
    h[56..72].copy_from_slice(&disk_guid.to_gpt_bytes());
    put_u64(&mut h, 72, entries_lba);
    put_u32(&mut h, 80, ENTRIES);
    put_u32(&mut h, 84, ENTRY_SIZE);
    put_u32(&mut h, 88, entries_crc);
    let crc = crc32fast::hash(&h[..HEADER_SIZE as usize]);
    put_u32(&mut h, 16, crc);
    h
}

/// Writes the protective MBR and both GPT copies onto `file`, a disk of `layout.disk_size`.
pub fn write(file: &File, layout: &Layout, ids: &DiskIds) -> Result<()> {
    let array = entries(&layout.partitions(ids));
    let disk_guid = ids.disk_guid;
    let crc = crc32fast::hash(&array);
    let last = layout.sectors() - 1;
    file.write_all_at(&protective_mbr(layout), 0)?;
    file.write_all_at(&header(layout, disk_guid, crc, true), SECTOR)?;
    file.write_all_at(&array, 2 * SECTOR)?;
    file.write_all_at(&array, (last - ENTRY_SECTORS) * SECTOR)?;
    file.write_all_at(&header(layout, disk_guid, crc, false), last * SECTOR)?;
    Ok(())
}

/// Reads and verifies a table: MBR signature, both headers and both entry arrays with
/// their CRCs, and that the copies agree. Returns the used entries.
pub fn read(file: &File) -> Result<Table> {
    let size = file.metadata()?.len();
    let sectors = size / SECTOR;
    if sectors < 68 {
        bail!("{size} bytes is too small for a GPT disk");
    }
    let mut mbr = [0u8; 512];
    file.read_exact_at(&mut mbr, 0)?;
    if mbr[510..512] != [0x55, 0xAA] || mbr[450] != 0xEE {
        bail!("no protective MBR");
    }
    let primary = read_copy(file, 1, sectors)?;
    let backup = read_copy(file, sectors - 1, sectors)?;
    if primary.1 != backup.1 || primary.0.disk_guid != backup.0.disk_guid {
        bail!("the primary and backup GPT differ");
    }
    Ok(primary.0)
}

fn read_copy(file: &File, lba: u64, sectors: u64) -> Result<(Table, Vec<u8>)> {
    let mut h = [0u8; SECTOR as usize];
    file.read_exact_at(&mut h, lba * SECTOR)?;
    if &h[0..8] != b"EFI PART" {
        bail!("no GPT header at LBA {lba}");
    }
    let size = get_u32(&h, 12) as usize;
    if !(HEADER_SIZE as usize..=SECTOR as usize).contains(&size) {
        bail!("GPT header at LBA {lba}: bad header size {size}");
    }
    let stored = get_u32(&h, 16);
    let mut z = h;
    put_u32(&mut z, 16, 0);
    if crc32fast::hash(&z[..size]) != stored {
        bail!("GPT header at LBA {lba}: CRC mismatch");
    }
    if get_u64(&h, 24) != lba || get_u64(&h, 32) != if lba == 1 { sectors - 1 } else { 1 } {
        bail!("GPT header at LBA {lba}: wrong own or alternate LBA");
    }
    let (n, esize) = (get_u32(&h, 80) as usize, get_u32(&h, 84) as usize);
    if esize < 128 || n * esize > 1 << 20 {
        bail!("GPT header at LBA {lba}: implausible entry array {n} × {esize}");
    }
    let mut array = vec![0u8; n * esize];
    file.read_exact_at(&mut array, get_u64(&h, 72) * SECTOR)?;
    if crc32fast::hash(&array) != get_u32(&h, 88) {
        bail!("GPT entries of the header at LBA {lba}: CRC mismatch");
    }
    let mut partitions = Vec::new();
    for e in array.chunks(esize) {
        if e[0..16].iter().all(|b| *b == 0) {
            continue;
        }
        let name: Vec<u16> = e[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|u| *u != 0)
            .collect();
        partitions.push(Partition {
            type_guid: Uuid::from_gpt_bytes(e[0..16].try_into().expect("16 bytes")),
            guid: Uuid::from_gpt_bytes(e[16..32].try_into().expect("16 bytes")),
            first_lba: get_u64(e, 32),
            last_lba: get_u64(e, 40),
            name: String::from_utf16_lossy(&name),
        });
    }
    let disk_guid = Uuid::from_gpt_bytes(h[56..72].try_into().expect("16 bytes"));
    Ok((
        Table {
            disk_guid,
            partitions,
        },
        array,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_table_that_reads_back_with_valid_crcs() {
        let t = tempfile::tempfile().unwrap();
        let layout = Layout::new(8 << 20, BootMode::None).unwrap();
        t.set_len(layout.disk_size).unwrap();
        let ids = DiskIds::of(&format!("sha256:{}", "cd".repeat(32)).parse().unwrap());
        let p = ids.partition_guid;
        write(&t, &layout, &ids).unwrap();
        let table = read(&t).unwrap();
        assert_eq!(table.disk_guid, ids.disk_guid);
        let [part] = table.partitions.as_slice() else {
            panic!("{table:?}")
        };
        assert_eq!(part.guid, p);
        assert_eq!(part.type_guid.to_string(), LINUX_ROOT_X86_64);
        assert_eq!(part.first_lba * SECTOR, layout.partition_offset());
        assert_eq!(
            (part.last_lba + 1 - part.first_lba) * SECTOR,
            layout.partition_size()
        );
        assert_eq!(part.name, PARTITION_NAME);
        // A flipped byte in the backup array is found.
        let last = layout.disk_size / SECTOR - 1;
        t.write_all_at(&[1], (last - 32) * SECTOR + 200).unwrap();
        assert!(read(&t).unwrap_err().to_string().contains("CRC"));
    }

    #[test]
    fn sizes_must_be_whole_mib() {
        assert!(Layout::new((8 << 20) + 512, BootMode::None).is_err());
        assert!(Layout::new(2 << 20, BootMode::None).is_err());
        assert!(Layout::new(130 << 20, BootMode::BiosUefi).is_err());
        assert!(Layout::new(131 << 20, BootMode::BiosUefi).is_ok());
    }

    #[test]
    fn a_bootable_disk_has_bios_boot_esp_and_root_last() {
        let t = tempfile::tempfile().unwrap();
        let layout = Layout::new(256 << 20, BootMode::BiosUefi).unwrap();
        t.set_len(layout.disk_size).unwrap();
        let ids = DiskIds::of(&format!("sha256:{}", "ef".repeat(32)).parse().unwrap());
        write(&t, &layout, &ids).unwrap();
        let parts = read(&t).unwrap().partitions;
        let got: Vec<_> = parts
            .iter()
            .map(|p| {
                (
                    p.type_guid.to_string(),
                    p.first_lba,
                    p.last_lba,
                    p.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (BIOS_BOOT.to_string(), 2048, 4095, "bios-boot"),
                (EFI_SYSTEM.to_string(), 4096, 264_191, "esp"),
                (
                    LINUX_ROOT_X86_64.to_string(),
                    264_192,
                    522_239,
                    PARTITION_NAME
                ),
            ]
        );
        assert_eq!(parts[2].guid, ids.partition_guid);
        let uefi = Layout::new(256 << 20, BootMode::Uefi).unwrap();
        assert_eq!(uefi.esp_offset(), Some(1 << 20));
        assert_eq!(uefi.partition_offset(), 128 << 20);
        assert_eq!(uefi.partitions(&ids).len(), 2);
    }
}
