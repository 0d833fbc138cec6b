//! Stripe webhooks: the `Stripe-Signature` scheme, and Stripe events as billing facts.
//!
//! Stripe signs `"{t}.{body}"` with HMAC-SHA256 keyed by the endpoint's whole signing secret (`whsec_...`)
//! and sends `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`; several `v1` values appear while a secret is rolled.
//! A request is accepted when any `v1` matches (compared in constant time) and `t` is at most 300 s old.
//!
//! Events map to the canonical model: `customer.subscription.created/updated/deleted` to subscriptions, a
//! billing event with the MRR and seat change, and the account's ARR (12 × the subscription's MRR), plan,
//! seats and currency; `invoice.paid` and `invoice.payment_failed` to billing events with the amount. A
//! customer is mapped to an account by `metadata.account_id` (on the customer, the subscription, or the
//! invoice's subscription details) or by a link stored when such metadata was last seen.

use bellwether_core::history::{attr, AttrFact};
use bellwether_core::model::{BillingEvent, BillingKind, Subscription};
use bellwether_core::{AccountId, Currency, Day, Money, Timestamp};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The source name under which Stripe event ids and pending events are stored.
pub const SOURCE: &str = "stripe";
/// The source name of customer → account links.
pub const CUSTOMER_LINKS: &str = "stripe_customer";
/// Stripe's default tolerance for the signature's timestamp.
pub const TOLERANCE_SECONDS: i64 = 300;

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks a `Stripe-Signature` header for `body` at `now` (unix seconds); returns the signed timestamp.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<i64, String> {
    let mut t: Option<i64> = None;
    let mut v1: Vec<&str> = Vec::new();
    for item in header.split(',') {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        match k.trim() {
            "t" => t = v.trim().parse().ok(),
            "v1" => v1.push(v.trim()),
            _ => {}
        }
    }
    let t = t.ok_or("the Stripe-Signature header has no timestamp `t=`")?;
    if v1.is_empty() {
        return Err("the Stripe-Signature header has no `v1=` signature".into());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| format!("the signing secret cannot key HMAC: {e}"))?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let matched = v1.iter().filter_map(|s| unhex(s)).fold(false, |acc, sig| {
        acc | bool::from(sig.ct_eq(expected.as_slice()))
    });
    if !matched {
        return Err("no v1 signature matches the body under the configured signing secret; check that `stripe_webhook_secret` is this endpoint's whsec_ secret".into());
    }
    if t < now - TOLERANCE_SECONDS {
        return Err(format!("the signature's timestamp is {} s old, more than the 300 s tolerance; check the server's clock", now - t));
    }
    Ok(t)
}

/// Signs like Stripe (for tests and for sending test events).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={t},v1={}",
        crate::auth::hex(&mac.finalize().into_bytes())
    )
}

fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(String::from),
        _ => None,
    }
}

/// The Stripe customer an event concerns.
pub fn customer_of(ev: &Value) -> Option<String> {
    let obj = &ev["data"]["object"];
    if ev["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("customer.") && !t.starts_with("customer.subscription."))
    {
        return id_of(obj.get("id"));
    }
    id_of(obj.get("customer"))
}

/// The account an event names in its metadata, if any.
pub fn account_hint(ev: &Value) -> Option<AccountId> {
    let obj = &ev["data"]["object"];
    let paths: [&Value; 4] = [
        &obj["metadata"]["account_id"],
        &obj["subscription_details"]["metadata"]["account_id"],
        &obj["parent"]["subscription_details"]["metadata"]["account_id"],
        &obj["customer"]["metadata"]["account_id"],
    ];
    paths
        .iter()
        .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))
        .map(|s| AccountId(s.trim().to_string()))
}

/// The event types handled; others are acknowledged and ignored.
pub fn handled(kind: &str) -> bool {
    matches!(
        kind,
        "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "invoice.paid"
            | "invoice.payment_failed"
            | "customer.created"
            | "customer.updated"
    )
}

/// Facts of one event.
#[derive(Debug, Default)]
pub struct Facts {
    /// Billing events.
    pub billing: Vec<BillingEvent>,
    /// Subscriptions.
    pub subscriptions: Vec<Subscription>,
    /// Account attribute changes.
    pub attrs: Vec<AttrFact>,
}

