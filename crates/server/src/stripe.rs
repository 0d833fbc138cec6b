//! Stripe webhooks: the `Stripe-Signature` scheme, and Stripe events as billing facts.
//!
//! Stripe signs `"{t}.{body}"` with HMAC-SHA256 keyed by the endpoint's whole signing secret (`whsec_...`)
//! and sends `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`; several `v1` values appear while a secret is rolled.
//! A request is accepted when any `v1` matches (compared in constant time) and `t` is at most 300 s old.
//!
//! Events map to the canonical model: `customer.subscription.created/updated/deleted` to subscriptions, a
//! billing event with the MRR and seat change, and the account's ARR (12 × the monthly amounts of its live
//! Stripe subscriptions, in the currency's own minor units), plan, seats and currency; tiered prices are
//! priced from their tiers. A scheduled cancellation (`cancel_at`, `cancel_at_period_end`) stores its day and
//! the customer's `cancellation_details`; deleting the last live subscription records the churn as an
//! outcome. `invoice.paid` and `invoice.payment_failed` map to billing events with the amount. Impossible
//! values (a negative quantity, an amount that is not finite or beyond range) refuse the event, naming the
//! field. A
//! customer is mapped to an account by `metadata.account_id` (on the customer, the subscription, or the
//! invoice's subscription details) or by a link stored when such metadata was last seen.

use bellwether_core::history::{attr, AttrFact};
use bellwether_core::model::{BillingEvent, BillingKind, Outcome, OutcomeKind, Subscription};
use bellwether_core::{money, AccountId, Currency, Day, Money, Timestamp};
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

/// A field of an event that cannot be taken, named by its path in the event (`data.object.items.data[0].quantity`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The path of the field.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
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
    /// Outcomes: a churn when the account's last live subscription ended.
    pub outcomes: Vec<Outcome>,
    /// What was stored without a value it should have had (a tiered price sent without its tiers).
    pub warnings: Vec<FieldError>,
}

/// A subscription's terms: monthly amount in minor units (`None` when a price could not be read), seats, plan
/// and currency.
struct Terms {
    mrr: Option<i64>,
    seats: i64,
    plan: Option<String>,
    currency: Option<String>,
    /// The billing term of the first price, in days.
    term_days: Option<i32>,
    warnings: Vec<FieldError>,
}

/// A count of 0 or more (1 when absent).
fn quantity(v: &Value, field: &str) -> Result<i64, FieldError> {
    if v.is_null() {
        return Ok(1);
    }
    match v.as_f64() {
        Some(q) if q < 0.0 => Err(FieldError::new(
            field,
            format!("{v} is negative; a quantity is a whole number of 0 or more"),
        )),
        Some(q) if q.fract() == 0.0 && q <= 1e9 => Ok(q as i64),
        _ => Err(FieldError::new(
            field,
            format!("{v} is not a quantity; use a whole number of 0 or more, up to 1,000,000,000"),
        )),
    }
}

/// An amount in minor units, from a number or a decimal string (Stripe's `*_decimal` fields); `None` when
/// absent. Refuses negative, non-finite and out-of-range values.
fn amount(obj: &Value, key: &str, path: &str) -> Result<Option<f64>, FieldError> {
    let dec = format!("{key}_decimal");
    let (v, field) = if !obj[key].is_null() {
        (&obj[key], format!("{path}.{key}"))
    } else if !obj[dec.as_str()].is_null() {
        (&obj[dec.as_str()], format!("{path}.{dec}"))
    } else {
        return Ok(None);
    };
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => t.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(x) if x.is_finite() && (0.0..=money::MAX_MINOR as f64).contains(&x) => Ok(Some(x)),
        Some(x) if x < 0.0 => Err(FieldError::new(
            field,
            format!("{v} is negative; a price is 0 or more"),
        )),
        _ => Err(FieldError::new(
            field,
            format!(
                "{v} is not an amount in minor units between 0 and {}",
                money::MAX_MINOR
            ),
        )),
    }
}

