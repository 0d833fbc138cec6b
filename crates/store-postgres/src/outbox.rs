//! The outbox on PostgreSQL (migrations `0005_outbox.sql`, `0007_people.sql`, `0008_alert_counts.sql`): entries
//! queued inside the caller's transaction, claimed with `FOR UPDATE SKIP LOCKED` so that workers on several
//! replicas never take the same entry at once, and finished only by the worker that holds them; a person's
//! alerts are counted against their daily cap under an advisory lock of that person.

use crate::pool::db_err;
use crate::PgStore;
use bellwether_core::{AccountId, Timestamp};
use bellwether_store::{
    CapCheck, Delivery, OutboxCounts, OutboxEntry, OutboxFilter, OutboxItem, OutboxState, Result,
    StoreError,
};
use tokio_postgres::types::ToSql;

const COLUMNS: &str =
    "id, channel, destination, account_id, kind, payload, created_at, state, attempts, \
                       next_attempt_at, last_error, delivered_at, reference, recipient";

/// Queues `items` in `tx` (the transaction that decided them); an id already queued is left as it is.
pub(crate) async fn enqueue(
    tx: &tokio_postgres::Transaction<'_>,
    items: &[OutboxItem],
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&OutboxItem) -> &str| items.iter().map(f).collect::<Vec<&str>>();
    let (ids, channels, dest, kinds, payloads) = (
        col(|i| i.id.as_str()),
        col(|i| i.channel.as_str()),
        col(|i| i.destination.as_str()),
        col(|i| i.kind.as_str()),
        col(|i| i.payload.as_str()),
    );
    let accounts: Vec<Option<&str>> = items
        .iter()
        .map(|i| i.account_id.as_ref().map(|a| a.as_str()))
        .collect();
    let created: Vec<i64> = items.iter().map(|i| i.created_at.0).collect();
    let recipients: Vec<Option<String>> = items
        .iter()
        .map(|i| i.recipient.as_deref().map(bellwether_core::people::key))
        .collect();
    tx.execute(
        "INSERT INTO outbox (id, channel, destination, account_id, kind, payload, created_at, next_attempt_at, recipient) \
         SELECT i, c, d, a, k, p, t, t, r FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::int8[], $8::text[]) AS u(i, c, d, a, k, p, t, r) ON CONFLICT (id) DO NOTHING",
        &[&ids, &channels, &dest, &accounts, &kinds, &payloads, &created, &recipients],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

fn entry(r: &tokio_postgres::Row) -> Result<OutboxEntry> {
    let state: String = r.get(7);
    Ok(OutboxEntry {
        item: OutboxItem {
            id: r.get(0),
            channel: r.get(1),
            destination: r.get(2),
            account_id: r.get::<_, Option<String>>(3).map(AccountId),
            kind: r.get(4),
            payload: r.get(5),
            created_at: Timestamp(r.get(6)),
            recipient: r.get(13),
        },
        state: OutboxState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox: unknown state {state}")))?,
        attempts: r.get(8),
        next_attempt_at: Timestamp(r.get(9)),
        last_error: r.get(10),
        delivered_at: r.get::<_, Option<i64>>(11).map(Timestamp),
        reference: r.get(12),
    })
}

/// How long a counted alert is kept before the start of the day it is counted against: an alert counted
/// within it is not counted again (another channel's copy, a retry after midnight).
const COUNTS_KEPT_MS: i64 = 7 * 86_400_000;

/// The advisory lock that serialises the counting of one person's alerts (a hash of their email).
fn recipient_lock(recipient: &str) -> i64 {
    crate::writes::xxhash(b"alert_count\0", recipient.as_bytes())
}

impl PgStore {
    pub(crate) async fn alert_count(
        &self,
        recipient: &str,
        alert: &str,
        since: Timestamp,
        cap: u32,
        now: Timestamp,
    ) -> Result<CapCheck> {
        let recipient = bellwether_core::people::key(recipient);
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db_err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&recipient_lock(&recipient)],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "DELETE FROM alert_counts WHERE recipient = $1 AND counted_at < $2",
            &[&recipient, &(since.0 - COUNTS_KEPT_MS)],
        )
        .await
        .map_err(db_err)?;
        let row = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM alert_counts WHERE recipient = $1 AND alert = $2), \
                 (SELECT count(*) FROM alert_counts WHERE recipient = $1 AND counted_at >= $3)",
                &[&recipient, &alert, &since.0],
            )
            .await
            .map_err(db_err)?;
        let (had, n): (bool, i64) = (row.get(0), row.get(1));
        let check = if had {
            CapCheck::AlreadyCounted
        } else if n >= cap as i64 {
            CapCheck::Full(n as u32)
        } else {
            tx.execute(
                "INSERT INTO alert_counts (recipient, alert, counted_at) VALUES ($1, $2, $3)",
                &[&recipient, &alert, &now.0],
            )
            .await
            .map_err(db_err)?;
            CapCheck::Counted(n as u32 + 1)
        };
        tx.commit().await.map_err(db_err)?;
        Ok(check)
    }

    pub(crate) async fn outbox_claim(
        &self,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "UPDATE outbox o SET holder = $1, lease_until = $3, attempts = o.attempts + 1 \
                     FROM (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $2 \
                           AND (holder IS NULL OR lease_until < $2) \
                           ORDER BY next_attempt_at, id COLLATE \"C\" LIMIT $4 FOR UPDATE SKIP LOCKED) due \
                     WHERE o.id = due.id RETURNING {}",
                    COLUMNS
                        .split(", ")
                        .map(|c| format!("o.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[&holder, &now.0, &lease_until.0, &(limit as i64)],
            )
            .await
            .map_err(db_err)?;
        let mut out: Vec<OutboxEntry> = rows.iter().map(entry).collect::<Result<_>>()?;
        out.sort_by(|a, b| (a.next_attempt_at, &a.item.id).cmp(&(b.next_attempt_at, &b.item.id)));
        Ok(out)
    }

    pub(crate) async fn outbox_finish(
        &self,
        id: &str,
        holder: &str,
        now: Timestamp,
        delivery: &Delivery,
    ) -> Result<bool> {
        let c = self.conn().await?;
        let held = "id = $1 AND holder = $2 AND state = 'pending'";
        let n = match delivery {
            Delivery::Delivered { reference } => c
                .execute(
                    &format!(
                        "UPDATE outbox SET state = 'delivered', delivered_at = $3, reference = $4, holder = NULL, \
                         lease_until = NULL, last_error = '' WHERE {held}"
                    ),
                    &[&id, &holder, &now.0, reference],
                )
                .await,
            Delivery::Retry { at, error } => c
                .execute(
                    &format!(
                        "UPDATE outbox SET next_attempt_at = $3, last_error = $4, holder = NULL, lease_until = NULL \
                         WHERE {held}"
                    ),
                    &[&id, &holder, &at.0, error],
                )
                .await,
            Delivery::Parked { error } => c
                .execute(
                    &format!(
                        "UPDATE outbox SET state = 'parked', last_error = $3, holder = NULL, lease_until = NULL \
                         WHERE {held}"
                    ),
                    &[&id, &holder, error],
                )
                .await,
            Delivery::Folded { reason } => c
                .execute(
                    &format!(
                        "UPDATE outbox SET state = 'folded', delivered_at = $3, last_error = $4, holder = NULL, \
                         lease_until = NULL WHERE {held}"
                    ),
                    &[&id, &holder, &now.0, reason],
                )
                .await,
        }
        .map_err(db_err)?;
        Ok(n > 0)
    }

    pub(crate) async fn outbox_list(
        &self,
        filter: &OutboxFilter,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        // Only the conditions given, so each read uses its index (the recipient's for a person's day).
        let state = filter.state.map(|s| s.as_str());
        let recipient = filter
            .recipient
            .as_deref()
            .map(bellwether_core::people::key);
        let since = filter.finished_since.map(|t| t.0);
        let limit = limit.min(i64::MAX as usize) as i64;
        let mut conds = Vec::new();
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let given: [(&str, Option<&(dyn ToSql + Sync)>); 6] = [
            ("state =", state.as_ref().map(|v| v as _)),
            ("recipient =", recipient.as_ref().map(|v| v as _)),
            ("kind =", filter.kind.as_ref().map(|v| v as _)),
            ("id =", filter.id.as_ref().map(|v| v as _)),
            ("id = ANY", filter.ids.as_ref().map(|v| v as _)),
            ("delivered_at >=", since.as_ref().map(|v| v as _)),
        ];
        for (cond, v) in given {
            if let Some(v) = v {
                args.push(v);
                conds.push(if cond.ends_with("ANY") {
                    format!("{cond}(${})", args.len())
                } else {
                    format!("{cond} ${}", args.len())
                });
            }
        }
        args.push(&limit);
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox {} ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT ${}",
            if conds.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conds.join(" AND "))
            },
            args.len()
        );
        let c = self.conn().await?;
        let rows = c.query(&sql, &args).await.map_err(db_err)?;
        rows.iter().map(entry).collect()
    }

    pub(crate) async fn outbox_counts_by_state(&self) -> Result<OutboxCounts> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'delivered'), \
                 count(*) FILTER (WHERE state = 'parked'), min(created_at) FILTER (WHERE state = 'pending'), \
                 count(*) FILTER (WHERE state = 'folded') FROM outbox",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(OutboxCounts {
            pending: r.get::<_, i64>(0) as u64,
            delivered: r.get::<_, i64>(1) as u64,
            parked: r.get::<_, i64>(2) as u64,
            folded: r.get::<_, i64>(4) as u64,
            oldest_pending: r.get::<_, Option<i64>>(3).map(Timestamp),
        })
    }
}
