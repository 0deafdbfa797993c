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
//! `description`, optional `targets` (where `command` tests run: `["container"]` by
//! default, `["container", "vm"]` or `["vm"]`), and one or more `[[test]]` tables. Each test has `name` (unique in the
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
//! | `boot = { expect = regex, timeout = "120s" }` | `firmware` (`["bios", "uefi"]`; default: every firmware the disk supports), `direct` (false), `append` (added to the kernel command line of a direct boot), `cloud_init = { user_data = "#cloud-config…" }`; boots the candidate's disk in qemu (see `crate::disk::qemu`) |
//!
//! Regexes search (they are not anchored); stdout, stderr and file-content patterns are
//! multi-line, so `^`/`$` match at line ends. Durations are a whole number with `ms`,
//! `s`, `m` or `h`. Unknown keys, zero or two kinds, an option of another kind, a bad
//! regex, mode, duration, port or version, and duplicate names are errors at their line
//! and column (exit 2).
//!
//! # Boot tests and the VM target
//!
//! A `boot` test runs once per firmware (SeaBIOS, or OVMF with a copy of its variable
//! store per run), each run a result of its own named `<test> [bios]`/`<test> [uefi]`
//! with a `firmware` field; the runs boot in parallel. With `direct = true`, on a disk
//! made with `boot = "none"` (which no firmware boots), or with `append` (only a direct
//! boot takes it), qemu hands over the image's own newest kernel and initrd instead, once,
//! under the test's plain name. A firmware asked for by name that the disk was not made
//! for fails the test; `firmware` with `direct = true` or with `append`, an unknown or
//! repeated firmware, and `user_data` that does not start with `#cloud-config` or `#!`
//! are errors at their line. The disk is always attached `snapshot=on`.
//!
//! `expect` is matched only against console output after the kernel starts (its
//! `Linux version` banner), with carriage returns and escape sequences removed, never
//! against firmware or GRUB output or the kernel's echo of its command line; a prompt
//! without a newline matches. A kernel booted with `quiet` prints no banner: the test
//! fails saying so. A VM that does not show the pattern fails with the console's tail.
//!
//! `cloud_init` attaches a NoCloud seed (`cidata` FAT volume with `user-data` and
//! `meta-data`: instance id from the candidate digest, the image's `/etc/hostname`).
//!
//! A suite whose `targets` has `vm` runs each `command` test inside the candidate's VM
//! too, as `<test> [vm]` with `target: vm`: the disk boots once per suite (its first
//! firmware, or directly) with a seed whose `runcmd` runs every test read-only-rooted
//! with a fresh `/tmp`, as its user without capabilities, with its env and timeout, and
//! prints the results on the serial console (see `vm_script`). The image needs
//! cloud-init (else the results are errors naming it). The target applies to VM core
//! builds only (a kernel under `/boot`): a container-only image runs the suite's commands in
//! the container alone. In the VM a command killed by a signal shows as exit 128+N.
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
pub mod reuse;
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
