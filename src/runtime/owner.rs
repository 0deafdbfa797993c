//! Which process owns a container or a mount: its pid and its start time (in clock ticks
//! since boot, from `/proc/<pid>/stat`), so that a reused pid is not mistaken for the
//! owner. Written into container annotations and overlay mount sources; read back by
//! `sweep_stale`.

use std::sync::OnceLock;

/// The identity of a process, written as `<pid>:<start>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        static ME: OnceLock<Owner> = OnceLock::new();
        *ME.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                pid,
                start: start_time(pid).unwrap_or(0),
            }
        })
    }

    /// Parses `<pid>:<start>`.
    pub fn parse(s: &str) -> Option<Owner> {
        let (pid, start) = s.split_once(':')?;
        Some(Owner {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
        })
    }

    /// Whether the process still runs (the same one: same pid, same start time).
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.pid, self.start)
    }
}

/// Field 22 of /proc/<pid>/stat; None when the process does not exist.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_live_and_dead_processes() {
        let me = Owner::current();
        assert_eq!(me.pid, std::process::id());
        assert!(me.is_alive());
        assert_eq!(Owner::parse(&me.to_string()), Some(me));
        // Same pid, other start time: a reused pid is not the owner.
        assert!(!Owner {
            start: me.start + 1,
            ..me
        }
        .is_alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let dead = Owner {
            pid,
            start: start_time(pid).unwrap_or(0),
        };
        child.wait().unwrap();
        assert!(!dead.is_alive());
        assert_eq!(Owner::parse("12"), None);
        assert_eq!(Owner::parse("x:1"), None);
    }
}
