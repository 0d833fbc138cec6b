//! The outbox on the embedded store (migrations `0015_outbox.sql`, `0017_people.sql`, `0018_alert_counts.sql`):
//! entries queued inside the caller's transaction; claims, outcomes and a person's daily alert count are short
//! write transactions, so one writer at a time takes an entry or counts an alert.

use crate::{db_err, SqliteStore};
use bellwether_core::{AccountId, Timestamp};
use bellwether_store::{
    CapCheck, Delivery, OutboxCounts, OutboxEntry, OutboxFilter, OutboxItem, OutboxState, Result,
    StoreError,
};
use rusqlite::{params, params_from_iter, Row, Transaction};

const COLUMNS: &str =
    "id, channel, destination, account_id, kind, payload, created_at, state, attempts, \
                       next_attempt_at, last_error, delivered_at, reference, recipient";

/// How long a counted alert is kept before the start of the day it is counted against: an alert counted
/// within it is not counted again (another channel's copy, a retry after midnight).
const COUNTS_KEPT_MS: i64 = 7 * 86_400_000;

/// Queues `items` in `tx` (the transaction that decided them); an id already queued is left as it is.
pub(crate) fn enqueue(tx: &Transaction<'_>, items: &[OutboxItem]) -> Result<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO outbox (id, channel, destination, account_id, kind, payload, created_at, next_attempt_at, recipient) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        )
        .map_err(db_err)?;
    for i in items {
        st.execute(params![
            i.id,
            i.channel,
            i.destination,
            i.account_id.as_ref().map(|a| a.as_str()),
            i.kind,
            i.payload,
            i.created_at.0,
            i.recipient.as_deref().map(bellwether_core::people::key)
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

fn entry(r: &Row<'_>) -> rusqlite::Result<(OutboxEntry, String)> {
    let state: String = r.get(7)?;
    Ok((
        OutboxEntry {
            item: OutboxItem {
                id: r.get(0)?,
                channel: r.get(1)?,
                destination: r.get(2)?,
                account_id: r.get::<_, Option<String>>(3)?.map(AccountId),
                kind: r.get(4)?,
                payload: r.get(5)?,
                created_at: Timestamp(r.get(6)?),
                recipient: r.get(13)?,
            },
            state: OutboxState::Pending,
            attempts: r.get(8)?,
            next_attempt_at: Timestamp(r.get(9)?),
            last_error: r.get(10)?,
            delivered_at: r.get::<_, Option<i64>>(11)?.map(Timestamp),
            reference: r.get(12)?,
        },
        state,
    ))
}

/// The entry with its stored state read.
fn with_state((mut e, state): (OutboxEntry, String)) -> Result<OutboxEntry> {
    e.state = OutboxState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("outbox: unknown state {state}")))?;
    Ok(e)
}

impl SqliteStore {
    pub(crate) async fn alert_count(
        &self,
        recipient: &str,
        alert: &str,
        since: Timestamp,
        cap: u32,
        now: Timestamp,
    ) -> Result<CapCheck> {
        let (recipient, alert) = (bellwether_core::people::key(recipient), alert.to_string());
        self.write_tx(move |tx| {
            tx.execute(
                "DELETE FROM alert_counts WHERE recipient = ?1 AND counted_at < ?2",
                params![recipient, since.0 - COUNTS_KEPT_MS],
            )
            .map_err(db_err)?;
            let had: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM alert_counts WHERE recipient = ?1 AND alert = ?2)",
                    params![recipient, alert],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if had {
                return Ok(CapCheck::AlreadyCounted);
            }
            let n: i64 = tx
                .query_row(
                    "SELECT count(*) FROM alert_counts WHERE recipient = ?1 AND counted_at >= ?2",
                    params![recipient, since.0],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if n >= cap as i64 {
                return Ok(CapCheck::Full(n as u32));
            }
            tx.execute(
                "INSERT INTO alert_counts (recipient, alert, counted_at) VALUES (?1, ?2, ?3)",
                params![recipient, alert, now.0],
            )
            .map_err(db_err)?;
            Ok(CapCheck::Counted(n as u32 + 1))
        })
        .await
    }

    pub(crate) async fn outbox_claim(
        &self,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let holder = holder.to_string();
        self.write_tx(move |tx| {
            let rows: Vec<(OutboxEntry, String)> = {
                let mut st = tx
                    .prepare_cached(&format!(
                        "UPDATE outbox SET holder = ?1, lease_until = ?3, attempts = attempts + 1 \
                         WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2 \
                                      AND (holder IS NULL OR lease_until < ?2) ORDER BY next_attempt_at, id LIMIT ?4) \
                         RETURNING {COLUMNS}"
                    ))
                    .map_err(db_err)?;
                let rows = st
                    .query_map(params![holder, now.0, lease_until.0, limit as i64], entry)
                    .map_err(db_err)?;
                rows.collect::<rusqlite::Result<_>>().map_err(db_err)?
            };
            let mut out: Vec<OutboxEntry> =
                rows.into_iter().map(with_state).collect::<Result<_>>()?;
            out.sort_by(|a, b| {
                (a.next_attempt_at, &a.item.id).cmp(&(b.next_attempt_at, &b.item.id))
            });
            Ok(out)
        })
        .await
    }

    pub(crate) async fn outbox_finish(
        &self,
        id: &str,
        holder: &str,
        now: Timestamp,
        delivery: &Delivery,
    ) -> Result<bool> {
        let (id, holder, delivery) = (id.to_string(), holder.to_string(), delivery.clone());
        self.write_tx(move |tx| {
            let held = "id = ?1 AND holder = ?2 AND state = 'pending'";
            let n = match &delivery {
                Delivery::Delivered { reference } => tx.execute(
                    &format!(
                        "UPDATE outbox SET state = 'delivered', delivered_at = ?3, reference = ?4, holder = NULL, \
                         lease_until = NULL, last_error = '' WHERE {held}"
                    ),
                    params![id, holder, now.0, reference],
                ),
                Delivery::Retry { at, error } => tx.execute(
                    &format!(
                        "UPDATE outbox SET next_attempt_at = ?3, last_error = ?4, holder = NULL, lease_until = NULL \
                         WHERE {held}"
                    ),
                    params![id, holder, at.0, error],
                ),
                Delivery::Parked { error } => tx.execute(
                    &format!(
                        "UPDATE outbox SET state = 'parked', last_error = ?3, holder = NULL, lease_until = NULL \
                         WHERE {held}"
                    ),
                    params![id, holder, error],
                ),
                Delivery::Folded { reason } => tx.execute(
                    &format!(
                        "UPDATE outbox SET state = 'folded', delivered_at = ?3, last_error = ?4, holder = NULL, \
                         lease_until = NULL WHERE {held}"
                    ),
                    params![id, holder, now.0, reason],
                ),
            }
            .map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }

    pub(crate) async fn outbox_list(
        &self,
        filter: &OutboxFilter,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        // Only the conditions given, so each read uses its index (the recipient's for a person's day).
        let mut conds = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut add = |cond: &str, v: rusqlite::types::Value| {
            args.push(v);
            conds.push(format!("{cond} ?{}", args.len()));
        };
        if let Some(s) = filter.state {
            add("state =", s.as_str().to_string().into());
        }
        if let Some(r) = &filter.recipient {
            add("recipient =", bellwether_core::people::key(r).into());
        }
        if let Some(k) = &filter.kind {
            add("kind =", k.clone().into());
        }
        if let Some(i) = &filter.id {
            add("id =", i.clone().into());
        }
        if let Some(t) = filter.finished_since {
            add("delivered_at >=", t.0.into());
        }
        if let Some(ids) = &filter.ids {
            let from = args.len() + 1;
            args.extend(ids.iter().map(|i| i.clone().into()));
            let marks: Vec<String> = (from..from + ids.len()).map(|n| format!("?{n}")).collect();
            conds.push(format!("id IN ({})", marks.join(", ")));
        }
        args.push((limit.min(i64::MAX as usize) as i64).into());
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox {} ORDER BY created_at DESC, id DESC LIMIT ?{}",
            if conds.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conds.join(" AND "))
            },
            args.len()
        );
        self.read(move |c| {
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            let rows: Vec<(OutboxEntry, String)> = st
                .query_map(params_from_iter(args), entry)
                .map_err(db_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db_err)?;
            rows.into_iter().map(with_state).collect()
        })
        .await
    }

    pub(crate) async fn outbox_counts_by_state(&self) -> Result<OutboxCounts> {
        self.read(|c| {
            c.query_row(
                "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'delivered'), 0), \
                 coalesce(sum(state = 'parked'), 0), min(CASE WHEN state = 'pending' THEN created_at END), \
                 coalesce(sum(state = 'folded'), 0) FROM outbox",
                [],
                |r| {
                    Ok(OutboxCounts {
                        pending: r.get::<_, i64>(0)? as u64,
                        delivered: r.get::<_, i64>(1)? as u64,
                        parked: r.get::<_, i64>(2)? as u64,
                        folded: r.get::<_, i64>(4)? as u64,
                        oldest_pending: r.get::<_, Option<i64>>(3)?.map(Timestamp),
                    })
                },
            )
            .map_err(db_err)
        })
        .await
    }
}
