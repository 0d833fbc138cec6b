//! The embedded SQLite backend of [`bellwether_store::Store`]: one file in the data directory, no setup.
//!
//! The database runs in WAL mode with `synchronous = FULL`, so a committed write survives a crash or power
//! loss. Migrations are versioned SQL files in `migrations/`, embedded in the binary and applied at open.
//! Writes are batched: one transaction per [`WriteBatch`], cached prepared statements, and series read,
//! merged and rewritten per account inside that transaction.
//!
//! SQLite is driven through `rusqlite` on Tokio's blocking pool: one writer connection and a small pool of
//! reader connections (WAL lets readers run beside the writer). Bulk reads of a whole book move millions of
//! rows, and rusqlite's direct row access reads them several times faster than an async driver that copies
//! every row through a channel (measured: 169k interaction rows in 1.1 s with sqlx 0.8, see BENCHMARKS.md).

mod inbox;
mod live;
mod models;
mod packed;
mod rows;

use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    Assessment, CommonFeatures, CommonScope, PeerStats, Prediction, Signal,
};
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::{
    AccountFacts, Book, BookSummary, Fingerprint, ModelRecord, Ranking, Result, SignalFilter,
    StoreError, StoreStats, WriteBatch, WriteSummary,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use rustc_hash::FxHashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Versioned migrations, applied in order; a published one is never edited.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "signal_lifecycle",
        include_str!("../migrations/0002_signal_lifecycle.sql"),
    ),
    (
        3,
        "peer_stats",
        include_str!("../migrations/0003_peer_stats.sql"),
    ),
    (4, "models", include_str!("../migrations/0004_models.sql")),
    (
        5,
        "facts_packed",
        include_str!("../migrations/0005_facts_packed.sql"),
    ),
    (6, "server", include_str!("../migrations/0006_server.sql")),
    (7, "inbox", include_str!("../migrations/0007_inbox.sql")),
    (
        8,
        "current_day",
        include_str!("../migrations/0008_current_day.sql"),
    ),
    (
        9,
        "common_features",
        include_str!("../migrations/0009_common_features.sql"),
    ),
    (
        10,
        "crm_users",
        include_str!("../migrations/0010_crm_users.sql"),
    ),
    (
        11,
        "subscription_terms",
        include_str!("../migrations/0011_subscription_terms.sql"),
    ),
    (
        12,
        "predictions_by_account",
        include_str!("../migrations/0012_predictions_by_account.sql"),
    ),
];

/// Reader connections kept open.
const MAX_IDLE_READERS: usize = 16;

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The tracking inbox's own file, opened on first use: `[writer, reader]`.
    inbox: [Mutex<Option<Connection>>; 2],
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn connect(path: &Path) -> Result<Connection> {
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

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        .map_err(db_err)?;
    let applied: Vec<i64> = {
        let mut st = conn
            .prepare("SELECT version FROM schema_migrations")
            .map_err(db_err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(db_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db_err)?
    };
    if let Some(max) = applied.iter().max() {
        if *max > MIGRATIONS.last().map_or(0, |m| m.0) {
            return Err(StoreError::Unavailable(format!("the database has schema version {max}, newer than this Bellwether understands; upgrade Bellwether")));
        }
    }
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Unavailable(format!("migration {version} ({name}) failed: {e}"))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, Timestamp::now().0],
        )
        .map_err(db_err)?;
        // The catalogue created by migration 2 is filled, first and last days, once it has both columns.
        if *version == 8 {
            backfill_catalog(&tx)?;
        }
        if *version == 5 {
            repack_dirty(&tx)?;
        }
        tx.commit().map_err(db_err)?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

/// Fills the metric catalogue (first and last day of every metric) from the stored series, for databases
/// written before it held them.
fn backfill_catalog(tx: &Transaction) -> Result<()> {
    let mut span: CatalogSpans = Default::default();
    {
        let mut st = tx
            .prepare("SELECT account_id, packed FROM series")
            .map_err(db_err)?;
        let mut rows = st.query([]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            let (_, s) = decode_series(
                r.get(0).map_err(db_err)?,
                r.get_ref(1)
                    .map_err(db_err)?
                    .as_blob()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )?;
            for (m, ser) in &s.metrics {
                if let (Some(first), Some(last)) = (ser.first_day(), ser.points.last()) {
                    widen(&mut span, m, first.0, last.0 .0);
                }
            }
        }
    }
    // The catalogue may hold metrics written by a version that kept no last day; this fills them too.
    tx.execute("DELETE FROM catalog", []).map_err(db_err)?;
    upsert_catalog(tx, span)
}

/// First and last day of each metric in a write.
type CatalogSpans = rustc_hash::FxHashMap<String, (i32, i32)>;

fn widen(span: &mut CatalogSpans, metric: &str, first: i32, last: i32) {
    match span.get_mut(metric) {
        Some(e) => *e = (e.0.min(first), e.1.max(last)),
        None => {
            span.insert(metric.to_string(), (first, last));
        }
    }
}

