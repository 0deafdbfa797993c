//! Bootable disks: which firmware a disk boots under ([`BootMode`]), and the pieces that
//! make it boot, all taken from the image itself and written without loop devices or
//! mounts: the GRUB images made by the image's own `grub-mkimage` in the OCI runtime,
//! the EFI system partition, the BIOS boot code, and `/boot/grub/grub.cfg`.

pub mod bios;
pub mod config;
pub mod esp;
pub mod grub;
pub mod requirements;
pub mod rootfile;

use serde::Serialize;

/// The ext4 label of a bootable disk's root file system: fixed, so that a core build's
/// `/etc/fstab` can say `LABEL=corebuild-root` (the partition GUID, which the boot loader
/// passes as `root=PARTUUID=…`, is derived from the image digest and cannot be in it).
pub const ROOT_LABEL: &str = "corebuild-root";
use std::fmt;

/// The firmware a disk is made to boot under (`[outputs] qcow2 = { boot = "…" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum BootMode {
    /// One root partition and no boot loader: booted with `-kernel` (direct) only.
    #[serde(rename = "none")]
    None,
    /// SeaBIOS and other legacy BIOS: GRUB's i386-pc `core.img` in a BIOS boot partition.
    #[serde(rename = "bios")]
    Bios,
    /// UEFI: GRUB's x86_64-efi image as `EFI/BOOT/BOOTX64.EFI` on an EFI system partition.
    #[serde(rename = "uefi")]
    Uefi,
    /// Both, as Debian's cloud images are.
    #[serde(rename = "bios+uefi")]
    BiosUefi,
}

/// One firmware a boot test runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    Bios,
    Uefi,
}

impl BootMode {
    pub const ALL: [BootMode; 4] = [
        BootMode::BiosUefi,
        BootMode::Uefi,
        BootMode::Bios,
        BootMode::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BootMode::None => "none",
            BootMode::Bios => "bios",
            BootMode::Uefi => "uefi",
            BootMode::BiosUefi => "bios+uefi",
        }
    }

    pub fn parse(s: &str) -> Option<BootMode> {
        BootMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn bios(self) -> bool {
        matches!(self, BootMode::Bios | BootMode::BiosUefi)
    }

    pub fn uefi(self) -> bool {
        matches!(self, BootMode::Uefi | BootMode::BiosUefi)
    }

    /// The firmware a disk of this mode boots under, BIOS first.
    pub fn firmwares(self) -> Vec<Firmware> {
        let mut v = Vec::new();
        if self.bios() {
            v.push(Firmware::Bios);
        }
        if self.uefi() {
            v.push(Firmware::Uefi);
        }
        v
    }
}

impl fmt::Display for BootMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Firmware {
    pub fn as_str(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }

    pub fn parse(s: &str) -> Option<Firmware> {
        [Firmware::Bios, Firmware::Uefi]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_name_their_firmware() {
        for m in BootMode::ALL {
            assert_eq!(BootMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(BootMode::parse("efi"), None);
        assert_eq!(
            BootMode::BiosUefi.firmwares(),
            [Firmware::Bios, Firmware::Uefi]
        );
        assert_eq!(BootMode::Uefi.firmwares(), [Firmware::Uefi]);
        assert!(BootMode::None.firmwares().is_empty());
        assert_eq!(Firmware::parse("uefi"), Some(Firmware::Uefi));
    }
}
