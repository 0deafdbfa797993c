//! Running external tools (runc, skopeo, mke2fs, qemu-img …): one helper whose errors carry
//! the command line and the last KiB of the child's stderr, and which tells a missing tool
//! (exit 3, with what to install) from a tool that ran and failed.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

const STDERR_TAIL: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("`{program}` is not installed or not on PATH{hint}")]
    Missing { program: String, hint: String },
    #[error("`{command}` exited with {status}: {stderr_tail}")]
    Failed {
        command: String,
        status: String,
        stderr_tail: String,
    },
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
}

/// The Debian package that provides a tool we call, for the error message.
pub fn debian_package(program: &str) -> Option<&'static str> {
    Some(match program {
        "runc" => "runc",
        "crun" => "crun",
        "skopeo" => "skopeo",
        "umoci" => "umoci",
        "mke2fs" | "debugfs" | "e2fsck" => "e2fsprogs",
        "mkfs.fat" | "fsck.fat" => "dosfstools",
        "mcopy" | "mdir" | "mtype" => "mtools",
        "sgdisk" => "gdisk",
        "qemu-img" => "qemu-utils",
        "qemu-system-x86_64" => "qemu-system-x86",
        "mmdebstrap" => "mmdebstrap",
        "slirp4netns" => "slirp4netns",
        "unshare" => "util-linux",
        "registry" | "docker-registry" => "docker-registry",
        _ => return None,
    })
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

/// Runs the command to completion, capturing output; a non-zero exit is an error.
pub fn run(cmd: &mut Command) -> Result<Output, ToolError> {
    let out = output(cmd)?;
    if !out.status.success() {
        return Err(ToolError::Failed {
            command: describe(cmd),
            status: out.status.to_string(),
            stderr_tail: tail(&out.stderr),
        });
    }
    Ok(out)
}

/// Runs the command and returns its stdout as a string.
pub fn run_get_string(cmd: &mut Command) -> Result<String, ToolError> {
    let out = run(cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs the command and parses its stdout as JSON.
pub fn run_and_parse_json<T: serde::de::DeserializeOwned>(cmd: &mut Command) -> anyhow::Result<T> {
    let s = run_get_string(cmd)?;
    serde_json::from_str(&s)
        .map_err(|e| anyhow::anyhow!("parsing JSON output of `{}`: {e}", describe(cmd)))
}

/// Runs the command whatever its exit status, capturing output; only a failure to start is an error.
pub fn output(cmd: &mut Command) -> Result<Output, ToolError> {
    cmd.stdin(Stdio::null());
    cmd.output().map_err(|e| spawn_error(cmd, e))
}

fn spawn_error(cmd: &Command, e: std::io::Error) -> ToolError {
    let program = cmd.get_program().to_string_lossy().into_owned();
    if e.kind() == std::io::ErrorKind::NotFound {
        let hint = debian_package(&program)
            .map(|p| format!(" (install it: apt-get install {p})"))
            .unwrap_or_default();
        ToolError::Missing { program, hint }
    } else {
        ToolError::Spawn {
            command: describe(cmd),
            source: e,
        }
    }
}

/// Whether a program can be found on PATH.
pub fn available(program: impl AsRef<OsStr>) -> bool {
    let p = program.as_ref();
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(p).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_names_the_package() {
        let err = run(&mut Command::new("definitely-not-a-tool-xyz")).unwrap_err();
        assert!(matches!(err, ToolError::Missing { .. }));
        let err = run(&mut Command::new("runc-does-not-exist")).unwrap_err();
        assert!(err.to_string().contains("not installed"));
    }

    #[test]
    fn failure_carries_stderr_tail() {
        let err = run(Command::new("sh").args(["-c", "echo boom >&2; exit 3"])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("boom"), "{msg}");
        assert!(msg.contains("exit status: 3"), "{msg}");
    }
}
