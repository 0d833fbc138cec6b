//! Reads of the book: the fact tables into [`AccountFacts`] (set-based, for rebuilding packs), the packed facts
//! and series in bulk, and the rebuild of out-of-date packs.

use crate::pool::{corrupt, db_err};
use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    BillingEvent, BillingKind, Contact, Interaction, InteractionKind, Outcome, OutcomeKind,
    Priority, Response, Subscription, Ticket,
};
use bellwether_core::{AccountId, ContactId, Currency, Day, Money, Timestamp};
use bellwether_store::codec::{docs, facts};
use bellwether_store::{AccountFacts, Book, ContactFacts, Result, StoreError};
use rustc_hash::FxHashMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

fn currency(s: Option<&str>) -> Currency {
    s.and_then(|c| Currency::parse(c).ok())
        .unwrap_or(Currency::USD)
}

/// Which accounts' rows a read takes.
#[derive(Clone, Copy)]
pub(crate) enum Which<'a> {
    /// These accounts.
    Ids(&'a [String]),
}

/// Runs `select` over the rows of the accounts `which` names.
async fn rows<C: GenericClient>(c: &C, select: &str, which: Which<'_>) -> Result<Vec<Row>> {
    match which {
        Which::Ids(ids) => {
            let p: [&(dyn ToSql + Sync); 1] = [&ids];
            c.query(&format!("{select} WHERE account_id = ANY($1)"), &p)
                .await
        }
    }
    .map_err(db_err)
}

fn attr(r: &Row, subject: usize) -> AttrFact {
    AttrFact {
        subject: r.get(subject),
        attr: r.get(subject + 1),
        valid_from: Timestamp(r.get(subject + 2)),
        value: r.get(subject + 3),
        received_at: Timestamp(r.get(subject + 4)),
    }
}

