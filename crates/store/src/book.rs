//! Facts about accounts as the store hands them out: every record of an account, in event-time order, from
//! which any day's picture can be read. Reading "as of a day" is the features crate's job; this is the raw book.

use bellwether_core::history::{self, AttrFact};
use bellwether_core::model::{
    AccountView, BillingEvent, Contact, ContactView, Interaction, Outcome, Subscription, Ticket,
};
use bellwether_core::{AccountId, Day, Timestamp};
use std::collections::BTreeMap;

/// A contact with its attribute history.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactFacts {
    /// The contact.
    pub contact: Contact,
    /// Role, status and title changes.
    pub attrs: Vec<AttrFact>,
}

/// Every stored fact of one account, except its series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountFacts {
    /// Attribute history.
    pub attrs: Vec<AttrFact>,
    /// Contacts with their histories.
    pub contacts: Vec<ContactFacts>,
    /// Tickets, by opening time.
    pub tickets: Vec<Ticket>,
    /// Billing events, by time.
    pub billing: Vec<BillingEvent>,
    /// Subscriptions, by start.
    pub subscriptions: Vec<Subscription>,
    /// Interactions, by time.
    pub interactions: Vec<Interaction>,
    /// Outcomes, by day.
    pub outcomes: Vec<Outcome>,
}

impl AccountFacts {
    /// The account's attributes as of the start of `as_of` (facts that took effect before that day).
    pub fn view(&self, id: &AccountId, as_of: Day) -> AccountView {
        self.view_current(id, as_of, None)
    }

    /// The account's attributes for the book's current assessment of `as_of` made at `now` (see
    /// [`history::snapshot_current`]: undated values received by `now` apply); with `now` `None`, [`Self::view`].
    pub fn view_current(&self, id: &AccountId, as_of: Day, now: Option<Timestamp>) -> AccountView {
        AccountView::from_snapshot(
            id.clone(),
            history::snapshot_current(&self.attrs, as_of.start(), now),
        )
    }

    /// The contacts first seen before `as_of`, with their role and status as of that day.
    pub fn contacts_as_of(&self, as_of: Day) -> Vec<ContactView> {
        self.contacts_current(as_of, None)
    }

    /// [`Self::contacts_as_of`] for the book's current assessment made at `now`: contacts known only from
    /// undated records received by `now` count too.
    pub fn contacts_current(&self, as_of: Day, now: Option<Timestamp>) -> Vec<ContactView> {
        let t = as_of.start();
        let undated_by = |c: &ContactFacts| {
            now.is_some_and(|n| {
                c.attrs
                    .iter()
                    .any(|a| history::undated(a) && a.received_at <= n)
            })
        };
        self.contacts
            .iter()
            .filter(|c| {
                (match c.contact.first_seen {
                    Some(f) => f < t,
                    None => c.attrs.is_empty() || c.attrs.iter().any(|a| a.valid_from < t),
                }) || undated_by(c)
            })
            .map(|c| {
                ContactView::from_snapshot(
                    c.contact.clone(),
                    &history::snapshot_current(&c.attrs, t, now),
                )
            })
            .collect()
    }

    /// Sorts every list into event-time order (the store calls this once after loading).
    pub fn sort(&mut self) {
        self.attrs.sort_by_key(|f| (f.valid_from, f.received_at));
        self.tickets.sort_by_key(|t| t.opened_at);
        self.billing.sort_by_key(|b| b.at);
        self.subscriptions.sort_by_key(|s| s.start);
        self.interactions.sort_by_key(|i| i.at);
        self.outcomes.sort_by_key(|o| o.date);
        for c in &mut self.contacts {
            c.attrs.sort_by_key(|f| (f.valid_from, f.received_at));
        }
    }
}

/// Every account's facts.
#[derive(Clone, Debug, Default)]
pub struct Book {
    /// Facts by account.
    pub accounts: BTreeMap<AccountId, AccountFacts>,
}
