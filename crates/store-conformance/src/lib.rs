//! The store conformance suite: the behaviours every backend of [`Store`] must have, written once against the
//! trait. A backend runs them from its own tests with [`conformance!`], which makes one test per behaviour,
//! each on a fresh store from the backend's opener:
//!
//! ```ignore
//! bellwether_store_conformance::conformance!(async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
//!     (store, dir) // the second value is kept alive for the test (a temporary directory, a database guard)
//! });
//! ```
//!
//! Each behaviour panics with what differed; facts are written through [`Store::write`] as an import would.

use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    Assessment, BillingEvent, BillingKind, CommonFeatures, CommonScope, Contact, Driver,
    HealthComponent, Impact, Interaction, InteractionKind, Outcome, OutcomeKind, PeerStats,
    Prediction, Priority, Response, Severity, Signal, SignalStatus, Subscription, Ticket,
};
use bellwether_core::people::Person;
use bellwether_core::series::UsageSource;
use bellwether_core::{AccountId, ContactId, Currency, Day, Money, Timestamp};
use bellwether_store::{
    ApiKey, AppliedGroups, CapCheck, Delivery, DistinctUsers, InboxMessage, KeyScope, LiveBatch,
    LiveStore, ModelRecord, OutboxEntry, OutboxFilter, OutboxItem, OutboxState, PendingMessage,
    Ranking, SignalFilter, Store, StoreError, WriteBatch,
};

/// Makes one `#[tokio::test]` per behaviour, each on a fresh store from `$open` (an async block returning
/// the store, a [`LiveStore`], and a value kept alive for the test).
#[macro_export]
macro_rules! conformance {
    ($open:expr) => {
        $crate::conformance!(@each $open;
            facts_read_back_as_written,
            a_batch_written_twice_changes_nothing,
            attributes_read_as_of_a_day,
            a_fact_moved_to_another_account_leaves_the_first,
            series_merge_and_read_back,
            one_write_over_a_large_book,
            ids_sort_by_their_bytes,
            assessments_keep_the_current_day_and_history,
            signals_are_upserted_by_id_and_filtered,
            the_model_registry_has_one_active_version,
            predictions_read_by_account_and_day_and_rank_the_assessment,
            segment_medians_and_common_features_by_day,
            keys_are_found_by_hash_and_revoked,
            accepted_messages_are_applied_exactly_once,
            live_writes_mark_their_accounts_due_until_assessed,
            distinct_users_are_counted_exactly,
            links_and_pending_messages,
            a_job_slot_runs_once_and_is_taken_over_when_its_lease_runs_out,
            the_outbox_delivers_each_decision_once_and_at_least_once,
            people_and_what_each_was_sent,
            a_daily_cap_counts_each_alert_once_across_workers,
        );
    };
    (@each $open:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _keep) = $open.await;
                $crate::$name(&store).await;
            }
        )*
    };
}

/// An account id (a fixture for a backend's own tests too, as are [`fact`], [`ticket`] and [`every_kind`]).
pub fn id(s: &str) -> AccountId {
    AccountId(s.into())
}

/// An attribute change received 5 ms after it became valid.
pub fn fact(subject: &str, attr: &str, at: i64, value: Option<&str>) -> AttrFact {
    AttrFact {
        subject: subject.into(),
        attr: attr.into(),
        valid_from: Timestamp(at),
        value: value.map(str::to_string),
        received_at: Timestamp(at + 5),
    }
}

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// An open high-priority ticket of contact `c1`, opened on `day`, with text that needs escaping.
pub fn ticket(tid: &str, account: &str, day: i32) -> Ticket {
    Ticket {
        id: tid.into(),
        account_id: id(account),
        contact_id: Some(ContactId("c1".into())),
        opened_at: Timestamp(i64::from(day) * DAY_MS),
        closed_at: None,
        priority: Priority::parse("high").unwrap(),
        status: "open".into(),
        escalated: false,
        first_response_minutes: Some(12.5),
        resolution_minutes: None,
        sla_breached: false,
        csat: Some(4.0),
        subject: "Export fails".into(),
        body: "Ünïcode body, \"quoted\"".into(),
        sentiment: Some(-0.25),
        received_at: Timestamp(i64::from(day) * DAY_MS + 1),
    }
}

/// A batch with a record of every kind for two accounts (`a1`, `a2`).
pub fn every_kind() -> WriteBatch {
    WriteBatch {
        source: "conformance".into(),
        kind: "mixed".into(),
        account_attrs: vec![
            fact("a1", "segment", 10 * DAY_MS, Some("smb")),
            fact("a1", "segment", 40 * DAY_MS, Some("enterprise")),
            fact("a2", "owner", 0, Some("ann@example.com")),
        ],
        contacts: vec![Contact {
            id: ContactId("c1".into()),
            account_id: id("a1"),
            email: Some("x@example.com".into()),
            name: Some("Xia".into()),
            first_seen: Some(Timestamp(5)),
        }],
        contact_attrs: vec![fact("c1", "role", 7, Some("champion"))],
        tickets: vec![ticket("t1", "a1", 30), ticket("t2", "a1", 31)],
        billing: vec![BillingEvent {
            id: "b1".into(),
            account_id: id("a2"),
            at: Timestamp(20 * DAY_MS),
            kind: BillingKind::parse("payment_failed").unwrap(),
            amount: Some(Money {
                minor: -1234,
                currency: Currency::parse("EUR").unwrap(),
            }),
            mrr_delta: None,
            seats_delta: Some(-3),
            plan: Some("pro".into()),
            received_at: Timestamp(20 * DAY_MS + 1),
        }],
        subscriptions: vec![Subscription {
            id: "s1".into(),
            account_id: id("a1"),
            plan: "pro".into(),
            start: Day(-3),
            end: Some(Day(400)),
            mrr: Money {
                minor: 9900,
                currency: Currency::USD,
            },
            quantity: 10,
            term_days: Some(365),
            received_at: Timestamp(2),
        }],
        interactions: vec![Interaction {
            id: "i1".into(),
            account_id: id("a2"),
            contact_id: None,
            at: Timestamp(50 * DAY_MS),
            kind: InteractionKind::parse("nps").unwrap(),
            response: Some(Response::parse("accepted").unwrap()),
            score: Some(3.0),
            note: "slow".into(),
            received_at: Timestamp(50 * DAY_MS + 1),
        }],
        outcomes: vec![Outcome {
            account_id: id("a1"),
            date: Day(500),
            kind: OutcomeKind::parse("churned").unwrap(),
            arr_delta: Some(-100),
            received_at: Timestamp(9),
        }],
        ..Default::default()
    }
}

