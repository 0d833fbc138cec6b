//! Row mapping between SQLite tables and the canonical records: multi-row inserts and the bulk book read.

use crate::{db_err, insert_many};
use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    Assessment, BillingEvent, BillingKind, Contact, Interaction, InteractionKind, Outcome,
    OutcomeKind, Priority, Response, Subscription, Ticket,
};
use bellwether_core::{AccountId, ContactId, Currency, Day, Money, Timestamp};
use bellwether_store::{AccountFacts, Book, ContactFacts, Result, StoreError};
use rustc_hash::FxHashMap;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

pub(crate) async fn insert_tickets(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[Ticket],
) -> Result<u64> {
    insert_many(
        tx,
        "INSERT OR REPLACE INTO tickets (id, account_id, contact_id, opened_at, closed_at, priority, status, escalated, first_response_minutes, \
         resolution_minutes, sla_breached, csat, subject, body, received_at) ",
        15,
        "",
        rows,
        |b, t| {
            b.push_bind(t.id.as_str())
                .push_bind(t.account_id.as_str())
                .push_bind(t.contact_id.as_ref().map(|c| c.as_str()))
                .push_bind(t.opened_at.0)
                .push_bind(t.closed_at.map(|c| c.0))
                .push_bind(t.priority.as_str())
                .push_bind(t.status.as_str())
                .push_bind(t.escalated)
                .push_bind(t.first_response_minutes)
                .push_bind(t.resolution_minutes)
                .push_bind(t.sla_breached)
                .push_bind(t.csat)
                .push_bind(t.subject.as_str())
                .push_bind(t.body.as_str())
                .push_bind(t.received_at.0);
        },
    )
    .await
}

pub(crate) async fn insert_billing(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[BillingEvent],
) -> Result<u64> {
    insert_many(
        tx,
        "INSERT INTO billing_events (id, account_id, at, kind, amount, currency, mrr_delta, seats_delta, plan, received_at) ",
        10,
        " ON CONFLICT (id) DO NOTHING",
        rows,
        |b, e| {
            b.push_bind(e.id.as_str())
                .push_bind(e.account_id.as_str())
                .push_bind(e.at.0)
                .push_bind(e.kind.as_str())
                .push_bind(e.amount.map(|m| m.minor))
                .push_bind(e.amount.map(|m| m.currency.to_string()))
                .push_bind(e.mrr_delta)
                .push_bind(e.seats_delta)
                .push_bind(e.plan.as_deref())
                .push_bind(e.received_at.0);
        },
    )
    .await
}

pub(crate) async fn insert_subscriptions(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[Subscription],
) -> Result<u64> {
    insert_many(
        tx,
        "INSERT OR REPLACE INTO subscriptions (id, account_id, plan, start_day, end_day, mrr, currency, quantity, received_at) ",
        9,
        "",
        rows,
        |b, s| {
            b.push_bind(s.id.as_str())
                .push_bind(s.account_id.as_str())
                .push_bind(s.plan.as_str())
                .push_bind(s.start.0)
                .push_bind(s.end.map(|d| d.0))
                .push_bind(s.mrr.minor)
                .push_bind(s.mrr.currency.to_string())
                .push_bind(s.quantity)
                .push_bind(s.received_at.0);
        },
    )
    .await
}

pub(crate) async fn insert_interactions(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[Interaction],
) -> Result<u64> {
    insert_many(
        tx,
        "INSERT OR REPLACE INTO interactions (id, account_id, contact_id, at, kind, response, score, note, received_at) ",
        9,
        "",
        rows,
        |b, i| {
            b.push_bind(i.id.as_str())
                .push_bind(i.account_id.as_str())
                .push_bind(i.contact_id.as_ref().map(|c| c.as_str()))
                .push_bind(i.at.0)
                .push_bind(i.kind.as_str())
                .push_bind(i.response.map(|r| r.as_str()))
                .push_bind(i.score)
                .push_bind(i.note.as_str())
                .push_bind(i.received_at.0);
        },
    )
    .await
}

pub(crate) async fn insert_outcomes(
    tx: &mut Transaction<'static, Sqlite>,
    rows: &[Outcome],
) -> Result<u64> {
    insert_many(
        tx,
        "INSERT INTO outcomes (account_id, day, kind, arr_delta, received_at) ",
        5,
        " ON CONFLICT (account_id, day, kind) DO UPDATE SET arr_delta = excluded.arr_delta",
        rows,
        |b, o| {
            b.push_bind(o.account_id.as_str())
                .push_bind(o.date.0)
                .push_bind(o.kind.as_str())
                .push_bind(o.arr_delta)
                .push_bind(o.received_at.0);
        },
    )
    .await
}

