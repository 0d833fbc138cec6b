//! The test harness's PostgreSQL: a fresh database per test on a server it finds or starts itself, so
//! `cargo test` works on a developer's machine as in CI.
//!
//! The server is, in order: `BELLWETHER_TEST_DATABASE_URL` when set (a URL whose user may create databases;
//! the value `initdb` asks for the throwaway server below even when another answers); else one answering on
//! 127.0.0.1:5432 as `postgres`; else a throwaway one started with `initdb` from the installed PostgreSQL
//! binaries in a temporary directory, stopped when the test process ends. With none of these it fails, never
//! skips, and says how to install one.

use crate::{PgSettings, PgStore};
use std::sync::OnceLock;

/// A database made for one test, dropped when the guard is.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    /// A store on this database.
    pub async fn store(&self) -> PgStore {
        PgStore::open(&PgSettings::new(&self.url))
            .await
            .unwrap_or_else(|e| panic!("opening the test database {}: {e}", self.url))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Dropped from its own thread and runtime: a test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (c, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(conn);
                c.execute(
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                    &[],
                )
                .await
                .ok()
            })
        })
        .join();
    }
}

/// The server's admin URL (its `postgres` database), found or started once per process.
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let fail = |why: String| -> String {
            panic!(
                "the PostgreSQL tests need a server and found none: {why}.\n\
                 Set BELLWETHER_TEST_DATABASE_URL=postgres://user@host:port/postgres, run one on 127.0.0.1:5432, \
                 or install PostgreSQL's server binaries (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) \
                 so the tests can start a throwaway one with initdb."
            )
        };
        match std::env::var("BELLWETHER_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(u) if u == "initdb" => return throwaway().unwrap_or_else(fail),
            Some(u) => return u,
            None => {}
        }
        let local = "postgres://postgres@127.0.0.1:5432/postgres".to_string();
        if std::net::TcpStream::connect_timeout(
            &"127.0.0.1:5432".parse().expect("an address"),
            std::time::Duration::from_secs(1),
        )
        .is_ok()
        {
            return local;
        }
        throwaway().unwrap_or_else(fail)
    })
}

/// The directory holding `initdb` and `postgres`.
fn bindir() -> Option<std::path::PathBuf> {
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

/// The user and group a throwaway server runs as: none when not root, else the system's `postgres` user.
fn run_as() -> Result<Option<(libc::uid_t, libc::gid_t)>, String> {
    // SAFETY: geteuid has no preconditions; getpwnam gets a valid C string and its result is read at once.
    unsafe {
        if libc::geteuid() != 0 {
            return Ok(None);
        }
        let name = std::ffi::CString::new("postgres").expect("no NUL");
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return Err("running as root, and PostgreSQL will not run as root; there is no postgres user to run it as".into());
        }
        Ok(Some(((*pw).pw_uid, (*pw).pw_gid)))
    }
}

/// Makes `cmd` run as `user` when one is given.
fn as_user(cmd: &mut std::process::Command, user: Option<(libc::uid_t, libc::gid_t)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
}

/// Starts a server in a temporary directory on a free port, kept for the life of the test process; returns its
/// admin URL.
fn throwaway() -> Result<String, String> {
    let mut own = OwnServer::new()?;
    own.start()?;
    let url = own.admin_url();
    // Stopped with the process (the server's parent-death signal), its directory removed by a later run.
    std::mem::forget(own);
    Ok(url)
}

/// A PostgreSQL server of a test's own, in a temporary directory on a free port, that the test can stop and
/// start again (a database restarted under load). Stopped and removed when dropped.
pub struct OwnServer {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    user: Option<(libc::uid_t, libc::gid_t)>,
    /// The running server's process id and the thread that waits for it.
    running: Option<(u32, std::thread::JoinHandle<()>)>,
}

