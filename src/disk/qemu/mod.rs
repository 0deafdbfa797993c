//! Booting a disk in `qemu-system-x86_64` for the contract's `boot` tests and for command
//! tests inside the VM: under firmware (SeaBIOS, or OVMF with a per-run copy of its
//! variable store) through the disk's own boot loader, or directly with the image's own
//! `/boot/vmlinuz-*` and initrd; optionally with a NoCloud seed volume for cloud-init; the
//! console on the first serial port, watched for a pattern until a deadline. The disk is
//! attached with `snapshot=on`, so a boot never writes the artifact.
//!
//! Files: [`command`] (the qemu command line), [`console`] (what `expect` may see: only
//! output after the kernel starts, never the echoed command line), [`firmware`] (OVMF),
//! [`seed`] (the cloud-init seed volume). Each run's scratch files (the VARS copy, the
//! seed) live in a temporary directory removed when the run ends.
//!
//! Software emulation (TCG) is the default: it works everywhere, and on these machines
//! KVM stalls after the BIOS (nested virtualization). `Accel::Kvm` is there for hosts
//! where it works.

pub mod command;
pub mod console;
pub mod firmware;
pub mod seed;

pub use command::Start;
pub use console::{tail_text, Console};
pub use firmware::Ovmf;
pub use seed::Seed;

use super::{BootMode, Firmware, Format, Uuid};
use anyhow::{Context, Result};
use regex::bytes::Regex;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The emulator.
pub const QEMU: &str = "qemu-system-x86_64";
/// Lines of console the report shows when the pattern did not appear.
pub const TAIL_LINES: usize = 30;

/// Which accelerator qemu uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Software emulation: slow, works everywhere.
    #[default]
    Tcg,
    /// Hardware virtualization through /dev/kvm.
    Kvm,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// How to run the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOptions {
    pub accel: Accel,
    pub memory_mib: u32,
    /// The qemu binary (name or path).
    pub qemu: String,
    pub ovmf: Ovmf,
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            accel: Accel::Tcg,
            memory_mib: 1024,
            qemu: QEMU.to_string(),
            ovmf: Ovmf::default(),
        }
    }
}

/// A disk to boot, and the flattened image it was made from (for direct kernel boot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmTarget {
    pub disk: PathBuf,
    pub format: Format,
    pub rootfs: PathBuf,
    /// The firmware the disk boots under (`none`: direct kernel boot only).
    pub boot: BootMode,
    /// The root partition's GPT GUID, for `root=PARTUUID=` when a bootable disk is booted
    /// directly (its root is not the first partition).
    pub root_partuuid: Option<Uuid>,
    /// Where each run makes its scratch directory (the VARS copy, the seed volume).
    pub work: PathBuf,
    pub options: BootOptions,
}

/// The kernel command line of a direct boot before a test's own `append`, for a disk
/// whose root file system is its first partition (`boot = "none"`).
pub const BASE_CMDLINE: &str = "root=/dev/vda1 ro rootfstype=ext4 console=ttyS0 panic=-1";

/// How one boot starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How<'a> {
    Firmware(Firmware),
    /// The image's newest kernel, with `append` added to the command line.
    Direct {
        append: Option<&'a str>,
    },
}

/// One boot: how it starts, what the console must show, and what cloud-init is given.
#[derive(Debug, Clone, Copy)]
pub struct BootRequest<'a> {
    pub how: How<'a>,
    pub expect: &'a Regex,
    pub timeout: Duration,
    pub seed: Option<&'a Seed>,
}

/// What a boot showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOutcome {
    pub matched: bool,
    pub timed_out: bool,
    /// Whether the kernel's banner (`Linux version …`) appeared: before it nothing counts.
    pub kernel_started: bool,
    /// How qemu ended, when it ended on its own (`exit status: 0`).
    pub exit: Option<String>,
    pub elapsed: Duration,
    /// The console's last lines, cleaned of carriage returns and escape sequences.
    pub tail: String,
    /// The cleaned post-kernel console without command line echoes (bounded).
    pub transcript: Vec<u8>,
    /// `firmware bios`, `firmware uefi`, or `direct kernel boot, command line `…``.
    pub started_as: String,
}

