//! Attributes that change over time, and the point-in-time rule for reading them.
//!
//! ARR, seats, plan, owner, segment, lifecycle stage, renewal date, a contact's role and status: each change is
//! an [`AttrFact`] with the instant it took effect (`valid_from`, event time) and the instant Bellwether received
//! it (`received_at`). A reader "as of D" sees, for every attribute, the fact with the latest `valid_from`
//! strictly before D: facts that happened on or after D are invisible, whenever they arrived. A replay "known
//! by K" further hides facts received at or after K, so a backtest can reproduce what was known on a day even
//! when data arrived late.
//!
//! A value without a date of its own (a CRM export's columns, `accounts.csv` without `contract_start`) is dated
//! by its receipt: its `valid_from` is its `received_at` ([`undated`]). Such a value applies to every
//! assessment of the book's current day made after it was received ([`snapshot_current`]), and to a past day,
//! a training snapshot or a backtest cut-off only when it was received before that day.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One change of one attribute of one subject (an account or a contact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrFact {
    /// The account or contact id.
    pub subject: String,
    /// The attribute's name (see [`attr`] for the known ones; any other name is a custom attribute).
    pub attr: String,
    /// The new value as text; `None` clears it.
    pub value: Option<String>,
    /// When the change took effect.
    pub valid_from: Timestamp,
    /// When Bellwether received it.
    pub received_at: Timestamp,
}

/// Names of the attributes Bellwether understands. Values are stored as text in these forms.
pub mod attr {
    /// Display name.
    pub const NAME: &str = "name";
    /// The CSM who owns the account.
    pub const OWNER: &str = "owner";
    /// Segment or tier (`smb`, `mid_market`, `enterprise`, or the customer's own).
    pub const SEGMENT: &str = "segment";
    /// Plan name.
    pub const PLAN: &str = "plan";
    /// Annual recurring revenue in minor units (integer text).
    pub const ARR: &str = "arr";
    /// Currency of `arr` (ISO 4217).
    pub const CURRENCY: &str = "currency";
    /// Seats purchased (integer text).
    pub const SEATS: &str = "seats";
    /// First day of the contract (`YYYY-MM-DD`).
    pub const CONTRACT_START: &str = "contract_start";
    /// Next renewal day (`YYYY-MM-DD`).
    pub const RENEWAL_DATE: &str = "renewal_date";
    /// Lifecycle stage (`onboarding`, `adopting`, `mature`, `renewing`, `churned`, …).
    pub const LIFECYCLE_STAGE: &str = "lifecycle_stage";
    /// Parent account id.
    pub const PARENT_ID: &str = "parent_id";
    /// A contact's role (`champion`, `executive_sponsor`, `admin`, `user`, `other`).
    pub const ROLE: &str = "role";
    /// A contact's status (`active`, `inactive`, `left`).
    pub const STATUS: &str = "status";
    /// A contact's job title.
    pub const TITLE: &str = "title";
}

/// The state of a subject's attributes as of an instant.
pub type Snapshot = BTreeMap<String, String>;

/// Whether `f` is visible to a reader as of `as_of`, optionally replaying only what was known by `known_by`.
#[inline]
pub fn visible(f: &AttrFact, as_of: Timestamp, known_by: Option<Timestamp>) -> bool {
    f.valid_from < as_of && known_by.is_none_or(|k| f.received_at < k)
}

/// Whether a fact carries no date of its own: it took effect when it was received.
#[inline]
pub fn undated(f: &AttrFact) -> bool {
    f.valid_from == f.received_at
}

/// Whether `f` is visible to the book's current assessment of the day starting at `as_of`, made at `now`: the
/// facts dated before the day, and the undated facts received by `now`.
#[inline]
pub fn visible_current(f: &AttrFact, as_of: Timestamp, now: Timestamp) -> bool {
    f.valid_from < as_of || (undated(f) && f.received_at <= now)
}

/// Like [`snapshot`], for the book's current assessment made at `now` (see [`visible_current`]); with `now`
/// `None` it is [`snapshot`] without a replay.
pub fn snapshot_current<'a>(
    facts: impl IntoIterator<Item = &'a AttrFact>,
    as_of: Timestamp,
    now: Option<Timestamp>,
) -> Snapshot {
    match now {
        None => snapshot(facts, as_of, None),
        Some(now) => resolve(facts.into_iter().filter(|f| visible_current(f, as_of, now))),
    }
}

