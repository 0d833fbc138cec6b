//! The store's tables in the portable layout ([`bellwether_store::codec::portable`]), for moving a book to
//! another backend: each table read in one pass and handed over in pages, and row counts for the check after.

use crate::inbox::inbox_path;
use crate::{connect, db_err, SqliteStore};
use bellwether_store::codec::distinct::series_key;
use bellwether_store::codec::portable::{Cell, Table};
use bellwether_store::{Result, Store, StoreError};
use rusqlite::types::ValueRef;
use rustc_hash::FxHashMap;

/// Rows handed over at a time.
pub(crate) const PAGE: usize = 20_000;

/// The `SELECT` giving a portable table from this schema, and whether it is read from the inbox file.
fn select(t: &Table) -> (String, bool) {
    let cols = t.columns.join(", ");
    match t.name {
        "accounts" => ("SELECT id, first_seen FROM accounts".into(), false),
        "contact_attrs" => (
            "SELECT coalesce((SELECT c.account_id FROM contacts c WHERE c.id = a.contact_id), ''), a.contact_id, a.attr, \
             a.valid_from, a.value, a.received_at FROM contact_attrs a"
                .into(),
            false,
        ),
        "distinct_users" => ("SELECT series_key, series_key, day, user_hash FROM distinct_users".into(), false),
        "inbox_received" => (format!("SELECT {cols} FROM received"), true),
        "inbox" => (format!("SELECT {cols} FROM inbox"), true),
        _ => (format!("SELECT {cols} FROM {}", t.name), false),
    }
}

/// Columns holding JSON documents, which this backend stores as text or an LZ4 blob.
fn is_doc(table: &str, column: &str) -> bool {
    matches!(
        (table, column),
        ("assessments", "components") | ("account_predictions", "predictions")
    )
}

fn cell(v: ValueRef, doc: bool) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Real(f),
        ValueRef::Text(t) if doc => Cell::Blob(t.to_vec()),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) if doc => {
            let mut out = Vec::with_capacity(b.len() + 1);
            out.push(0xFF);
            out.extend_from_slice(b);
            Cell::Blob(out)
        }
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
    }
}

impl SqliteStore {
    /// The `SELECT` of a portable table and the file it reads; `None` for an inbox table before the inbox
    /// file exists (it holds nothing then).
    fn source(&self, table: &Table) -> Option<(String, std::path::PathBuf)> {
        let (sql, in_inbox) = select(table);
        if !in_inbox {
            return Some((sql, self.path().to_path_buf()));
        }
        let inbox = inbox_path(self.path());
        inbox.exists().then_some((sql, inbox))
    }

    /// Reads a portable table, handing its rows to `page` [`PAGE`] at a time; returns the rows read.
    pub async fn export(
        &self,
        table: Table,
        mut page: impl FnMut(Vec<Vec<Cell>>) -> Result<()> + Send + 'static,
    ) -> Result<u64> {
        // Distinct users are keyed by a hash of account and series here; the portable layout names the
        // account, found by hashing every account's series names.
        let owners: FxHashMap<i64, String> = if table.name == "distinct_users" {
            self.load_series(None)
                .await?
                .into_iter()
                .flat_map(|(id, s)| {
                    s.metrics
                        .into_keys()
                        .map(|m| (series_key(&id, &m), id.0.clone()))
                        .collect::<Vec<_>>()
                })
                .collect()
        } else {
            FxHashMap::default()
        };
        let Some((sql, path)) = self.source(&table) else {
            return Ok(0);
        };
        crate::blocking(move || {
            let c = connect(&path)?;
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let docs: Vec<bool> = table
                .columns
                .iter()
                .map(|col| is_doc(table.name, col))
                .collect();
            let mut rows = st.query([]).map_err(db_err)?;
            let mut buf = Vec::with_capacity(PAGE);
            let mut n = 0u64;
            while let Some(r) = rows.next().map_err(db_err)? {
                let mut row = Vec::with_capacity(docs.len());
                for (i, doc) in docs.iter().enumerate() {
                    row.push(cell(r.get_ref(i).map_err(db_err)?, *doc));
                }
                if table.name == "distinct_users" {
                    let key = match row[0] {
                        Cell::Int(k) => k,
                        _ => {
                            return Err(StoreError::Corrupt(
                                "distinct_users: a series key is not a number".into(),
                            ))
                        }
                    };
                    // Every distinct-user series has a series of counts with its name; a key without one is
                    // damage, named rather than moved under no account.
                    let owner = owners.get(&key).ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "distinct_users: series key {key} belongs to no account's series; nothing was copied of it"
                        ))
                    })?;
                    row[0] = Cell::Text(owner.clone());
                }
                buf.push(row);
                n += 1;
                if buf.len() == PAGE {
                    page(std::mem::replace(&mut buf, Vec::with_capacity(PAGE)))?;
                }
            }
            if !buf.is_empty() {
                page(buf)?;
            }
            Ok(n)
        })
        .await
    }

    /// Rows of a portable table.
    pub async fn count(&self, table: Table) -> Result<u64> {
        let Some((sql, path)) = self.source(&table) else {
            return Ok(0);
        };
        crate::blocking(move || {
            let c = connect(&path)?;
            c.query_row(&format!("SELECT count(*) FROM ({sql})"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db_err)
        })
        .await
    }
}
