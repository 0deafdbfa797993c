//! Running a command inside an image's root filesystem with a real OCI runtime (runc by
//! default, crun selectable): the `config.json` from a [`RunSpec`], overlay mounts for
//! build steps, output capture, timeouts, and cleanup on every path out.
//!
//! A build step mounts an overlay ([`OverlayMount`]) over the parent layers, runs
//! [`RunSpec::build_step`] in it, closes the mount and turns the upper dir into a layer
//! with [`crate::layer::upper_to_entries`]. A contract test runs
//! [`RunSpec::contract_test`] in a read-only candidate. Both call [`sweep_stale`] first.

pub mod forward;
mod output;
pub mod overlay;
pub mod owner;
pub mod runc;
pub mod seccomp;
mod signals;
pub mod spec;
pub mod sweep;
pub mod user;
pub mod usernet;

#[cfg(test)]
mod tests;

pub use output::{KEEP_BYTES, TAIL_LINES};
pub use overlay::{OverlayMount, ScratchOverlay};
pub use runc::{
    from_name, run_container, CliRuntime, ContainerState, OciRuntime, RunOutcome, DEFAULT_BASE,
    OWNER_ANNOTATION,
};
pub use signals::signal_name;
pub use spec::{build_config, rlimit, Bind, Capabilities, Network, Rlimit, RlimitType, RunSpec};
pub use sweep::{sweep_stale, sweep_stale_in, Sweep};
pub use user::{resolve_user, ResolvedUser};
pub use usernet::UserNet;
