//! The `boot` test kind: boot the candidate's VM disk (made by `crate::disk`) and look
//! for the pattern on its serial console. A VM that does not show it fails the test with
//! the console's last lines; a qemu that cannot run is an error of the runner.

use super::report::Outcome;
use super::schema::BootTest;
use crate::disk::qemu::{self, VmTarget};

pub fn check(vm: Option<&VmTarget>, t: &BootTest) -> Outcome {
    let Some(vm) = vm else {
        return Outcome::Skipped {
            reason: "no VM disk to boot: boot tests run against the qcow2 export, which this run was not given".into(),
        };
    };
    match qemu::boot(vm, &t.expect.regex, t.timeout, t.append.as_deref()) {
        Ok(o) if o.matched => Outcome::Passed,
        Ok(o) => {
            let how = if o.timed_out {
                format!("no match within {}s", t.timeout.as_secs())
            } else {
                format!(
                    "the VM stopped ({}) after {:.1}s without it",
                    o.exit.as_deref().unwrap_or("qemu exited"),
                    o.elapsed.as_secs_f64()
                )
            };
            Outcome::failed(
                format!(
                    "the console shows /{}/ within {}s ({} accel, kernel command line `{}`)",
                    t.expect.source,
                    t.timeout.as_secs(),
                    vm.options.accel.as_str(),
                    o.cmdline
                ),
                format!("{how}; console tail:\n{}", o.tail),
            )
        }
        Err(e) => Outcome::error(format!("booting {}: {e:#}", vm.disk.display())),
    }
}
