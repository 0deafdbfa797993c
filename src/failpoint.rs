//! Named fail points for the crash-consistency tests: inert unless `COREBUILD_FAILPOINT` is set.
//!
//! `COREBUILD_FAILPOINT=NAME:ACTION[:N]` acts on the Nth pass (default the first) through
//! the point `NAME`, or through any point when `NAME` is `*`. `ACTION` is `kill` (SIGKILL
//! to ourselves: no destructor, no flush, like a power cut for everything not yet
//! fsynced) or `panic`. The points sit between the steps of every durable write (blob,
//! index, catalog record), so a test can stop the process in each window and check that
//! a rerun converges. Nothing in a product run sets the variable; a malformed value is
//! ignored, so a stray setting can never change what is built.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const VAR: &str = "COREBUILD_FAILPOINT";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Kill,
    Panic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    name: String,
    action: Action,
    nth: u64,
}

fn parse(value: &str) -> Option<Plan> {
    let mut parts = value.split(':');
    let name = parts.next().filter(|n| !n.is_empty())?.to_string();
    let action = match parts.next()? {
        "kill" => Action::Kill,
        "panic" => Action::Panic,
        _ => return None,
    };
    let nth = match parts.next() {
        Some(n) => n.parse().ok().filter(|&n| n > 0)?,
        None => 1,
    };
    parts.next().is_none().then_some(Plan { name, action, nth })
}

fn plan() -> Option<&'static Plan> {
    static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| std::env::var(VAR).ok().as_deref().and_then(parse))
        .as_ref()
}

/// Passes the fail point `name`: returns at once unless a test armed it.
pub fn hit(name: &str) {
    static PASSES: AtomicU64 = AtomicU64::new(0);
    let Some(p) = plan() else { return };
    if p.name != "*" && p.name != name {
        return;
    }
    if PASSES.fetch_add(1, Ordering::SeqCst) + 1 != p.nth {
        return;
    }
    match p.action {
        Action::Kill => {
            eprintln!("fail point {name}: killing the process");
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
            // SIGKILL cannot be caught; wait for it rather than run on.
            loop {
                std::thread::park();
            }
        }
        Action::Panic => panic!("fail point {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_refuses_the_rest() {
        assert_eq!(
            parse("blob.persist:kill"),
            Some(Plan {
                name: "blob.persist".into(),
                action: Action::Kill,
                nth: 1
            })
        );
        assert_eq!(parse("*:panic:7").map(|p| p.nth), Some(7));
        for bad in [
            "",
            ":kill",
            "x",
            "x:stop",
            "x:kill:0",
            "x:kill:two",
            "x:kill:1:2",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
