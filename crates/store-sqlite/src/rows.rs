//! Row mapping between SQLite tables and the canonical records: batched inserts and the bulk book read.

use crate::db_err;
use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    Assessment, BillingEvent, BillingKind, Contact, Interaction, InteractionKind, Outcome,
    OutcomeKind, Priority, Response, Subscription, Ticket,
};
use bellwether_core::people::Person;
use bellwether_core::{AccountId, ContactId, Currency, Day, Money, Timestamp};
use bellwether_store::codec::docs::{self, Doc};
use bellwether_store::{AccountFacts, Book, ContactFacts, Result, StoreError, WriteBatch};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, Row, ToSql, Transaction};
use rustc_hash::FxHashMap;

/// Inserts or updates every record of a batch except attributes and series.
pub(crate) fn insert_records(tx: &Transaction, b: &WriteBatch) -> Result<u64> {
    let mut n = 0u64;
    let mut st = tx
        .prepare_cached(
            "INSERT INTO contacts (id, account_id, email, name, first_seen) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, email = coalesce(excluded.email, email), \
             name = coalesce(excluded.name, name), first_seen = min(coalesce(first_seen, excluded.first_seen), coalesce(excluded.first_seen, first_seen))",
        )
        .map_err(db_err)?;
    for c in &b.contacts {
        n += st
            .execute(params![
                c.id.0,
                c.account_id.0,
                c.email,
                c.name,
                c.first_seen.map(|t| t.0)
            ])
            .map_err(db_err)? as u64;
    }
    {
        let mut st = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO tickets (id, account_id, contact_id, opened_at, closed_at, priority, status, escalated, first_response_minutes, \
                 resolution_minutes, sla_breached, csat, subject, body, received_at, sentiment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )
            .map_err(db_err)?;
        for t in &b.tickets {
            n += st
                .execute(params![
                    t.id,
                    t.account_id.0,
                    t.contact_id.as_ref().map(|c| &c.0),
                    t.opened_at.0,
                    t.closed_at.map(|c| c.0),
                    t.priority.as_str(),
                    t.status,
                    t.escalated,
                    t.first_response_minutes,
                    t.resolution_minutes,
                    t.sla_breached,
                    t.csat,
                    t.subject,
                    t.body,
                    t.received_at.0,
                    t.sentiment
                ])
                .map_err(db_err)? as u64;
        }
        let mut st = tx
            .prepare_cached(
                "INSERT INTO billing_events (id, account_id, at, kind, amount, currency, mrr_delta, seats_delta, plan, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING",
            )
            .map_err(db_err)?;
        for e in &b.billing {
            n += st
                .execute(params![
                    e.id,
                    e.account_id.0,
                    e.at.0,
                    e.kind.as_str(),
                    e.amount.map(|m| m.minor),
                    e.amount.map(|m| m.currency.to_string()),
                    e.mrr_delta,
                    e.seats_delta,
                    e.plan,
                    e.received_at.0
                ])
                .map_err(db_err)? as u64;
        }
        let mut st = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO subscriptions (id, account_id, plan, start_day, end_day, mrr, currency, quantity, received_at, term_days) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(db_err)?;
        for s in &b.subscriptions {
            n += st
                .execute(params![
                    s.id,
                    s.account_id.0,
                    s.plan,
                    s.start.0,
                    s.end.map(|d| d.0),
                    s.mrr.minor,
                    s.mrr.currency.to_string(),
                    s.quantity,
                    s.received_at.0,
                    s.term_days
                ])
                .map_err(db_err)? as u64;
        }
        let mut st = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO interactions (id, account_id, contact_id, at, kind, response, score, note, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(db_err)?;
        for i in &b.interactions {
            n += st
                .execute(params![
                    i.id,
                    i.account_id.0,
                    i.contact_id.as_ref().map(|c| &c.0),
                    i.at.0,
                    i.kind.as_str(),
                    i.response.map(|r| r.as_str()),
                    i.score,
                    i.note,
                    i.received_at.0
                ])
                .map_err(db_err)? as u64;
        }
        let mut st = tx
            .prepare_cached(
                "INSERT INTO outcomes (account_id, day, kind, arr_delta, received_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (account_id, day, kind) DO UPDATE SET arr_delta = excluded.arr_delta",
            )
            .map_err(db_err)?;
        for o in &b.outcomes {
            n += st
                .execute(params![
                    o.account_id.0,
                    o.date.0,
                    o.kind.as_str(),
                    o.arr_delta,
                    o.received_at.0
                ])
                .map_err(db_err)? as u64;
        }
    }
    if !b.people.is_empty() {
        let at = b.received_at.unwrap_or_else(Timestamp::now).0;
        let mut st = tx
            .prepare_cached(
                "INSERT INTO people (email, person, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (email) DO UPDATE SET person = excluded.person, updated_at = excluded.updated_at",
            )
            .map_err(db_err)?;
        for p in &b.people {
            let json = serde_json::to_string(p).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            n += st
                .execute(params![bellwether_core::people::key(&p.email), json, at])
                .map_err(db_err)? as u64;
        }
    }
    Ok(n)
}

/// The people the `people` import kind wrote, by email.
pub(crate) fn people(c: &Connection) -> Result<Vec<Person>> {
    let mut st = c
        .prepare_cached("SELECT email, person FROM people ORDER BY email")
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(db_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (email, json) = row.map_err(db_err)?;
        // A row another version wrote (a field this one does not know) is skipped, not fatal to alerting.
        match serde_json::from_str(&json) {
            Ok(p) => out.push(p),
            Err(e) => tracing::warn!("people: the stored entry of {email} is skipped: {e}"),
        }
    }
    Ok(out)
}

fn corrupt(table: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{table}: {what}"))
}

fn currency(s: Option<&str>) -> Currency {
    s.and_then(|c| Currency::parse(c).ok())
        .unwrap_or(Currency::USD)
}

fn text(r: &Row, i: usize) -> rusqlite::Result<String> {
    r.get(i)
}

fn opt_text(r: &Row, i: usize) -> rusqlite::Result<Option<String>> {
    r.get(i)
}

/// A document as this backend stores it: short JSON as TEXT, long JSON as a BLOB (see
/// [`bellwether_store::codec::docs`]).
pub(crate) fn doc_value(doc: Doc) -> rusqlite::types::Value {
    match doc {
        Doc::Text(t) => rusqlite::types::Value::Text(t),
        Doc::Lz4(b) => rusqlite::types::Value::Blob(b),
    }
}

/// [`docs::par_pack`] into column values.
pub(crate) fn par_pack<T: Sync>(
    items: &[T],
    json: impl Fn(&T) -> serde_json::Result<String> + Sync,
) -> std::result::Result<Vec<rusqlite::types::Value>, String> {
    Ok(docs::par_pack(items, json)?
        .into_iter()
        .map(doc_value)
        .collect())
}

/// Reads a column written by [`doc_value`] (or plain JSON text, as older rows hold) into `T`.
pub(crate) fn unpack_json<T: serde::de::DeserializeOwned>(
    r: &Row,
    i: usize,
) -> std::result::Result<T, String> {
    match r.get_ref(i).map_err(|e| e.to_string())? {
        ValueRef::Text(t) => serde_json::from_slice(t).map_err(|e| e.to_string()),
        ValueRef::Blob(b) => docs::unpack_lz4(b),
        _ => Err(format!(
            "column {i} holds neither JSON text nor a packed document"
        )),
    }
}

fn str_ref<'r>(r: &'r Row, i: usize) -> rusqlite::Result<&'r str> {
    match r.get_ref(i)? {
        ValueRef::Text(t) => std::str::from_utf8(t).map_err(|e| rusqlite::Error::Utf8Error(i, e)),
        _ => Err(rusqlite::Error::InvalidColumnType(
            i,
            String::new(),
            rusqlite::types::Type::Text,
        )),
    }
}

