//! Deciding `command` and `service` tests from what the executor reports.

use super::exec::{CommandOutput, ServiceOutput};
use super::report::Outcome;
use super::schema::{CommandTest, ServiceTest};
use super::text::{shorten, tail};

/// How much of stdout and stderr a failure quotes.
const QUOTE: usize = 400;

pub fn evaluate_command(t: &CommandTest, out: &CommandOutput) -> Outcome {
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    if out.timed_out {
        expected.push(format!(
            "exit {} within {}s",
            t.exit,
            t.spec.timeout.as_secs_f64()
        ));
        actual.push(format!(
            "killed at the {}s timeout",
            t.spec.timeout.as_secs_f64()
        ));
    } else {
        match (out.exit_code, out.signal) {
            (_, Some(sig)) => {
                expected.push(format!("exit {}", t.exit));
                actual.push(format!("killed by signal {sig}{}", signal_name(sig)));
            }
            (Some(code), None) if code != t.exit => {
                expected.push(format!("exit {}", t.exit));
                actual.push(format!("exit {code}"));
            }
            (Some(_), None) => {}
            (None, None) => {
                return Outcome::error("the executor reported neither an exit status nor a signal")
            }
        }
    }
    if let Some(p) = &t.stdout {
        if !p.is_match(&out.stdout) {
            expected.push(format!("stdout matching /{}/", p.source));
            actual.push("stdout does not match".into());
        }
    }
    if let Some(p) = &t.stderr {
        if !p.is_match(&out.stderr) {
            expected.push(format!("stderr matching /{}/", p.source));
            actual.push("stderr does not match".into());
        }
    }
    if let Some(p) = &t.stdout_excludes {
        if let Some(m) = p.regex.find(&out.stdout) {
            expected.push(format!("stdout without /{}/", p.source));
            actual.push(format!(
                "stdout has {:?}",
                shorten(&String::from_utf8_lossy(m.as_bytes()), 80)
            ));
        }
    }
    if expected.is_empty() {
        return Outcome::Passed;
    }
    actual.push(format!("stdout: {:?}", tail(&out.stdout, QUOTE)));
    actual.push(format!("stderr: {:?}", tail(&out.stderr, QUOTE)));
    Outcome::failed(expected.join("; "), actual.join("; "))
}

pub fn evaluate_service(t: &ServiceTest, out: &ServiceOutput) -> Outcome {
    let within = format!("within {}s", t.spec.ready_timeout.as_secs_f64());
    let expected = match &t.spec.http {
        Some(path) => format!(
            "HTTP {} from GET {path} on port {} {within}",
            t.status, t.spec.port
        ),
        None => format!("a listener on TCP port {} {within}", t.spec.port),
    };
    let detail = shorten(&out.detail, 2 * QUOTE);
    if !out.ready {
        return Outcome::failed(expected, format!("not ready: {detail}"));
    }
    match (&t.spec.http, out.status) {
        (None, _) => Outcome::Passed,
        (Some(_), Some(s)) if s == t.status => Outcome::Passed,
        (Some(_), Some(s)) => Outcome::failed(expected, format!("HTTP {s}: {detail}")),
        (Some(_), None) => Outcome::failed(expected, format!("no HTTP answer: {detail}")),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGBUS => " (SIGBUS)",
        libc::SIGILL => " (SIGILL)",
        libc::SIGFPE => " (SIGFPE)",
        libc::SIGXCPU => " (SIGXCPU: CPU time limit)",
        libc::SIGXFSZ => " (SIGXFSZ: file size limit)",
        _ => "",
    }
}
