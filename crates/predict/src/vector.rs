//! The model's view of an account: a fixed, named list of numeric columns taken from the point-in-time
//! [`AccountFeatures`] and the account's series, with missing inputs as NaN (the trees route them natively).
//!
//! Most columns are fixed; two kinds are learned from the training book and stored with the model in its
//! [`FeatureSpec`]: one-hot columns for the commonest values of the categorical attributes (segment, plan),
//! and per-feature usage columns for the book's most used event names, so a customer's own events become
//! model inputs without code. Every column belongs to a reason [`Group`] used by the explanations.

use bellwether_core::series::{AccountSeries, EVENT_PREFIX};
use bellwether_core::Day;
use bellwether_features::peers::events_per_seat;
use bellwether_features::AccountFeatures;
use serde::{Deserialize, Serialize};

/// The reasons the explanations speak of; correlated columns share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Product usage volume and its trend.
    Usage,
    /// Active users and stickiness.
    ActiveUsers,
    /// Breadth of features used and features abandoned.
    Adoption,
    /// Seats and their utilisation.
    Seats,
    /// Ticket volume, priority, SLA, escalations, CSAT.
    Support,
    /// Ticket text sentiment.
    Sentiment,
    /// Champion, sponsor and key-contact changes.
    Stakeholders,
    /// Meetings and QBRs.
    Engagement,
    /// NPS.
    Nps,
    /// Payment failures and downgrades.
    Billing,
    /// Size, tenure and renewal timing.
    Contract,
    /// Segment and plan.
    Profile,
}

impl Group {
    /// Words for the group in a driver line.
    pub fn label(self) -> &'static str {
        match self {
            Group::Usage => "product usage",
            Group::ActiveUsers => "active users",
            Group::Adoption => "feature adoption",
            Group::Seats => "seat use",
            Group::Support => "support",
            Group::Sentiment => "ticket sentiment",
            Group::Stakeholders => "stakeholders",
            Group::Engagement => "meetings and QBRs",
            Group::Nps => "NPS",
            Group::Billing => "billing",
            Group::Contract => "contract",
            Group::Profile => "segment and plan",
        }
    }
}

/// What a column's value is read from: the account's features for the day and its series.
type Getter = fn(&AccountFeatures, Option<&AccountSeries>) -> Option<f64>;

/// One model column, declared once: its name, the reason group its contribution is told under, the features
/// it reads, how its value is got, and how a value (or its absence) is said in a driver line.
pub struct Def {
    /// The column's name, as stored with a model.
    pub name: &'static str,
    /// The reason its contribution counts towards.
    pub group: Group,
    /// The [`AccountFeatures`] fields it reads, as paths of their JSON form (`usage.events_7d`).
    pub reads: &'static [&'static str],
    /// Its value (`None`: missing, NaN to the trees).
    pub get: Getter,
    /// A present value in words, with the account's own number.
    pub says: fn(f64) -> String,
    /// The words for a missing value (`None`: "<name> unknown").
    pub missing: Option<&'static str>,
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b - 1.0),
        _ => None,
    }
}

fn flag(b: Option<bool>) -> Option<f64> {
    b.map(|b| if b { 1.0 } else { 0.0 })
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v.abs() * 100.0)
}

/// A relative change in words: "`what` fell 30% against `against`".
pub fn change(v: f64, what: &str, against: &str) -> String {
    if v < 0.0 {
        format!("{what} fell {} against {against}", pct(v))
    } else {
        format!("{what} rose {} against {against}", pct(v))
    }
}

const NO_USAGE: Option<&str> = Some("no product usage history yet");
const NO_SENTIMENT: Option<&str> = Some("no recent tickets to read sentiment from");
const NO_SEAT_USE: Option<&str> = Some("seat utilisation unknown");

/// The last 90 days against the 90 before them, summed over `parts` (slow declines); NaN with less than 180
/// days of history or nothing in the earlier quarter.
fn quarter(parts: &[&bellwether_core::series::Series], as_of: Day) -> Option<f64> {
    let first = parts.iter().filter_map(|s| s.first_day()).min();
    if first.is_none_or(|d| d > as_of.plus(-180)) {
        return None;
    }
    let recent: f64 = parts.iter().map(|s| s.sum(as_of.plus(-90), as_of)).sum();
    let prior: f64 = parts
        .iter()
        .map(|s| s.sum(as_of.plus(-180), as_of.plus(-90)))
        .sum();
    (prior > 0.0).then(|| recent / prior - 1.0)
}

