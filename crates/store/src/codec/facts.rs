//! One account's facts (attribute history, contacts with their histories, tickets, billing events,
//! subscriptions, interactions, outcomes) packed into one blob, so the bulk book read is one sequential scan of
//! `facts_packed` instead of a scan of every fact table.
//!
//! The fact tables stay the record: a pack is derived from them and rebuilt from them whenever one of the
//! account's rows changes (each backend tracks which packs are out of date). The blob is a serialisation of
//! [`AccountFacts`] exactly as the table read produces it (lists already in event-time order), so decoding a
//! pack gives the same value as reading the tables. Numbers are varints (signed ones zigzagged), floats their
//! 8 bytes, text length-prefixed UTF-8, optional values tagged.

use crate::{AccountFacts, ContactFacts};
use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    BillingEvent, BillingKind, Contact, Interaction, InteractionKind, Outcome, OutcomeKind,
    Priority, Response, Subscription, Ticket,
};
use bellwether_core::{AccountId, ContactId, Currency, Day, Money, Timestamp};

/// Version 2 added each subscription's billing term; packs of version 1 read without it.
const FORMAT_VERSION: u8 = 2;

/// Why a pack could not be read.
#[derive(Debug)]
pub struct Damaged {
    /// Offset of the problem.
    pub at: usize,
    /// What was wrong.
    pub why: String,
}

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "packed facts are damaged at byte {}: {}",
            self.at, self.why
        )
    }
}

struct W(Vec<u8>);