/// A subscription's monthly amount in minor units, seats and plan name.
fn sub_terms(s: &Value) -> (i64, i64, Option<String>, Option<String>) {
    let mut mrr = 0.0;
    let mut seats = 0;
    let mut plan = None;
    let mut currency = s["currency"].as_str().map(String::from);
    let monthly = |amount: f64, recurring: &Value| -> f64 {
        let count = recurring["interval_count"].as_f64().unwrap_or(1.0).max(1.0);
        let per_month = match recurring["interval"].as_str().unwrap_or("month") {
            "year" => 1.0 / 12.0,
            "week" => 52.0 / 12.0,
            "day" => 365.0 / 12.0,
            _ => 1.0,
        };
        amount * per_month / count
    };
    let items = s["items"]["data"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        // Legacy single-plan subscriptions.
        let p = &s["plan"];
        let q = s["quantity"].as_i64().unwrap_or(1);
        if let Some(a) = p["amount"].as_f64() {
            mrr += monthly(a * q as f64, p);
        }
        seats += q;
        plan = p["nickname"]
            .as_str()
            .or(p["id"].as_str())
            .map(String::from);
        currency = currency.or(p["currency"].as_str().map(String::from));
    }
    for it in &items {
        let price = if it["price"].is_object() {
            &it["price"]
        } else {
            &it["plan"]
        };
        let q = it["quantity"].as_i64().unwrap_or(1);
        let amount = price["unit_amount"]
            .as_f64()
            .or(price["amount"].as_f64())
            .unwrap_or(0.0);
        let recurring = if price["recurring"].is_object() {
            &price["recurring"]
        } else {
            price
        };
        mrr += monthly(amount * q as f64, recurring);
        seats += q;
        if plan.is_none() {
            plan = ["nickname", "lookup_key"]
                .iter()
                .find_map(|k| price[*k].as_str())
                .or(price["product"].as_str())
                .or(price["id"].as_str())
                .map(String::from);
        }
        currency = currency.or(price["currency"].as_str().map(String::from));
    }
    (mrr.round() as i64, seats, plan, currency)
}

fn day_of(v: &Value) -> Option<Day> {
    v.as_i64().map(|s| Timestamp(s * 1000).day())
}

/// When an event happened: its `created`, in Unix seconds.
pub fn created(ev: &Value) -> Result<Timestamp, String> {
    let s = ev["created"]
        .as_i64()
        .ok_or("the event has no `created` time")?;
    Timestamp::from_unix_seconds(s)
        .ok_or_else(|| format!("`created` {s} is not a time in Unix seconds"))
}

