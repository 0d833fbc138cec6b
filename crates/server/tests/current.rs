//! A running server's one current day: live re-assessments are made as of today by the clock whatever the
//! dates of the data they touched, and every active account stays in `GET /v1/accounts` with its latest
//! assessment and its age, and an account whose Stripe subscription ends leaves it at once.

mod common;

use axum::http::StatusCode;
use bellwether_core::time::MS_PER_DAY;
use bellwether_core::{Day, Timestamp};
use bellwether_server::ServerConfig;
use common::{call, get, post, send_stripe, TestServer};

async fn post_batch(server: &TestServer, body: String) {
    let (s, b) = call(
        server,
        post(
            "/v1/batch",
            Some(&server.ingest_key),
            "application/json",
            body,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn accounts(server: &TestServer) -> serde_json::Value {
    let (s, b) = call(server, get("/v1/accounts", Some(&server.read_key))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

fn track(account: &str, id: &str, at: Timestamp) -> String {
    format!(
        r#"{{"type":"track","userId":"u-{account}","event":"Report Viewed","messageId":"{id}","timestamp":"{}","context":{{"groupId":"{account}"}}}}"#,
        iso(at)
    )
}

fn iso(t: Timestamp) -> String {
    let d = t.day();
    let ms = t.0 - d.start().0;
    format!(
        "{d}T{:02}:{:02}:00Z",
        ms / 3_600_000,
        (ms % 3_600_000) / 60_000
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_touched_by_old_data_are_assessed_on_todays_date_and_stay_listed() {
    let server = TestServer::start(ServerConfig::default()).await;
    let now = Timestamp::now();
    let today = Day::today();
    // One account whose newest event is five days old, in a batch of its own.
    let stale: Vec<String> = (5..30)
        .map(|d| track("stale", &format!("s{d}"), Timestamp(now.0 - d * MS_PER_DAY)))
        .collect();
    post_batch(&server, format!(r#"{{"batch":[{}]}}"#, stale.join(","))).await;
    server.state.settle().await;
    // Four accounts active today.
    let mut fresh = Vec::new();
    for a in ["a1", "a2", "a3", "a4"] {
        for d in 0..30 {
            fresh.push(track(
                a,
                &format!("{a}-{d}"),
                Timestamp(now.0 - d * MS_PER_DAY - 3_600_000),
            ));
        }
    }
    post_batch(&server, format!(r#"{{"batch":[{}]}}"#, fresh.join(","))).await;
    server.state.settle().await;

    let body = accounts(&server).await;
    let accounts = body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 5, "every active account is listed: {body}");
    assert_eq!(body["as_of"], today.to_string().as_str(), "{body}");
    for a in accounts {
        assert_eq!(a["as_of"], today.to_string().as_str(), "{a}");
        assert_eq!(a["age_days"], 0, "{a}");
    }
    server.stop().await;
}

const SECRET: &str = "whsec_current_test";

fn subscription(id: &str, kind: &str, created: i64, extra: serde_json::Value) -> serde_json::Value {
    let mut object = serde_json::json!({
        "id": "sub_acme", "object": "subscription", "customer": "cus_acme", "currency": "usd",
        "status": "active", "start_date": created - 86_400 * 60, "created": created - 86_400 * 60,
        "cancel_at_period_end": false, "metadata": {"account_id": "acme"},
        "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item", "quantity": 100,
            "price": {"id": "price_1", "object": "price", "currency": "usd", "nickname": "Team",
                      "billing_scheme": "per_unit", "unit_amount": 1800,
                      "recurring": {"interval": "month", "interval_count": 1}}}]},
    });
    for (k, v) in extra.as_object().unwrap() {
        object[k] = v.clone();
    }
    serde_json::json!({"id": id, "object": "event", "type": kind, "created": created, "livemode": false,
                       "data": {"object": object}})
}

/// A server taking Stripe webhooks, with 20 days of usage by `accounts` in turn and acme's subscription
/// created ten days ago; and the clock's seconds then.
async fn acme_subscribed(accounts: &[&str]) -> (TestServer, i64) {
    let server = TestServer::start(ServerConfig {
        stripe_webhook_secret: Some(SECRET.into()),
        ..ServerConfig::default()
    })
    .await;
    let now = Timestamp::now().0 / 1000;
    let events: Vec<String> = (0..20)
        .map(|d| {
            track(
                accounts[d as usize % accounts.len()],
                &format!("e{d}"),
                Timestamp((now - d * 86_400 - 600) * 1000),
            )
        })
        .collect();
    post_batch(&server, format!(r#"{{"batch":[{}]}}"#, events.join(","))).await;
    let created = subscription(
        "evt_1",
        "customer.subscription.created",
        now - 86_400 * 10,
        serde_json::json!({}),
    );
    let (s, r) = send_stripe(&server, SECRET, &created).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    (server, now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_stripe_subscription_takes_its_account_out_of_the_list_at_once() {
    let (server, now) = acme_subscribed(&["acme", "other"]).await;
    server.state.settle().await;
    let body = accounts(&server).await;
    let acme = body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == "acme")
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    assert_eq!(acme["arr_minor"], 2_160_000, "$21.6k ARR: {acme}");

    let deleted = subscription(
        "evt_2",
        "customer.subscription.deleted",
        now - 60,
        serde_json::json!({"status": "canceled", "ended_at": now - 60, "canceled_at": now - 60}),
    );
    let (s, r) = send_stripe(&server, SECRET, &deleted).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    server.state.settle().await;
    let body = accounts(&server).await;
    let ids: Vec<&str> = body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["other"], "the ended account leaves the list: {body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_that_failed_a_minute_ago_opens_its_signal_in_todays_assessment() {
    let (server, now) = acme_subscribed(&["acme"]).await;
    let failed = serde_json::json!({
        "id": "evt_2", "object": "event", "type": "invoice.payment_failed", "created": now - 60,
        "livemode": false,
        "data": {"object": {"id": "in_1", "object": "invoice", "customer": "cus_acme", "currency": "usd",
                            "amount_due": 180_000, "subscription": "sub_acme",
                            "metadata": {"account_id": "acme"}}},
    });
    let (s, r) = send_stripe(&server, SECRET, &failed).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    server.state.settle().await;
    let (s, b) = call(
        &server,
        get("/v1/signals?account=acme", Some(&server.read_key)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let signals = b["signals"].as_array().cloned().unwrap_or_default();
    let pf = signals
        .iter()
        .find(|s| s["kind"] == "payment_failure")
        .unwrap_or_else(|| panic!("no payment_failure signal today: {b}"));
    assert_eq!(pf["detected_at"], Day::today().to_string());
    assert!(
        pf["explanation"].as_str().unwrap().contains("failed today"),
        "{pf}"
    );
    server.stop().await;
}
