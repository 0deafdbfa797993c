//! Same blueprint + same lock => same digest, whatever the checkout path, umask, time
//! zone, locale, wall-clock time, source file mtimes, or CPU count.

use crate::util::*;
use std::process::Command;

fn build_in(
    ws: &Ws,
    bp: &std::path::Path,
    umask: &str,
    tz: &str,
    lang: &str,
    cpus: &str,
) -> String {
    let script = format!("umask {umask} && exec taskset -c {cpus} \"$0\" build \"$1\" --json");
    let mut cmd = Command::new("sh");
    cmd.env("COREBUILD_STORE", ws.store())
        .env_remove("SOURCE_DATE_EPOCH");
    let v = build_json(
        cmd.env("TZ", tz)
            .env("LANG", lang)
            .env("LC_ALL", lang)
            .args(["-c", &script])
            .arg(BIN)
            .arg(bp)
            .current_dir(ws.path()),
    );
    v["digest"].as_str().unwrap().to_string()
}

#[test]
fn same_inputs_same_digest_across_environments() {
    // Two workspaces: different checkout depth, umask for the fixture files and the base,
    // time zone, locale, CPU set, and source mtimes; built more than a second apart.
    let a = Ws::new();
    let b = Ws::new();
    let bp_a = {
        a.tiny_base();
        a.fixture("tiny")
    };
    let deep = b.path().join("some/deeper/checkout path");
    std::fs::create_dir_all(&deep).unwrap();
    // Recreate B's checkout under umask 077 with fresh mtimes, so host modes differ.
    let bp_b = deep.join("tiny");
    run_ok(Command::new("sh").arg("-c").arg(format!(
        "umask 077 && mkdir -p '{dst}' && cd '{src}' && tar --no-same-permissions -cf - . | (cd '{dst}' && tar --no-same-permissions -xf -) && find '{dst}' -exec touch {{}} +",
        src = repo_root().join("tests/fixtures/tiny").display(),
        dst = bp_b.display()
    )));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(bp_b.join("files/motd")).unwrap().mode() & 0o777,
        0o600
    );
    run_ok(Command::new("sh").arg("-c").arg(format!(
        "umask 077 && COREBUILD='{bin}' bash '{script}' --store '{store}'",
        bin = BIN,
        script = repo_root().join("blueprints/bases/busybox-tiny.sh").display(),
        store = b.store().display()
    )));

    let d1 = build_in(&a, &bp_a, "022", "UTC", "C.UTF-8", "0,1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let d2 = build_in(&b, &bp_b, "077", "Asia/Kolkata", "de_DE.UTF-8", "0");
    assert_eq!(d1, d2, "digests differ between environments");
    // And a rebuild in place is the same too.
    let d3 = build_in(&a, &bp_a, "002", "America/New_York", "C", "1");
    assert_eq!(d1, d3);
}
