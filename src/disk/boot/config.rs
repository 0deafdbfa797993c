//! The GRUB configuration a bootable disk carries: the small config embedded in each GRUB
//! image (find the root file system by its UUID, look for the rest there) and
//! `/boot/grub/grub.cfg` with one menu entry per kernel of the image, newest first.
//!
//! Every module the configuration needs is built into the GRUB images, so nothing is
//! loaded from the root file system but `grub.cfg` itself, the kernel and the initrd.

use crate::disk::ids::DiskIds;
use crate::disk::kernels::Kernel;

/// The kernel parameters every entry starts with (before `root=` and the blueprint's).
pub const CONSOLES: &str = "console=tty0 console=ttyS0,115200";

/// GRUB modules built into both images: GPT, ext4, finding a file system by UUID,
/// normal mode with its configuration, Linux, and a serial terminal.
pub const COMMON_MODULES: &[&str] = &[
    "part_gpt",
    "ext2",
    "search",
    "search_fs_uuid",
    "normal",
    "configfile",
    "linux",
    "echo",
    "test",
    "serial",
    "terminal",
    "boot",
];
/// Added for the i386-pc image (BIOS disk access).
pub const BIOS_MODULES: &[&str] = &["biosdisk"];
/// Added for the x86_64-efi image (the ESP and the firmware's frame buffer).
pub const EFI_MODULES: &[&str] = &["fat", "efi_gop", "all_video"];

/// Where `grub.cfg` lives on the root file system (`-p` of grub-mkimage).
pub const PREFIX: &str = "/boot/grub";

/// The configuration embedded in each GRUB image: set `root` to the root file system
/// (found by UUID, so any disk order works) and the prefix to its `/boot/grub`.
pub fn early(ids: &DiskIds) -> String {
    format!(
        "search --no-floppy --fs-uuid --set=root {uuid}\nset prefix=($root){PREFIX}\n",
        uuid = ids.filesystem_uuid
    )
}

/// What `grub.cfg` is made from.
pub struct MenuInput<'a> {
    /// The image's name and version, for the entry titles.
    pub title: &'a str,
    pub kernels: &'a [Kernel],
    pub ids: &'a DiskIds,
    /// Appended after the consoles, in order.
    pub kernel_cmdline: &'a [String],
}

/// Whether `p` is one kernel parameter that is safe to write unquoted into grub.cfg's
/// `linux` line: letters, digits and `._,:=/+@%-~[]` only. The blueprint's
/// `kernel_cmdline` and `corebuild disk --kernel-cmdline` are both held to it.
pub fn is_plain_param(p: &str) -> bool {
    !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._,:=/+@%-~[]".contains(c))
}

/// The kernel command line of every entry.
pub fn cmdline(ids: &DiskIds, extra: &[String]) -> String {
    let mut s = format!("root=PARTUUID={} ro {CONSOLES}", ids.partition_guid);
    for p in extra {
        s.push(' ');
        s.push_str(p);
    }
    s
}

/// `/boot/grub/grub.cfg`: the serial console, no menu delay, one entry per kernel.
pub fn grub_cfg(m: &MenuInput<'_>) -> String {
    let mut s = String::from(
        "# Made by corebuild from the image's kernels when the disk was exported.\n\
         set default=0\nset timeout=0\n\
         serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n\
         terminal_input serial console\nterminal_output serial console\n",
    );
    let args = cmdline(m.ids, m.kernel_cmdline);
    for k in m.kernels {
        s.push_str(&format!(
            "menuentry '{title}, Linux {v}' --id 'linux-{v}' {{\n\
             \tsearch --no-floppy --fs-uuid --set=root {uuid}\n\
             \tlinux {vmlinuz} {args}\n\
             \tinitrd {initrd}\n}}\n",
            title = quote_safe(m.title),
            v = quote_safe(&k.version),
            uuid = m.ids.filesystem_uuid,
            vmlinuz = k.vmlinuz,
            initrd = k.initrd,
        ));
    }
    s
}

/// Drops what could end a single-quoted GRUB word (a `'`) or a line.
fn quote_safe(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\'' && !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn kernel(v: &str) -> Kernel {
        Kernel {
            version: v.into(),
            vmlinuz: format!("/boot/vmlinuz-{v}"),
            initrd: format!("/boot/initrd.img-{v}"),
            vmlinuz_host: PathBuf::new(),
            initrd_host: PathBuf::new(),
        }
    }

    #[test]
    fn entries_follow_the_kernels_and_carry_root_consoles_and_extras() {
        let ids = DiskIds::of(&format!("sha256:{}", "12".repeat(32)).parse().unwrap());
        let ks = [kernel("6.1.0-10-amd64"), kernel("6.1.0-9-amd64")];
        let extra = ["quiet".to_string(), "net.ifnames=0".to_string()];
        let cfg = grub_cfg(&MenuInput {
            title: "core-vm 2.0.0",
            kernels: &ks,
            ids: &ids,
            kernel_cmdline: &extra,
        });
        let first = cfg.find("Linux 6.1.0-10-amd64").unwrap();
        let second = cfg.find("Linux 6.1.0-9-amd64").unwrap();
        assert!(first < second, "{cfg}");
        let line = format!(
            "\tlinux /boot/vmlinuz-6.1.0-10-amd64 root=PARTUUID={} ro console=tty0 console=ttyS0,115200 quiet net.ifnames=0\n",
            ids.partition_guid
        );
        assert!(cfg.contains(&line), "{cfg}");
        assert!(cfg.contains("\tinitrd /boot/initrd.img-6.1.0-9-amd64\n"));
        assert_eq!(cfg.matches(&ids.filesystem_uuid.to_string()).count(), 2);
        assert!(early(&ids).contains(&format!("--fs-uuid --set=root {}", ids.filesystem_uuid)));
    }

    #[test]
    fn only_plain_parameters_pass() {
        for ok in [
            "quiet",
            "console=ttyS0,115200",
            "root=PARTUUID=ab-cd",
            "a.b[0]=~x",
        ] {
            assert!(is_plain_param(ok), "{ok}");
        }
        for bad in ["", "a b", "x'y", "}", "a;reboot", "$x", "a\nb", "\"q\""] {
            assert!(!is_plain_param(bad), "{bad:?}");
        }
    }

    #[test]
    fn titles_cannot_break_out_of_their_quotes() {
        assert_eq!(quote_safe("a'b\nc"), "abc");
    }
}
