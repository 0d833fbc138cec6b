//! The embedded SQLite backend of [`bellwether_store::Store`]: one file in the data directory, no setup.
//!
//! The database runs in WAL mode with `synchronous = FULL`, so a committed write survives a crash or power
//! loss. Migrations are versioned SQL files in `migrations/`, embedded in the binary and applied at open.
//! Writes are batched: multi-row `INSERT`s of up to a few thousand rows per statement and one transaction per
//! [`WriteBatch`]; series are read, merged and rewritten per account inside that transaction.

mod rows;

use bellwether_core::history::AttrFact;
use bellwether_core::model::Assessment;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Day, Timestamp};
use bellwether_store::{
    Book, Fingerprint, Result, StoreError, StoreStats, WriteBatch, WriteSummary,
};
use rustc_hash::FxHashSet;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;

/// Versioned migrations, applied in order; a published one is never edited.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// Bound parameters per statement, below SQLite's limit of 32,766.
const MAX_PARAMS: usize = 30_000;

/// The SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_string())
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(db_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot open the database {}: {e}; check the path and its permissions",
                    path.display()
                ))
            })?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for benchmarks and tests that compare against raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        if let Some(max) = applied.iter().max() {
            if *max > MIGRATIONS.last().map_or(0, |m| m.0) {
                return Err(StoreError::Unavailable(format!(
                    "the database has schema version {max}, newer than this Bellwether understands; upgrade Bellwether"
                )));
            }
        }
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let mut tx = self.pool.begin().await.map_err(db_err)?;
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| {
                StoreError::Unavailable(format!("migration {version} ({name}) failed: {e}"))
            })?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
            .bind(version)
            .bind(name)
            .bind(Timestamp::now().0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            tracing::info!(version, name, "applied migration");
        }
        Ok(())
    }
}

/// Runs a multi-row `INSERT` over `rows` in statements of at most [`MAX_PARAMS`] parameters.
async fn insert_many<'a, T: 'a>(
    tx: &mut Transaction<'static, Sqlite>,
    head: &str,
    cols: usize,
    tail: &str,
    rows: &'a [T],
    mut bind: impl FnMut(&mut Separated<'_, 'a, Sqlite, &'static str>, &'a T),
) -> Result<u64> {
    let mut n = 0;
    for chunk in rows.chunks((MAX_PARAMS / cols).max(1)) {
        let mut qb: QueryBuilder<'a, Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.push(tail);
        n += qb
            .build()
            .execute(&mut **tx)
            .await
            .map_err(db_err)?
            .rows_affected();
    }
    Ok(n)
}

fn hex(f: Fingerprint) -> String {
    format!("{f:032x}")
}

async fn insert_attrs(
    tx: &mut Transaction<'static, Sqlite>,
    table: &str,
    key: &str,
    facts: &[AttrFact],
) -> Result<u64> {
    // A fact re-sent with the same value keeps its first receipt time; a corrected value replaces it.
    let head = format!("INSERT INTO {table} ({key}, attr, valid_from, value, received_at) ");
    let tail = format!(
        " ON CONFLICT ({key}, attr, valid_from) DO UPDATE SET value = excluded.value, received_at = excluded.received_at WHERE value IS NOT excluded.value"
    );
    insert_many(tx, &head, 5, &tail, facts, |b, f| {
        b.push_bind(f.subject.as_str())
            .push_bind(f.attr.as_str())
            .push_bind(f.valid_from.0)
            .push_bind(f.value.as_deref())
            .push_bind(f.received_at.0);
    })
    .await
}

