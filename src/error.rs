//! Error classes and their exit codes: 1 a contract or gate failed, 2 bad usage or input,
//! 3 the environment failed. Stage code uses `anyhow` with context; the class travels in
//! the chain as a `Classified` error or one of the typed errors named in `exit_code`.

use std::fmt;

/// What kind of failure an error is, which decides the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The candidate is bad: a contract or the gate failed.
    Failed,
    /// The blueprint, suite, reference or command line is bad.
    Input,
    /// A tool is missing, a registry is down, the disk is full.
    Environment,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Failed => 1,
            Kind::Input => 2,
            Kind::Environment => 3,
        }
    }
}

/// An error that carries its class. Build one with [`input`], [`environment`] or [`failed`].
#[derive(Debug)]
pub struct Classified {
    pub kind: Kind,
    pub message: String,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Classified {}

pub fn input(message: impl Into<String>) -> anyhow::Error {
    Classified {
        kind: Kind::Input,
        message: message.into(),
    }
    .into()
}

pub fn environment(message: impl Into<String>) -> anyhow::Error {
    Classified {
        kind: Kind::Environment,
        message: message.into(),
    }
    .into()
}

pub fn failed(message: impl Into<String>) -> anyhow::Error {
    Classified {
        kind: Kind::Failed,
        message: message.into(),
    }
    .into()
}

/// The class of an error: the first classified cause in its chain wins; an I/O error
/// with no class is an environment failure; anything else is treated as bad input.
pub fn kind_of(err: &anyhow::Error) -> Kind {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Classified>() {
            return c.kind;
        }
        if cause
            .downcast_ref::<crate::blueprint::BlueprintError>()
            .is_some()
        {
            return Kind::Input;
        }
        if cause.downcast_ref::<crate::oci::DigestMismatch>().is_some() {
            return Kind::Input;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // std's io::Error hides a custom payload from `source()`, so look inside.
            if let Some(inner) = io.get_ref() {
                if inner.is::<crate::oci::DigestMismatch>()
                    || inner.is::<crate::layer::ApplyError>()
                {
                    return Kind::Input;
                }
            }
        }
        if let Some(a) = cause.downcast_ref::<crate::layer::ApplyError>() {
            // A layer that is hostile or corrupt is bad input; a full disk is not.
            return if a.is_io() && !is_corrupt_data(a) {
                Kind::Environment
            } else {
                Kind::Input
            };
        }
        if cause.downcast_ref::<crate::tool::ToolError>().is_some() {
            return Kind::Environment;
        }
    }
    if err
        .chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some())
    {
        return Kind::Environment;
    }
    Kind::Input
}

fn is_corrupt_data(a: &crate::layer::ApplyError) -> bool {
    a.source.as_ref().is_some_and(|e| {
        matches!(
            e.kind(),
            std::io::ErrorKind::InvalidData
                | std::io::ErrorKind::InvalidInput
                | std::io::ErrorKind::UnexpectedEof
        )
    })
}

pub fn exit_code(err: &anyhow::Error) -> i32 {
    kind_of(err).exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn class_survives_context() {
        let e = Err::<(), _>(failed("contract posix-base failed"))
            .context("testing core-minimal")
            .unwrap_err();
        assert_eq!(exit_code(&e), 1);
        let e = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing blob")
            .unwrap_err();
        assert_eq!(exit_code(&e), 3);
        assert_eq!(exit_code(&input("bad")), 2);
        assert_eq!(exit_code(&environment("no runc")), 3);
    }
}
