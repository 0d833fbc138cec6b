//! Outcomes and labels. An account's outcome timeline comes from its imported outcomes when it has any;
//! otherwise it is derived from its subscription history: the total MRR is followed from one subscription
//! change to the next, a fall to zero with no new subscription within the grace period is a churn on the day
//! coverage ended, and a lower or higher MRR after a change is a contraction or an expansion. Monthly rows that
//! follow each other, and annual terms renewed at the same price, change nothing.
//!
//! A label asks whether an outcome happens in a window after a snapshot day, and carries the day it became
//! knowable: a positive on its outcome day, a negative when its window closed. Training with a cut-off uses
//! only labels knowable by then; a label not knowable by the end of the data is right-censored and left out.

use bellwether_core::model::OutcomeKind;
use bellwether_core::Day;
use bellwether_store::AccountFacts;
use serde::{Deserialize, Serialize};

/// Days without a subscription after one ends before the account counts as churned.
pub const GRACE_DAYS: i32 = 30;

/// The shortest window of the renewal target: a renewal closer than this still asks about the next 90 days,
/// so the question does not shrink to nothing in the weeks before a renewal (when it matters most).
pub const MIN_RENEWAL_WINDOW: i32 = 90;

/// What a model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Churn before the next renewal (at least 90 days ahead, plus the grace period); 180 days when the renewal
    /// date is unknown.
    ChurnRenewal,
    /// Churn within 90 days.
    Churn90,
    /// Churn within 180 days.
    Churn180,
    /// A contraction within 180 days.
    Contraction180,
    /// An expansion within 180 days.
    Expansion180,
}

impl Target {
    /// Every target, the default first.
    pub const ALL: [Target; 5] = [
        Target::ChurnRenewal,
        Target::Churn90,
        Target::Churn180,
        Target::Contraction180,
        Target::Expansion180,
    ];

    /// Its name in the registry, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::ChurnRenewal => "churn_renewal",
            Target::Churn90 => "churn_90d",
            Target::Churn180 => "churn_180d",
            Target::Contraction180 => "contraction_180d",
            Target::Expansion180 => "expansion_180d",
        }
    }

    /// Words for a driver line ("churn risk").
    pub fn noun(self) -> &'static str {
        match self {
            Target::ChurnRenewal | Target::Churn90 | Target::Churn180 => "churn risk",
            Target::Contraction180 => "contraction risk",
            Target::Expansion180 => "expansion likelihood",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An account's outcomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// The day it churned.
    pub churn: Option<Day>,
    /// Days of contractions.
    pub contractions: Vec<Day>,
    /// Days of expansions.
    pub expansions: Vec<Day>,
    /// Whether the outcomes were derived from subscriptions (then a churn is confirmed only after the grace
    /// period).
    pub derived: bool,
}

impl Timeline {
    /// The account's outcome timeline.
    pub fn of(facts: &AccountFacts) -> Timeline {
        if !facts.outcomes.is_empty() {
            let mut t = Timeline::default();
            for o in &facts.outcomes {
                match o.kind {
                    OutcomeKind::Churned => {
                        t.churn = Some(t.churn.map_or(o.date, |c: Day| c.min(o.date)))
                    }
                    OutcomeKind::Contracted => t.contractions.push(o.date),
                    OutcomeKind::Expanded => t.expansions.push(o.date),
                    OutcomeKind::Renewed => {}
                }
            }
            return t;
        }
        derive(facts)
    }

    /// The label of `target` for a snapshot on `as_of` with `days_to_renewal` known then: whether the outcome
    /// happens in its window, and the day the window closes (after which the label is known either way).
    /// Training and evaluation use a row only once its window has closed, positive or not: taking the early
    /// positives without their negatives would overstate the outcome's rate.
    pub fn label(&self, target: Target, as_of: Day, days_to_renewal: Option<i64>) -> (bool, Day) {
        let horizon = match target {
            Target::ChurnRenewal => {
                days_to_renewal.map_or(180, |d| (d as i32).max(MIN_RENEWAL_WINDOW) + GRACE_DAYS)
            }
            Target::Churn90 => 90,
            Target::Churn180 | Target::Contraction180 | Target::Expansion180 => 180,
        };
        let end = as_of.plus(horizon);
        let lag = if self.derived { GRACE_DAYS } else { 0 };
        let hit = |days: &[Day]| {
            days.iter()
                .copied()
                .filter(|d| *d >= as_of && *d < end)
                .min()
        };
        let first = match target {
            Target::ChurnRenewal | Target::Churn90 | Target::Churn180 => hit(self.churn.as_slice()),
            Target::Contraction180 => hit(&self.contractions),
            Target::Expansion180 => hit(&self.expansions),
        };
        (first.is_some(), end.plus(lag))
    }
}

