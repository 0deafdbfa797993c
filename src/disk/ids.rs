//! The identities of a disk, derived from the image digest so that the same candidate
//! always gives the same disk: GPT disk GUID, partition GUID, ext4 UUID, ext4 directory
//! hash seed and label. Each is the first 16 bytes of sha256(`<digest>` + `/` + purpose),
//! stamped as an RFC 9562 version 8 UUID (the version for name-based UUIDs made with a
//! hash other than MD5 or SHA-1), so nothing is random and nothing collides across purposes.

use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use std::fmt;

/// A UUID in its big-endian (RFC) byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// A name-based UUID: sha256(`name`), truncated, with version 8 and the RFC variant.
    pub fn derive(name: &[u8]) -> Uuid {
        let h = Sha256::digest(name);
        let mut b = [0u8; 16];
        b.copy_from_slice(&h[..16]);
        b[6] = (b[6] & 0x0F) | 0x80;
        b[8] = (b[8] & 0x3F) | 0x80;
        Uuid(b)
    }

    /// Parses the 8-4-4-4-12 hex form.
    pub fn parse(s: &str) -> Option<Uuid> {
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        if hex.len() != 32 || s.len() != 36 {
            return None;
        }
        let mut b = [0u8; 16];
        hex::decode_to_slice(&hex, &mut b).ok()?;
        Some(Uuid(b))
    }

    /// The mixed-endian layout GPT (and UEFI) store GUIDs in: the first three fields
    /// little-endian, the last two as they are.
    pub fn to_gpt_bytes(self) -> [u8; 16] {
        let mut b = self.0;
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        b
    }

    pub fn from_gpt_bytes(mut b: [u8; 16]) -> Uuid {
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        Uuid(b)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Every identity of one disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiskIds {
    pub disk_guid: Uuid,
    /// The root partition's GUID (its PARTUUID, which the boot loader passes as `root=`).
    pub partition_guid: Uuid,
    pub bios_boot_guid: Uuid,
    pub esp_guid: Uuid,
    /// The ESP's FAT volume id (the first 4 bytes of its derived UUID).
    pub esp_volume_id: u32,
    pub filesystem_uuid: Uuid,
    pub hash_seed: Uuid,
    /// The ext4 volume label (at most 16 bytes): `cb-` and 12 hex digits of the digest,
    /// or `corebuild-root` on a bootable disk.
    pub label: String,
}

impl DiskIds {
    pub fn of(image: &Digest) -> DiskIds {
        let d = |purpose: &str| Uuid::derive(format!("{image}/{purpose}").as_bytes());
        let esp_fat = d("esp-volume-id").0;
        DiskIds {
            disk_guid: d("disk"),
            partition_guid: d("partition"),
            bios_boot_guid: d("bios-boot"),
            esp_guid: d("esp"),
            esp_volume_id: u32::from_be_bytes([esp_fat[0], esp_fat[1], esp_fat[2], esp_fat[3]]),
            filesystem_uuid: d("filesystem"),
            hash_seed: d("hash-seed"),
            label: format!("cb-{}", &image.hex()[..12]),
        }
    }
}

impl DiskIds {
    /// The ids of a disk of boot mode `boot`: a bootable disk's root file system has the
    /// fixed label [`ROOT_LABEL`](super::boot::ROOT_LABEL), which `/etc/fstab` can name.
    pub fn for_boot(mut self, boot: super::BootMode) -> DiskIds {
        if boot != super::BootMode::None {
            self.label = super::boot::ROOT_LABEL.to_string();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_distinct_and_version_8() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let a = DiskIds::of(&d);
        assert_eq!(a, DiskIds::of(&d));
        let all = [
            a.disk_guid,
            a.partition_guid,
            a.bios_boot_guid,
            a.esp_guid,
            a.filesystem_uuid,
            a.hash_seed,
        ];
        for (i, x) in all.iter().enumerate() {
            let s = x.to_string();
            assert_eq!(&s[14..15], "8", "{s}");
            assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
            assert_eq!(Uuid::parse(&s), Some(*x));
            assert!(all[i + 1..].iter().all(|y| y != x));
        }
        assert_eq!(a.label, "cb-abababababab");
        assert!(a.label.len() <= 16);
    }

    #[test]
    fn gpt_byte_order_is_mixed_endian() {
        // The Linux root (x86-64) partition type, as the Discoverable Partitions Spec
        // writes it and as it sits on disk.
        let t = Uuid::parse("4f68bce3-e8cd-4db1-96e7-fbcaf984b709").unwrap();
        assert_eq!(
            hex::encode(t.to_gpt_bytes()),
            "e3bc684fcde8b14d96e7fbcaf984b709"
        );
        assert_eq!(Uuid::from_gpt_bytes(t.to_gpt_bytes()), t);
    }
}
