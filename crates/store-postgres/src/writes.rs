//! Writes of imported facts: one transaction per batch, each table written with one multi-row statement
//! (`INSERT … SELECT FROM UNNEST` of column arrays), records that moved between accounts deleted from the old
//! one, series merged per account under a per-account lock, and the packed facts of every account a write
//! touched marked and rebuilt.

use crate::pool::db_err;
use bellwether_core::history::AttrFact;
use bellwether_core::series::AccountSeries;
use bellwether_core::{AccountId, Timestamp};
use bellwether_store::codec::distinct::decode_series;
use bellwether_store::{Fingerprint, Result, StoreError, WriteBatch, WriteSummary};
use rustc_hash::{FxHashMap, FxHashSet};
use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

pub(crate) type P<'a> = &'a (dyn ToSql + Sync);

pub(crate) fn hex(f: Fingerprint) -> String {
    format!("{f:032x}")
}

/// Lock stripes: accounts share this many advisory locks (by hash), so a write touching every account of a
/// large book takes at most this many locks, well inside the server's lock table (`max_locks_per_transaction`
/// × `max_connections`, 6,400 by default), while writers of different accounts rarely wait on each other.
const LOCK_STRIPES: u64 = 256;

/// The advisory lock key that serialises writers of one account's series and distinct users.
pub(crate) fn account_lock(id: &str) -> i64 {
    // The stripe, in a range of keys of its own (the migration and inbox locks are other constants).
    0x6277_0000_0000 + (xxhash(b"series\0", id.as_bytes()) as u64 % LOCK_STRIPES) as i64
}

pub(crate) fn xxhash(prefix: &[u8], s: &[u8]) -> i64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(prefix);
    h.update(s);
    h.digest() as i64
}

/// Takes the per-account locks of `ids` for the transaction, in key order (so two writers never wait on each
/// other in a cycle).
pub(crate) async fn lock_accounts<'a>(
    tx: &Transaction<'_>,
    ids: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let mut keys: Vec<i64> = ids.map(account_lock).collect();
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort_unstable();
    keys.dedup();
    tx.execute(
        "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) k ORDER BY k) s",
        &[&keys],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Marks accounts whose packed facts must be rebuilt.
pub(crate) async fn mark_dirty(tx: &Transaction<'_>, mut ids: Vec<String>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // In key order (two writers never wait on each other in a cycle), and as an update of a mark already
    // there, which locks it: a rebuild that clears the mark meanwhile waits for this write to commit, so it
    // reads what this write stored.
    ids.sort_unstable();
    ids.dedup();
    tx.execute(
        "INSERT INTO facts_dirty (account_id) SELECT unnest($1::text[]) \
         ON CONFLICT (account_id) DO UPDATE SET account_id = excluded.account_id",
        &[&ids],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Keeps the last of each key, in first-seen order of keys (a sequence of upserts leaves the last).
pub(crate) fn last_by_key<'a, T, K: std::hash::Hash + Eq + 'a>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut at: FxHashMap<K, usize> = FxHashMap::default();
    let mut out: Vec<&T> = Vec::new();
    for t in items {
        match at.get(&key(t)) {
            Some(&i) => out[i] = t,
            None => {
                at.insert(key(t), out.len());
                out.push(t);
            }
        }
    }
    out
}

/// Attribute facts as the table keeps them: per key the last value, with the receipt time of the first of
/// its last run of equal values (a fact re-sent with the same value keeps its first receipt time).
fn attrs_folded(facts: &[AttrFact]) -> Vec<AttrFact> {
    let mut at: FxHashMap<(&str, &str, i64), usize> = FxHashMap::default();
    let mut out: Vec<AttrFact> = Vec::new();
    for f in facts {
        match at.get(&(f.subject.as_str(), f.attr.as_str(), f.valid_from.0)) {
            Some(&i) => {
                if out[i].value != f.value {
                    out[i] = f.clone();
                }
            }
            None => {
                at.insert((&f.subject, &f.attr, f.valid_from.0), out.len());
                out.push(f.clone());
            }
        }
    }
    out
}

/// Attribute facts as the columns of one multi-row statement: subject, attribute, valid from, value, received.
type AttrColumns<'a> = (
    Vec<&'a str>,
    Vec<&'a str>,
    Vec<i64>,
    Vec<Option<&'a str>>,
    Vec<i64>,
);

fn attr_columns(facts: &[AttrFact]) -> AttrColumns<'_> {
    let mut c: AttrColumns = Default::default();
    for f in facts {
        c.0.push(f.subject.as_str());
        c.1.push(f.attr.as_str());
        c.2.push(f.valid_from.0);
        c.3.push(f.value.as_deref());
        c.4.push(f.received_at.0);
    }
    c
}