fn upsert_catalog(tx: &Transaction, span: CatalogSpans) -> Result<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO catalog (metric, first_day, last_day) VALUES (?1, ?2, ?3) ON CONFLICT (metric) DO UPDATE \
             SET first_day = min(first_day, excluded.first_day), last_day = max(coalesce(last_day, excluded.last_day), excluded.last_day)",
        )
        .map_err(db_err)?;
    for (m, (first, last)) in span {
        st.execute(params![m, first, last]).map_err(db_err)?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
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

    /// Rebuilds the packed facts of accounts written since the last rebuild, if there are any.
    async fn repack(&self) -> Result<()> {
        let dirty = self
            .read(|c| {
                c.query_row("SELECT EXISTS (SELECT 1 FROM facts_dirty)", [], |r| {
                    r.get::<_, bool>(0)
                })
                .map_err(db_err)
            })
            .await?;
        if dirty {
            self.write_tx(|tx| repack_dirty(tx).map(drop)).await?;
        }
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs a read on a pooled reader connection, on the blocking pool.
    async fn read<T: Send + 'static>(
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
    async fn write_tx<T: Send + 'static>(
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

fn hex(f: Fingerprint) -> String {
    format!("{f:032x}")
}

fn insert_attrs(tx: &Transaction, table: &str, key: &str, facts: &[AttrFact]) -> Result<u64> {
    // A fact re-sent with the same value keeps its first receipt time; a corrected value replaces it.
    let sql = format!(
        "INSERT INTO {table} ({key}, attr, valid_from, value, received_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT ({key}, attr, valid_from) DO UPDATE SET value = excluded.value, received_at = excluded.received_at WHERE value IS NOT excluded.value"
    );
    let mut st = tx.prepare_cached(&sql).map_err(db_err)?;
    let mut n = 0;
    for f in facts {
        n += st
            .execute(params![
                f.subject,
                f.attr,
                f.valid_from.0,
                f.value,
                f.received_at.0
            ])
            .map_err(db_err)? as u64;
    }
    Ok(n)
}

fn write_batch(tx: &Transaction, batch: &WriteBatch) -> Result<WriteSummary> {
    let now = batch.received_at.unwrap_or_else(Timestamp::now);
    tx.execute(
        "INSERT INTO imports (source, kind, received_at, records, rejected, chunks) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![batch.source, batch.kind, now.0, batch.records as i64, batch.rejected as i64, batch.chunks.len() as i64],
    )
    .map_err(db_err)?;
    let import_id = tx.last_insert_rowid();
    {
        let mut st = tx
            .prepare_cached("INSERT INTO chunks (fingerprint, import_id) VALUES (?1, ?2)")
            .map_err(db_err)?;
        for f in &batch.chunks {
            st.execute(params![hex(*f), import_id]).map_err(db_err)?;
        }
        let mut st = tx
            .prepare_cached(
                "INSERT INTO accounts (id, first_seen) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
            )
            .map_err(db_err)?;
        for a in batch.accounts() {
            st.execute(params![a.0, now.0]).map_err(db_err)?;
        }
    }
    let mut rows = 0;
    rows += insert_attrs(tx, "account_attrs", "account_id", &batch.account_attrs)?;
    rows += insert_attrs(tx, "contact_attrs", "contact_id", &batch.contact_attrs)?;
    rows += rows::insert_records(tx, batch)?;
    mark_dirty(tx, batch)?;

    // Series: read the stored blob of each touched account, merge, write back.
    let mut get = tx
        .prepare_cached("SELECT packed FROM series WHERE account_id = ?1")
        .map_err(db_err)?;
    let mut put = tx
        .prepare_cached(
            "INSERT INTO series (account_id, packed, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (account_id) DO UPDATE SET packed = excluded.packed, updated_at = excluded.updated_at",
        )
        .map_err(db_err)?;
    for (id, delta) in &batch.series {
        let old: Option<Vec<u8>> = get
            .query_row([id.as_str()], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        let mut s = match old {
            Some(blob) => AccountSeries::decode(&blob)
                .map_err(|e| StoreError::Corrupt(format!("series of account {id}: {e}")))?,
            None => AccountSeries::default(),
        };
        s.merge(delta);
        put.execute(params![id.as_str(), s.encode(), now.0])
            .map_err(db_err)?;
    }
    let mut span: CatalogSpans = Default::default();
    for delta in batch.series.values() {
        for (m, points) in delta {
            if let (Some(first), Some(last)) = (points.first(), points.last()) {
                widen(&mut span, m, first.0 .0, last.0 .0);
            }
        }
    }
    upsert_catalog(tx, span)?;
    Ok(WriteSummary {
        import_id,
        series_accounts: batch.series.len(),
        rows,
    })
}

/// Marks the accounts whose facts this batch inserts or changes, so their packs are rebuilt (the triggers of
/// migration 0005 add the old accounts of rows moved or replaced).
fn mark_dirty(tx: &Transaction, b: &WriteBatch) -> Result<()> {
    let mut ids: FxHashSet<&str> = FxHashSet::default();
    ids.extend(b.account_attrs.iter().map(|f| f.subject.as_str()));
    ids.extend(b.contacts.iter().map(|c| c.account_id.0.as_str()));
    ids.extend(b.tickets.iter().map(|t| t.account_id.0.as_str()));
    ids.extend(b.billing.iter().map(|t| t.account_id.0.as_str()));
    ids.extend(b.subscriptions.iter().map(|t| t.account_id.0.as_str()));
    ids.extend(b.interactions.iter().map(|t| t.account_id.0.as_str()));
    ids.extend(b.outcomes.iter().map(|t| t.account_id.0.as_str()));
    let mut st = tx
        .prepare_cached("INSERT OR IGNORE INTO facts_dirty (account_id) VALUES (?1)")
        .map_err(db_err)?;
    for id in ids {
        st.execute([id]).map_err(db_err)?;
    }
    let contacts: FxHashSet<&str> = b.contact_attrs.iter().map(|f| f.subject.as_str()).collect();
    let mut st = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO facts_dirty (account_id) SELECT account_id FROM contacts WHERE id = ?1",
        )
        .map_err(db_err)?;
    for id in contacts {
        st.execute([id]).map_err(db_err)?;
    }
    Ok(())
}

/// Rebuilds the packs of the accounts in `facts_dirty` from the fact tables and clears it. Returns how many
/// packs were written. Many dirty accounts are read by scanning whole tables, a few by their indexes.
fn repack_dirty(tx: &Transaction) -> Result<usize> {
    let started = std::time::Instant::now();
    let dirty: Vec<AccountId> = {
        let mut st = tx
            .prepare_cached("SELECT account_id FROM facts_dirty")
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0).map(AccountId))
            .map_err(db_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db_err)?
    };
    if dirty.is_empty() {
        return Ok(0);
    }
    let accounts: i64 = tx
        .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
        .map_err(db_err)?;
    let scan = dirty.len() as i64 * 4 > accounts;
    let ids = (!scan).then_some(dirty.as_slice());
    let people = rows::load_people(tx, ids)?;
    let activity = rows::load_activity(tx, ids)?;
    let mut book = rows::join_book(people, activity);
    let mut put = tx
        .prepare_cached(
            "INSERT INTO facts_packed (account_id, packed) VALUES (?1, ?2) \
             ON CONFLICT (account_id) DO UPDATE SET packed = excluded.packed",
        )
        .map_err(db_err)?;
    let empty = AccountFacts::default();
    let mut blob = Vec::new();
    for id in &dirty {
        let facts = book.accounts.remove(id);
        packed::encode_into(facts.as_ref().unwrap_or(&empty), &mut blob);
        put.execute(params![id.0, blob]).map_err(db_err)?;
    }
    tx.execute("DELETE FROM facts_dirty", []).map_err(db_err)?;
    tracing::debug!(
        accounts = dirty.len(),
        scan,
        seconds = started.elapsed().as_secs_f64(),
        "packed facts rebuilt"
    );
    Ok(dirty.len())
}

