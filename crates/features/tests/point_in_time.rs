//! The point-in-time rule, end to end through the store: whatever is added with an event time on or after
//! day D (later ARR, seats, owner and contact-role changes, tickets, billing, interactions, events) leaves
//! every feature as of D unchanged.

use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    BillingEvent, BillingKind, Contact, Interaction, InteractionKind, Priority, Response, Ticket,
};
use bellwether_core::{AccountId, ContactId, Day, Money, Timestamp};
use bellwether_features::{compute, BookContext};
use bellwether_store::{Store, WriteBatch};
use bellwether_store_sqlite::SqliteStore;
use proptest::prelude::*;

const D: i32 = 20_000; // 2024-10-04

#[derive(Clone, Debug)]
enum Fact {
    Attr(&'static str, u32),
    Role(&'static str),
    Ticket(bool),
    Payment,
    Qbr(bool),
    Events(u32),
}

fn arb_fact() -> impl Strategy<Value = (Fact, i32)> {
    let f = prop_oneof![
        (
            prop::sample::select(vec!["arr", "seats", "owner", "plan", "renewal_date"]),
            1u32..500
        )
            .prop_map(|(a, v)| Fact::Attr(a, v)),
        prop::sample::select(vec!["champion", "executive_sponsor", "user", "left"])
            .prop_map(Fact::Role),
        any::<bool>().prop_map(Fact::Ticket),
        Just(Fact::Payment),
        any::<bool>().prop_map(Fact::Qbr),
        (1u32..20).prop_map(Fact::Events),
    ];
    (f, 0i32..200)
}

fn batch(facts: &[(Fact, i32)], offset: i32, tag: &str) -> WriteBatch {
    let acc = AccountId("acme".into());
    let mut b = WriteBatch {
        source: tag.into(),
        kind: "test".into(),
        chunks: vec![xxhash(tag)],
        ..Default::default()
    };
    for (i, (f, day)) in facts.iter().enumerate() {
        let day = Day(offset + day);
        let at = Timestamp(day.start().0 + 3_600_000);
        let id = format!("{tag}-{i}");
        match f {
            Fact::Attr(a, v) => {
                let value = match *a {
                    "arr" => (*v as i64 * 100_000).to_string(),
                    "renewal_date" => Day(D + *v as i32).to_string(),
                    "owner" | "plan" => format!("{a}-{v}"),
                    _ => v.to_string(),
                };
                b.account_attrs.push(AttrFact {
                    subject: "acme".into(),
                    attr: a.to_string(),
                    value: Some(value),
                    valid_from: at,
                    received_at: at,
                });
            }
            Fact::Role(r) => {
                let (attr, value) = if *r == "left" {
                    ("status", "left")
                } else {
                    ("role", *r)
                };
                b.contacts.push(Contact {
                    id: ContactId("c1".into()),
                    account_id: acc.clone(),
                    email: None,
                    name: None,
                    first_seen: Some(at),
                });
                b.contact_attrs.push(AttrFact {
                    subject: "c1".into(),
                    attr: attr.into(),
                    value: Some(value.into()),
                    valid_from: at,
                    received_at: at,
                });
            }
            Fact::Ticket(urgent) => b.tickets.push(Ticket {
                id,
                account_id: acc.clone(),
                contact_id: None,
                opened_at: at,
                closed_at: None,
                priority: if *urgent {
                    Priority::Urgent
                } else {
                    Priority::Low
                },
                status: "open".into(),
                escalated: *urgent,
                first_response_minutes: None,
                resolution_minutes: None,
                sla_breached: *urgent,
                csat: None,
                subject: if *urgent {
                    "Unacceptable: still broken".into()
                } else {
                    "Thanks, quick question".into()
                },
                body: String::new(),
                sentiment: None,
                received_at: at,
            }),
            Fact::Payment => b.billing.push(BillingEvent {
                id,
                account_id: acc.clone(),
                at,
                kind: BillingKind::PaymentFailed,
                amount: Some(Money::usd(100)),
                mrr_delta: None,
                seats_delta: Some(-1),
                plan: None,
                received_at: at,
            }),
            Fact::Qbr(ok) => b.interactions.push(Interaction {
                id,
                account_id: acc.clone(),
                contact_id: None,
                at,
                kind: InteractionKind::QbrInvite,
                response: Some(if *ok {
                    Response::Accepted
                } else {
                    Response::Ignored
                }),
                score: None,
                note: String::new(),
                received_at: at,
            }),
            Fact::Events(n) => {
                let m = b.series.entry(acc.clone()).or_default();
                for metric in ["event:login", "active_users"] {
                    let pts = m.entry(metric.into()).or_default();
                    pts.retain(|p: &(Day, f64)| p.0 != day);
                    pts.push((day, *n as f64));
                    pts.sort_by_key(|p| p.0);
                }
            }
        }
    }
    b
}

fn xxhash(s: &str) -> u128 {
    s.bytes().fold(0u128, |h, c| {
        h.wrapping_mul(1_000_003).wrapping_add(c as u128)
    })
}

async fn features(s: &SqliteStore) -> bellwether_features::AccountFeatures {
    let book = s.load_book(None).await.unwrap();
    let series = s.load_series(None).await.unwrap();
    // The engine builds the context from the store's summary; it must agree with the one built from the book.
    let ctx = BookContext::from_summary(&s.book_summary().await.unwrap(), Day(D));
    let full = BookContext::build(&book, Day(D));
    assert_eq!(
        (ctx.has_tickets, ctx.has_interactions, ctx.has_billing),
        (full.has_tickets, full.has_interactions, full.has_billing)
    );
    let id = AccountId("acme".into());
    compute(
        &id,
        &book.accounts[&id],
        series.first().map(|(_, s)| s),
        Day(D),
        &ctx,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn facts_dated_after_d_never_change_features_as_of_d(
        before in prop::collection::vec(arb_fact(), 1..30),
        after in prop::collection::vec(arb_fact(), 1..30),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let s = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
            // Base facts fall in the 200 days before D; later ones on or after D.
            s.write(batch(&before, D - 200, "before")).await.unwrap();
            let reference = features(&s).await;
            s.write(batch(&after, D, "after")).await.unwrap();
            prop_assert_eq!(reference, features(&s).await);
            Ok(())
        })?;
    }
}