/// Runs `sql` (optionally filtered to the given accounts by `col IN (...)`) and hands each row to `f`.
fn each(
    c: &Connection,
    select: &str,
    col: &str,
    ids: Option<&[AccountId]>,
    f: impl FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let out = each_inner(c, select, col, ids, f);
    let table = select.split(" FROM ").nth(1).unwrap_or(select);
    tracing::debug!(
        table,
        seconds = started.elapsed().as_secs_f64(),
        "bulk read"
    );
    out
}

fn each_inner(
    c: &Connection,
    select: &str,
    col: &str,
    ids: Option<&[AccountId]>,
    mut f: impl FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let mut go = |sql: &str, params: &[&dyn ToSql]| -> Result<()> {
        let mut st = c.prepare_cached(sql).map_err(db_err)?;
        let mut rows = st.query(params).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            f(r)?;
        }
        Ok(())
    };
    match ids {
        None => go(select, &[]),
        Some(ids) => {
            for group in ids.chunks(500) {
                let sql = format!(
                    "{select} WHERE {col} IN ({})",
                    vec!["?"; group.len()].join(", ")
                );
                let params: Vec<&dyn ToSql> = group.iter().map(|id| &id.0 as &dyn ToSql).collect();
                go(&sql, &params)?;
            }
            Ok(())
        }
    }
}