/// Reads every fact of the accounts `ids` names from the tables, each account's lists in event-time order.
pub(crate) async fn load_tables<C: GenericClient>(c: &C, ids: Which<'_>) -> Result<Book> {
    let mut book: FxHashMap<String, AccountFacts> = FxHashMap::default();
    for r in rows(c, "SELECT account_id FROM accounts", ids).await? {
        book.entry(r.get(0)).or_default();
    }
    for r in rows(
        c,
        "SELECT account_id, attr, valid_from, value, received_at FROM account_attrs",
        ids,
    )
    .await?
    {
        let f = attr(&r, 0);
        book.entry(f.subject.clone()).or_default().attrs.push(f);
    }
    let mut contacts: FxHashMap<(String, String), ContactFacts> = FxHashMap::default();
    for r in rows(
        c,
        "SELECT account_id, id, email, name, first_seen FROM contacts",
        ids,
    )
    .await?
    {
        let contact = Contact {
            account_id: AccountId(r.get(0)),
            id: ContactId(r.get(1)),
            email: r.get(2),
            name: r.get(3),
            first_seen: r.get::<_, Option<i64>>(4).map(Timestamp),
        };
        contacts.insert(
            (contact.account_id.0.clone(), contact.id.0.clone()),
            ContactFacts {
                contact,
                attrs: Vec::new(),
            },
        );
    }
    for r in rows(
        c,
        "SELECT account_id, contact_id, attr, valid_from, value, received_at FROM contact_attrs",
        ids,
    )
    .await?
    {
        let account: String = r.get(0);
        let f = attr(&r, 1);
        if let Some(c) = contacts.get_mut(&(account, f.subject.clone())) {
            c.attrs.push(f);
        }
    }
    for (_, c) in contacts {
        book.entry(c.contact.account_id.0.clone())
            .or_default()
            .contacts
            .push(c);
    }
    let ticket_sql = "SELECT account_id, id, contact_id, opened_at, closed_at, priority, status, escalated, first_response_minutes, \
                      resolution_minutes, sla_breached, csat, subject, body, received_at, sentiment FROM tickets";
    for r in rows(c, ticket_sql, ids).await? {
        let account: String = r.get(0);
        let t = Ticket {
            account_id: AccountId(account.clone()),
            id: r.get(1),
            contact_id: r.get::<_, Option<String>>(2).map(ContactId),
            opened_at: Timestamp(r.get(3)),
            closed_at: r.get::<_, Option<i64>>(4).map(Timestamp),
            priority: Priority::parse(r.get(5)).map_err(|m| corrupt("tickets", m))?,
            status: r.get(6),
            escalated: r.get(7),
            first_response_minutes: r.get(8),
            resolution_minutes: r.get(9),
            sla_breached: r.get(10),
            csat: r.get(11),
            subject: r.get(12),
            body: r.get(13),
            received_at: Timestamp(r.get(14)),
            sentiment: r.get(15),
        };
        book.entry(account).or_default().tickets.push(t);
    }
    let billing_sql = "SELECT account_id, id, at, kind, amount, currency, mrr_delta, seats_delta, plan, received_at FROM billing_events";
    for r in rows(c, billing_sql, ids).await? {
        let account: String = r.get(0);
        let b = BillingEvent {
            account_id: AccountId(account.clone()),
            id: r.get(1),
            at: Timestamp(r.get(2)),
            kind: BillingKind::parse(r.get(3)).map_err(|m| corrupt("billing_events", m))?,
            amount: r.get::<_, Option<i64>>(4).map(|minor| Money {
                minor,
                currency: currency(r.get(5)),
            }),
            mrr_delta: r.get(6),
            seats_delta: r.get(7),
            plan: r.get(8),
            received_at: Timestamp(r.get(9)),
        };
        book.entry(account).or_default().billing.push(b);
    }
    let sub_sql = "SELECT account_id, id, plan, start_day, end_day, mrr, currency, quantity, received_at, term_days FROM subscriptions";
    for r in rows(c, sub_sql, ids).await? {
        let account: String = r.get(0);
        let s = Subscription {
            account_id: AccountId(account.clone()),
            id: r.get(1),
            plan: r.get(2),
            start: Day(r.get(3)),
            end: r.get::<_, Option<i32>>(4).map(Day),
            mrr: Money {
                minor: r.get(5),
                currency: currency(Some(r.get(6))),
            },
            quantity: r.get(7),
            received_at: Timestamp(r.get(8)),
            term_days: r.get(9),
        };
        book.entry(account).or_default().subscriptions.push(s);
    }
    let int_sql = "SELECT account_id, id, contact_id, at, kind, response, score, note, received_at FROM interactions";
    for r in rows(c, int_sql, ids).await? {
        let account: String = r.get(0);
        let response = match r.get::<_, Option<&str>>(5) {
            None => None,
            Some(s) => Some(Response::parse(s).map_err(|m| corrupt("interactions", m))?),
        };
        let i = Interaction {
            account_id: AccountId(account.clone()),
            id: r.get(1),
            contact_id: r.get::<_, Option<String>>(2).map(ContactId),
            at: Timestamp(r.get(3)),
            kind: InteractionKind::parse(r.get(4)).map_err(|m| corrupt("interactions", m))?,
            response,
            score: r.get(6),
            note: r.get(7),
            received_at: Timestamp(r.get(8)),
        };
        book.entry(account).or_default().interactions.push(i);
    }
    for r in rows(
        c,
        "SELECT account_id, day, kind, arr_delta, received_at FROM outcomes",
        ids,
    )
    .await?
    {
        let account: String = r.get(0);
        let o = Outcome {
            account_id: AccountId(account.clone()),
            date: Day(r.get(1)),
            kind: OutcomeKind::parse(r.get(2)).map_err(|m| corrupt("outcomes", m))?,
            arr_delta: r.get(3),
            received_at: Timestamp(r.get(4)),
        };
        book.entry(account).or_default().outcomes.push(o);
    }
    let mut out = Book::default();
    for (id, mut f) in book {
        f.sort();
        out.accounts.insert(AccountId(id), f);
    }
    Ok(out)
}

