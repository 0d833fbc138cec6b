//! Stripe webhooks through the router: amounts in each currency's own minor unit, tiered prices, impossible
//! values refused with the field named, scheduled cancellations raising a signal and deletions recording the
//! churn.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bellwether_core::{AccountId, Currency, Day};
use bellwether_engine::Engine;
use bellwether_server::ServerConfig;
use bellwether_store::Store;
use common::{call, TestServer};
use serde_json::{json, Value};

const SECRET: &str = "whsec_money_test";
/// 2026-01-15 00:00 UTC.
const CREATED: i64 = 1_768_435_200;

async fn send(server: &TestServer, event: &Value) -> (StatusCode, Value) {
    common::send_stripe(server, SECRET, event).await
}

async fn server() -> TestServer {
    TestServer::start(ServerConfig {
        stripe_webhook_secret: Some(SECRET.into()),
        ..ServerConfig::default()
    })
    .await
}

/// A subscription event shaped as Stripe sends it.
fn sub_event(
    id: &str,
    kind: &str,
    account: &str,
    currency: &str,
    items: Value,
    extra: Value,
) -> Value {
    let mut object = json!({
        "id": format!("sub_{account}"), "object": "subscription", "customer": format!("cus_{account}"),
        "currency": currency, "status": "active", "start_date": CREATED - 86_400 * 30,
        "created": CREATED - 86_400 * 30, "current_period_end": CREATED + 86_400 * 20,
        "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null, "ended_at": null,
        "metadata": {"account_id": account},
        "items": {"object": "list", "data": items},
    });
    for (k, v) in extra.as_object().unwrap() {
        object[k] = v.clone();
    }
    json!({"id": id, "object": "event", "type": kind, "created": CREATED, "livemode": false,
           "data": {"object": object}})
}

fn item(quantity: Value, price: Value) -> Value {
    json!({"id": "si_1", "object": "subscription_item", "quantity": quantity, "price": price})
}

fn price(currency: &str, unit_amount: Value) -> Value {
    json!({"id": "price_1", "object": "price", "currency": currency, "nickname": "Team",
           "billing_scheme": "per_unit", "unit_amount": unit_amount,
           "recurring": {"interval": "month", "interval_count": 1}})
}

async fn arr_of(server: &TestServer, account: &str) -> Option<bellwether_core::Money> {
    let id = AccountId(account.into());
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&id)))
        .await
        .unwrap();
    book.accounts
        .get(&id)
        .and_then(|a| a.view(&id, Day::ymd(2026, 1, 16)).arr)
}

#[tokio::test]
async fn a_yen_subscription_is_600000_yen_of_arr_as_in_a_csv_import() {
    let server = server().await;
    let ev = sub_event(
        "evt_jp",
        "customer.subscription.created",
        "jp-1",
        "jpy",
        json!([item(json!(1), price("jpy", json!(50_000)))]),
        json!({}),
    );
    let (s, b) = send(&server, &ev).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let arr = arr_of(&server, "jp-1").await.unwrap();
    let jpy = Currency::parse("JPY").unwrap();
    assert_eq!((arr.minor, arr.currency), (600_000, jpy));
    assert_eq!(arr.major(), 600_000.0);
    assert_eq!(arr.to_string(), "600,000 JPY");

    // The same amount in an accounts file is stored the same way.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        "account_id,name,arr,currency,valid_from\njp-2,Nihon,600000,JPY,2026-01-01T00:00:00Z\n",
    )
    .unwrap();
    let report = bellwether_ingest::import_file(&*server.store, &file, &Default::default())
        .await
        .unwrap();
    assert_eq!(report.rejected_count, 0);
    assert_eq!(arr_of(&server, "jp-2").await, Some(arr));

    // The assessment says so in yen.
    let out = bellwether_engine::reassess(
        &*server.store,
        &Engine::default(),
        Some(&[AccountId("jp-1".into())]),
        bellwether_engine::BookDay::past(Day::ymd(2026, 1, 16)),
    )
    .await
    .unwrap();
    let a = &out.assessments[0];
    assert!(a.reason.contains("¥600k ARR"), "{}", a.reason);
    assert_eq!(a.arr_minor, Some(600_000));
    server.stop().await;
}

