//! Shared set-up of the binary's integration tests: running `bellwether` on a data directory and reading what
//! it printed.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with `--data-dir dir` and the arguments; returns what it did.
pub fn bw(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Standard output and standard error, together.
pub fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Standard output of a run that must have succeeded; fails the test with both outputs otherwise.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