/// The quarter trend of all usage of the source the account's features were read from.
fn usage_quarter(f: &AccountFeatures, series: Option<&AccountSeries>) -> Option<f64> {
    let (s, src) = series.zip(f.usage.source)?;
    let parts: Vec<_> = bellwether_core::series::source_series(s, src)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    quarter(&parts, f.as_of)
}

/// The quarter trend of the daily active users of that source.
fn users_quarter(f: &AccountFeatures, series: Option<&AccountSeries>) -> Option<f64> {
    let (s, src) = series.zip(f.usage.source)?;
    let users = bellwether_core::series::daily_active_users(s, src)?;
    quarter(&[users], f.as_of)
}

/// The columns before the one-hot ones, in order.
pub const FIXED: &[Def] = &[
    Def {
        name: "arr",
        group: Group::Contract,
        reads: &["arr_reporting"],
        get: |f, _| f.arr_reporting.map(|m| m.major()),
        says: |v| format!("ARR ${v:.0}"),
        missing: None,
    },
    Def {
        name: "seats",
        group: Group::Seats,
        reads: &["seats"],
        get: |f, _| f.seats.map(|s| s as f64),
        says: |v| format!("{v:.0} seats bought"),
        missing: None,
    },
    Def {
        name: "tenure_days",
        group: Group::Contract,
        reads: &["tenure_days"],
        get: |f, _| f.tenure_days.map(|d| d as f64),
        says: |v| format!("customer for {v:.0} days"),
        missing: None,
    },
    Def {
        name: "days_to_renewal",
        group: Group::Contract,
        reads: &["days_to_renewal"],
        get: |f, _| f.days_to_renewal.map(|d| d as f64),
        says: |v| format!("renewal in {v:.0} days"),
        missing: Some("renewal date unknown"),
    },
    Def {
        name: "events_7d",
        group: Group::Usage,
        reads: &["usage.events_7d"],
        get: |f, _| f.usage.events_7d,
        says: |v| format!("{v:.0} product events in the last 7 days"),
        missing: NO_USAGE,
    },
    Def {
        name: "events_28d",
        group: Group::Usage,
        reads: &["usage.events_28d"],
        get: |f, _| f.usage.events_28d,
        says: |v| format!("{v:.0} product events in the last 28 days"),
        missing: NO_USAGE,
    },
    Def {
        name: "events_90d",
        group: Group::Usage,
        reads: &["usage.events_90d"],
        get: |f, _| f.usage.events_90d,
        says: |v| format!("{v:.0} product events in the last 90 days"),
        missing: NO_USAGE,
    },
    Def {
        name: "usage_trend",
        group: Group::Usage,
        reads: &["usage.trend"],
        get: |f, _| f.usage.trend,
        says: |v| {
            change(
                v,
                "product usage over the last 28 days",
                "its own 90-day baseline",
            )
        },
        missing: NO_USAGE,
    },
    Def {
        name: "usage_month_change",
        group: Group::Usage,
        reads: &["usage.month_change"],
        get: |f, _| f.usage.month_change,
        says: |v| {
            change(
                v,
                "product usage over the last 28 days",
                "the 28 days before",
            )
        },
        missing: NO_USAGE,
    },
    Def {
        name: "events_per_seat",
        group: Group::Usage,
        reads: &["usage.events_28d", "seats"],
        get: |f, _| events_per_seat(f),
        says: |v| format!("{v:.1} events per seat in 28 days"),
        missing: None,
    },
    Def {
        name: "usage_per_seat_vs_peers",
        group: Group::Usage,
        reads: &["usage_per_seat_vs_peers"],
        get: |f, _| f.usage_per_seat_vs_peers,
        says: |v| format!("usage per seat at {} of its segment's median", pct(v)),
        missing: None,
    },
    Def {
        name: "days_since_active",
        group: Group::Usage,
        reads: &["usage.days_since_active"],
        get: |f, _| f.usage.days_since_active.map(|d| d as f64),
        says: |v| format!("last product activity {v:.0} days ago"),
        missing: NO_USAGE,
    },
    Def {
        name: "dau_28d",
        group: Group::ActiveUsers,
        reads: &["usage.dau_28d"],
        get: |f, _| f.usage.dau_28d,
        says: |v| format!("{v:.1} daily active users on average"),
        missing: None,
    },
    Def {
        name: "dau_trend",
        group: Group::ActiveUsers,
        reads: &["usage.dau_28d", "usage.dau_baseline"],
        get: |f, _| ratio(f.usage.dau_28d, f.usage.dau_baseline),
        says: |v| change(v, "daily active users", "their 90-day baseline"),
        missing: None,
    },
    Def {
        name: "mau",
        group: Group::ActiveUsers,
        reads: &["usage.mau"],
        get: |f, _| f.usage.mau,
        says: |v| format!("{v:.0} monthly active users"),
        missing: None,
    },
    Def {
        name: "mau_trend",
        group: Group::ActiveUsers,
        reads: &["usage.mau", "usage.mau_baseline"],
        get: |f, _| ratio(f.usage.mau, f.usage.mau_baseline),
        says: |v| change(v, "monthly active users", "the three months before"),
        missing: None,
    },
    Def {
        name: "wau",
        group: Group::ActiveUsers,
        reads: &["usage.wau"],
        get: |f, _| f.usage.wau,
        says: |v| format!("{v:.0} weekly active users"),
        missing: None,
    },
    Def {
        name: "stickiness",
        group: Group::ActiveUsers,
        reads: &["usage.dau_28d", "usage.mau"],
        get: |f, _| match (f.usage.dau_28d, f.usage.mau) {
            (Some(d), Some(m)) if m > 0.0 => Some(d / m),
            _ => None,
        },
        says: |v| format!("stickiness (daily ÷ monthly active users) {}", pct(v)),
        missing: None,
    },
    Def {
        name: "features_used_28d",
        group: Group::Adoption,
        reads: &["usage.features_used_28d"],
        get: |f, _| f.usage.features_used_28d,
        says: |v| format!("{v:.0} features used in 28 days"),
        missing: None,
    },
    Def {
        name: "breadth",
        group: Group::Adoption,
        reads: &["usage.breadth"],
        get: |f, _| f.usage.breadth,
        says: |v| format!("{} of the features common among its peers in use", pct(v)),
        missing: None,
    },
    Def {
        name: "features_abandoned",
        group: Group::Adoption,
        reads: &["usage.features_abandoned"],
        get: |f, _| f.usage.features_abandoned,
        says: |v| format!("{v:.0} previously used features abandoned"),
        missing: None,
    },
    Def {
        name: "utilisation",
        group: Group::Seats,
        reads: &["usage.utilisation"],
        get: |f, _| f.usage.utilisation,
        says: |v| format!("{} of seats in use", pct(v)),
        missing: NO_SEAT_USE,
    },
    Def {
        name: "utilisation_vs_peers",
        group: Group::Seats,
        reads: &["utilisation_vs_peers"],
        get: |f, _| f.utilisation_vs_peers,
        says: |v| format!("seat utilisation at {} of its segment's median", pct(v)),
        missing: NO_SEAT_USE,
    },
    Def {
        name: "tickets_28d",
        group: Group::Support,
        reads: &["tickets_28d"],
        get: |f, _| f.tickets_28d,
        says: |v| format!("{v:.0} tickets in 28 days"),
        missing: None,
    },
    Def {
        name: "ticket_trend",
        group: Group::Support,
        reads: &["tickets_28d", "tickets_baseline_28d"],
        get: |f, _| ratio(f.tickets_28d, f.tickets_baseline_28d),
        says: |v| change(v, "ticket volume", "its 90-day baseline"),
        missing: None,
    },
    Def {
        name: "open_high_priority",
        group: Group::Support,
        reads: &["open_high_priority"],
        get: |f, _| f.open_high_priority,
        says: |v| format!("{v:.0} high-priority tickets open"),
        missing: None,
    },
    Def {
        name: "sla_breaches_90d",
        group: Group::Support,
        reads: &["sla_breaches_90d"],
        get: |f, _| f.sla_breaches_90d,
        says: |v| format!("{v:.0} SLA breaches in 90 days"),
        missing: None,
    },
    Def {
        name: "escalations_90d",
        group: Group::Support,
        reads: &["escalations_90d"],
        get: |f, _| f.escalations_90d,
        says: |v| format!("{v:.0} escalations in 90 days"),
        missing: None,
    },
    Def {
        name: "csat_90d",
        group: Group::Support,
        reads: &["csat_90d"],
        get: |f, _| f.csat_90d,
        says: |v| format!("CSAT {v:.1} over 90 days"),
        missing: Some("no CSAT rating in 90 days"),
    },
    Def {
        name: "sentiment_45d",
        group: Group::Sentiment,
        reads: &["sentiment_45d"],
        get: |f, _| f.sentiment_45d,
        says: |v| format!("ticket sentiment {v:+.2} over 45 days"),
        missing: NO_SENTIMENT,
    },
    Def {
        name: "sentiment_change",
        group: Group::Sentiment,
        reads: &["sentiment_45d", "sentiment_baseline"],
        get: |f, _| match (f.sentiment_45d, f.sentiment_baseline) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        },
        says: |v| format!("ticket sentiment {v:+.2} against its baseline"),
        missing: NO_SENTIMENT,
    },
    Def {
        name: "has_champion",
        group: Group::Stakeholders,
        reads: &["has_champion"],
        get: |f, _| flag(f.has_champion),
        says: |v| {
            if v > 0.5 {
                "an active champion".into()
            } else {
                "no active champion".into()
            }
        },
        missing: None,
    },
    Def {
        name: "has_sponsor",
        group: Group::Stakeholders,
        reads: &["has_sponsor"],
        get: |f, _| flag(f.has_sponsor),
        says: |v| {
            if v > 0.5 {
                "an active executive sponsor".into()
            } else {
                "no active executive sponsor".into()
            }
        },
        missing: None,
    },
    Def {
        name: "key_contact_left_days",
        group: Group::Stakeholders,
        reads: &["key_contact_left_days"],
        get: |f, _| f.key_contact_left_days.map(|d| d as f64),
        says: |v| format!("a champion or sponsor left {v:.0} days ago"),
        missing: Some("no champion or sponsor left in 180 days"),
    },
    Def {
        name: "days_since_meeting",
        group: Group::Engagement,
        reads: &["days_since_meeting"],
        get: |f, _| f.days_since_meeting.map(|d| d as f64),
        says: |v| format!("last meeting {v:.0} days ago"),
        missing: Some("no meeting on record"),
    },
    Def {
        name: "qbr_missed_180d",
        group: Group::Engagement,
        reads: &["qbr_missed_180d"],
        get: |f, _| f.qbr_missed_180d,
        says: |v| format!("{v:.0} QBR invitations declined or ignored in 180 days"),
        missing: None,
    },
    Def {
        name: "qbr_accepted_180d",
        group: Group::Engagement,
        reads: &["qbr_accepted_180d"],
        get: |f, _| f.qbr_accepted_180d,
        says: |v| format!("{v:.0} QBRs accepted in 180 days"),
        missing: None,
    },
    Def {
        name: "nps",
        group: Group::Nps,
        reads: &["nps_latest"],
        get: |f, _| f.nps_latest,
        says: |v| format!("latest NPS answer {v:.0}"),
        missing: Some("no NPS answer in the last year"),
    },
    Def {
        name: "payment_failures_90d",
        group: Group::Billing,
        reads: &["payment_failures_90d"],
        get: |f, _| f.payment_failures_90d,
        says: |v| format!("{v:.0} failed payments in 90 days"),
        missing: None,
    },
    Def {
        name: "downgrades_180d",
        group: Group::Billing,
        reads: &["downgrades_180d"],
        get: |f, _| f.downgrades_180d,
        says: |v| format!("{v:.0} downgrades or seat reductions in 180 days"),
        missing: None,
    },
];