#[tokio::test]
async fn tiered_prices_are_priced_from_their_tiers_and_unexpanded_tiers_keep_arr_with_a_warning() {
    let server = server().await;
    let tiered = |mode: &str, tiers: Value| {
        json!({"id": "price_t", "object": "price", "currency": "usd", "billing_scheme": "tiered",
               "unit_amount": null, "unit_amount_decimal": null, "tiers_mode": mode, "tiers": tiers,
               "recurring": {"interval": "month", "interval_count": 1}})
    };
    // Graduated: 10 × $10 + 5 × $5 + $20 flat for the second tier = $145 a month.
    let graduated = tiered(
        "graduated",
        json!([{"up_to": 10, "unit_amount": 1000, "flat_amount": null},
               {"up_to": null, "unit_amount": 500, "flat_amount": 2000}]),
    );
    let ev = sub_event(
        "evt_t1",
        "customer.subscription.created",
        "tier-g",
        "usd",
        json!([item(json!(15), graduated)]),
        json!({}),
    );
    let (s, b) = send(&server, &ev).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(arr_of(&server, "tier-g").await.unwrap().minor, 14_500 * 12);

    // Volume: all 15 units at the second tier's $8 = $120 a month.
    let volume = tiered(
        "volume",
        json!([{"up_to": 10, "unit_amount": 1000}, {"up_to": null, "unit_amount_decimal": "800"}]),
    );
    let ev = sub_event(
        "evt_t2",
        "customer.subscription.created",
        "tier-v",
        "usd",
        json!([item(json!(15), volume)]),
        json!({}),
    );
    let (s, b) = send(&server, &ev).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(arr_of(&server, "tier-v").await.unwrap().minor, 12_000 * 12);

    // A webhook carries no tiers unless expanded: the ARR stays as it was and the answer says why.
    let mut bare = tiered("graduated", Value::Null);
    bare.as_object_mut().unwrap().remove("tiers");
    let ev = sub_event(
        "evt_t3",
        "customer.subscription.updated",
        "tier-g",
        "usd",
        json!([item(json!(30), bare)]),
        json!({}),
    );
    let (s, b) = send(&server, &ev).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let w = &b["warnings"][0];
    assert_eq!(w["field"], "data.object.items.data[0].price.tiers", "{b}");
    assert!(
        w["message"]
            .as_str()
            .unwrap()
            .contains("ARR was left as it was"),
        "{b}"
    );
    assert_eq!(arr_of(&server, "tier-g").await.unwrap().minor, 14_500 * 12);
    server.stop().await;
}

#[tokio::test]
async fn a_negative_quantity_and_an_absurd_amount_are_refused_naming_the_field() {
    let server = server().await;
    let ev = sub_event(
        "evt_neg",
        "customer.subscription.created",
        "neg",
        "usd",
        json!([item(json!(-3), price("usd", json!(1000)))]),
        json!({}),
    );
    let (s, b) = send(&server, &ev).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["code"], "invalid_field");
    assert_eq!(b["path"], "data.object.items.data[0].quantity", "{b}");
    assert!(b["message"].as_str().unwrap().contains("evt_neg"), "{b}");

    let ev = sub_event(
        "evt_big",
        "customer.subscription.created",
        "big",
        "usd",
        json!([item(json!(1), price("usd", json!(1e300)))]),
        json!({}),
    );
    let (s, b) = send(&server, &ev).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(
        b["path"], "data.object.items.data[0].price.unit_amount",
        "{b}"
    );
    // Nothing of either was stored, and a good event after them is.
    assert_eq!(arr_of(&server, "neg").await, None);
    assert_eq!(arr_of(&server, "big").await, None);
    let ev = sub_event(
        "evt_ok",
        "customer.subscription.created",
        "ok",
        "usd",
        json!([item(json!(3), price("usd", json!(1000)))]),
        json!({}),
    );
    assert_eq!(send(&server, &ev).await.0, StatusCode::OK);
    assert_eq!(arr_of(&server, "ok").await.unwrap().minor, 3 * 1000 * 12);
    server.stop().await;
}

