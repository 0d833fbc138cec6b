//! The tracking inbox: acknowledged messages waiting to be applied, and the ids of every message acknowledged,
//! in a SQLite file of its own beside the database (`bellwether.db` → `bellwether.inbox.db`).
//!
//! Acknowledging a request is one short transaction here (a keyed row per message id, one row per group of
//! requests), so it never waits behind the long transactions of the main file that apply messages, write
//! assessments or import files. Exactly-once across the two files rests on the main file: the transaction that
//! stores a group's effects also records its sequence number in `inbox_applied`, and groups at or below it are
//! skipped and removed. The file is created on first use; a new one takes over the message ids the main file
//! already holds, so resends of messages stored before the inbox existed stay duplicates.

use crate::{blocking, connect, db_err, SqliteStore};
use bellwether_core::Timestamp;
use bellwether_store::codec::inbox::{decode, encode};
use bellwether_store::{InboxEntry, InboxMessage, Result, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS received (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;
-- One row per acknowledged group; `body` holds its messages, each as a one-byte kind, a four-byte
-- little-endian length and the message's JSON. AUTOINCREMENT never reuses a removed group's number.
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    body BLOB NOT NULL
);";

/// The inbox file of a database file.
pub(crate) fn inbox_path(main: &Path) -> PathBuf {
    main.with_extension("inbox.db")
}

/// Opens the inbox file, creating it (and taking over the main file's message ids) when it is new.
fn open(main: &Path) -> Result<Connection> {
    let path = inbox_path(main);
    let fresh = !path.exists();
    let mut conn = connect(&path)?;
    // Acknowledging never copies the log into the file itself: the applier checkpoints after each prune.
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")
        .map_err(db_err)?;
    if fresh {
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(SCHEMA).map_err(db_err)?;
        tx.execute("ATTACH DATABASE ?1 AS main_file", [main.to_string_lossy()])
            .map_err(db_err)?;
        tx.execute_batch(
            "INSERT OR IGNORE INTO received SELECT source, id, received_at FROM main_file.received_messages",
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        conn.execute("DETACH DATABASE main_file", [])
            .map_err(db_err)?;
    } else {
        conn.execute_batch(SCHEMA).map_err(db_err)?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Runs `f` on the inbox's writer (`write`) or reader connection, on the blocking pool.
    async fn on_inbox<T: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut slot = inner.inbox[usize::from(!write)]
                .lock()
                .map_err(|_| StoreError::Unavailable("inbox connection poisoned".into()))?;
            if slot.is_none() {
                // The writer creates the file; a reader waits for it through the writer's lock.
                let _w = (!write).then(|| inner.inbox[0].lock());
                *slot = Some(open(&inner.path)?);
            }
            f(slot.as_mut().expect("opened above"))
        })
        .await
    }

    /// The last applied inbox group of each source.
    async fn applied_cursors(&self) -> Result<Vec<(String, i64)>> {
        self.read(|c| {
            let mut st = c
                .prepare_cached("SELECT source, seq FROM inbox_applied")
                .map_err(db_err)?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    pub(crate) async fn inbox_accept(
        &self,
        source: &str,
        received_at: Timestamp,
        messages: Vec<InboxMessage>,
    ) -> Result<(Vec<bool>, Option<i64>)> {
        let source = source.to_string();
        self.on_inbox(true, move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let mut fresh = Vec::with_capacity(messages.len());
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO received (source, id, received_at) VALUES (?1, ?2, ?3)",
                    )
                    .map_err(db_err)?;
                for m in &messages {
                    fresh.push(st.execute(params![source, m.id, received_at.0]).map_err(db_err)? == 1);
                }
            }
            let n = fresh.iter().filter(|f| **f).count();
            let mut seq = None;
            if n > 0 {
                let body = encode(messages.iter().zip(&fresh).filter(|(_, f)| **f).map(|(m, _)| m));
                tx.prepare_cached(
                    "INSERT INTO inbox (source, received_at, messages, body) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db_err)?
                .execute(params![source, received_at.0, n as i64, body])
                .map_err(db_err)?;
                seq = Some(tx.last_insert_rowid());
            }
            tx.commit().map_err(db_err)?;
            Ok((fresh, seq))
        })
        .await
    }

    pub(crate) async fn inbox_read(
        &self,
        source: &str,
        max_messages: usize,
    ) -> Result<Vec<InboxEntry>> {
        let after = self
            .applied_cursors()
            .await?
            .into_iter()
            .find(|(s, _)| s == source)
            .map_or(0, |(_, seq)| seq);
        let source = source.to_string();
        self.on_inbox(false, move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT seq, received_at, messages, body FROM inbox WHERE source = ?1 AND seq > ?2 ORDER BY seq",
                )
                .map_err(db_err)?;
            let mut rows = st.query(params![source, after]).map_err(db_err)?;
            let mut out = Vec::new();
            let mut n = 0;
            while let Some(r) = rows.next().map_err(db_err)? {
                let count = r.get::<_, i64>(2).map_err(db_err)? as usize;
                if n > 0 && n + count > max_messages {
                    break;
                }
                let seq: i64 = r.get(0).map_err(db_err)?;
                let body = r
                    .get_ref(3)
                    .map_err(db_err)?
                    .as_blob()
                    .map_err(|e| db_err(e.into()))?;
                out.push(InboxEntry {
                    seq,
                    received_at: Timestamp(r.get(1).map_err(db_err)?),
                    messages: decode(seq, body)?,
                });
                n += count;
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn inbox_waiting(&self) -> Result<u64> {
        if !inbox_path(self.path()).exists() {
            return Ok(0);
        }
        let cursors = self.applied_cursors().await?;
        self.on_inbox(false, move |c| {
            let mut total = 0i64;
            let mut sources = c
                .prepare_cached("SELECT DISTINCT source FROM inbox")
                .map_err(db_err)?;
            let names: Vec<String> = sources
                .query_map([], |r| r.get(0))
                .map_err(db_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db_err)?;
            for s in names {
                let after = cursors.iter().find(|(c, _)| *c == s).map_or(0, |c| c.1);
                total += c
                    .query_row(
                        "SELECT coalesce(sum(messages), 0) FROM inbox WHERE source = ?1 AND seq > ?2",
                        params![s, after],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()
                    .map_err(db_err)?
                    .unwrap_or(0);
            }
            Ok(total as u64)
        })
        .await
    }

    /// Removes a source's groups up to `seq`, which the main file records as applied, then copies the log
    /// into the file from the reader's connection, so that acknowledging (on the writer's) never waits for it.
    /// Of `source`'s groups still in the inbox file (applied or not): the latest numbered below `first` (0
    /// when none), and how many are numbered `first` to `last`.
    pub(crate) async fn inbox_around(
        &self,
        source: &str,
        first: i64,
        last: i64,
    ) -> Result<(i64, i64)> {
        let source = source.to_string();
        self.on_inbox(false, move |c| {
            c.query_row(
                "SELECT (SELECT coalesce(max(seq), 0) FROM inbox WHERE source = ?1 AND seq < ?2), \
                 (SELECT count(*) FROM inbox WHERE source = ?1 AND seq BETWEEN ?2 AND ?3)",
                params![source, first, last],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db_err)
        })
        .await
    }

    pub(crate) async fn inbox_prune(&self, source: &str, seq: i64) -> Result<()> {
        let source = source.to_string();
        self.on_inbox(true, move |c| {
            c.execute(
                "DELETE FROM inbox WHERE source = ?1 AND seq <= ?2",
                params![source, seq],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await?;
        self.on_inbox(false, |c| {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(db_err)
        })
        .await
    }
}
