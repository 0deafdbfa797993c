//! The VM keys of a suite (`targets`, a boot test's `firmware`, `direct`, `cloud_init`)
//! and how a run expands them into results: one per firmware, one per command test in
//! the VM, each named and marked in every report format.

use super::fixture;
use crate::contract::*;
use crate::disk::Firmware;
use std::path::Path;

fn suite(body: &str) -> std::result::Result<Suite, crate::blueprint::BlueprintError> {
    parse_suite(
        Path::new("contract-tests/s.toml"),
        &format!("name = \"s\"\nversion = \"1.0.0\"\ndescription = \"d\"\n{body}"),
    )
}

fn boot(s: &Suite) -> &BootTest {
    match &s.tests[0].check {
        Check::Boot(b) => b,
        other => panic!("{other:?}"),
    }
}

#[test]
fn vm_keys_parse_with_their_defaults() {
    let s = suite("[[test]]\nname = \"a\"\nboot = { expect = \"x\" }\n").unwrap();
    assert_eq!(s.targets, [Target::Container]);
    let b = boot(&s);
    assert!(b.firmware.is_none() && !b.direct && b.cloud_init.is_none());

    let s = suite(
        "targets = [\"container\", \"vm\"]\n[[test]]\nname = \"a\"\n\
         boot = { expect = \"x\", firmware = [\"uefi\"], cloud_init = { user_data = \"#cloud-config\\nruncmd: []\\n\" } }\n",
    )
    .unwrap();
    assert_eq!(s.targets, [Target::Container, Target::Vm]);
    let b = boot(&s);
    assert_eq!(b.firmware.as_deref(), Some(&[Firmware::Uefi][..]));
    assert!(b
        .cloud_init
        .as_ref()
        .unwrap()
        .user_data
        .starts_with("#cloud-config"));

    // `append` alone means a direct boot (only a direct boot takes it).
    let s =
        suite("[[test]]\nname = \"a\"\nboot = { expect = \"x\", append = \"quiet\" }\n").unwrap();
    assert!(boot(&s).direct);
}

#[test]
fn an_unknown_firmware_is_bad_input_at_its_line_and_column() {
    let path = fixture("bad/unknown_firmware.toml");
    let err = load_suite(&path).unwrap_err();
    assert_eq!(err.file, path);
    assert_eq!((err.line, err.column), (Some(7), Some(49)), "{err}");
    let text = err.to_string();
    assert!(text.contains("unknown firmware \"efi\""), "{text}");
    assert!(text.contains("[\"bios\", \"uefi\"]"), "{text}");
    assert_eq!(crate::error::exit_code(&err.into()), 2);
}

#[test]
fn contradictory_vm_keys_are_refused_where_they_are_written() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "boot = { expect = \"x\", firmware = [] }",
            8,
            "`firmware` is empty",
        ),
        (
            "boot = { expect = \"x\", firmware = [\"bios\", \"bios\"] }",
            8,
            "listed twice",
        ),
        (
            "boot = { expect = \"x\", firmware = [\"bios\"], direct = true }",
            8,
            "`direct = true` boots without firmware",
        ),
        (
            "boot = { expect = \"x\", firmware = [\"bios\"], append = \"quiet\" }",
            8,
            "a firmware boot uses the disk's own",
        ),
        (
            "boot = { expect = \"x\", direct = false, append = \"quiet\" }",
            8,
            "says `direct = false`",
        ),
        (
            "boot = { expect = \"x\", cloud_init = { user_data = \"runcmd: []\" } }",
            8,
            "must start with `#cloud-config`",
        ),
        (
            "boot = { expect = \"x\", cloud_init = { userdata = \"#!/bin/sh\" } }",
            8,
            "unknown field `userdata`",
        ),
        (
            "boot = { expect = \"x\", firmware = \"bios\" }",
            8,
            "invalid type",
        ),
    ];
    for (test, line, words) in cases {
        let err = suite(&format!("\n\n[[test]]\nname = \"a\"\n{test}\n")).expect_err(test);
        assert_eq!(err.line, Some(*line), "{test}: {err}");
        assert!(err.to_string().contains(words), "{test}: {err}");
    }
    for (targets, words) in [
        ("[]", "`targets` is empty"),
        ("[\"vm\", \"cloud\"]", "unknown target \"cloud\""),
        ("[\"vm\", \"vm\"]", "listed twice"),
    ] {
        let err = suite(&format!(
            "targets = {targets}\n[[test]]\nname = \"a\"\ncommand = [\"true\"]\n"
        ))
        .expect_err(targets);
        assert_eq!(err.line, Some(4), "{err}");
        assert!(err.to_string().contains(words), "{targets}: {err}");
    }
}