fn corrupt(table: &str, what: String) -> StoreError {
    StoreError::Corrupt(format!("{table}: {what}"))
}

fn currency(s: Option<String>) -> Currency {
    s.and_then(|c| Currency::parse(&c).ok())
        .unwrap_or(Currency::USD)
}

/// Builds `WHERE col IN (...)` for an optional account filter; the ids are bound, never spliced.
fn filtered(select: &str, col: &str, ids: Option<&[AccountId]>) -> String {
    match ids {
        None => select.to_string(),
        Some(ids) => format!(
            "{select} WHERE {col} IN ({})",
            vec!["?"; ids.len()].join(", ")
        ),
    }
}

async fn fetch(
    pool: &SqlitePool,
    select: &str,
    col: &str,
    ids: Option<&[AccountId]>,
) -> Result<Vec<SqliteRow>> {
    match ids {
        None => sqlx::query(select).fetch_all(pool).await.map_err(db_err),
        Some(ids) => {
            let mut out = Vec::new();
            for group in ids.chunks(2_000) {
                let sql = filtered(select, col, Some(group));
                let mut q = sqlx::query(&sql);
                for id in group {
                    q = q.bind(id.as_str());
                }
                out.extend(q.fetch_all(pool).await.map_err(db_err)?);
            }
            Ok(out)
        }
    }
}

fn attr_fact(r: &SqliteRow) -> AttrFact {
    AttrFact {
        subject: r.get(0),
        attr: r.get(1),
        valid_from: Timestamp(r.get(2)),
        value: r.get(3),
        received_at: Timestamp(r.get(4)),
    }
}