/// Reads the packed facts of the accounts with ids in `[from, to)` (unbounded where `None`).
fn load_packed_range(c: &Connection, from: Option<&str>, to: Option<&str>) -> Result<Book> {
    let started = std::time::Instant::now();
    let mut out = Book::default();
    let select = "SELECT account_id, packed FROM facts_packed";
    let (sql, bound): (String, Vec<&str>) = match (from, to) {
        (None, None) => (select.into(), vec![]),
        (Some(f), None) => (format!("{select} WHERE account_id >= ?1"), vec![f]),
        (None, Some(t)) => (format!("{select} WHERE account_id < ?1"), vec![t]),
        (Some(f), Some(t)) => (
            format!("{select} WHERE account_id >= ?1 AND account_id < ?2"),
            vec![f, t],
        ),
    };
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st
        .query(rusqlite::params_from_iter(bound))
        .map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        let id: String = r.get(0).map_err(db_err)?;
        let blob = r
            .get_ref(1)
            .map_err(db_err)?
            .as_blob()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let facts = decode_facts(&id, blob)?;
        out.accounts.insert(AccountId(id), facts);
    }
    tracing::debug!(
        accounts = out.accounts.len(),
        seconds = started.elapsed().as_secs_f64(),
        "packed facts read"
    );
    Ok(out)
}

fn decode_facts(id: &str, blob: &[u8]) -> Result<AccountFacts> {
    packed::decode(id, blob).map_err(|e| StoreError::Corrupt(format!("facts of account {id}: {e}")))
}

/// Reads the packed facts of the given accounts (or all): the book.
fn load_packed(c: &Connection, ids: Option<&[AccountId]>) -> Result<Book> {
    let started = std::time::Instant::now();
    let mut out = Book::default();
    match ids {
        None => return load_packed_range(c, None, None),
        Some(ids) => {
            let mut st = c
                .prepare_cached("SELECT packed FROM facts_packed WHERE account_id = ?1")
                .map_err(db_err)?;
            for id in ids {
                let mut rows = st.query([id.as_str()]).map_err(db_err)?;
                if let Some(r) = rows.next().map_err(db_err)? {
                    let blob = r
                        .get_ref(0)
                        .map_err(db_err)?
                        .as_blob()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let facts = decode_facts(id.as_str(), blob)?;
                    out.accounts.insert(id.clone(), facts);
                }
            }
        }
    }
    tracing::debug!(
        accounts = out.accounts.len(),
        seconds = started.elapsed().as_secs_f64(),
        "packed facts read"
    );
    Ok(out)
}

