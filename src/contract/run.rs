//! Running suites against a candidate: each test goes to the runner of its kind, tests of
//! one suite run in parallel (up to `jobs` at once) and results come back in suite order.

use super::candidate::Candidate;
use super::command_check::{evaluate_command, evaluate_service};
use super::exec::Executor;
use super::report::{ContractReport, Outcome, SuiteReport, TestResult};
use super::schema::{Check, Suite, TestCase};
use super::{boot_check, file_check, library_check, metadata_check, package_check};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Tests of one suite run at most this many at once; 0 means the number of cores.
    pub jobs: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl RunOptions {
    fn jobs(&self) -> usize {
        match self.jobs {
            0 => RunOptions::default().jobs,
            n => n,
        }
    }
}

/// Runs every suite against the candidate. Never fails as a whole: a runner that breaks
/// gives the affected tests an `Error` outcome (which the report counts as exit 3).
pub fn run_suites(
    candidate: &Candidate,
    suites: &[Suite],
    exec: &(dyn Executor + Sync),
    opts: &RunOptions,
) -> ContractReport {
    let reports = suites
        .iter()
        .map(|s| SuiteReport {
            name: s.name.clone(),
            version: s.version.clone(),
            results: run_suite(candidate, s, exec, opts.jobs()),
        })
        .collect();
    ContractReport::new(candidate.digest.clone(), reports)
}

fn run_suite(
    candidate: &Candidate,
    suite: &Suite,
    exec: &(dyn Executor + Sync),
    jobs: usize,
) -> Vec<TestResult> {
    let n = suite.tests.len();
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<TestResult>>> = Mutex::new(vec![None; n]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(test) = suite.tests.get(i) else {
                    break;
                };
                let result = run_test(candidate, test, exec);
                slots.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every test index is taken by one worker"))
        .collect()
}

/// Runs one test, timing it; a panic in a checker becomes an `Error`, not a lost thread.
pub fn run_test(
    candidate: &Candidate,
    test: &TestCase,
    exec: &(dyn Executor + Sync),
) -> TestResult {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| outcome(candidate, &test.check, exec)))
        .unwrap_or_else(|p| {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Outcome::error(format!("the {} checker panicked: {why}", test.check.kind()))
        });
    TestResult {
        name: test.name.clone(),
        kind: test.check.kind(),
        regression_for: test.regression_for.clone(),
        outcome,
        duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

fn outcome(c: &Candidate, check: &Check, exec: &(dyn Executor + Sync)) -> Outcome {
    match check {
        Check::Command(t) => match exec.run_command(&c.rootfs, &t.spec) {
            Ok(out) => evaluate_command(t, &out),
            Err(e) => Outcome::error(format!("running {:?}: {e:#}", t.spec.argv)),
        },
        Check::Service(t) => match exec.run_service(&c.rootfs, &t.spec) {
            Ok(out) => evaluate_service(t, &out),
            Err(e) => Outcome::error(format!("starting service {:?}: {e:#}", t.spec.argv)),
        },
        Check::File(t) => file_check::check(&c.rootfs, t),
        Check::Metadata(t) => metadata_check::check(&c.config, t),
        Check::Package(t) => package_check::check(&c.rootfs, t),
        Check::Library(t) => library_check::check(&c.rootfs, t),
        Check::Boot(t) => boot_check::check(c.vm.as_ref(), t),
    }
}