impl W {
    fn u(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn i(&mut self, v: i64) {
        self.u(((v << 1) ^ (v >> 63)) as u64);
    }
    fn t(&mut self, t: Timestamp) {
        self.i(t.0);
    }
    fn s(&mut self, s: &str) {
        self.u(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn os(&mut self, s: Option<&str>) {
        match s {
            None => self.u(0),
            Some(s) => {
                self.u(s.len() as u64 + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn oi(&mut self, v: Option<i64>) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.i(v);
            }
        }
    }
    fn of(&mut self, v: Option<f64>) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.0.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    fn b(&mut self, v: bool) {
        self.0.push(v as u8);
    }
    fn attrs(&mut self, facts: &[AttrFact]) {
        self.u(facts.len() as u64);
        for f in facts {
            self.s(&f.attr);
            self.t(f.valid_from);
            self.os(f.value.as_deref());
            self.t(f.received_at);
        }
    }
}

/// Packs an account's facts (sorted as [`AccountFacts::sort`] leaves them) into `out`, replacing its content.
pub fn encode_into(f: &AccountFacts, out: &mut Vec<u8>) {
    out.clear();
    let mut w = W(std::mem::take(out));
    w.0.push(FORMAT_VERSION);
    w.attrs(&f.attrs);
    w.u(f.contacts.len() as u64);
    for c in &f.contacts {
        w.s(&c.contact.id.0);
        w.s(&c.contact.account_id.0);
        w.os(c.contact.email.as_deref());
        w.os(c.contact.name.as_deref());
        w.oi(c.contact.first_seen.map(|t| t.0));
        w.attrs(&c.attrs);
    }
    w.u(f.tickets.len() as u64);
    for t in &f.tickets {
        w.s(&t.id);
        w.os(t.contact_id.as_ref().map(|c| c.0.as_str()));
        w.t(t.opened_at);
        w.oi(t.closed_at.map(|c| c.0));
        w.s(t.priority.as_str());
        w.s(&t.status);
        w.b(t.escalated);
        w.of(t.first_response_minutes);
        w.of(t.resolution_minutes);
        w.b(t.sla_breached);
        w.of(t.csat);
        w.s(&t.subject);
        w.s(&t.body);
        w.of(t.sentiment);
        w.t(t.received_at);
    }
    w.u(f.billing.len() as u64);
    for b in &f.billing {
        w.s(&b.id);
        w.t(b.at);
        w.s(b.kind.as_str());
        match b.amount {
            None => w.0.push(0),
            Some(m) => {
                w.0.push(1);
                w.i(m.minor);
                w.s(m.currency.as_str());
            }
        }
        w.oi(b.mrr_delta);
        w.oi(b.seats_delta);
        w.os(b.plan.as_deref());
        w.t(b.received_at);
    }
    w.u(f.subscriptions.len() as u64);
    for s in &f.subscriptions {
        w.s(&s.id);
        w.s(&s.plan);
        w.i(s.start.0 as i64);
        w.oi(s.end.map(|d| d.0 as i64));
        w.i(s.mrr.minor);
        w.s(s.mrr.currency.as_str());
        w.i(s.quantity);
        w.t(s.received_at);
        w.oi(s.term_days.map(i64::from));
    }
    w.u(f.interactions.len() as u64);
    for i in &f.interactions {
        w.s(&i.id);
        w.os(i.contact_id.as_ref().map(|c| c.0.as_str()));
        w.t(i.at);
        w.s(i.kind.as_str());
        w.os(i.response.map(|r| r.as_str()));
        w.of(i.score);
        w.s(&i.note);
        w.t(i.received_at);
    }
    w.u(f.outcomes.len() as u64);
    for o in &f.outcomes {
        w.i(o.date.0 as i64);
        w.s(o.kind.as_str());
        w.oi(o.arr_delta);
        w.t(o.received_at);
    }
    *out = w.0;
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

type Res<T> = std::result::Result<T, Damaged>;

impl<'a> R<'a> {
    fn bad<T>(&self, why: impl Into<String>) -> Res<T> {
        Err(Damaged {
            at: self.at,
            why: why.into(),
        })
    }
    #[inline]
    fn u(&mut self) -> Res<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let Some(&c) = self.b.get(self.at) else {
                return self.bad("truncated number");
            };
            self.at += 1;
            v |= ((c & 0x7f) as u64) << shift;
            if c < 0x80 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return self.bad("number too long");
            }
        }
    }
    fn i(&mut self) -> Res<i64> {
        let v = self.u()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    fn t(&mut self) -> Res<Timestamp> {
        self.i().map(Timestamp)
    }
    fn day(&mut self) -> Res<Day> {
        let v = self.i()?;
        match i32::try_from(v) {
            Ok(d) => Ok(Day(d)),
            Err(_) => self.bad("day out of range"),
        }
    }
    fn len(&mut self) -> Res<usize> {
        let n = self.u()? as usize;
        if n > self.b.len() - self.at.min(self.b.len()) {
            return self.bad("length past the end");
        }
        Ok(n)
    }
    fn str(&mut self, n: usize) -> Res<&'a str> {
        let Some(bytes) = self.b.get(self.at..self.at + n) else {
            return self.bad("truncated text");
        };
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                self.at += n;
                Ok(s)
            }
            Err(_) => self.bad("text is not UTF-8"),
        }
    }
    fn sr(&mut self) -> Res<&'a str> {
        let n = self.len()?;
        self.str(n)
    }
    fn s(&mut self) -> Res<String> {
        self.sr().map(str::to_string)
    }
    fn os(&mut self) -> Res<Option<String>> {
        match self.u()? {
            0 => Ok(None),
            n => {
                let n = n as usize - 1;
                Ok(Some(self.str(n)?.to_string()))
            }
        }
    }
    fn tag(&mut self) -> Res<bool> {
        match self.b.get(self.at) {
            Some(0) => {
                self.at += 1;
                Ok(false)
            }
            Some(1) => {
                self.at += 1;
                Ok(true)
            }
            Some(_) => self.bad("bad tag"),
            None => self.bad("truncated tag"),
        }
    }
    fn oi(&mut self) -> Res<Option<i64>> {
        if self.tag()? {
            self.i().map(Some)
        } else {
            Ok(None)
        }
    }
    fn f(&mut self) -> Res<f64> {
        let Some(bytes) = self.b.get(self.at..self.at + 8) else {
            return self.bad("truncated float");
        };
        self.at += 8;
        Ok(f64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }
    fn of(&mut self) -> Res<Option<f64>> {
        if self.tag()? {
            self.f().map(Some)
        } else {
            Ok(None)
        }
    }
    fn b(&mut self) -> Res<bool> {
        self.tag()
    }
    fn currency(&mut self) -> Res<Currency> {
        let s = self.sr()?;
        Ok(Currency::parse(s).unwrap_or(Currency::USD))
    }
    fn count(&mut self) -> Res<usize> {
        // Every record takes at least one byte, so a count beyond the rest of the blob is damage.
        self.len()
    }
    fn attrs(&mut self, subject: &str) -> Res<Vec<AttrFact>> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(AttrFact {
                subject: subject.to_string(),
                attr: self.s()?,
                valid_from: self.t()?,
                value: self.os()?,
                received_at: self.t()?,
            });
        }
        Ok(out)
    }
}

fn parsed<T>(r: &R, v: std::result::Result<T, String>) -> Res<T> {
    v.or_else(|m| r.bad(m))
}

/// A pack LZ4-compressed behind a marker byte, for a backend whose own storage would otherwise compress it
/// more slowly (PostgreSQL's TOAST: reading 800 MB of packs it had compressed took 3.0 s of server time on
/// the 100k book). [`decode`] reads either form.
pub fn compress(pack: &[u8]) -> Vec<u8> {
    super::marked_lz4(pack)
}

