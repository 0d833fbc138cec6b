//! Connections: one writer and a small pool of readers on the database file (WAL lets readers run beside the
//! writer), opened with the store's settings, and the blocking pool every query runs on.

use super::*;

/// Reader connections kept open.
pub(crate) const MAX_IDLE_READERS: usize = 16;

/// The store's connections, shared by its clones.
pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) writer: Mutex<Connection>,
    pub(crate) readers: Mutex<Vec<Connection>>,
    /// The tracking inbox's own file, opened on first use: `[writer, reader]`.
    pub(crate) inbox: [Mutex<Option<Connection>>; 2],
}

pub(crate) fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot open the database {}: {e}; check the path and its permissions",
            path.display()
        ))
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(db_err)?;
    // The log is copied into the file every 10,000 pages (40 MB) rather than SQLite's 1,000: a page that many
    // transactions rewrite (series, distinct users) is copied once instead of once per transaction.
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 10000; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = ON; PRAGMA recursive_triggers = ON;")
        .map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Unavailable(format!("a store task failed: {e}")))?
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let mut writer = connect(&path)?;
            migrate(&mut writer)?;
            Ok(SqliteStore {
                inner: Arc::new(Inner {
                    path,
                    writer: Mutex::new(writer),
                    readers: Mutex::new(Vec::new()),
                    inbox: Default::default(),
                }),
            })
        })
        .await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs a read on a pooled reader connection, on the blocking pool.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => connect(&inner.path)?,
            };
            let out = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                if pool.len() < MAX_IDLE_READERS {
                    pool.push(conn);
                }
            }
            out
        })
        .await
    }

    /// Runs a write transaction on the writer connection, on the blocking pool.
    pub(crate) async fn write_tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut conn = inner
                .writer
                .lock()
                .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let t = std::time::Instant::now();
            let out = f(&tx)?;
            let wrote = t.elapsed().as_secs_f64();
            tx.commit().map_err(db_err)?;
            tracing::trace!(
                write_seconds = wrote,
                commit_seconds = t.elapsed().as_secs_f64() - wrote,
                "write transaction"
            );
            Ok(out)
        })
        .await
    }
}
