//! Writes of imported facts: one transaction per batch, attribute history, the metric catalogue, series
//! merged per account, and the packed facts of the accounts a write touched marked and rebuilt.

use super::*;

/// First and last day of each metric in a write.
pub(crate) type CatalogSpans = rustc_hash::FxHashMap<String, (i32, i32)>;

pub(crate) fn widen(span: &mut CatalogSpans, metric: &str, first: i32, last: i32) {
    match span.get_mut(metric) {
        Some(e) => *e = (e.0.min(first), e.1.max(last)),
        None => {
            span.insert(metric.to_string(), (first, last));
        }
    }
}

/// Widens the catalogue's first and last day of each metric `(metric, first, last)` names.
pub(crate) fn upsert_catalog<'a>(
    tx: &Transaction,
    span: impl IntoIterator<Item = (&'a str, i32, i32)>,
) -> Result<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO catalog (metric, first_day, last_day) VALUES (?1, ?2, ?3) ON CONFLICT (metric) DO UPDATE \
             SET first_day = min(first_day, excluded.first_day), last_day = max(coalesce(last_day, excluded.last_day), excluded.last_day)",
        )
        .map_err(db_err)?;
    for (m, first, last) in span {
        st.execute(params![m, first, last]).map_err(db_err)?;
    }
    Ok(())
}

pub(crate) fn hex(f: Fingerprint) -> String {
    format!("{f:032x}")
}

pub(crate) fn insert_attrs(
    tx: &Transaction,
    table: &str,
    key: &str,
    facts: &[AttrFact],
) -> Result<u64> {
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

pub(crate) fn write_batch(tx: &Transaction, batch: &WriteBatch) -> Result<WriteSummary> {
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
    upsert_catalog(
        tx,
        batch
            .metric_spans()
            .into_iter()
            .map(|(m, (first, last))| (m, first.0, last.0)),
    )?;
    Ok(WriteSummary {
        import_id,
        series_accounts: batch.series.len(),
        rows,
    })
}

/// Marks the accounts whose facts this batch inserts or changes, so their packs are rebuilt (the triggers of
/// migration 0005 add the old accounts of rows moved or replaced).
pub(crate) fn mark_dirty(tx: &Transaction, b: &WriteBatch) -> Result<()> {
    let mut st = tx
        .prepare_cached("INSERT OR IGNORE INTO facts_dirty (account_id) VALUES (?1)")
        .map_err(db_err)?;
    for id in b.fact_accounts() {
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
pub(crate) fn repack_dirty(tx: &Transaction) -> Result<usize> {
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
        bellwether_store::codec::facts::encode_into(facts.as_ref().unwrap_or(&empty), &mut blob);
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

impl SqliteStore {
    /// Rebuilds the packed facts of accounts written since the last rebuild, if there are any.
    pub(crate) async fn repack(&self) -> Result<()> {
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
}
