//! The corebuild binary: a shim over `corebuild::cli::run`.

fn main() {
    // A panic is a bug, never a verdict on the input: after Rust's own message (which
    // names the place), say so and exit 3, not 101, so CI retries or reports it rather
    // than blaming the blueprint or the candidate.
    let code = std::panic::catch_unwind(corebuild::cli::run).unwrap_or_else(|_| {
        eprintln!("error: corebuild hit an internal error (a bug, see the message above); please report it");
        3
    });
    std::process::exit(code);
}