/// Every record written comes back in the account's facts, field for field.
pub async fn facts_read_back_as_written<S: Store>(s: &S) {
    let b = every_kind();
    s.write(every_kind()).await.unwrap();
    s.settle().await.unwrap();
    let book = s.load_book(None).await.unwrap();
    assert_eq!(
        book.accounts.keys().collect::<Vec<_>>(),
        [&id("a1"), &id("a2")]
    );
    let (a1, a2) = (&book.accounts[&id("a1")], &book.accounts[&id("a2")]);
    let mut tickets = a1.tickets.clone();
    tickets.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(tickets, b.tickets);
    assert_eq!(a1.subscriptions, b.subscriptions);
    assert_eq!(a1.outcomes, b.outcomes);
    assert_eq!(a2.billing, b.billing);
    assert_eq!(a2.interactions, b.interactions);
    assert_eq!(a1.contacts.len(), 1);
    assert_eq!(a1.contacts[0].contact, b.contacts[0]);
    assert_eq!(
        s.account_ids().await.unwrap(),
        [id("a1"), id("a2")],
        "every account, in order"
    );
    let owners = s.account_attr("owner").await.unwrap();
    assert_eq!(owners, [(id("a2"), "ann@example.com".to_string())]);
    // One account alone, and an unknown one asked with it.
    let one = s.load_book(Some(&[id("a2"), id("zz")])).await.unwrap();
    assert_eq!(one.accounts.keys().collect::<Vec<_>>(), [&id("a2")]);
}

/// Re-sending the same records (an import run again, an API retry) stores nothing twice.
pub async fn a_batch_written_twice_changes_nothing<S: Store>(s: &S) {
    s.write(every_kind()).await.unwrap();
    s.settle().await.unwrap();
    let first = s.load_book(None).await.unwrap();
    s.write(every_kind()).await.unwrap();
    s.settle().await.unwrap();
    let second = s.load_book(None).await.unwrap();
    for (k, f) in &first.accounts {
        let g = &second.accounts[k];
        assert_eq!(f.tickets.len(), g.tickets.len(), "{k}");
        assert_eq!(f.billing, g.billing, "{k}");
        assert_eq!(f.subscriptions, g.subscriptions, "{k}");
        assert_eq!(f.interactions, g.interactions, "{k}");
        assert_eq!(f.outcomes, g.outcomes, "{k}");
        assert_eq!(f.attrs.len(), g.attrs.len(), "{k}");
    }
}

/// An attribute's value as of a day is the one valid then: later changes are not seen earlier.
pub async fn attributes_read_as_of_a_day<S: Store>(s: &S) {
    s.write(every_kind()).await.unwrap();
    s.settle().await.unwrap();
    let book = s.load_book(Some(&[id("a1")])).await.unwrap();
    let a1 = &book.accounts[&id("a1")];
    assert_eq!(a1.view(&id("a1"), Day(5)).segment, None);
    assert_eq!(a1.view(&id("a1"), Day(20)).segment.as_deref(), Some("smb"));
    assert_eq!(
        a1.view(&id("a1"), Day(41)).segment.as_deref(),
        Some("enterprise")
    );
}

/// A ticket re-sent under another account and a contact moved leave the account they were in.
pub async fn a_fact_moved_to_another_account_leaves_the_first<S: Store>(s: &S) {
    s.write(every_kind()).await.unwrap();
    s.settle().await.unwrap();
    let mut b = WriteBatch {
        source: "conformance".into(),
        kind: "mixed".into(),
        ..Default::default()
    };
    b.tickets.push(ticket("t1", "a3", 30));
    b.contacts.push(Contact {
        id: ContactId("c1".into()),
        account_id: id("a2"),
        email: None,
        name: None,
        first_seen: None,
    });
    s.write(b).await.unwrap();
    s.settle().await.unwrap();
    let book = s.load_book(None).await.unwrap();
    let tickets = |a: &str| book.accounts.get(&id(a)).map_or(0, |f| f.tickets.len());
    assert_eq!((tickets("a1"), tickets("a3")), (1, 1));
    assert!(book.accounts[&id("a1")].contacts.is_empty());
    assert_eq!(book.accounts[&id("a2")].contacts.len(), 1);
}

/// Series points merge by day (events add up) and read back per account and metric.
pub async fn series_merge_and_read_back<S: Store>(s: &S) {
    let delta = |points: &[(i32, f64)]| {
        let mut b = WriteBatch {
            source: "conformance".into(),
            kind: "events".into(),
            ..Default::default()
        };
        b.series.insert(
            id("a1"),
            [(
                "event:Report Viewed".to_string(),
                points.iter().map(|(d, v)| (Day(*d), *v)).collect(),
            )]
            .into_iter()
            .collect(),
        );
        b
    };
    s.write(delta(&[(10, 2.0), (11, 1.0)])).await.unwrap();
    s.write(delta(&[(11, 3.0), (12, 5.0)])).await.unwrap();
    s.settle().await.unwrap();
    let series = s.load_series(None).await.unwrap();
    assert_eq!(series.len(), 1);
    let (who, ser) = &series[0];
    assert_eq!(who, &id("a1"));
    let points = &ser.get("event:Report Viewed").unwrap().points;
    assert_eq!(points, &[(Day(10), 2.0), (Day(11), 4.0), (Day(12), 5.0)]);
    assert_eq!(s.load_series(Some(&[id("a2")])).await.unwrap().len(), 0);
    let summary = s.book_summary().await.unwrap();
    assert_eq!(
        summary.metrics,
        [("event:Report Viewed".to_string(), Day(10))],
        "the metric is in the catalogue from its first day"
    );
    assert_eq!(summary.last_day, Some(Day(12)));
}

/// Account ids come back in byte order (`Zeta` before `acme`), as Rust sorts them, whatever the database's
/// collation, and every account's facts and series read back.
pub async fn ids_sort_by_their_bytes<S: Store>(s: &S) {
    let mut b = WriteBatch {
        source: "conformance".into(),
        kind: "mixed".into(),
        ..Default::default()
    };
    for (i, a) in ["beta", "Zeta", "acme", "Acme-2"].iter().enumerate() {
        b.tickets.push(ticket(&format!("t{i}"), a, 10 + i as i32));
        b.series.insert(
            id(a),
            [("event:Login".to_string(), vec![(Day(10), 1.0)])]
                .into_iter()
                .collect(),
        );
    }
    s.write(b).await.unwrap();
    s.settle().await.unwrap();
    let order = ["Acme-2", "Zeta", "acme", "beta"].map(id).to_vec();
    assert_eq!(s.account_ids().await.unwrap(), order);
    let series: Vec<AccountId> = s
        .load_series(None)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(series, order);
    let book = s.load_book(None).await.unwrap();
    assert!(
        order.iter().all(|a| book.accounts[a].tickets.len() == 1),
        "every account's ticket is in its facts"
    );
}

