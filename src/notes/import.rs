//! The technical notes' "VM disks" section: which disk files a release has, what firmware
//! each boots with, and how to import them into OpenStack, libvirt, Azure and VMware.
//! Only formats the release produced get instructions; the others are named as absent.

use crate::disk::{BootMode, Format};
use crate::notes::facts::{DiskFact, ReleaseFacts};
use std::fmt::Write;

/// The artifact type the catalog attaches a release's qcow2 under.
const QCOW2_ARTIFACT: &str = crate::catalog::DISK_MEDIA_TYPE;

pub fn render(f: &ReleaseFacts) -> String {
    let mut s = String::new();
    if f.disks.is_empty() {
        return s;
    }
    let _ = writeln!(s, "## VM disks\n");
    let _ = writeln!(s, "| format | file | boots with | for |\n|---|---|---|---|");
    for d in &f.disks {
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} |",
            d.format.as_str(),
            d.file,
            firmware_words(d.boot),
            platform(d.format)
        );
    }
    s.push('\n');
    let _ = writeln!(s, "{}\n", fetch_words(f));
    if f.packages.iter().any(|(n, _)| n == "cloud-init") {
        let _ = writeln!(
            s,
            "cloud-init is in the image: users, SSH keys and commands from the cloud's user \
             data apply on first boot.\n"
        );
    }
    for d in &f.disks {
        match d.format {
            Format::Qcow2 => {
                openstack(&mut s, &format!("{}-{}", f.name, f.version), d);
                libvirt(&mut s, &f.name, d);
            }
            Format::Vhd => azure(&mut s, d),
            Format::Vmdk => vmware(&mut s, d),
            Format::Raw => {}
        }
    }
    let absent: Vec<&str> = [
        (Format::Vhd, "vhd (Azure)"),
        (Format::Vmdk, "vmdk (VMware)"),
    ]
    .into_iter()
    .filter(|(fmt, _)| !f.disks.iter().any(|d| d.format == *fmt))
    .map(|(_, w)| w)
    .collect();
    if !absent.is_empty() {
        let _ = writeln!(s, "Not produced for this release: {}.\n", absent.join(", "));
    }
    s
}

fn firmware_words(b: BootMode) -> &'static str {
    match b {
        BootMode::BiosUefi => "BIOS and UEFI",
        BootMode::Bios => "BIOS",
        BootMode::Uefi => "UEFI",
        BootMode::None => "no boot loader (direct kernel boot only)",
    }
}

fn platform(f: Format) -> &'static str {
    match f {
        Format::Qcow2 => "OpenStack, libvirt/KVM, Proxmox",
        Format::Raw => "any hypervisor; `dd` to a block device",
        Format::Vhd => "Azure (fixed VHD)",
        Format::Vmdk => "VMware (streamOptimized)",
    }
}

fn fetch_words(f: &ReleaseFacts) -> String {
    format!(
        "The qcow2 is attached to the release: `corebuild catalog artifacts {n}:{v} --type \
         {QCOW2_ARTIFACT} --content > {n}-{v}.qcow2`. Every disk can also be made again from \
         the image, byte for byte: `corebuild pull {n}:{v} --out DIR`, then `corebuild disk \
         oci-layout:DIR:{v} --format FORMAT --out FILE`.",
        n = f.name,
        v = f.version
    )
}

/// Glance commands; `image` is the image name to create (`<name>-<version>`).
fn openstack(s: &mut String, image: &str, d: &DiskFact) {
    let _ = writeln!(s, "### OpenStack (Glance)\n\n```sh");
    if d.boot.uefi() {
        let _ = writeln!(
            s,
            "openstack image create --disk-format qcow2 --container-format bare \\\n  \
             --property hw_firmware_type=uefi --property hw_machine_type=q35 \\\n  \
             --file {} {image}",
            d.file
        );
    }
    if d.boot.bios() {
        if d.boot.uefi() {
            let _ = writeln!(s, "# or, for BIOS boot (the default firmware):");
        }
        let _ = writeln!(
            s,
            "openstack image create --disk-format qcow2 --container-format bare \\\n  \
             --file {} {image}",
            d.file
        );
    }
    let _ = writeln!(s, "```\n");
}

fn libvirt(s: &mut String, name: &str, d: &DiskFact) {
    let _ = writeln!(
        s,
        "### libvirt\n\nlibvirt writes to the disk it boots: give each VM an overlay.\n\n```sh\n\
         qemu-img create -f qcow2 -F qcow2 -b $PWD/{file} vm1.qcow2",
        file = d.file
    );
    let base = format!(
        "virt-install --name {}-vm1 --memory 1024 --vcpus 1 --osinfo linux2022 \\\n  \
         --disk path=vm1.qcow2,format=qcow2,bus=virtio --network default \\\n  \
         --graphics none --console pty,target_type=serial --import",
        name
    );
    if d.boot.uefi() {
        let _ = writeln!(s, "{base} --boot uefi");
    }
    if d.boot.bios() {
        if d.boot.uefi() {
            let _ = writeln!(s, "# or, with BIOS (SeaBIOS):");
        }
        let _ = writeln!(s, "{base}");
    }
    let _ = writeln!(
        s,
        "```\n\nAdd `--cloud-init user-data=FILE` (virt-install 3 and later) for a NoCloud seed.\n"
    );
}

fn azure(s: &mut String, d: &DiskFact) {
    let generation = if d.boot.uefi() { "V2" } else { "V1" };
    let _ = writeln!(
        s,
        "### Azure\n\n`{}` is a fixed VHD: upload it as a page blob (`az storage blob upload \
         --type page --file {}`), then `az image create --os-type Linux --hyper-v-generation \
         {generation} --source BLOB_URL` (V2 boots UEFI, V1 BIOS).\n",
        d.file, d.file
    );
}

fn vmware(s: &mut String, d: &DiskFact) {
    let _ = writeln!(
        s,
        "### VMware\n\n`{}` is a streamOptimized VMDK: `govc import.vmdk {}` (or vSphere's \
         upload), then attach it to a VM whose firmware is {}.\n",
        d.file,
        d.file,
        if d.boot.uefi() { "EFI" } else { "BIOS" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(format: Format, boot: BootMode) -> DiskFact {
        DiskFact {
            format,
            boot,
            file: format!("x-1.0.0.{}", format.as_str()),
        }
    }

    #[test]
    fn a_bios_only_disk_gets_bios_commands_only() {
        let mut s = String::new();
        openstack(&mut s, "x-1.0.0", &disk(Format::Qcow2, BootMode::Bios));
        libvirt(&mut s, "x", &disk(Format::Qcow2, BootMode::Bios));
        assert!(!s.contains("uefi"), "{s}");
        assert_eq!(s.matches("openstack image create").count(), 1);
        assert_eq!(s.matches("virt-install --name").count(), 1);
    }

    #[test]
    fn firmware_and_platform_words() {
        assert_eq!(firmware_words(BootMode::BiosUefi), "BIOS and UEFI");
        assert!(firmware_words(BootMode::None).contains("direct kernel"));
        assert_eq!(platform(Format::Vmdk), "VMware (streamOptimized)");
    }
}
