//! The PostgreSQL side of [`LiveStore`]: API keys, received message ids, the tracking inbox, identity links,
//! pending messages, CRM lists and exact distinct-user counts.

use crate::pool::db_err;
use crate::writes::{lock_accounts, stored_series, write_batch};
use crate::PgStore;
use bellwether_core::{AccountId, Timestamp};
use bellwether_store::codec::{distinct, inbox};
use bellwether_store::{
    ApiKey, CrmUser, InboxEntry, InboxMessage, JobRun, JobState, KeyScope, LiveBatch, LiveStore,
    PendingMessage, Result, StoreError, WriteSummary,
};
use rustc_hash::{FxHashMap, FxHashSet};

/// The advisory lock that orders inbox groups: a group's number is taken and committed under it, so groups
/// become visible in number order and the applier's cursor never passes a group still being written.
const INBOX_LOCK: i64 = 0x696e_626f_785f_7365; // "inbox_se"

fn key_row(r: &tokio_postgres::Row) -> ApiKey {
    ApiKey {
        id: r.get(0),
        hash: r.get(1),
        scope: KeyScope::parse(r.get(2)).unwrap_or(KeyScope::Read),
        name: r.get(3),
        created_at: Timestamp(r.get(4)),
        revoked_at: r.get::<_, Option<i64>>(5).map(Timestamp),
    }
}

const KEY_SELECT: &str = "SELECT id, hash, scope, name, created_at, revoked_at FROM api_keys";

const JOB_COLUMNS: &str =
    "name, slot, holder, state, started_at, lease_until, finished_at, attempts, outcome";

fn job_row(r: &tokio_postgres::Row) -> JobRun {
    JobRun {
        name: r.get(0),
        slot: Timestamp(r.get(1)),
        holder: r.get(2),
        state: JobState::parse(r.get(3)).unwrap_or(JobState::Failed),
        started_at: Timestamp(r.get(4)),
        lease_until: Timestamp(r.get(5)),
        finished_at: r.get::<_, Option<i64>>(6).map(Timestamp),
        attempts: r.get(7),
        outcome: r.get(8),
    }
}

impl PgStore {
    async fn account_map(&self, sql: &str, source: &str) -> Result<FxHashMap<String, AccountId>> {
        let c = self.conn().await?;
        let rows = c.query(sql, &[&source]).await.map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), AccountId(r.get(1))))
            .collect())
    }
}