/// The kernel command line of a direct boot of `target`, with `append` last (later
/// parameters win).
pub fn direct_cmdline(target: &VmTarget, append: Option<&str>) -> String {
    let mut cmdline = match (target.boot, target.root_partuuid) {
        (BootMode::None, _) | (_, None) => BASE_CMDLINE.to_string(),
        (_, Some(id)) => {
            format!("root=PARTUUID={id} ro rootfstype=ext4 console=ttyS0 panic=-1")
        }
    };
    if let Some(a) = append.map(str::trim).filter(|a| !a.is_empty()) {
        cmdline.push(' ');
        cmdline.push_str(a);
    }
    cmdline
}

/// Kills qemu if the boot ends early (an error, a panic).
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Boots `target` as `req` says and watches its console until `req.expect` matches, qemu
/// exits or `req.timeout` passes. `Ok` with `matched: false` means the VM ran but did
/// not show the pattern (the candidate is bad); `Err` means the boot could not be run
/// (no qemu, no firmware, no kernel to hand over: the environment or the input is bad).
pub fn boot(target: &VmTarget, req: &BootRequest) -> Result<BootOutcome> {
    std::fs::create_dir_all(&target.work)?;
    let scratch = tempfile::Builder::new()
        .prefix("vm-")
        .tempdir_in(&target.work)
        .context("making a scratch directory for the VM")?;
    let start = start(target, req.how, scratch.path())?;
    let seed = req.seed.map(|s| s.write(scratch.path())).transpose()?;
    let started_as = match &start {
        Start::Firmware { firmware, .. } => format!("firmware {firmware}"),
        Start::Direct { cmdline, .. } => format!("direct kernel boot, command line `{cmdline}`"),
    };
    let mut cmd = command::command(target, &start, seed.as_deref());
    let outcome = run(&mut cmd, &target.options.qemu, req)?;
    Ok(BootOutcome {
        started_as,
        ..outcome
    })
}

fn start(target: &VmTarget, how: How, scratch: &Path) -> Result<Start> {
    Ok(match how {
        How::Firmware(Firmware::Uefi) => Start::Firmware {
            firmware: Firmware::Uefi,
            vars: Some(target.options.ovmf.vars_copy(scratch)?),
        },
        How::Firmware(Firmware::Bios) => Start::Firmware {
            firmware: Firmware::Bios,
            vars: None,
        },
        How::Direct { append } => {
            let k = super::kernels::newest(&target.rootfs)?;
            Start::Direct {
                kernel: k.vmlinuz_host,
                initrd: k.initrd_host,
                cmdline: direct_cmdline(target, append),
            }
        }
    })
}

fn spawn(cmd: &mut std::process::Command, qemu: &str) -> Result<Vm> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            crate::error::environment(format!(
                "`{qemu}` is not installed (install it: apt-get install qemu-system-x86)"
            ))
        } else {
            anyhow::anyhow!(e).context(format!("starting {qemu}"))
        }
    })?;
    Ok(Vm(child))
}

/// Reads a pipe on a thread of its own, sending chunks until it closes.
fn pipe_reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

