//! The contract executor on a real OCI runtime: every command test runs in its own
//! container over its own overlay of the unpacked candidate (read-only rootfs, tmpfs
//! /tmp, no network, no capabilities); a service test starts the daemon in a container
//! with a network namespace of its own and probes it from a thread that joins that
//! namespace, so the candidate needs no probe tools of its own.

use crate::contract::{CommandOutput, CommandSpec, Executor, ServiceOutput, ServiceSpec};
use crate::runtime::{self, CliRuntime, OciRuntime, RunSpec, ScratchOverlay};
use anyhow::{Context, Result};
use rustix::process::{Pid, PidfdFlags};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct RuntimeExecutor {
    rt: CliRuntime,
    /// Where per-test overlay directories are made (same filesystem as the store).
    work: PathBuf,
    /// The image's environment, the base every test's `env` is laid over.
    env: Vec<String>,
}

impl RuntimeExecutor {
    pub fn new(runtime: &str, work: &Path, image_env: Vec<String>) -> Result<Self> {
        std::fs::create_dir_all(work)?;
        Ok(RuntimeExecutor {
            rt: runtime::from_name(runtime)?,
            work: work.to_path_buf(),
            env: image_env,
        })
    }

    fn env_with(&self, extra: &std::collections::BTreeMap<String, String>) -> Vec<String> {
        let mut env = self.env.clone();
        crate::build::image::set_env(&mut env, extra);
        env
    }

    /// Runs `f` with a fresh overlay of `rootfs` mounted, then unmounts it.
    fn with_overlay<T>(&self, rootfs: &Path, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let scratch = ScratchOverlay::mount(&[rootfs], &self.work, "test-")?;
        let result = f(scratch.merged());
        scratch.close()?;
        result
    }
}