/// Account attribute changes; a fact re-sent with the same value keeps its first receipt time.
async fn insert_account_attrs(tx: &Transaction<'_>, facts: &[AttrFact]) -> Result<u64> {
    if facts.is_empty() {
        return Ok(0);
    }
    let facts = attrs_folded(facts);
    let (a, k, v, val, r) = attr_columns(&facts);
    tx.execute(
        "INSERT INTO account_attrs (account_id, attr, valid_from, value, received_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
         ON CONFLICT (account_id, attr, valid_from) DO UPDATE SET value = excluded.value, received_at = excluded.received_at \
         WHERE account_attrs.value IS DISTINCT FROM excluded.value",
        &[&a, &k, &v, &val, &r],
    )
    .await
    .map_err(db_err)
}

/// Contact attribute changes, each under its contact's account ('' while the contact is unknown).
async fn insert_contact_attrs(tx: &Transaction<'_>, facts: &[AttrFact]) -> Result<u64> {
    if facts.is_empty() {
        return Ok(0);
    }
    let facts = attrs_folded(facts);
    let (c, k, v, val, r) = attr_columns(&facts);
    tx.execute(
        "INSERT INTO contact_attrs (account_id, contact_id, attr, valid_from, value, received_at) \
         SELECT coalesce((SELECT c.account_id FROM contacts c WHERE c.id = n.contact_id LIMIT 1), ''), n.* \
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) AS n (contact_id, attr, valid_from, value, received_at) \
         ON CONFLICT (account_id, contact_id, attr, valid_from) DO UPDATE SET value = excluded.value, received_at = excluded.received_at \
         WHERE contact_attrs.value IS DISTINCT FROM excluded.value",
        &[&c, &k, &v, &val, &r],
    )
    .await
    .map_err(db_err)
}

/// Deletes the rows of `table` whose id the batch now files under another account; returns the accounts
/// they left.
async fn remove_moved(
    tx: &Transaction<'_>,
    table: &str,
    ids: &[&str],
    accounts: &[&str],
) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = tx
        .query(
            &format!(
                "DELETE FROM {table} t USING unnest($1::text[], $2::text[]) AS n (id, account_id) \
                 WHERE t.id = n.id AND t.account_id <> n.account_id RETURNING t.account_id"
            ),
            &[&ids, &accounts],
        )
        .await
        .map_err(db_err)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A moved contact's stored email, name and first sighting.
type StoredContact = (Option<String>, Option<String>, Option<i64>);

