//! The `boot` test kind: boot the candidate's VM disk (made by `crate::disk`) under each
//! firmware it asks for (or the disk supports), or directly with the image's kernel, and
//! look for the pattern on its serial console after the kernel starts. A VM that does
//! not show it fails the test with the console's last lines; a qemu that cannot run is
//! an error of the runner.

use super::candidate::Candidate;
use super::report::Outcome;
use super::schema::BootTest;
use crate::disk::qemu::{self, BootRequest, How, Seed, VmTarget};
use crate::disk::{BootMode, Firmware};

/// One run of a boot test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootRun {
    /// No VM disk was made for this run.
    NoDisk,
    Direct,
    Firmware(Firmware),
    /// Asked for explicitly, but the disk was not made for it.
    Unsupported(Firmware),
}

impl BootRun {
    /// The firmware the run is about (its result carries it and its name says it).
    pub fn firmware(self) -> Option<Firmware> {
        match self {
            BootRun::Firmware(f) | BootRun::Unsupported(f) => Some(f),
            BootRun::NoDisk | BootRun::Direct => None,
        }
    }
}

/// The runs of `t` against `vm`: one per firmware, or one direct boot.
pub fn runs(vm: Option<&VmTarget>, t: &BootTest) -> Vec<BootRun> {
    let Some(vm) = vm else {
        return vec![BootRun::NoDisk];
    };
    let supported = vm.boot.firmwares();
    match &t.firmware {
        _ if t.direct => vec![BootRun::Direct],
        Some(asked) => asked
            .iter()
            .map(|f| match supported.contains(f) {
                true => BootRun::Firmware(*f),
                false => BootRun::Unsupported(*f),
            })
            .collect(),
        None if supported.is_empty() => vec![BootRun::Direct],
        None => supported.into_iter().map(BootRun::Firmware).collect(),
    }
}

pub fn check(c: &Candidate, t: &BootTest, run: BootRun) -> Outcome {
    let vm = match (run, c.vm.as_ref()) {
        (BootRun::NoDisk, _) | (_, None) => {
            return Outcome::Skipped {
                reason: "no VM disk to boot: boot tests run against the qcow2 export, which this run was not given".into(),
            }
        }
        (BootRun::Unsupported(f), Some(vm)) => return unsupported(f, vm.boot),
        (_, Some(vm)) => vm,
    };
    let how = match run {
        BootRun::Firmware(f) => How::Firmware(f),
        _ => How::Direct {
            append: t.append.as_deref(),
        },
    };
    let seed = t.cloud_init.as_ref().map(|ci| seed_for(c, &ci.user_data));
    if seed.is_some() && !has_cloud_init(c) {
        return Outcome::failed(
            "an image with cloud-init to read the NoCloud seed",
            "the image has no /usr/bin/cloud-init: install cloud-init (packages = [\"cloud-init\"])",
        );
    }
    let req = BootRequest {
        how,
        expect: &t.expect.regex,
        timeout: t.timeout,
        seed: seed.as_ref(),
    };
    match qemu::boot(vm, &req) {
        Ok(o) if o.matched => Outcome::Passed,
        Ok(o) => not_matched(t, vm, &o),
        Err(e) if crate::error::kind_of(&e) == crate::error::Kind::Input => Outcome::failed(
            format!("a VM that boots ({})", describe(how)),
            format!("{e:#}"),
        ),
        Err(e) => Outcome::error(format!("booting {}: {e:#}", vm.disk.display())),
    }
}

fn describe(how: How) -> String {
    match how {
        How::Firmware(f) => format!("firmware {f}"),
        How::Direct { .. } => "direct kernel boot".into(),
    }
}

fn unsupported(f: Firmware, boot: BootMode) -> Outcome {
    Outcome::failed(
        format!("a disk that boots under {f} firmware"),
        format!(
            "the candidate's disk was made with boot = \"{boot}\", which does not boot under {f}: \
             make it with boot = \"bios+uefi\" (or \"{f}\") in [outputs], or drop \"{f}\" from the test's firmware"
        ),
    )
}

