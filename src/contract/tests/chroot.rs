//! TEST-ONLY executor: runs commands for real with `chroot(8)` into the test rootfs.
//! It gives none of the real executor's isolation (no overlay, no read-only root, no
//! namespaces or limits), so tests only run commands that write nothing. It does not
//! start services: asked to, it fails, which the runner must report as an error.

use crate::contract::{CommandOutput, CommandSpec, Executor, ServiceOutput, ServiceSpec};
use anyhow::Context;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct ChrootExecutor;

impl Executor for ChrootExecutor {
    fn run_command(&self, rootfs: &Path, cmd: &CommandSpec) -> anyhow::Result<CommandOutput> {
        // chroot lives in /usr/sbin, which a test's PATH may not list.
        let chroot = ["/usr/sbin/chroot", "/sbin/chroot"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("chroot");
        let mut c = Command::new(chroot);
        if let Some(u) = &cmd.user {
            c.arg(format!("--userspec={u}"));
        }
        c.arg(rootfs)
            .args(&cmd.argv)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(&cmd.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().context("spawning chroot")?;
        let pipe = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = pipe(child.stdout.take().map(|s| Box::new(s) as _));
        let err = pipe(child.stderr.take().map(|s| Box::new(s) as _));
        let deadline = Instant::now() + cmd.timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                child.kill()?;
                break child.wait()?;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Ok(CommandOutput {
            exit_code: status.code(),
            signal: status.signal(),
            timed_out,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        })
    }

    fn run_service(&self, _rootfs: &Path, _svc: &ServiceSpec) -> anyhow::Result<ServiceOutput> {
        anyhow::bail!("the chroot test executor does not run services")
    }
}
