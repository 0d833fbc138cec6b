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

/// A loopback address with a free port (bound and released).
pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Waits until a server listens on `addr`, failing the test after a minute.
pub fn wait_listening(addr: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no server started on {addr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
