//! The registry-faults measurement (issue 11): `corebuild publish` through a fault proxy
//! in front of a real docker-registry, the proxy answering 20% of requests with a 5xx, a
//! 429 with `Retry-After: 1` or a dropped connection, completes with the digests of a
//! clean publish, within 3x the clean time (judged only when the benchmark sets
//! `REGISTRY_FAULTS_JUDGE_TIME`: timing in the parallel suite measures its neighbours),
//! and never asks again a request that got a
//! 4xx other than 429. `scripts/bench/registry-faults.sh` runs it and prints the figures
//! (`REGISTRY_FAULTS_ROUNDS` rounds, default 1; `REGISTRY_FAULTS_PAGE_MB`: the image's one
//! file layer this large, default 8: enough that the fixed costs of a process do not
//! dominate the clean time).
//!
//! Every 429 makes the client wait the `Retry-After: 1` the proxy asks for: a floor the
//! server sets, not overhead of ours. On a tiny publish (half a second) a few of those
//! alone exceed 3x, so the 3x bound applies to the faulty time less those waits; the raw
//! ratio is printed too, and the benchmark measures it on a larger image.

use crate::catalog::{json_of, Project};
use crate::registry::{FaultProxy, Faults, Logged, Registry};
use crate::util::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What one publish through the proxy gave.
struct Run {
    took: Duration,
    /// The image digest, then each artifact's `type digest`.
    digests: Vec<String>,
    log: Vec<Logged>,
    faults: u64,
}

/// Publishes tiny-web:1.0.0 through a proxy with `faults` to a registry of its own (so
/// every blob is uploaded in every run).
fn publish_through(p: &Project, faults: Faults) -> Run {
    let reg = Registry::start();
    let proxy = FaultProxy::start(&reg.addr, faults);
    let start = Instant::now();
    let o = json_of(&run_ok(p.cb(&proxy.spec("core")).args([
        "publish",
        "tiny-web:1.0.0",
        "--json",
    ])));
    let took = start.elapsed();
    let mut digests = vec![o["digest"].as_str().unwrap().to_string()];
    for a in o["artifacts"].as_array().unwrap() {
        digests.push(format!("{} {}", a["artifact_type"], a["digest"]));
    }
    let log = proxy.log.lock().unwrap().clone();
    let faults = proxy.faults.load(std::sync::atomic::Ordering::SeqCst);
    Run {
        took,
        digests,
        log,
        faults,
    }
}

/// 20% of requests: 7% dropped, 7% 500/502/503, 6% 429 with Retry-After.
fn twenty_percent(seed: u64) -> Faults {
    Faults {
        seed,
        drop: 70,
        error_500: 35,
        bad_gateway: 35,
        too_many: 60,
        max_faults: u64::MAX,
        ..Faults::none()
    }
}

/// A page of `mb` MiB that compresses about as well as real files (hex of a hash chain).
fn page(mb: usize) -> String {
    let mut out = String::from("one\n");
    let mut h = corebuild::digest::Digest::of_bytes(b"seed").to_string();
    while out.len() < mb << 20 {
        h = corebuild::digest::Digest::of_bytes(h.as_bytes()).to_string();
        out.push_str(&h);
        out.push('\n');
    }
    out
}

/// `METHOD path` with what differs between runs (digests, upload sessions, event tags,
/// queries) made generic.
fn shape(l: &Logged) -> String {
    let re =
        regex::Regex::new(r"sha256[:-][0-9a-f]{64}|uploads/[^/?]+|corebuild\.event\.[^/?]+|\?.*$")
            .unwrap();
    format!("{} {}", l.method, re.replace_all(&l.path, "…"))
}

/// How many answers of each shape were a 4xx other than 429.
fn refusals(log: &[Logged]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in log
        .iter()
        .filter(|l| (400..500).contains(&l.status) && l.status != 429)
    {
        *m.entry(shape(l)).or_default() += 1;
    }
    m
}

#[test]
fn publish_survives_twenty_percent_faults_with_the_same_digests() {
    let p = Project::new();
    let mb: usize = std::env::var("REGISTRY_FAULTS_PAGE_MB")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(8);
    let d1 = p.candidate("1.0.0", &page(mb));
    let rounds: u64 = std::env::var("REGISTRY_FAULTS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    for round in 0..rounds {
        let clean = publish_through(&p, Faults::none());
        let faulty = publish_through(&p, twenty_percent(0x5eed + round));
        assert_eq!(clean.digests[0], d1);
        assert_eq!(faulty.digests, clean.digests, "the faulty publish differs");
        let share = faulty.faults as f64 / faulty.log.len() as f64;
        assert!(
            faulty.faults > 0 && share > 0.1,
            "only {} faults in {} requests",
            faulty.faults,
            faulty.log.len()
        );
        // A request answered with a 4xx (not 429) is never asked again: the faulty run
        // has no more such answers of any shape than the clean run (the proxy faults a
        // request before the registry sees it, so the registry's answers are the same).
        let (c, f) = (refusals(&clean.log), refusals(&faulty.log));
        for (shape, n) in &f {
            let clean_n = c.get(shape).copied().unwrap_or(0);
            assert!(
                *n <= clean_n,
                "{shape}: {n} refusals with faults, {clean_n} without: a 4xx was retried"
            );
        }
        let waits = faulty.log.iter().filter(|l| l.status == 429).count() as f64;
        let ratio = faulty.took.as_secs_f64() / clean.took.as_secs_f64();
        let own = (faulty.took.as_secs_f64() - waits) / clean.took.as_secs_f64();
        eprintln!(
            "registry-faults round {round}: clean {:.2} s ({} requests), faulty {:.2} s ({} requests, {} faults = {:.0}%, {waits} x Retry-After 1 s), ratio {ratio:.2}x, without the Retry-After waits {own:.2}x, 4xx answers {} (none retried)",
            clean.took.as_secs_f64(),
            clean.log.len(),
            faulty.took.as_secs_f64(),
            faulty.log.len(),
            faulty.faults,
            100.0 * share,
            f.values().sum::<usize>(),
        );
        // Time is judged by the benchmark (alone on the machine), not in the suite, where
        // VM boots share the cores: a timed assertion there measures the neighbours.
        if std::env::var_os("REGISTRY_FAULTS_JUDGE_TIME").is_some() {
            assert!(
                own <= 3.0,
                "the faulty publish took {own:.2}x the clean one (without the Retry-After waits)"
            );
        }
    }
}

#[test]
fn a_4xx_answer_to_a_publish_is_not_retried() {
    // A registry with auth and no credentials: every request gets a 401 challenge, which
    // the client cannot answer; it gives up at the first one.
    let reg = Registry::start_with_auth("builder", "s3cret");
    let proxy = FaultProxy::start(&reg.addr, Faults::none());
    let p = Project::new();
    p.candidate("1.0.0", "one\n");
    let o = p
        .cb(&proxy.spec("core"))
        .args(["publish", "tiny-web:1.0.0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let log = proxy.log.lock().unwrap().clone();
    assert!(
        !log.is_empty() && log.iter().all(|l| l.status == 401),
        "{log:?}"
    );
    let mut asked: Vec<(&str, &str)> = log.iter().map(|l| (&*l.method, &*l.path)).collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), log.len(), "asked again after a 401: {log:?}");
}
