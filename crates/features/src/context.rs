//! Facts about the whole book that features need: which sources held data at all before the as-of day (so an
//! unconnected source counts as missing rather than as "all quiet") and the catalogue of product features
//! (event names seen before that day). Like every feature, the context only reads what happened before it.

use bellwether_core::series::{AccountSeries, EVENT_PREFIX, METRIC_ACTIVE_USERS, METRIC_PREFIX};
use bellwether_core::Day;
use bellwether_store::{Book, BookSummary};
use std::collections::BTreeSet;

/// The book's feature catalogue from its metric names: event names when the book has events, else the names
/// of its imported daily metrics (the same choice [`bellwether_core::series::usage_series`] makes per account).
fn catalogue<'a>(metrics: impl Iterator<Item = &'a str>) -> Vec<String> {
    let metrics: Vec<&str> = metrics.collect();
    let events: Vec<String> = metrics
        .iter()
        .filter_map(|m| m.strip_prefix(EVENT_PREFIX))
        .map(String::from)
        .collect();
    if !events.is_empty() {
        return events;
    }
    metrics
        .iter()
        .filter(|m| **m != METRIC_ACTIVE_USERS)
        .filter_map(|m| m.strip_prefix(METRIC_PREFIX))
        .map(String::from)
        .collect()
}

/// Book-wide context, computed once per pass.
#[derive(Clone, Debug, Default)]
pub struct BookContext {
    /// Every event name seen in the book.
    pub catalog: Vec<String>,
    /// Whether any account has tickets.
    pub has_tickets: bool,
    /// Whether any account has contacts.
    pub has_contacts: bool,
    /// Whether any account has interactions.
    pub has_interactions: bool,
    /// Whether any account has billing events.
    pub has_billing: bool,
    /// Segment medians to compare accounts with (empty: no comparison).
    pub peers: crate::peers::Peers,
    /// For the book's current assessment, the instant it is made: undated values received by then apply
    /// (see [`bellwether_core::history::snapshot_current`]). `None` for past days, training and backtests.
    pub current_at: Option<bellwether_core::Timestamp>,
    /// How ARR of any currency is brought into the book's reporting currency.
    pub rates: bellwether_core::Rates,
}

impl BookContext {
    /// Builds the context as of `as_of` from the loaded book and series.
    pub fn build<'a>(
        book: &Book,
        series: impl IntoIterator<Item = &'a AccountSeries>,
        as_of: Day,
    ) -> BookContext {
        let t = as_of.start();
        let mut names = BTreeSet::new();
        for s in series {
            for (m, ser) in &s.metrics {
                if ser.first_day().is_some_and(|d| d < as_of) && !names.contains(m) {
                    names.insert(m.clone());
                }
            }
        }
        let catalog = catalogue(names.iter().map(String::as_str));
        let accounts = || book.accounts.values();
        BookContext {
            catalog: catalog.into_iter().collect(),
            has_tickets: accounts().any(|a| a.tickets.first().is_some_and(|x| x.opened_at < t)),
            has_contacts: accounts().any(|a| !a.contacts_as_of(as_of).is_empty()),
            has_interactions: accounts().any(|a| a.interactions.first().is_some_and(|x| x.at < t)),
            has_billing: accounts().any(|a| a.billing.first().is_some_and(|x| x.at < t)),
            peers: Default::default(),
            current_at: None,
            rates: Default::default(),
        }
    }

    /// Builds the context as of `as_of` from the store's book summary, without loading every account; gives
    /// the same context as [`BookContext::build`] on the whole book.
    pub fn from_summary(summary: &BookSummary, as_of: Day) -> BookContext {
        let t = as_of.start();
        let before = |first: Option<bellwether_core::Timestamp>| first.is_some_and(|f| f < t);
        BookContext {
            catalog: catalogue(
                summary
                    .metrics
                    .iter()
                    .filter(|(_, first)| *first < as_of)
                    .map(|(m, _)| m.as_str()),
            ),
            has_tickets: before(summary.first_ticket),
            has_contacts: before(summary.first_contact),
            has_interactions: before(summary.first_interaction),
            has_billing: before(summary.first_billing),
            peers: Default::default(),
            current_at: None,
            rates: Default::default(),
        }
    }

    /// This context for the book's current assessment made at `now`: undated records received by then count,
    /// and a source whose first record is undated counts as connected.
    pub fn current(
        mut self,
        summary: &BookSummary,
        now: bellwether_core::Timestamp,
    ) -> BookContext {
        self.current_at = Some(now);
        self.has_contacts |= summary.first_contact.is_some_and(|f| f <= now);
        self
    }
}
