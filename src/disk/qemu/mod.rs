//! Booting a disk in `qemu-system-x86_64` for the contract's `boot` tests: direct kernel
//! boot with the image's own `/boot/vmlinuz-*` and initrd, the root file system from the
//! disk's partition, the console on the first serial port, and a watch on that console
//! for a pattern until a deadline. The disk is attached with `snapshot=on`, so a boot
//! never writes the artifact.
//!
//! Software emulation (TCG) is the default: it works everywhere, and on these machines
//! KVM stalls after the BIOS (nested virtualization). `Accel::Kvm` is there for hosts
//! where it works.

use super::Format;
use anyhow::{bail, Context, Result};
use regex::bytes::Regex;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The emulator.
pub const QEMU: &str = "qemu-system-x86_64";
/// Console bytes kept for matching and for the report's tail.
const CONSOLE_LIMIT: usize = 4 << 20;
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
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            accel: Accel::Tcg,
            memory_mib: 1024,
            qemu: QEMU.to_string(),
        }
    }
}

/// A disk to boot, and the flattened image it was made from (for the kernel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmTarget {
    pub disk: PathBuf,
    pub format: Format,
    pub rootfs: PathBuf,
    pub options: BootOptions,
}

/// The kernel command line before a test's own `append`: the root file system is the
/// disk's first partition, read-only until the image's init decides otherwise.
pub const BASE_CMDLINE: &str = "root=/dev/vda1 ro rootfstype=ext4 console=ttyS0 panic=-1";

/// What a boot showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOutcome {
    pub matched: bool,
    pub timed_out: bool,
    /// How qemu ended, when it ended on its own (`exit status: 0`).
    pub exit: Option<String>,
    pub elapsed: Duration,
    /// The console's last lines, cleaned of carriage returns and escape sequences.
    pub tail: String,
    pub cmdline: String,
}

/// The newest kernel of the flattened image and its initrd, resolved inside the image.
pub fn find_kernel(rootfs: &Path) -> Result<(PathBuf, PathBuf)> {
    let k = super::kernels::newest(rootfs)?;
    Ok((k.vmlinuz_host, k.initrd_host))
}

