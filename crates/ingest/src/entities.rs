//! Turns validated rows of every kind except events into canonical records, chunk by chunk.
//!
//! Records of a chunk are appended to the batch as they are read; when the chunk turns out to have been
//! imported before, they are cut off again (`end_chunk(false)`), so only new chunks reach the store.

use crate::fields::Fields;
use crate::kind::Kind;
use crate::report::FieldError;
use bellwether_core::history::{attr, AttrFact};
use bellwether_core::model::{
    BillingEvent, BillingKind, Contact, ContactStatus, Interaction, InteractionKind, Outcome,
    OutcomeKind, Priority, Response, Role, Subscription, Ticket,
};
use bellwether_core::people::Person;
use bellwether_core::time::{EventTimeWindow, TimeReading};
use bellwether_core::{money, AccountId, ContactId, Currency, Day, Money, Timestamp};
use bellwether_store::WriteBatch;
use std::collections::BTreeMap;

/// Accumulates the records of one file.
pub(crate) struct EntitySink {
    kind: Kind,
    received: Timestamp,
    window: EventTimeWindow,
    pub(crate) reading: TimeReading,
    pub(crate) batch: WriteBatch,
    metrics: Vec<(AccountId, String, Day, f64)>,
    mark: [usize; 10],
    /// Records kept so far (in chunks that were new).
    pub(crate) kept: u64,
    pending: u64,
}

/// Converts an attribute's text to its stored form, validating it. ARR is stored in minor units of
/// `currency`, the record's own `currency` column (USD when blank).
fn attr_value(
    name: &str,
    v: &str,
    field: &'static str,
    currency: Currency,
) -> Result<String, FieldError> {
    let v = v.trim();
    // A custom attribute's value is free text.
    let bound = crate::fields::column_bound(name).unwrap_or(bellwether_core::text::Bound::Text);
    bellwether_core::text::check(bound, v).map_err(|e| FieldError::text(field, e))?;
    Ok(match name {
        attr::ARR => {
            match money::parse_major(v, currency).map_err(|e| FieldError::field(field, e))? {
                a if a < 0 => {
                    return Err(FieldError::field(
                        field,
                        format!("'{v}' is negative; ARR is 0 or more"),
                    ))
                }
                a => a.to_string(),
            }
        }
        attr::SEATS => match v.parse::<f64>() {
            Ok(s) if s >= 0.0 && s.fract() == 0.0 => (s as i64).to_string(),
            _ => {
                return Err(FieldError::field(
                    field,
                    format!("'{v}' is not a seat count; use a whole number of 0 or more"),
                ))
            }
        },
        attr::CONTRACT_START | attr::RENEWAL_DATE => Day::parse(v)
            .map_err(|e| FieldError::field(field, e.to_string()))?
            .to_string(),
        attr::CURRENCY => bellwether_core::Currency::parse(v)
            .map_err(|e| FieldError::field(field, e))?
            .to_string(),
        attr::SEGMENT | attr::LIFECYCLE_STAGE => crate::kind::label(v),
        _ => v.to_string(),
    })
}

const ACCOUNT_ATTRS: &[&str] = &[
    attr::NAME,
    attr::OWNER,
    attr::SEGMENT,
    attr::PLAN,
    attr::ARR,
    attr::CURRENCY,
    attr::SEATS,
    attr::CONTRACT_START,
    attr::RENEWAL_DATE,
    attr::LIFECYCLE_STAGE,
    attr::PARENT_ID,
];

impl EntitySink {
    pub(crate) fn new(
        kind: Kind,
        received: Timestamp,
        window: EventTimeWindow,
        reading: TimeReading,
    ) -> EntitySink {
        EntitySink {
            kind,
            received,
            window,
            reading,
            batch: WriteBatch::default(),
            metrics: Vec::new(),
            mark: [0; 10],
            kept: 0,
            pending: 0,
        }
    }

    fn lens(&self) -> [usize; 10] {
        let b = &self.batch;
        [
            b.account_attrs.len(),
            b.contacts.len(),
            b.contact_attrs.len(),
            b.tickets.len(),
            b.billing.len(),
            b.subscriptions.len(),
            b.interactions.len(),
            b.outcomes.len(),
            self.metrics.len(),
            b.people.len(),
        ]
    }

    /// Closes a chunk: keeps its records when it is new, drops them when it was imported before.
    pub(crate) fn end_chunk(&mut self, keep: bool) {
        if keep {
            self.mark = self.lens();
            self.kept += self.pending;
        } else {
            let m = self.mark;
            let b = &mut self.batch;
            b.account_attrs.truncate(m[0]);
            b.contacts.truncate(m[1]);
            b.contact_attrs.truncate(m[2]);
            b.tickets.truncate(m[3]);
            b.billing.truncate(m[4]);
            b.subscriptions.truncate(m[5]);
            b.interactions.truncate(m[6]);
            b.outcomes.truncate(m[7]);
            self.metrics.truncate(m[8]);
            b.people.truncate(m[9]);
        }
        self.pending = 0;
    }

