//! The qemu command line of one boot: the machine, the console on the first serial port,
//! the disk under test (always `snapshot=on`: a boot never writes the artifact), how it
//! starts (firmware, or the image's kernel handed over directly), the NoCloud seed and a
//! network card on an isolated user-mode network.

use super::{Accel, VmTarget};
use crate::disk::Firmware;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the VM starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The firmware boots the disk's own boot loader. For UEFI, `vars` is this run's
    /// writable copy of the variable store.
    Firmware {
        firmware: Firmware,
        vars: Option<PathBuf>,
    },
    /// qemu loads the image's kernel and initrd itself (`-kernel`, `-initrd`, `-append`).
    Direct {
        kernel: PathBuf,
        initrd: PathBuf,
        cmdline: String,
    },
}

/// The qemu command line for one boot.
pub fn command(target: &VmTarget, start: &Start, seed: Option<&Path>) -> Command {
    let o = &target.options;
    let mut c = Command::new(&o.qemu);
    c.args(["-machine", "q35", "-accel", o.accel.as_str()]);
    if o.accel == Accel::Kvm {
        c.args(["-cpu", "host"]);
    }
    c.arg("-m").arg(o.memory_mib.to_string()).args([
        "-smp",
        "1",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-no-reboot",
    ]);
    match start {
        Start::Firmware { firmware, vars } => {
            if *firmware == Firmware::Uefi {
                c.arg("-drive").arg(format!(
                    "if=pflash,format=raw,readonly=on,file={}",
                    escape(&o.ovmf.code)
                ));
                if let Some(v) = vars {
                    c.arg("-drive")
                        .arg(format!("if=pflash,format=raw,file={}", escape(v)));
                }
            }
            // BIOS: qemu's default SeaBIOS, nothing to add.
        }
        Start::Direct {
            kernel,
            initrd,
            cmdline,
        } => {
            c.arg("-kernel")
                .arg(kernel)
                .arg("-initrd")
                .arg(initrd)
                .arg("-append")
                .arg(cmdline);
        }
    }
    // The disk first, so it is /dev/vda and the firmware's first boot choice.
    c.arg("-drive").arg(format!(
        "file={},if=none,id=disk0,format={},snapshot=on",
        escape(&target.disk),
        target.format.as_str()
    ));
    // Under firmware the disk is the first boot choice; with -kernel qemu's own boot
    // ROM already holds bootindex 0 (and qemu refuses a second).
    c.arg("-device").arg(match start {
        Start::Firmware { .. } => "virtio-blk-pci,drive=disk0,bootindex=0",
        Start::Direct { .. } => "virtio-blk-pci,drive=disk0",
    });
    if let Some(s) = seed {
        c.arg("-drive").arg(format!(
            "file={},if=none,id=seed0,format=raw,snapshot=on",
            escape(s)
        ));
        c.args(["-device", "virtio-blk-pci,drive=seed0"]);
    }
    // A network card so DHCP (and units waiting for the network) finish quickly;
    // `restrict=on` keeps the guest off the host and the internet, and no option ROM
    // means the firmware does not try a network boot.
    c.args([
        "-netdev",
        "user,id=net0,restrict=on",
        "-device",
        "virtio-net-pci,netdev=net0,romfile=",
    ]);
    c
}

/// qemu's option syntax doubles a comma inside a value.
fn escape(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::qemu::BootOptions;
    use crate::disk::{BootMode, Format};

    fn target() -> VmTarget {
        VmTarget {
            disk: PathBuf::from("/s/a,b.qcow2"),
            format: Format::Qcow2,
            rootfs: PathBuf::from("/r"),
            boot: BootMode::BiosUefi,
            root_partuuid: None,
            work: PathBuf::from("/w"),
            options: BootOptions::default(),
        }
    }

    fn args(c: &Command) -> Vec<String> {
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn values_of(args: &[String], flag: &str) -> Vec<String> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
    }

    #[test]
    fn bios_boots_the_snapshotted_disk_with_the_default_firmware() {
        let a = args(&command(
            &target(),
            &Start::Firmware {
                firmware: Firmware::Bios,
                vars: None,
            },
            None,
        ));
        assert_eq!(
            values_of(&a, "-drive"),
            ["file=/s/a,,b.qcow2,if=none,id=disk0,format=qcow2,snapshot=on"]
        );
        assert!(values_of(&a, "-device").contains(&"virtio-blk-pci,drive=disk0,bootindex=0".into()));
        assert!(!a
            .iter()
            .any(|x| x == "-kernel" || x == "-bios" || x.contains("pflash")));
        assert!(a.windows(2).any(|w| w == ["-accel", "tcg"]));
        assert!(a.windows(2).any(|w| w == ["-serial", "stdio"]));
        assert!(a.contains(&"-no-reboot".to_string()));
        assert!(values_of(&a, "-netdev")[0].contains("restrict=on"));
    }

    #[test]
    fn uefi_uses_the_4m_code_read_only_and_this_runs_vars_copy() {
        let a = args(&command(
            &target(),
            &Start::Firmware {
                firmware: Firmware::Uefi,
                vars: Some(PathBuf::from("/w/run1/OVMF_VARS.fd")),
            },
            None,
        ));
        let drives = values_of(&a, "-drive");
        assert_eq!(
            drives[..2],
            [
                "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                "if=pflash,format=raw,file=/w/run1/OVMF_VARS.fd"
            ]
        );
        assert!(drives[2].ends_with("snapshot=on"));
        assert!(!a.iter().any(|x| x == "-kernel"));
    }

    #[test]
    fn direct_boot_hands_over_the_kernel_and_the_seed_is_a_second_snapshotted_drive() {
        let a = args(&command(
            &target(),
            &Start::Direct {
                kernel: PathBuf::from("/r/boot/vmlinuz-6.1"),
                initrd: PathBuf::from("/r/boot/initrd.img-6.1"),
                cmdline: "root=/dev/vda1 ro".into(),
            },
            Some(Path::new("/w/run2/seed.img")),
        ));
        assert_eq!(values_of(&a, "-kernel"), ["/r/boot/vmlinuz-6.1"]);
        assert_eq!(values_of(&a, "-initrd"), ["/r/boot/initrd.img-6.1"]);
        assert_eq!(values_of(&a, "-append"), ["root=/dev/vda1 ro"]);
        let drives = values_of(&a, "-drive");
        assert!(drives[0].starts_with("file=/s/a,,b.qcow2,"));
        assert_eq!(
            drives[1],
            "file=/w/run2/seed.img,if=none,id=seed0,format=raw,snapshot=on"
        );
        let devices = values_of(&a, "-device");
        assert_eq!(devices[0], "virtio-blk-pci,drive=disk0");
        assert_eq!(devices[1], "virtio-blk-pci,drive=seed0");
        assert!(!devices.iter().any(|d| d.contains("bootindex")));
        assert!(!a.iter().any(|x| x.contains("pflash")));
    }
}