#[async_trait::async_trait]
impl bellwether_store::Store for SqliteStore {
    async fn known_chunks(&self) -> Result<FxHashSet<Fingerprint>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT fingerprint FROM chunks")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|h| {
                u128::from_str_radix(h, 16)
                    .map_err(|_| StoreError::Corrupt(format!("chunk fingerprint '{h}' is not hex")))
            })
            .collect()
    }

    async fn write(&self, batch: &WriteBatch) -> Result<WriteSummary> {
        let now = batch.received_at.unwrap_or_else(Timestamp::now);
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let import_id: i64 = sqlx::query_scalar(
            "INSERT INTO imports (source, kind, received_at, records, rejected, chunks) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&batch.source)
        .bind(&batch.kind)
        .bind(now.0)
        .bind(batch.records as i64)
        .bind(batch.rejected as i64)
        .bind(batch.chunks.len() as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let hexes: Vec<String> = batch.chunks.iter().map(|f| hex(*f)).collect();
        insert_many(
            &mut tx,
            "INSERT INTO chunks (fingerprint, import_id) ",
            2,
            "",
            &hexes,
            |b, h| {
                b.push_bind(h.as_str()).push_bind(import_id);
            },
        )
        .await?;

        let accounts = batch.accounts();
        insert_many(
            &mut tx,
            "INSERT INTO accounts (id, first_seen) ",
            2,
            " ON CONFLICT (id) DO NOTHING",
            &accounts,
            |b, a| {
                b.push_bind(a.as_str()).push_bind(now.0);
            },
        )
        .await?;

        let mut rows = 0;
        rows += insert_attrs(&mut tx, "account_attrs", "account_id", &batch.account_attrs).await?;
        rows += insert_attrs(&mut tx, "contact_attrs", "contact_id", &batch.contact_attrs).await?;
        rows += insert_many(
            &mut tx,
            "INSERT INTO contacts (id, account_id, email, name, first_seen) ",
            5,
            " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, email = coalesce(excluded.email, email), \
              name = coalesce(excluded.name, name), first_seen = min(coalesce(first_seen, excluded.first_seen), coalesce(excluded.first_seen, first_seen))",
            &batch.contacts,
            |b, c| {
                b.push_bind(c.id.as_str()).push_bind(c.account_id.as_str()).push_bind(c.email.as_deref()).push_bind(c.name.as_deref()).push_bind(c.first_seen.map(|t| t.0));
            },
        )
        .await?;
        rows += rows::insert_tickets(&mut tx, &batch.tickets).await?;
        rows += rows::insert_billing(&mut tx, &batch.billing).await?;
        rows += rows::insert_subscriptions(&mut tx, &batch.subscriptions).await?;
        rows += rows::insert_interactions(&mut tx, &batch.interactions).await?;
        rows += rows::insert_outcomes(&mut tx, &batch.outcomes).await?;

        // Series: read the stored blobs of the touched accounts in bulk, merge, write back in bulk.
        let ids: Vec<&AccountId> = batch.series.keys().collect();
        let mut merged: Vec<(&AccountId, Vec<u8>)> = Vec::with_capacity(ids.len());
        for group in ids.chunks(2_000) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT account_id, packed FROM series WHERE account_id IN (");
            let mut sep = qb.separated(", ");
            for id in group {
                sep.push_bind(id.as_str());
            }
            qb.push(")");
            let stored = qb.build().fetch_all(&mut *tx).await.map_err(db_err)?;
            let mut old: rustc_hash::FxHashMap<String, Vec<u8>> = stored
                .into_iter()
                .map(|r| (r.get::<String, _>(0), r.get::<Vec<u8>, _>(1)))
                .collect();
            for id in group {
                let mut s = match old.remove(id.as_str()) {
                    Some(blob) => AccountSeries::decode(&blob)
                        .map_err(|e| StoreError::Corrupt(format!("series of account {id}: {e}")))?,
                    None => AccountSeries::default(),
                };
                s.merge(&batch.series[*id]);
                merged.push((id, s.encode()));
            }
        }
        insert_many(
            &mut tx,
            "INSERT INTO series (account_id, packed, updated_at) ",
            3,
            " ON CONFLICT (account_id) DO UPDATE SET packed = excluded.packed, updated_at = excluded.updated_at",
            &merged,
            |b, (id, blob)| {
                b.push_bind(id.as_str()).push_bind(blob.as_slice()).push_bind(now.0);
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(WriteSummary {
            import_id,
            series_accounts: merged.len(),
            rows,
        })
    }

    async fn load_series(
        &self,
        accounts: Option<&[AccountId]>,
    ) -> Result<Vec<(AccountId, AccountSeries)>> {
        let rows = match accounts {
            None => sqlx::query("SELECT account_id, packed FROM series ORDER BY account_id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?,
            Some(ids) => {
                let mut all = Vec::new();
                for group in ids.chunks(2_000) {
                    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                        "SELECT account_id, packed FROM series WHERE account_id IN (",
                    );
                    let mut sep = qb.separated(", ");
                    for id in group {
                        sep.push_bind(id.as_str());
                    }
                    qb.push(") ORDER BY account_id");
                    all.extend(qb.build().fetch_all(&self.pool).await.map_err(db_err)?);
                }
                all
            }
        };
        rows.into_iter()
            .map(|r| {
                let id: String = r.get(0);
                let blob: &[u8] = r.get(1);
                let s = AccountSeries::decode(blob)
                    .map_err(|e| StoreError::Corrupt(format!("series of account {id}: {e}")))?;
                Ok((AccountId(id), s))
            })
            .collect()
    }

    async fn load_book(&self, accounts: Option<&[AccountId]>) -> Result<Book> {
        rows::load_book(&self.pool, accounts).await
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM accounts ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(AccountId).collect())
    }

    async fn save_assessments(&self, rows: &[Assessment]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let comps: Vec<String> = rows
            .iter()
            .map(|a| serde_json::to_string(&a.components).unwrap_or_else(|_| "[]".into()))
            .collect();
        let pairs: Vec<(&Assessment, &String)> = rows.iter().zip(comps.iter()).collect();
        insert_many(
            &mut tx,
            "INSERT OR REPLACE INTO assessments (account_id, as_of, health, risk_proxy, churn_probability, priority, owner, arr, reason, components) ",
            10,
            "",
            &pairs,
            |b, (a, c)| {
                b.push_bind(a.account_id.as_str())
                    .push_bind(a.as_of.0)
                    .push_bind(a.health)
                    .push_bind(a.risk_proxy)
                    .push_bind(a.churn_probability)
                    .push_bind(a.priority)
                    .push_bind(a.owner.as_deref())
                    .push_bind(a.arr_minor)
                    .push_bind(a.reason.as_str())
                    .push_bind(c.as_str());
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn assessments(&self, as_of: Option<Day>) -> Result<Vec<Assessment>> {
        let day = match as_of {
            Some(d) => d.0,
            None => {
                match sqlx::query_scalar::<_, Option<i32>>("SELECT max(as_of) FROM assessments")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?
                {
                    Some(d) => d,
                    None => return Ok(Vec::new()),
                }
            }
        };
        let rows = sqlx::query(&format!(
            "{} WHERE as_of = ? ORDER BY priority DESC, account_id",
            rows::ASSESSMENT_SELECT
        ))
        .bind(day)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rows::assessment).collect()
    }

    async fn assessment_history(&self, account: &AccountId) -> Result<Vec<Assessment>> {
        let rows = sqlx::query(&format!(
            "{} WHERE account_id = ? ORDER BY as_of",
            rows::ASSESSMENT_SELECT
        ))
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rows::assessment).collect()
    }

    async fn stats(&self) -> Result<StoreStats> {
        let r = sqlx::query(
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM series), (SELECT coalesce(sum(length(packed)), 0) FROM series), \
             (SELECT count(*) FROM contacts), (SELECT count(*) FROM tickets), (SELECT count(*) FROM billing_events), \
             (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM interactions), (SELECT count(*) FROM outcomes), \
             (SELECT count(*) FROM imports), (SELECT count(*) FROM chunks), (SELECT count(*) FROM assessments)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let g = |i: usize| r.get::<i64, _>(i) as u64;
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
}