/// Reads a pack written by [`encode_into`] (plain or [`compress`]ed) for the account `id`.
pub fn decode(id: &str, b: &[u8]) -> Res<AccountFacts> {
    let plain = super::unmarked(b).map_err(|e| Damaged {
        at: 0,
        why: format!("the compressed pack does not decompress: {e}"),
    })?;
    decode_plain(id, &plain)
}

fn decode_plain(id: &str, b: &[u8]) -> Res<AccountFacts> {
    let mut r = R { b, at: 0 };
    let version = match b.first() {
        Some(&v @ (1 | FORMAT_VERSION)) => v,
        _ => return r.bad("unknown format version"),
    };
    r.at = 1;
    let mut f = AccountFacts {
        attrs: r.attrs(id)?,
        ..Default::default()
    };
    let account = AccountId(id.to_string());
    let n = r.count()?;
    f.contacts.reserve_exact(n);
    for _ in 0..n {
        let cid = r.s()?;
        let contact = Contact {
            account_id: AccountId(r.s()?),
            email: r.os()?,
            name: r.os()?,
            first_seen: r.oi()?.map(Timestamp),
            id: ContactId(cid),
        };
        let attrs = r.attrs(&contact.id.0)?;
        f.contacts.push(ContactFacts { contact, attrs });
    }
    let n = r.count()?;
    f.tickets.reserve_exact(n);
    for _ in 0..n {
        f.tickets.push(Ticket {
            id: r.s()?,
            account_id: account.clone(),
            contact_id: r.os()?.map(ContactId),
            opened_at: r.t()?,
            closed_at: r.oi()?.map(Timestamp),
            priority: {
                let s = r.sr()?;
                parsed(&r, Priority::parse(s))?
            },
            status: r.s()?,
            escalated: r.b()?,
            first_response_minutes: r.of()?,
            resolution_minutes: r.of()?,
            sla_breached: r.b()?,
            csat: r.of()?,
            subject: r.s()?,
            body: r.s()?,
            sentiment: r.of()?,
            received_at: r.t()?,
        });
    }
    let n = r.count()?;
    f.billing.reserve_exact(n);
    for _ in 0..n {
        f.billing.push(BillingEvent {
            id: r.s()?,
            account_id: account.clone(),
            at: r.t()?,
            kind: {
                let s = r.sr()?;
                parsed(&r, BillingKind::parse(s))?
            },
            amount: if r.tag()? {
                Some(Money {
                    minor: r.i()?,
                    currency: r.currency()?,
                })
            } else {
                None
            },
            mrr_delta: r.oi()?,
            seats_delta: r.oi()?,
            plan: r.os()?,
            received_at: r.t()?,
        });
    }
    let n = r.count()?;
    f.subscriptions.reserve_exact(n);
    for _ in 0..n {
        f.subscriptions.push(Subscription {
            id: r.s()?,
            account_id: account.clone(),
            plan: r.s()?,
            start: r.day()?,
            end: if r.tag()? { Some(r.day()?) } else { None },
            mrr: Money {
                minor: r.i()?,
                currency: r.currency()?,
            },
            quantity: r.i()?,
            received_at: r.t()?,
            term_days: if version >= 2 {
                r.oi()?.map(|d| d as i32)
            } else {
                None
            },
        });
    }
    let n = r.count()?;
    f.interactions.reserve_exact(n);
    for _ in 0..n {
        f.interactions.push(Interaction {
            id: r.s()?,
            account_id: account.clone(),
            contact_id: r.os()?.map(ContactId),
            at: r.t()?,
            kind: {
                let s = r.sr()?;
                parsed(&r, InteractionKind::parse(s))?
            },
            response: match r.u()? {
                0 => None,
                n => {
                    let s = r.str(n as usize - 1)?;
                    Some(parsed(&r, Response::parse(s))?)
                }
            },
            score: r.of()?,
            note: r.s()?,
            received_at: r.t()?,
        });
    }
    let n = r.count()?;
    f.outcomes.reserve_exact(n);
    for _ in 0..n {
        f.outcomes.push(Outcome {
            account_id: account.clone(),
            date: r.day()?,
            kind: {
                let s = r.sr()?;
                parsed(&r, OutcomeKind::parse(s))?
            },
            arr_delta: r.oi()?,
            received_at: r.t()?,
        });
    }
    if r.at != b.len() {
        return r.bad("trailing bytes");
    }
    Ok(f)
}