/// One write touching 20,000 accounts (an import chunk of a large book), twice: stored whole, then merged.
pub async fn one_write_over_a_large_book<S: Store>(s: &S) {
    let batch = |v: f64| {
        let mut b = WriteBatch {
            source: "conformance".into(),
            kind: "events".into(),
            ..Default::default()
        };
        for i in 0..20_000 {
            b.series.insert(
                id(&format!("acct-{i:05}")),
                [("event:Login".to_string(), vec![(Day(100), v)])]
                    .into_iter()
                    .collect(),
            );
        }
        b
    };
    assert_eq!(s.write(batch(1.0)).await.unwrap().series_accounts, 20_000);
    s.write(batch(2.0)).await.unwrap();
    let series = s.load_series(None).await.unwrap();
    assert_eq!(series.len(), 20_000);
    assert!(series
        .iter()
        .all(|(_, ser)| ser.get("event:Login").unwrap().points == [(Day(100), 3.0)]));
    assert_eq!(s.account_ids().await.unwrap().len(), 20_000);
}

fn assessment(account: &str, day: i32, health: f64) -> Assessment {
    Assessment {
        account_id: id(account),
        as_of: Day(day),
        health,
        components: vec![HealthComponent {
            name: "usage".into(),
            score: health,
            weight: 0.3,
            reason: "usage down 30% against its own 90-day baseline ".repeat(4),
        }],
        risk_proxy: 1.0 - health / 100.0,
        churn_probability: None,
        priority: 100.0 - health,
        reason: format!("health {health:.0}"),
        owner: Some("ann@example.com".into()),
        arr_minor: Some(1_000_000),
        impact: Some(Impact {
            arr: 10_000.0,
            churn: 1.0 - health / 100.0,
            days_to_renewal: Some(45),
            why: format!("$10k ARR at risk (health {health:.0}): usage down 30%."),
            play: "Call the champion.".into(),
            ..Default::default()
        }),
    }
}

/// The current pass replaces an account's current assessment and drops days after it; a past day's pass
/// only fills history; an ended account leaves the current list.
pub async fn assessments_keep_the_current_day_and_history<S: Store>(s: &S) {
    s.save_assessments(
        Day(100),
        true,
        &[assessment("a1", 100, 80.0), assessment("a2", 100, 60.0)],
        &[],
    )
    .await
    .unwrap();
    s.save_assessments(Day(90), false, &[assessment("a1", 90, 70.0)], &[])
        .await
        .unwrap();
    let current = s.assessments(None).await.unwrap();
    assert_eq!(current.len(), 2);
    assert!(current.iter().all(|a| a.as_of == Day(100)));
    assert_eq!(
        current
            .iter()
            .map(|a| a.account_id.as_str())
            .collect::<Vec<_>>(),
        ["a2", "a1"],
        "highest priority first"
    );
    assert_eq!(
        current[1],
        assessment("a1", 100, 80.0),
        "read back whole, long text included"
    );
    assert_eq!(s.latest_assessment_day().await.unwrap(), Some(Day(100)));
    // One owner's list: the current assessments of the accounts their current assessment gives them.
    let mut bob = assessment("a3", 100, 40.0);
    bob.owner = Some("bob@example.com".into());
    bob.impact = None;
    s.save_assessments(Day(100), true, &[bob.clone()], &[])
        .await
        .unwrap();
    assert_eq!(s.owner_assessments("bob@example.com").await.unwrap(), [bob]);
    assert_eq!(
        s.owner_assessments("ann@example.com")
            .await
            .unwrap()
            .iter()
            .map(|a| a.account_id.as_str())
            .collect::<Vec<_>>(),
        ["a2", "a1"]
    );
    // The account changes hands: the new owner's list has it, the old one's no longer.
    let mut moved = assessment("a3", 100, 40.0);
    moved.owner = Some("ann@example.com".into());
    s.save_assessments(Day(100), true, &[moved], &[])
        .await
        .unwrap();
    assert!(s
        .owner_assessments("bob@example.com")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.owner_assessments("ann@example.com").await.unwrap().len(),
        3
    );
    s.save_assessments(Day(100), true, &[], &[id("a3")])
        .await
        .unwrap();
    assert_eq!(
        s.owner_assessments("ann@example.com").await.unwrap().len(),
        2,
        "an ended account leaves its owner's list"
    );
    let history = s.assessment_history(&id("a1")).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|a| (a.as_of, a.health))
            .collect::<Vec<_>>(),
        [(Day(90), 70.0), (Day(100), 80.0)]
    );
    // An earlier current day (older data arrived first): later days are dropped for those accounts; a2 and a3
    // ended.
    s.save_assessments(
        Day(95),
        true,
        &[assessment("a1", 95, 75.0)],
        &[id("a2"), id("a3")],
    )
    .await
    .unwrap();
    let current = s.assessments(None).await.unwrap();
    assert_eq!(
        current
            .iter()
            .map(|a| (a.account_id.clone(), a.as_of))
            .collect::<Vec<_>>(),
        [(id("a1"), Day(95))]
    );
    assert!(
        s.assessments(Some(Day(100))).await.unwrap().is_empty(),
        "days after the current one are dropped for the pass's accounts, ended ones too"
    );
    assert_eq!(s.latest_assessment_day().await.unwrap(), Some(Day(95)));
}

/// A high-severity risk signal of an account, owned by ann@example.com (a fixture for other tests too).
pub fn signal(account: &str, kind: &str, status: SignalStatus) -> Signal {
    Signal {
        id: format!("{account}:{kind}:2026-01-01"),
        account_id: id(account),
        kind: kind.into(),
        direction: "risk".into(),
        severity: Severity::High,
        detected_at: Day(100),
        last_seen: Day(100),
        evidence: serde_json::json!({"drop": 0.4}),
        explanation: "usage fell 40%".into(),
        suggested_action: "call".into(),
        status,
        owner: Some("ann@example.com".into()),
        resolved_at: None,
        snoozed_until: None,
        snooze_reason: None,
        alerted: false,
    }
}

