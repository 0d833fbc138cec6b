//! Outcomes and labels. An account's outcome timeline comes from its imported outcomes when it has any;
//! otherwise it is derived from its subscription history: the total MRR is followed from one subscription
//! change to the next, a fall to zero with no new subscription within the grace period is a churn on the day
//! coverage ended, and a lower or higher MRR after a change is a contraction or an expansion. Monthly rows that
//! follow each other, and annual terms renewed at the same price, change nothing.
//!
//! A label asks whether an outcome happens in a window after a snapshot day, and carries the day it became
//! knowable: a positive on its outcome day, a negative when its window closed. Training with a cut-off uses
//! only labels knowable by then; a label not knowable by the end of the data is right-censored and left out.
//!
//! Windows and grace periods follow the account's billing cadence: a monthly contract's grace period is
//! [`MONTHLY_GRACE_DAYS`] and its renewal is the end of its next month; a longer contract's grace period is
//! [`GRACE_DAYS`] and its renewal window at least [`MIN_RENEWAL_WINDOW`].

use bellwether_core::model::OutcomeKind;
use bellwether_core::Day;
use bellwether_store::AccountFacts;
use serde::{Deserialize, Serialize};

/// Days without a subscription after one ends before the account counts as churned (a contract longer than
/// a month: a quarterly or annual renewal can be signed weeks late).
pub const GRACE_DAYS: i32 = 30;

/// The grace period of a monthly contract: a card retried, a plan changed, not a month.
pub const MONTHLY_GRACE_DAYS: i32 = 7;

/// The longest term read as monthly billing, in days.
pub const MONTHLY_TERM_DAYS: i32 = 45;

/// The grace period of a contract billed every `term_days` (unknown: [`GRACE_DAYS`]).
pub fn grace_days(term_days: Option<i32>) -> i32 {
    match term_days {
        Some(t) if t <= MONTHLY_TERM_DAYS => MONTHLY_GRACE_DAYS,
        _ => GRACE_DAYS,
    }
}

/// The shortest window of the renewal target: a renewal closer than this still asks about the next 90 days,
/// so the question does not shrink to nothing in the weeks before a renewal (when it matters most).
pub const MIN_RENEWAL_WINDOW: i32 = 90;

/// What a model predicts.
/// Serialised by its name (`churn_90d`); the names bundles stored before the short horizons used are read too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Target {
    /// Churn before the next renewal (at least 90 days ahead, plus the grace period; for a monthly contract,
    /// to the end of its next month); 180 days when neither the renewal date nor the cadence is known.
    #[serde(rename = "churn_renewal")]
    ChurnRenewal,
    /// Churn within 30 days.
    #[serde(rename = "churn_30d")]
    Churn30,
    /// Churn within 60 days.
    #[serde(rename = "churn_60d")]
    Churn60,
    /// Churn within 90 days.
    #[serde(rename = "churn_90d", alias = "churn90")]
    Churn90,
    /// Churn within 180 days.
    #[serde(rename = "churn_180d", alias = "churn180")]
    Churn180,
    /// A contraction within 180 days.
    #[serde(rename = "contraction_180d", alias = "contraction180")]
    Contraction180,
    /// An expansion within 180 days.
    #[serde(rename = "expansion_180d", alias = "expansion180")]
    Expansion180,
}

impl Target {
    /// Every target: the renewal target, the fixed churn horizons from the shortest, then contraction and
    /// expansion.
    pub const ALL: [Target; 7] = [
        Target::ChurnRenewal,
        Target::Churn30,
        Target::Churn60,
        Target::Churn90,
        Target::Churn180,
        Target::Contraction180,
        Target::Expansion180,
    ];

    /// Its name in the registry, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::ChurnRenewal => "churn_renewal",
            Target::Churn30 => "churn_30d",
            Target::Churn60 => "churn_60d",
            Target::Churn90 => "churn_90d",
            Target::Churn180 => "churn_180d",
            Target::Contraction180 => "contraction_180d",
            Target::Expansion180 => "expansion_180d",
        }
    }

    /// Whether it predicts churn.
    pub fn is_churn(self) -> bool {
        matches!(
            self,
            Target::ChurnRenewal
                | Target::Churn30
                | Target::Churn60
                | Target::Churn90
                | Target::Churn180
        )
    }

    /// The fixed window of the target, in days (`None` for the renewal target, whose window is each account's).
    pub fn horizon(self) -> Option<i32> {
        match self {
            Target::ChurnRenewal => None,
            Target::Churn30 => Some(30),
            Target::Churn60 => Some(60),
            Target::Churn90 => Some(90),
            Target::Churn180 | Target::Contraction180 | Target::Expansion180 => Some(180),
        }
    }

    /// What it predicts, in words ("churn within 90 days").
    pub fn describe(self) -> String {
        match (self, self.horizon()) {
            (Target::ChurnRenewal, _) => "churn before the next renewal".into(),
            (Target::Contraction180, Some(h)) => format!("a contraction within {h} days"),
            (Target::Expansion180, Some(h)) => format!("an expansion within {h} days"),
            (_, Some(h)) => format!("churn within {h} days"),
            (_, None) => self.as_str().into(),
        }
    }

    /// The names of every target, for error messages.
    pub fn names() -> String {
        Target::ALL.map(Target::as_str).join(", ")
    }

    /// Words for a driver line ("churn risk").
    pub fn noun(self) -> &'static str {
        match self {
            t if t.is_churn() => "churn risk",
            Target::Contraction180 => "contraction risk",
            _ => "expansion likelihood",
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
    /// The account's billing term in days (the median length of its ended subscription rows), when known.
    pub term_days: Option<i32>,
}

