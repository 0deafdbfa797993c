//! The measured hostile corpus: every layer of `corpus_cases.rs` is applied in a child
//! process of its own (this test binary, re-run on the ignored `corpus_child` test) onto
//! `tmp/target` beside `tmp/canary`, so its wall time and peak RSS (the child's VmHWM) are
//! its own. Asserts: nothing outside the target changed, each case refused naming the
//! expected entry (or applied where it is legal), each within 10 s and 256 MiB.

use super::corpus_cases::{corpus, Case, Expect, Gen};
use super::*;
use crate::layer::testutil::Sandbox;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LAYERS_ENV: &str = "COREBUILD_CORPUS_LAYERS";
const TARGET_ENV: &str = "COREBUILD_CORPUS_TARGET";
const CHILD: &str = "layer::apply::corpus_tests::corpus_child";
const MAX_TIME: Duration = Duration::from_secs(10);
const MAX_RSS_KIB: u64 = 256 << 10;

/// The child: applies the layers in `$COREBUILD_CORPUS_LAYERS` (in name order, `.gz`
/// ones gunzipped) onto `$COREBUILD_CORPUS_TARGET` and prints the outcome and its VmHWM.
#[test]
#[ignore = "run by hostile_corpus_is_refused_within_bounds in a child process"]
fn corpus_child() {
    let (Ok(dir), Ok(target)) = (std::env::var(LAYERS_ENV), std::env::var(TARGET_ENV)) else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut outcome = "ok".to_string();
    for f in files {
        let c = if f.extension().is_some_and(|e| e == "gz") {
            Compression::Gzip
        } else {
            Compression::None
        };
        let r = std::io::BufReader::new(std::fs::File::open(&f).unwrap());
        if let Err(e) = apply_layers([(c, r)], Path::new(&target), &ApplyOptions::default()) {
            let e = e.downcast_ref::<ApplyError>().expect("an ApplyError");
            outcome = format!("refused\t{}\t{}", e.entry, e.reason);
            break;
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    println!("CORPUS-RESULT\t{hwm}\t{outcome}");
}

struct Measured {
    time: Duration,
    rss_kib: u64,
    outcome: String,
}

fn run_child(case: &Case, sb: &Sandbox) -> Measured {
    let layers = tempfile::tempdir().unwrap();
    for (i, l) in case.layers.iter().enumerate() {
        let last = i + 1 == case.layers.len();
        let ext = if case.gzip && last { "tar.gz" } else { "tar" };
        std::fs::write(layers.path().join(format!("{i:03}.{ext}")), l).unwrap();
    }
    let t0 = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            CHILD,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LAYERS_ENV, layers.path())
        .env(TARGET_ENV, &sb.target)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Bounded wait: a hung apply is killed and reported, not waited on forever.
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > 3 * MAX_TIME {
            child.kill().unwrap();
            panic!(
                "case {:?} still running after {:?}",
                case.name,
                3 * MAX_TIME
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let time = t0.elapsed();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(
        status.success(),
        "case {:?}: child failed: {out}",
        case.name
    );
    // The harness prints `test … ` before the child's own line, on the same line.
    let line = out
        .split_once("CORPUS-RESULT\t")
        .and_then(|(_, rest)| rest.lines().next())
        .unwrap_or_else(|| panic!("case {:?}: no result in {out:?}", case.name));
    let (rss, outcome) = line.split_once('\t').unwrap();
    Measured {
        time,
        rss_kib: rss.parse().unwrap(),
        outcome: outcome.to_string(),
    }
}

fn check(case: &Case, m: &Measured) {
    match &case.expect {
        Expect::Applied => assert_eq!(m.outcome, "ok", "case {:?}", case.name),
        Expect::Refused(entry) => {
            let mut f = m.outcome.splitn(3, '\t');
            assert_eq!(
                f.next(),
                Some("refused"),
                "case {:?}: {}",
                case.name,
                m.outcome
            );
            let got = f.next().unwrap_or("");
            assert!(!got.is_empty(), "case {:?}: no entry named", case.name);
            if !entry.is_empty() {
                assert_eq!(got, entry, "case {:?}: {}", case.name, m.outcome);
            }
        }
    }
    assert!(m.time < MAX_TIME, "case {:?} took {:?}", case.name, m.time);
    assert!(
        m.rss_kib < MAX_RSS_KIB,
        "case {:?} peaked at {} KiB",
        case.name,
        m.rss_kib
    );
}

/// Runs one case in a fresh sandbox: its measures, and that nothing outside changed.
fn run_case(g: &Gen) -> (String, Measured) {
    let sb = Sandbox::new();
    let case = g(&sb.canary_abs());
    let before = sb.outside();
    let m = run_child(&case, &sb);
    assert_eq!(
        sb.outside(),
        before,
        "case {:?} wrote outside the target",
        case.name
    );
    check(&case, &m);
    (case.name, m)
}

#[test]
fn hostile_corpus_is_refused_within_bounds() {
    let gens = corpus();
    assert!(gens.len() >= 300, "only {} cases", gens.len());
    let t0 = Instant::now();
    // Two children at a time (the CI machine has two cores); each measures itself.
    let results: Vec<(String, Measured)> = std::thread::scope(|s| {
        let halves: Vec<_> = (0..2)
            .map(|h| {
                let gens = &gens;
                s.spawn(move || {
                    gens.iter()
                        .skip(h)
                        .step_by(2)
                        .map(run_case)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("a corpus case failed"))
            .collect()
    });
    let refused = results.iter().filter(|(_, m)| m.outcome != "ok").count();
    let slowest = results.iter().max_by_key(|(_, m)| m.time).unwrap();
    let largest = results.iter().max_by_key(|(_, m)| m.rss_kib).unwrap();
    println!(
        "hostile corpus: {} layers ({refused} refused, {} applied), 0 writes outside; \
         max time {:?} ({}), max RSS {} KiB ({}); whole run {:?}",
        results.len(),
        results.len() - refused,
        slowest.1.time,
        slowest.0,
        largest.1.rss_kib,
        largest.0,
        t0.elapsed()
    );
}
