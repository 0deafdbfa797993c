//! Headless Chromium for tests of the web catalog: the DOM after the page's scripts ran,
//! the console messages it printed, and screenshots. A fresh profile per run; no network.

use crate::util::*;
use std::path::Path;
use std::process::Command;

/// What a page left after loading.
pub struct Loaded {
    pub dom: String,
    /// Console messages and uncaught errors (Chromium logs them as `…:CONSOLE…`).
    pub console: Vec<String>,
}

fn chromium(profile: &Path) -> Command {
    let exe = require("chromium");
    let mut c = Command::new(exe);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Loads `url` and returns its DOM (after `defer` scripts and DOMContentLoaded handlers).
pub fn load(url: &str) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let o = chromium(profile.path())
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("running chromium");
    assert!(
        o.status.success(),
        "chromium failed on {url}: {}",
        stderr(&o)
    );
    Loaded {
        dom: stdout(&o),
        console: stderr(&o)
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

/// A screenshot of `url` at `width` × `height` CSS pixels into `png`.
pub fn screenshot(url: &str, width: u32, height: u32, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let o = chromium(profile.path())
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .expect("running chromium");
    assert!(
        o.status.success(),
        "chromium screenshot of {url}: {}",
        stderr(&o)
    );
    let head = std::fs::read(png).unwrap();
    assert!(
        head.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        png.display()
    );
}

/// The console check can fail: a page with an error is seen to have one.
pub fn console_check_works(dir: &Path) {
    let page = dir.join("console-check.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html lang=\"en\"><title>x</title><script>nosuchfunction();</script></html>",
    )
    .unwrap();
    let l = load(&format!("file://{}", page.display()));
    assert!(
        l.console.iter().any(|c| c.contains("nosuchfunction")),
        "chromium did not report an uncaught error on stderr: {:?}",
        l.console
    );
}
