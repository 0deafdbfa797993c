//! The VM side of the contract runner against real tools: the NoCloud seed read back by
//! mtools and fsck.fat; a systemd + cloud-init image booted directly in qemu (TCG) with
//! a seed whose runcmd prints a marker, and posix-base's command tests run inside it;
//! and, once disks boot from firmware, the same under SeaBIOS and OVMF.

use crate::util::*;
use corebuild::disk::qemu::Seed;
use std::path::{Path, PathBuf};
use std::process::Command;

fn seed() -> Seed {
    Seed {
        user_data: "#cloud-config\nruncmd:\n  - echo 'SEED-OK' > /dev/ttyS0\n".into(),
        instance_id: "iid-corebuild-0123456789abcdef".into(),
        local_hostname: "core-vm".into(),
    }
}

#[test]
fn the_seed_volume_is_a_clean_fat_labelled_cidata_with_both_files() {
    let fsck = require("fsck.fat");
    let mtype = require("mtype");
    let d = tempfile::tempdir().unwrap();
    let img = seed().write(d.path()).unwrap();
    // Only the image is left behind in the scratch directory.
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["seed.img"]);

    let check = Command::new(fsck).arg("-n").arg(&img).output().unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    let label = run_ok(
        Command::new(require("mlabel"))
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-s", "-i"])
            .arg(&img)
            .arg("::"),
    );
    assert!(
        stdout(&label).to_lowercase().contains("cidata"),
        "{}",
        stdout(&label)
    );
    let dir = run_ok(
        Command::new(require("mdir"))
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-b", "-i"])
            .arg(&img)
            .arg("::/"),
    );
    assert_eq!(
        stdout(&dir).lines().collect::<Vec<_>>(),
        ["::/user-data", "::/meta-data"]
    );
    let read = |name: &str| {
        stdout(&run_ok(
            Command::new(&mtype)
                .env("MTOOLS_SKIP_CHECK", "1")
                .arg("-i")
                .arg(&img)
                .arg(format!("::/{name}")),
        ))
    };
    assert_eq!(read("user-data"), seed().user_data);
    assert_eq!(
        read("meta-data"),
        "instance-id: \"iid-corebuild-0123456789abcdef\"\nlocal-hostname: \"core-vm\"\n"
    );
}

/// A Debian image with a kernel, systemd and cloud-init, on a disk without a boot loader
/// (booted directly), and the project's posix-base suite with the `vm` target.
fn cloud_image(ws: &Ws) -> PathBuf {
    ws.minbase();
    let root = ws.path().join("proj");
    std::fs::create_dir_all(root.join("blueprints")).unwrap();
    copy_dir(
        &repo_root().join("contract-tests"),
        &root.join("contract-tests"),
    );
    let posix = std::fs::read_to_string(root.join("contract-tests/posix-base.toml")).unwrap();
    let posix = posix.replacen(
        "\n[[test]]",
        "\ntargets = [\"container\", \"vm\"]\n\n[[test]]",
        1,
    );
    std::fs::write(root.join("contract-tests/posix-base.toml"), posix).unwrap();
    std::fs::write(
        root.join("contract-tests/vm-cloud.toml"),
        "name = \"vm-cloud\"\nversion = \"1.0.0\"\ndescription = \"cloud-init honours a NoCloud seed\"\n\
         [[test]]\nname = \"runcmd runs\"\n\
         boot = { expect = \"NOCLOUD-RUNCMD-OK vmci\", timeout = \"900s\", \
         cloud_init = { user_data = \"#cloud-config\\nruncmd:\\n  - echo NOCLOUD-RUNCMD-OK $(hostname) > /dev/ttyS0\\n\" } }\n",
    )
    .unwrap();
    let bp = root.join("blueprints/vm-ci");
    std::fs::create_dir_all(bp.join("files")).unwrap();
    std::fs::write(bp.join("files/hostname"), "vmci\n").unwrap();
    std::fs::write(bp.join("files/fstab"), "/dev/vda1 / ext4 defaults 0 1\n").unwrap();
    std::fs::write(
        bp.join("blueprint.toml"),
        r#"name = "vm-ci"
version = "1.0.0"
description = "minbase with a kernel, systemd and cloud-init"
epoch = 1735689600

[base]
ref = "debian-minbase:12"

[[layer]]
packages = ["linux-image-cloud-amd64", "systemd-sysv", "cloud-init"]

[[layer]]
files = [
  { src = "files/hostname", dest = "/etc/hostname", mode = "0644" },
  { src = "files/fstab", dest = "/etc/fstab", mode = "0644" },
]

[config]
env = { LANG = "C.UTF-8", PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }

[outputs]
qcow2 = { size = "3GiB", boot = "none" }

[contract]
suites = ["posix-base", "vm-cloud"]
"#,
    )
    .unwrap();
    bp
}

fn results(report: &serde_json::Value, suite: &str) -> Vec<serde_json::Value> {
    report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == suite)
        .unwrap_or_else(|| panic!("no suite {suite} in {report}"))["results"]
        .as_array()
        .unwrap()
        .clone()
}