impl Executor for RuntimeExecutor {
    fn run_command(&self, rootfs: &Path, cmd: &CommandSpec) -> Result<CommandOutput> {
        let mut spec = RunSpec::contract_test(cmd.argv.clone());
        spec.env = self.env_with(&cmd.env);
        spec.user = cmd.user.clone();
        spec.timeout = cmd.timeout;
        let out = self.with_overlay(rootfs, |merged| self.rt.run(merged, &spec))?;
        Ok(CommandOutput {
            exit_code: out.exit_code,
            signal: out.signal,
            timed_out: out.timed_out,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    fn run_service(&self, rootfs: &Path, svc: &ServiceSpec) -> Result<ServiceOutput> {
        self.with_overlay(rootfs, |merged| {
            let mut spec = RunSpec::contract_test(svc.argv.clone());
            spec.env = self.env.clone();
            // The daemon is killed once probed; the timeout only bounds a hung probe.
            spec.timeout = svc.ready_timeout + Duration::from_secs(10);
            let merged = merged.to_path_buf();
            std::thread::scope(|s| {
                let runner = s.spawn(|| self.rt.run(&merged, &spec));
                let probe = self.probe_when_started(&merged, svc, &runner);
                let run = runner.join().expect("service runner panicked");
                let probe = probe?;
                let out = run?;
                let mut detail = probe.detail.clone();
                if !probe.ready {
                    let tail = out.tail.join("\n  ");
                    if !tail.is_empty() {
                        detail.push_str(&format!("; service output:\n  {tail}"));
                    }
                    if !out.timed_out && out.exit_code.is_some() {
                        detail.push_str(&format!("; the service {}", out.describe()));
                    }
                }
                Ok(ServiceOutput {
                    ready: probe.ready,
                    status: probe.status,
                    detail,
                })
            })
        })
    }
}

impl RuntimeExecutor {
    /// Waits for the service's container to run, probes it until ready or the ready
    /// timeout, then kills the container so the runner returns.
    fn probe_when_started<T>(
        &self,
        rootfs: &Path,
        svc: &ServiceSpec,
        runner: &std::thread::ScopedJoinHandle<'_, T>,
    ) -> Result<ServiceOutput> {
        let deadline = Instant::now() + svc.ready_timeout;
        let rootfs_str = rootfs.to_string_lossy().into_owned();
        let mut result = ServiceOutput {
            ready: false,
            status: None,
            detail: format!(
                "nothing answered on port {} within {:?}",
                svc.port, svc.ready_timeout
            ),
        };
        let mut container = None;
        while Instant::now() < deadline && !runner.is_finished() {
            if container.is_none() {
                container = self.pin_container(&rootfs_str);
            }
            if let Some((_, pidfd)) = &container {
                match probe_in_netns(pidfd, svc) {
                    Ok(status) => {
                        result = ServiceOutput {
                            ready: true,
                            status,
                            detail: match status {
                                Some(s) => format!(
                                    "GET {} answered {s}",
                                    svc.http.as_deref().unwrap_or("/")
                                ),
                                None => format!("port {} accepted a connection", svc.port),
                            },
                        };
                        break;
                    }
                    Err(e) => {
                        result.detail = format!("not ready within {:?}: {e}", svc.ready_timeout)
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if container.is_none() && runner.is_finished() {
            result.detail = "the service exited before it could be probed".to_string();
        }
        if let Some((id, _)) = container {
            let _ = self.rt.kill(&id, "KILL");
        }
        Ok(result)
    }

    /// The running container over `rootfs`: its id and a pidfd of its init. The pidfd is
    /// opened first and the pid checked against a fresh listing after, so it names that
    /// very process: a pid read earlier may by now belong to another (a host process,
    /// whose network namespace the probe must never join), a pidfd cannot be recycled.
    fn pin_container(&self, rootfs: &str) -> Option<(String, OwnedFd)> {
        let running = || {
            // `runc list` can fail while another container is being deleted (its state
            // dir vanishes mid-listing): the caller tries again on the next round.
            self.rt.list().ok().and_then(|list| {
                list.into_iter()
                    .find(|c| c.rootfs == rootfs && c.status == "running" && c.pid > 0)
            })
        };
        let c = running()?;
        let pid = Pid::from_raw(i32::try_from(c.pid).ok()?)?;
        let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()?;
        let again = running()?;
        (again.id == c.id && again.pid == c.pid).then_some((c.id, pidfd))
    }
}

/// Connects to 127.0.0.1:port inside the network namespace of the process `pidfd` names
/// (and sends an HTTP GET when asked), from a thread that joins that namespace and then
/// ends. A process that has exited fails the join; it is never mistaken for another.
fn probe_in_netns(pidfd: &OwnedFd, svc: &ServiceSpec) -> Result<Option<u16>> {
    let port = svc.port;
    let http = svc.http.clone();
    let pidfd = pidfd
        .try_clone()
        .context("duplicating the service's pidfd")?;
    std::thread::spawn(move || -> Result<Option<u16>> {
        rustix::thread::move_into_thread_name_spaces(
            pidfd.as_fd(),
            rustix::thread::ThreadNameSpaceType::NETWORK,
        )
        .context("joining the service's network namespace")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        let Some(path) = http else {
            return Ok(None);
        };
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            conn,
            "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "not an HTTP answer: {:?}",
                    line.lines().next().unwrap_or("")
                )
            })?;
        Ok(Some(status))
    })
    .join()
    .expect("probe thread panicked")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(port: u16) -> ServiceSpec {
        ServiceSpec {
            argv: vec![],
            port,
            http: None,
            ready_timeout: Duration::from_secs(1),
        }
    }

    /// A server on the host's loopback, which a probe must never reach through a pid
    /// that outlived its container.
    fn host_server() -> (std::net::TcpListener, u16) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        (l, port)
    }

    #[test]
    fn a_probe_through_the_pidfd_of_an_exited_process_fails_and_reaches_nothing() {
        let (_server, port) = host_server();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = Pid::from_raw(child.id() as i32).unwrap();
        let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).unwrap();
        child.wait().unwrap();
        // The pid is free for reuse now; the pidfd still names the dead process.
        let err = probe_in_netns(&pidfd, &spec(port)).unwrap_err();
        assert!(format!("{err:#}").contains("network namespace"), "{err:#}");
    }

    #[test]
    fn a_probe_through_a_live_pidfd_joins_that_process_namespace() {
        // Our own process: same namespace as the server, so the probe connects.
        let (_server, port) = host_server();
        let me = rustix::process::getpid();
        let pidfd = rustix::process::pidfd_open(me, PidfdFlags::empty()).unwrap();
        assert_eq!(probe_in_netns(&pidfd, &spec(port)).unwrap(), None);
    }
}
