//! Connections: the settings a team sets (URL, pool size, statement timeout, TLS by the URL's `sslmode`), the
//! pool, errors mapped onto [`StoreError`], and transactions.

use bellwether_store::{Result, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;

/// How to reach the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgSettings {
    /// `postgres://user:password@host:port/database?sslmode=prefer` (any libpq-style URL or key=value string).
    /// `sslmode` means what it means to libpq: `disable`; `prefer` (the default: TLS when the server offers
    /// it) and `require` (TLS or nothing), neither checking the certificate; `verify-ca` (TLS with a
    /// certificate signed by a root the system trusts) and `verify-full` (and issued for the host).
    pub url: String,
    /// Connections kept open (each replica's share of the server's `max_connections`).
    pub pool_size: usize,
    /// A statement running longer than this is cancelled by the server.
    pub statement_timeout: Duration,
}

impl PgSettings {
    /// Settings for `url` with the defaults: 8 connections, 5-minute statements.
    pub fn new(url: &str) -> PgSettings {
        PgSettings {
            url: url.to_string(),
            pool_size: 8,
            statement_timeout: Duration::from_secs(300),
        }
    }
}

/// The URL with its password hidden, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// How much of the server's certificate TLS checks, from `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verify {
    Nothing,
    Ca,
    Full,
}

/// Reads libpq's `verify-ca` and `verify-full`, which the driver does not know, into `require` plus what to
/// check.
fn sslmode(url: &str) -> (String, Verify) {
    for (mode, verify) in [("verify-full", Verify::Full), ("verify-ca", Verify::Ca)] {
        for form in [format!("sslmode={mode}"), format!("sslmode = {mode}")] {
            if url.contains(&form) {
                return (url.replace(&form, "sslmode=require"), verify);
            }
        }
    }
    (url.to_string(), Verify::Nothing)
}

/// How long making (or checking) a connection may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a request waits for a free connection of the pool.
const POOL_WAIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) fn pool(settings: &PgSettings) -> Result<Pool> {
    let (url, verify) = sslmode(&settings.url);
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        StoreError::Unavailable(format!(
            "the database URL {} cannot be read: {e}; it looks like postgres://user@host:5432/database",
            redacted(&settings.url)
        ))
    })?;
    config.options(format!(
        "-c statement_timeout={} -c lock_timeout=60000",
        settings.statement_timeout.as_millis()
    ));
    if config.get_application_name().is_none() {
        config.application_name("bellwether");
    }
    let tls = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(verify == Verify::Nothing)
        .danger_accept_invalid_hostnames(verify != Verify::Full)
        .build()
        .map_err(|e| StoreError::Unavailable(format!("TLS could not be set up: {e}")))?;
    let tls = postgres_native_tls::MakeTlsConnector::new(tls);
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.pool_size.max(2))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        // A database that does not answer (restarting, cut off) fails a request within seconds, so a
        // server answers 503 and its clients retry, rather than holding them; a new connection is made
        // on the next request, so a server reconnects by itself once the database is back.
        .create_timeout(Some(CONNECT_TIMEOUT))
        .wait_timeout(Some(POOL_WAIT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| {
            StoreError::Unavailable(format!("the connection pool could not be built: {e}"))
        })
}

/// Maps a driver error: a unique violation is a [`StoreError::Conflict`], the rest unavailability.
pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        use tokio_postgres::error::SqlState;
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(db.message().to_string());
        }
        // The transaction was rolled back as a whole; running it again is safe.
        if [
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::T_R_SERIALIZATION_FAILURE,
        ]
        .contains(db.code())
        {
            return StoreError::Conflict(format!("{} ({})", db.message(), db.code().code()));
        }
        let mut msg = format!("{} ({})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            msg.push_str(&format!("; {d}"));
        }
        return StoreError::Unavailable(msg);
    }
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_err(e),
        other => StoreError::Unavailable(format!("no database connection: {other}")),
    }
}

pub(crate) fn corrupt(table: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{table}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_reads_as_libpq_does_and_passwords_are_hidden() {
        assert_eq!(
            sslmode("postgres://h/db?sslmode=verify-full"),
            ("postgres://h/db?sslmode=require".to_string(), Verify::Full)
        );
        assert_eq!(sslmode("host=h sslmode=verify-ca").1, Verify::Ca);
        assert_eq!(
            sslmode("postgres://h/db?sslmode=require").1,
            Verify::Nothing
        );
        assert_eq!(
            redacted("postgres://bw:secret@db:5432/bw"),
            "postgres://bw:***@db:5432/bw"
        );
        assert_eq!(redacted("postgres://bw@db/bw"), "postgres://bw@db/bw");
    }
}