/// One build (minbase + kernel + systemd + cloud-init: minutes of apt), two TCG boots in
/// parallel: the NoCloud runcmd marker, and posix-base's command tests inside the VM.
#[test]
fn a_direct_booted_cloud_image_honours_its_seed_and_passes_posix_base_inside_the_vm() {
    require("qemu-system-x86_64");
    require("mkfs.fat");
    require("mcopy");
    let ws = Ws::new();
    let bp = cloud_image(&ws);
    let o = ws.cb().arg("test").arg(&bp).arg("--json").output().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "{r:#}");

    let boot = results(&r, "vm-cloud");
    assert_eq!(
        boot.len(),
        1,
        "a boot = none disk boots once, directly: {boot:?}"
    );
    assert_eq!(boot[0]["name"], "runcmd runs");
    assert!(boot[0].get("firmware").is_none());
    assert_eq!(boot[0]["outcome"]["status"], "passed", "{boot:?}");

    let posix = results(&r, "posix-base");
    let vm: Vec<_> = posix.iter().filter(|t| t["target"] == "vm").collect();
    let commands = posix.iter().filter(|t| t["kind"] == "command").count();
    assert_eq!(
        vm.len() * 2,
        commands,
        "every command test runs in both: {posix:?}"
    );
    for t in &vm {
        assert!(t["name"].as_str().unwrap().ends_with(" [vm]"), "{t}");
        assert_eq!(t["outcome"]["status"], "passed", "{t}");
    }
    assert!(vm
        .iter()
        .any(|t| t["name"] == "root filesystem is not writable by tests [vm]"));
}

/// core-vm's disk once it boots from firmware (the lead's GPT + ESP + GRUB in
/// src/disk/boot/, and the systemd + cloud-init core-vm): the default boot test runs
/// under SeaBIOS and OVMF, each a result, and posix-base passes inside the VM.
#[test]
#[ignore = "needs bootable disks (src/disk/boot) and the systemd + cloud-init core-vm; run with --ignored once both are merged"]
fn core_vm_boots_under_seabios_and_ovmf_and_passes_posix_base_inside_the_vm() {
    require("qemu-system-x86_64");
    assert!(
        Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd").is_file(),
        "install ovmf"
    );
    let ws = Ws::new();
    ws.minbase();
    let bp = ws.project_blueprint("core-vm");
    let suites = ws.path().join("proj/contract-tests");
    std::fs::write(
        suites.join("vm-login.toml"),
        "name = \"vm-login\"\nversion = \"1.0.0\"\ndescription = \"d\"\ntargets = [\"container\", \"vm\"]\n\
         [[test]]\nname = \"login prompt\"\nboot = { expect = \"core-vm login: \", timeout = \"900s\" }\n\
         [[test]]\nname = \"seeded\"\nboot = { expect = \"SEEDED-OK\", timeout = \"900s\", \
         cloud_init = { user_data = \"#cloud-config\\nruncmd:\\n  - echo SEEDED-OK > /dev/ttyS0\\n\" } }\n\
         [[test]]\nname = \"sh\"\ncommand = [\"/bin/sh\", \"-c\", \"echo ok\"]\nstdout = \"^ok\\n$\"\n",
    )
    .unwrap();
    let o = ws
        .cb()
        .arg("test")
        .arg(&bp)
        .args(["--suite", "vm-login", "--json"])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "{r:#}");
    let login = results(&r, "vm-login");
    let names: Vec<&str> = login.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "login prompt [bios]",
            "login prompt [uefi]",
            "seeded [bios]",
            "seeded [uefi]",
            "sh",
            "sh [vm]"
        ]
    );
    assert_eq!(login[1]["firmware"], "uefi");
    assert_eq!(login[5]["target"], "vm");
}

/// A firmware the disk was not made for, asked for explicitly, fails the test (exit 1)
/// without booting; a broken root on a direct boot fails with the console tail.
#[test]
fn an_unsupported_firmware_fails_the_test_with_what_to_change() {
    require("qemu-system-x86_64");
    let ws = Ws::new();
    ws.minbase();
    let bp = ws.project_blueprint("core-vm");
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let toml = toml.replace(
        "qcow2 = { size = \"2GiB\" }",
        "qcow2 = { size = \"2GiB\", boot = \"none\" }",
    );
    assert!(
        toml.contains("boot = \"none\""),
        "core-vm's [outputs] changed: {toml}"
    );
    std::fs::write(bp.join("blueprint.toml"), toml).unwrap();
    let suites = ws.path().join("proj/contract-tests");
    std::fs::write(
        suites.join("vm-uefi.toml"),
        "name = \"vm-uefi\"\nversion = \"1.0.0\"\ndescription = \"d\"\n\
         [[test]]\nname = \"uefi\"\nboot = { expect = \"COREBUILD-BOOT-OK\", firmware = [\"uefi\"] }\n\
         [[test]]\nname = \"wrong root\"\nboot = { expect = \"COREBUILD-BOOT-OK\", timeout = \"300s\", append = \"root=/dev/vdz9 rootdelay=1\" }\n",
    )
    .unwrap();
    let o = ws
        .cb()
        .arg("test")
        .arg(&bp)
        .args(["--suite", "vm-uefi", "--json"])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    assert_eq!(o.status.code(), Some(1), "{r:#}");
    let res = results(&r, "vm-uefi");
    assert_eq!(res[0]["name"], "uefi [uefi]");
    assert_eq!(res[0]["firmware"], "uefi");
    assert_eq!(res[0]["outcome"]["status"], "failed");
    let actual = res[0]["outcome"]["actual"].as_str().unwrap();
    assert!(
        actual.contains("boot = \"none\"") && actual.contains("bios+uefi"),
        "{actual}"
    );

    assert_eq!(res[1]["name"], "wrong root");
    assert_eq!(res[1]["outcome"]["status"], "failed", "{r:#}");
    let actual = res[1]["outcome"]["actual"].as_str().unwrap();
    assert!(actual.contains("console tail"), "{actual}");
    // The initramfs gave up on the root device (its message, not the echoed command line).
    assert!(actual.contains("Gave up waiting for root"), "{actual}");
}