/// Inserts or updates every record of a batch except attributes and series; returns rows written and the
/// accounts that records left.
async fn insert_records(tx: &Transaction<'_>, b: &WriteBatch) -> Result<(u64, Vec<String>)> {
    let mut n = 0u64;
    let mut left = Vec::new();
    if !b.contacts.is_empty() {
        // Several copies of one contact in a batch fold as a run of upserts would.
        let mut folded: Vec<bellwether_core::model::Contact> = Vec::new();
        let mut at: FxHashMap<&str, usize> = FxHashMap::default();
        for c in &b.contacts {
            match at.get(c.id.as_str()) {
                Some(&i) => {
                    let f = &mut folded[i];
                    f.account_id = c.account_id.clone();
                    f.email = c.email.clone().or(f.email.take());
                    f.name = c.name.clone().or(f.name.take());
                    f.first_seen = match (f.first_seen, c.first_seen) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => {
                    at.insert(c.id.as_str(), folded.len());
                    folded.push(c.clone());
                }
            }
        }
        let ids: Vec<&str> = folded.iter().map(|c| c.id.as_str()).collect();
        let accounts: Vec<&str> = folded.iter().map(|c| c.account_id.as_str()).collect();
        // A contact filed under another account takes its stored details and attributes with it.
        let moved = tx
            .query(
                "DELETE FROM contacts t USING unnest($1::text[], $2::text[]) AS n (id, account_id) \
                 WHERE t.id = n.id AND t.account_id <> n.account_id RETURNING t.account_id, t.id, t.email, t.name, t.first_seen",
                &[&ids, &accounts],
            )
            .await
            .map_err(db_err)?;
        let mut old: FxHashMap<String, StoredContact> = FxHashMap::default();
        for r in &moved {
            left.push(r.get::<_, String>(0));
            old.insert(r.get(1), (r.get(2), r.get(3), r.get(4)));
        }
        let (mut email, mut name, mut first) = (vec![], vec![], vec![]);
        for c in &folded {
            let o = old.get(c.id.as_str());
            email.push(c.email.clone().or_else(|| o.and_then(|o| o.0.clone())));
            name.push(c.name.clone().or_else(|| o.and_then(|o| o.1.clone())));
            first.push(match (c.first_seen.map(|t| t.0), o.and_then(|o| o.2)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            });
        }
        n += tx
            .execute(
                "INSERT INTO contacts (account_id, id, email, name, first_seen) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
                 ON CONFLICT (account_id, id) DO UPDATE SET email = coalesce(excluded.email, contacts.email), \
                 name = coalesce(excluded.name, contacts.name), \
                 first_seen = least(coalesce(contacts.first_seen, excluded.first_seen), coalesce(excluded.first_seen, contacts.first_seen))",
                &[&accounts, &ids, &email, &name, &first],
            )
            .await
            .map_err(db_err)?;
        // Attributes follow their contact (including those that arrived before it, under '').
        tx.execute(
            "WITH moved AS (DELETE FROM contact_attrs a USING contacts c \
               WHERE c.id = a.contact_id AND a.contact_id = ANY($1) AND a.account_id <> c.account_id \
               RETURNING c.account_id, a.contact_id, a.attr, a.valid_from, a.value, a.received_at) \
             INSERT INTO contact_attrs SELECT * FROM moved ON CONFLICT DO NOTHING",
            &[&ids],
        )
        .await
        .map_err(db_err)?;
    }
    if !b.tickets.is_empty() {
        let ts = last_by_key(&b.tickets, |t| t.id.as_str());
        let ids: Vec<&str> = ts.iter().map(|t| t.id.as_str()).collect();
        let acc: Vec<&str> = ts.iter().map(|t| t.account_id.as_str()).collect();
        left.extend(remove_moved(tx, "tickets", &ids, &acc).await?);
        let contact: Vec<Option<&str>> = ts
            .iter()
            .map(|t| t.contact_id.as_ref().map(|c| c.as_str()))
            .collect();
        let opened: Vec<i64> = ts.iter().map(|t| t.opened_at.0).collect();
        let closed: Vec<Option<i64>> = ts.iter().map(|t| t.closed_at.map(|c| c.0)).collect();
        let prio: Vec<&str> = ts.iter().map(|t| t.priority.as_str()).collect();
        let status: Vec<&str> = ts.iter().map(|t| t.status.as_str()).collect();
        let esc: Vec<bool> = ts.iter().map(|t| t.escalated).collect();
        let frm: Vec<Option<f64>> = ts.iter().map(|t| t.first_response_minutes).collect();
        let res: Vec<Option<f64>> = ts.iter().map(|t| t.resolution_minutes).collect();
        let sla: Vec<bool> = ts.iter().map(|t| t.sla_breached).collect();
        let csat: Vec<Option<f64>> = ts.iter().map(|t| t.csat).collect();
        let subject: Vec<&str> = ts.iter().map(|t| t.subject.as_str()).collect();
        let body: Vec<&str> = ts.iter().map(|t| t.body.as_str()).collect();
        let recv: Vec<i64> = ts.iter().map(|t| t.received_at.0).collect();
        let sent: Vec<Option<f64>> = ts.iter().map(|t| t.sentiment).collect();
        let params: [P; 16] = [
            &acc, &ids, &contact, &opened, &closed, &prio, &status, &esc, &frm, &res, &sla, &csat,
            &subject, &body, &recv, &sent,
        ];
        n += tx
            .execute(
                "INSERT INTO tickets (account_id, id, contact_id, opened_at, closed_at, priority, status, escalated, first_response_minutes, \
                 resolution_minutes, sla_breached, csat, subject, body, received_at, sentiment) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bool[], \
                 $9::float8[], $10::float8[], $11::bool[], $12::float8[], $13::text[], $14::text[], $15::bigint[], $16::float8[]) \
                 ON CONFLICT (account_id, id) DO UPDATE SET contact_id = excluded.contact_id, opened_at = excluded.opened_at, \
                 closed_at = excluded.closed_at, priority = excluded.priority, status = excluded.status, escalated = excluded.escalated, \
                 first_response_minutes = excluded.first_response_minutes, resolution_minutes = excluded.resolution_minutes, \
                 sla_breached = excluded.sla_breached, csat = excluded.csat, subject = excluded.subject, body = excluded.body, \
                 received_at = excluded.received_at, sentiment = excluded.sentiment",
                &params,
            )
            .await
            .map_err(db_err)?;
    }
    if !b.billing.is_empty() {
        // Kept once by id: the first copy wins, under whichever account it came.
        let mut seen = FxHashSet::default();
        let es: Vec<_> = b
            .billing
            .iter()
            .filter(|e| seen.insert(e.id.as_str()))
            .collect();
        let ids: Vec<&str> = es.iter().map(|e| e.id.as_str()).collect();
        let acc: Vec<&str> = es.iter().map(|e| e.account_id.as_str()).collect();
        let at: Vec<i64> = es.iter().map(|e| e.at.0).collect();
        let kind: Vec<&str> = es.iter().map(|e| e.kind.as_str()).collect();
        let amount: Vec<Option<i64>> = es.iter().map(|e| e.amount.map(|m| m.minor)).collect();
        let cur: Vec<Option<String>> = es
            .iter()
            .map(|e| e.amount.map(|m| m.currency.to_string()))
            .collect();
        let mrr: Vec<Option<i64>> = es.iter().map(|e| e.mrr_delta).collect();
        let seats: Vec<Option<i64>> = es.iter().map(|e| e.seats_delta).collect();
        let plan: Vec<Option<&str>> = es.iter().map(|e| e.plan.as_deref()).collect();
        let recv: Vec<i64> = es.iter().map(|e| e.received_at.0).collect();
        let params: [P; 10] = [
            &acc, &ids, &at, &kind, &amount, &cur, &mrr, &seats, &plan, &recv,
        ];
        n += tx
            .execute(
                "INSERT INTO billing_events (account_id, id, at, kind, amount, currency, mrr_delta, seats_delta, plan, received_at) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[]) \
                 AS n (account_id, id, at, kind, amount, currency, mrr_delta, seats_delta, plan, received_at) \
                 WHERE NOT EXISTS (SELECT 1 FROM billing_events b WHERE b.id = n.id) ON CONFLICT DO NOTHING",
                &params,
            )
            .await
            .map_err(db_err)?;
    }
    if !b.subscriptions.is_empty() {
        let ss = last_by_key(&b.subscriptions, |s| s.id.as_str());
        let ids: Vec<&str> = ss.iter().map(|s| s.id.as_str()).collect();
        let acc: Vec<&str> = ss.iter().map(|s| s.account_id.as_str()).collect();
        left.extend(remove_moved(tx, "subscriptions", &ids, &acc).await?);
        let plan: Vec<&str> = ss.iter().map(|s| s.plan.as_str()).collect();
        let start: Vec<i32> = ss.iter().map(|s| s.start.0).collect();
        let end: Vec<Option<i32>> = ss.iter().map(|s| s.end.map(|d| d.0)).collect();
        let mrr: Vec<i64> = ss.iter().map(|s| s.mrr.minor).collect();
        let cur: Vec<String> = ss.iter().map(|s| s.mrr.currency.to_string()).collect();
        let qty: Vec<i64> = ss.iter().map(|s| s.quantity).collect();
        let recv: Vec<i64> = ss.iter().map(|s| s.received_at.0).collect();
        let term: Vec<Option<i32>> = ss.iter().map(|s| s.term_days).collect();
        let params: [P; 10] = [
            &acc, &ids, &plan, &start, &end, &mrr, &cur, &qty, &recv, &term,
        ];
        n += tx
            .execute(
                "INSERT INTO subscriptions (account_id, id, plan, start_day, end_day, mrr, currency, quantity, received_at, term_days) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int4[], $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::int4[]) \
                 ON CONFLICT (account_id, id) DO UPDATE SET plan = excluded.plan, start_day = excluded.start_day, end_day = excluded.end_day, \
                 mrr = excluded.mrr, currency = excluded.currency, quantity = excluded.quantity, received_at = excluded.received_at, term_days = excluded.term_days",
                &params,
            )
            .await
            .map_err(db_err)?;
    }
    if !b.interactions.is_empty() {
        let is = last_by_key(&b.interactions, |i| i.id.as_str());
        let ids: Vec<&str> = is.iter().map(|i| i.id.as_str()).collect();
        let acc: Vec<&str> = is.iter().map(|i| i.account_id.as_str()).collect();
        left.extend(remove_moved(tx, "interactions", &ids, &acc).await?);
        let contact: Vec<Option<&str>> = is
            .iter()
            .map(|i| i.contact_id.as_ref().map(|c| c.as_str()))
            .collect();
        let at: Vec<i64> = is.iter().map(|i| i.at.0).collect();
        let kind: Vec<&str> = is.iter().map(|i| i.kind.as_str()).collect();
        let resp: Vec<Option<&str>> = is.iter().map(|i| i.response.map(|r| r.as_str())).collect();
        let score: Vec<Option<f64>> = is.iter().map(|i| i.score).collect();
        let note: Vec<&str> = is.iter().map(|i| i.note.as_str()).collect();
        let recv: Vec<i64> = is.iter().map(|i| i.received_at.0).collect();
        let params: [P; 9] = [
            &acc, &ids, &contact, &at, &kind, &resp, &score, &note, &recv,
        ];
        n += tx
            .execute(
                "INSERT INTO interactions (account_id, id, contact_id, at, kind, response, score, note, received_at) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::float8[], $8::text[], $9::bigint[]) \
                 ON CONFLICT (account_id, id) DO UPDATE SET contact_id = excluded.contact_id, at = excluded.at, kind = excluded.kind, \
                 response = excluded.response, score = excluded.score, note = excluded.note, received_at = excluded.received_at",
                &params,
            )
            .await
            .map_err(db_err)?;
    }
    if !b.outcomes.is_empty() {
        let os = last_by_key(&b.outcomes, |o| {
            (o.account_id.as_str(), o.date.0, o.kind.as_str())
        });
        let acc: Vec<&str> = os.iter().map(|o| o.account_id.as_str()).collect();
        let day: Vec<i32> = os.iter().map(|o| o.date.0).collect();
        let kind: Vec<&str> = os.iter().map(|o| o.kind.as_str()).collect();
        let arr: Vec<Option<i64>> = os.iter().map(|o| o.arr_delta).collect();
        // The first receipt time is kept, as a run of upserts would.
        let mut first: FxHashMap<(&str, i32, &str), i64> = FxHashMap::default();
        for o in &b.outcomes {
            first
                .entry((o.account_id.as_str(), o.date.0, o.kind.as_str()))
                .or_insert(o.received_at.0);
        }
        let recv: Vec<i64> = os
            .iter()
            .map(|o| first[&(o.account_id.as_str(), o.date.0, o.kind.as_str())])
            .collect();
        n += tx
            .execute(
                "INSERT INTO outcomes (account_id, day, kind, arr_delta, received_at) \
                 SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::bigint[], $5::bigint[]) \
                 ON CONFLICT (account_id, day, kind) DO UPDATE SET arr_delta = excluded.arr_delta",
                &[&acc, &day, &kind, &arr, &recv],
            )
            .await
            .map_err(db_err)?;
    }
    if !b.people.is_empty() {
        let ps = last_by_key(&b.people, |p| bellwether_core::people::key(&p.email));
        let emails: Vec<String> = ps
            .iter()
            .map(|p| bellwether_core::people::key(&p.email))
            .collect();
        let json: Vec<String> = ps
            .iter()
            .map(|p| serde_json::to_string(p).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<_>>()?;
        let at = b.received_at.unwrap_or_else(Timestamp::now).0;
        n += tx
            .execute(
                "INSERT INTO people (email, person, updated_at) SELECT e, p, $3 FROM unnest($1::text[], $2::text[]) \
                 AS u(e, p) ON CONFLICT (email) DO UPDATE SET person = excluded.person, updated_at = excluded.updated_at",
                &[&emails, &json, &at],
            )
            .await
            .map_err(db_err)?;
    }
    Ok((n, left))
}

/// Loads the stored series of `ids` in one read.
pub(crate) async fn stored_series(
    tx: &Transaction<'_>,
    ids: &[&str],
) -> Result<FxHashMap<String, AccountSeries>> {
    let rows = tx
        .query(
            "SELECT account_id, packed FROM series WHERE account_id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(db_err)?;
    let mut out = FxHashMap::default();
    for r in rows {
        let id: String = r.get(0);
        let s = decode_series(&AccountId(id.clone()), r.get::<_, &[u8]>(1))?;
        out.insert(id, s);
    }
    Ok(out)
}

/// Writes a batch inside `tx`.
pub(crate) async fn write_batch(tx: &Transaction<'_>, batch: &WriteBatch) -> Result<WriteSummary> {
    let now = batch.received_at.unwrap_or_else(Timestamp::now);
    // The per-account locks come before any row lock, as in every writer, so writers never wait on each
    // other in a cycle (a live batch has taken them already: taking them again costs one statement and
    // waits for nothing).
    lock_accounts(tx, batch.series.keys().map(|a| a.as_str())).await?;
    let import_id: i64 = tx
        .query_one(
            "INSERT INTO imports (source, kind, received_at, records, rejected, chunks) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&batch.source, &batch.kind, &now.0, &(batch.records as i64), &(batch.rejected as i64), &(batch.chunks.len() as i64)],
        )
        .await
        .map_err(db_err)?
        .get(0);
    if !batch.chunks.is_empty() {
        let chunks: Vec<String> = batch.chunks.iter().map(|c| hex(*c)).collect();
        tx.execute(
            "INSERT INTO chunks (fingerprint, import_id) SELECT unnest($1::text[]), $2",
            &[&chunks, &import_id],
        )
        .await
        .map_err(db_err)?;
    }
    let accounts: Vec<String> = batch.accounts().into_iter().map(|a| a.0).collect();
    let mut dirty: Vec<String> = tx
        .query(
            "INSERT INTO accounts (account_id, first_seen) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING RETURNING account_id",
            &[&accounts, &now.0],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut rows = insert_account_attrs(tx, &batch.account_attrs).await?;
    let (n, left) = insert_records(tx, batch).await?;
    rows += n;
    rows += insert_contact_attrs(tx, &batch.contact_attrs).await?;
    dirty.extend(left);
    dirty.extend(batch.fact_accounts().into_iter().map(str::to_string));
    if !batch.contact_attrs.is_empty() {
        let contacts: Vec<&str> = batch
            .contact_attrs
            .iter()
            .map(|f| f.subject.as_str())
            .collect();
        let of: Vec<String> = tx
            .query(
                "SELECT DISTINCT account_id FROM contacts WHERE id = ANY($1)",
                &[&contacts],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        dirty.extend(of);
    }
    mark_dirty(tx, dirty).await?;

    // Series: the stored value of each touched account, read in one statement under the account's lock,
    // merged, written back in one statement.
    if !batch.series.is_empty() {
        let ids: Vec<&str> = batch.series.keys().map(|a| a.as_str()).collect();
        let mut stored = stored_series(tx, &ids).await?;
        let mut blobs: Vec<Vec<u8>> = Vec::with_capacity(ids.len());
        for (id, delta) in &batch.series {
            let mut s = stored.remove(id.as_str()).unwrap_or_default();
            s.merge(delta);
            blobs.push(s.encode());
        }
        tx.execute(
            "INSERT INTO series (account_id, packed, updated_at) SELECT a, p, $3 FROM unnest($1::text[], $2::bytea[]) AS n (a, p) \
             ON CONFLICT (account_id) DO UPDATE SET packed = excluded.packed, updated_at = excluded.updated_at",
            &[&ids, &blobs, &now.0],
        )
        .await
        .map_err(db_err)?;
    }
    let span = batch.metric_spans();
    if !span.is_empty() {
        // In metric order (a BTreeMap's), so concurrent writers lock catalogue rows in one order.
        let m: Vec<&str> = span.keys().copied().collect();
        let f: Vec<i32> = span.values().map(|s| s.0 .0).collect();
        let l: Vec<i32> = span.values().map(|s| s.1 .0).collect();
        tx.execute(
            "INSERT INTO catalog (metric, first_day, last_day) SELECT * FROM unnest($1::text[], $2::int4[], $3::int4[]) \
             ON CONFLICT (metric) DO UPDATE SET first_day = least(catalog.first_day, excluded.first_day), \
             last_day = greatest(coalesce(catalog.last_day, excluded.last_day), excluded.last_day)",
            &[&m, &f, &l],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(WriteSummary {
        import_id,
        series_accounts: batch.series.len(),
        rows,
    })
}
