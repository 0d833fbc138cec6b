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
//!
//! By job: `pool` (connections and the blocking pool), `migrations` (the schema), `writes` (imported facts,
//! the catalogue, series merges, packing), `packed` and `reads` (the packed facts and series and the bulk
//! reads of them), `rows` (row mapping and the assessments' queries), `models` (the registry and
//! predictions), `live` and `inbox` (the ingestion server's part), `export` (the tables in the portable layout,
//! for moving a book to another backend); this file is the
//! [`bellwether_store::Store`] implementation over them.

mod export;
mod inbox;
mod live;
mod migrations;
mod models;
mod outbox;
mod pool;
mod reads;
mod rows;
mod writes;

use migrations::*;
use pool::*;
use reads::*;
use writes::*;

use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    Assessment, CommonFeatures, CommonScope, PeerStats, Prediction, Signal,
};
use bellwether_core::people::Person;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::{
    AccountFacts, Book, BookSummary, CapCheck, Delivery, Fingerprint, ModelRecord, OutboxCounts,
    OutboxEntry, OutboxFilter, OutboxItem, Ranking, Result, SignalFilter, StoreError, StoreStats,
    WriteBatch, WriteSummary,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use rustc_hash::FxHashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
        let impacts: Vec<Option<String>> = rows
            .iter()
            .map(|a| a.impact.as_ref().map(serde_json::to_string).transpose())
            .collect::<serde_json::Result<_>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows = rows.to_vec();
        let ended = ended.to_vec();
        self.write_tx(move |tx| {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO assessments (account_id, as_of, health, risk_proxy, churn_probability, priority, owner, arr, reason, components, impact) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(db_err)?;
            // The current pass replaces an account's current assessment; a past day's pass only fills a gap.
            let mut set_current = tx
                .prepare_cached(if current {
                    "INSERT INTO current_assessments (account_id, as_of, ended, owner) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (account_id) DO UPDATE SET as_of = excluded.as_of, ended = excluded.ended, owner = excluded.owner"
                } else {
                    "INSERT INTO current_assessments (account_id, as_of, ended, owner) VALUES (?1, ?2, ?3, ?4) \
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
            for ((a, comps), impact) in rows.iter().zip(comps).zip(&impacts) {
                st.execute(params![a.account_id.0, a.as_of.0, a.health, a.risk_proxy, a.churn_probability, a.priority, a.owner, a.arr_minor, a.reason, comps, impact])
                    .map_err(db_err)?;
                set_current.execute(params![a.account_id.0, a.as_of.0, 0, a.owner]).map_err(db_err)?;
            }
            for id in &ended {
                set_current.execute(params![id.0, as_of.0, 1, None::<String>]).map_err(db_err)?;
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

    async fn owner_assessments(&self, owner: &str) -> Result<Vec<Assessment>> {
        let owner = owner.to_string();
        self.read(move |c| rows::assessments(c, rows::OWNER_ASSESSMENTS, owner))
            .await
    }

    async fn save_peer_stats(&self, as_of: Day, rows: &[(String, PeerStats)]) -> Result<()> {
        let rows = rows.to_vec();
        self.write_tx(move |tx| {
            tx.execute("DELETE FROM peer_stats WHERE as_of = ?1", [as_of.0]).map_err(db_err)?;
            let mut st = tx
                .prepare_cached("INSERT INTO peer_stats (as_of, segment, accounts, utilisation, events_per_seat, expansion_share) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(db_err)?;
            for (seg, p) in &rows {
                st.execute(params![as_of.0, seg, p.accounts as i64, p.utilisation, p.events_per_seat, p.expansion_share]).map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn peer_stats(&self, as_of: Day) -> Result<Vec<(String, PeerStats)>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT segment, accounts, utilisation, events_per_seat, expansion_share FROM peer_stats \
                     WHERE as_of = (SELECT max(as_of) FROM peer_stats WHERE as_of <= ?1) ORDER BY segment",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([as_of.0], |r| {
                    Ok((r.get::<_, String>(0)?, PeerStats { accounts: r.get::<_, i64>(1)? as usize, utilisation: r.get(2)?, events_per_seat: r.get(3)?, expansion_share: r.get(4)? }))
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

    async fn save_signals(&self, rows: &[Signal], queued: &[OutboxItem]) -> Result<()> {
        let (rows, queued) = (rows.to_vec(), queued.to_vec());
        self.write_tx(move |tx| {
            rows::save_signals(tx, &rows)?;
            outbox::enqueue(tx, &queued)
        })
        .await
    }

    async fn claim_outbox(
        &self,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        self.outbox_claim(holder, now, lease_until, limit).await
    }

    async fn finish_outbox(
        &self,
        id: &str,
        holder: &str,
        now: Timestamp,
        delivery: &Delivery,
    ) -> Result<bool> {
        self.outbox_finish(id, holder, now, delivery).await
    }

    async fn outbox(&self, filter: &OutboxFilter, limit: usize) -> Result<Vec<OutboxEntry>> {
        self.outbox_list(filter, limit).await
    }

    async fn count_alert(
        &self,
        recipient: &str,
        alert: &str,
        since: Timestamp,
        cap: u32,
        now: Timestamp,
    ) -> Result<CapCheck> {
        self.alert_count(recipient, alert, since, cap, now).await
    }

    async fn people(&self) -> Result<Vec<Person>> {
        self.read(rows::people).await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts> {
        self.outbox_counts_by_state().await
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
    use bellwether_core::model::Contact;
    use bellwether_core::ContactId;
    use bellwether_store::codec::facts;
    use bellwether_store::Store;
    use bellwether_store_conformance::{every_kind as batch, fact, ticket, DAY_MS};

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
        // A ticket re-sent under another account, a contact moved, a corrected attribute: the accounts they
        // left are repacked too.
        let mut b = WriteBatch {
            source: "test".into(),
            kind: "mixed".into(),
            ..Default::default()
        };
        b.tickets.push(ticket("t1", "a3", 30));
        b.contacts.push(Contact {
            id: ContactId("c1".into()),
            account_id: AccountId("a2".into()),
            email: None,
            name: None,
            first_seen: None,
        });
        b.contact_attrs.push(fact("c1", "role", 8, Some("user")));
        b.account_attrs
            .push(fact("a1", "segment", 10 * DAY_MS, Some("enterprise")));
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
        facts::encode_into(&f, &mut blob);
        assert_eq!(facts::decode("a1", &blob).unwrap(), f);
        for cut in [0, 1, blob.len() / 2, blob.len() - 1] {
            assert!(facts::decode("a1", &blob[..cut]).is_err());
        }
        blob.push(0);
        assert!(facts::decode("a1", &blob).is_err());
    }
}
