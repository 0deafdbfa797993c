//! Service contracts: the suite schema and its parser, a runner per test kind, the
//! report (human text, JSON, JUnit XML), storing reports as OCI artifacts beside the
//! candidate, and the gate that publishing asks.
//!
//! Flow: [`load_suites`] (a blueprint's [`SuiteRef`](crate::blueprint::SuiteRef)s) →
//! [`Candidate::unpack`] → [`run_suites`] with an [`Executor`] for command and service
//! tests → [`ContractReport`] → [`store_report`] → [`gate`] before publishing.
//!
//! # Suite format (`contract-tests/<name>.toml`)
//!
//! `name` (must match the file name), `version` (semver, the contract's version),
//! `description`, and one or more `[[test]]` tables. Each test has `name` (unique in the
//! suite), optional `regression_for = "BUG-123"` and `description`, and exactly one kind:
//!
//! | kind | options (defaults) |
//! |---|---|
//! | `command = [argv]` | `exit` (0), `stdout`, `stderr`, `stdout_excludes` (regex), `env` (table), `user`, `timeout` ("60s") |
//! | `file = "/path"` | `exists` (true), `type` (file, dir, symlink), `mode` ("0644"), `uid`, `gid`, `contains`, `excludes` (regex), `sha256`, `target` |
//! | `metadata = { … }` | `env`, `labels` (key → regex), `entrypoint`, `cmd` (exact arrays), `user`, `workdir` (exact), `exposed_ports` (all present; "80" means "80/tcp") |
//! | `package = "name[:arch]"` | `version` (">= 2.36"; relations >=, <=, >>, <<, =) or `absent = true` |
//! | `library = "libc.so.6"` | `provides` (version definitions, e.g. ["GLIBC_2.34"]) |
//! | `service = [argv]` | `port` (TCP; 80 when only `http` is given), `http` ("/path"), `status` (200), `ready_timeout` ("30s") |
//! | `boot = { expect = regex, timeout = "120s" }` | `append` (added to the kernel command line); boots the candidate's disk in qemu (see `crate::disk::qemu`) |
//!
//! Regexes search (they are not anchored); stdout, stderr and file-content patterns are
//! multi-line, so `^`/`$` match at line ends. Durations are a whole number with `ms`,
//! `s`, `m` or `h`. Unknown keys, zero or two kinds, an option of another kind, a bad
//! regex, mode, duration, port or version, and duplicate names are errors at their line
//! and column (exit 2).
//!
//! A `file` test with `type = "symlink"` or `target` looks at the link itself; any other
//! looks at what the path resolves to. Paths resolve inside the rootfs as under `chroot`.
//! `package` reads `/var/lib/dpkg/status` (and `status.d/`); only `install ok installed`
//! counts, and with several architectures installed each must satisfy `version`.
//!
//! # Outcomes and exit codes
//!
//! Each test is `passed`, `failed` (expected vs actual), `skipped` (reason) or `error`
//! (the runner broke). A report passes when nothing failed or errored; its exit code is
//! 0, 1 when a test failed, 3 when the runner broke anywhere ([`ContractReport::exit_code`]).
//! Stored reports are found by the tag `sha256-<hex>.contract-<n>` (see [`store_report`]).

mod boot_check;
mod candidate;
mod command_check;
pub mod debversion;
pub(crate) mod dpkg;
mod exec;
mod file_check;
mod gate;
mod junit;
mod library_check;
mod metadata_check;
mod package_check;
mod parse;
mod parse_boot;
mod raw;
mod report;
pub(crate) mod rootfs;
mod run;
mod runc_exec;
mod schema;
mod store;
pub mod testing;
mod text;
mod values;
mod vm_commands;
mod vm_results;
mod vm_script;

#[cfg(test)]
mod tests;

pub use candidate::Candidate;
pub use command_check::{evaluate_command, evaluate_service};
pub use exec::{CommandOutput, Executor, ServiceOutput};
pub use gate::{decide, gate, GateStatus, GateVerdict, SuiteVerdict};
pub use junit::render as render_junit;
pub use library_check::version_definitions;
pub use parse::{load_suite, load_suite_ref, load_suites, parse_suite};
pub use report::{ContractReport, Outcome, SuiteReport, Summary, TestResult};
pub use run::{run_suites, run_test, RunOptions};
pub use runc_exec::RuntimeExecutor;
pub use schema::{
    BootTest, Check, CloudInit, CommandSpec, CommandTest, FileTest, FileType, LibraryTest,
    MetadataTest, PackageExpect, PackageTest, Pattern, ServiceSpec, ServiceTest, Suite, Target,
    TestCase, TestKind,
};
pub use store::{
    reports_for, store_report, stored_reports, tag_prefix, StoredReport, PASSED_ANNOTATION,
    REPORT_MEDIA_TYPE, SUBJECT_ANNOTATION, SUITES_ANNOTATION,
};
pub use testing::TestOptions;
pub use text::render as render_text;