/// The columns after the one-hot ones (added later; kept after them so the columns of earlier bundles keep
/// their order), before the per-event columns.
pub const LATER: &[Def] = &[
    Def {
        name: "usage_quarter_trend",
        group: Group::Usage,
        reads: &["usage.source"],
        get: usage_quarter,
        says: |v| {
            change(
                v,
                "product usage over the last 90 days",
                "the 90 days before",
            )
        },
        missing: None,
    },
    Def {
        name: "active_users_quarter_trend",
        group: Group::ActiveUsers,
        reads: &["usage.source"],
        get: users_quarter,
        says: |v| {
            change(
                v,
                "daily active users over the last 90 days",
                "the 90 days before",
            )
        },
        missing: None,
    },
];

/// The declaration of a fixed column by name.
pub fn def(name: &str) -> Option<&'static Def> {
    FIXED.iter().chain(LATER).find(|d| d.name == name)
}

/// The [`AccountFeatures`] fields no column reads, each with the reason: the health score, signals, the
/// worklist or the labels read them, or a column reads the same fact another way.
pub const LEFT_OUT: &[(&str, &str)] = &[
    ("account_id", "an identifier"),
    ("as_of", "the snapshot's day, not a fact about the account"),
    ("owner", "who owns the account says nothing of its outcome; it routes the worklist"),
    ("segment", "a one-hot column per common segment (FeatureSpec)"),
    ("plan", "a one-hot column per common plan (FeatureSpec)"),
    ("arr", "in the account's own currency; the model reads `arr`, in the reporting currency"),
    ("arr_minor", "the same ARR in minor units"),
    ("churned", "churned accounts are not scored"),
    ("term_days", "the labels' windows and grace periods already follow the billing term; as a column it cost the 2,000-account book of seed 5 30 days of median warning (68 → 38.5) with no AUC gain (docs/prediction.md)"),
    ("peer_utilisation", "the segment's median, which `utilisation_vs_peers` compares the account with"),
    ("peer_expansion_share", "the segment's median expansion: the worklist's expansion potential, not an account's own trait"),
    ("expansion_share_365d", "feeds the segment's median expansion; as a column it is untried (a backtest must show it helps the expansion model first)"),
    ("usage.events_baseline_28d", "the baseline `usage_trend` divides by"),
    ("usage.peak_dau_28d", "a peak; the model reads the mean (`dau_28d`), `wau` and `mau`, which move with it"),
    ("usage.abandoned_names", "names for a signal's evidence; the count is `features_abandoned`"),
    ("usage.features_used", "names; the count is `features_used_28d`, and the book's commonest events have columns of their own"),
    ("usage.common_features", "the denominator of `breadth`"),
    ("usage.common_used", "the numerator of `breadth`"),
    ("usage.common_where", "where `breadth`'s common features come from, in words"),
    ("usage.days_since_first", "when usage was first seen; `tenure_days` carries the account's age"),
    ("usage.source_days", "how long the usage source has run; the health score's data check reads it"),
    ("usage.other_source", "a second usage source the figures are not read from; the health score's data check reads it"),
    ("usage.other_source_days", "how long that second source has run; the health score's data check reads it"),
];

