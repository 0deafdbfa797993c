//! The `vm` target: a suite's `command` tests run inside the candidate's booted VM disk.
//! The disk boots once per suite (its first supported firmware, or directly when it has
//! none; a throwaway snapshot) with a NoCloud seed whose `runcmd` runs the tests
//! ([`vm_script`](super::vm_script)); their results come back on the serial console
//! ([`vm_results`](super::vm_results)) and are judged by the same
//! [`evaluate_command`](super::evaluate_command) as in the container.

use super::boot_check::{has_cloud_init, seed_for};
use super::candidate::Candidate;
use super::command_check::evaluate_command;
use super::report::Outcome;
use super::schema::CommandTest;
use super::vm_results::{self, VmResults};
use super::vm_script::{self, VmCommand, SANDBOX_FAILED};
use crate::disk::qemu::{self, BootRequest, How};
use std::time::Duration;

/// Time for the VM to boot and cloud-init to reach `runcmd`, on top of the tests' own
/// timeouts (TCG is slow).
const BOOT_BUDGET: Duration = Duration::from_secs(600);

/// One outcome per test of `tests`, in order.
pub fn run(c: &Candidate, tests: &[&CommandTest]) -> Vec<Outcome> {
    let all = |o: Outcome| vec![o; tests.len()];
    let Some(vm) = c.vm.as_ref() else {
        return all(Outcome::Skipped {
            reason: "no VM disk: the suite's `vm` target runs in the candidate's qcow2 export, which this run was not given".into(),
        });
    };
    if !has_cloud_init(c) {
        return all(Outcome::error(
            "the image has no cloud-init (/usr/bin/cloud-init), which runs the command tests in the VM: \
             install cloud-init (packages = [\"cloud-init\"]) or drop \"vm\" from the suite's targets",
        ));
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; tests.len()];
    let mut runnable = Vec::new();
    for (i, t) in tests.iter().enumerate() {
        match resolve(c, t) {
            Ok(cmd) => runnable.push((i, cmd)),
            Err(e) => outcomes[i] = Some(Outcome::error(format!("preparing the VM run: {e:#}"))),
        }
    }
    let cmds: Vec<VmCommand> = runnable.iter().map(|(_, c)| c.clone()).collect();
    let nonce = nonce();
    let seed = seed_for(c, &vm_script::user_data(&vm_script::script(&nonce, &cmds)));
    let end = regex::bytes::Regex::new(&regex::escape(&format!("{} {nonce} end", vm_script::TAG)))
        .expect("an escaped literal is a valid regex");
    let how = match vm.boot.firmwares().first() {
        Some(f) => How::Firmware(*f),
        None => How::Direct { append: None },
    };
    let timeout = BOOT_BUDGET
        + cmds
            .iter()
            .map(|c| Duration::from_millis(c.timeout_ms) + Duration::from_secs(7))
            .sum::<Duration>();
    let req = BootRequest {
        how,
        expect: &end,
        timeout,
        seed: Some(&seed),
    };
    let booted = qemu::boot(vm, &req);
    for (k, (i, _)) in runnable.iter().enumerate() {
        outcomes[*i] = Some(match &booted {
            Err(e) => Outcome::error(format!(
                "booting {} for the vm target: {e:#}",
                vm.disk.display()
            )),
            Ok(o) => {
                let parsed = vm_results::parse(&o.transcript, &nonce, cmds.len());
                judge(tests[*i], &parsed, k, o)
            }
        });
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every test has an outcome"))
        .collect()
}

fn judge(t: &CommandTest, parsed: &VmResults, k: usize, o: &qemu::BootOutcome) -> Outcome {
    match parsed.get(k) {
        Ok(out)
            if out.exit_code == Some(125) && out.stderr.starts_with(SANDBOX_FAILED.as_bytes()) =>
        {
            Outcome::error(format!(
                "the VM could not sandbox the test: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
        Ok(out) => evaluate_command(t, &out),
        Err(why) => Outcome::failed(
            format!("a result from inside the VM ({})", o.started_as),
            format!("{why}; console tail:\n{}", o.tail),
        ),
    }
}

/// The test as the guest runs it: the user resolved in the image's /etc/passwd and
/// /etc/group, the environment as the container's (the image's, the test's over it,
/// PATH and HOME defaulted).
fn resolve(c: &Candidate, t: &CommandTest) -> anyhow::Result<VmCommand> {
    if t.spec
        .argv
        .iter()
        .chain(t.spec.env.values())
        .any(|a| a.contains('\0'))
    {
        anyhow::bail!(
            "an argument or environment value holds a NUL byte, which no command line can carry"
        );
    }
    let user = crate::runtime::user::resolve_user(&c.rootfs, t.spec.user.as_deref())?;
    let mut env = c
        .config
        .config()
        .as_ref()
        .and_then(|cfg| cfg.env().clone())
        .unwrap_or_default();
    crate::build::image::set_env(&mut env, &t.spec.env);
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    if !has(&env, "PATH") {
        env.push(crate::runtime::spec::DEFAULT_PATH.to_string());
    }
    if !has(&env, "HOME") {
        env.push(format!("HOME={}", user.home));
    }
    Ok(VmCommand {
        argv: t.spec.argv.clone(),
        env,
        uid: user.uid,
        gid: user.gid,
        groups: user.additional_gids,
        timeout_ms: u64::try_from(t.spec.timeout.as_millis()).unwrap_or(u64::MAX),
    })
}

/// A fresh random tag for one run's result lines.
fn nonce() -> String {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let d = crate::digest::Digest::of_bytes(&[&b[..], &t.to_le_bytes()].concat());
    d.hex()[..16].to_string()
}