#[async_trait::async_trait]
impl LiveStore for PgStore {
    async fn create_key(&self, k: &ApiKey) -> Result<()> {
        let c = self.conn().await?;
        c.execute(
            "INSERT INTO api_keys (id, hash, scope, name, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL)",
            &[&k.id, &k.hash, &k.scope.name(), &k.name, &k.created_at.0],
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("{KEY_SELECT} ORDER BY created_at DESC, id COLLATE \"C\""),
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(key_row).collect())
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(&format!("{KEY_SELECT} WHERE hash = $1"), &[&hash])
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(key_row))
    }

    async fn revoke_key(&self, id: &str, at: Timestamp) -> Result<bool> {
        let c = self.conn().await?;
        let n = c
            .execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                &[&id, &at.0],
            )
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn accept(
        &self,
        source: &str,
        received_at: Timestamp,
        messages: Vec<InboxMessage>,
    ) -> Result<(Vec<bool>, Option<i64>)> {
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INBOX_LOCK])
            .await
            .map_err(db_err)?;
        let new: FxHashSet<String> = tx
            .query(
                "INSERT INTO inbox_received (source, id, received_at) SELECT $1, unnest($2::text[]), $3 \
                 ON CONFLICT DO NOTHING RETURNING id",
                &[&source, &ids, &received_at.0],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // A second copy in the same call is not new: only the first copy of each new id is.
        let mut taken = FxHashSet::default();
        let fresh: Vec<bool> = messages
            .iter()
            .map(|m| new.contains(&m.id) && taken.insert(m.id.as_str()))
            .collect();
        let n = fresh.iter().filter(|f| **f).count();
        let mut seq = None;
        if n > 0 {
            let body = inbox::encode(
                messages
                    .iter()
                    .zip(&fresh)
                    .filter(|(_, f)| **f)
                    .map(|(m, _)| m),
            );
            seq = Some(
                tx.query_one(
                    "INSERT INTO inbox (source, received_at, messages, body) VALUES ($1, $2, $3, $4) RETURNING seq",
                    &[&source, &received_at.0, &(n as i64), &body],
                )
                .await
                .map_err(db_err)?
                .get(0),
            );
        }
        tx.commit().await.map_err(db_err)?;
        Ok((fresh, seq))
    }

    async fn inbox(&self, source: &str, max_messages: usize) -> Result<Vec<InboxEntry>> {
        let c = self.conn().await?;
        let max = max_messages.max(1) as i64;
        // Whole groups, oldest first, until `max` messages (the first group always).
        let rows = c
            .query(
                "SELECT seq, received_at, body FROM ( \
                   SELECT seq, received_at, messages, body, sum(messages) OVER (ORDER BY seq) AS total FROM ( \
                     SELECT * FROM inbox WHERE source = $1 \
                     AND seq > coalesce((SELECT seq FROM inbox_applied WHERE source = $1), 0) ORDER BY seq LIMIT $2) g \
                 ) w WHERE total <= $2 OR total = messages ORDER BY seq",
                &[&source, &max],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                Ok(InboxEntry {
                    seq,
                    received_at: Timestamp(r.get(1)),
                    messages: inbox::decode(seq, r.get(2))?,
                })
            })
            .collect()
    }

    async fn inbox_count(&self) -> Result<u64> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                "SELECT coalesce(sum(i.messages), 0)::bigint FROM inbox i LEFT JOIN inbox_applied a ON a.source = i.source \
                 WHERE i.seq > coalesce(a.seq, 0)",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    async fn known_messages(&self, source: &str, ids: &[String]) -> Result<FxHashSet<String>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT id FROM received_messages WHERE source = $1 AND id = ANY($2)",
                &[&source, &ids],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn links(&self, source: &str) -> Result<FxHashMap<String, AccountId>> {
        self.account_map(
            "SELECT external_id, account_id FROM identity_links WHERE source = $1",
            source,
        )
        .await
    }

    async fn pending(&self, source: &str, users: &[String]) -> Result<Vec<PendingMessage>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT user_key, id, received_at, payload, kind FROM pending_messages WHERE source = $1 AND user_key = ANY($2) \
                 ORDER BY received_at, id COLLATE \"C\"",
                &[&source, &users],
            )
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| PendingMessage {
                source: source.to_string(),
                user_key: r.get(0),
                id: r.get(1),
                received_at: Timestamp(r.get(2)),
                payload: r.get(3),
                kind: r.get::<_, i16>(4) as u8,
            })
            .collect())
    }

    async fn pending_count(&self) -> Result<u64> {
        let c = self.conn().await?;
        let r = c
            .query_one("SELECT count(*) FROM pending_messages", &[])
            .await
            .map_err(db_err)?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    async fn crm_seen(&self, source: &str) -> Result<FxHashMap<String, AccountId>> {
        self.account_map(
            "SELECT contact_id, account_id FROM crm_contacts_seen WHERE source = $1",
            source,
        )
        .await
    }

    async fn crm_users(&self, source: &str) -> Result<Vec<CrmUser>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT user_id, name, email FROM crm_users WHERE source = $1 ORDER BY seq",
                &[&source],
            )
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| CrmUser {
                id: r.get(0),
                name: r.get(1),
                email: r.get(2),
            })
            .collect())
    }

    async fn replace_crm_users(&self, source: &str, users: Vec<CrmUser>) -> Result<()> {
        let seq: Vec<i64> = (0..users.len() as i64).collect();
        let id: Vec<Option<&str>> = users.iter().map(|u| u.id.as_deref()).collect();
        let name: Vec<Option<&str>> = users.iter().map(|u| u.name.as_deref()).collect();
        let email: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        tx.execute("DELETE FROM crm_users WHERE source = $1", &[&source])
            .await
            .map_err(db_err)?;
        tx.execute(
            "INSERT INTO crm_users (source, seq, user_id, name, email) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])",
            &[&source, &seq, &id, &name, &email],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn claim_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<JobRun>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                &format!(
                    "INSERT INTO job_runs ({JOB_COLUMNS}) VALUES ($1, $2, $3, 'running', $4, $5, NULL, 1, '') \
                     ON CONFLICT (name, slot) DO UPDATE SET holder = excluded.holder, started_at = excluded.started_at, \
                     lease_until = excluded.lease_until, attempts = job_runs.attempts + 1 \
                     WHERE job_runs.state = 'running' AND job_runs.lease_until < excluded.started_at RETURNING {JOB_COLUMNS}"
                ),
                &[&name, &slot.0, &holder, &now.0, &lease_until.0],
            )
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(job_row))
    }

    async fn renew_job(
        &self,
        name: &str,
        slot: Timestamp,
        holder: &str,
        lease_until: Timestamp,
    ) -> Result<bool> {
        let c = self.conn().await?;
        let n = c
            .execute(
                "UPDATE job_runs SET lease_until = $4 WHERE name = $1 AND slot = $2 AND holder = $3 AND state = 'running'",
                &[&name, &slot.0, &holder, &lease_until.0],
            )
            .await
            .map_err(db_err)?;
        Ok(n > 0)
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
        let state = if succeeded {
            JobState::Succeeded
        } else {
            JobState::Failed
        };
        let c = self.conn().await?;
        let n = c
            .execute(
                "UPDATE job_runs SET state = $4, finished_at = $5, outcome = $6 \
                 WHERE name = $1 AND slot = $2 AND holder = $3 AND state = 'running'",
                &[&name, &slot.0, &holder, &state.as_str(), &now.0, &outcome],
            )
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn job_runs(&self, name: Option<&str>, limit: usize) -> Result<Vec<JobRun>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM job_runs WHERE $1::text IS NULL OR name = $1 ORDER BY slot DESC, name COLLATE \"C\" LIMIT $2"
                ),
                &[&name, &(limit as i64)],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(job_row).collect())
    }

    async fn due_accounts(&self, before: Timestamp, limit: usize) -> Result<Vec<AccountId>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT account_id FROM reassess_due WHERE marked_at < $1 ORDER BY account_id COLLATE \"C\" LIMIT $2",
                &[&before.0, &(limit as i64)],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| AccountId(r.get(0))).collect())
    }

    async fn due_marks(&self, accounts: &[AccountId]) -> Result<Vec<(AccountId, i64)>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = accounts.iter().map(|a| a.as_str()).collect();
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT account_id, mark FROM reassess_due WHERE account_id = ANY($1)",
                &[&ids],
            )
            .await
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| (AccountId(r.get(0)), r.get(1)))
            .collect())
    }

    async fn clear_due(&self, marks: &[(AccountId, i64)]) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<(&str, i64)> = marks.iter().map(|(a, m)| (a.as_str(), *m)).collect();
        sorted.sort_unstable();
        let ids: Vec<&str> = sorted.iter().map(|m| m.0).collect();
        let values: Vec<i64> = sorted.iter().map(|m| m.1).collect();
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        // Rows locked in the order live writes lock them (by the ids' bytes), so the two never deadlock.
        tx.execute(
            "SELECT 1 FROM reassess_due WHERE account_id = ANY($1) ORDER BY account_id COLLATE \"C\" FOR UPDATE",
            &[&ids],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "DELETE FROM reassess_due d USING unnest($1::text[], $2::bigint[]) AS m(account_id, mark) \
             WHERE d.account_id = m.account_id AND d.mark = m.mark",
            &[&ids, &values],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn write_live(&self, live: LiveBatch) -> Result<WriteSummary> {
        let touched = live.touched();
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
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        // Every account whose series this batch changes is locked first, in key order, so the distinct counts
        // read below stay exact while the batch is written.
        {
            let mut ids: Vec<&str> = batch.series.keys().map(|a| a.as_str()).collect();
            ids.extend(distinct.series.iter().map(|(a, _)| a.as_str()));
            lock_accounts(&tx, ids.into_iter()).await?;
        }
        if !messages.is_empty() {
            let src: Vec<&str> = messages.iter().map(|m| m.0.as_str()).collect();
            let ids: Vec<&str> = messages.iter().map(|m| m.1.as_str()).collect();
            tx.execute(
                "INSERT INTO received_messages (source, id, received_at) SELECT *, $3 FROM unnest($1::text[], $2::text[])",
                &[&src, &ids, &now.0],
            )
            .await
            .map_err(|e| match db_err(e) {
                StoreError::Conflict(m) => StoreError::Conflict(format!("a message was stored by another writer: {m}")),
                other => other,
            })?;
        }
        if !links.is_empty() {
            let mut last: FxHashMap<(&str, &str), &str> = FxHashMap::default();
            for (s, e, a) in &links {
                last.insert((s.as_str(), e.as_str()), a.as_str());
            }
            let (mut s, mut e, mut a) = (vec![], vec![], vec![]);
            for ((src, ext), acc) in last {
                s.push(src);
                e.push(ext);
                a.push(acc);
            }
            tx.execute(
                "INSERT INTO identity_links (source, external_id, account_id, updated_at) SELECT *, $4 FROM unnest($1::text[], $2::text[], $3::text[]) \
                 ON CONFLICT (source, external_id) DO UPDATE SET account_id = excluded.account_id, updated_at = excluded.updated_at",
                &[&s, &e, &a, &now.0],
            )
            .await
            .map_err(db_err)?;
        }
        if !pending_add.is_empty() {
            let s: Vec<&str> = pending_add.iter().map(|p| p.source.as_str()).collect();
            let u: Vec<&str> = pending_add.iter().map(|p| p.user_key.as_str()).collect();
            let i: Vec<&str> = pending_add.iter().map(|p| p.id.as_str()).collect();
            let t: Vec<i64> = pending_add.iter().map(|p| p.received_at.0).collect();
            let p: Vec<&str> = pending_add.iter().map(|p| p.payload.as_str()).collect();
            let k: Vec<i16> = pending_add.iter().map(|p| p.kind as i16).collect();
            tx.execute(
                "INSERT INTO pending_messages (source, user_key, id, received_at, payload, kind) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int2[]) ON CONFLICT DO NOTHING",
                &[&s, &u, &i, &t, &p, &k],
            )
            .await
            .map_err(db_err)?;
        }
        if !pending_remove.is_empty() {
            let s: Vec<&str> = pending_remove.iter().map(|p| p.0.as_str()).collect();
            let u: Vec<&str> = pending_remove.iter().map(|p| p.1.as_str()).collect();
            let i: Vec<&str> = pending_remove.iter().map(|p| p.2.as_str()).collect();
            tx.execute(
                "DELETE FROM pending_messages p USING unnest($1::text[], $2::text[], $3::text[]) AS n (source, user_key, id) \
                 WHERE p.source = n.source AND p.user_key = n.user_key AND p.id = n.id",
                &[&s, &u, &i],
            )
            .await
            .map_err(db_err)?;
        }
        if let Some((source, seen)) = &crm_seen {
            tx.execute("DELETE FROM crm_contacts_seen WHERE source = $1", &[source])
                .await
                .map_err(db_err)?;
            let mut last: FxHashMap<&str, &str> = FxHashMap::default();
            for (contact, account) in seen {
                last.insert(contact.as_str(), account.as_str());
            }
            let (contacts, accounts): (Vec<&str>, Vec<&str>) = last.into_iter().unzip();
            tx.execute(
                "INSERT INTO crm_contacts_seen (account_id, source, contact_id, seen_at) SELECT a, $1, c, $4 FROM unnest($2::text[], $3::text[]) AS n (c, a)",
                &[source, &contacts, &accounts, &now.0],
            )
            .await
            .map_err(db_err)?;
        }
        if !distinct.is_empty() {
            let keyed = distinct::keyed(&distinct);
            let accounts: Vec<&str> = keyed
                .iter()
                .map(|k| distinct.series[k.3 as usize].0.as_str())
                .collect();
            let keys: Vec<i64> = keyed.iter().map(|k| k.0).collect();
            let days: Vec<i32> = keyed.iter().map(|k| k.1 .0).collect();
            let users: Vec<i64> = keyed.iter().map(|k| k.2).collect();
            let new: FxHashSet<(i64, i32, i64)> = tx
                .query(
                    "INSERT INTO distinct_users (account_id, series_key, day, user_hash) \
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::int4[], $4::bigint[]) ON CONFLICT DO NOTHING \
                     RETURNING series_key, day, user_hash",
                    &[&accounts, &keys, &days, &users],
                )
                .await
                .map_err(db_err)?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let added =
                distinct::new_per_day(&keyed, |n| new.contains(&(keys[n], days[n], users[n])));
            let mut touched: Vec<&str> = added
                .iter()
                .map(|a| distinct.series[a.0 as usize].0.as_str())
                .collect();
            touched.sort_unstable();
            touched.dedup();
            let mut stored = stored_series(&tx, &touched).await?;
            distinct::add_counts(&distinct, &added, &mut batch.series, |account| {
                Ok(stored.remove(account.as_str()))
            })?;
        }
        if let Some(g) = &applied {
            // The applier must still hold its lease; the shared row lock makes a process taking the lease over
            // wait until this batch has committed, so it reads what this one wrote.
            if let Some((job, holder)) = &g.lease {
                let held = tx
                    .query_opt(
                        "SELECT 1 FROM job_runs WHERE name = $1 AND slot = 0 AND holder = $2 AND state = 'running' FOR SHARE",
                        &[job, holder],
                    )
                    .await
                    .map_err(db_err)?;
                if held.is_none() {
                    return Err(StoreError::Conflict(format!(
                        "{holder} no longer holds the {job} lease; another process applies the inbox"
                    )));
                }
            }
            // Only the applier whose groups are the next ones waiting may record them: the row lock orders
            // two appliers, and the one that comes second finds its groups applied and writes nothing.
            tx.execute(
                "INSERT INTO inbox_applied (source, seq) VALUES ($1, 0) ON CONFLICT (source) DO NOTHING",
                &[&g.source],
            )
            .await
            .map_err(db_err)?;
            let row = tx
                .query_one(
                    "SELECT a.seq, (SELECT min(i.seq) FROM inbox i WHERE i.source = a.source AND i.seq > a.seq), \
                     (SELECT count(*) FROM inbox i WHERE i.source = a.source AND i.seq BETWEEN $2 AND $3) \
                     FROM inbox_applied a WHERE a.source = $1 FOR UPDATE",
                    &[&g.source, &g.first, &g.last],
                )
                .await
                .map_err(db_err)?;
            let (done, next, between): (i64, Option<i64>, i64) =
                (row.get(0), row.get(1), row.get(2));
            if done >= g.first || next != Some(g.first) || between != g.groups as i64 {
                return Err(StoreError::Conflict(format!(
                    "inbox groups {}..={} of {} are not the next to apply (applied through {done}; {between} groups wait there, \
                     the batch holds {}); another applier took them",
                    g.first, g.last, g.source, g.groups
                )));
            }
            tx.execute(
                "UPDATE inbox_applied SET seq = $2 WHERE source = $1",
                &[&g.source, &g.last],
            )
            .await
            .map_err(db_err)?;
            // Applied groups are skipped by their number from here on; removing them only frees space.
            tx.execute(
                "DELETE FROM inbox WHERE source = $1 AND seq <= $2",
                &[&g.source, &g.last],
            )
            .await
            .map_err(db_err)?;
        }
        if !touched.is_empty() {
            let ids: Vec<&str> = touched.iter().map(|a| a.as_str()).collect();
            tx.execute(
                "INSERT INTO reassess_due (account_id, marked_at) SELECT unnest($1::text[]), $2 \
                 ON CONFLICT (account_id) DO UPDATE SET marked_at = greatest(reassess_due.marked_at, excluded.marked_at), \
                 mark = reassess_due.mark + 1",
                &[&ids, &Timestamp::now().0],
            )
            .await
            .map_err(db_err)?;
        }
        let summary = if batch.is_empty() && batch.chunks.is_empty() && batch.records == 0 {
            WriteSummary::default()
        } else {
            write_batch(&tx, &batch).await?
        };
        tx.commit().await.map_err(db_err)?;
        Ok(summary)
    }
}