fn not_matched(t: &BootTest, vm: &VmTarget, o: &qemu::BootOutcome) -> Outcome {
    let how = if !o.kernel_started {
        "the kernel never started (no `Linux version` banner on the console; a kernel booted \
         with `quiet` hides it, and only output after it counts)"
            .to_string()
    } else if o.timed_out {
        format!("no match within {}s", t.timeout.as_secs())
    } else {
        format!(
            "the VM stopped ({}) after {:.1}s without it",
            o.exit.as_deref().unwrap_or("qemu exited"),
            o.elapsed.as_secs_f64()
        )
    };
    let tail = match o.tail.as_str() {
        "" => "(empty: neither the firmware, a boot loader nor a kernel printed anything)",
        t => t,
    };
    Outcome::failed(
        format!(
            "the console shows /{}/ after the kernel starts, within {}s ({}, {} accel)",
            t.expect.source,
            t.timeout.as_secs(),
            o.started_as,
            vm.options.accel.as_str(),
        ),
        format!("{how}; console tail:\n{tail}"),
    )
}

/// The seed for `c`: its instance id from the candidate digest (a new candidate is a new
/// instance to cloud-init), its host name the image's own `/etc/hostname`.
pub fn seed_for(c: &Candidate, user_data: &str) -> Seed {
    Seed {
        user_data: user_data.to_string(),
        instance_id: format!("iid-corebuild-{}", &c.digest.hex()[..16]),
        local_hostname: image_hostname(c).unwrap_or_else(|| "corebuild".into()),
    }
}

/// The image's `/etc/hostname` (resolved inside the image), when it holds a valid name.
fn image_hostname(c: &Candidate) -> Option<String> {
    let fs = super::rootfs::RootFs::new(&c.rootfs);
    let found = fs.lookup("/etc/hostname", true).ok()??;
    let bytes = fs.read_limited(&found, 256).ok()??;
    let name = String::from_utf8(bytes).ok()?.trim().to_string();
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.');
    valid.then_some(name)
}

/// Whether the image has cloud-init (resolved inside the image).
pub fn has_cloud_init(c: &Candidate) -> bool {
    let fs = super::rootfs::RootFs::new(&c.rootfs);
    matches!(fs.lookup("/usr/bin/cloud-init", true), Ok(Some(f)) if f.meta.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::qemu::BootOptions;
    use crate::disk::Format;
    use std::path::PathBuf;

    fn vm(boot: BootMode) -> VmTarget {
        VmTarget {
            disk: PathBuf::from("/d"),
            format: Format::Qcow2,
            rootfs: PathBuf::from("/r"),
            boot,
            root_partuuid: None,
            work: PathBuf::from("/w"),
            options: BootOptions::default(),
        }
    }

    fn test(firmware: Option<Vec<Firmware>>, direct: bool) -> BootTest {
        BootTest {
            expect: crate::contract::values::pattern("x", true).unwrap(),
            timeout: std::time::Duration::from_secs(1),
            append: None,
            firmware,
            direct,
            cloud_init: None,
        }
    }

    #[test]
    fn a_test_runs_once_per_firmware_the_disk_supports_or_boots_directly() {
        const B: Firmware = Firmware::Bios;
        const U: Firmware = Firmware::Uefi;
        let both = vm(BootMode::BiosUefi);
        let fw = BootRun::Firmware;
        assert_eq!(runs(Some(&both), &test(None, false)), [fw(B), fw(U)]);
        assert_eq!(runs(Some(&both), &test(None, true)), [BootRun::Direct]);
        assert_eq!(
            runs(Some(&vm(BootMode::None)), &test(None, false)),
            [BootRun::Direct]
        );
        assert_eq!(
            runs(Some(&vm(BootMode::Bios)), &test(Some(vec![U, B]), false)),
            [BootRun::Unsupported(U), fw(B)]
        );
        assert_eq!(runs(None, &test(None, false)), [BootRun::NoDisk]);
        let o = unsupported(U, BootMode::Bios);
        let Outcome::Failed { actual, .. } = o else {
            panic!("{o:?}")
        };
        assert!(
            actual.contains("boot = \"bios\"") && actual.contains("bios+uefi"),
            "{actual}"
        );
    }
}
