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

type Getter = fn(&AccountFeatures) -> Option<f64>;

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b - 1.0),
        _ => None,
    }
}

fn flag(b: Option<bool>) -> Option<f64> {
    b.map(|b| if b { 1.0 } else { 0.0 })
}

/// The fixed columns: name, group, getter.
pub const FIXED: &[(&str, Group, Getter)] = &[
    ("arr", Group::Contract, |f| {
        f.arr_reporting.map(|m| m.major())
    }),
    ("seats", Group::Seats, |f| f.seats.map(|s| s as f64)),
    ("tenure_days", Group::Contract, |f| {
        f.tenure_days.map(|d| d as f64)
    }),
    ("days_to_renewal", Group::Contract, |f| {
        f.days_to_renewal.map(|d| d as f64)
    }),
    ("events_7d", Group::Usage, |f| f.usage.events_7d),
    ("events_28d", Group::Usage, |f| f.usage.events_28d),
    ("events_90d", Group::Usage, |f| f.usage.events_90d),
    ("usage_trend", Group::Usage, |f| f.usage.trend),
    ("usage_month_change", Group::Usage, |f| f.usage.month_change),
    ("events_per_seat", Group::Usage, events_per_seat),
    ("usage_per_seat_vs_peers", Group::Usage, |f| {
        f.usage_per_seat_vs_peers
    }),
    ("days_since_active", Group::Usage, |f| {
        f.usage.days_since_active.map(|d| d as f64)
    }),
    ("dau_28d", Group::ActiveUsers, |f| f.usage.dau_28d),
    ("dau_trend", Group::ActiveUsers, |f| {
        ratio(f.usage.dau_28d, f.usage.dau_baseline)
    }),
    ("mau", Group::ActiveUsers, |f| f.usage.mau),
    ("mau_trend", Group::ActiveUsers, |f| {
        ratio(f.usage.mau, f.usage.mau_baseline)
    }),
    ("wau", Group::ActiveUsers, |f| f.usage.wau),
    ("stickiness", Group::ActiveUsers, |f| {
        match (f.usage.dau_28d, f.usage.mau) {
            (Some(d), Some(m)) if m > 0.0 => Some(d / m),
            _ => None,
        }
    }),
    ("features_used_28d", Group::Adoption, |f| {
        f.usage.features_used_28d
    }),
    ("breadth", Group::Adoption, |f| f.usage.breadth),
    ("features_abandoned", Group::Adoption, |f| {
        f.usage.features_abandoned
    }),
    ("utilisation", Group::Seats, |f| f.usage.utilisation),
    ("utilisation_vs_peers", Group::Seats, |f| {
        f.utilisation_vs_peers
    }),
    ("tickets_28d", Group::Support, |f| f.tickets_28d),
    ("ticket_trend", Group::Support, |f| {
        ratio(f.tickets_28d, f.tickets_baseline_28d)
    }),
    ("open_high_priority", Group::Support, |f| {
        f.open_high_priority
    }),
    ("sla_breaches_90d", Group::Support, |f| f.sla_breaches_90d),
    ("escalations_90d", Group::Support, |f| f.escalations_90d),
    ("csat_90d", Group::Support, |f| f.csat_90d),
    ("sentiment_45d", Group::Sentiment, |f| f.sentiment_45d),
    ("sentiment_change", Group::Sentiment, |f| {
        match (f.sentiment_45d, f.sentiment_baseline) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        }
    }),
    ("has_champion", Group::Stakeholders, |f| {
        flag(f.has_champion)
    }),
    ("has_sponsor", Group::Stakeholders, |f| flag(f.has_sponsor)),
    ("key_contact_left_days", Group::Stakeholders, |f| {
        f.key_contact_left_days.map(|d| d as f64)
    }),
    ("days_since_meeting", Group::Engagement, |f| {
        f.days_since_meeting.map(|d| d as f64)
    }),
    ("qbr_missed_180d", Group::Engagement, |f| f.qbr_missed_180d),
    ("qbr_accepted_180d", Group::Engagement, |f| {
        f.qbr_accepted_180d
    }),
    ("nps", Group::Nps, |f| f.nps_latest),
    ("payment_failures_90d", Group::Billing, |f| {
        f.payment_failures_90d
    }),
    ("downgrades_180d", Group::Billing, |f| f.downgrades_180d),
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
        let mut out: Vec<Column> = FIXED
            .iter()
            .map(|(n, g, _)| Column {
                name: n.to_string(),
                group: *g,
            })
            .collect();
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
        out.push(Column {
            name: "usage_quarter_trend".into(),
            group: Group::Usage,
        });
        out.push(Column {
            name: "active_users_quarter_trend".into(),
            group: Group::ActiveUsers,
        });
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

    /// The column values of an account as of `f.as_of`.
    pub fn vectorise(
        &self,
        f: &AccountFeatures,
        plan: Option<&str>,
        series: Option<&AccountSeries>,
        out: &mut Vec<f64>,
    ) {
        out.clear();
        out.extend(FIXED.iter().map(|(_, _, get)| get(f).unwrap_or(f64::NAN)));
        let one_hot = |v: Option<&str>, values: &[String], out: &mut Vec<f64>| {
            for k in values {
                out.push(match v {
                    Some(v) => f64::from(u8::from(v == k)),
                    None => f64::NAN,
                });
            }
        };
        one_hot(f.segment.as_deref(), &self.segments, out);
        one_hot(plan, &self.plans, out);
        let as_of = f.as_of;
        // Slow declines: the last 90 days against the 90 before them, for all usage and for active users.
        let quarter = |parts: &[&bellwether_core::series::Series]| {
            let first = parts.iter().filter_map(|s| s.first_day()).min();
            if first.is_none_or(|d| d > as_of.plus(-180)) {
                return f64::NAN;
            }
            let recent: f64 = parts.iter().map(|s| s.sum(as_of.plus(-90), as_of)).sum();
            let prior: f64 = parts
                .iter()
                .map(|s| s.sum(as_of.plus(-180), as_of.plus(-90)))
                .sum();
            if prior > 0.0 {
                recent / prior - 1.0
            } else {
                f64::NAN
            }
        };
        // The same usage source the account's features were read from.
        let source = series.zip(f.usage.source);
        let usage: Vec<&bellwether_core::series::Series> = source
            .map(|(s, src)| {
                bellwether_core::series::source_series(s, src)
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default();
        out.push(quarter(&usage));
        let users: Vec<_> = source
            .and_then(|(s, src)| bellwether_core::series::daily_active_users(s, src))
            .into_iter()
            .collect();
        out.push(quarter(&users));
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
