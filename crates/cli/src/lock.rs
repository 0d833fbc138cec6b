//! The serving lock of an embedded data directory: one `bellwether serve` at a time.
//!
//! Two servers on one embedded data directory would both apply its shared tracking inbox and count every
//! event twice. `serve` therefore holds an advisory lock (`flock`) on `serve.lock` in the data directory for
//! its whole life; the file holds the server's process id so a second server can name it. The operating
//! system releases the lock when the process ends, however it ends, so a crash never leaves a stale lock.
//! Imports and the other commands do not take this lock: they write through the store's own transactions and
//! never apply the inbox, so they work beside a running server.

use crate::error::CliError;
use bellwether_core::Code;
use std::fs::File;
use std::path::Path;

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "serve.lock";

/// Held while the server runs; dropping it (or the process ending) releases the lock.
pub struct ServeLock {
    _file: File,
}

/// Takes the serving lock of `dir`, or explains which server holds it.
#[cfg(unix)]
pub fn lock_for_serving(dir: &Path) -> Result<ServeLock, CliError> {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::new(
            Code::StoreUnavailable,
            format!("cannot create the data directory {}: {e}", dir.display()),
        )
    })?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            CliError::new(
                Code::StoreUnavailable,
                format!("cannot open the lock file {}: {e}", path.display()),
            )
        })?;
    // SAFETY: flock on a file descriptor this function owns (kept open by `file`) has no memory preconditions.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::WouldBlock {
            return Err(CliError::new(
                Code::StoreUnavailable,
                format!("cannot lock {}: {err}", path.display()),
            ));
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let who = match text.trim().parse::<u32>() {
            Ok(pid) => format!("another `bellwether serve` (process {pid})"),
            Err(_) => "another `bellwether serve`".to_string(),
        };
        return Err(CliError::new(
            Code::DataDirInUse,
            format!(
                "{who} already runs on the data directory {}; two servers on one data directory would both apply \
                 its inbox and count events twice. Stop the other server, or give this one its own --data-dir \
                 (imports and other commands beside the running server are fine)",
                dir.display()
            ),
        ));
    }
    // Ours now: record who holds it.
    let written = file
        .set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .and_then(|_| file.flush());
    if let Err(e) = written {
        tracing::warn!(file = %path.display(), error = %e, "cannot write the server's process id into the lock file");
    }
    Ok(ServeLock { _file: file })
}

/// Without `flock`, no lock is taken.
#[cfg(not(unix))]
pub fn lock_for_serving(dir: &Path) -> Result<ServeLock, CliError> {
    let path = dir.join(LOCK_FILE);
    let file = File::create(&path)?;
    Ok(ServeLock { _file: file })
}
