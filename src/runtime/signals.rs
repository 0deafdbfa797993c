//! SIGINT/SIGTERM/SIGHUP while containers run. The handlers are installed once, on the
//! first run, and keep the default behaviour whenever no container runs: the process
//! dies as it would have. While a container runs, the first signal is recorded and the
//! run loop kills and deletes the container, then returns an error that unwinds the
//! caller (its overlay guards and temp dirs drop); a second signal kills the process
//! at once (then `sweep_stale` cleans up at the next start).

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

struct Flags {
    /// True when no container runs: a signal takes its default action.
    idle: Arc<AtomicBool>,
    /// Set by the first signal; a later one takes the default action.
    seen: Arc<AtomicBool>,
    /// The first signal's number (0 for none).
    received: Arc<AtomicUsize>,
    active: Mutex<usize>,
}

fn flags() -> &'static Flags {
    static F: OnceLock<Flags> = OnceLock::new();
    F.get_or_init(|| Flags {
        idle: Arc::new(AtomicBool::new(true)),
        seen: Arc::new(AtomicBool::new(false)),
        received: Arc::new(AtomicUsize::new(0)),
        active: Mutex::new(0),
    })
}

/// Installs the handlers (once per process).
pub(crate) fn install() -> std::io::Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let f = flags();
        let go = || -> std::io::Result<()> {
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                // Order matters: the conditions are checked before the flags are set.
                flag::register_conditional_default(sig, Arc::clone(&f.idle))?;
                flag::register_conditional_default(sig, Arc::clone(&f.seen))?;
                flag::register_usize(sig, Arc::clone(&f.received), sig as usize)?;
                flag::register(sig, Arc::clone(&f.seen))?;
            }
            Ok(())
        };
        go().map_err(|e| e.to_string())
    });
    r.clone().map_err(std::io::Error::other)
}

/// The signal that asked us to stop, if one came while a container ran.
pub(crate) fn received() -> Option<i32> {
    match flags().received.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n as i32),
    }
}

/// Marks a container as running for as long as it lives.
pub(crate) struct Active(());

impl Active {
    pub(crate) fn enter() -> Active {
        let f = flags();
        let mut n = f.active.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        f.idle.store(false, Ordering::SeqCst);
        Active(())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let f = flags();
        let mut n = f.active.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n == 0 {
            f.idle.store(true, Ordering::SeqCst);
        }
    }
}

/// The conventional name of a signal number, for messages.
pub fn signal_name(sig: i32) -> String {
    match sig {
        1 => "SIGHUP".into(),
        2 => "SIGINT".into(),
        3 => "SIGQUIT".into(),
        6 => "SIGABRT".into(),
        9 => "SIGKILL".into(),
        11 => "SIGSEGV".into(),
        13 => "SIGPIPE".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}
