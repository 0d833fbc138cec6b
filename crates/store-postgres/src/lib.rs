//! The PostgreSQL backend of [`bellwether_store::Store`] and [`bellwether_store::LiveStore`], for a team that
//! outgrows one machine or runs several servers on one database.
//!
//! It holds the same records as the embedded store, laid out the same way where the layout is a decision
//! ([`bellwether_store::codec`]: packed facts, JSON documents, prediction rows, inbox bodies, distinct-user
//! counting). Each write is one transaction in which every table is written with one multi-row statement;
//! bulk reads are one statement per table, never one per row. Writers of the same account's series and
//! distinct users serialise on a per-account advisory lock, taken in key order. Migrations run at open under
//! an advisory lock, so processes that start together migrate once.
//!
//! By job: `pool` (settings, connections, errors), `migrations` (the schema), `writes` (imported facts and
//! series), `reads` (the fact tables, packs and their rebuild), `live` (the ingestion server's part), `import`
//! (a book copied in from another backend); this file
//! is the [`bellwether_store::Store`] implementation over them.

mod import;
mod live;
mod migrations;
mod outbox;
mod pool;
mod reads;
pub mod testing;
mod writes;

pub use pool::{redacted, PgSettings};

use bellwether_core::model::{
    Assessment, CommonFeatures, CommonScope, PeerStats, Prediction, Severity, Signal, SignalStatus,
};
use bellwether_core::people::Person;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::codec::distinct::decode_series;
use bellwether_store::codec::docs;
use bellwether_store::{
    Book, BookSummary, CapCheck, Delivery, Fingerprint, ModelRecord, OutboxCounts, OutboxEntry,
    OutboxFilter, OutboxItem, Ranking, Result, SignalFilter, StoreError, StoreStats, WriteBatch,
    WriteSummary,
};
use pool::{corrupt, db_err, pool_err};
use rustc_hash::FxHashSet;
use tokio_postgres::types::ToSql;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: deadpool_postgres::Pool,
    url: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &redacted(&self.url))
            .finish()
    }
}

