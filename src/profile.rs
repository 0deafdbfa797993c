//! Where the time goes: with `COREBUILD_PROFILE=1` in the environment, each named span
//! prints its wall time to stderr when it ends (`profile: 1234 ms  build: flatten …`).
//! Off by default, and never part of an artifact or of `--json` output.

use std::sync::OnceLock;
use std::time::Instant;

/// A timed section; prints when dropped, if profiling is on.
pub struct Span {
    name: Option<String>,
    start: Instant,
}

/// Starts a span. `name` is only built when profiling is on.
pub fn span(name: impl FnOnce() -> String) -> Span {
    Span {
        name: enabled().then(name),
        start: Instant::now(),
    }
}

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("COREBUILD_PROFILE").is_ok_and(|v| v == "1"))
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            eprintln!(
                "profile: {:>6} ms  {name}",
                self.start.elapsed().as_millis()
            );
        }
    }
}