/// A candidate whose disk boots under BIOS only (no qemu runs: every job here is decided
/// before a boot).
fn bios_only(root: &Path) -> Candidate {
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::write(root.join("boot/vmlinuz-6.1.0-1-amd64"), "k").unwrap();
    std::fs::write(root.join("boot/initrd.img-6.1.0-1-amd64"), "i").unwrap();
    let mut c = super::run_tests::candidate(root);
    c.vm = Some(crate::disk::qemu::VmTarget {
        disk: root.join("disk.qcow2"),
        format: crate::disk::Format::Qcow2,
        rootfs: root.to_path_buf(),
        boot: crate::disk::BootMode::Bios,
        root_partuuid: None,
        work: root.join("work"),
        options: Default::default(),
    });
    c
}

#[test]
fn the_vm_target_applies_only_to_a_candidate_with_a_kernel() {
    let root = tempfile::tempdir().unwrap();
    let s = suite(
        "targets = [\"container\", \"vm\"]\n[[test]]\nname = \"true\"\ncommand = [\"/bin/true\"]\n",
    )
    .unwrap();
    let c = super::run_tests::candidate(root.path());
    assert!(!c.is_vm());
    let r = run_suites(
        &c,
        std::slice::from_ref(&s),
        &AlwaysOk,
        &RunOptions::default(),
    );
    let names: Vec<&str> = r.suites[0]
        .results
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["true"]);
    assert!(bios_only(root.path()).is_vm());
}

/// An executor whose every command exits 0.
struct AlwaysOk;
impl Executor for AlwaysOk {
    fn run_command(&self, _: &Path, _: &CommandSpec) -> anyhow::Result<CommandOutput> {
        Ok(CommandOutput {
            exit_code: Some(0),
            ..Default::default()
        })
    }
    fn run_service(&self, _: &Path, _: &ServiceSpec) -> anyhow::Result<ServiceOutput> {
        unreachable!()
    }
}

#[test]
fn each_firmware_and_the_vm_target_are_results_of_their_own_in_every_format() {
    let root = tempfile::tempdir().unwrap();
    let s = suite(
        "targets = [\"container\", \"vm\"]\n\
         [[test]]\nname = \"boots\"\nboot = { expect = \"x\", firmware = [\"uefi\"] }\n\
         [[test]]\nname = \"true\"\ncommand = [\"/bin/true\"]\n",
    )
    .unwrap();
    // The image has no cloud-init: the vm results are errors naming it.
    let r = run_suites(
        &bios_only(root.path()),
        std::slice::from_ref(&s),
        &AlwaysOk,
        &RunOptions::default(),
    );
    let names: Vec<&str> = r.suites[0]
        .results
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["boots [uefi]", "true", "true [vm]"]);
    let [fw, container, vm] = &r.suites[0].results[..] else {
        panic!()
    };
    assert_eq!(fw.firmware, Some(Firmware::Uefi));
    assert!(
        matches!(&fw.outcome, Outcome::Failed { actual, .. } if actual.contains("boot = \"bios\""))
    );
    assert_eq!(
        (container.target, &container.outcome),
        (None, &Outcome::Passed)
    );
    assert_eq!(vm.target, Some(Target::Vm));
    assert!(
        matches!(&vm.outcome, Outcome::Error { message } if message.contains("install cloud-init"))
    );
    assert_eq!(r.exit_code(), 3);

    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let res = &json["suites"][0]["results"];
    assert_eq!(res[0]["firmware"], "uefi");
    assert_eq!(res[2]["target"], "vm");
    assert!(res[1].get("firmware").is_none() && res[1].get("target").is_none());
    assert_eq!(
        ContractReport::from_json(r.to_json().as_bytes()).unwrap(),
        r
    );
    let junit = r.to_junit();
    assert!(junit.contains("<testcase name=\"boots [uefi]\""), "{junit}");
    assert!(junit.contains("<testcase name=\"true [vm]\""), "{junit}");
    assert!(r.to_text().contains("true [vm] [command]"));

    // Without a VM disk, vm results are skipped with a reason, never passed.
    let r = run_suites(
        &super::run_tests::candidate(root.path()),
        &[s],
        &AlwaysOk,
        &RunOptions::default(),
    );
    let vm = &r.suites[0].results[2];
    assert!(
        matches!(&vm.outcome, Outcome::Skipped { reason } if reason.contains("no VM disk")),
        "{vm:?}"
    );
}
