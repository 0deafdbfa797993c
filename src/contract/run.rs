//! Running suites against a candidate: each test goes to the runner of its kind, tests of
//! one suite run in parallel (up to `jobs` at once) and results come back in suite order.
//! A boot test runs once per firmware (each run a job, so they boot in parallel); a suite
//! with the `vm` target adds one job that boots the VM once for all its command tests,
//! whose results follow the suite's others.

use super::boot_check::{self, BootRun};
use super::candidate::Candidate;
use super::command_check::{evaluate_command, evaluate_service};
use super::exec::Executor;
use super::report::{ContractReport, Outcome, SuiteReport, TestResult};
use super::schema::{BootTest, Check, CommandTest, Suite, Target, TestCase};
use super::{file_check, library_check, metadata_check, package_check, vm_commands};
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

/// One unit of work for the pool: most tests give one result, a boot test one per
/// firmware run, and the suite's `vm` target one per command test from one VM boot.
enum Job<'a> {
    Test(&'a TestCase),
    Boot(&'a TestCase, &'a BootTest, BootRun),
    Vm(Vec<&'a TestCase>),
}

impl Job<'_> {
    /// Boots take minutes under TCG: they start first so they overlap the quick tests.
    fn slow(&self) -> bool {
        matches!(self, Job::Boot(..) | Job::Vm(_))
    }
}

/// The suite's jobs, in report order: each test's runs in suite order, then the VM's.
fn jobs<'a>(candidate: &Candidate, suite: &'a Suite) -> Vec<Job<'a>> {
    let in_container = suite.targets.contains(&Target::Container);
    let mut jobs = Vec::new();
    let mut vm = Vec::new();
    // Looked up once per suite: it lists the image's /boot.
    let vm_target = suite.targets.contains(&Target::Vm) && candidate.is_vm();
    for t in &suite.tests {
        match &t.check {
            Check::Boot(b) => jobs.extend(
                boot_check::runs(candidate.vm.as_ref(), b)
                    .into_iter()
                    .map(|r| Job::Boot(t, b, r)),
            ),
            Check::Command(_) => {
                if in_container {
                    jobs.push(Job::Test(t));
                }
                if vm_target {
                    vm.push(t);
                }
            }
            _ => jobs.push(Job::Test(t)),
        }
    }
    if !vm.is_empty() {
        jobs.push(Job::Vm(vm));
    }
    jobs
}

fn run_suite(
    candidate: &Candidate,
    suite: &Suite,
    exec: &(dyn Executor + Sync),
    jobs: usize,
) -> Vec<TestResult> {
    let work = self::jobs(candidate, suite);
    // Slow jobs first; `order` maps a pick to its job, results stay in job order.
    let mut order: Vec<usize> = (0..work.len()).collect();
    order.sort_by_key(|i| !work[*i].slow());
    let n = work.len();
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Vec<TestResult>>> = Mutex::new(vec![Vec::new(); n]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let results = run_job(candidate, &work[i], exec);
                    slots.lock().unwrap_or_else(|p| p.into_inner())[i] = results;
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn run_job(candidate: &Candidate, job: &Job, exec: &(dyn Executor + Sync)) -> Vec<TestResult> {
    match job {
        Job::Test(t) => vec![run_test(candidate, t, exec)],
        Job::Boot(t, b, run) => {
            let mut r = timed(t, || boot_check::check(candidate, b, *run));
            if let Some(f) = run.firmware() {
                r.name = TestResult::firmware_name(&t.name, f);
                r.firmware = Some(f);
            }
            vec![r]
        }
        Job::Vm(tests) => vm_results(candidate, tests),
    }
}

/// The `vm` target's results: one boot for all of them, so each carries the whole run's
/// time divided evenly (the report's durations still add up).
fn vm_results(candidate: &Candidate, tests: &[&TestCase]) -> Vec<TestResult> {
    let start = Instant::now();
    let cmds: Vec<&CommandTest> = tests
        .iter()
        .filter_map(|t| match &t.check {
            Check::Command(c) => Some(c),
            _ => None,
        })
        .collect();
    let outcomes = guarded("vm target", || vm_commands::run(candidate, &cmds))
        .unwrap_or_else(|e| vec![e; cmds.len()]);
    let each = millis(start) / (tests.len().max(1) as u64);
    tests
        .iter()
        .zip(outcomes)
        .map(|(t, o)| TestResult {
            name: TestResult::vm_name(&t.name),
            target: Some(Target::Vm),
            duration_ms: each,
            ..TestResult::new(&t.name, t.check.kind(), t.regression_for.clone(), o)
        })
        .collect()
}

/// Runs `f`; a panic in it becomes an `Error` outcome, not a lost thread.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, Outcome> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Outcome::error(format!("the {what} checker panicked: {why}"))
    })
}

fn millis(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Times one outcome of `test`.
fn timed(test: &TestCase, f: impl FnOnce() -> Outcome) -> TestResult {
    let start = Instant::now();
    let outcome = guarded(test.check.kind().as_str(), f).unwrap_or_else(|e| e);
    TestResult {
        duration_ms: millis(start),
        ..TestResult::new(
            &test.name,
            test.check.kind(),
            test.regression_for.clone(),
            outcome,
        )
    }
}

/// Runs one test as written (a boot test: its first run), timing it; a panic in a
/// checker becomes an `Error`, not a lost thread.
pub fn run_test(
    candidate: &Candidate,
    test: &TestCase,
    exec: &(dyn Executor + Sync),
) -> TestResult {
    timed(test, || outcome(candidate, &test.check, exec))
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
        Check::Boot(t) => {
            let run = boot_check::runs(c.vm.as_ref(), t)[0];
            boot_check::check(c, t, run)
        }
    }
}
