//! The seam to the OCI runtime. Command and service tests run inside the candidate; how
//! (runc or crun, overlay, namespaces, limits) is the executor's business, implemented
//! where `src/runtime/` is integrated. This module only says what goes in and comes out.

use super::schema::{CommandSpec, ServiceSpec};
use std::path::Path;

/// Runs things inside a candidate's flattened rootfs.
///
/// An `Err` means the executor itself failed (no runtime, cannot create the bundle): the
/// test's outcome is `Error`, never `Failed`. What the command did, however badly, is an
/// `Ok`. Implementations must be safe to call from several threads at once; each call
/// gets its own writable overlay, so tests cannot see each other's writes.
pub trait Executor {
    /// Runs `cmd.argv` with a read-only rootfs, a tmpfs `/tmp`, no network, no
    /// capabilities, no-new-privileges and rlimits; kills it at `cmd.timeout`.
    fn run_command(&self, rootfs: &Path, cmd: &CommandSpec) -> anyhow::Result<CommandOutput>;

    /// Starts `svc.argv` as a daemon in a network namespace of its own, probes
    /// `127.0.0.1:port` (an HTTP GET of `svc.http` when set) from inside that namespace
    /// until it answers or `svc.ready_timeout` passes, then stops it.
    fn run_service(&self, rootfs: &Path, svc: &ServiceSpec) -> anyhow::Result<ServiceOutput>;
}

/// What a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// It was killed because it ran past its timeout.
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What probing a service found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceOutput {
    /// The port accepted a connection (and, for an HTTP probe, answered) in time.
    pub ready: bool,
    /// The HTTP status of the last answer, for an HTTP probe.
    pub status: Option<u16>,
    /// What happened, for the report: the daemon's exit, the last probe error, its stderr.
    pub detail: String,
}