/// Most per-event column pairs learned from a book.
pub const MAX_EVENTS: usize = 12;
/// Most one-hot values per categorical attribute.
pub const MAX_CATEGORIES: usize = 8;

/// The learned part of the column list, stored with a model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Segments with a column each.
    pub segments: Vec<String>,
    /// Plans with a column each.
    pub plans: Vec<String>,
    /// Event names with a trend and a recency column each.
    pub events: Vec<String>,
}

/// One column's description.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its reason group.
    pub group: Group,
}

impl FeatureSpec {
    /// Learns the categorical values and event names from training snapshots: the commonest of each.
    pub fn learn<'a>(
        features: impl IntoIterator<Item = (&'a AccountFeatures, Option<&'a str>)>,
        event_volume: &[(String, f64)],
    ) -> FeatureSpec {
        let mut seg = std::collections::HashMap::<String, usize>::new();
        let mut plan = std::collections::HashMap::<String, usize>::new();
        for (f, p) in features {
            if let Some(s) = &f.segment {
                *seg.entry(s.clone()).or_default() += 1;
            }
            if let Some(p) = p {
                *plan.entry(p.to_string()).or_default() += 1;
            }
        }
        let top = |m: std::collections::HashMap<String, usize>| {
            let mut v: Vec<_> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            v.into_iter()
                .take(MAX_CATEGORIES)
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        let mut ev = event_volume.to_vec();
        ev.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        FeatureSpec {
            segments: top(seg),
            plans: top(plan),
            events: ev.into_iter().take(MAX_EVENTS).map(|e| e.0).collect(),
        }
    }

    /// Every column, in order.
    pub fn columns(&self) -> Vec<Column> {
        let column = |d: &Def| Column {
            name: d.name.to_string(),
            group: d.group,
        };
        let mut out: Vec<Column> = FIXED.iter().map(column).collect();
        for s in &self.segments {
            out.push(Column {
                name: format!("segment={s}"),
                group: Group::Profile,
            });
        }
        for p in &self.plans {
            out.push(Column {
                name: format!("plan={p}"),
                group: Group::Profile,
            });
        }
        out.extend(LATER.iter().map(column));
        for e in &self.events {
            out.push(Column {
                name: format!("feature:{e}:trend"),
                group: Group::Adoption,
            });
            out.push(Column {
                name: format!("feature:{e}:days_since_used"),
                group: Group::Adoption,
            });
        }
        out
    }

    /// The column values of an account as of `f.as_of` (its plan that day is `f.plan`).
    pub fn vectorise(
        &self,
        f: &AccountFeatures,
        series: Option<&AccountSeries>,
        out: &mut Vec<f64>,
    ) {
        out.clear();
        let value = |d: &Def| (d.get)(f, series).unwrap_or(f64::NAN);
        out.extend(FIXED.iter().map(value));
        let one_hot = |v: Option<&str>, values: &[String], out: &mut Vec<f64>| {
            for k in values {
                out.push(match v {
                    Some(v) => f64::from(u8::from(v == k)),
                    None => f64::NAN,
                });
            }
        };
        one_hot(f.segment.as_deref(), &self.segments, out);
        one_hot(f.plan.as_deref(), &self.plans, out);
        out.extend(LATER.iter().map(value));
        let as_of = f.as_of;
        for e in &self.events {
            let s = series.and_then(|s| s.get(&format!("{EVENT_PREFIX}{e}")));
            let (trend, since) = match s {
                Some(s) => event_columns(s, as_of),
                None => (f64::NAN, f64::NAN),
            };
            out.push(trend);
            out.push(since);
        }
    }
}