impl PgStore {
    /// Connects with `settings` and applies pending migrations.
    pub async fn open(settings: &PgSettings) -> Result<PgStore> {
        let store = PgStore {
            pool: pool::pool(settings)?,
            url: settings.url.clone(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations (under a lock, so concurrent callers migrate once); returns the versions
    /// applied.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let mut c = self.conn().await?;
        migrations::migrate(&mut c).await
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    /// The database URL, password hidden.
    pub fn url(&self) -> String {
        redacted(&self.url)
    }

    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match pool_err(e) {
            StoreError::Unavailable(m) => {
                StoreError::Unavailable(format!("{m} (database {})", redacted(&self.url)))
            }
            other => other,
        })
    }

    /// Rebuilds the packed facts of accounts written since the last rebuild, if there are any.
    async fn repack(&self) -> Result<()> {
        let mut c = self.conn().await?;
        let any: bool = c
            .query_one("SELECT EXISTS (SELECT 1 FROM facts_dirty)", &[])
            .await
            .map_err(db_err)?
            .get(0);
        if any {
            let tx = c.transaction().await.map_err(db_err)?;
            reads::repack_dirty(&tx).await?;
            tx.commit().await.map_err(db_err)?;
        }
        Ok(())
    }
}

const ASSESSMENT_COLUMNS: &str =
    "a.account_id, a.as_of, a.health, a.risk_proxy, a.churn_probability, a.priority, a.owner, a.arr, a.reason, a.components, a.impact";

fn assessment(r: &tokio_postgres::Row) -> Result<Assessment> {
    Ok(Assessment {
        account_id: AccountId(r.get(0)),
        as_of: Day(r.get(1)),
        health: r.get(2),
        risk_proxy: r.get(3),
        churn_probability: r.get(4),
        priority: r.get(5),
        owner: r.get(6),
        arr_minor: r.get(7),
        reason: r.get(8),
        components: docs::from_bytes(r.get(9)).map_err(|m| corrupt("assessments", m))?,
        impact: match r.get::<_, Option<&str>>(10) {
            Some(t) => {
                Some(serde_json::from_str(t).map_err(|m| corrupt("assessments", m.to_string()))?)
            }
            None => None,
        },
    })
}

const SIGNAL_COLUMNS: &str = "id, account_id, kind, direction, severity, detected_at, last_seen, evidence, explanation, suggested_action, status, owner, resolved_at, snoozed_until, snooze_reason, alerted";

fn signal(r: &tokio_postgres::Row) -> Result<Signal> {
    Ok(Signal {
        id: r.get(0),
        account_id: AccountId(r.get(1)),
        kind: r.get(2),
        direction: r.get(3),
        severity: Severity::parse(r.get(4)).map_err(|m| corrupt("signals", m))?,
        detected_at: Day(r.get(5)),
        last_seen: Day(r.get(6)),
        evidence: serde_json::from_str(r.get(7)).map_err(|m| corrupt("signals", m))?,
        explanation: r.get(8),
        suggested_action: r.get(9),
        status: SignalStatus::parse(r.get(10)).map_err(|m| corrupt("signals", m))?,
        owner: r.get(11),
        resolved_at: r.get::<_, Option<i32>>(12).map(Day),
        snoozed_until: r.get::<_, Option<i32>>(13).map(Day),
        snooze_reason: r.get(14),
        alerted: r.get::<_, i32>(15) != 0,
    })
}

fn model_record(r: &tokio_postgres::Row, with_bundle: bool) -> Result<ModelRecord> {
    Ok(ModelRecord {
        version: r.get(0),
        created_at: Timestamp(r.get(1)),
        trained_from: Day(r.get(2)),
        trained_to: Day(r.get(3)),
        engine: r.get(4),
        features: serde_json::from_str(r.get(5)).map_err(|e| corrupt("models", e))?,
        params: r.get(6),
        metrics: r.get(7),
        active: r.get(8),
        bundle: if with_bundle { r.get(9) } else { Vec::new() },
    })
}

const MODEL_COLUMNS: &str =
    "version, created_at, trained_from, trained_to, engine, features, params, metrics, active";

#[async_trait::async_trait]
impl bellwether_store::Store for PgStore {
    async fn known_chunks(&self) -> Result<FxHashSet<Fingerprint>> {
        let c = self.conn().await?;
        let rows = c
            .query("SELECT fingerprint FROM chunks", &[])
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let h: &str = r.get(0);
                u128::from_str_radix(h, 16)
                    .map_err(|_| StoreError::Corrupt(format!("chunk fingerprint '{h}' is not hex")))
            })
            .collect()
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteSummary> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        let out = writes::write_batch(&tx, &batch).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn load_series(
        &self,
        accounts: Option<&[AccountId]>,
    ) -> Result<Vec<(AccountId, AccountSeries)>> {
        let c = self.conn().await?;
        let ids: Option<Vec<&str>> = accounts.map(|a| a.iter().map(|a| a.as_str()).collect());
        let decode = |r: &tokio_postgres::Row| {
            let id = AccountId(r.get(0));
            decode_series(&id, r.get(1))
                .map(|s| (id, s))
                .map_err(|e| e.to_string())
        };
        match &ids {
            None => {
                reads::stream_decode(&**c, "SELECT account_id, packed FROM series ORDER BY account_id COLLATE \"C\"", &[], decode)
                    .await
            }
            Some(ids) => {
                reads::stream_decode(
                    &**c,
                    "SELECT account_id, packed FROM series WHERE account_id = ANY($1) ORDER BY account_id COLLATE \"C\"",
                    &[ids],
                    decode,
                )
                .await
            }
        }
    }

