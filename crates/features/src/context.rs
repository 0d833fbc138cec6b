//! Facts about the whole book that features need: which sources held data at all before the as-of day (so an
//! unconnected source counts as missing rather than as "all quiet"), and what accounts are compared with
//! (segment medians, [`crate::peers`], and the features common where they live, [`crate::adoption`]), which a
//! full pass computes and a pass over a few accounts reads from the store. Like every feature, the context
//! only reads what happened before the day.

use bellwether_core::Day;
use bellwether_store::{Book, BookSummary};

/// Book-wide context, computed once per pass.
#[derive(Clone, Debug, Default)]
pub struct BookContext {
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
    /// The features common on each plan, segment and the book (empty: no adoption measure).
    pub common: crate::adoption::Common,
}

impl BookContext {
    /// Builds the context as of `as_of` from the loaded book.
    pub fn build(book: &Book, as_of: Day) -> BookContext {
        let t = as_of.start();
        let accounts = || book.accounts.values();
        BookContext {
            has_tickets: accounts().any(|a| a.tickets.first().is_some_and(|x| x.opened_at < t)),
            has_contacts: accounts().any(|a| !a.contacts_as_of(as_of).is_empty()),
            has_interactions: accounts().any(|a| a.interactions.first().is_some_and(|x| x.at < t)),
            has_billing: accounts().any(|a| a.billing.first().is_some_and(|x| x.at < t)),
            ..Default::default()
        }
    }

    /// Builds the context as of `as_of` from the store's book summary, without loading every account; gives
    /// the same context as [`BookContext::build`] on the whole book.
    pub fn from_summary(summary: &BookSummary, as_of: Day) -> BookContext {
        let t = as_of.start();
        let before = |first: Option<bellwether_core::Timestamp>| first.is_some_and(|f| f < t);
        BookContext {
            has_tickets: before(summary.first_ticket),
            has_contacts: before(summary.first_contact),
            has_interactions: before(summary.first_interaction),
            has_billing: before(summary.first_billing),
            ..Default::default()
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
