//! Deciding command and service tests from executor output: exit, signals, timeouts,
//! output patterns, readiness and HTTP status.

use crate::contract::*;
use std::path::Path;

fn tests(text: &str) -> Vec<TestCase> {
    let head = "name = \"e\"\nversion = \"1.0.0\"\ndescription = \"\"\n";
    parse_suite(Path::new("/s/e.toml"), &format!("{head}{text}"))
        .unwrap()
        .tests
}

fn command(text: &str) -> CommandTest {
    match tests(text).remove(0).check {
        Check::Command(c) => c,
        _ => panic!(),
    }
}

fn service(text: &str) -> ServiceTest {
    match tests(text).remove(0).check {
        Check::Service(s) => s,
        _ => panic!(),
    }
}

fn exited(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
    CommandOutput {
        exit_code: Some(code),
        stdout: stdout.into(),
        stderr: stderr.into(),
        ..Default::default()
    }
}

#[test]
fn command_outcomes() {
    let t = command("[[test]]\nname = \"c\"\ncommand = [\"/x\"]\nstdout = \"^ok$\"\nstderr = \"warn\"\nstdout_excludes = \"panic\"\n");
    assert_eq!(
        evaluate_command(&t, &exited(0, "a\nok\n", "warn: x")),
        Outcome::Passed
    );
    let Outcome::Failed { expected, actual } = evaluate_command(&t, &exited(2, "panic: ok\n", ""))
    else {
        panic!()
    };
    assert_eq!(
        expected,
        "exit 0; stdout matching /^ok$/; stderr matching /warn/; stdout without /panic/"
    );
    assert!(
        actual.starts_with(
            "exit 2; stdout does not match; stderr does not match; stdout has \"panic\""
        ),
        "{actual}"
    );
    assert!(actual.contains("stdout: \"panic: ok\\n\""), "{actual}");

    let killed = CommandOutput {
        signal: Some(9),
        ..Default::default()
    };
    let Outcome::Failed { actual, .. } = evaluate_command(&t, &killed) else {
        panic!()
    };
    assert!(
        actual.starts_with("killed by signal 9 (SIGKILL)"),
        "{actual}"
    );
    let slow = CommandOutput {
        timed_out: true,
        signal: Some(9),
        ..Default::default()
    };
    let Outcome::Failed { expected, actual } = evaluate_command(&t, &slow) else {
        panic!()
    };
    assert!(expected.starts_with("exit 0 within 60s"), "{expected}");
    assert!(actual.starts_with("killed at the 60s timeout"), "{actual}");
    assert!(matches!(
        evaluate_command(&t, &CommandOutput::default()),
        Outcome::Error { .. }
    ));

    // Long output is quoted by its tail only.
    let long = "x".repeat(10_000) + "END";
    let Outcome::Failed { actual, .. } = evaluate_command(&t, &exited(1, &long, "")) else {
        panic!()
    };
    assert!(
        actual.len() < 1200 && actual.contains("…") && actual.contains("END"),
        "{}",
        actual.len()
    );
}

#[test]
fn service_outcomes() {
    let tcp = service("[[test]]\nname = \"s\"\nservice = [\"/d\"]\nport = 22\n");
    let up = ServiceOutput {
        ready: true,
        status: None,
        detail: "connected".into(),
    };
    assert_eq!(evaluate_service(&tcp, &up), Outcome::Passed);
    let down = ServiceOutput {
        ready: false,
        status: None,
        detail: "connection refused; sshd exited 255".into(),
    };
    assert_eq!(
        evaluate_service(&tcp, &down),
        Outcome::failed(
            "a listener on TCP port 22 within 30s",
            "not ready: connection refused; sshd exited 255"
        )
    );
    let http =
        service("[[test]]\nname = \"h\"\nservice = [\"/d\"]\nhttp = \"/healthz\"\nstatus = 204\n");
    let ok = ServiceOutput {
        ready: true,
        status: Some(204),
        detail: String::new(),
    };
    assert_eq!(evaluate_service(&http, &ok), Outcome::Passed);
    let wrong = ServiceOutput {
        ready: true,
        status: Some(500),
        detail: "internal error".into(),
    };
    assert_eq!(
        evaluate_service(&http, &wrong),
        Outcome::failed(
            "HTTP 204 from GET /healthz on port 80 within 30s",
            "HTTP 500: internal error"
        )
    );
    let mute = ServiceOutput {
        ready: true,
        status: None,
        detail: "connected, no answer".into(),
    };
    assert!(
        matches!(evaluate_service(&http, &mute), Outcome::Failed { actual, .. } if actual.starts_with("no HTTP answer"))
    );
}