    async fn load_book(&self, accounts: Option<&[AccountId]>) -> Result<Book> {
        // Packs out of date are rebuilt first (imports settle them at their end, so this is rare).
        self.repack().await?;
        let c = self.conn().await?;
        let ids: Option<Vec<&str>> = accounts.map(|a| a.iter().map(|a| a.as_str()).collect());
        let rows = match &ids {
            None => {
                reads::stream_decode(
                    &**c,
                    "SELECT account_id, packed FROM facts_packed",
                    &[],
                    reads::pack_row,
                )
                .await?
            }
            Some(ids) => {
                reads::stream_decode(
                    &**c,
                    "SELECT account_id, packed FROM facts_packed WHERE account_id = ANY($1)",
                    &[ids],
                    reads::pack_row,
                )
                .await?
            }
        };
        Ok(Book {
            accounts: rows.into_iter().collect(),
        })
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT account_id FROM accounts ORDER BY account_id COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| AccountId(r.get(0))).collect())
    }

    async fn account_attr(&self, attr: &str) -> Result<Vec<(AccountId, String)>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT DISTINCT ON (account_id) account_id, value FROM account_attrs WHERE attr = $1 \
                 ORDER BY account_id, valid_from DESC",
                &[&attr],
            )
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                r.get::<_, Option<String>>(1)
                    .map(|v| (AccountId(r.get(0)), v))
            })
            .collect())
    }

    async fn save_assessments(
        &self,
        as_of: Day,
        current: bool,
        rows: &[Assessment],
        ended: &[AccountId],
    ) -> Result<()> {
        // A second assessment of the same account and day replaces the first, as a run of upserts would.
        let rows = writes::last_by_key(rows, |a| (a.account_id.as_str(), a.as_of.0));
        let comps = docs::par_pack(&rows, |a| serde_json::to_string(&a.components))
            .map_err(StoreError::Corrupt)?;
        let comps: Vec<Vec<u8>> = comps.into_iter().map(docs::Doc::into_bytes).collect();
        let ids: Vec<&str> = rows.iter().map(|a| a.account_id.as_str()).collect();
        let days: Vec<i32> = rows.iter().map(|a| a.as_of.0).collect();
        let health: Vec<f64> = rows.iter().map(|a| a.health).collect();
        let risk: Vec<f64> = rows.iter().map(|a| a.risk_proxy).collect();
        let churn: Vec<Option<f64>> = rows.iter().map(|a| a.churn_probability).collect();
        let prio: Vec<f64> = rows.iter().map(|a| a.priority).collect();
        let owner: Vec<Option<&str>> = rows.iter().map(|a| a.owner.as_deref()).collect();
        let arr: Vec<Option<i64>> = rows.iter().map(|a| a.arr_minor).collect();
        let reason: Vec<&str> = rows.iter().map(|a| a.reason.as_str()).collect();
        let impact: Vec<Option<String>> = rows
            .iter()
            .map(|a| a.impact.as_ref().map(serde_json::to_string).transpose())
            .collect::<serde_json::Result<_>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ended: Vec<&str> = ended.iter().map(|a| a.as_str()).collect();
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        // Days after the current one have not happened: assessments made for them (under an earlier idea of
        // the book's day, before older data arrived) are dropped.
        if current {
            tx.execute(
                "DELETE FROM assessments WHERE as_of > $2 AND (account_id = ANY($1) OR account_id = ANY($3))",
                &[&ids, &as_of.0, &ended],
            )
            .await
            .map_err(db_err)?;
        }
        let params: [&(dyn ToSql + Sync); 11] = [
            &ids, &days, &health, &risk, &churn, &prio, &owner, &arr, &reason, &comps, &impact,
        ];
        tx.execute(
            "INSERT INTO assessments (account_id, as_of, health, risk_proxy, churn_probability, priority, owner, arr, reason, components, impact) \
             SELECT * FROM unnest($1::text[], $2::int4[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::text[], $8::bigint[], $9::text[], $10::bytea[], $11::text[]) \
             ON CONFLICT (account_id, as_of) DO UPDATE SET health = excluded.health, risk_proxy = excluded.risk_proxy, \
             churn_probability = excluded.churn_probability, priority = excluded.priority, owner = excluded.owner, arr = excluded.arr, \
             reason = excluded.reason, components = excluded.components, impact = excluded.impact",
            &params,
        )
        .await
        .map_err(db_err)?;
        // The current pass replaces an account's current assessment; a past day's pass only fills a gap.
        let conflict = if current {
            "ON CONFLICT (account_id) DO UPDATE SET as_of = excluded.as_of, ended = excluded.ended, owner = excluded.owner"
        } else {
            "ON CONFLICT (account_id) DO NOTHING"
        };
        // Each assessment points at its own day, each ended account at the pass's day. Where an account comes
        // twice, the current pass keeps the last word (its upserts replace) and a past day's the first (its
        // inserts skip what is there), as a run of single-row statements would.
        let mut cur: Vec<(&str, i32, bool, Option<&str>)> = ids
            .iter()
            .zip(&days)
            .zip(&owner)
            .map(|((id, day), o)| (*id, *day, false, *o))
            .chain(ended.iter().map(|id| (*id, as_of.0, true, None)))
            .collect();
        if current {
            cur.reverse();
        }
        let mut seen = FxHashSet::default();
        cur.retain(|(id, _, _, _)| seen.insert(*id));
        let cur_ids: Vec<&str> = cur.iter().map(|c| c.0).collect();
        let cur_days: Vec<i32> = cur.iter().map(|c| c.1).collect();
        let cur_ended: Vec<bool> = cur.iter().map(|c| c.2).collect();
        let cur_owner: Vec<Option<&str>> = cur.iter().map(|c| c.3).collect();
        tx.execute(
            &format!(
                "INSERT INTO current_assessments (account_id, as_of, ended, owner) SELECT * FROM unnest($1::text[], $2::int4[], $3::bool[], $4::text[]) {conflict}"
            ),
            &[&cur_ids, &cur_days, &cur_ended, &cur_owner],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn assessments(&self, as_of: Option<Day>) -> Result<Vec<Assessment>> {
        let c = self.conn().await?;
        let rows = match as_of {
            Some(d) => c
                .query(
                    &format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments a WHERE a.as_of = $1 ORDER BY a.priority DESC, a.account_id COLLATE \"C\""),
                    &[&d.0],
                )
                .await,
            None => c
                .query(
                    &format!(
                        "SELECT {ASSESSMENT_COLUMNS} FROM current_assessments c JOIN assessments a ON a.account_id = c.account_id AND a.as_of = c.as_of \
                         WHERE NOT c.ended ORDER BY a.priority DESC, a.account_id COLLATE \"C\""
                    ),
                    &[],
                )
                .await,
        }
        .map_err(db_err)?;
        rows.iter().map(assessment).collect()
    }

    async fn owner_assessments(&self, owner: &str) -> Result<Vec<Assessment>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {ASSESSMENT_COLUMNS} FROM current_assessments c JOIN assessments a ON a.account_id = c.account_id AND a.as_of = c.as_of \
                     WHERE c.owner = $1 AND NOT c.ended ORDER BY a.priority DESC, a.account_id COLLATE \"C\""
                ),
                &[&owner],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(assessment).collect()
    }

    async fn save_peer_stats(&self, as_of: Day, rows: &[(String, PeerStats)]) -> Result<()> {
        let seg: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let n: Vec<i64> = rows.iter().map(|r| r.1.accounts as i64).collect();
        let u: Vec<Option<f64>> = rows.iter().map(|r| r.1.utilisation).collect();
        let e: Vec<Option<f64>> = rows.iter().map(|r| r.1.events_per_seat).collect();
        let x: Vec<Option<f64>> = rows.iter().map(|r| r.1.expansion_share).collect();
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        tx.execute("DELETE FROM peer_stats WHERE as_of = $1", &[&as_of.0])
            .await
            .map_err(db_err)?;
        tx.execute(
            "INSERT INTO peer_stats (as_of, segment, accounts, utilisation, events_per_seat, expansion_share) \
             SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[])",
            &[&as_of.0, &seg, &n, &u, &e, &x],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn peer_stats(&self, as_of: Day) -> Result<Vec<(String, PeerStats)>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT segment, accounts, utilisation, events_per_seat, expansion_share FROM peer_stats \
                 WHERE as_of = (SELECT max(as_of) FROM peer_stats WHERE as_of <= $1) ORDER BY segment COLLATE \"C\"",
                &[&as_of.0],
            )
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    PeerStats {
                        accounts: r.get::<_, i64>(1) as usize,
                        utilisation: r.get(2),
                        events_per_seat: r.get(3),
                        expansion_share: r.get(4),
                    },
                )
            })
            .collect())
    }

    async fn save_common_features(&self, as_of: Day, rows: &[CommonFeatures]) -> Result<()> {
        let scope: Vec<&str> = rows.iter().map(|c| c.scope.as_str()).collect();
        let grp: Vec<&str> = rows.iter().map(|c| c.group.as_str()).collect();
        let source: Vec<&str> = rows.iter().map(|c| c.source.key()).collect();
        let n: Vec<i64> = rows.iter().map(|c| c.accounts as i64).collect();
        let features: Vec<String> = rows
            .iter()
            .map(|c| serde_json::to_string(&c.features))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        tx.execute("DELETE FROM common_features WHERE as_of = $1", &[&as_of.0])
            .await
            .map_err(db_err)?;
        tx.execute(
            "INSERT INTO common_features (as_of, scope, grp, source, accounts, features) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])",
            &[&as_of.0, &scope, &grp, &source, &n, &features],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn common_features(&self, as_of: Day) -> Result<Vec<CommonFeatures>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT scope, grp, source, accounts, features FROM common_features \
                 WHERE as_of = (SELECT max(as_of) FROM common_features WHERE as_of <= $1) ORDER BY scope COLLATE \"C\", grp COLLATE \"C\", source COLLATE \"C\"",
                &[&as_of.0],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let (scope, group, source): (&str, String, &str) = (r.get(0), r.get(1), r.get(2));
                let bad = |what: &str| {
                    StoreError::Corrupt(format!(
                        "common_features row ({scope}, {group}, {source}) has an unreadable {what}"
                    ))
                };
                Ok(CommonFeatures {
                    scope: CommonScope::parse(scope).map_err(|_| bad("scope"))?,
                    source: bellwether_core::series::UsageSource::from_key(source)
                        .ok_or_else(|| bad("source"))?,
                    accounts: r.get::<_, i64>(3) as usize,
                    features: serde_json::from_str(r.get(4)).map_err(|_| bad("feature list"))?,
                    group: group.clone(),
                })
            })
            .collect()
    }

    async fn latest_assessment_day(&self) -> Result<Option<Day>> {
        let c = self.conn().await?;
        let r = c
            .query_one("SELECT max(as_of) FROM assessments", &[])
            .await
            .map_err(db_err)?;
        Ok(r.get::<_, Option<i32>>(0).map(Day))
    }

    async fn assessment_history(&self, account: &AccountId) -> Result<Vec<Assessment>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments a WHERE a.account_id = $1 ORDER BY a.as_of"),
                &[&account.as_str()],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(assessment).collect()
    }

    async fn stats(&self) -> Result<StoreStats> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM series), (SELECT coalesce(sum(length(packed)), 0)::bigint FROM series), \
                 (SELECT count(*) FROM contacts), (SELECT count(*) FROM tickets), (SELECT count(*) FROM billing_events), \
                 (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM interactions), (SELECT count(*) FROM outcomes), \
                 (SELECT count(*) FROM imports), (SELECT count(*) FROM chunks), (SELECT count(*) FROM assessments)",
                &[],
            )
            .await
            .map_err(db_err)?;
        let g = |i: usize| r.get::<_, i64>(i) as u64;
        Ok(StoreStats {
            accounts: g(0),
            series_accounts: g(1),
            series_bytes: g(2),
            contacts: g(3),
            tickets: g(4),
            billing_events: g(5),
            subscriptions: g(6),
            interactions: g(7),
            outcomes: g(8),
            imports: g(9),
            chunks: g(10),
            assessments: g(11),
        })
    }

    async fn book_summary(&self) -> Result<BookSummary> {
        let c = self.conn().await?;
        let catalog: Vec<(String, Day, Option<i32>)> = c
            .query(
                "SELECT metric, first_day, last_day FROM catalog ORDER BY metric COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| (r.get(0), Day(r.get(1)), r.get(2)))
            .collect();
        // A subscription booked to start later is not data yet: it does not move the book's day.
        let r = c
            .query_one(
                "SELECT (SELECT min(opened_at) FROM tickets), (SELECT min(first_seen) FROM contacts), \
                 (SELECT min(at) FROM interactions), (SELECT min(at) FROM billing_events), \
                 (SELECT max(opened_at) FROM tickets), (SELECT max(at) FROM billing_events), (SELECT max(at) FROM interactions), \
                 (SELECT max(start_day) FROM subscriptions WHERE start_day <= $1), EXISTS (SELECT 1 FROM accounts)",
                &[&Day::today().0],
            )
            .await
            .map_err(db_err)?;
        let ts = |i: usize| r.get::<_, Option<i64>>(i).map(Timestamp);
        let last_series = catalog
            .iter()
            .filter(|(m, _, _)| !bellwether_core::series::is_period_series(m))
            .filter_map(|(_, _, l)| l.map(Day))
            .max();
        let last = [
            last_series,
            ts(4).map(|t| t.day()),
            ts(5).map(|t| t.day()),
            ts(6).map(|t| t.day()),
            r.get::<_, Option<i32>>(7).map(Day),
        ]
        .into_iter()
        .flatten()
        .max();
        Ok(BookSummary {
            metrics: catalog.into_iter().map(|(m, f, _)| (m, f)).collect(),
            first_ticket: ts(0),
            first_contact: ts(1),
            first_interaction: ts(2),
            first_billing: ts(3),
            last_day: last,
            has_accounts: r.get(8),
        })
    }

    async fn signals(&self, f: SignalFilter) -> Result<Vec<Signal>> {
        let mut sql = format!("SELECT {SIGNAL_COLUMNS} FROM signals WHERE true");
        let accounts: Option<Vec<&str>> = f
            .accounts
            .as_ref()
            .map(|a| a.iter().map(|i| i.as_str()).collect());
        let statuses: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(a) = &accounts {
            params.push(a);
            sql.push_str(&format!(" AND account_id = ANY(${})", params.len()));
        }
        if !statuses.is_empty() {
            params.push(&statuses);
            sql.push_str(&format!(" AND status = ANY(${})", params.len()));
        }
        for (col, v) in [("kind", &f.kind), ("owner", &f.owner), ("id", &f.id)] {
            if let Some(v) = v {
                params.push(v);
                sql.push_str(&format!(" AND {col} = ${}", params.len()));
            }
        }
        sql.push_str(" ORDER BY last_seen DESC, detected_at DESC, id COLLATE \"C\"");
        let c = self.conn().await?;
        let rows = c.query(&sql, &params).await.map_err(db_err)?;
        rows.iter().map(signal).collect()
    }

    async fn save_signals(&self, rows: &[Signal], queued: &[OutboxItem]) -> Result<()> {
        if rows.is_empty() && queued.is_empty() {
            return Ok(());
        }
        let last = writes::last_by_key(rows, |s| (s.account_id.as_str(), s.id.as_str()));
        let ids: Vec<&str> = last.iter().map(|s| s.id.as_str()).collect();
        let acc: Vec<&str> = last.iter().map(|s| s.account_id.as_str()).collect();
        let kind: Vec<&str> = last.iter().map(|s| s.kind.as_str()).collect();
        let dir: Vec<&str> = last.iter().map(|s| s.direction.as_str()).collect();
        let sev: Vec<&str> = last.iter().map(|s| s.severity.as_str()).collect();
        let det: Vec<i32> = last.iter().map(|s| s.detected_at.0).collect();
        let seen: Vec<i32> = last.iter().map(|s| s.last_seen.0).collect();
        let ev: Vec<String> = last.iter().map(|s| s.evidence.to_string()).collect();
        let expl: Vec<&str> = last.iter().map(|s| s.explanation.as_str()).collect();
        let act: Vec<&str> = last.iter().map(|s| s.suggested_action.as_str()).collect();
        let status: Vec<&str> = last.iter().map(|s| s.status.as_str()).collect();
        let owner: Vec<Option<&str>> = last.iter().map(|s| s.owner.as_deref()).collect();
        let res: Vec<Option<i32>> = last.iter().map(|s| s.resolved_at.map(|d| d.0)).collect();
        let snz: Vec<Option<i32>> = last.iter().map(|s| s.snoozed_until.map(|d| d.0)).collect();
        let why: Vec<Option<&str>> = last.iter().map(|s| s.snooze_reason.as_deref()).collect();
        let alerted: Vec<i32> = last.iter().map(|s| i32::from(s.alerted)).collect();
        let now = Timestamp::now().0;
        let params: [&(dyn ToSql + Sync); 17] = [
            &ids, &acc, &kind, &dir, &sev, &det, &seen, &ev, &expl, &act, &status, &owner, &res,
            &snz, &why, &alerted, &now,
        ];
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        tx.execute(
            &format!(
                "INSERT INTO signals ({SIGNAL_COLUMNS}, updated_at) \
                 SELECT *, $17 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::int4[], $8::text[], \
                 $9::text[], $10::text[], $11::text[], $12::text[], $13::int4[], $14::int4[], $15::text[], $16::int4[]) \
                 ON CONFLICT (account_id, id) DO UPDATE SET kind = excluded.kind, direction = excluded.direction, severity = excluded.severity, \
                 detected_at = excluded.detected_at, last_seen = excluded.last_seen, evidence = excluded.evidence, explanation = excluded.explanation, \
                 suggested_action = excluded.suggested_action, status = excluded.status, owner = excluded.owner, resolved_at = excluded.resolved_at, \
                 snoozed_until = excluded.snoozed_until, snooze_reason = excluded.snooze_reason, alerted = excluded.alerted, updated_at = excluded.updated_at"
            ),
            &params,
        )
        .await
        .map_err(db_err)?;
        outbox::enqueue(&tx, queued).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
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
        let c = self.conn().await?;
        let rows = c
            .query("SELECT email, person FROM people ORDER BY email", &[])
            .await
            .map_err(db_err)?;
        // A row another version wrote (a field this one does not know) is skipped, not fatal to alerting.
        Ok(rows
            .iter()
            .filter_map(|r| match serde_json::from_str(r.get::<_, &str>(1)) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(
                        "people: the stored entry of {} is skipped: {e}",
                        r.get::<_, &str>(0)
                    );
                    None
                }
            })
            .collect())
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts> {
        self.outbox_counts_by_state().await
    }

    async fn save_model(&self, m: ModelRecord, activate: bool) -> Result<i64> {
        let features = serde_json::to_string(&m.features).map_err(|e| corrupt("models", e))?;
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        if activate {
            tx.execute("UPDATE models SET active = false WHERE active", &[])
                .await
                .map_err(db_err)?;
        }
        let v: i64 = tx
            .query_one(
                "INSERT INTO models (created_at, trained_from, trained_to, engine, features, params, metrics, active, bundle) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING version",
                &[&m.created_at.0, &m.trained_from.0, &m.trained_to.0, &m.engine, &features, &m.params, &m.metrics, &activate, &m.bundle],
            )
            .await
            .map_err(db_err)?
            .get(0);
        tx.commit().await.map_err(db_err)?;
        Ok(v)
    }

    async fn models(&self) -> Result<Vec<ModelRecord>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY version DESC"),
                &[],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| model_record(r, false)).collect()
    }

    async fn model(&self, version: Option<i64>) -> Result<Option<ModelRecord>> {
        let c = self.conn().await?;
        let row = match version {
            Some(v) => {
                c.query_opt(
                    &format!("SELECT {MODEL_COLUMNS}, bundle FROM models WHERE version = $1"),
                    &[&v],
                )
                .await
            }
            None => {
                c.query_opt(
                    &format!("SELECT {MODEL_COLUMNS}, bundle FROM models WHERE active"),
                    &[],
                )
                .await
            }
        }
        .map_err(db_err)?;
        row.map(|r| model_record(&r, true)).transpose()
    }

    async fn activate_model(&self, version: i64) -> Result<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        let exists = tx
            .query_opt("SELECT 1 FROM models WHERE version = $1", &[&version])
            .await
            .map_err(db_err)?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!("model version {version}")));
        }
        tx.execute(
            "UPDATE models SET active = false WHERE active AND version <> $1",
            &[&version],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "UPDATE models SET active = true WHERE version = $1",
            &[&version],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn save_predictions(&self, rows: &[Prediction], rankings: &[Ranking]) -> Result<()> {
        let packed = docs::prediction_rows(rows)?;
        let mut ids = Vec::with_capacity(packed.len());
        let mut days = Vec::with_capacity(packed.len());
        let mut blobs = Vec::with_capacity(packed.len());
        for (id, day, doc) in packed {
            ids.push(id);
            days.push(day);
            blobs.push(doc.into_bytes());
        }
        let r_ids: Vec<&str> = rankings.iter().map(|r| r.account_id.as_str()).collect();
        let r_days: Vec<i32> = rankings.iter().map(|r| r.as_of.0).collect();
        let r_p: Vec<f64> = rankings.iter().map(|r| r.churn_probability).collect();
        let r_prio: Vec<f64> = rankings.iter().map(|r| r.priority).collect();
        let r_impact: Vec<String> = rankings
            .iter()
            .map(|r| serde_json::to_string(&r.impact))
            .collect::<serde_json::Result<_>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let r_reason: Vec<&str> = rankings.iter().map(|r| r.reason.as_str()).collect();
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        tx.execute(
            "INSERT INTO account_predictions (account_id, as_of, predictions) SELECT * FROM unnest($1::text[], $2::int4[], $3::bytea[]) \
             ON CONFLICT (account_id, as_of) DO UPDATE SET predictions = excluded.predictions",
            &[&ids, &days, &blobs],
        )
        .await
        .map_err(db_err)?;
        if !rankings.is_empty() {
            tx.execute(
                "UPDATE assessments a SET churn_probability = n.p, priority = n.prio, impact = n.impact, reason = n.reason \
                 FROM unnest($1::text[], $2::int4[], $3::float8[], $4::float8[], $5::text[], $6::text[]) AS n (account_id, as_of, p, prio, impact, reason) \
                 WHERE a.account_id = n.account_id AND a.as_of = n.as_of",
                &[&r_ids, &r_days, &r_p, &r_prio, &r_impact, &r_reason],
            )
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn predictions(
        &self,
        account: Option<&AccountId>,
        as_of: Option<Day>,
    ) -> Result<Vec<Prediction>> {
        let c = self.conn().await?;
        let account: Option<&str> = account.map(|a| a.as_str());
        let day: Option<i32> = match as_of {
            Some(d) => Some(d.0),
            None => c
                .query_one(
                    "SELECT max(as_of) FROM account_predictions WHERE $1::text IS NULL OR account_id = $1",
                    &[&account],
                )
                .await
                .map_err(db_err)?
                .get(0),
        };
        let Some(day) = day else {
            return Ok(Vec::new());
        };
        let rows = c
            .query(
                "SELECT account_id, predictions FROM account_predictions \
                 WHERE as_of = $1 AND ($2::text IS NULL OR account_id = $2) ORDER BY account_id COLLATE \"C\"",
                &[&day, &account],
            )
            .await
            .map_err(db_err)?;
        let mut out = Vec::new();
        for r in rows {
            let id = AccountId(r.get(0));
            // A damaged row costs that account's predictions of the day, not everyone's.
            match docs::from_bytes::<Vec<docs::StoredPrediction>>(r.get(1)) {
                Ok(stored) => out.extend(docs::predictions_of(&id, Day(day), stored)),
                Err(m) => {
                    tracing::warn!(account = %id, day, "stored predictions are damaged and were skipped: {m}")
                }
            }
        }
        Ok(out)
    }

    async fn settle(&self) -> Result<()> {
        self.repack().await
    }
}
