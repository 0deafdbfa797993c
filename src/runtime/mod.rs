//! Running a command inside an image's root filesystem with a real OCI runtime.

pub mod overlay;
pub mod owner;
pub mod spec;
pub mod user;

pub use overlay::OverlayMount;
pub use spec::{build_config, rlimit, Bind, Capabilities, Network, Rlimit, RlimitType, RunSpec};
pub use user::{resolve_user, ResolvedUser};