/// Maps a handled event to facts of `account`.
pub fn facts(ev: &Value, account: &AccountId, received: Timestamp) -> Result<Facts, String> {
    let id = ev["id"].as_str().ok_or("the event has no id")?.to_string();
    let kind = ev["type"].as_str().ok_or("the event has no type")?;
    let at = created(ev)?;
    let obj = &ev["data"]["object"];
    let mut out = Facts::default();
    let currency = |c: Option<&str>| -> Result<Currency, String> {
        Currency::parse(&c.unwrap_or("usd").to_ascii_uppercase())
    };
    let attr = |name: &str, value: String| AttrFact {
        subject: account.0.clone(),
        attr: name.into(),
        value: Some(value),
        valid_from: at,
        received_at: received,
    };
    match kind {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let sub_id = obj["id"]
                .as_str()
                .ok_or("data.object.id is missing")?
                .to_string();
            let (mrr, seats, plan, cur) = sub_terms(obj);
            let cur = currency(cur.as_deref())?;
            let deleted = kind.ends_with("deleted");
            let (prev_mrr, prev_seats) = match (
                kind,
                obj.clone(),
                ev["data"]["previous_attributes"].as_object(),
            ) {
                ("customer.subscription.updated", Value::Object(mut o), Some(prev)) => {
                    for (k, v) in prev {
                        o.insert(k.clone(), v.clone());
                    }
                    let (m, s, _, _) = sub_terms(&Value::Object(o));
                    (m, s)
                }
                ("customer.subscription.updated", _, _) => (mrr, seats),
                ("customer.subscription.created", _, _) => (0, 0),
                _ => (mrr, seats),
            };
            let (mrr_delta, seats_delta) = if deleted {
                (-mrr, -seats)
            } else {
                (mrr - prev_mrr, seats - prev_seats)
            };
            let start = day_of(&obj["start_date"])
                .or_else(|| day_of(&obj["created"]))
                .unwrap_or_else(|| at.day());
            let end = if deleted {
                Some(
                    day_of(&obj["ended_at"])
                        .or_else(|| day_of(&obj["canceled_at"]))
                        .unwrap_or_else(|| at.day()),
                )
            } else {
                None
            };
            out.subscriptions.push(Subscription {
                id: sub_id,
                account_id: account.clone(),
                plan: plan.clone().unwrap_or_else(|| "unknown".into()),
                start,
                end,
                mrr: Money {
                    minor: mrr,
                    currency: cur,
                },
                quantity: seats,
                received_at: received,
            });
            out.billing.push(BillingEvent {
                id,
                account_id: account.clone(),
                at,
                kind: BillingKind::parse(kind)?,
                amount: None,
                mrr_delta: Some(mrr_delta),
                seats_delta: Some(seats_delta),
                plan: plan.clone(),
                received_at: received,
            });
            if deleted {
                out.attrs.push(attr(attr::ARR, "0".into()));
            } else {
                out.attrs.push(attr(attr::ARR, (mrr * 12).to_string()));
                out.attrs.push(attr(attr::SEATS, seats.to_string()));
                out.attrs.push(attr(attr::CURRENCY, cur.to_string()));
                if let Some(p) = plan {
                    out.attrs.push(attr(attr::PLAN, p));
                }
            }
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let field = if kind == "invoice.paid" {
                "amount_paid"
            } else {
                "amount_due"
            };
            let amount = obj[field]
                .as_i64()
                .ok_or(format!("data.object.{field} is missing"))?;
            out.billing.push(BillingEvent {
                id,
                account_id: account.clone(),
                at,
                kind: BillingKind::parse(kind)?,
                amount: Some(Money {
                    minor: amount,
                    currency: currency(obj["currency"].as_str())?,
                }),
                mrr_delta: None,
                seats_delta: None,
                plan: None,
                received_at: received,
            });
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_like_stripe() {
        let secret = "whsec_test_secret";
        let body = br#"{"id":"evt_1"}"#;
        let h = sign(secret, 1_700_000_000, body);
        assert_eq!(verify(secret, &h, body, 1_700_000_100), Ok(1_700_000_000));
        // A second, stale v1 (secret rotation) beside the good one still verifies.
        let rotated = format!("t=1700000000,v1={},{}", "00".repeat(32), &h[13..]);
        assert!(verify(secret, &rotated, body, 1_700_000_100).is_ok());
        assert!(verify("whsec_other", &h, body, 1_700_000_100).is_err());
        assert!(verify(secret, &h, br#"{"id":"evt_2"}"#, 1_700_000_100).is_err());
        let old = verify(secret, &h, body, 1_700_000_301).unwrap_err();
        assert!(old.contains("tolerance"), "{old}");
        assert!(verify(secret, "v1=abcd", body, 0).is_err());
    }

    #[test]
    fn subscription_update_gives_deltas_and_arr() {
        let ev = serde_json::json!({
            "id": "evt_1", "type": "customer.subscription.updated", "created": 1_767_225_600,
            "data": {
                "object": {"id": "sub_1", "customer": "cus_1", "start_date": 1_767_225_600, "currency": "usd",
                    "items": {"data": [{"quantity": 12, "price": {"id": "price_1", "nickname": "Pro", "unit_amount": 1000, "currency": "usd", "recurring": {"interval": "month", "interval_count": 1}}}]}},
                "previous_attributes": {"items": {"data": [{"quantity": 10, "price": {"id": "price_1", "nickname": "Pro", "unit_amount": 1000, "currency": "usd", "recurring": {"interval": "month", "interval_count": 1}}}]}}
            }
        });
        let f = facts(&ev, &AccountId("acme".into()), Timestamp(0)).unwrap();
        assert_eq!(f.subscriptions[0].mrr.minor, 12_000);
        assert_eq!(f.billing[0].mrr_delta, Some(2_000));
        assert_eq!(f.billing[0].seats_delta, Some(2));
        let arr = f.attrs.iter().find(|a| a.attr == "arr").unwrap();
        assert_eq!(arr.value.as_deref(), Some("144000"));
    }
}