fn derive(facts: &AccountFacts) -> Timeline {
    let mut t = Timeline {
        derived: true,
        ..Default::default()
    };
    if facts.subscriptions.is_empty() {
        return t;
    }
    // Every day the total MRR may change.
    let mut days: Vec<Day> = facts
        .subscriptions
        .iter()
        .flat_map(|s| std::iter::once(s.start).chain(s.end))
        .collect();
    days.sort();
    days.dedup();
    let mrr_on = |d: Day| -> i64 {
        facts
            .subscriptions
            .iter()
            .filter(|s| s.start <= d && s.end.is_none_or(|e| e > d))
            .map(|s| s.mrr.minor)
            .sum()
    };
    let mut before = 0i64;
    let mut started = false;
    for (k, &d) in days.iter().enumerate() {
        let now = mrr_on(d);
        if !started {
            started = now > 0;
            before = now;
            continue;
        }
        if now == 0 && before > 0 {
            // Coverage ended: a churn unless a subscription starts within the grace period.
            let restart = days[k + 1..]
                .iter()
                .take_while(|n| n.0 - d.0 <= GRACE_DAYS)
                .any(|n| mrr_on(*n) > 0);
            if !restart {
                t.churn = Some(d);
                break;
            }
            // The gap is bridged: compare with what comes after it.
            continue;
        }
        if now > 0 && before > 0 && now != before {
            if now < before {
                t.contractions.push(d);
            } else {
                t.expansions.push(d);
            }
        }
        if now > 0 {
            before = now;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellwether_core::model::Subscription;
    use bellwether_core::{AccountId, Money, Timestamp};

    fn sub(start: Day, end: Option<Day>, mrr: i64) -> Subscription {
        Subscription {
            id: format!("s{}", start.0),
            account_id: AccountId::from("a"),
            plan: "pro".into(),
            start,
            end,
            mrr: Money {
                minor: mrr,
                currency: bellwether_core::Currency::USD,
            },
            quantity: 1,
            received_at: Timestamp(0),
        }
    }

    #[test]
    fn subscription_history_gives_churn_contraction_and_expansion_for_monthly_and_annual_billing() {
        let d = |m: i32| Day::ymd(2024, 1, 1).plus(m * 30);
        // Monthly rows back to back at one price, then a cheaper month, then nothing.
        let monthly = AccountFacts {
            subscriptions: (0..6)
                .map(|m| sub(d(m), Some(d(m + 1)), if m < 4 { 500 } else { 300 }))
                .collect(),
            ..Default::default()
        };
        let t = Timeline::of(&monthly);
        assert!(t.derived);
        assert_eq!(t.contractions, vec![d(4)]);
        assert_eq!(t.expansions, Vec::<Day>::new());
        assert_eq!(t.churn, Some(d(6)));
        // Annual terms: renewed higher, then renewed after a 10-day gap (no churn), still running.
        let annual = AccountFacts {
            subscriptions: vec![
                sub(d(0), Some(d(12)), 1000),
                sub(d(12), Some(d(24)), 1500),
                sub(d(24).plus(10), None, 1500),
            ],
            ..Default::default()
        };
        let t = Timeline::of(&annual);
        assert_eq!(t.churn, None);
        assert_eq!(t.expansions, vec![d(12)]);
        assert!(t.contractions.is_empty());
    }

    #[test]
    fn labels_carry_the_day_their_window_closes() {
        let t = Timeline {
            churn: Some(Day::ymd(2025, 3, 1)),
            ..Default::default()
        };
        let as_of = Day::ymd(2025, 1, 1);
        assert_eq!(
            t.label(Target::Churn90, as_of, None),
            (true, as_of.plus(90))
        );
        // From October the churn lies past 90 days: a negative, known when the window closes.
        let early = Day::ymd(2024, 10, 1);
        assert_eq!(
            t.label(Target::Churn90, early, None),
            (false, early.plus(90))
        );
        // A renewal on Feb 1 plus the grace period (to Mar 3) covers the churn on Mar 1.
        assert!(t.label(Target::ChurnRenewal, as_of, Some(31)).0);
        // A renewal days away still looks 90 days ahead.
        assert_eq!(
            t.label(Target::ChurnRenewal, as_of, Some(10)),
            (true, as_of.plus(120))
        );
        let late = Day::ymd(2025, 6, 1);
        assert!(!t.label(Target::ChurnRenewal, late, Some(150)).0);
        // Derived outcomes are confirmed a grace period later.
        let d = Timeline { derived: true, ..t };
        assert_eq!(
            d.label(Target::Churn90, as_of, None).1,
            as_of.plus(90 + GRACE_DAYS)
        );
    }
}
