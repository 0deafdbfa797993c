//! Running one command in a root filesystem under a real OCI runtime (runc by default,
//! crun through the same code): bundle, `run`, streamed and bounded output, timeout,
//! and cleanup that happens on every path out (exit, failure, timeout, SIGINT/SIGTERM),
//! plus the record of which process owns each container, for
//! [`sweep_stale`](super::sweep_stale).
//!
//! Layout under the base directory (default [`DEFAULT_BASE`]): `<runtime name>/` is the
//! runtime's `--root` state dir, `bundles/<id>/` holds `config.json` and the runtime's
//! JSON log for one container. Container ids are `corebuild-<pid>-<counter>`; the owning
//! process (pid and start time) is in the `dev.corebuild.owner` annotation.
//!
//! crun takes the same command line. Debian 12's crun 1.8.1 refuses hosts with a hybrid
//! cgroup layout (v1 controllers plus a unified hierarchy that has controllers) with
//! "cgroups in hybrid mode not supported", which surfaces here as a runner error (exit
//! 3); runc handles such hosts.

use super::output::{Capture, Stream};
use super::owner::Owner;
use super::signals;
use super::spec::{build_config, Network, RunSpec};
use super::user::resolve_user;
use super::usernet::UserNet;
use crate::tool::ToolError;
use anyhow::Context as _;
use std::collections::HashMap;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Where our runtime state and bundles live unless a caller chooses another base.
pub const DEFAULT_BASE: &str = "/run/corebuild";

/// The annotation naming the process that owns a container (`<pid>:<start>`).
pub const OWNER_ANNOTATION: &str = "dev.corebuild.owner";

/// After a kill, how long the runtime gets to reap the container before we SIGKILL the
/// runtime process itself.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// After the container exited, how long we wait for the last output (a pipe may be held
/// by a process we cannot see; the capture keeps what came).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How often the wait loop looks at the signal flag when nothing else happens.
const POLL: Duration = Duration::from_millis(50);

/// What came of one run. A non-zero exit is an outcome, not an error of the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The exit status, when the process exited (not killed by a signal).
    pub exit_code: Option<i32>,
    /// The signal that ended the process. The runtime reports it as `128 + n`, like a
    /// shell, so a process that itself exits with 129..=192 is also read as a signal.
    pub signal: Option<i32>,
    /// The timeout expired and the container was killed (`signal` is then 9).
    pub timed_out: bool,
    /// The last 64 KiB of stdout.
    pub stdout: Vec<u8>,
    /// The last 64 KiB of stderr.
    pub stderr: Vec<u8>,
    /// The last 20 lines of output (both streams, in arrival order), for messages.
    pub tail: Vec<String>,
    pub duration: Duration,
}

impl RunOutcome {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// "exited with status 3", "was killed by SIGKILL", "timed out after 5s".
    pub fn describe(&self) -> String {
        if self.timed_out {
            format!("timed out after {:.1?}", self.duration)
        } else if let Some(s) = self.signal {
            format!("was killed by {}", signals::signal_name(s))
        } else {
            format!("exited with status {}", self.exit_code.unwrap_or(-1))
        }
    }
}

/// An OCI runtime with the runc command line (runc, crun). The binary and the state
/// directory are injected; the operations are provided on top of [`OciRuntime::command`].
pub trait OciRuntime: Send + Sync + std::fmt::Debug {
    /// "runc", "crun": names the state directory and messages.
    fn name(&self) -> &str;
    /// The runtime binary.
    fn binary(&self) -> &Path;
    /// The base directory holding the state dir and the bundles.
    fn base(&self) -> &Path;

    /// The runtime's `--root` state directory: `<base>/<name>`.
    fn state_dir(&self) -> PathBuf {
        self.base().join(self.name())
    }

    /// `<binary> --root <state dir>`; callers add the subcommand.
    fn command(&self) -> Command {
        let mut c = Command::new(self.binary());
        c.arg("--root").arg(self.state_dir());
        c
    }

    /// Runs `spec` in `rootfs` and waits for it; see [`run_container`].
    fn run(&self, rootfs: &Path, spec: &RunSpec) -> anyhow::Result<RunOutcome> {
        run_container(self, rootfs, spec)
    }