/// A signal saved again under its id is updated, not duplicated; filters select by account, status, kind,
/// owner and id.
pub async fn signals_are_upserted_by_id_and_filtered<S: Store>(s: &S) {
    s.save_signals(
        &[
            signal("a1", "usage_drop", SignalStatus::Open),
            signal("a2", "ticket_spike", SignalStatus::Open),
        ],
        &[],
    )
    .await
    .unwrap();
    let mut resolved = signal("a1", "usage_drop", SignalStatus::Resolved);
    resolved.resolved_at = Some(Day(110));
    resolved.last_seen = Day(109);
    s.save_signals(std::slice::from_ref(&resolved), &[])
        .await
        .unwrap();
    let all = s.signals(SignalFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let a1 = s
        .signals(SignalFilter {
            accounts: Some(vec![id("a1")]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a1, [resolved]);
    // A whole book's ids in one filter (more than a statement binds on SQLite) read the same rows, in order.
    let mut many: Vec<AccountId> = (0..40_000).map(|n| id(&format!("x{n:05}"))).collect();
    many.insert(20_000, id("a2"));
    many.push(id("a1"));
    let both = s
        .signals(SignalFilter {
            accounts: Some(many),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        both, all,
        "every signal of the named accounts, newest first"
    );
    let open = s
        .signals(SignalFilter {
            statuses: vec![SignalStatus::Open],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, "ticket_spike");
    let by_kind = s
        .signals(SignalFilter {
            kind: Some("usage_drop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_kind.len(), 1);
    let by_id = s
        .signals(SignalFilter {
            id: Some(open[0].id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_id, open);
    // A snooze keeps its end and its reason; an alerted signal stays marked.
    let mut snoozed = open[0].clone();
    snoozed.alerted = true;
    snoozed.status = SignalStatus::Snoozed;
    snoozed.snoozed_until = Some(Day(130));
    snoozed.snooze_reason = Some("champion on leave until the 15th".into());
    s.save_signals(std::slice::from_ref(&snoozed), &[])
        .await
        .unwrap();
    let back = s
        .signals(SignalFilter {
            id: Some(snoozed.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(back, [snoozed]);
}

fn record(trained_to: i32) -> ModelRecord {
    ModelRecord {
        version: 0,
        created_at: Timestamp(1),
        trained_from: Day(0),
        trained_to: Day(trained_to),
        engine: "gbdt".into(),
        features: vec!["arr".into(), "seats".into()],
        params: "{}".into(),
        metrics: "{}".into(),
        active: false,
        bundle: vec![1, 2, 3, trained_to as u8],
    }
}

/// Versions are numbered in order; at most one is active; listings leave the bundles out.
pub async fn the_model_registry_has_one_active_version<S: Store>(s: &S) {
    assert!(s.model(None).await.unwrap().is_none());
    let v1 = s.save_model(record(10), true).await.unwrap();
    let v2 = s.save_model(record(20), false).await.unwrap();
    assert!(v2 > v1);
    let active = s.model(None).await.unwrap().unwrap();
    assert_eq!(
        (active.version, active.bundle.clone()),
        (v1, vec![1, 2, 3, 10])
    );
    let listed = s.models().await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.version).collect::<Vec<_>>(),
        [v2, v1],
        "newest first"
    );
    assert!(listed.iter().all(|m| m.bundle.is_empty()));
    assert_eq!(listed.iter().filter(|m| m.active).count(), 1);
    s.activate_model(v2).await.unwrap();
    assert_eq!(s.model(None).await.unwrap().unwrap().version, v2);
    assert_eq!(
        s.model(Some(v1)).await.unwrap().unwrap().trained_to,
        Day(10)
    );
    assert_eq!(
        s.models()
            .await
            .unwrap()
            .iter()
            .filter(|m| m.active)
            .count(),
        1
    );
    assert!(s.activate_model(v2 + 100).await.is_err());
}

fn prediction(account: &str, day: i32, target: &str, p: f64, drivers: usize) -> Prediction {
    Prediction {
        account_id: id(account),
        as_of: Day(day),
        target: target.into(),
        probability: p,
        base_probability: 0.1,
        model_version: 1,
        drivers: (0..drivers)
            .map(|i| Driver {
                reason: "usage".into(),
                points: (p - 0.1) * 100.0 / drivers as f64,
                text: format!("product usage fell {i}0% against its own 90-day baseline"),
            })
            .collect(),
    }
}

/// Predictions read back per account and day (the latest by default), every target, drivers included; the
/// rankings they give land on the day's assessments; a save replaces the account's predictions of the day.
pub async fn predictions_read_by_account_and_day_and_rank_the_assessment<S: Store>(s: &S) {
    s.save_assessments(Day(100), true, &[assessment("a1", 100, 80.0)], &[])
        .await
        .unwrap();
    let day99 = [prediction("a1", 99, "churn_90d", 0.2, 0)];
    let day100 = [
        prediction("a1", 100, "churn_90d", 0.3, 5),
        prediction("a1", 100, "churn_180d", 0.4, 0),
        prediction("a2", 100, "churn_90d", 0.05, 2),
    ];
    s.save_predictions(&day99, &[]).await.unwrap();
    s.save_predictions(
        &day100,
        &[Ranking {
            account_id: id("a1"),
            as_of: Day(100),
            churn_probability: 0.3,
            priority: 3_000.0,
            impact: Impact {
                arr: 10_000.0,
                churn: 0.3,
                churn_target: Some("churn within 90 days".into()),
                why: "$10k ARR at risk: usage fell.".into(),
                ..Default::default()
            },
            reason: "$10k ARR at risk: usage fell.".into(),
        }],
    )
    .await
    .unwrap();
    let latest = s.predictions(None, None).await.unwrap();
    let key = |v: &[Prediction]| {
        let mut k: Vec<(String, String, f64, usize)> = v
            .iter()
            .map(|p| {
                (
                    p.account_id.0.clone(),
                    p.target.clone(),
                    p.probability,
                    p.drivers.len(),
                )
            })
            .collect();
        k.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        k
    };
    assert_eq!(key(&latest), key(&day100));
    let a1 = s.predictions(Some(&id("a1")), None).await.unwrap();
    assert_eq!(a1.len(), 2);
    let drivers = &a1.iter().find(|p| p.target == "churn_90d").unwrap().drivers;
    assert_eq!(drivers, &day100[0].drivers);
    assert_eq!(
        key(&s.predictions(Some(&id("a1")), Some(Day(99))).await.unwrap()),
        key(&day99)
    );
    let ranked = s.assessments(None).await.unwrap();
    assert_eq!(ranked[0].churn_probability, Some(0.3));
    assert_eq!(ranked[0].priority, 3_000.0);
    assert_eq!(ranked[0].reason, "$10k ARR at risk: usage fell.");
    assert_eq!(
        ranked[0]
            .impact
            .as_ref()
            .and_then(|i| i.churn_target.as_deref()),
        Some("churn within 90 days")
    );
    // A later save of an account's day replaces all its predictions of that day (another version may score
    // other targets); other accounts keep theirs.
    s.save_predictions(&[prediction("a1", 100, "churn_30d", 0.1, 0)], &[])
        .await
        .unwrap();
    let a1 = s
        .predictions(Some(&id("a1")), Some(Day(100)))
        .await
        .unwrap();
    assert_eq!(
        a1.iter().map(|p| p.target.as_str()).collect::<Vec<_>>(),
        ["churn_30d"]
    );
    assert_eq!(
        s.predictions(Some(&id("a2")), Some(Day(100)))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Segment medians and common features are kept per day and read back for that day (the medians: the latest
/// on or before it).
pub async fn segment_medians_and_common_features_by_day<S: Store>(s: &S) {
    let peers = vec![(
        "smb".to_string(),
        PeerStats {
            accounts: 12,
            utilisation: Some(0.4),
            events_per_seat: None,
            expansion_share: Some(0.15),
        },
    )];
    s.save_peer_stats(Day(100), &peers).await.unwrap();
    assert_eq!(s.peer_stats(Day(100)).await.unwrap(), peers);
    assert_eq!(
        s.peer_stats(Day(105)).await.unwrap(),
        peers,
        "the latest full pass on or before the day"
    );
    assert!(s.peer_stats(Day(99)).await.unwrap().is_empty());
    let common = vec![CommonFeatures {
        scope: CommonScope::Segment,
        group: "smb".into(),
        source: UsageSource::Events,
        accounts: 12,
        features: vec!["export".into(), "reports".into()],
    }];
    s.save_common_features(Day(100), &common).await.unwrap();
    assert_eq!(s.common_features(Day(100)).await.unwrap(), common);
}

/// A key is stored by its hash only, found by it, listed newest first and revoked by id.
pub async fn keys_are_found_by_hash_and_revoked<S: LiveStore>(s: &S) {
    let key = |n: i64, scope| ApiKey {
        id: format!("k{n}"),
        hash: format!("{n:064x}"),
        scope,
        name: format!("key {n}"),
        created_at: Timestamp(n),
        revoked_at: None,
    };
    s.create_key(&key(1, KeyScope::Ingest)).await.unwrap();
    s.create_key(&key(2, KeyScope::Read)).await.unwrap();
    assert_eq!(
        s.keys()
            .await
            .unwrap()
            .iter()
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    assert_eq!(
        s.key_by_hash(&format!("{:064x}", 1)).await.unwrap(),
        Some(key(1, KeyScope::Ingest))
    );
    assert_eq!(s.key_by_hash("nope").await.unwrap(), None);
    assert!(s.revoke_key("k1", Timestamp(9)).await.unwrap());
    assert!(!s.revoke_key("k9", Timestamp(9)).await.unwrap());
    let revoked = s
        .key_by_hash(&format!("{:064x}", 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(Timestamp(9)));
}

fn message(i: u32) -> InboxMessage {
    InboxMessage {
        id: format!("m{i}"),
        kind: 1,
        payload: format!("{{\"n\":{i}}}"),
    }
}

/// Accepted messages wait in the inbox in order; a resend is not new; a group recorded as applied by the
/// batch that writes its effects never comes back.
pub async fn accepted_messages_are_applied_exactly_once<S: LiveStore>(s: &S) {
    let (new, seq1) = s
        .accept(
            "segment",
            Timestamp(1),
            vec![message(1), message(2), message(1)],
        )
        .await
        .unwrap();
    assert_eq!(
        new,
        [true, true, false],
        "a second copy in the same call is not new"
    );
    let (new, seq2) = s
        .accept("segment", Timestamp(2), vec![message(2), message(3)])
        .await
        .unwrap();
    assert_eq!(new, [false, true]);
    let (new, none) = s
        .accept("segment", Timestamp(3), vec![message(3)])
        .await
        .unwrap();
    assert_eq!((new, none), (vec![false], None), "nothing new, no group");
    assert!(seq2 > seq1);
    assert_eq!(s.inbox_count().await.unwrap(), 3);
    let groups = s.inbox("segment", 100).await.unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].messages.len(), 2);
    assert_eq!(groups[1].messages, [(1, "{\"n\":3}".to_string())]);
    assert!(s.inbox("other", 100).await.unwrap().is_empty());
    let (seq1, seq2) = (seq1.unwrap(), seq2.unwrap());
    let leased = |first, last, groups, holder: &str| {
        Some(AppliedGroups {
            source: "segment".into(),
            first,
            last,
            groups,
            lease: Some(("apply_tracking".into(), holder.into())),
        })
    };
    let groups = |first, last| leased(first, last, 1, "p1");
    let now = Timestamp::now();
    assert!(s
        .claim_job(
            "apply_tracking",
            Timestamp(0),
            "p1",
            now,
            Timestamp(now.0 + 60_000)
        )
        .await
        .unwrap()
        .is_some());
    // A group's effects, recorded with it.
    let effects = |n: f64| {
        let mut batch = WriteBatch {
            source: "segment".into(),
            kind: "track".into(),
            ..Default::default()
        };
        batch.series.insert(
            id("a1"),
            [("event:Signed Up".to_string(), vec![(Day(10), n)])]
                .into_iter()
                .collect(),
        );
        batch
    };
    // The second group cannot be applied before the first: its effects would come first and the first's
    // would then be refused.
    let early = s
        .write_live(LiveBatch {
            batch: effects(100.0),
            applied: groups(seq2, seq2),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(early, Err(StoreError::Conflict(_))),
        "a group applied out of turn is refused: {early:?}"
    );
    // Both groups as one batch that says it holds one: a group between would be recorded without its effects.
    let short = s
        .write_live(LiveBatch {
            batch: effects(100.0),
            applied: leased(seq1, seq2, 1, "p1"),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(short, Err(StoreError::Conflict(_))),
        "a batch that skips a waiting group is refused: {short:?}"
    );
    // A process that does not hold the applier lease writes nothing.
    let stale = s
        .write_live(LiveBatch {
            batch: effects(100.0),
            applied: leased(seq1, seq1, 1, "p2"),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict(_))),
        "a process without the lease is refused: {stale:?}"
    );
    s.write_live(LiveBatch {
        batch: effects(2.0),
        applied: groups(seq1, seq1),
        ..Default::default()
    })
    .await
    .unwrap();
    // A second applier that read the same group is refused, and its effects are not stored.
    let again = s
        .write_live(LiveBatch {
            batch: effects(2.0),
            applied: groups(seq1, seq1),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "a group applied twice is refused: {again:?}"
    );
    let left = s.inbox("segment", 100).await.unwrap();
    assert_eq!(left.len(), 1, "the applied group is gone");
    assert_eq!(left[0].seq, seq2);
    assert_eq!(s.inbox_count().await.unwrap(), 1);
    s.settle().await.unwrap();
    let series = s.load_series(Some(&[id("a1")])).await.unwrap();
    assert_eq!(
        series[0].1.get("event:Signed Up").unwrap().points,
        [(Day(10), 2.0)],
        "the refused batches stored nothing"
    );
}

/// A live write marks the accounts it touches (series, facts, distinct users) as due for re-assessment; a
/// pass clears the marks it read before reading the data, and leaves those a later write renewed.
pub async fn live_writes_mark_their_accounts_due_until_assessed<S: LiveStore>(s: &S) {
    let before = Timestamp::now();
    let mut batch = WriteBatch {
        source: "segment".into(),
        kind: "track".into(),
        ..Default::default()
    };
    batch.series.insert(
        id("a2"),
        [("event:Signed Up".to_string(), vec![(Day(10), 1.0)])]
            .into_iter()
            .collect(),
    );
    batch.tickets.push(ticket("t1", "a1", 10));
    let distinct = DistinctUsers {
        series: vec![(id("a3"), "active_users".into())],
        facts: vec![(0, Day(10), 7)],
    };
    s.write_live(LiveBatch {
        batch,
        distinct,
        ..Default::default()
    })
    .await
    .unwrap();
    let later = Timestamp(Timestamp::now().0 + 1_000);
    assert_eq!(
        s.due_accounts(later, 100).await.unwrap(),
        [id("a1"), id("a2"), id("a3")],
        "every account the write touched is due"
    );
    assert_eq!(
        s.due_accounts(Timestamp(before.0 - 1_000), 100)
            .await
            .unwrap(),
        [],
        "none was marked before the write"
    );
    assert_eq!(s.due_accounts(later, 2).await.unwrap().len(), 2, "limit");
    // A pass reads the marks of its accounts, then their data; a write meanwhile renews a mark, which the
    // pass then leaves for the next one.
    let marks = s.due_marks(&[id("a1"), id("a2"), id("a9")]).await.unwrap();
    assert_eq!(
        marks.iter().map(|m| m.0.clone()).collect::<Vec<_>>(),
        [id("a1"), id("a2")],
        "an account without a mark has none"
    );
    let mut again = WriteBatch::default();
    again.tickets.push(ticket("t2", "a2", 11));
    s.write_live(LiveBatch {
        batch: again,
        ..Default::default()
    })
    .await
    .unwrap();
    s.clear_due(&marks).await.unwrap();
    assert_eq!(
        s.due_accounts(later, 100).await.unwrap(),
        [id("a2"), id("a3")],
        "the mark renewed after the pass read it stays"
    );
    let marks = s.due_marks(&[id("a2")]).await.unwrap();
    s.clear_due(&marks).await.unwrap();
    assert_eq!(s.due_accounts(later, 100).await.unwrap(), [id("a3")]);
}

/// Distinct users are counted exactly per account, series and day, however the users arrive across batches.
pub async fn distinct_users_are_counted_exactly<S: LiveStore>(s: &S) {
    let users = |facts: &[(i32, i64)]| LiveBatch {
        batch: WriteBatch {
            source: "segment".into(),
            kind: "track".into(),
            ..Default::default()
        },
        distinct: DistinctUsers {
            series: vec![(id("a1"), "active_users".into())],
            facts: facts.iter().map(|(d, u)| (0, Day(*d), *u)).collect(),
        },
        ..Default::default()
    };
    s.write_live(users(&[(10, 1), (10, 2), (10, 1), (11, 1)]))
        .await
        .unwrap();
    s.write_live(users(&[(10, 2), (10, 3), (11, 4)]))
        .await
        .unwrap();
    s.settle().await.unwrap();
    let series = s.load_series(Some(&[id("a1")])).await.unwrap();
    assert_eq!(
        series[0].1.get("active_users").unwrap().points,
        [(Day(10), 3.0), (Day(11), 2.0)],
        "users 1, 2, 3 on day 10; 1 and 4 on day 11"
    );
}

/// Links from outside identities to accounts are kept per source; a message waiting for its user's link is
/// kept until a batch handles it; message ids a batch marks received are known by source.
pub async fn links_and_pending_messages<S: LiveStore>(s: &S) {
    let waiting = PendingMessage {
        source: "segment".into(),
        user_key: "u9".into(),
        id: "m9".into(),
        received_at: Timestamp(5),
        payload: "{}".into(),
        kind: 2,
    };
    s.write_live(LiveBatch {
        batch: WriteBatch {
            source: "segment".into(),
            kind: "identify".into(),
            ..Default::default()
        },
        links: vec![("segment".into(), "u1".into(), id("a1"))],
        pending_add: vec![waiting.clone()],
        ..Default::default()
    })
    .await
    .unwrap();
    // Messages marked by a batch (the webhook path) are known; others are not.
    s.write_live(LiveBatch {
        batch: WriteBatch {
            source: "stripe".into(),
            kind: "webhook".into(),
            ..Default::default()
        },
        messages: vec![("stripe".into(), "evt_1".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let known = s
        .known_messages("stripe", &["evt_1".into(), "evt_2".into()])
        .await
        .unwrap();
    assert!(
        known.contains("evt_1") && !known.contains("evt_2"),
        "{known:?}"
    );
    assert!(s
        .known_messages("segment", &["evt_1".into()])
        .await
        .unwrap()
        .is_empty());
    let links = s.links("segment").await.unwrap();
    assert_eq!(links.get("u1"), Some(&id("a1")));
    assert!(s.links("stripe").await.unwrap().is_empty());
    assert_eq!(s.pending_count().await.unwrap(), 1);
    assert_eq!(
        s.pending("segment", &["u9".into()]).await.unwrap(),
        [waiting]
    );
    s.write_live(LiveBatch {
        batch: WriteBatch {
            source: "segment".into(),
            kind: "group".into(),
            ..Default::default()
        },
        links: vec![("segment".into(), "u9".into(), id("a2"))],
        pending_remove: vec![("segment".into(), "u9".into(), "m9".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(s.pending_count().await.unwrap(), 0);
    assert_eq!(s.links("segment").await.unwrap().len(), 2);
}

/// Two processes claim the same job slot: one wins; the loser cannot renew or finish it; once the winner's
/// lease runs out unrenewed, the other takes it over (a second attempt) and the first can no longer finish
/// it; a finished run is never claimed again; another slot is a new run.
pub async fn a_job_slot_runs_once_and_is_taken_over_when_its_lease_runs_out<S: LiveStore>(s: &S) {
    use bellwether_store::JobState;
    let (slot, t) = (Timestamp(1_000_000), |ms: i64| Timestamp(1_000_000 + ms));
    let first = s
        .claim_job("daily_pass", slot, "a", t(0), t(60_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first.holder.as_str(), first.attempts, first.state),
        ("a", 1, JobState::Running)
    );
    assert_eq!(
        s.claim_job("daily_pass", slot, "b", t(1), t(60_001))
            .await
            .unwrap(),
        None
    );
    assert!(!s
        .renew_job("daily_pass", slot, "b", t(90_000))
        .await
        .unwrap());
    assert!(s
        .renew_job("daily_pass", slot, "a", t(120_000))
        .await
        .unwrap());
    // Still within the renewed lease: no takeover.
    assert_eq!(
        s.claim_job("daily_pass", slot, "b", t(100_000), t(160_000))
            .await
            .unwrap(),
        None
    );
    // The lease ran out: b takes it over.
    let taken = s
        .claim_job("daily_pass", slot, "b", t(120_001), t(180_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.holder.as_str(), taken.attempts), ("b", 2));
    assert!(!s
        .finish_job("daily_pass", slot, "a", t(121_000), true, "done by a")
        .await
        .unwrap());
    assert!(s
        .finish_job(
            "daily_pass",
            slot,
            "b",
            t(122_000),
            true,
            "assessed 3 accounts"
        )
        .await
        .unwrap());
    assert_eq!(
        s.claim_job("daily_pass", slot, "c", t(10_000_000), t(10_060_000))
            .await
            .unwrap(),
        None
    );
    let next = Timestamp(2_000_000);
    assert!(s
        .claim_job("daily_pass", next, "c", next, Timestamp(2_060_000))
        .await
        .unwrap()
        .is_some());
    assert!(s
        .claim_job("retrain", slot, "a", t(0), t(60_000))
        .await
        .unwrap()
        .is_some());
    let runs = s.job_runs(Some("daily_pass"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].slot, runs[0].state), (next, JobState::Running));
    let done = &runs[1];
    assert_eq!(
        (
            done.holder.as_str(),
            done.state,
            done.attempts,
            done.outcome.as_str(),
            done.finished_at
        ),
        (
            "b",
            JobState::Succeeded,
            2,
            "assessed 3 accounts",
            Some(t(122_000))
        )
    );
    assert_eq!(s.job_runs(None, 10).await.unwrap().len(), 3);
    assert_eq!(s.job_runs(None, 1).await.unwrap().len(), 1);
}

/// Alerts are queued with the signal changes that decided them, once per id; workers claim due entries under
/// a lease (one worker per entry), a lapsed lease is claimed again, and each outcome is recorded by the
/// holder alone: delivered, retried later, or parked.
pub async fn the_outbox_delivers_each_decision_once_and_at_least_once<S: Store>(s: &S) {
    let alert = |n: u32, at: i64| OutboxItem {
        id: format!("alert:s{n}:opened"),
        channel: "webhook".into(),
        destination: "ops".into(),
        account_id: Some(id("a1")),
        kind: "alert_opened".into(),
        payload: format!("{{\"n\":{n}}}"),
        created_at: Timestamp(at),
        recipient: None,
    };
    s.save_signals(
        &[signal("a1", "usage_drop", SignalStatus::Open)],
        &[alert(1, 1_000), alert(2, 2_000)],
    )
    .await
    .unwrap();
    // The same decision again (a pass run twice) queues nothing new.
    s.save_signals(&[], &[alert(1, 5_000), alert(3, 3_000)])
        .await
        .unwrap();
    let counts = s.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.parked), (3, 0, 0));
    assert_eq!(counts.oldest_pending, Some(Timestamp(1_000)));
    assert_eq!(
        s.signals(SignalFilter::default()).await.unwrap().len(),
        1,
        "the signal came with its alerts"
    );
    // Nothing is due before it was decided; two workers never hold one entry.
    assert!(s
        .claim_outbox("w1", Timestamp(500), Timestamp(60_500), 10)
        .await
        .unwrap()
        .is_empty());
    let w1 = s
        .claim_outbox("w1", Timestamp(10_000), Timestamp(70_000), 2)
        .await
        .unwrap();
    let ids: Vec<&str> = w1.iter().map(|e| e.item.id.as_str()).collect();
    assert_eq!(ids, ["alert:s1:opened", "alert:s2:opened"], "oldest first");
    assert_eq!(w1[0].attempts, 1);
    assert_eq!(w1[0].item, alert(1, 1_000), "the first decision's message");
    let w2 = s
        .claim_outbox("w2", Timestamp(10_000), Timestamp(70_000), 10)
        .await
        .unwrap();
    assert_eq!(w2.len(), 1);
    assert_eq!(w2[0].item.id, "alert:s3:opened");
    // Outcomes: delivered with the peer's reference; retried later; parked.
    assert!(s
        .finish_outbox(
            "alert:s1:opened",
            "w1",
            Timestamp(11_000),
            &Delivery::Delivered {
                reference: Some("1712.0001".into())
            }
        )
        .await
        .unwrap());
    assert!(
        !s.finish_outbox(
            "alert:s3:opened",
            "w1",
            Timestamp(11_000),
            &Delivery::Parked {
                error: "not mine".into()
            }
        )
        .await
        .unwrap(),
        "only the holder records an outcome"
    );
    assert!(s
        .finish_outbox(
            "alert:s2:opened",
            "w1",
            Timestamp(11_000),
            &Delivery::Retry {
                at: Timestamp(20_000),
                error: "503 from the peer".into()
            }
        )
        .await
        .unwrap());
    assert!(s
        .finish_outbox(
            "alert:s3:opened",
            "w2",
            Timestamp(11_000),
            &Delivery::Parked {
                error: "404: no such webhook".into()
            }
        )
        .await
        .unwrap());
    // A retried entry is due again at its time, not before; w3 takes it then.
    assert!(s
        .claim_outbox("w3", Timestamp(19_000), Timestamp(79_000), 10)
        .await
        .unwrap()
        .is_empty());
    let again = s
        .claim_outbox("w3", Timestamp(20_000), Timestamp(25_000), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].attempts, again[0].last_error.as_str()),
        (2, "503 from the peer")
    );
    // w3 stops without an outcome: once its lease has run out, w4 claims it, and w3 can no longer finish it.
    assert!(s
        .claim_outbox("w4", Timestamp(24_000), Timestamp(90_000), 10)
        .await
        .unwrap()
        .is_empty());
    let taken = s
        .claim_outbox("w4", Timestamp(26_000), Timestamp(90_000), 10)
        .await
        .unwrap();
    assert_eq!((taken.len(), taken[0].attempts), (1, 3));
    assert!(!s
        .finish_outbox(
            "alert:s2:opened",
            "w3",
            Timestamp(27_000),
            &Delivery::Delivered { reference: None }
        )
        .await
        .unwrap());
    assert!(s
        .finish_outbox(
            "alert:s2:opened",
            "w4",
            Timestamp(27_000),
            &Delivery::Delivered { reference: None }
        )
        .await
        .unwrap());
    let counts = s.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.parked), (0, 2, 1));
    assert_eq!(counts.oldest_pending, None);
    let parked = s
        .outbox(&OutboxFilter::state(Some(OutboxState::Parked)), 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].last_error, "404: no such webhook");
    let delivered = s
        .outbox(&OutboxFilter::state(Some(OutboxState::Delivered)), 10)
        .await
        .unwrap();
    let first = delivered
        .iter()
        .find(|e| e.item.id == "alert:s1:opened")
        .unwrap();
    assert_eq!(
        (first.delivered_at, first.reference.as_deref()),
        (Some(Timestamp(11_000)), Some("1712.0001"))
    );
    assert_eq!(
        s.outbox(&OutboxFilter::default(), 10).await.unwrap().len(),
        3
    );
}

/// Alerts counted against a person's daily cap by many workers at once: exactly the cap is counted, an alert
/// counted once is not counted again (another channel's copy), a new day starts afresh, old counts go.
pub async fn a_daily_cap_counts_each_alert_once_across_workers<S: Store>(s: &S) {
    const DAY: i64 = 86_400_000;
    let midnight = Timestamp(20_000 * DAY);
    let count = |who: &'static str, alert: String, since: Timestamp, at: i64| async move {
        s.count_alert(who, &alert, since, 5, Timestamp(at))
            .await
            .unwrap()
    };
    let checks = futures_util::future::join_all((0..12).map(|n| {
        count(
            "Ana@Example.com",
            format!("alert:s{n}:opened"),
            midnight,
            midnight.0 + 1_000 + n,
        )
    }))
    .await;
    let mut counted: Vec<u32> = checks
        .iter()
        .filter_map(|c| match c {
            CapCheck::Counted(n) => Some(*n),
            _ => None,
        })
        .collect();
    counted.sort_unstable();
    assert_eq!(
        counted,
        [1, 2, 3, 4, 5],
        "twelve at once against a cap of 5: {checks:?}"
    );
    assert_eq!(
        checks.iter().filter(|c| **c == CapCheck::Full(5)).count(),
        7,
        "the rest find the cap spent: {checks:?}"
    );
    let first = (0..12)
        .find(|&n| checks[n as usize] != CapCheck::Full(5))
        .unwrap();
    let refused = (0..12)
        .find(|&n| checks[n as usize] == CapCheck::Full(5))
        .unwrap();
    assert_eq!(
        count(
            "ana@example.com",
            format!("alert:s{first}:opened"),
            midnight,
            midnight.0 + 5_000
        )
        .await,
        CapCheck::AlreadyCounted,
        "another channel's copy of a counted alert (the email in any case)"
    );
    assert_eq!(
        count(
            "ana@example.com",
            format!("alert:s{refused}:opened"),
            midnight,
            midnight.0 + 5_000
        )
        .await,
        CapCheck::Full(5)
    );
    assert_eq!(
        count(
            "bo@example.com",
            "alert:s0:opened".into(),
            midnight,
            midnight.0 + 5_000
        )
        .await,
        CapCheck::Counted(1),
        "each person has a cap of their own"
    );
    let tomorrow = Timestamp(midnight.0 + DAY);
    assert_eq!(
        count(
            "ana@example.com",
            format!("alert:s{refused}:opened"),
            tomorrow,
            tomorrow.0 + 1
        )
        .await,
        CapCheck::Counted(1),
        "a new day"
    );
    assert_eq!(
        count(
            "ana@example.com",
            format!("alert:s{first}:opened"),
            tomorrow,
            tomorrow.0 + 2
        )
        .await,
        CapCheck::AlreadyCounted,
        "a retry after midnight of an alert counted yesterday"
    );
    let later = Timestamp(midnight.0 + 9 * DAY);
    assert_eq!(
        count(
            "ana@example.com",
            format!("alert:s{first}:opened"),
            later,
            later.0 + 1
        )
        .await,
        CapCheck::Counted(1),
        "counts older than a week are dropped"
    );
}

/// People written by the `people` import kind read back by email (a second write of one email, in any case,
/// replaces the first); outbox entries routed to a person are found by recipient, kind and the time they
/// finished, and an entry folded into the digest is finished without being sent.
pub async fn people_and_what_each_was_sent<S: Store>(s: &S) {
    let ana = Person {
        email: "Ana@Example.com".into(),
        name: Some("Ana".into()),
        slack_user_id: Some("U1".into()),
        quiet_hours: Some("22:00-07:00".into()),
        daily_cap: Some(3),
        channels: Some(vec!["email".into()]),
        ..Default::default()
    };
    let bo = Person {
        email: "bo@example.com".into(),
        leader: Some("ana@example.com".into()),
        ..Default::default()
    };
    let batch = |people: Vec<Person>| WriteBatch {
        source: "people.csv".into(),
        kind: "people".into(),
        received_at: Some(Timestamp(1_000)),
        people,
        ..Default::default()
    };
    assert!(s.people().await.unwrap().is_empty());
    s.write(batch(vec![ana.clone(), bo.clone()])).await.unwrap();
    let renamed = Person {
        email: "ana@example.com".into(),
        name: Some("Ana B".into()),
        ..ana.clone()
    };
    s.write(batch(vec![renamed.clone()])).await.unwrap();
    let people = s.people().await.unwrap();
    assert_eq!(
        people,
        vec![renamed, bo],
        "by email, the later write winning"
    );

    let item = |n: u32, kind: &str, recipient: Option<&str>| OutboxItem {
        id: format!("alert:s{n}:{kind}:email:person:ana"),
        channel: "email".into(),
        destination: "person:ana@example.com".into(),
        account_id: Some(id("a1")),
        kind: format!("alert_{kind}"),
        payload: "{}".into(),
        created_at: Timestamp(1_000 + i64::from(n)),
        recipient: recipient.map(str::to_string),
    };
    s.save_signals(
        &[],
        &[
            item(1, "opened", Some("Ana@Example.com")),
            item(2, "opened", Some("ana@example.com")),
            item(3, "closed", Some("ana@example.com")),
            item(4, "opened", None),
        ],
    )
    .await
    .unwrap();
    let due = s
        .claim_outbox("w", Timestamp(5_000), Timestamp(9_000), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 4);
    assert_eq!(
        due[0].item.recipient.as_deref(),
        Some("ana@example.com"),
        "kept in lower case"
    );
    let finish = |n: u32, kind: &str, at: i64, d: Delivery| {
        let id = item(n, kind, None).id;
        async move { assert!(s.finish_outbox(&id, "w", Timestamp(at), &d).await.unwrap()) }
    };
    finish(1, "opened", 6_000, Delivery::Delivered { reference: None }).await;
    finish(
        2,
        "opened",
        7_000,
        Delivery::Folded {
            reason: "beyond the daily cap of 1".into(),
        },
    )
    .await;
    finish(3, "closed", 8_000, Delivery::Delivered { reference: None }).await;
    finish(4, "opened", 8_000, Delivery::Delivered { reference: None }).await;
    let counts = s.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.folded), (0, 3, 1));
    let ids = |v: Vec<OutboxEntry>| v.into_iter().map(|e| e.item.id).collect::<Vec<_>>();
    let of_ana = OutboxFilter {
        recipient: Some("ANA@example.com".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(s.outbox(&of_ana, 10).await.unwrap()),
        [
            item(3, "closed", None).id,
            item(2, "opened", None).id,
            item(1, "opened", None).id
        ],
        "hers, newest first"
    );
    let sent_since = OutboxFilter {
        state: Some(OutboxState::Delivered),
        kind: Some("alert_opened".into()),
        finished_since: Some(Timestamp(6_000)),
        ..of_ana.clone()
    };
    assert_eq!(
        ids(s.outbox(&sent_since, 10).await.unwrap()),
        [item(1, "opened", None).id]
    );
    let folded = s
        .outbox(
            &OutboxFilter {
                state: Some(OutboxState::Folded),
                ..of_ana.clone()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(folded.len(), 1);
    assert_eq!(
        (folded[0].delivered_at, folded[0].last_error.as_str()),
        (Some(Timestamp(7_000)), "beyond the daily cap of 1")
    );
    let one = OutboxFilter {
        id: Some(item(4, "opened", None).id),
        ..Default::default()
    };
    assert_eq!(s.outbox(&one, 10).await.unwrap()[0].item.recipient, None);
    let some = OutboxFilter {
        ids: Some(vec![
            item(4, "opened", None).id,
            item(2, "opened", None).id,
            "no-such-entry".into(),
        ]),
        ..Default::default()
    };
    assert_eq!(
        ids(s.outbox(&some, 10).await.unwrap()),
        [item(4, "opened", None).id, item(2, "opened", None).id],
        "any of the ids given, newest first"
    );
    let none = OutboxFilter {
        ids: Some(Vec::new()),
        ..Default::default()
    };
    assert!(
        s.outbox(&none, 10).await.unwrap().is_empty(),
        "none of no ids"
    );
    assert_eq!(
        s.outbox(&of_ana, 1).await.unwrap().len(),
        1,
        "the limit holds"
    );
}
