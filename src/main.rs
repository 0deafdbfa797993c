//! The corebuild binary: a shim over `corebuild::cli::run`.

fn main() {
    std::process::exit(corebuild::cli::run());
}
