//! The outbox on PostgreSQL (migration `0005_outbox.sql`): entries queued inside the caller's transaction,
//! claimed with `FOR UPDATE SKIP LOCKED` so that workers on several replicas never take the same entry at
//! once, and finished only by the worker that holds them.

use crate::pool::db_err;
use crate::PgStore;
use bellwether_core::{AccountId, Timestamp};
use bellwether_store::{
    Delivery, OutboxCounts, OutboxEntry, OutboxItem, OutboxState, Result, StoreError,
};

const COLUMNS: &str =
    "id, channel, destination, account_id, kind, payload, created_at, state, attempts, \
                       next_attempt_at, last_error, delivered_at, reference";

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
    tx.execute(
        "INSERT INTO outbox (id, channel, destination, account_id, kind, payload, created_at, next_attempt_at) \
         SELECT i, c, d, a, k, p, t, t FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::int8[]) AS u(i, c, d, a, k, p, t) ON CONFLICT (id) DO NOTHING",
        &[&ids, &channels, &dest, &accounts, &kinds, &payloads, &created],
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

impl PgStore {
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
        }
        .map_err(db_err)?;
        Ok(n > 0)
    }

    pub(crate) async fn outbox_list(
        &self,
        state: Option<OutboxState>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM outbox WHERE $1::text IS NULL OR state = $1 \
                     ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $2"
                ),
                &[&state.map(|s| s.as_str()), &(limit as i64)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(entry).collect()
    }

    pub(crate) async fn outbox_counts_by_state(&self) -> Result<OutboxCounts> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'delivered'), \
                 count(*) FILTER (WHERE state = 'parked'), min(created_at) FILTER (WHERE state = 'pending') FROM outbox",
                &[],
            )
            .await
            .map_err(db_err)?;
        Ok(OutboxCounts {
            pending: r.get::<_, i64>(0) as u64,
            delivered: r.get::<_, i64>(1) as u64,
            parked: r.get::<_, i64>(2) as u64,
            oldest_pending: r.get::<_, Option<i64>>(3).map(Timestamp),
        })
    }
}
