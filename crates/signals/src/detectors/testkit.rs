//! Builders for detector tests: an account as of a day with hand-made series and facts, so each test states
//! only what matters to it.

use crate::calendar::Calendar;
use crate::{Context, Detection, Detector};
use bellwether_core::history::AttrFact;
use bellwether_core::model::{
    BillingEvent, BillingKind, Contact, Interaction, InteractionKind, Priority, Response, Ticket,
};
use bellwether_core::series::{AccountSeries, Series};
use bellwether_core::{AccountId, ContactId, Day, Money, Timestamp};
use bellwether_features::AccountFeatures;
use bellwether_store::{AccountFacts, ContactFacts};

/// One account as of one day, with everything a [`Context`] borrows.
pub(crate) struct Kit {
    pub id: AccountId,
    pub as_of: Day,
    pub features: AccountFeatures,
    pub facts: AccountFacts,
    pub series: AccountSeries,
    pub calendar: Calendar,
}

impl Kit {
    /// An empty account as of `as_of` with the default (US) calendar.
    pub fn new(as_of: Day) -> Kit {
        Kit {
            id: AccountId::from("acme"),
            as_of,
            features: AccountFeatures::default(),
            facts: AccountFacts::default(),
            series: AccountSeries::default(),
            calendar: Calendar::default(),
        }
    }

    /// Runs a detector on the account as of its day (or another day, to test time travel).
    pub fn run_at(&self, d: &dyn Detector, as_of: Day) -> Option<Detection> {
        d.detect(&Context {
            account: &self.id,
            as_of,
            until: as_of.start(),
            features: &self.features,
            facts: &self.facts,
            series: (!self.series.metrics.is_empty()).then_some(&self.series),
            calendar: &self.calendar,
        })
    }

    /// Runs a detector on the account as of its day.
    pub fn run(&self, d: &dyn Detector) -> Option<Detection> {
        self.run_at(d, self.as_of)
    }

    /// Sets a metric to `f(day, is_workday)` for every day in `[as_of + from, as_of + to)` (offsets may be
    /// negative); zero values are left out, as an import would.
    pub fn metric(
        &mut self,
        name: &str,
        from: i32,
        to: i32,
        f: impl Fn(Day, bool) -> f64,
    ) -> &mut Self {
        let cal = self.calendar.clone();
        let points = (from..to)
            .map(|o| self.as_of.plus(o))
            .map(|d| (d, f(d, cal.is_workday(d))))
            .filter(|p| p.1 != 0.0)
            .collect();
        self.series
            .metrics
            .insert(name.to_string(), Series { points });
        self
    }

    /// Sets a metric from explicit points.
    pub fn points(&mut self, name: &str, mut points: Vec<(Day, f64)>) -> &mut Self {
        points.sort_by_key(|p| p.0);
        self.series
            .metrics
            .insert(name.to_string(), Series { points });
        self
    }

    /// Adds a contact with attribute changes `(days from as_of, attribute, value)`; the contact is first seen a
    /// year before the day.
    pub fn contact(&mut self, id: &str, name: &str, attrs: &[(i32, &str, &str)]) -> &mut Self {
        let first_seen = at(self.as_of.plus(-365));
        self.facts.contacts.push(ContactFacts {
            contact: Contact {
                id: ContactId::from(id),
                account_id: self.id.clone(),
                email: Some(format!("{id}@acme.example")),
                name: Some(name.to_string()),
                first_seen: Some(first_seen),
            },
            attrs: attrs
                .iter()
                .map(|(o, a, v)| AttrFact {
                    subject: id.to_string(),
                    attr: a.to_string(),
                    value: Some(v.to_string()),
                    valid_from: at(self.as_of.plus(*o)),
                    received_at: at(self.as_of.plus(*o)),
                })
                .collect(),
        });
        self
    }

    /// Adds an interaction `offset` days from the day.
    pub fn interaction(
        &mut self,
        offset: i32,
        kind: InteractionKind,
        response: Option<Response>,
        contact: Option<&str>,
    ) -> &mut Interaction {
        let day = self.as_of.plus(offset);
        let id = format!("i{}", self.facts.interactions.len());
        self.facts.interactions.push(Interaction {
            id: id.clone(),
            account_id: self.id.clone(),
            contact_id: contact.map(ContactId::from),
            at: at(day),
            kind,
            response,
            score: None,
            note: String::new(),
            received_at: at(day),
        });
        self.facts.interactions.sort_by_key(|i| i.at);
        let n = self
            .facts
            .interactions
            .iter()
            .position(|i| i.id == id)
            .expect("just added");
        &mut self.facts.interactions[n]
    }

    /// Adds an NPS answer `offset` days from the day.
    pub fn nps(&mut self, offset: i32, score: f64, contact: &str, note: &str) -> &mut Self {
        let i = self.interaction(offset, InteractionKind::Nps, None, Some(contact));
        i.score = Some(score);
        i.note = note.to_string();
        self
    }

    /// Adds a ticket opened `offset` days from the day, open unless changed.
    pub fn ticket(&mut self, offset: i32, priority: Priority, subject: &str) -> &mut Ticket {
        let day = self.as_of.plus(offset);
        let n = self.facts.tickets.len();
        self.facts.tickets.push(Ticket {
            id: format!("t{n}"),
            account_id: self.id.clone(),
            contact_id: None,
            opened_at: at(day),
            closed_at: None,
            priority,
            status: "open".into(),
            escalated: false,
            first_response_minutes: None,
            resolution_minutes: None,
            sla_breached: false,
            csat: None,
            subject: subject.to_string(),
            body: String::new(),
            sentiment: None,
            received_at: at(day),
        });
        &mut self.facts.tickets[n]
    }

    /// Adds a billing event `offset` days from the day.
    pub fn billing(&mut self, offset: i32, kind: BillingKind) -> &mut BillingEvent {
        let day = self.as_of.plus(offset);
        let n = self.facts.billing.len();
        self.facts.billing.push(BillingEvent {
            id: format!("b{n}"),
            account_id: self.id.clone(),
            at: at(day),
            kind,
            amount: None,
            mrr_delta: None,
            seats_delta: None,
            plan: None,
            received_at: at(day),
        });
        &mut self.facts.billing[n]
    }
}

/// 10:00 UTC on a day: inside the day, whatever the test does with it.
pub(crate) fn at(d: Day) -> Timestamp {
    Timestamp(d.start().0 + 10 * 3_600_000)
}

/// US dollars from whole dollars.
pub(crate) fn usd(dollars: i64) -> Money {
    Money::usd(dollars * 100)
}