    /// The containers in our state dir.
    fn list(&self) -> anyhow::Result<Vec<ContainerState>> {
        if !self.state_dir().exists() {
            return Ok(Vec::new());
        }
        let list: Option<Vec<ContainerState>> =
            crate::tool::run_and_parse_json(self.command().args(["list", "--format", "json"]))?;
        Ok(list.unwrap_or_default())
    }

    /// Sends `signal` (e.g. "KILL") to the container's init.
    fn kill(&self, id: &str, signal: &str) -> Result<(), ToolError> {
        crate::tool::run(self.command().args(["kill", id, signal])).map(drop)
    }

    /// Removes the container, killing what still runs in it.
    fn delete(&self, id: &str) -> Result<(), ToolError> {
        crate::tool::run(self.command().args(["delete", "-f", id])).map(drop)
    }

    /// Whether the runtime still has state for `id` (a stat, no process).
    fn exists(&self, id: &str) -> bool {
        self.state_dir().join(id).exists()
    }
}

/// One container of `list --format json`, the fields we use.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ContainerState {
    pub id: String,
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub annotations: Option<HashMap<String, String>>,
    /// The container's root filesystem path.
    #[serde(default)]
    pub rootfs: String,
}

/// A runtime driven through its command line.
#[derive(Debug, Clone)]
pub struct CliRuntime {
    name: String,
    binary: PathBuf,
    base: PathBuf,
}

impl CliRuntime {
    /// Uses `base` instead of [`DEFAULT_BASE`] for state and bundles.
    pub fn with_base(mut self, base: impl Into<PathBuf>) -> Self {
        self.base = base.into();
        self
    }
}

impl OciRuntime for CliRuntime {
    fn name(&self) -> &str {
        &self.name
    }
    fn binary(&self) -> &Path {
        &self.binary
    }
    fn base(&self) -> &Path {
        &self.base
    }
}

/// Selects a runtime: "runc" or "crun" (found on PATH or in the sbin/bin dirs, which
/// a non-login root shell may lack), or a path to a runtime binary. A missing binary
/// is [`ToolError::Missing`] (exit 3) naming the Debian package.
pub fn from_name(name_or_path: &str) -> Result<CliRuntime, ToolError> {
    let missing = |program: &str| ToolError::Missing {
        program: program.to_string(),
        hint: crate::tool::debian_package(program)
            .map(|p| format!(" (install it: apt-get install {p})"))
            .unwrap_or_default(),
    };
    let binary = if name_or_path.contains('/') {
        let p = PathBuf::from(name_or_path);
        if !p.is_file() {
            return Err(missing(name_or_path));
        }
        p
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(
                [
                    "/usr/local/sbin",
                    "/usr/local/bin",
                    "/usr/sbin",
                    "/usr/bin",
                    "/sbin",
                    "/bin",
                ]
                .map(PathBuf::from),
            )
            .map(|d| d.join(name_or_path))
            .find(|p| p.is_file())
            .ok_or_else(|| missing(name_or_path))?
    };
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "bundles")
        .ok_or_else(|| missing(name_or_path))?
        .to_string();
    Ok(CliRuntime {
        name,
        binary,
        base: PathBuf::from(DEFAULT_BASE),
    })
}

/// A new container id, unique in this process and across live processes.
fn next_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "corebuild-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The bundle directory; removed on drop.
struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn create(parent: &Path, id: &str) -> anyhow::Result<Bundle> {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating bundle directory {}", parent.display()))?;
        let dir = parent.join(id);
        // A leftover with our id can only be from a dead process whose pid we reuse.
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir(&dir).with_context(|| format!("creating bundle {}", dir.display()))?;
        Ok(Bundle { dir })
    }

    fn write_config(&self, config: &oci_spec::runtime::Spec) -> anyhow::Result<()> {
        let json = serde_json::to_vec(config).context("serializing config.json")?;
        std::fs::write(self.dir.join("config.json"), json)
            .with_context(|| format!("writing {}/config.json", self.dir.display()))
    }

    fn log(&self) -> PathBuf {
        self.dir.join("runtime.log")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Deletes the container on drop unless the runtime already removed it.
struct ContainerGuard<'a, R: OciRuntime + ?Sized> {
    rt: &'a R,
    id: &'a str,
}