/// The amount for `q` units of a tiered price (`graduated`: each tier's units at its own price; `volume`: all
/// units at the price of the tier `q` falls in), flat amounts included.
fn tiered(price: &Value, q: i64, path: &str) -> Result<f64, FieldError> {
    let tiers = price["tiers"].as_array().expect("checked by the caller");
    let mode = price["tiers_mode"].as_str().unwrap_or("");
    let tier_cost = |i: usize, units: i64| -> Result<f64, FieldError> {
        let t = &tiers[i];
        let tp = format!("{path}.tiers[{i}]");
        let unit = amount(t, "unit_amount", &tp)?.unwrap_or(0.0);
        let flat = amount(t, "flat_amount", &tp)?.unwrap_or(0.0);
        Ok(unit * units as f64 + flat)
    };
    let upper = |i: usize| -> Result<Option<i64>, FieldError> {
        match &tiers[i]["up_to"] {
            Value::Null => Ok(None),
            Value::String(s) if s == "inf" => Ok(None),
            v => v.as_i64().filter(|u| *u >= 0).map(Some).ok_or_else(|| {
                FieldError::new(
                    format!("{path}.tiers[{i}].up_to"),
                    format!("{v} is not a tier bound; use a whole number or null"),
                )
            }),
        }
    };
    match mode {
        "graduated" => {
            let (mut total, mut below) = (0.0, 0i64);
            for i in 0..tiers.len() {
                if q <= below {
                    break;
                }
                let top = upper(i)?.unwrap_or(i64::MAX);
                let units = q.min(top) - below;
                if units > 0 {
                    total += tier_cost(i, units)?;
                }
                below = top;
            }
            Ok(total)
        }
        "volume" => {
            for i in 0..tiers.len() {
                if upper(i)?.is_none_or(|u| q <= u) {
                    return tier_cost(i, q);
                }
            }
            Err(FieldError::new(
                format!("{path}.tiers"),
                format!("no tier covers a quantity of {q}; the last tier needs `up_to: null`"),
            ))
        }
        other => Err(FieldError::new(
            format!("{path}.tiers_mode"),
            format!("'{other}' is not a tiers mode; Stripe sends graduated or volume"),
        )),
    }
}

/// What one price costs per interval for `q` units, in minor units; `Ok(None)` (with a warning) for a tiered
/// price whose tiers the event does not carry.
fn price_amount(
    price: &Value,
    q: i64,
    path: &str,
    warnings: &mut Vec<FieldError>,
) -> Result<Option<f64>, FieldError> {
    let tiered_scheme = price["billing_scheme"].as_str() == Some("tiered");
    if tiered_scheme || (price["unit_amount"].is_null() && price["tiers"].is_array()) {
        if price["tiers"].as_array().is_some_and(|t| !t.is_empty()) {
            return tiered(price, q, path).map(Some);
        }
        warnings.push(FieldError::new(
            format!("{path}.tiers"),
            format!(
                "price {} is tiered but the event does not carry its tiers (Stripe includes them only when expanded), so the account's ARR was left as it was; set ARR from the subscriptions or accounts import, or send the event with `tiers` expanded",
                price["id"].as_str().unwrap_or("?")
            ),
        ));
        return Ok(None);
    }
    match amount(price, "unit_amount", path)?.or(amount(price, "amount", path)?) {
        Some(a) => Ok(Some(a * q as f64)),
        None => {
            warnings.push(FieldError::new(
                format!("{path}.unit_amount"),
                format!(
                    "price {} has no unit_amount, so the account's ARR was left as it was",
                    price["id"].as_str().unwrap_or("?")
                ),
            ));
            Ok(None)
        }
    }
}

/// A price's billing term in days (`interval` × `interval_count`: a month is 30 days, a year 365).
fn term_of(recurring: &Value) -> Option<i32> {
    let count = recurring["interval_count"]
        .as_i64()
        .unwrap_or(1)
        .clamp(1, 1000) as i32;
    let days = match recurring["interval"].as_str()? {
        "year" => 365,
        "month" => 30,
        "week" => 7,
        "day" => 1,
        _ => return None,
    };
    Some(days * count)
}

