//! The tracking API driven by the official Segment and RudderStack Python clients (pinned in
//! `scripts/python-test-env.sh`), gzip on and off, and by RudderStack's Node SDK 2.x and 3.x with default
//! options (pinned in `scripts/node-test-env.sh`), against a server on a loopback port; and Stripe webhooks
//! signed by the official `stripe` library. Counts in the accounts' series must be exact, on the embedded store
//! and on PostgreSQL.

mod common;

use bellwether_core::Day;
use bellwether_server::ServerConfig;
use bellwether_store::LiveStore;
use common::TestServer;

const USERS: usize = 3;
const EVENTS: usize = 5;

async fn send<S: LiveStore>(server: &TestServer<S>, sdk: &str, gzip: bool, account: &str) {
    let users = USERS.to_string();
    let events = EVENTS.to_string();
    server
        .run_client(
            "send_events.py",
            &[
                ("SDK", sdk),
                ("WRITE_KEY", &server.ingest_key),
                ("GZIP", if gzip { "1" } else { "0" }),
                ("ACCOUNT", account),
                ("USERS", &users),
                ("EVENTS", &events),
            ],
        )
        .await;
}

/// Checks what `send_events.py` sends for one account: every user's events, the late user's two events, one
/// contact per identified user, and the account's name and seats from the group traits.
async fn check_account<S: LiveStore>(server: &TestServer<S>, account: &str) {
    let day = Day::ymd(2026, 1, 15);
    let reports = (USERS * EVENTS + 2) as f64;
    assert_eq!(
        server.point(account, "event:Report Exported", day).await,
        reports,
        "{account}"
    );
    assert_eq!(
        server.point(account, "event:Dashboard Viewed", day).await,
        (USERS * EVENTS) as f64
    );
    assert_eq!(
        server.point(account, "users:Report Exported", day).await,
        (USERS + 1) as f64
    );
    assert_eq!(
        server.point(account, "active_users", day).await,
        (USERS + 1) as f64
    );
    let id = bellwether_core::AccountId(account.into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let facts = &book.accounts[&id];
    assert_eq!(
        facts.contacts.len(),
        USERS,
        "{account}: one contact per identified user"
    );
    let view = facts.view(&id, Day::ymd(2026, 1, 16));
    assert_eq!(
        view.name.as_deref(),
        Some(format!("Account {account}").as_str())
    );
    assert_eq!(view.seats, Some(25));
    assert_eq!(view.plan.as_deref(), Some("pro"));
    // The re-assessment queue assessed the account.
    let history = server.store.assessment_history(&id).await.unwrap();
    assert!(!history.is_empty(), "{account} was not re-assessed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_and_rudderstack_clients_land_exact_counts_gzip_on_and_off() {
    clients_land_exact_counts(TestServer::start(ServerConfig::default()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_segment_and_rudderstack_clients_land_exact_counts() {
    clients_land_exact_counts(TestServer::start_pg(ServerConfig::default()).await).await;
}

async fn clients_land_exact_counts<S: LiveStore>(server: TestServer<S>) {
    for (sdk, gzip, account) in [
        ("segment", false, "acct-seg-plain"),
        ("segment", true, "acct-seg-gzip"),
        ("rudder", false, "acct-rud-plain"),
        ("rudder", true, "acct-rud-gzip"),
    ] {
        send(&server, sdk, gzip, account).await;
        server.state.settle().await;
        check_account(&server, account).await;
    }
    assert_eq!(
        server.store.pending_count().await.unwrap(),
        0,
        "every late event was attributed"
    );
    let accepted = server.state.metrics.message_count("segment", "accepted");
    assert_eq!(accepted, 4 * PER_ACCOUNT as u64);
    assert_eq!(
        server.state.metrics.message_count("segment", "duplicate"),
        0
    );
    server.stop().await;
}

/// Messages `send_events.py` and `send_events_rudder.js` send for one account.
const PER_ACCOUNT: usize = USERS * (2 + 2 * EVENTS) + 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rudderstack_node_sdk_with_default_options_lands_exactly_once_and_resends_are_idempotent() {
    // Its defaults gzip every batch and send it as `application/x-www-form-urlencoded`; it does not retry a
    // 4xx, so a refused batch is lost.
    let server = TestServer::start(ServerConfig::default()).await;
    let sdks = [
        ("rudder-sdk-node-2", "acct-node-2"),
        ("rudder-sdk-node-3", "acct-node-3"),
    ];
    let users = USERS.to_string();
    let events = EVENTS.to_string();
    for round in 0..2 {
        for (sdk, account) in sdks {
            let out = server
                .run_client(
                    "send_events_rudder.js",
                    &[
                        ("SDK", sdk),
                        ("WRITE_KEY", &server.ingest_key),
                        ("ACCOUNT", account),
                        ("USERS", &users),
                        ("EVENTS", &events),
                    ],
                )
                .await;
            assert_eq!(out.trim(), "sent", "{sdk}");
            server.state.settle().await;
            check_account(&server, account).await;
        }
        // The second round sends the same message ids again: recognised, nothing counted twice.
        let m = &server.state.metrics;
        assert_eq!(
            (
                m.message_count("segment", "accepted"),
                m.message_count("segment", "duplicate"),
                m.message_count("segment", "rejected"),
            ),
            (
                (sdks.len() * PER_ACCOUNT) as u64,
                (round * sdks.len() * PER_ACCOUNT) as u64,
                0
            ),
            "round {round}"
        );
    }
    assert_eq!(server.store.pending_count().await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_answer_makes_the_client_retry_and_the_retry_lands_once() {
    // The first two batches are stored, then answered 503 as if the reply was lost; the client sends them
    // again and the resends are recognised by messageId.
    let server = TestServer::start(ServerConfig {
        fail_after_commit: 2,
        ..ServerConfig::default()
    })
    .await;
    send(&server, "segment", true, "acct-retry").await;
    server.state.settle().await;
    check_account(&server, "acct-retry").await;
    let duplicates = server.state.metrics.message_count("segment", "duplicate");
    assert!(duplicates > 0, "the client did not resend after the 503");
    server.stop().await;
}

const STRIPE_SECRET: &str = "whsec_bellwether_test_0123456789";

fn stripe_config() -> ServerConfig {
    ServerConfig {
        stripe_webhook_secret: Some(STRIPE_SECRET.into()),
        ..ServerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_events_signed_by_the_stripe_library_become_billing_facts() {
    stripe_events_become_billing_facts(TestServer::start(stripe_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_stripe_events_become_billing_facts() {
    stripe_events_become_billing_facts(TestServer::start_pg(stripe_config()).await).await;
}

async fn stripe_events_become_billing_facts<S: LiveStore>(server: TestServer<S>) {
    let secret = STRIPE_SECRET;
    let out = server
        .run_client(
            "stripe_events.py",
            &[("SECRET", secret), ("ACCOUNT", "acct-stripe")],
        )
        .await;
    let status: Vec<(&str, &str)> = out
        .lines()
        .map(|l| {
            let mut p = l.split(' ');
            (p.next().unwrap(), p.next().unwrap())
        })
        .collect();
    assert_eq!(
        status,
        vec![
            ("evt_sub_created", "200"),
            ("evt_cus_updated", "200"),
            ("evt_sub_updated", "200"),
            ("evt_inv_paid", "200"),
            ("evt_inv_failed", "200"),
            ("evt_inv_paid", "200"),
            ("evt_inv_failed", "401"),
            ("evt_sub_deleted", "200"),
            ("evt_sub_created", "401"),
        ],
        "{out}"
    );
    assert!(
        out.lines().nth(5).unwrap().contains("\"duplicate\":true"),
        "{out}"
    );
    assert!(
        out.lines().nth(6).unwrap().contains("invalid_signature"),
        "{out}"
    );
    server.state.settle().await;
    let id = bellwether_core::AccountId("acct-stripe".into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    let facts = &book.accounts[&id];
    let mut kinds: Vec<String> = facts.billing.iter().map(|b| b.kind.to_string()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            "invoice_paid",
            "payment_failed",
            "subscription_cancelled",
            "subscription_created",
            "subscription_updated"
        ]
    );
    let updated = facts
        .billing
        .iter()
        .find(|b| b.id == "evt_sub_updated")
        .unwrap();
    assert_eq!(updated.mrr_delta, Some(3_000));
    assert_eq!(updated.seats_delta, Some(2));
    let paid = facts
        .billing
        .iter()
        .find(|b| b.id == "evt_inv_paid")
        .unwrap();
    assert_eq!(paid.amount.map(|m| m.minor), Some(18_000));
    assert_eq!(facts.subscriptions.len(), 1);
    assert_eq!(facts.subscriptions[0].end, Some(Day::ymd(2026, 1, 15)));
    // ARR as of the day after the update and before the cancellation (all on the same day: the last wins).
    let view = facts.view(&id, Day::ymd(2026, 1, 16));
    assert_eq!(view.plan.as_deref(), Some("Pro"));
    assert_eq!(server.store.pending_count().await.unwrap(), 0);
    server.stop().await;
}