/// Accounts whose packs are rebuilt together.
const REPACK_SLICE: usize = 10_000;

/// Rebuilds the packs of the accounts in `facts_dirty` and clears them, inside `tx`. Returns how many packs
/// were written. The accounts' rows are read by their keys, a slice of accounts at a time.
pub(crate) async fn repack_dirty(tx: &tokio_postgres::Transaction<'_>) -> Result<usize> {
    let started = std::time::Instant::now();
    let dirty: Vec<String> = tx
        .query("DELETE FROM facts_dirty RETURNING account_id", &[])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if dirty.is_empty() {
        return Ok(0);
    }
    // In slices of accounts, so a rebuild of a whole large book holds one slice's rows at a time. By id, not
    // by key range: the database's collation may order ids otherwise than Rust does.
    let mut dirty = dirty;
    dirty.sort_unstable();
    for slice in dirty.chunks(REPACK_SLICE) {
        let mut book = load_tables(tx, Which::Ids(slice)).await?;
        let facts: Vec<AccountFacts> = slice
            .iter()
            .map(|id| {
                book.accounts
                    .remove(&AccountId(id.clone()))
                    .unwrap_or_default()
            })
            .collect();
        drop(book);
        let blobs = docs::par_map(&facts, |f| {
            let mut b = Vec::new();
            facts::encode_into(f, &mut b);
            Ok(facts::compress(&b))
        })
        .map_err(StoreError::Corrupt)?;
        tx.execute(
            "INSERT INTO facts_packed (account_id, packed) SELECT * FROM unnest($1::text[], $2::bytea[]) \
             ON CONFLICT (account_id) DO UPDATE SET packed = excluded.packed",
            &[&slice, &blobs],
        )
        .await
        .map_err(db_err)?;
    }
    tracing::debug!(
        accounts = dirty.len(),
        seconds = started.elapsed().as_secs_f64(),
        "packed facts rebuilt"
    );
    Ok(dirty.len())
}

/// Rows decoded together on the blocking pool.
const DECODE_PAGE: usize = 2_048;

/// Runs a query and decodes its rows while they arrive: each page of rows goes to the blocking pool as soon
/// as it fills, so decoding a whole book overlaps its transfer instead of following it.
pub(crate) async fn stream_decode<C: GenericClient, T: Send + 'static>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: fn(&Row) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    use futures_util::{pin_mut, TryStreamExt};
    let stream = c
        .query_raw(sql, params.iter().copied())
        .await
        .map_err(db_err)?;
    pin_mut!(stream);
    let mut tasks = Vec::new();
    let mut page = Vec::with_capacity(DECODE_PAGE);
    let spawn = |page: Vec<Row>| {
        tokio::task::spawn_blocking(move || {
            page.iter()
                .map(decode)
                .collect::<std::result::Result<Vec<T>, String>>()
        })
    };
    while let Some(row) = stream.try_next().await.map_err(db_err)? {
        page.push(row);
        if page.len() == DECODE_PAGE {
            tasks.push(spawn(std::mem::replace(
                &mut page,
                Vec::with_capacity(DECODE_PAGE),
            )));
        }
    }
    if !page.is_empty() {
        tasks.push(spawn(page));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.extend(
            t.await
                .map_err(|e| StoreError::Unavailable(format!("decoding rows failed: {e}")))?
                .map_err(StoreError::Corrupt)?,
        );
    }
    Ok(out)
}

/// An `(account, pack)` row's facts.
pub(crate) fn pack_row(r: &Row) -> std::result::Result<(AccountId, AccountFacts), String> {
    let id: &str = r.get(0);
    facts::decode(id, r.get(1))
        .map(|f| (AccountId::from(id), f))
        .map_err(|e| format!("facts of account {id}: {e}"))
}