/// Resolves the attributes of one subject as of `as_of` from its facts, in any order.
///
/// Among visible facts for an attribute the latest `valid_from` wins; on a tie the later `received_at`, then
/// the later position in `facts`.
pub fn snapshot<'a>(
    facts: impl IntoIterator<Item = &'a AttrFact>,
    as_of: Timestamp,
    known_by: Option<Timestamp>,
) -> Snapshot {
    resolve(facts.into_iter().filter(|f| visible(f, as_of, known_by)))
}

/// Among the given facts, the latest `valid_from` of each attribute wins; on a tie the later `received_at`,
/// then the later position.
fn resolve<'a>(facts: impl Iterator<Item = &'a AttrFact>) -> Snapshot {
    let mut best: BTreeMap<&str, &AttrFact> = BTreeMap::new();
    for f in facts {
        let replace = match best.get(f.attr.as_str()) {
            None => true,
            Some(b) => (f.valid_from, f.received_at) >= (b.valid_from, b.received_at),
        };
        if replace {
            best.insert(&f.attr, f);
        }
    }
    best.into_iter()
        .filter_map(|(k, f)| f.value.clone().map(|v| (k.to_string(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fact(attr: &str, v: &str, valid: i64, recv: i64) -> AttrFact {
        AttrFact {
            subject: "a1".into(),
            attr: attr.into(),
            value: Some(v.into()),
            valid_from: Timestamp(valid),
            received_at: Timestamp(recv),
        }
    }

    #[test]
    fn latest_before_as_of_wins_and_later_facts_are_invisible() {
        let facts = vec![
            fact("arr", "100", 10, 10),
            fact("arr", "200", 20, 20),
            fact("owner", "ann", 5, 5),
        ];
        let s = snapshot(&facts, Timestamp(20), None);
        assert_eq!(
            s["arr"], "100",
            "a change taking effect at the as-of instant is not yet visible"
        );
        assert_eq!(snapshot(&facts, Timestamp(21), None)["arr"], "200");
        assert!(snapshot(&facts, Timestamp(5), None).is_empty());
    }

    #[test]
    fn known_by_replays_late_data() {
        // ARR changed on day 10 but the fact only arrived at 30.
        let facts = vec![fact("arr", "100", 1, 1), fact("arr", "200", 10, 30)];
        assert_eq!(snapshot(&facts, Timestamp(20), None)["arr"], "200");
        assert_eq!(
            snapshot(&facts, Timestamp(20), Some(Timestamp(20)))["arr"],
            "100"
        );
    }

    #[test]
    fn a_cleared_value_disappears() {
        let mut f = fact("parent_id", "p", 1, 1);
        let mut g = f.clone();
        g.value = None;
        g.valid_from = Timestamp(5);
        f.received_at = Timestamp(1);
        assert!(!snapshot(&[f, g], Timestamp(6), None).contains_key("parent_id"));
    }

    fn arb_fact() -> impl Strategy<Value = AttrFact> {
        (
            prop::sample::select(vec!["arr", "seats", "owner", "role", "plan"]),
            0i64..1000,
            0i64..1000,
            0u32..50,
        )
            .prop_map(|(a, valid, recv, v)| fact(a, &v.to_string(), valid, valid + recv))
    }

    proptest! {
        /// Adding facts dated on or after D (ARR, seats, owner, role, plan changes) never changes what is seen as of D.
        #[test]
        fn later_facts_never_change_the_past(
            base in prop::collection::vec(arb_fact(), 0..40),
            later in prop::collection::vec(arb_fact(), 0..40),
            d in 0i64..1000,
        ) {
            let as_of = Timestamp(d);
            let before = snapshot(&base, as_of, None);
            let mut all = base.clone();
            for mut f in later {
                f.valid_from = Timestamp(d + f.valid_from.0);
                all.push(f);
            }
            // Order of arrival must not matter either.
            all.reverse();
            prop_assert_eq!(snapshot(&all, as_of, None), before);
        }
    }
}