    /// A required event time, inside the window.
    fn event_time(&self, f: &Fields, name: &'static str) -> Result<Timestamp, FieldError> {
        let t = f.time(name)?;
        self.window
            .check(t, self.received)
            .map_err(|e| FieldError::event_time(name, e))
    }

    /// An optional event time, inside the window.
    fn opt_event_time(
        &self,
        f: &Fields,
        name: &'static str,
    ) -> Result<Option<Timestamp>, FieldError> {
        f.opt_time(name)?
            .map(|t| {
                self.window
                    .check(t, self.received)
                    .map_err(|e| FieldError::event_time(name, e))
            })
            .transpose()
    }

    /// A required event day, inside the window.
    fn event_day(&self, f: &Fields, name: &'static str) -> Result<Day, FieldError> {
        let d = f.day(name)?;
        self.window
            .check_day(d, self.received)
            .map_err(|e| FieldError::event_time(name, e))
    }

    /// Reads one record. `extra` holds the columns the kind does not declare (custom account attributes).
    /// Event times (when something happened) are checked against the window; dates that lie in the future
    /// by nature (contract and renewal dates, subscription terms, attribute changes planned ahead) are not.
    pub(crate) fn row(
        &mut self,
        f: &Fields,
        extra: &[(&str, Option<&str>)],
    ) -> Result<(), FieldError> {
        f.check_bounds()?;
        let received = self.received;
        match self.kind {
            Kind::Accounts => {
                let id = f.req("account_id")?.trim().to_string();
                let contract_start = f.opt_day("contract_start")?;
                let valid_from = match f.opt_time("valid_from")? {
                    Some(t) => t,
                    None => contract_start.map(|d| d.start()).unwrap_or(received),
                };
                let currency = f.currency()?;
                let mut facts = Vec::new();
                for name in ACCOUNT_ATTRS {
                    if let Some(v) = f.get(name) {
                        let value = attr_value(name, v, name, currency)?;
                        facts.push(AttrFact {
                            subject: id.clone(),
                            attr: name.to_string(),
                            value: Some(value),
                            valid_from,
                            received_at: received,
                        });
                    }
                }
                for (name, v) in extra {
                    if let Some(v) = v {
                        facts.push(AttrFact {
                            subject: id.clone(),
                            attr: name.to_string(),
                            value: Some(v.to_string()),
                            valid_from,
                            received_at: received,
                        });
                    }
                }
                if facts.is_empty() {
                    // An account listed with no attributes still exists from then on.
                    facts.push(AttrFact {
                        subject: id.clone(),
                        attr: attr::NAME.into(),
                        value: Some(id.clone()),
                        valid_from,
                        received_at: received,
                    });
                }
                self.batch.account_attrs.extend(facts);
            }
            Kind::AccountChanges => {
                let id = f.req("account_id")?.trim().to_string();
                let name = crate::kind::normalise(f.req("attribute")?);
                let currency = f.currency()?;
                let value = f
                    .get("value")
                    .map(|v| attr_value(&name, v, "value", currency))
                    .transpose()?;
                let valid_from = f.time("valid_from")?;
                self.batch.account_attrs.push(AttrFact {
                    subject: id,
                    attr: name,
                    value,
                    valid_from,
                    received_at: received,
                });
            }
            Kind::Contacts => {
                let id = f.req("contact_id")?.trim().to_string();
                let account_id = AccountId(f.req("account_id")?.trim().to_string());
                let first_seen = self.opt_event_time(f, "first_seen")?;
                let valid_from = f.opt_time("valid_from")?.or(first_seen).unwrap_or(received);
                let role = f.opt_enum("role", Role::parse)?;
                let status = f.opt_enum("status", ContactStatus::parse)?;
                let mut push = |a: &str, v: Option<String>| {
                    if let Some(v) = v {
                        self.batch.contact_attrs.push(AttrFact {
                            subject: id.clone(),
                            attr: a.into(),
                            value: Some(v),
                            valid_from,
                            received_at: received,
                        });
                    }
                };
                push(attr::ROLE, role.map(|r| r.as_str().to_string()));
                push(attr::STATUS, status.map(|s| s.as_str().to_string()));
                push(attr::TITLE, f.get("title").map(String::from));
                self.batch.contacts.push(Contact {
                    id: ContactId(id.clone()),
                    account_id,
                    email: f.get("email").map(String::from),
                    name: f.get("name").map(String::from),
                    first_seen: first_seen.or(Some(valid_from)),
                });
            }
            Kind::DailyMetrics => {
                let id = AccountId(f.req("account_id")?.trim().to_string());
                let day = self.event_day(f, "date")?;
                let metric = f.req("metric")?.trim().to_string();
                let value = crate::fields::number("value", f.req("value")?)?;
                self.metrics.push((id, metric, day, value));
            }
            Kind::Subscriptions => {
                let account_id = AccountId(f.req("account_id")?.trim().to_string());
                let plan = f.req("plan")?.trim().to_string();
                let start = f.day("start_date")?;
                let end = f.opt_day("end_date")?;
                if let Some(e) = end {
                    if e < start {
                        return Err(FieldError::field(
                            "end_date",
                            format!("{e} is before start_date {start}"),
                        ));
                    }
                }
                let currency = f.currency()?;
                let mrr = f
                    .opt_money("mrr", currency)?
                    .ok_or_else(|| FieldError::field("mrr", "is required but blank"))?;
                if mrr < 0 {
                    return Err(FieldError::field(
                        "mrr",
                        format!(
                            "{} is negative; MRR is 0 or more",
                            f.get("mrr").unwrap_or("")
                        ),
                    ));
                }
                let quantity = f.opt_i64("quantity")?.unwrap_or(1);
                if quantity < 0 {
                    return Err(FieldError::field(
                        "quantity",
                        format!("{quantity} is negative"),
                    ));
                }
                let term_days = f
                    .get("billing_period")
                    .map(|v| {
                        bellwether_core::time::term_days(v)
                            .map_err(|e| FieldError::field("billing_period", e))
                    })
                    .transpose()?;
                let id = f
                    .get("subscription_id")
                    .map(String::from)
                    .unwrap_or_else(|| format!("{account_id}:{plan}:{start}"));
                self.batch.subscriptions.push(Subscription {
                    id,
                    account_id,
                    plan,
                    start,
                    end,
                    mrr: Money {
                        minor: mrr,
                        currency,
                    },
                    quantity,
                    term_days,
                    received_at: received,
                });
            }
            Kind::Tickets => {
                let closed_at = self.opt_event_time(f, "closed_at")?;
                let csat = f.opt_f64("csat")?;
                if let Some(c) = csat {
                    if !(0.0..=5.0).contains(&c) {
                        return Err(FieldError::field("csat", format!("{c} is outside 1–5")));
                    }
                }
                let subject = f.get("subject").unwrap_or("").to_string();
                let body = f.get("body").unwrap_or("").to_string();
                let sentiment = Some(bellwether_text::sentiment::score(&format!(
                    "{subject} {body}"
                )));
                self.batch.tickets.push(Ticket {
                    id: f.req("ticket_id")?.trim().to_string(),
                    account_id: AccountId(f.req("account_id")?.trim().to_string()),
                    contact_id: f.get("contact_id").map(|c| ContactId(c.to_string())),
                    opened_at: self.event_time(f, "opened_at")?,
                    closed_at,
                    // Help desks write `-` for a ticket without a priority.
                    priority: match f.get("priority").map(str::trim) {
                        None | Some("-") => Priority::Normal,
                        Some(_) => f
                            .opt_enum("priority", Priority::parse)?
                            .unwrap_or(Priority::Normal),
                    },
                    status: f
                        .get("status")
                        .map(crate::kind::normalise)
                        .unwrap_or_else(|| {
                            if closed_at.is_some() {
                                "closed".into()
                            } else {
                                "open".into()
                            }
                        }),
                    escalated: f.flag("escalated")?
                        || f.get("tags").is_some_and(|t| {
                            t.split(|c: char| c == ',' || c.is_whitespace())
                                .any(|tag| tag.eq_ignore_ascii_case("escalated"))
                        }),
                    first_response_minutes: f.opt_f64("first_response_minutes")?,
                    resolution_minutes: f.opt_f64("resolution_minutes")?,
                    sla_breached: f.flag("sla_breached")?,
                    csat,
                    subject,
                    body,
                    sentiment,
                    received_at: received,
                });
            }
            Kind::BillingEvents => {
                let currency = f.currency()?;
                self.batch.billing.push(BillingEvent {
                    id: f.req("event_id")?.trim().to_string(),
                    account_id: AccountId(f.req("account_id")?.trim().to_string()),
                    at: self.event_time(f, "timestamp")?,
                    kind: BillingKind::parse(f.req("kind")?)
                        .map_err(|e| FieldError::field("kind", e))?,
                    amount: f
                        .opt_money("amount", currency)?
                        .map(|minor| Money { minor, currency }),
                    mrr_delta: f.opt_money("mrr_delta", currency)?,
                    seats_delta: f.opt_i64("seats_delta")?,
                    plan: f.get("plan").map(String::from),
                    received_at: received,
                });
            }
            Kind::Interactions => {
                let kind = InteractionKind::parse(f.req("kind")?)
                    .map_err(|e| FieldError::field("kind", e))?;
                let score = f.opt_f64("score")?;
                if let (InteractionKind::Nps, Some(s)) = (kind, score) {
                    if !(0.0..=10.0).contains(&s) {
                        return Err(FieldError::field(
                            "score",
                            format!("{s} is outside the NPS scale 0–10"),
                        ));
                    }
                }
                self.batch.interactions.push(Interaction {
                    id: f.req("interaction_id")?.trim().to_string(),
                    account_id: AccountId(f.req("account_id")?.trim().to_string()),
                    contact_id: f.get("contact_id").map(|c| ContactId(c.to_string())),
                    at: self.event_time(f, "timestamp")?,
                    kind,
                    response: f.opt_enum("response", Response::parse)?,
                    score,
                    note: f.get("note").unwrap_or("").to_string(),
                    received_at: received,
                });
            }
            Kind::Outcomes => {
                let kind =
                    OutcomeKind::parse(f.req("kind")?).map_err(|e| FieldError::field("kind", e))?;
                let currency = f.currency()?;
                let delta = f.opt_money("arr_delta", currency)?;
                if let Some(d) = delta.filter(|d| !kind.agrees_with(*d)) {
                    return Err(FieldError::field(
                        "arr_delta",
                        format!(
                            "{} is {} for a {kind} outcome; arr_delta is signed (ARR lost is negative), or give \
                             the unsigned size of the change as amount",
                            f.get("arr_delta").unwrap_or(""),
                            if d > 0 { "a gain" } else { "a loss" }
                        ),
                    ));
                }
                let amount = f.opt_money("amount", currency)?;
                if amount.is_some_and(|a| a < 0) {
                    return Err(FieldError::field(
                        "amount",
                        format!(
                            "{} is negative; amount is the size of the change (0 or more), signed by the \
                             outcome's kind",
                            f.get("amount").unwrap_or("")
                        ),
                    ));
                }
                self.batch.outcomes.push(Outcome {
                    account_id: AccountId(f.req("account_id")?.trim().to_string()),
                    date: self.event_day(f, "date")?,
                    kind,
                    arr_delta: delta.or(amount.map(|a| kind.arr_change(a))),
                    received_at: received,
                });
            }
            Kind::People => {
                let text = |name: &'static str| f.get(name).map(|v| v.trim().to_string());
                let daily_cap = match f.opt_i64("daily_cap")? {
                    None => None,
                    Some(c) if (0..=10_000).contains(&c) => Some(c as u32),
                    Some(c) => {
                        return Err(FieldError::field(
                            "daily_cap",
                            format!("{c} is not a number of alerts a day (0 to 10000)"),
                        ))
                    }
                };
                let channels = f.get("channels").map(|c| {
                    c.split([',', ';', '|', ' '])
                        .map(|x| x.trim().to_ascii_lowercase())
                        .filter(|x| !x.is_empty())
                        .collect::<Vec<_>>()
                });
                let person = Person {
                    email: f.req("email")?.trim().to_string(),
                    name: text("name"),
                    slack_user_id: text("slack_user_id"),
                    leader: text("leader"),
                    time_zone: text("time_zone"),
                    slack: text("slack"),
                    digest: match f.get("digest") {
                        None => None,
                        Some(_) => Some(f.flag("digest")?),
                    },
                    channels,
                    quiet_hours: text("quiet_hours"),
                    daily_cap,
                };
                person
                    .check_field()
                    .map_err(|(field, e)| FieldError::field(field, e))?;
                self.batch.people.push(person);
            }
            Kind::Events => unreachable!("events are rolled up by the events module"),
        }
        self.pending += 1;
        Ok(())
    }

    /// The finished batch; daily metrics become `metric:` series, the last value of a day winning.
    pub(crate) fn finish(mut self) -> WriteBatch {
        let mut by: BTreeMap<AccountId, BTreeMap<String, BTreeMap<Day, f64>>> = BTreeMap::new();
        for (id, metric, day, value) in self.metrics {
            by.entry(id)
                .or_default()
                .entry(format!(
                    "{}{metric}",
                    bellwether_core::series::METRIC_PREFIX
                ))
                .or_default()
                .insert(day, value);
        }
        for (id, metrics) in by {
            self.batch.series.insert(
                id,
                metrics
                    .into_iter()
                    .map(|(m, pts)| (m, pts.into_iter().collect()))
                    .collect(),
            );
        }
        self.batch
    }
}
