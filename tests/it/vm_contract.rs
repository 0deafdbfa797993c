//! The VM side of the contract runner against real tools: the NoCloud seed read back by
//! mtools and fsck.fat; a systemd + cloud-init image booted directly in qemu (TCG) with
//! a seed whose runcmd prints a marker, and posix-base's command tests run inside it;
//! and, once disks boot from firmware, the same under SeaBIOS and OVMF.

use crate::util::*;
use corebuild::disk::qemu::Seed;
use std::path::Path;
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

fn results(report: &serde_json::Value, suite: &str) -> Vec<serde_json::Value> {
    report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == suite)
        .unwrap_or_else(|| panic!("no suite {suite} in {report:#}"))["results"]
        .as_array()
        .unwrap()
        .clone()
}

/// core-vm's exported qcow2 boots from SeaBIOS and from OVMF with no `-kernel`, reaches
/// multi-user.target and a login prompt, honours NoCloud user data, and passes posix-base's
/// command tests inside the VM. Then, on a copy whose disk is BIOS-only with a broken root
/// on its kernel command line: a UEFI test fails without booting, saying what to change,
/// and the BIOS boot fails (exit 1) with the initramfs's complaint in the console tail.
#[test]
fn core_vm_boots_from_firmware_and_passes_its_contract_inside_the_vm() {
    require("qemu-system-x86_64");
    assert!(
        Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd").is_file(),
        "install ovmf"
    );
    let ws = Ws::new();
    ws.minbase();
    let bp = ws.project_blueprint("core-vm");
    let o = ws
        .cb()
        .arg("test")
        .arg("--locked")
        .arg(&bp)
        .arg("--json")
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "{r:#}");
    let boot = results(&r, "vm-boot");
    let names: Vec<&str> = boot.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "boots to a login prompt [bios]",
            "boots to a login prompt [uefi]",
            "runs NoCloud user data [bios]",
            "runs NoCloud user data [uefi]",
        ]
    );
    assert_eq!(boot[1]["firmware"], "uefi");
    assert!(
        boot.iter().all(|t| t["outcome"]["status"] == "passed"),
        "{r:#}"
    );
    let posix = results(&r, "posix-base");
    let in_vm: Vec<_> = posix.iter().filter(|t| t["target"] == "vm").collect();
    assert!(in_vm.len() >= 5, "{r:#}");
    assert!(
        in_vm.iter().all(|t| t["outcome"]["status"] == "passed"),
        "{r:#}"
    );
    assert!(posix
        .iter()
        .any(|t| t["name"] == "root filesystem is not writable by tests [vm]"));

    // A BIOS-only disk whose kernel command line names a root that does not exist.
    let suites = ws.path().join("proj/contract-tests");
    std::fs::write(
        suites.join("vm-broken.toml"),
        "name = \"vm-broken\"\nversion = \"1.0.0\"\ndescription = \"d\"\n\
         [[test]]\nname = \"uefi\"\nboot = { expect = \"login: \", firmware = [\"uefi\"] }\n\
         [[test]]\nname = \"broken root\"\nboot = { expect = \"login: \", timeout = \"150s\" }\n",
    )
    .unwrap();
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let broken = toml
        .replace(
            "qcow2 = { size = \"2GiB\" }",
            "qcow2 = { size = \"2GiB\", boot = \"bios\", kernel_cmdline = [\"root=PARTUUID=00000000-0000-4000-8000-000000000000\", \"rootdelay=1\"] }",
        )
        .replace("suites = [\"posix-base\", \"vm-boot\"]", "suites = [\"vm-broken\"]");
    assert!(
        broken.contains("rootdelay=1") && broken.contains("[\"vm-broken\"]"),
        "core-vm changed: {toml}"
    );
    std::fs::write(bp.join("blueprint.toml"), broken).unwrap();
    let o = ws.cb().arg("test").arg(&bp).arg("--json").output().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    assert_eq!(o.status.code(), Some(1), "{r:#}");
    let res = results(&r, "vm-broken");
    assert_eq!(res[0]["name"], "uefi [uefi]");
    assert_eq!(res[0]["outcome"]["status"], "failed");
    let actual = res[0]["outcome"]["actual"].as_str().unwrap();
    assert!(actual.contains("bios"), "{actual}");
    assert_eq!(res[1]["name"], "broken root [bios]");
    assert_eq!(res[1]["outcome"]["status"], "failed", "{r:#}");
    let actual = res[1]["outcome"]["actual"].as_str().unwrap();
    assert!(actual.contains("console tail"), "{actual}");
    assert!(actual.contains("Gave up waiting for root"), "{actual}");
}