/// A feature's trend (last 28 days against the 90 before, per 28 days) and days since its last use.
fn event_columns(s: &bellwether_core::series::Series, as_of: Day) -> (f64, f64) {
    let Some(first) = s.first_day().filter(|d| *d < as_of) else {
        return (f64::NAN, f64::NAN);
    };
    let recent = s.sum(as_of.plus(-28), as_of);
    let base_from = as_of.plus(-118).max(first);
    let base_days = (as_of.plus(-28).0 - base_from.0) as f64;
    let trend = if base_days >= 28.0 {
        let base = s.sum(base_from, as_of.plus(-28)) / base_days * 28.0;
        if base > 0.0 {
            recent / base - 1.0
        } else {
            f64::NAN
        }
    } else {
        f64::NAN
    };
    let since = s
        .last_active_before(as_of)
        .map_or(f64::NAN, |l| (as_of.0 - l.0) as f64);
    (trend, since)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaf paths of a JSON value (`usage.events_7d`).
    fn leaves(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(v, &path, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }

    #[test]
    fn every_feature_is_a_column_or_left_out_with_a_reason() {
        let mut fields = Vec::new();
        leaves(
            &serde_json::to_value(AccountFeatures::default()).unwrap(),
            "",
            &mut fields,
        );
        let read: std::collections::BTreeSet<&str> = FIXED
            .iter()
            .chain(LATER)
            .flat_map(|d| d.reads.iter().copied())
            .collect();
        for r in &read {
            assert!(
                fields.iter().any(|f| f == r),
                "a column reads `{r}`, which AccountFeatures does not have"
            );
        }
        let unaccounted: Vec<&String> = fields
            .iter()
            .filter(|f| !read.contains(f.as_str()) && !LEFT_OUT.iter().any(|(l, _)| l == f))
            .collect();
        assert!(
            unaccounted.is_empty(),
            "features neither read by a column nor listed in LEFT_OUT with a reason: {unaccounted:?}"
        );
        for (l, why) in LEFT_OUT {
            assert!(
                !read.contains(l),
                "`{l}` is read by a column and listed as left out"
            );
            assert!(!why.is_empty());
        }
    }

    #[test]
    fn every_column_name_is_declared_once_and_said_in_words() {
        let mut names: Vec<&str> = FIXED.iter().chain(LATER).map(|d| d.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a column is declared twice");
        // Every declared column has words of its own for a value and for its absence, never the generic
        // fallback an undeclared name gets.
        for d in FIXED.iter().chain(LATER) {
            let generic = (
                format!("{} 3.00", d.name.replace('_', " ")),
                format!("{} unknown", d.name.replace('_', " ")),
            );
            let said = crate::explain::describe(d.name, 3.0);
            assert!(
                !said.is_empty() && said != generic.0,
                "`{}`: {said}",
                d.name
            );
            let missing = crate::explain::describe(d.name, f64::NAN);
            assert!(!missing.contains("NaN"), "`{}`: {missing}", d.name);
            if d.missing.is_some() {
                assert_ne!(missing, generic.1, "`{}`", d.name);
            }
        }
        assert_eq!(
            crate::explain::describe("not_a_column", 3.0),
            "not a column 3.00"
        );
        assert_eq!(
            crate::explain::describe("days_to_renewal", f64::NAN),
            "renewal date unknown"
        );
    }
}