fn attr_fact(r: &Row) -> rusqlite::Result<AttrFact> {
    Ok(AttrFact {
        subject: text(r, 0)?,
        attr: text(r, 1)?,
        valid_from: Timestamp(r.get(2)?),
        value: opt_text(r, 3)?,
        received_at: Timestamp(r.get(4)?),
    })
}

/// Facts by account id, as read from one group of tables.
pub(crate) type Partial = FxHashMap<String, AccountFacts>;

/// Looks the account up by borrowed text, allocating its key only the first time.
fn entry<'b>(book: &'b mut Partial, id: &str) -> &'b mut AccountFacts {
    if !book.contains_key(id) {
        book.insert(id.to_string(), AccountFacts::default());
    }
    book.get_mut(id).expect("inserted")
}

/// Reads the accounts, their attribute history, contacts and tickets of the given accounts (or all).
pub(crate) fn load_people(c: &Connection, ids: Option<&[AccountId]>) -> Result<Partial> {
    let mut book = Partial::default();
    each(c, "SELECT id FROM accounts", "id", ids, |r| {
        entry(&mut book, str_ref(r, 0).map_err(db_err)?);
        Ok(())
    })?;
    each(
        c,
        "SELECT account_id, attr, valid_from, value, received_at FROM account_attrs",
        "account_id",
        ids,
        |r| {
            let f = attr_fact(r).map_err(db_err)?;
            entry(&mut book, &f.subject).attrs.push(f);
            Ok(())
        },
    )?;
    let mut contacts: FxHashMap<String, ContactFacts> = FxHashMap::default();
    each(
        c,
        "SELECT id, account_id, email, name, first_seen FROM contacts",
        "account_id",
        ids,
        |r| {
            let c = Contact {
                id: ContactId(text(r, 0).map_err(db_err)?),
                account_id: AccountId(text(r, 1).map_err(db_err)?),
                email: opt_text(r, 2).map_err(db_err)?,
                name: opt_text(r, 3).map_err(db_err)?,
                first_seen: r.get::<_, Option<i64>>(4).map_err(db_err)?.map(Timestamp),
            };
            contacts.insert(
                c.id.0.clone(),
                ContactFacts {
                    contact: c,
                    attrs: Vec::new(),
                },
            );
            Ok(())
        },
    )?;
    let contact_attr_sql = "SELECT a.contact_id, a.attr, a.valid_from, a.value, a.received_at FROM contact_attrs a JOIN contacts c ON c.id = a.contact_id";
    each(c, contact_attr_sql, "c.account_id", ids, |r| {
        let f = attr_fact(r).map_err(db_err)?;
        if let Some(c) = contacts.get_mut(&f.subject) {
            c.attrs.push(f);
        }
        Ok(())
    })?;
    for (_, c) in contacts {
        entry(&mut book, &c.contact.account_id.0.clone())
            .contacts
            .push(c);
    }
    let ticket_sql = "SELECT id, account_id, contact_id, opened_at, closed_at, priority, status, escalated, first_response_minutes, \
                      resolution_minutes, sla_breached, csat, subject, body, received_at, sentiment FROM tickets";
    each(c, ticket_sql, "account_id", ids, |r| {
        let e = db_err;
        let account = str_ref(r, 1).map_err(e)?;
        let t = Ticket {
            id: text(r, 0).map_err(e)?,
            account_id: AccountId(account.to_string()),
            contact_id: opt_text(r, 2).map_err(e)?.map(ContactId),
            opened_at: Timestamp(r.get(3).map_err(e)?),
            closed_at: r.get::<_, Option<i64>>(4).map_err(e)?.map(Timestamp),
            priority: Priority::parse(str_ref(r, 5).map_err(e)?)
                .map_err(|m| corrupt("tickets", m))?,
            status: text(r, 6).map_err(e)?,
            escalated: r.get(7).map_err(e)?,
            first_response_minutes: r.get(8).map_err(e)?,
            resolution_minutes: r.get(9).map_err(e)?,
            sla_breached: r.get(10).map_err(e)?,
            csat: r.get(11).map_err(e)?,
            subject: text(r, 12).map_err(e)?,
            body: text(r, 13).map_err(e)?,
            received_at: Timestamp(r.get(14).map_err(e)?),
            sentiment: r.get(15).map_err(e)?,
        };
        entry(&mut book, account).tickets.push(t);
        Ok(())
    })?;
    Ok(book)
}

