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

/// The class of an error: the first classified cause in its chain wins; errors that can
/// only come from what the user gave (a digest, TOML or JSON that does not parse, a
/// hostile layer) are bad input; anything else, an I/O error or a protocol failure
/// nobody classified (a registry without `Location`, a lost runc), is an environment
/// failure: exit 3 says "retry or fix the machine", never "fix your blueprint" for a
/// fault that is not in it.
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
        if is_parse_error(cause) {
            return Kind::Input;
        }
    }
    Kind::Environment
}

/// Errors of parsing what the user handed us: a digest, a reference, TOML, JSON.
fn is_parse_error(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause.is::<crate::digest::DigestParseError>()
        || cause.is::<toml::de::Error>()
        || cause.is::<serde_json::Error>()
        || cause.is::<semver::Error>()
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

    #[test]
    fn unclassified_failures_are_the_environment() {
        // A protocol failure nobody classified: retrying may help, the input cannot.
        let e = anyhow::anyhow!("the registry gave no upload Location").context("publishing");
        assert_eq!(exit_code(&e), 3);
        let e = Err::<(), _>(anyhow::anyhow!("lost track of runc run x"))
            .context("building layer 2")
            .unwrap_err();
        assert_eq!(exit_code(&e), 3);
    }

    #[test]
    fn parse_errors_are_input() {
        let e = "sha256:xyz".parse::<crate::digest::Digest>().unwrap_err();
        assert_eq!(exit_code(&anyhow::Error::new(e).context("reading ref")), 2);
        let e = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert_eq!(exit_code(&anyhow::Error::new(e)), 2);
    }
}