impl OwnServer {
    /// A new, stopped server: `initdb` in a temporary directory (as the system's `postgres` user when run as
    /// root), on a free port.
    pub fn new() -> Result<OwnServer, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let bin = bindir().ok_or("no initdb on PATH (pg_config) or under /usr/lib/postgresql")?;
        // Servers of earlier test runs left their directories behind; those whose process is gone are removed.
        for e in std::fs::read_dir(std::env::temp_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("bellwether-pg-")
                .and_then(|p| p.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "bellwether-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let data = dir.join("data");
        // PostgreSQL refuses to run as root: as root, the server runs as the system's `postgres` user.
        let user = run_as()?;
        if let Some((uid, gid)) = user {
            let c = std::ffi::CString::new(dir.to_string_lossy().as_bytes())
                .map_err(|e| e.to_string())?;
            // SAFETY: a valid path and ids; chown has no other effect.
            if unsafe { libc::chown(c.as_ptr(), uid, gid) } != 0 {
                return Err(format!(
                    "cannot hand {} to the postgres user",
                    dir.display()
                ));
            }
        }
        let mut initdb = std::process::Command::new(bin.join("initdb"));
        initdb.args([
            "-D",
            &data.to_string_lossy(),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ]);
        as_user(&mut initdb, user);
        let out = initdb
            .output()
            .map_err(|e| format!("initdb failed to start: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        Ok(OwnServer {
            bin,
            dir,
            port,
            user,
            running: None,
        })
    }

    /// The URL of its `postgres` database as the `postgres` user.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it takes connections.
    pub fn start(&mut self) -> Result<(), String> {
        if self.running.is_some() {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (postgres, d, sock, port, user) = (
            self.bin.join("postgres"),
            self.dir.join("data"),
            self.dir.clone(),
            self.port,
            self.user,
        );
        // The server is a child of a thread that waits for it, and is asked to stop when the test process
        // ends (PR_SET_PDEATHSIG is tied to the spawning thread, which lives as long as the server).
        let waiter = std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut cmd = std::process::Command::new(postgres);
            as_user(&mut cmd, user);
            cmd.args([
                "-D",
                &d.to_string_lossy(),
                "-p",
                &port.to_string(),
                "-k",
                &sock.to_string_lossy(),
            ])
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
            // SAFETY: prctl is async-signal-safe and only sets this child's parent-death signal.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = cmd.spawn();
            let _ = tx.send(child.as_ref().map(|c| c.id()).map_err(|e| e.to_string()));
            if let Ok(mut c) = child {
                let _ = c.wait();
            }
        });
        let pid = rx.recv().map_err(|e| e.to_string())??;
        self.running = Some((pid, waiter));
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(format!(
            "a throwaway server in {} did not start",
            self.dir.display()
        ))
    }

    /// Stops the server with a fast shutdown (sessions are ended, their transactions rolled back), as a
    /// restart does, and waits until it has.
    pub fn stop(&mut self) {
        if let Some((pid, waiter)) = self.running.take() {
            // SAFETY: signalling the server process this value started.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGINT);
            }
            let _ = waiter.join();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh, empty database for one test.
pub async fn fresh() -> TestDatabase {
    fresh_on(server()).await
}

/// A fresh, empty database on the server of the admin URL `admin` (an [`OwnServer`]'s, say).
pub async fn fresh_on(admin: &str) -> TestDatabase {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let admin = admin.to_string();
    let name = format!(
        "bellwether_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        bellwether_core::Timestamp::now().0 % 1_000_000
    );
    let (c, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "connecting to the test server {}: {e}",
                crate::redacted(&admin)
            )
        });
    tokio::spawn(conn);
    // With a natural-language collation where the server has ICU, as production databases usually are, so
    // that code which assumes byte order fails here too.
    let icu = format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    );
    if c.execute(&icu, &[]).await.is_err() {
        c.execute(
            &format!("CREATE DATABASE \"{name}\" TEMPLATE template0"),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
    }
    let url = match admin.rfind('/') {
        Some(i) if !admin[..i].ends_with('/') => {
            let (base, rest) = admin.split_at(i);
            let query = rest.find('?').map_or("", |q| &rest[q..]);
            format!("{base}/{name}{query}")
        }
        _ => format!("{admin} dbname={name}"),
    };
    TestDatabase { url, admin, name }
}