fn run(cmd: &mut std::process::Command, qemu: &str, req: &BootRequest) -> Result<BootOutcome> {
    let begin = Instant::now();
    let mut vm = spawn(cmd, qemu)?;
    let console_rx = pipe_reader(vm.0.stdout.take().expect("piped"));
    let mut stderr = vm.0.stderr.take().expect("piped");
    // qemu's own complaints are short; keep at most 64 KiB of them.
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = (&mut stderr).take(64 << 10).read_to_end(&mut s);
        s
    });
    let mut console = Console::new(req.expect);
    let timed_out = watch(&mut console, &console_rx, begin + req.timeout);
    let elapsed = begin.elapsed();
    let exit = if console.matched() || timed_out {
        None
    } else {
        // qemu closed its console: it has exited or is about to.
        Some(vm.0.wait().context("waiting for qemu")?.to_string())
    };
    drop(vm);
    let err = err_reader.join().unwrap_or_default();
    if console.is_empty() && exit.is_some() {
        // qemu that exits without showing anything did not run a VM: the runner broke
        // (exit 3). One that runs to the deadline with an empty console did start (under
        // SeaBIOS nothing prints until the boot loader does): that is the candidate's.
        return Err(crate::error::environment(format!(
            "{qemu} printed nothing on the console{}{}",
            exit.as_deref()
                .map(|e| format!(" and exited ({e})"))
                .unwrap_or_default(),
            match String::from_utf8_lossy(&err).trim() {
                "" => String::new(),
                msg => format!(": {}", tail_text(msg.as_bytes(), 8)),
            }
        )));
    }
    Ok(BootOutcome {
        matched: console.matched(),
        timed_out,
        kernel_started: console.kernel_started(),
        exit,
        elapsed,
        tail: console.tail(TAIL_LINES),
        transcript: console.transcript(),
        started_as: String::new(),
    })
}

/// Feeds the console until it matches, closes, or `deadline` passes; true on timeout.
fn watch(console: &mut Console, rx: &mpsc::Receiver<Vec<u8>>, deadline: Instant) -> bool {
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return true;
        };
        match rx.recv_timeout(left) {
            Ok(chunk) => {
                if console.push(&chunk) {
                    return false;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => return true,
            Err(mpsc::RecvTimeoutError::Disconnected) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(boot: BootMode, id: Option<Uuid>) -> VmTarget {
        VmTarget {
            disk: PathBuf::from("/d.qcow2"),
            format: Format::Qcow2,
            rootfs: PathBuf::from("/r"),
            boot,
            root_partuuid: id,
            work: PathBuf::from("/w"),
            options: BootOptions::default(),
        }
    }

    #[test]
    fn direct_boot_finds_the_root_by_partuuid_on_a_bootable_disk() {
        let id = Uuid::derive(b"x");
        assert_eq!(
            direct_cmdline(&target(BootMode::None, Some(id)), Some("  quiet ")),
            format!("{BASE_CMDLINE} quiet")
        );
        let c = direct_cmdline(&target(BootMode::BiosUefi, Some(id)), None);
        assert!(c.starts_with(&format!("root=PARTUUID={id} ro ")), "{c}");
    }

    #[test]
    fn a_qemu_that_cannot_start_is_an_environment_error() {
        let d = tempfile::tempdir().unwrap();
        let mut t = target(BootMode::Bios, None);
        t.work = d.path().to_path_buf();
        t.options.qemu = "/nonexistent/qemu-system-x86_64".into();
        let re = Regex::new("x").unwrap();
        let req = BootRequest {
            how: How::Firmware(Firmware::Bios),
            expect: &re,
            timeout: Duration::from_secs(5),
            seed: None,
        };
        let e = boot(&t, &req).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 3, "{e:#}");
        assert!(format!("{e:#}").contains("apt-get install qemu-system-x86"));
        // Its scratch directory is gone.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);

        // A "qemu" that starts but shows nothing (here: `false`) broke too.
        t.options.qemu = "false".into();
        let e = boot(&t, &req).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 3, "{e:#}");
        assert!(format!("{e:#}").contains("printed nothing"), "{e:#}");
    }

    #[test]
    fn a_vm_that_stays_silent_until_the_deadline_is_the_candidates_failure() {
        // Not a qemu: a program that runs and prints nothing, as SeaBIOS does on a disk
        // whose boot loader never starts.
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let silent = d.path().join("silent-vm");
        std::fs::write(&silent, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut t = target(BootMode::Bios, None);
        t.work = d.path().join("work");
        t.options.qemu = silent.to_string_lossy().into_owned();
        let re = Regex::new("x").unwrap();
        let req = BootRequest {
            how: How::Firmware(Firmware::Bios),
            expect: &re,
            timeout: Duration::from_millis(300),
            seed: None,
        };
        let o = boot(&t, &req).unwrap();
        assert!(o.timed_out && !o.matched && !o.kernel_started, "{o:?}");
        assert_eq!(o.started_as, "firmware bios");
    }
}
