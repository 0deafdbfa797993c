//! Running a command inside an image's root filesystem with a real OCI runtime.

pub mod user;

pub use user::{resolve_user, ResolvedUser};