fn decode_series(id: String, blob: &[u8]) -> Result<(AccountId, AccountSeries)> {
    let s = AccountSeries::decode(blob)
        .map_err(|e| StoreError::Corrupt(format!("series of account {id}: {e}")))?;
    Ok((AccountId(id), s))
}

#[async_trait::async_trait]
impl bellwether_store::Store for SqliteStore {
    async fn known_chunks(&self) -> Result<FxHashSet<Fingerprint>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT fingerprint FROM chunks")
                .map_err(db_err)?;
            let mut rows = st.query([]).map_err(db_err)?;
            let mut out = FxHashSet::default();
            while let Some(r) = rows.next().map_err(db_err)? {
                let h = r
                    .get_ref(0)
                    .map_err(db_err)?
                    .as_str()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.insert(u128::from_str_radix(h, 16).map_err(|_| {
                    StoreError::Corrupt(format!("chunk fingerprint '{h}' is not hex"))
                })?);
            }
            Ok(out)
        })
        .await
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteSummary> {
        self.write_tx(move |tx| write_batch(tx, &batch)).await
    }

    async fn load_series(
        &self,
        accounts: Option<&[AccountId]>,
    ) -> Result<Vec<(AccountId, AccountSeries)>> {
        let ids: Option<Vec<AccountId>> = accounts.map(|a| a.to_vec());
        self.read(move |c| {
            let mut out = Vec::new();
            match ids {
                None => {
                    let mut st = c
                        .prepare("SELECT account_id, packed FROM series ORDER BY account_id")
                        .map_err(db_err)?;
                    let mut rows = st.query([]).map_err(db_err)?;
                    while let Some(r) = rows.next().map_err(db_err)? {
                        let blob = r
                            .get_ref(1)
                            .map_err(db_err)?
                            .as_blob()
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        out.push(decode_series(r.get(0).map_err(db_err)?, blob)?);
                    }
                }
                Some(ids) => {
                    let mut st = c
                        .prepare_cached("SELECT packed FROM series WHERE account_id = ?1")
                        .map_err(db_err)?;
                    for id in ids {
                        let blob: Option<Vec<u8>> = st
                            .query_row([id.as_str()], |r| r.get(0))
                            .optional()
                            .map_err(db_err)?;
                        if let Some(b) = blob {
                            out.push(decode_series(id.0, &b)?);
                        }
                    }
                    out.sort_by(|a, b| a.0.cmp(&b.0));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn load_book(&self, accounts: Option<&[AccountId]>) -> Result<Book> {
        let ids: Option<Vec<AccountId>> = accounts.map(|a| a.to_vec());
        // Packs out of date are rebuilt first (imports settle them at their end, so this is rare).
        self.repack().await?;
        if ids.is_some() {
            return self.read(move |c| load_packed(c, ids.as_deref())).await;
        }
        // The whole book: two halves by account id, decoded on two reader connections at once.
        let middle: Option<String> = self
            .read(|c| {
                c.query_row(
                    "SELECT id FROM accounts ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM accounts)",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)
            })
            .await?;
        let Some(middle) = middle else {
            return self.read(|c| load_packed(c, None)).await;
        };
        let m2 = middle.clone();
        let (mut low, high) = tokio::try_join!(
            self.read(move |c| load_packed_range(c, None, Some(&middle))),
            self.read(move |c| load_packed_range(c, Some(&m2), None))
        )?;
        let mut high = high;
        low.accounts.append(&mut high.accounts);
        Ok(low)
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT id FROM accounts ORDER BY id")
                .map_err(db_err)?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0).map(AccountId))
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn account_attr(&self, attr: &str) -> Result<Vec<(AccountId, String)>> {
        let attr = attr.to_string();
        self.read(move |c| {
            // Rows come in key order, so each account's latest value is its last row.
            let mut st = c
                .prepare(
                    "SELECT account_id, value FROM account_attrs WHERE attr = ?1 ORDER BY account_id, valid_from",
                )
                .map_err(db_err)?;
            let mut rows = st.query([attr]).map_err(db_err)?;
            let mut out: Vec<(AccountId, Option<String>)> = Vec::new();
            while let Some(r) = rows.next().map_err(db_err)? {
                let id: String = r.get(0).map_err(db_err)?;
                let value: Option<String> = r.get(1).map_err(db_err)?;
                match out.last_mut() {
                    Some((last, v)) if last.0 == id => *v = value,
                    _ => out.push((AccountId(id), value)),
                }
            }
            Ok(out
                .into_iter()
                .filter_map(|(id, v)| v.map(|v| (id, v)))
                .collect())
        })
        .await
    }

    async fn save_assessments(
        &self,
        as_of: Day,
        current: bool,
        rows: &[Assessment],
        ended: &[AccountId],
    ) -> Result<()> {
        // Encoded before the write, on all cores, outside the writer's lock.
        let comps = rows::par_pack(rows, |a| serde_json::to_string(&a.components))
            .map_err(StoreError::Corrupt)?;
        let rows = rows.to_vec();
        let ended = ended.to_vec();
        self.write_tx(move |tx| {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO assessments (account_id, as_of, health, risk_proxy, churn_probability, priority, owner, arr, reason, components) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(db_err)?;
            // The current pass replaces an account's current assessment; a past day's pass only fills a gap.
            let mut set_current = tx
                .prepare_cached(if current {
                    "INSERT INTO current_assessments (account_id, as_of, ended) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (account_id) DO UPDATE SET as_of = excluded.as_of, ended = excluded.ended"
                } else {
                    "INSERT INTO current_assessments (account_id, as_of, ended) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (account_id) DO NOTHING"
                })
                .map_err(db_err)?;
            // Days after the current one have not happened: assessments made for them (under an earlier idea of
            // the book's day, before older data arrived) are dropped.
            let any_later = current
                && tx
                    .query_row("SELECT EXISTS (SELECT 1 FROM assessments WHERE as_of > ?1)", [as_of.0], |r| r.get::<_, bool>(0))
                    .map_err(db_err)?;
            if any_later {
                let mut later = tx
                    .prepare_cached("DELETE FROM assessments WHERE account_id = ?1 AND as_of > ?2")
                    .map_err(db_err)?;
                for id in rows.iter().map(|a| &a.account_id).chain(&ended) {
                    later.execute(params![id.0, as_of.0]).map_err(db_err)?;
                }
            }
            for (a, comps) in rows.iter().zip(comps) {
                st.execute(params![a.account_id.0, a.as_of.0, a.health, a.risk_proxy, a.churn_probability, a.priority, a.owner, a.arr_minor, a.reason, comps])
                    .map_err(db_err)?;
                set_current.execute(params![a.account_id.0, a.as_of.0, 0]).map_err(db_err)?;
            }
            for id in &ended {
                set_current.execute(params![id.0, as_of.0, 1]).map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn assessments(&self, as_of: Option<Day>) -> Result<Vec<Assessment>> {
        self.read(move |c| match as_of {
            Some(d) => {
                let sql = format!(
                    "{} WHERE as_of = ?1 ORDER BY priority DESC, account_id",
                    rows::ASSESSMENT_SELECT
                );
                rows::assessments(c, &sql, d.0)
            }
            None => rows::assessments(c, rows::CURRENT_ASSESSMENTS, 0),
        })
        .await
    }

    async fn save_peer_stats(&self, as_of: Day, rows: &[(String, PeerStats)]) -> Result<()> {
        let rows = rows.to_vec();
        self.write_tx(move |tx| {
            tx.execute("DELETE FROM peer_stats WHERE as_of = ?1", [as_of.0]).map_err(db_err)?;
            let mut st = tx
                .prepare_cached("INSERT INTO peer_stats (as_of, segment, accounts, utilisation, events_per_seat) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(db_err)?;
            for (seg, p) in &rows {
                st.execute(params![as_of.0, seg, p.accounts as i64, p.utilisation, p.events_per_seat]).map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn peer_stats(&self, as_of: Day) -> Result<Vec<(String, PeerStats)>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT segment, accounts, utilisation, events_per_seat FROM peer_stats \
                     WHERE as_of = (SELECT max(as_of) FROM peer_stats WHERE as_of <= ?1) ORDER BY segment",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([as_of.0], |r| {
                    Ok((r.get::<_, String>(0)?, PeerStats { accounts: r.get::<_, i64>(1)? as usize, utilisation: r.get(2)?, events_per_seat: r.get(3)? }))
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }

    async fn save_common_features(&self, as_of: Day, rows: &[CommonFeatures]) -> Result<()> {
        let rows = rows.to_vec();
        self.write_tx(move |tx| {
            tx.execute("DELETE FROM common_features WHERE as_of = ?1", [as_of.0])
                .map_err(db_err)?;
            let mut st = tx
                .prepare_cached("INSERT INTO common_features (as_of, scope, grp, source, accounts, features) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(db_err)?;
            for c in &rows {
                let features = serde_json::to_string(&c.features)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                st.execute(params![as_of.0, c.scope.as_str(), c.group, c.source.key(), c.accounts as i64, features])
                    .map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn common_features(&self, as_of: Day) -> Result<Vec<CommonFeatures>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT scope, grp, source, accounts, features FROM common_features \
                     WHERE as_of = (SELECT max(as_of) FROM common_features WHERE as_of <= ?1) ORDER BY scope, grp, source",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([as_of.0], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?, r.get::<_, String>(4)?))
                })
                .map_err(db_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (scope, group, source, accounts, features) = row.map_err(db_err)?;
                let bad = |what: &str| StoreError::Corrupt(format!("common_features row ({scope}, {group}, {source}) has an unreadable {what}"));
                out.push(CommonFeatures {
                    scope: CommonScope::parse(&scope).map_err(|_| bad("scope"))?,
                    source: bellwether_core::series::UsageSource::from_key(&source).ok_or_else(|| bad("source"))?,
                    accounts: accounts as usize,
                    features: serde_json::from_str(&features).map_err(|_| bad("feature list"))?,
                    group,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn latest_assessment_day(&self) -> Result<Option<Day>> {
        self.read(|c| {
            c.query_row("SELECT max(as_of) FROM assessments", [], |r| {
                r.get::<_, Option<i32>>(0)
            })
            .map(|d| d.map(Day))
            .map_err(db_err)
        })
        .await
    }

    async fn assessment_history(&self, account: &AccountId) -> Result<Vec<Assessment>> {
        let id = account.0.clone();
        self.read(move |c| {
            rows::assessments(
                c,
                &format!(
                    "{} WHERE account_id = ?1 ORDER BY as_of",
                    rows::ASSESSMENT_SELECT
                ),
                id,
            )
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.read(|c| {
            c.query_row(
                "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM series), (SELECT coalesce(sum(length(packed)), 0) FROM series), \
                 (SELECT count(*) FROM contacts), (SELECT count(*) FROM tickets), (SELECT count(*) FROM billing_events), \
                 (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM interactions), (SELECT count(*) FROM outcomes), \
                 (SELECT count(*) FROM imports), (SELECT count(*) FROM chunks), (SELECT count(*) FROM assessments)",
                [],
                |r| {
                    let g = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
                    Ok(StoreStats {
                        accounts: g(0)?,
                        series_accounts: g(1)?,
                        series_bytes: g(2)?,
                        contacts: g(3)?,
                        tickets: g(4)?,
                        billing_events: g(5)?,
                        subscriptions: g(6)?,
                        interactions: g(7)?,
                        outcomes: g(8)?,
                        imports: g(9)?,
                        chunks: g(10)?,
                        assessments: g(11)?,
                    })
                },
            )
            .map_err(db_err)
        })
        .await
    }

    async fn book_summary(&self) -> Result<BookSummary> {
        self.read(|c| {
            let mut st = c
                .prepare("SELECT metric, first_day, last_day FROM catalog ORDER BY metric")
                .map_err(db_err)?;
            let catalog = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Day(r.get(1)?),
                        r.get::<_, Option<i32>>(2)?,
                    ))
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            let one = |sql: &str| -> Result<Option<i64>> {
                c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                    .map_err(db_err)
            };
            let first = |sql: &str| one(sql).map(|v| v.map(Timestamp));
            let last_day = |sql: &str| one(sql).map(|v| v.map(|t| Timestamp(t).day()));
            let last_series = catalog
                .iter()
                .filter(|(m, _, _)| !bellwether_core::series::is_period_series(m))
                .filter_map(|(_, _, l)| l.map(Day))
                .max();
            let last = [
                last_series,
                last_day("SELECT max(opened_at) FROM tickets")?,
                last_day("SELECT max(at) FROM billing_events")?,
                last_day("SELECT max(at) FROM interactions")?,
                // A subscription booked to start later is not data yet: it does not move the book's day.
                c.query_row(
                    "SELECT max(start_day) FROM subscriptions WHERE start_day <= ?1",
                    [Day::today().0],
                    |r| r.get::<_, Option<i32>>(0),
                )
                .map_err(db_err)?
                .map(Day),
            ]
            .into_iter()
            .flatten()
            .max();
            Ok(BookSummary {
                metrics: catalog.into_iter().map(|(m, f, _)| (m, f)).collect(),
                first_ticket: first("SELECT min(opened_at) FROM tickets")?,
                first_contact: first("SELECT min(first_seen) FROM contacts")?,
                first_interaction: first("SELECT min(at) FROM interactions")?,
                first_billing: first("SELECT min(at) FROM billing_events")?,
                last_day: last,
                has_accounts: one("SELECT 1 FROM accounts LIMIT 1")?.is_some(),
            })
        })
        .await
    }

    async fn signals(&self, filter: SignalFilter) -> Result<Vec<Signal>> {
        self.read(move |c| rows::signals(c, &filter)).await
    }

    async fn save_signals(&self, rows: &[Signal]) -> Result<()> {
        let rows = rows.to_vec();
        self.write_tx(move |tx| rows::save_signals(tx, &rows)).await
    }

    async fn save_model(&self, model: ModelRecord, activate: bool) -> Result<i64> {
        self.write_tx(move |tx| models::save_model(tx, &model, activate))
            .await
    }

    async fn models(&self) -> Result<Vec<ModelRecord>> {
        self.read(models::models).await
    }

    async fn model(&self, version: Option<i64>) -> Result<Option<ModelRecord>> {
        self.read(move |c| models::model(c, version)).await
    }

    async fn activate_model(&self, version: i64) -> Result<()> {
        self.write_tx(move |tx| models::activate(tx, version)).await
    }

    async fn save_predictions(&self, rows: &[Prediction], rankings: &[Ranking]) -> Result<()> {
        // Encoded before the write, on all cores, outside the writer's lock.
        let packed = models::pack_predictions(rows)?;
        let rankings = rankings.to_vec();
        self.write_tx(move |tx| models::save_packed(tx, &packed, &rankings))
            .await
    }

    async fn predictions(
        &self,
        account: Option<&AccountId>,
        as_of: Option<Day>,
    ) -> Result<Vec<Prediction>> {
        let account = account.cloned();
        self.read(move |c| models::predictions(c, account.as_ref(), as_of))
            .await
    }

    async fn settle(&self) -> Result<()> {
        self.repack().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_stored_one_row_per_target_move_into_one_row_per_account_and_day() {
        let mut c = Connection::open_in_memory().unwrap();
        for (_, _, sql) in &MIGRATIONS[..11] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            r#"INSERT INTO predictions VALUES ('a1', 100, 'churn_90d', 0.25, 0.1, 3, '[{"reason":"usage","points":15.0,"text":"usage fell (+15 points of churn)"}]');
               INSERT INTO predictions VALUES ('a1', 100, 'churn_180d', 0.4, 0.2, 3, '[]');
               INSERT INTO predictions VALUES ('a2', 100, 'churn_90d', 0.05, 0.1, 3, '[]');
               INSERT INTO predictions VALUES ('a1', 99, 'churn_90d', 0.2, 0.1, 2, '[]');
               INSERT INTO predictions VALUES ('a3', 99, 'churn_90d', 0.3, 0.1, 2, 'not json');"#,
        )
        .unwrap();
        let tx = c.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[11].2).unwrap();
        tx.commit().unwrap();
        let all = models::predictions(&c, None, None).unwrap();
        let got: Vec<(&str, &str, f64, i64, usize)> = all
            .iter()
            .map(|p| {
                (
                    p.account_id.as_str(),
                    p.target.as_str(),
                    p.probability,
                    p.model_version,
                    p.drivers.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a1", "churn_180d", 0.4, 3, 0),
                ("a1", "churn_90d", 0.25, 3, 1),
                ("a2", "churn_90d", 0.05, 3, 0)
            ]
        );
        assert_eq!(all[1].drivers[0].points, 15.0);
        assert_eq!(all[1].base_probability, 0.1);
        let older = models::predictions(&c, Some(&AccountId::from("a1")), Some(Day(99))).unwrap();
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].probability, 0.2);
        // Drivers that were not JSON move as none, the prediction kept.
        let damaged = models::predictions(&c, Some(&AccountId::from("a3")), Some(Day(99))).unwrap();
        assert_eq!((damaged[0].probability, damaged[0].drivers.len()), (0.3, 0));
        // A probability that is not a number is refused, not stored.
        let mut nan = all[0].clone();
        nan.probability = f64::NAN;
        let e = models::pack_predictions(&[nan]).unwrap_err();
        assert!(e.to_string().contains("not a probability"), "{e}");
        // Written back, a long document is compressed and reads the same.
        let tx = c.transaction().unwrap();
        let mut long = all.clone();
        for p in &mut long {
            p.as_of = Day(101);
            p.drivers = (0..5).map(|_| all[1].drivers[0].clone()).collect();
        }
        models::save_packed(&tx, &models::pack_predictions(&long).unwrap(), &[]).unwrap();
        tx.commit().unwrap();
        let kind: String = c
            .query_row(
                "SELECT typeof(predictions) FROM account_predictions WHERE account_id = 'a1' AND as_of = 101",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kind, "blob");
        assert_eq!(models::predictions(&c, None, Some(Day(101))).unwrap(), long);
    }
    use bellwether_core::model::{
        BillingEvent, BillingKind, Contact, Interaction, InteractionKind, Outcome, OutcomeKind,
        Priority, Response, Subscription, Ticket,
    };
    use bellwether_core::{ContactId, Currency, Money};
    use bellwether_store::Store;

    fn fact(subject: &str, attr: &str, at: i64, value: Option<&str>) -> AttrFact {
        AttrFact {
            subject: subject.into(),
            attr: attr.into(),
            valid_from: Timestamp(at),
            value: value.map(str::to_string),
            received_at: Timestamp(at + 5),
        }
    }

    fn ticket(id: &str, account: &str, at: i64, sentiment: Option<f64>) -> Ticket {
        Ticket {
            id: id.into(),
            account_id: AccountId(account.into()),
            contact_id: Some(ContactId("c1".into())),
            opened_at: Timestamp(at),
            closed_at: (at % 2 == 0).then_some(Timestamp(at + 100)),
            priority: Priority::parse("high").unwrap(),
            status: "open".into(),
            escalated: true,
            first_response_minutes: Some(12.5),
            resolution_minutes: None,
            sla_breached: false,
            csat: Some(4.0),
            subject: "Export fails".into(),
            body: "Ünïcode body, \"quoted\"".into(),
            sentiment,
            received_at: Timestamp(at + 1),
        }
    }

    fn batch() -> WriteBatch {
        let a = |s: &str| AccountId(s.into());
        WriteBatch {
            source: "test".into(),
            kind: "mixed".into(),
            account_attrs: vec![
                fact("a1", "segment", 10, Some("smb")),
                fact("a1", "seats", 20, None),
                fact("a2", "owner", -30, Some("Ann")),
            ],
            contacts: vec![
                Contact {
                    id: ContactId("c1".into()),
                    account_id: a("a1"),
                    email: Some("x@y.z".into()),
                    name: None,
                    first_seen: Some(Timestamp(5)),
                },
                Contact {
                    id: ContactId("c2".into()),
                    account_id: a("a2"),
                    email: None,
                    name: Some("Bo".into()),
                    first_seen: None,
                },
            ],
            contact_attrs: vec![fact("c1", "role", 7, Some("champion"))],
            tickets: vec![
                ticket("t1", "a1", 100, Some(-0.5)),
                ticket("t2", "a1", 99, None),
            ],
            billing: vec![BillingEvent {
                id: "b1".into(),
                account_id: a("a2"),
                at: Timestamp(300),
                kind: BillingKind::parse("payment_failed").unwrap(),
                amount: Some(Money {
                    minor: -1234,
                    currency: Currency::parse("EUR").unwrap(),
                }),
                mrr_delta: None,
                seats_delta: Some(-3),
                plan: Some("pro".into()),
                received_at: Timestamp(301),
            }],
            subscriptions: vec![Subscription {
                id: "s1".into(),
                account_id: a("a1"),
                plan: "pro".into(),
                start: Day(-3),
                end: Some(Day(400)),
                mrr: Money {
                    minor: 9900,
                    currency: Currency::USD,
                },
                quantity: 10,
                term_days: Some(365),
                received_at: Timestamp(2),
            }],
            interactions: vec![Interaction {
                id: "i1".into(),
                account_id: a("a2"),
                contact_id: None,
                at: Timestamp(50),
                kind: InteractionKind::parse("nps").unwrap(),
                response: Some(Response::parse("accepted").unwrap()),
                score: Some(3.0),
                note: "slow".into(),
                received_at: Timestamp(51),
            }],
            outcomes: vec![Outcome {
                account_id: a("a1"),
                date: Day(500),
                kind: OutcomeKind::parse("churned").unwrap(),
                arr_delta: Some(-100),
                received_at: Timestamp(9),
            }],
            ..Default::default()
        }
    }

    /// The book as the fact tables give it, for comparing with the packs.
    fn from_tables(s: &SqliteStore) -> Book {
        let c = connect(s.path()).unwrap();
        rows::join_book(
            rows::load_people(&c, None).unwrap(),
            rows::load_activity(&c, None).unwrap(),
        )
    }

    fn same(a: &Book, b: &Book) {
        assert_eq!(
            a.accounts.keys().collect::<Vec<_>>(),
            b.accounts.keys().collect::<Vec<_>>()
        );
        for (id, f) in &a.accounts {
            let mut g = b.accounts[id].clone();
            let mut f = f.clone();
            // Contacts come in no particular order from either read.
            f.contacts.sort_by(|x, y| x.contact.id.cmp(&y.contact.id));
            g.contacts.sort_by(|x, y| x.contact.id.cmp(&y.contact.id));
            assert_eq!(f, g, "account {id}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn packed_facts_read_back_as_the_tables_and_follow_moves() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
        s.write(batch()).await.unwrap();
        let book = s.load_book(None).await.unwrap();
        same(&from_tables(&s), &book);
        assert_eq!(book.accounts[&AccountId("a1".into())].tickets.len(), 2);
        assert_eq!(
            s.load_book(Some(&[AccountId("a2".into()), AccountId("zz".into())]))
                .await
                .unwrap()
                .accounts
                .keys()
                .collect::<Vec<_>>(),
            [&AccountId("a2".into())]
        );
        // A ticket re-sent under another account, a contact moved, a corrected attribute: the accounts they
        // left are repacked too.
        let mut b = WriteBatch {
            source: "test".into(),
            kind: "mixed".into(),
            ..Default::default()
        };
        b.tickets.push(ticket("t1", "a3", 100, None));
        b.contacts.push(Contact {
            id: ContactId("c1".into()),
            account_id: AccountId("a2".into()),
            email: None,
            name: None,
            first_seen: None,
        });
        b.contact_attrs.push(fact("c2", "role", 8, Some("user")));
        b.account_attrs
            .push(fact("a1", "segment", 10, Some("enterprise")));
        s.write(b).await.unwrap();
        s.settle().await.unwrap();
        let book = s.load_book(None).await.unwrap();
        same(&from_tables(&s), &book);
        assert_eq!(book.accounts[&AccountId("a1".into())].tickets.len(), 1);
        assert!(book.accounts[&AccountId("a1".into())].contacts.is_empty());
        assert_eq!(book.accounts[&AccountId("a3".into())].tickets.len(), 1);
    }

    #[test]
    fn damaged_packs_are_refused() {
        let f = {
            let mut b = batch();
            let mut f = AccountFacts {
                tickets: std::mem::take(&mut b.tickets),
                ..Default::default()
            };
            f.sort();
            f
        };
        let mut blob = Vec::new();
        packed::encode_into(&f, &mut blob);
        assert_eq!(packed::decode("a1", &blob).unwrap(), f);
        for cut in [0, 1, blob.len() / 2, blob.len() - 1] {
            assert!(packed::decode("a1", &blob[..cut]).is_err());
        }
        blob.push(0);
        assert!(packed::decode("a1", &blob).is_err());
    }
}