/// Reads billing events, subscriptions, interactions and outcomes of the given accounts (or all).
pub(crate) fn load_activity(c: &Connection, ids: Option<&[AccountId]>) -> Result<Partial> {
    let mut book = Partial::default();
    let billing_sql = "SELECT id, account_id, at, kind, amount, currency, mrr_delta, seats_delta, plan, received_at FROM billing_events";
    each(c, billing_sql, "account_id", ids, |r| {
        let e = db_err;
        let account = str_ref(r, 1).map_err(e)?;
        let b = BillingEvent {
            id: text(r, 0).map_err(e)?,
            account_id: AccountId(account.to_string()),
            at: Timestamp(r.get(2).map_err(e)?),
            kind: BillingKind::parse(str_ref(r, 3).map_err(e)?)
                .map_err(|m| corrupt("billing_events", m))?,
            amount: r.get::<_, Option<i64>>(4).map_err(e)?.map(|minor| Money {
                minor,
                currency: currency(r.get_ref(5).ok().and_then(|v| v.as_str().ok())),
            }),
            mrr_delta: r.get(6).map_err(e)?,
            seats_delta: r.get(7).map_err(e)?,
            plan: opt_text(r, 8).map_err(e)?,
            received_at: Timestamp(r.get(9).map_err(e)?),
        };
        entry(&mut book, account).billing.push(b);
        Ok(())
    })?;
    let sub_sql = "SELECT id, account_id, plan, start_day, end_day, mrr, currency, quantity, received_at, term_days FROM subscriptions";
    each(c, sub_sql, "account_id", ids, |r| {
        let e = db_err;
        let account = str_ref(r, 1).map_err(e)?;
        let s = Subscription {
            id: text(r, 0).map_err(e)?,
            account_id: AccountId(account.to_string()),
            plan: text(r, 2).map_err(e)?,
            start: Day(r.get(3).map_err(e)?),
            end: r.get::<_, Option<i32>>(4).map_err(e)?.map(Day),
            mrr: Money {
                minor: r.get(5).map_err(e)?,
                currency: currency(Some(str_ref(r, 6).map_err(e)?)),
            },
            quantity: r.get(7).map_err(e)?,
            received_at: Timestamp(r.get(8).map_err(e)?),
            term_days: r.get(9).map_err(e)?,
        };
        entry(&mut book, account).subscriptions.push(s);
        Ok(())
    })?;
    let int_sql = "SELECT id, account_id, contact_id, at, kind, response, score, note, received_at FROM interactions";
    each(c, int_sql, "account_id", ids, |r| {
        let e = db_err;
        let account = str_ref(r, 1).map_err(e)?;
        let response = match r.get_ref(5).map_err(e)? {
            ValueRef::Null => None,
            _ => Some(
                Response::parse(str_ref(r, 5).map_err(e)?)
                    .map_err(|m| corrupt("interactions", m))?,
            ),
        };
        let i = Interaction {
            id: text(r, 0).map_err(e)?,
            account_id: AccountId(account.to_string()),
            contact_id: opt_text(r, 2).map_err(e)?.map(ContactId),
            at: Timestamp(r.get(3).map_err(e)?),
            kind: InteractionKind::parse(str_ref(r, 4).map_err(e)?)
                .map_err(|m| corrupt("interactions", m))?,
            response,
            score: r.get(6).map_err(e)?,
            note: text(r, 7).map_err(e)?,
            received_at: Timestamp(r.get(8).map_err(e)?),
        };
        entry(&mut book, account).interactions.push(i);
        Ok(())
    })?;
    each(
        c,
        "SELECT account_id, day, kind, arr_delta, received_at FROM outcomes",
        "account_id",
        ids,
        |r| {
            let e = db_err;
            let account = str_ref(r, 0).map_err(e)?;
            let o = Outcome {
                account_id: AccountId(account.to_string()),
                date: Day(r.get(1).map_err(e)?),
                kind: OutcomeKind::parse(str_ref(r, 2).map_err(e)?)
                    .map_err(|m| corrupt("outcomes", m))?,
                arr_delta: r.get(3).map_err(e)?,
                received_at: Timestamp(r.get(4).map_err(e)?),
            };
            entry(&mut book, account).outcomes.push(o);
            Ok(())
        },
    )?;
    Ok(book)
}