impl<R: OciRuntime + ?Sized> Drop for ContainerGuard<'_, R> {
    fn drop(&mut self) {
        if self.rt.exists(self.id) {
            let _ = self.rt.delete(self.id);
        }
    }
}

enum Event {
    Exited(std::io::Result<ExitStatus>),
    StreamClosed,
}

/// Runs `spec` in `rootfs` with `rt` and waits for it.
///
/// Errors are failures of the runner: a bad spec or unknown user (exit 2), a missing
/// runtime, a bundle we cannot write, a runtime that fails to create the container,
/// or an interrupt (exit 3). The command's own failure is in the outcome; a command
/// that cannot be executed is exit 127 (not found) or 126 (not executable), as in a
/// shell, with the runtime's message in `stderr` and `tail`.
pub fn run_container<R: OciRuntime + ?Sized>(
    rt: &R,
    rootfs: &Path,
    spec: &RunSpec,
) -> anyhow::Result<RunOutcome> {
    spec.validate()?;
    signals::install().context("installing SIGINT/SIGTERM handlers")?;
    let _active = signals::Active::enter();
    if let Some(sig) = signals::received() {
        return Err(interrupted(sig, "before starting the container"));
    }
    let user = resolve_user(rootfs, spec.user.as_deref())?;
    let id = next_id();
    let mut config = build_config(spec, rootfs, &user)?;
    let mut annotations = HashMap::new();
    annotations.insert(OWNER_ANNOTATION.to_string(), Owner::current().to_string());
    config.set_annotations(Some(annotations));
    if let Some(linux) = config.linux_mut() {
        linux.set_cgroups_path(Some(PathBuf::from(format!("/corebuild/{id}"))));
    }
    let state_dir = rt.state_dir();
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating runtime state directory {}", state_dir.display()))?;
    let bundle = Bundle::create(&rt.base().join("bundles"), &id)?;
    // Declared after the bundle, so it ends before the bundle (and its resolv.conf) goes.
    let _net = match spec.network {
        Network::User => {
            let net = UserNet::start()?;
            net.apply(&mut config, &bundle.dir.join("resolv.conf"))?;
            // Dropped before the namespace's holder (tuple fields drop in order).
            let fwd = super::forward::Forwarder::start(&net.netns_path(), &spec.forwards)?;
            Some((fwd, net))
        }
        Network::Isolated => None,
    };
    bundle.write_config(&config)?;

    let mut cmd = rt.command();
    cmd.arg("--log")
        .arg(bundle.log())
        .args(["--log-format", "json", "run", "--bundle"])
        .arg(&bundle.dir)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Our own process group: a terminal's Ctrl-C reaches us, not the runtime, and we
        // decide how the container ends.
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| spawn_error(rt, &cmd, e))?;
    let guard = ContainerGuard { rt, id: &id };
    let runtime_pid = child.id();

    let capture = Arc::new(Mutex::new(Capture::default()));
    let (tx, rx) = mpsc::channel();
    let prefix = spec.stream_prefix.as_deref();
    if let Some(out) = child.stdout.take() {
        spawn_pump(out, Stream::Stdout, &capture, prefix, &tx);
    }
    if let Some(err) = child.stderr.take() {
        spawn_pump(err, Stream::Stderr, &capture, prefix, &tx);
    }
    std::thread::spawn(move || {
        let _ = tx.send(Event::Exited(child.wait()));
    });

    let deadline = start + spec.timeout;
    let mut status: Option<std::io::Result<ExitStatus>> = None;
    let mut exited_at = start;
    let mut open_streams = 2;
    let mut timed_out = false;
    let mut interrupt: Option<i32> = None;
    let mut killed_at: Option<Instant> = None;
    let mut last_kill = start;
    let mut runtime_killed = false;
    loop {
        if status.is_some() && (open_streams == 0 || exited_at.elapsed() > DRAIN_GRACE) {
            break;
        }
        let now = Instant::now();
        if status.is_none() {
            match killed_at {
                None => {
                    interrupt = signals::received();
                    timed_out = interrupt.is_none() && now >= deadline;
                    if interrupt.is_some() || timed_out {
                        killed_at = Some(now);
                        last_kill = now;
                        let _ = rt.kill(&id, "KILL");
                    }
                }
                Some(at) if now - at > KILL_GRACE && !runtime_killed => {
                    // The runtime does not reap its container: end the runtime itself;
                    // the guard's `delete -f` removes the container.
                    runtime_killed = true;
                    if let Some(pid) = rustix::process::Pid::from_raw(runtime_pid as i32) {
                        let _ =
                            rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                    }
                }
                Some(_) if now - last_kill > Duration::from_millis(500) => {
                    // The container may not have existed at the first kill.
                    last_kill = now;
                    let _ = rt.kill(&id, "KILL");
                }
                Some(_) => {}
            }
        }
        let wait = if killed_at.is_none() && status.is_none() {
            deadline.saturating_duration_since(now).min(POLL)
        } else {
            POLL
        };
        match rx.recv_timeout(wait) {
            Ok(Event::Exited(s)) => {
                status = Some(s);
                exited_at = Instant::now();
            }
            Ok(Event::StreamClosed) => open_streams -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let duration = start.elapsed();
    let status = match status {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            return Err(e).with_context(|| format!("waiting for {} run {id}", rt.name()))
        }
        None => anyhow::bail!("lost track of {} run {id}", rt.name()),
    };
    let runtime_errors = if status.success() || timed_out || interrupt.is_some() {
        Vec::new()
    } else {
        read_log_errors(&bundle.log())
    };
    drop(guard);
    drop(bundle);
    if let Some(sig) = interrupt {
        return Err(interrupted(sig, &format!("while running {:?}", spec.args)));
    }

    let mut cap = std::mem::take(&mut *capture.lock().unwrap_or_else(|e| e.into_inner()));
    let mut outcome = RunOutcome {
        exit_code: None,
        signal: None,
        timed_out,
        stdout: Vec::new(),
        stderr: Vec::new(),
        tail: Vec::new(),
        duration,
    };
    if let Some(msg) = runtime_errors.last() {
        match exec_failure(msg) {
            Some(code) => {
                // The runtime printed the same message on stderr; keep it in the tail.
                if !cap.tail_contains(msg) {
                    cap.note(msg);
                }
                outcome.exit_code = Some(code);
            }
            None => {
                return Err(crate::error::environment(format!(
                    "{} could not run {:?} in {}: {}{}",
                    rt.name(),
                    spec.args,
                    rootfs.display(),
                    runtime_errors.join("; "),
                    // The runtime also printed its message on stderr: show it once.
                    tail_suffix(
                        &cap.tail_lines()
                            .into_iter()
                            .filter(|l| !runtime_errors.iter().any(|m| l.contains(m.as_str())))
                            .collect::<Vec<_>>()
                    )
                )));
            }
        }
    } else if let Some(sig) = status.signal() {
        outcome.signal = Some(sig);
    } else if let Some(code) = status.code() {
        if (129..=192).contains(&code) {
            outcome.signal = Some(code - 128);
        } else {
            outcome.exit_code = Some(code);
        }
    }
    if timed_out {
        outcome.signal = Some(9);
        outcome.exit_code = None;
    }
    outcome.tail = cap.tail_lines();
    outcome.stdout = cap.take(Stream::Stdout);
    outcome.stderr = cap.take(Stream::Stderr);
    Ok(outcome)
}

