//! The default seccomp filter of build steps and contract tests: a deny list in the
//! spirit of Docker's default profile, answering EPERM for the system calls a
//! container never needs and an escape would (new user namespaces, mounts, `ptrace`,
//! `bpf`, keyrings, kernel modules, `setns`, `reboot`…).
//!
//! Docker's profile is an allow list of ~350 names that must follow each kernel; a deny
//! list of the dangerous calls is smaller to review and does not break a new libc that
//! uses a new call. Anything not listed is allowed. Calls from the other ABIs of the
//! machine (i386 and x32 on x86_64) are filtered the same way: without that, `int 0x80`
//! would reach the 32-bit `unshare` past a filter written for x86_64 numbers.
//! runc resolves the names with libseccomp and skips names the kernel does not have.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

/// Denied with EPERM whatever their arguments.
pub const DENIED: &[&str] = &[
    // Namespaces: a new user namespace gives back every capability inside it.
    "unshare",
    "setns",
    // Mounts and the root: with them a process can reshape what it sees.
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    // Other processes' memory and the kernel's.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "lookup_dcookie",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    // Keyrings are not namespaced: a key added here is the host's.
    "keyctl",
    "add_key",
    "request_key",
    // Host-wide switches.
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "stime",
    "iopl",
    "ioperm",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vm86",
    "vm86old",
    // Files by handle bypass the mount namespace (the "shocker" escape).
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
];

/// `clone` flags that create a namespace: any of them makes `clone` fail with EPERM.
/// Without CAP_SYS_ADMIN the kernel already refuses all but CLONE_NEWUSER; denying
/// them all keeps the filter right if a profile ever grants it.
pub const CLONE_NAMESPACE_FLAGS: &[u64] = &[
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
];

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// The ABIs of this machine that the filter covers.
fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

fn errno(names: &[&str], ret: u32) -> anyhow::Result<LinuxSyscall> {
    Ok(LinuxSyscallBuilder::default()
        .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(ret)
        .build()?)
}

/// The profile: allow by default, EPERM for [`DENIED`] and for `clone` with a namespace
/// flag, ENOSYS for `clone3` (its flags sit in memory a filter cannot read; glibc then
/// falls back to `clone`, which the filter can check — Docker does the same).
pub fn default_profile() -> anyhow::Result<LinuxSeccomp> {
    let mut syscalls = vec![errno(DENIED, EPERM)?, errno(&["clone3"], ENOSYS)?];
    for flag in CLONE_NAMESPACE_FLAGS {
        let arg = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(*flag)
            .value_two(*flag)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()?;
        let mut rule = errno(&["clone"], EPERM)?;
        rule.set_args(Some(vec![arg]));
        syscalls.push(rule);
    }
    Ok(LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(architectures())
        .syscalls(syscalls)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_denies_the_escape_calls_with_eperm() {
        let p = serde_json::to_value(default_profile().unwrap()).unwrap();
        assert_eq!(p["defaultAction"], "SCMP_ACT_ALLOW");
        let rules = p["syscalls"].as_array().unwrap();
        let denied: Vec<&str> = rules[0]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        for name in [
            "unshare", "mount", "ptrace", "bpf", "keyctl", "setns", "reboot",
        ] {
            assert!(denied.contains(&name), "{name}");
        }
        assert_eq!(rules[0]["errnoRet"], 1);
        assert_eq!(rules[1]["names"][0], "clone3");
        let clone_rules: Vec<_> = rules.iter().filter(|r| r["names"][0] == "clone").collect();
        assert_eq!(clone_rules.len(), CLONE_NAMESPACE_FLAGS.len());
        let user = clone_rules
            .iter()
            .find(|r| r["args"][0]["value"] == 0x1000_0000u64)
            .unwrap();
        assert_eq!(user["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(user["args"][0]["valueTwo"], 0x1000_0000u64);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(p["architectures"].as_array().unwrap().len(), 3);
        }
    }
}