/// The factor from a price's interval to a month.
fn per_month(recurring: &Value) -> f64 {
    let count = recurring["interval_count"].as_f64().unwrap_or(1.0).max(1.0);
    let per = match recurring["interval"].as_str().unwrap_or("month") {
        "year" => 1.0 / 12.0,
        "week" => 52.0 / 12.0,
        "day" => 365.0 / 12.0,
        _ => 1.0,
    };
    per / count
}

/// A subscription's terms. Amounts are in the currency's minor units, as Stripe sends them (yen for JPY,
/// cents for USD, fils for KWD).
fn sub_terms(s: &Value) -> Result<Terms, FieldError> {
    let mut mrr = Some(0.0);
    let mut seats = 0i64;
    let mut plan = None;
    let mut warnings = Vec::new();
    let mut term_days = None;
    let mut currency = s["currency"].as_str().map(String::from);
    let items = s["items"]["data"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        // Legacy single-plan subscriptions.
        let p = &s["plan"];
        if p.is_object() {
            let q = quantity(&s["quantity"], "data.object.quantity")?;
            let a = price_amount(p, q, "data.object.plan", &mut warnings)?;
            mrr = mrr.zip(a).map(|(m, a)| m + a * per_month(p));
            term_days = term_of(p);
            seats += q;
            plan = p["nickname"]
                .as_str()
                .or(p["id"].as_str())
                .map(String::from);
            currency = currency.or(p["currency"].as_str().map(String::from));
        }
    }
    for (i, it) in items.iter().enumerate() {
        let path = format!("data.object.items.data[{i}]");
        let (price, ppath) = if it["price"].is_object() {
            (&it["price"], format!("{path}.price"))
        } else {
            (&it["plan"], format!("{path}.plan"))
        };
        let q = quantity(&it["quantity"], &format!("{path}.quantity"))?;
        let a = price_amount(price, q, &ppath, &mut warnings)?;
        let recurring = if price["recurring"].is_object() {
            &price["recurring"]
        } else {
            price
        };
        mrr = mrr.zip(a).map(|(m, a)| m + a * per_month(recurring));
        term_days = term_days.or_else(|| term_of(recurring));
        seats = seats.saturating_add(q);
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
    let cur = Currency::parse(currency.as_deref().unwrap_or("usd"))
        .map_err(|e| FieldError::new("data.object.currency", e))?;
    // The yearly amount must fit too: ARR is stored.
    let mrr = mrr
        .map(|m| {
            money::checked_minor(m * 12.0, cur)
                .map(|_| m.round() as i64)
                .map_err(|e| {
                    FieldError::new("data.object.items", format!("the subscription's ARR {e}"))
                })
        })
        .transpose()?;
    Ok(Terms {
        mrr,
        seats,
        plan,
        currency,
        term_days,
        warnings,
    })
}

/// A day from Unix seconds; a value that is no representable time reads as absent.
fn day_of(v: &Value) -> Option<Day> {
    v.as_i64()
        .and_then(Timestamp::from_unix_seconds)
        .map(|t| t.day())
}

/// When an event happened: its `created`, in Unix seconds.
pub fn created(ev: &Value) -> Result<Timestamp, String> {
    let s = ev["created"]
        .as_i64()
        .ok_or("the event has no `created` time")?;
    Timestamp::from_unix_seconds(s)
        .ok_or_else(|| format!("`created` {s} is not a time in Unix seconds"))
}

/// Whether a subscription id is Stripe's (`sub_…`): the account's ARR from Stripe sums those only, so
/// subscriptions imported from files for the same contract are not counted twice.
fn is_stripe_subscription(id: &str) -> bool {
    id.starts_with("sub_")
}

/// Cancellation details in words: `too_expensive: "We cut tools" (comment: …)`.
fn cancellation_words(obj: &Value) -> Option<String> {
    let d = &obj["cancellation_details"];
    let text = |k: &str| d[k].as_str().map(str::trim).filter(|s| !s.is_empty());
    let mut parts = Vec::new();
    if let Some(f) = text("feedback") {
        parts.push(f.replace('_', " "));
    }
    if let Some(c) = text("comment") {
        parts.push(format!("\"{c}\""));
    }
    if parts.is_empty() {
        if let Some(r) = text("reason") {
            parts.push(r.replace('_', " "));
        }
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}

/// Maps a handled event to facts of `account`. `existing` holds the account's stored subscriptions: the
/// account's ARR is 12 × the monthly amounts of its live Stripe subscriptions after the event, and deleting
/// the last one records the churn.
pub fn facts(
    ev: &Value,
    account: &AccountId,
    received: Timestamp,
    existing: &[Subscription],
) -> Result<Facts, FieldError> {
    let id = ev["id"]
        .as_str()
        .ok_or_else(|| FieldError::new("id", "the event has no id"))?
        .to_string();
    let kind = ev["type"]
        .as_str()
        .ok_or_else(|| FieldError::new("type", "the event has no type"))?;
    let at = created(ev).map_err(|why| FieldError::new("created", &why))?;
    let obj = &ev["data"]["object"];
    let mut out = Facts::default();
    let currency = |c: Option<&str>, field: &str| -> Result<Currency, FieldError> {
        Currency::parse(&c.unwrap_or("usd").to_ascii_uppercase())
            .map_err(|e| FieldError::new(field, e))
    };
    let attr = |name: &str, value: Option<String>| AttrFact {
        subject: account.0.clone(),
        attr: name.into(),
        value,
        valid_from: at,
        received_at: received,
    };
    match kind {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let sub_id = obj["id"]
                .as_str()
                .ok_or_else(|| FieldError::new("data.object.id", "data.object.id is missing"))?
                .to_string();
            let terms = sub_terms(obj)?;
            out.warnings.extend(terms.warnings);
            let cur = currency(terms.currency.as_deref(), "data.object.currency")?;
            let stored = existing.iter().find(|s| s.id == sub_id);
            // A price that could not be read keeps the amount stored before.
            let mrr = terms.mrr.or_else(|| {
                stored
                    .filter(|s| s.mrr.currency == cur)
                    .map(|s| s.mrr.minor)
            });
            let deleted = kind.ends_with("deleted");
            let prev = match (
                kind,
                obj.clone(),
                ev["data"]["previous_attributes"].as_object(),
            ) {
                ("customer.subscription.updated", Value::Object(mut o), Some(prev)) => {
                    for (k, v) in prev {
                        o.insert(k.clone(), v.clone());
                    }
                    sub_terms(&Value::Object(o))
                        .ok()
                        .map(|t| (t.mrr, t.seats))
                        .unwrap_or((None, terms.seats))
                }
                ("customer.subscription.updated", _, _) => (mrr, terms.seats),
                ("customer.subscription.created", _, _) => (Some(0), 0),
                _ => (mrr, terms.seats),
            };
            let (mrr_delta, seats_delta) = if deleted {
                (mrr.map(|m| -m), -terms.seats)
            } else {
                (mrr.zip(prev.0).map(|(m, p)| m - p), terms.seats - prev.1)
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
            let plan = terms.plan;
            // A subscription is stored with a known amount, or as ended (its amount no longer counts).
            if let Some(minor) = mrr.or(deleted.then_some(0)) {
                out.subscriptions.push(Subscription {
                    id: sub_id.clone(),
                    account_id: account.clone(),
                    plan: plan.clone().unwrap_or_else(|| "unknown".into()),
                    start,
                    end,
                    mrr: Money {
                        minor,
                        currency: cur,
                    },
                    quantity: terms.seats,
                    term_days: terms.term_days,
                    received_at: received,
                });
            }
            out.billing.push(BillingEvent {
                id,
                account_id: account.clone(),
                at,
                kind: BillingKind::parse(kind).map_err(|e| FieldError::new("type", e))?,
                amount: None,
                mrr_delta,
                seats_delta: Some(seats_delta),
                plan: plan.clone(),
                received_at: received,
            });
            // The account's other live Stripe subscriptions in the same currency.
            let day = at.day();
            let others: Vec<&Subscription> = existing
                .iter()
                .filter(|s| s.id != sub_id && is_stripe_subscription(&s.id))
                .filter(|s| s.start <= day && s.end.is_none_or(|e| e > day))
                .filter(|s| s.mrr.currency == cur)
                .collect();
            let others_mrr: i64 = others.iter().map(|s| s.mrr.minor).sum();
            if deleted {
                out.attrs
                    .push(attr(attr::ARR, Some((others_mrr * 12).to_string())));
                out.attrs.push(attr(attr::CANCEL_AT, None));
                if others.is_empty() {
                    out.outcomes.push(Outcome {
                        account_id: account.clone(),
                        date: end.unwrap_or(day),
                        kind: OutcomeKind::Churned,
                        arr_delta: mrr.map(|m| -m * 12),
                        received_at: received,
                    });
                }
            } else {
                if let Some(m) = mrr {
                    out.attrs
                        .push(attr(attr::ARR, Some(((m + others_mrr) * 12).to_string())));
                }
                let seats = terms.seats + others.iter().map(|s| s.quantity).sum::<i64>();
                out.attrs.push(attr(attr::SEATS, Some(seats.to_string())));
                out.attrs.push(attr(attr::CURRENCY, Some(cur.to_string())));
                if let Some(p) = plan {
                    out.attrs.push(attr(attr::PLAN, Some(p)));
                }
                // A scheduled cancellation: the day it takes effect and what the customer said.
                let cancel_at = day_of(&obj["cancel_at"]).or_else(|| {
                    (obj["cancel_at_period_end"].as_bool() == Some(true))
                        .then(|| {
                            day_of(&obj["current_period_end"])
                                .or_else(|| day_of(&obj["items"]["data"][0]["current_period_end"]))
                        })
                        .flatten()
                });
                let scheduled =
                    cancel_at.is_some() || obj["cancel_at_period_end"].as_bool() == Some(true);
                if scheduled {
                    let when = cancel_at
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "period_end".into());
                    out.attrs.push(attr(attr::CANCEL_AT, Some(when)));
                    out.attrs
                        .push(attr(attr::CANCELLATION_FEEDBACK, cancellation_words(obj)));
                } else if ["cancel_at", "cancel_at_period_end"]
                    .iter()
                    .any(|k| ev["data"]["previous_attributes"].get(k).is_some())
                {
                    // The cancellation was withdrawn.
                    out.attrs.push(attr(attr::CANCEL_AT, None));
                }
            }
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let field = if kind == "invoice.paid" {
                "amount_paid"
            } else {
                "amount_due"
            };
            let path = format!("data.object.{field}");
            let cur = currency(obj["currency"].as_str(), "data.object.currency")?;
            let v = &obj[field];
            let minor = v
                .as_f64()
                .ok_or_else(|| {
                    FieldError::new(
                        &path,
                        if v.is_null() {
                            format!("{path} is missing")
                        } else {
                            format!("{path} is {v}, not an amount: Stripe sends an integer of minor units")
                        },
                    )
                })
                .and_then(|x| {
                    money::checked_minor(x, cur).map_err(|e| FieldError::new(&path, e))
                })?;
            out.billing.push(BillingEvent {
                id,
                account_id: account.clone(),
                at,
                kind: BillingKind::parse(kind).map_err(|e| FieldError::new("type", e))?,
                amount: Some(Money {
                    minor,
                    currency: cur,
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
        let f = facts(&ev, &AccountId("acme".into()), Timestamp(0), &[]).unwrap();
        assert_eq!(f.subscriptions[0].mrr.minor, 12_000);
        assert_eq!(f.billing[0].mrr_delta, Some(2_000));
        assert_eq!(f.billing[0].seats_delta, Some(2));
        let arr = f.attrs.iter().find(|a| a.attr == "arr").unwrap();
        assert_eq!(arr.value.as_deref(), Some("144000"));
    }
}