impl Timeline {
    /// The account's outcome timeline.
    pub fn of(facts: &AccountFacts) -> Timeline {
        let term_days = billing_term(facts);
        if !facts.outcomes.is_empty() {
            let mut t = Timeline {
                term_days,
                ..Default::default()
            };
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
        derive(facts, term_days)
    }

    /// The grace period of the account's cadence.
    pub fn grace_days(&self) -> i32 {
        grace_days(self.term_days)
    }

    /// Whether the account is billed monthly.
    pub fn monthly(&self) -> bool {
        self.term_days.is_some_and(|t| t <= MONTHLY_TERM_DAYS)
    }

    /// The days a target's window spans from a snapshot with `days_to_renewal` known then.
    pub fn window(&self, target: Target, days_to_renewal: Option<i64>) -> i32 {
        match target.horizon() {
            Some(h) => h,
            None => {
                let grace = self.grace_days();
                match (days_to_renewal, self.term_days) {
                    // A monthly contract renews at the end of its next month.
                    (d, Some(term)) if self.monthly() => {
                        let to_next = d.map_or(0, |d| d as i32).min(term);
                        to_next + term + grace
                    }
                    (Some(d), _) => (d as i32).max(MIN_RENEWAL_WINDOW) + grace,
                    (None, _) => 180,
                }
            }
        }
    }

    /// The label of `target` for a snapshot on `as_of` with `days_to_renewal` known then: whether the outcome
    /// happens in its window, and the day the window closes (after which the label is known either way).
    /// Training and evaluation use a row only once its window has closed, positive or not: taking the early
    /// positives without their negatives would overstate the outcome's rate.
    pub fn label(&self, target: Target, as_of: Day, days_to_renewal: Option<i64>) -> (bool, Day) {
        let end = as_of.plus(self.window(target, days_to_renewal));
        let which = match target {
            Target::Contraction180 => Outcomes::Contraction,
            Target::Expansion180 => Outcomes::Expansion,
            _ => Outcomes::Churn,
        };
        let first = self.first_in(which, as_of, end);
        (first.is_some(), end.plus(self.confirmation_lag()))
    }

    /// The first outcome of `which` on a day in `[from, end)`: the one answer to "did it happen within the
    /// window", for model labels and for judging signals alike.
    pub fn first_in(&self, which: Outcomes, from: Day, end: Day) -> Option<Day> {
        let hit = |days: &[Day]| {
            days.iter()
                .copied()
                .filter(|d| *d >= from && *d < end)
                .min()
        };
        match which {
            Outcomes::Churn => hit(self.churn.as_slice()),
            Outcomes::Contraction => hit(&self.contractions),
            Outcomes::Expansion => hit(&self.expansions),
            Outcomes::Loss => [hit(self.churn.as_slice()), hit(&self.contractions)]
                .into_iter()
                .flatten()
                .min(),
        }
    }

    /// Days after an outcome before it is known: the grace period for outcomes derived from subscriptions
    /// (a churn is confirmed only when no new subscription followed), none for imported outcomes. A window
    /// is judged only once it has closed and this much more has passed.
    pub fn confirmation_lag(&self) -> i32 {
        if self.derived {
            self.grace_days()
        } else {
            0
        }
    }
}

/// Which outcomes a window asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcomes {
    /// The account churned.
    Churn,
    /// It renewed for less.
    Contraction,
    /// It grew.
    Expansion,
    /// It churned or contracted: the revenue loss a risk signal warns of.
    Loss,
}

/// An account's billing term in days: the term its latest subscription states, else the median length of its
/// ended subscription rows (billing systems that write one row per period).
fn billing_term(facts: &AccountFacts) -> Option<i32> {
    if let Some((_, t)) = facts
        .subscriptions
        .iter()
        .filter_map(|s| s.term_days.map(|t| (s.start, t)))
        .max()
    {
        return Some(t);
    }
    let mut terms: Vec<i32> = facts
        .subscriptions
        .iter()
        .filter_map(|s| s.end.map(|e| e.0 - s.start.0))
        .filter(|t| *t > 0)
        .collect();
    if terms.is_empty() {
        return None;
    }
    terms.sort_unstable();
    Some(terms[terms.len() / 2])
}

fn derive(facts: &AccountFacts, term_days: Option<i32>) -> Timeline {
    let grace = grace_days(term_days);
    let mut t = Timeline {
        derived: true,
        term_days,
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
                .take_while(|n| n.0 - d.0 <= grace)
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
            term_days: None,
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
    fn a_loss_is_the_first_churn_or_contraction_in_the_window() {
        let d = |n: i32| Day::ymd(2025, 1, 1).plus(n);
        let t = Timeline {
            churn: Some(d(100)),
            contractions: vec![d(10), d(40)],
            expansions: vec![d(5)],
            ..Default::default()
        };
        assert_eq!(t.first_in(Outcomes::Loss, d(0), d(90)), Some(d(10)));
        assert_eq!(t.first_in(Outcomes::Loss, d(11), d(90)), Some(d(40)));
        assert_eq!(t.first_in(Outcomes::Loss, d(41), d(130)), Some(d(100)));
        // The window is half open: an outcome on its end day falls outside.
        assert_eq!(t.first_in(Outcomes::Loss, d(41), d(100)), None);
        assert_eq!(t.first_in(Outcomes::Churn, d(0), d(90)), None);
        assert_eq!(t.first_in(Outcomes::Expansion, d(0), d(90)), Some(d(5)));
        assert_eq!(t.confirmation_lag(), 0);
        let derived = Timeline { derived: true, ..t };
        assert_eq!(derived.confirmation_lag(), GRACE_DAYS);
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