/// Joins the two groups of tables into the book, each account's lists in event-time order.
pub(crate) fn join_book(mut people: Partial, activity: Partial) -> Book {
    for (id, a) in activity {
        let f = entry(&mut people, &id);
        f.billing = a.billing;
        f.subscriptions = a.subscriptions;
        f.interactions = a.interactions;
        f.outcomes = a.outcomes;
    }
    let mut out = Book::default();
    for (id, mut facts) in people {
        facts.sort();
        out.accounts.insert(AccountId(id), facts);
    }
    out
}

pub(crate) const ASSESSMENT_SELECT: &str =
    "SELECT account_id, as_of, health, risk_proxy, churn_probability, priority, owner, arr, reason, components, impact FROM assessments";

/// The current list: every account's latest assessment unless it had ended by then (bind `0`).
pub(crate) const CURRENT_ASSESSMENTS: &str =
    "SELECT a.account_id, a.as_of, a.health, a.risk_proxy, a.churn_probability, a.priority, a.owner, a.arr, a.reason, a.components, a.impact \
     FROM current_assessments c JOIN assessments a ON a.account_id = c.account_id AND a.as_of = c.as_of \
     WHERE c.ended = ?1 ORDER BY a.priority DESC, a.account_id";

/// One owner's current list (bind the owner): [`CURRENT_ASSESSMENTS`] through the owner index (`CROSS
/// JOIN` keeps SQLite's planner to that order: the owner's rows first, then their assessments by key).
pub(crate) const OWNER_ASSESSMENTS: &str =
    "SELECT a.account_id, a.as_of, a.health, a.risk_proxy, a.churn_probability, a.priority, a.owner, a.arr, a.reason, a.components, a.impact \
     FROM current_assessments c CROSS JOIN assessments a ON a.account_id = c.account_id AND a.as_of = c.as_of \
     WHERE c.owner = ?1 AND c.ended = 0 ORDER BY a.priority DESC, a.account_id";

/// Reads assessments with one bound parameter.
pub(crate) fn assessments(c: &Connection, sql: &str, param: impl ToSql) -> Result<Vec<Assessment>> {
    let mut st = c.prepare_cached(sql).map_err(db_err)?;
    let mut rows = st.query([param]).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let e = db_err;
        out.push(Assessment {
            account_id: AccountId(text(r, 0).map_err(e)?),
            as_of: Day(r.get(1).map_err(e)?),
            health: r.get(2).map_err(e)?,
            risk_proxy: r.get(3).map_err(e)?,
            churn_probability: r.get(4).map_err(e)?,
            priority: r.get(5).map_err(e)?,
            owner: opt_text(r, 6).map_err(e)?,
            arr_minor: r.get(7).map_err(e)?,
            reason: text(r, 8).map_err(e)?,
            components: unpack_json(r, 9).map_err(|m| corrupt("assessments", m))?,
            impact: match opt_text(r, 10).map_err(e)? {
                Some(t) => Some(
                    serde_json::from_str(&t).map_err(|m| corrupt("assessments", m.to_string()))?,
                ),
                None => None,
            },
        });
    }
    Ok(out)
}

const SIGNAL_COLUMNS: &str = "id, account_id, kind, direction, severity, detected_at, last_seen, evidence, explanation, suggested_action, status, owner, resolved_at, snoozed_until, snooze_reason, alerted";