fn spawn_pump(
    pipe: impl std::io::Read + Send + 'static,
    which: Stream,
    capture: &Arc<Mutex<Capture>>,
    prefix: Option<&str>,
    tx: &mpsc::Sender<Event>,
) {
    let capture = Arc::clone(capture);
    let prefix = prefix.map(str::to_string);
    let tx = tx.clone();
    std::thread::spawn(move || {
        super::output::pump(pipe, which, &capture, prefix.as_deref());
        let _ = tx.send(Event::StreamClosed);
    });
}

fn tail_suffix(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\noutput (last {} lines):\n{}", tail.len(), tail.join("\n"))
    }
}

fn interrupted(sig: i32, when: &str) -> anyhow::Error {
    crate::error::environment(format!(
        "interrupted by {} {when}; the container was removed",
        signals::signal_name(sig)
    ))
}

fn spawn_error<R: OciRuntime + ?Sized>(rt: &R, cmd: &Command, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        let program = rt.binary().display().to_string();
        let hint = crate::tool::debian_package(rt.name())
            .map(|p| format!(" (install it: apt-get install {p})"))
            .unwrap_or_default();
        ToolError::Missing { program, hint }.into()
    } else {
        ToolError::Spawn {
            command: format!("{:?}", cmd),
            source: e,
        }
        .into()
    }
}