/// Reads every fact of the given accounts (or all) in one query per table, grouped by account.
pub(crate) async fn load_book(pool: &SqlitePool, ids: Option<&[AccountId]>) -> Result<Book> {
    let mut book: FxHashMap<String, AccountFacts> = FxHashMap::default();
    let acc_rows = fetch(pool, "SELECT id FROM accounts", "id", ids).await?;
    for r in &acc_rows {
        book.entry(r.get(0)).or_default();
    }
    for r in fetch(
        pool,
        "SELECT account_id, attr, valid_from, value, received_at FROM account_attrs",
        "account_id",
        ids,
    )
    .await?
    {
        let f = attr_fact(&r);
        book.entry(f.subject.clone()).or_default().attrs.push(f);
    }
    let mut contacts: FxHashMap<String, ContactFacts> = FxHashMap::default();
    for r in fetch(
        pool,
        "SELECT id, account_id, email, name, first_seen FROM contacts",
        "account_id",
        ids,
    )
    .await?
    {
        let c = Contact {
            id: ContactId(r.get(0)),
            account_id: AccountId(r.get(1)),
            email: r.get(2),
            name: r.get(3),
            first_seen: r.get::<Option<i64>, _>(4).map(Timestamp),
        };
        contacts.insert(
            c.id.0.clone(),
            ContactFacts {
                contact: c,
                attrs: Vec::new(),
            },
        );
    }
    let contact_attr_sql = "SELECT a.contact_id, a.attr, a.valid_from, a.value, a.received_at FROM contact_attrs a JOIN contacts c ON c.id = a.contact_id";
    for r in fetch(pool, contact_attr_sql, "c.account_id", ids).await? {
        let f = attr_fact(&r);
        if let Some(c) = contacts.get_mut(&f.subject) {
            c.attrs.push(f);
        }
    }
    for (_, c) in contacts {
        book.entry(c.contact.account_id.0.clone())
            .or_default()
            .contacts
            .push(c);
    }
    let ticket_sql = "SELECT id, account_id, contact_id, opened_at, closed_at, priority, status, escalated, first_response_minutes, \
                      resolution_minutes, sla_breached, csat, subject, body, received_at FROM tickets";
    for r in fetch(pool, ticket_sql, "account_id", ids).await? {
        let priority: String = r.get(5);
        let t = Ticket {
            id: r.get(0),
            account_id: AccountId(r.get(1)),
            contact_id: r.get::<Option<String>, _>(2).map(ContactId),
            opened_at: Timestamp(r.get(3)),
            closed_at: r.get::<Option<i64>, _>(4).map(Timestamp),
            priority: Priority::parse(&priority).map_err(|e| corrupt("tickets", e))?,
            status: r.get(6),
            escalated: r.get(7),
            first_response_minutes: r.get(8),
            resolution_minutes: r.get(9),
            sla_breached: r.get(10),
            csat: r.get(11),
            subject: r.get(12),
            body: r.get(13),
            received_at: Timestamp(r.get(14)),
        };
        book.entry(t.account_id.0.clone())
            .or_default()
            .tickets
            .push(t);
    }
    let billing_sql = "SELECT id, account_id, at, kind, amount, currency, mrr_delta, seats_delta, plan, received_at FROM billing_events";
    for r in fetch(pool, billing_sql, "account_id", ids).await? {
        let kind: String = r.get(3);
        let e = BillingEvent {
            id: r.get(0),
            account_id: AccountId(r.get(1)),
            at: Timestamp(r.get(2)),
            kind: BillingKind::parse(&kind).map_err(|e| corrupt("billing_events", e))?,
            amount: r.get::<Option<i64>, _>(4).map(|minor| Money {
                minor,
                currency: currency(r.get(5)),
            }),
            mrr_delta: r.get(6),
            seats_delta: r.get(7),
            plan: r.get(8),
            received_at: Timestamp(r.get(9)),
        };
        book.entry(e.account_id.0.clone())
            .or_default()
            .billing
            .push(e);
    }
    let sub_sql = "SELECT id, account_id, plan, start_day, end_day, mrr, currency, quantity, received_at FROM subscriptions";
    for r in fetch(pool, sub_sql, "account_id", ids).await? {
        let s = Subscription {
            id: r.get(0),
            account_id: AccountId(r.get(1)),
            plan: r.get(2),
            start: Day(r.get(3)),
            end: r.get::<Option<i32>, _>(4).map(Day),
            mrr: Money {
                minor: r.get(5),
                currency: currency(r.get(6)),
            },
            quantity: r.get(7),
            received_at: Timestamp(r.get(8)),
        };
        book.entry(s.account_id.0.clone())
            .or_default()
            .subscriptions
            .push(s);
    }
    let int_sql = "SELECT id, account_id, contact_id, at, kind, response, score, note, received_at FROM interactions";
    for r in fetch(pool, int_sql, "account_id", ids).await? {
        let kind: String = r.get(4);
        let response: Option<String> = r.get(5);
        let i = Interaction {
            id: r.get(0),
            account_id: AccountId(r.get(1)),
            contact_id: r.get::<Option<String>, _>(2).map(ContactId),
            at: Timestamp(r.get(3)),
            kind: InteractionKind::parse(&kind).map_err(|e| corrupt("interactions", e))?,
            response: response
                .map(|s| Response::parse(&s))
                .transpose()
                .map_err(|e| corrupt("interactions", e))?,
            score: r.get(6),
            note: r.get(7),
            received_at: Timestamp(r.get(8)),
        };
        book.entry(i.account_id.0.clone())
            .or_default()
            .interactions
            .push(i);
    }
    for r in fetch(
        pool,
        "SELECT account_id, day, kind, arr_delta, received_at FROM outcomes",
        "account_id",
        ids,
    )
    .await?
    {
        let kind: String = r.get(2);
        let o = Outcome {
            account_id: AccountId(r.get(0)),
            date: Day(r.get(1)),
            kind: OutcomeKind::parse(&kind).map_err(|e| corrupt("outcomes", e))?,
            arr_delta: r.get(3),
            received_at: Timestamp(r.get(4)),
        };
        book.entry(o.account_id.0.clone())
            .or_default()
            .outcomes
            .push(o);
    }
    let mut out = Book::default();
    for (id, mut facts) in book {
        facts.sort();
        out.accounts.insert(AccountId(id), facts);
    }
    Ok(out)
}

pub(crate) const ASSESSMENT_SELECT: &str =
    "SELECT account_id, as_of, health, risk_proxy, churn_probability, priority, owner, arr, reason, components FROM assessments";

pub(crate) fn assessment(r: &SqliteRow) -> Result<Assessment> {
    let comps: String = r.get(9);
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
        components: serde_json::from_str(&comps)
            .map_err(|e| corrupt("assessments", e.to_string()))?,
    })
}