/// The qemu command line for a boot.
pub fn command(target: &VmTarget, kernel: &Path, initrd: &Path, cmdline: &str) -> Command {
    let o = &target.options;
    let mut c = Command::new(&o.qemu);
    c.args(["-machine", "q35", "-accel", o.accel.as_str()]);
    if o.accel == Accel::Kvm {
        c.args(["-cpu", "host"]);
    }
    c.arg("-m")
        .arg(o.memory_mib.to_string())
        .args([
            "-smp",
            "1",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-monitor",
            "none",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(cmdline)
        .arg("-drive")
        .arg(format!(
            "file={},if=virtio,format={},snapshot=on",
            escape_drive_path(&target.disk),
            target.format.as_str()
        ));
    c
}

/// qemu's option syntax doubles a comma inside a value.
fn escape_drive_path(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
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

/// Boots `target` and watches its console for `expect` until `timeout`. `Ok` with
/// `matched: false` means the VM booted but did not show the pattern (the candidate is
/// bad); `Err` means qemu itself could not run (the environment is bad).
pub fn boot(
    target: &VmTarget,
    expect: &Regex,
    timeout: Duration,
    append: Option<&str>,
) -> Result<BootOutcome> {
    let (kernel, initrd) = find_kernel(&target.rootfs)?;
    let mut cmdline = BASE_CMDLINE.to_string();
    if let Some(a) = append.filter(|a| !a.trim().is_empty()) {
        cmdline.push(' ');
        cmdline.push_str(a.trim());
    }
    let mut cmd = command(target, &kernel, &initrd, &cmdline);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            crate::error::environment(format!(
                "`{}` is not installed (install it: apt-get install qemu-system-x86)",
                target.options.qemu
            ))
        } else {
            anyhow::anyhow!(e).context(format!("starting {}", target.options.qemu))
        }
    })?;
    let mut vm = Vm(child);
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut stdout = vm.0.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stderr = vm.0.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });

    let deadline = start + timeout;
    let mut console: Vec<u8> = Vec::new();
    let mut matched = false;
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok(chunk) => {
                // Search the new bytes with some overlap, so a match split across reads counts.
                let from = console.len().saturating_sub(4096);
                console.extend_from_slice(&chunk);
                if expect.is_match(&console[from..]) || expect.is_match(&console) {
                    matched = true;
                    break;
                }
                if console.len() > CONSOLE_LIMIT {
                    console.drain(..console.len() - CONSOLE_LIMIT / 2);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let elapsed = start.elapsed();
    let exit = if matched || timed_out {
        None
    } else {
        // qemu closed its console: it has exited or is about to.
        Some(vm.0.wait().context("waiting for qemu")?.to_string())
    };
    drop(vm);
    let _ = reader.join();
    let err = err_reader.join().unwrap_or_default();
    if !matched && console.is_empty() {
        let msg = String::from_utf8_lossy(&err).trim().to_string();
        bail!(
            "{} printed nothing on the console{}{}",
            target.options.qemu,
            exit.as_deref()
                .map(|e| format!(" and exited ({e})"))
                .unwrap_or_default(),
            if msg.is_empty() {
                String::new()
            } else {
                format!(": {}", tail_text(msg.as_bytes(), 8))
            }
        );
    }
    Ok(BootOutcome {
        matched,
        timed_out,
        exit,
        elapsed,
        tail: tail_text(&console, TAIL_LINES),
        cmdline,
    })
}

/// The last `lines` lines of console output, without carriage returns and terminal
/// escape sequences, each cut to 240 characters.
pub fn tail_text(console: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(console);
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final-byte; other escapes: ESC and one char.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for d in chars.by_ref() {
                        if ('@'..='~').contains(&d) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {}
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => clean.push(c),
        }
    }
    // A line repeated back to back (a wait loop) is shown once, with its count.
    let mut all: Vec<(String, usize)> = Vec::new();
    for l in clean.lines().filter(|l| !l.trim().is_empty()) {
        let l: String = l.chars().take(240).collect();
        match all.last_mut() {
            Some((prev, n)) if *prev == l => *n += 1,
            _ => all.push((l, 1)),
        }
    }
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|(l, n)| {
            if *n > 1 {
                format!("{l} [×{n}]")
            } else {
                l.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks that `rootfs` can be booted directly (a kernel and an initrd), for a clear
/// error before a disk is made for nothing.
pub fn check_bootable(rootfs: &Path) -> Result<()> {
    find_kernel(rootfs).map(|_| ()).with_context(|| {
        format!(
            "looking for a kernel to boot in the flattened image at {}",
            rootfs.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_drops_escapes_and_keeps_the_last_lines() {
        let s = b"one\r\n\x1b[0;32m  OK  \x1b[0m two\r\n\r\nthree\nfour\n";
        assert_eq!(tail_text(s, 2), "three\nfour");
        assert_eq!(tail_text(s, 3), "  OK   two\nthree\nfour");
        assert_eq!(tail_text(b"a\nwait\nwait\nwait\nb\n", 2), "wait [×3]\nb");
    }

    #[test]
    fn the_command_snapshots_the_disk_and_uses_the_serial_console() {
        let t = VmTarget {
            disk: PathBuf::from("/s/a,b.qcow2"),
            format: Format::Qcow2,
            rootfs: PathBuf::from("/r"),
            options: BootOptions::default(),
        };
        let c = command(&t, Path::new("/k"), Path::new("/i"), BASE_CMDLINE);
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let drive = &args[args.iter().position(|a| a == "-drive").unwrap() + 1];
        assert_eq!(
            drive,
            "file=/s/a,,b.qcow2,if=virtio,format=qcow2,snapshot=on"
        );
        assert!(args.windows(2).any(|w| w == ["-accel", "tcg"]));
        assert!(args.windows(2).any(|w| w == ["-serial", "stdio"]));
        assert!(args.contains(&"-no-reboot".to_string()));
    }
}