/// Reads signals matching a filter, newest first.
pub(crate) fn signals(
    c: &Connection,
    f: &bellwether_store::SignalFilter,
) -> Result<Vec<bellwether_core::model::Signal>> {
    use bellwether_core::model::{Severity, Signal, SignalStatus};
    // SQLite binds at most 32,766 values in one statement: a longer list of accounts is read in parts,
    // merged in the order one statement would give.
    const IDS_PER_STATEMENT: usize = 10_000;
    if let Some(ids) = f
        .accounts
        .as_ref()
        .filter(|ids| ids.len() > IDS_PER_STATEMENT)
    {
        let mut out = Vec::new();
        for part in ids.chunks(IDS_PER_STATEMENT) {
            let one = bellwether_store::SignalFilter {
                accounts: Some(part.to_vec()),
                ..f.clone()
            };
            out.extend(signals(c, &one)?);
        }
        out.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(b.detected_at.cmp(&a.detected_at))
                .then(a.id.cmp(&b.id))
        });
        return Ok(out);
    }
    // With accounts named, their index finds the rows: SQLite's planner otherwise may scan the table (or
    // every signal of the statuses asked for) for a long list of ids.
    let index = if f.accounts.is_some() {
        " INDEXED BY signals_account"
    } else {
        ""
    };
    let mut sql = format!("SELECT {SIGNAL_COLUMNS} FROM signals{index} WHERE 1 = 1");
    let mut params: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(ids) = &f.accounts {
        sql.push_str(&format!(
            " AND account_id IN ({})",
            vec!["?"; ids.len()].join(", ")
        ));
        params.extend(ids.iter().map(|i| Box::new(i.0.clone()) as Box<dyn ToSql>));
    }
    if !f.statuses.is_empty() {
        sql.push_str(&format!(
            " AND status IN ({})",
            vec!["?"; f.statuses.len()].join(", ")
        ));
        params.extend(
            f.statuses
                .iter()
                .map(|s| Box::new(s.as_str()) as Box<dyn ToSql>),
        );
    }
    for (col, v) in [("kind", &f.kind), ("owner", &f.owner), ("id", &f.id)] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            params.push(Box::new(v.clone()));
        }
    }
    sql.push_str(" ORDER BY last_seen DESC, detected_at DESC, id");
    let mut st = c.prepare(&sql).map_err(db_err)?;
    let refs: Vec<&dyn ToSql> = params.iter().map(|p| p.as_ref()).collect();
    let mut rows = st.query(refs.as_slice()).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let e = db_err;
        out.push(Signal {
            id: text(r, 0).map_err(e)?,
            account_id: AccountId(text(r, 1).map_err(e)?),
            kind: text(r, 2).map_err(e)?,
            direction: text(r, 3).map_err(e)?,
            severity: Severity::parse(str_ref(r, 4).map_err(e)?)
                .map_err(|m| corrupt("signals", m))?,
            detected_at: Day(r.get(5).map_err(e)?),
            last_seen: Day(r.get(6).map_err(e)?),
            evidence: serde_json::from_str(str_ref(r, 7).map_err(e)?)
                .map_err(|m| corrupt("signals", m))?,
            explanation: text(r, 8).map_err(e)?,
            suggested_action: text(r, 9).map_err(e)?,
            status: SignalStatus::parse(str_ref(r, 10).map_err(e)?)
                .map_err(|m| corrupt("signals", m))?,
            owner: opt_text(r, 11).map_err(e)?,
            resolved_at: r.get::<_, Option<i32>>(12).map_err(e)?.map(Day),
            snoozed_until: r.get::<_, Option<i32>>(13).map_err(e)?.map(Day),
            snooze_reason: opt_text(r, 14).map_err(e)?,
            alerted: r.get::<_, i64>(15).map_err(e)? != 0,
        });
    }
    Ok(out)
}

/// Inserts or replaces signals by id.
pub(crate) fn save_signals(
    tx: &Transaction,
    rows: &[bellwether_core::model::Signal],
) -> Result<()> {
    let mut st = tx
        .prepare_cached(&format!(
            "INSERT OR REPLACE INTO signals ({SIGNAL_COLUMNS}, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        ))
        .map_err(db_err)?;
    let now = Timestamp::now().0;
    for s in rows {
        st.execute(params![
            s.id,
            s.account_id.0,
            s.kind,
            s.direction,
            s.severity.as_str(),
            s.detected_at.0,
            s.last_seen.0,
            s.evidence.to_string(),
            s.explanation,
            s.suggested_action,
            s.status.as_str(),
            s.owner,
            s.resolved_at.map(|d| d.0),
            s.snoozed_until.map(|d| d.0),
            s.snooze_reason,
            i64::from(s.alerted),
            now
        ])
        .map_err(db_err)?;
    }
    Ok(())
}
