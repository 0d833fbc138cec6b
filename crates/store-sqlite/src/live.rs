//! The SQLite side of [`LiveStore`]: API keys, received message ids, the tracking inbox, identity links,
//! pending messages and exact distinct-user counts (migrations `0006_server.sql` and `0007_inbox.sql`).

use crate::{db_err, write_batch, SqliteStore};
use bellwether_core::{AccountId, Timestamp};
use bellwether_store::codec::distinct;
use bellwether_store::{
    ApiKey, CrmUser, InboxEntry, InboxMessage, JobRun, JobState, KeyScope, LiveBatch, LiveStore,
    PendingMessage, Result, StoreError, WriteSummary,
};
use rusqlite::{params, OptionalExtension, Row};
use rustc_hash::{FxHashMap, FxHashSet};

fn key_row(r: &Row) -> rusqlite::Result<ApiKey> {
    let scope: String = r.get(2)?;
    Ok(ApiKey {
        id: r.get(0)?,
        hash: r.get(1)?,
        scope: KeyScope::parse(&scope).unwrap_or(KeyScope::Read),
        name: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
    })
}

impl SqliteStore {
    /// Runs `sql`, a query of `(outside id, account id)` rows for one source (`?1`), into a map.
    async fn account_map(
        &self,
        sql: &'static str,
        source: &str,
    ) -> Result<FxHashMap<String, AccountId>> {
        let source = source.to_string();
        self.read(move |c| {
            let mut st = c.prepare_cached(sql).map_err(db_err)?;
            let rows = st
                .query_map([source], |r| Ok((r.get(0)?, AccountId(r.get(1)?))))
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }
}

const KEY_SELECT: &str = "SELECT id, hash, scope, name, created_at, revoked_at FROM api_keys";

const JOB_COLUMNS: &str =
    "name, slot, holder, state, started_at, lease_until, finished_at, attempts, outcome";

fn job_row(r: &Row) -> rusqlite::Result<JobRun> {
    let state: String = r.get(3)?;
    Ok(JobRun {
        name: r.get(0)?,
        slot: Timestamp(r.get(1)?),
        holder: r.get(2)?,
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        started_at: Timestamp(r.get(4)?),
        lease_until: Timestamp(r.get(5)?),
        finished_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        attempts: r.get(7)?,
        outcome: r.get(8)?,
    })
}

#[async_trait::async_trait]
impl LiveStore for SqliteStore {
    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        let k = key.clone();
        self.write_tx(move |tx| {
            tx.execute(
                "INSERT INTO api_keys (id, hash, scope, name, created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                params![k.id, k.hash, k.scope.name(), k.name, k.created_at.0],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        self.read(|c| {
            let mut st = c
                .prepare(&format!("{KEY_SELECT} ORDER BY created_at DESC, id"))
                .map_err(db_err)?;
            let rows = st.query_map([], key_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let h = hash.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("{KEY_SELECT} WHERE hash = ?1"))
                .map_err(db_err)?
                .query_row([h], key_row)
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn revoke_key(&self, id: &str, at: Timestamp) -> Result<bool> {
        let id = id.to_string();
        self.write_tx(move |tx| {
            let n = tx
                .execute(
                    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                    params![id, at.0],
                )
                .map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn accept(
        &self,
        source: &str,
        received_at: Timestamp,
        messages: Vec<InboxMessage>,
    ) -> Result<(Vec<bool>, Option<i64>)> {
        self.inbox_accept(source, received_at, messages).await
    }

    async fn inbox(&self, source: &str, max_messages: usize) -> Result<Vec<InboxEntry>> {
        self.inbox_read(source, max_messages).await
    }

    async fn inbox_count(&self) -> Result<u64> {
        self.inbox_waiting().await
    }

    async fn known_messages(&self, source: &str, ids: &[String]) -> Result<FxHashSet<String>> {
        let source = source.to_string();
        let ids = ids.to_vec();
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT 1 FROM received_messages WHERE source = ?1 AND id = ?2")
                .map_err(db_err)?;
            let mut out = FxHashSet::default();
            for id in ids {
                if st.exists(params![source, id]).map_err(db_err)? {
                    out.insert(id);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn links(&self, source: &str) -> Result<FxHashMap<String, AccountId>> {
        self.account_map(
            "SELECT external_id, account_id FROM identity_links WHERE source = ?1",
            source,
        )
        .await
    }

    async fn pending(&self, source: &str, users: &[String]) -> Result<Vec<PendingMessage>> {
        let source = source.to_string();
        let users = users.to_vec();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT id, received_at, payload, kind FROM pending_messages WHERE source = ?1 AND user_key = ?2",
                )
                .map_err(db_err)?;
            let mut out = Vec::new();
            for u in users {
                let rows = st
                    .query_map(params![source, u], |r| {
                        Ok(PendingMessage {
                            source: source.clone(),
                            user_key: u.clone(),
                            id: r.get(0)?,
                            received_at: Timestamp(r.get(1)?),
                            payload: r.get(2)?,
                            kind: r.get(3)?,
                        })
                    })
                    .map_err(db_err)?;
                for r in rows {
                    out.push(r.map_err(db_err)?);
                }
            }
            out.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
            Ok(out)
        })
        .await
    }

    async fn pending_count(&self) -> Result<u64> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM pending_messages", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db_err)
        })
        .await
    }

    async fn crm_seen(&self, source: &str) -> Result<FxHashMap<String, AccountId>> {
        self.account_map(
            "SELECT contact_id, account_id FROM crm_contacts_seen WHERE source = ?1",
            source,
        )
        .await
    }

    async fn crm_users(&self, source: &str) -> Result<Vec<CrmUser>> {
        let source = source.to_string();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT user_id, name, email FROM crm_users WHERE source = ?1 ORDER BY seq",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([source], |r| {
                    Ok(CrmUser {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        email: r.get(2)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn replace_crm_users(&self, source: &str, users: Vec<CrmUser>) -> Result<()> {
        let source = source.to_string();
        self.write_tx(move |tx| {
            tx.execute("DELETE FROM crm_users WHERE source = ?1", [&source])
                .map_err(db_err)?;
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO crm_users (source, seq, user_id, name, email) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(db_err)?;
            for (seq, u) in users.iter().enumerate() {
                st.execute(params![source, seq as i64, u.id, u.name, u.email])
                    .map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn claim_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<JobRun>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write_tx(move |tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO job_runs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, 'running', ?4, ?5, NULL, 1, '') \
                 ON CONFLICT (name, slot) DO UPDATE SET holder = excluded.holder, started_at = excluded.started_at, \
                 lease_until = excluded.lease_until, attempts = job_runs.attempts + 1 \
                 WHERE job_runs.state = 'running' AND job_runs.lease_until < excluded.started_at RETURNING {JOB_COLUMNS}"
            ))
            .map_err(db_err)?
            .query_row(params![name, slot.0, holder, now.0, lease_until.0], job_row)
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn renew_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        lease_until: Timestamp,
    ) -> Result<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write_tx(move |tx| {
            tx.execute(
                "UPDATE job_runs SET lease_until = ?4 WHERE name = ?1 AND slot = ?2 AND holder = ?3 AND state = 'running'",
                params![name, slot.0, holder, lease_until.0],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn finish_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        now: Timestamp,
        succeeded: bool,
        outcome: &str,
    ) -> Result<bool> {
        let (name, holder, outcome) = (name.to_string(), holder.to_string(), outcome.to_string());
        let state = if succeeded {
            JobState::Succeeded
        } else {
            JobState::Failed
        };
        self.write_tx(move |tx| {
            tx.execute(
                "UPDATE job_runs SET state = ?4, finished_at = ?5, outcome = ?6 \
                 WHERE name = ?1 AND slot = ?2 AND holder = ?3 AND state = 'running'",
                params![name, slot.0, holder, state.as_str(), now.0, outcome],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn job_runs(&self, name: Option<&str>, limit: usize) -> Result<Vec<JobRun>> {
        let name = name.map(str::to_string);
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {JOB_COLUMNS} FROM job_runs WHERE ?1 IS NULL OR name = ?1 ORDER BY slot DESC, name LIMIT ?2"
                ))
                .map_err(db_err)?;
            let rows = st
                .query_map(params![name, limit as i64], job_row)
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn due_accounts(&self, before: Timestamp, limit: usize) -> Result<Vec<AccountId>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT account_id FROM reassess_due WHERE marked_at < ?1 ORDER BY account_id LIMIT ?2",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![before.0, limit as i64], |r| {
                    r.get::<_, String>(0).map(AccountId)
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        })
        .await
    }

    async fn due_marks(&self, accounts: &[AccountId]) -> Result<Vec<(AccountId, i64)>> {
        let ids = accounts.to_vec();
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT mark FROM reassess_due WHERE account_id = ?1")
                .map_err(db_err)?;
            let mut out = Vec::new();
            for a in ids {
                if let Some(m) = st
                    .query_row([a.as_str()], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(db_err)?
                {
                    out.push((a, m));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn clear_due(&self, marks: &[(AccountId, i64)]) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        let marks = marks.to_vec();
        self.write_tx(move |tx| {
            let mut st = tx
                .prepare_cached("DELETE FROM reassess_due WHERE account_id = ?1 AND mark = ?2")
                .map_err(db_err)?;
            for (a, m) in &marks {
                st.execute(params![a.as_str(), m]).map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn write_live(&self, live: LiveBatch) -> Result<WriteSummary> {
        let applied = live.applied.clone();
        // Groups are only added above the latest, and removed once applied: one still here below the first
        // of this batch and above what is recorded as applied has not been applied yet.
        let (waiting_before, between) = match &applied {
            Some(g) => self.inbox_around(&g.source, g.first, g.last).await?,
            None => (0, 0),
        };
        let touched = live.touched();
        let summary = self.write_tx(move |tx| {
            let LiveBatch {
                mut batch,
                messages,
                links,
                pending_add,
                pending_remove,
                distinct,
                crm_seen,
                applied,
            } = live;
            let now = batch.received_at.unwrap_or_else(Timestamp::now);
            {
                let mut st = tx
                    .prepare_cached("INSERT INTO received_messages (source, id, received_at) VALUES (?1, ?2, ?3)")
                    .map_err(db_err)?;
                for (source, id) in &messages {
                    st.execute(params![source, id, now.0]).map_err(|e| match db_err(e) {
                        StoreError::Conflict(_) => StoreError::Conflict(format!("message {source}/{id} was stored by another writer")),
                        other => other,
                    })?;
                }
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO identity_links (source, external_id, account_id, updated_at) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (source, external_id) DO UPDATE SET account_id = excluded.account_id, updated_at = excluded.updated_at",
                    )
                    .map_err(db_err)?;
                for (source, ext, account) in &links {
                    st.execute(params![source, ext, account.0, now.0]).map_err(db_err)?;
                }
                let mut st = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO pending_messages (source, user_key, id, received_at, payload, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(db_err)?;
                for p in &pending_add {
                    st.execute(params![p.source, p.user_key, p.id, p.received_at.0, p.payload, p.kind])
                        .map_err(db_err)?;
                }
                let mut st = tx
                    .prepare_cached("DELETE FROM pending_messages WHERE source = ?1 AND user_key = ?2 AND id = ?3")
                    .map_err(db_err)?;
                for (source, user, id) in &pending_remove {
                    st.execute(params![source, user, id]).map_err(db_err)?;
                }
                if let Some((source, seen)) = &crm_seen {
                    tx.execute("DELETE FROM crm_contacts_seen WHERE source = ?1", [source])
                        .map_err(db_err)?;
                    let mut st = tx
                        .prepare_cached("INSERT OR REPLACE INTO crm_contacts_seen (source, contact_id, account_id, seen_at) VALUES (?1, ?2, ?3, ?4)")
                        .map_err(db_err)?;
                    for (contact, account) in seen {
                        st.execute(params![source, contact, account.0, now.0]).map_err(db_err)?;
                    }
                }
            }
            // Exact distinct users: each user is recorded once per account, series and day; the users new to a
            // day are added to the count the series already holds for it.
            if !distinct.is_empty() {
                let mut ins = tx
                    .prepare_cached("INSERT OR IGNORE INTO distinct_users (series_key, day, user_hash) VALUES (?1, ?2, ?3)")
                    .map_err(db_err)?;
                let keyed = distinct::keyed(&distinct);
                let mut fresh = Vec::with_capacity(keyed.len());
                for &(key, day, user, _) in &keyed {
                    fresh.push(ins.execute(params![key, day.0, user]).map_err(db_err)? == 1);
                }
                let added = distinct::new_per_day(&keyed, |n| fresh[n]);
                let mut get = tx
                    .prepare_cached("SELECT packed FROM series WHERE account_id = ?1")
                    .map_err(db_err)?;
                distinct::add_counts(&distinct, &added, &mut batch.series, |account| {
                    let blob: Option<Vec<u8>> = get
                        .query_row([account.as_str()], |r| r.get(0))
                        .optional()
                        .map_err(db_err)?;
                    blob.map(|b| distinct::decode_series(account, &b)).transpose()
                })?;
            }
            if let Some(g) = &applied {
                let done: i64 = tx
                    .prepare_cached("SELECT seq FROM inbox_applied WHERE source = ?1")
                    .map_err(db_err)?
                    .query_row([&g.source], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?
                    .unwrap_or(0);
                if let Some((job, holder)) = &g.lease {
                    let held = tx
                        .prepare_cached(
                            "SELECT 1 FROM job_runs WHERE name = ?1 AND slot = 0 AND holder = ?2 AND state = 'running'",
                        )
                        .map_err(db_err)?
                        .exists(params![job, holder])
                        .map_err(db_err)?;
                    if !held {
                        return Err(StoreError::Conflict(format!(
                            "{holder} no longer holds the {job} lease; another process applies the inbox"
                        )));
                    }
                }
                if done >= g.first || waiting_before > done || between != g.groups as i64 {
                    return Err(StoreError::Conflict(format!(
                        "inbox groups {}..={} of {} are not the next to apply (applied through {done})",
                        g.first, g.last, g.source
                    )));
                }
                tx.prepare_cached(
                    "INSERT INTO inbox_applied (source, seq) VALUES (?1, ?2) \
                     ON CONFLICT (source) DO UPDATE SET seq = excluded.seq",
                )
                .map_err(db_err)?
                .execute(params![g.source, g.last])
                .map_err(db_err)?;
            }
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO reassess_due (account_id, marked_at) VALUES (?1, ?2) \
                         ON CONFLICT (account_id) DO UPDATE SET marked_at = max(marked_at, excluded.marked_at), mark = mark + 1",
                    )
                    .map_err(db_err)?;
                let at = Timestamp::now().0;
                for a in &touched {
                    st.execute(params![a.as_str(), at]).map_err(db_err)?;
                }
            }
            if batch.is_empty() && batch.chunks.is_empty() && batch.records == 0 {
                return Ok(WriteSummary::default());
            }
            write_batch(tx, &batch)
        })
        .await?;
        if let Some(g) = applied {
            // Applied groups are skipped by their number from here on; removing them only frees space.
            self.inbox_prune(&g.source, g.last).await?;
        }
        Ok(summary)
    }
}