#[tokio::test]
async fn a_scheduled_cancellation_raises_a_signal_and_the_deletion_records_the_churn() {
    let server = server().await;
    let items = json!([item(json!(10), price("usd", json!(18_000)))]);
    let created = sub_event(
        "evt_c0",
        "customer.subscription.created",
        "acme",
        "usd",
        items.clone(),
        json!({}),
    );
    assert_eq!(send(&server, &created).await.0, StatusCode::OK);
    let cancel_at = CREATED + 86_400 * 20; // 2026-02-04
    let mut updated = sub_event(
        "evt_c1",
        "customer.subscription.updated",
        "acme",
        "usd",
        items.clone(),
        json!({
            "cancel_at_period_end": true, "cancel_at": cancel_at, "canceled_at": CREATED,
            "cancellation_details": {"reason": "cancellation_requested", "feedback": "too_expensive",
                                     "comment": "Budget cut for next year"}
        }),
    );
    updated["data"]["previous_attributes"] = json!({"cancel_at_period_end": false, "cancel_at": null, "canceled_at": null,
               "cancellation_details": {"reason": null, "feedback": null, "comment": null}});
    let (s, b) = send(&server, &updated).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let acme = AccountId("acme".into());
    bellwether_engine::reassess(
        &*server.store,
        &Engine::default(),
        Some(std::slice::from_ref(&acme)),
        bellwether_engine::BookDay::past(Day::ymd(2026, 1, 16)),
    )
    .await
    .unwrap();
    let (s, b) = call(
        &server,
        Request::get("/v1/signals?account=acme&kind=cancellation_scheduled")
            .header("authorization", format!("Bearer {}", server.read_key))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sig = &b["signals"][0];
    assert_eq!(sig["status"], "open", "{b}");
    assert_eq!(sig["severity"], "critical", "{b}");
    assert_eq!(sig["evidence"]["cancel_at"], "2026-02-04", "{b}");
    let feedback = sig["evidence"]["feedback"].as_str().unwrap();
    assert!(
        feedback.contains("too expensive") && feedback.contains("Budget cut for next year"),
        "{b}"
    );
    assert!(
        sig["explanation"].as_str().unwrap().contains("2026-02-04"),
        "{b}"
    );

    // Stripe ends the subscription: ARR 0, and the churn is an outcome dated the day it ended.
    let ended_at = CREATED + 86_400 * 20;
    let mut deleted = sub_event(
        "evt_c2",
        "customer.subscription.deleted",
        "acme",
        "usd",
        items,
        json!({"status": "canceled", "ended_at": ended_at, "canceled_at": CREATED}),
    );
    deleted["created"] = json!(ended_at);
    let (s, b) = send(&server, &deleted).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let book = server
        .store
        .load_book(Some(std::slice::from_ref(&acme)))
        .await
        .unwrap();
    let facts = &book.accounts[&acme];
    let after = Day::ymd(2026, 2, 5);
    assert_eq!(facts.view(&acme, after).arr.map(|m| m.minor), Some(0));
    assert_eq!(facts.outcomes.len(), 1, "{:?}", facts.outcomes);
    let o = &facts.outcomes[0];
    assert_eq!(o.kind, bellwether_core::model::OutcomeKind::Churned);
    assert_eq!(o.date, Day::ymd(2026, 2, 4));
    assert_eq!(o.arr_delta, Some(-10 * 18_000 * 12));
    let f = bellwether_features::compute(&acme, facts, None, after, &Default::default());
    assert!(
        f.churned,
        "the account counts as ended from the day after it ended"
    );
    let before = bellwether_features::compute(
        &acme,
        facts,
        None,
        Day::ymd(2026, 2, 4),
        &Default::default(),
    );
    assert!(!before.churned);
    server.stop().await;
}