/// The `error`-level messages of the runtime's JSON log (runc and crun write the reason
/// a container could not start there).
fn read_log_errors(log: &Path) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Line {
        level: String,
        msg: String,
    }
    let Ok(text) = std::fs::read_to_string(log) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .filter(|l| l.level == "error")
        .map(|l| l.msg)
        .collect()
}

/// Whether a runtime error says the command itself could not be executed: 127 when it
/// does not exist, 126 when it cannot be run, as a shell says.
fn exec_failure(msg: &str) -> Option<i32> {
    let m = msg.to_ascii_lowercase();
    let exec = m.contains("exec:") || m.contains("executable file") || m.contains("execv");
    if !exec {
        return None;
    }
    if m.contains("no such file") || m.contains("not found") {
        Some(127)
    } else if m.contains("permission denied") || m.contains("exec format error") {
        Some(126)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_exec_failures() {
        assert_eq!(
            exec_failure(
                r#"runc run failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory"#
            ),
            Some(127)
        );
        assert_eq!(
            exec_failure(
                r#"runc run failed: unable to start container process: exec: "/etc/motd": permission denied"#
            ),
            Some(126)
        );
        assert_eq!(
            exec_failure("executable file `nope` not found in $PATH: No such file or directory"),
            Some(127)
        );
        assert_eq!(
            exec_failure("runc run failed: unable to apply cgroup configuration"),
            None
        );
    }

    #[test]
    fn parses_runtime_log_and_list() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        std::fs::write(
            &log,
            "{\"level\":\"warning\",\"msg\":\"w\",\"time\":\"t\"}\n{\"level\":\"error\",\"msg\":\"boom\",\"time\":\"t\"}\nnot json\n",
        )
        .unwrap();
        assert_eq!(read_log_errors(&log), ["boom"]);
        assert!(read_log_errors(&d.path().join("missing")).is_empty());
        let list: Vec<ContainerState> = serde_json::from_str(
            r#"[{"ociVersion":"1.0.2-dev","id":"corebuild-1-0","pid":9739,"status":"running","bundle":"/b","rootfs":"/r","created":"2026-11-21T21:22:55Z","annotations":{"dev.corebuild.owner":"1:2"},"owner":"root"}]"#,
        )
        .unwrap();
        assert_eq!(list[0].id, "corebuild-1-0");
        assert_eq!(
            list[0].annotations.as_ref().unwrap()[OWNER_ANNOTATION],
            "1:2"
        );
    }

    #[test]
    fn missing_runtime_is_an_environment_error() {
        let e = from_name("no-such-runtime-xyz").unwrap_err();
        assert!(matches!(e, ToolError::Missing { .. }));
        assert_eq!(crate::error::exit_code(&e.into()), 3);
        let e = from_name("/nonexistent/crun").unwrap_err();
        assert!(e.to_string().contains("not installed"), "{e}");
    }

    #[test]
    fn outcome_descriptions() {
        let mut o = RunOutcome {
            exit_code: Some(3),
            signal: None,
            timed_out: false,
            stdout: vec![],
            stderr: vec![],
            tail: vec![],
            duration: Duration::from_secs(1),
        };
        assert_eq!(o.describe(), "exited with status 3");
        assert!(!o.success());
        o.exit_code = None;
        o.signal = Some(9);
        assert_eq!(o.describe(), "was killed by SIGKILL");
        o.timed_out = true;
        assert!(o.describe().starts_with("timed out after"));
    }
}
