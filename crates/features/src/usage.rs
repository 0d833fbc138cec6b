//! Usage features from the daily series: levels over 7/28/90 days, the trend of the last 28 days against the
//! account's own baseline (the 90 days before them), active users against seats, the features used and those
//! abandoned. Windows of 28 days hold four whole weeks, so weekends weigh the same in both.
//!
//! An account may have two usage sources, product events and imported daily metrics
//! ([`bellwether_core::series::UsageSource`]); they are never added together. The figures here come from the
//! one with the longer unbroken history ([`bellwether_core::series::primary_source`]), and say which. Breadth
//! against the features common where the account lives is set by [`crate::adoption`].

use bellwether_core::series::{
    choose_source, daily_active_users, source_series, AccountSeries, UsageSource,
    MONTHLY_ACTIVE_USERS, WEEKLY_ACTIVE_USERS,
};
use bellwether_core::Day;
use serde::Serialize;

/// Usage of one account as of a day. All `None` when the account has no series.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Events in the last 7 days.
    pub events_7d: Option<f64>,
    /// Events in the last 28 days.
    pub events_28d: Option<f64>,
    /// Events in the last 90 days.
    pub events_90d: Option<f64>,
    /// Events per 28 days over the baseline window (days 29–118 before).
    pub events_baseline_28d: Option<f64>,
    /// Change of the last 28 days against the baseline (−0.4 is a 40% fall); `None` without a baseline.
    pub trend: Option<f64>,
    /// Change of the last 28 days against the 28 days before them (month over month); `None` before an
    /// account has 56 days of usage or when the earlier 28 days had none.
    pub month_change: Option<f64>,
    /// Mean daily active users over the last 28 days.
    pub dau_28d: Option<f64>,
    /// Mean daily active users over the baseline window.
    pub dau_baseline: Option<f64>,
    /// Peak daily active users over the last 28 days.
    pub peak_dau_28d: Option<f64>,
    /// Distinct users in the last whole calendar month (monthly active users).
    pub mau: Option<f64>,
    /// Mean monthly active users of the three whole months before that.
    pub mau_baseline: Option<f64>,
    /// Distinct users in the last whole week.
    pub wau: Option<f64>,
    /// Seat utilisation: monthly active users divided by seats bought.
    pub utilisation: Option<f64>,
    /// Features (event names) used in the last 28 days.
    pub features_used_28d: Option<f64>,
    /// Share of the features common where the account lives (see [`crate::adoption`]) used in the last 28
    /// days; `None` when no feature is common there.
    pub breadth: Option<f64>,
    /// Features used in the baseline window but not in the last 28 days.
    pub features_abandoned: Option<f64>,
    /// Names of the abandoned features (at most five).
    pub abandoned_names: Vec<String>,
    /// Days since the last event.
    pub days_since_active: Option<i64>,
    /// Days since the first event.
    pub days_since_first: Option<i64>,
    /// The source these figures come from.
    pub source: Option<UsageSource>,
    /// Days of unbroken history of that source up to the day.
    pub source_days: Option<i64>,
    /// The account's other usage source, when it has one before the day (not used for these figures).
    pub other_source: Option<UsageSource>,
    /// Days of unbroken history of the other source up to the day.
    pub other_source_days: Option<i64>,
    /// Names of the features used in the last 28 days, sorted.
    pub features_used: Vec<String>,
    /// Features common where the account lives (the denominator of `breadth`).
    pub common_features: Option<f64>,
    /// Of those, the ones used in the last 28 days.
    pub common_used: Option<f64>,
    /// Where the common features were taken from, in words: `on the Pro plan`, `in the smb segment`, `in the
    /// book`.
    pub common_where: Option<String>,
}

impl Usage {
    /// Computes usage as of `as_of` (days before it only) from the account's primary source.
    pub fn compute(series: Option<&AccountSeries>, as_of: Day, seats: Option<i64>) -> Usage {
        let Some((s, choice)) = series.and_then(|s| Some((s, choose_source(s, as_of)?))) else {
            return Usage::default();
        };
        let source = choice.source;
        let (d7, d28, d118) = (as_of.plus(-7), as_of.plus(-28), as_of.plus(-118));
        let mut u = Usage::default();
        let (mut e7, mut e28, mut e90, mut base) = (0.0, 0.0, 0.0, 0.0);
        let mut prev28 = 0.0;
        let d56 = as_of.plus(-56);
        let (mut used, mut abandoned) = (0.0, 0.0);
        let mut last: Option<Day> = None;
        let mut first: Option<Day> = None;
        let mut names = Vec::new();
        for (event, ser) in source_series(s, source) {
            let recent = ser.sum(d28, as_of);
            let before = ser.sum(d118, d28);
            e7 += ser.sum(d7, as_of);
            e28 += recent;
            e90 += ser.sum(as_of.plus(-90), as_of);
            prev28 += ser.sum(d56, d28);
            base += before;
            if recent > 0.0 {
                used += 1.0;
                names.push(event.to_string());
            } else if before > 0.0 {
                abandoned += 1.0;
                if u.abandoned_names.len() < 5 {
                    u.abandoned_names.push(event.to_string());
                }
            }
            if let Some(l) = ser.last_active_before(as_of) {
                last = Some(last.map_or(l, |x| x.max(l)));
            }
            if let Some(f) = ser.first_day().filter(|f| *f < as_of) {
                first = Some(first.map_or(f, |x| x.min(f)));
            }
        }
        let Some(first) = first else { return u };
        u.source = Some(source);
        u.source_days = choice.days.map(i64::from);
        u.other_source = choice.other.map(|o| o.0);
        u.other_source_days = choice.other.map(|o| i64::from(o.1));
        u.features_used = names;
        u.events_7d = Some(e7);
        u.events_28d = Some(e28);
        u.events_90d = Some(e90);
        if first <= d56 && prev28 > 0.0 {
            u.month_change = Some(e28 / prev28 - 1.0);
        }
        // The baseline only counts the part of its window after the first event.
        let base_days = (d28.0 - d118.0.max(first.0)).max(0) as f64;
        if base_days >= 28.0 {
            u.events_baseline_28d = Some(base / base_days * 28.0);
            u.trend = u
                .events_baseline_28d
                .filter(|b| *b > 0.0)
                .map(|b| e28 / b - 1.0);
        }
        if let Some(a) = daily_active_users(s, source) {
            let recent = a.range(d28, as_of);
            u.dau_28d = Some(a.sum(d28, as_of) / 28.0);
            u.peak_dau_28d = Some(recent.iter().map(|p| p.1).fold(0.0, f64::max));
            if base_days >= 28.0 {
                u.dau_baseline = Some(a.sum(d118.max(first), d28) / base_days);
            }
        }
        // Whole periods only: a month or week is dated by its last day, so those before `as_of` are complete.
        if let Some(m) = s.get(MONTHLY_ACTIVE_USERS) {
            let months = m.range(as_of.plus(-130), as_of);
            if let Some((&(last_day, last), before)) = months.split_last() {
                // A month with no activity has no point; count it as zero only when it lies in the window.
                u.mau = Some(if last_day.0 >= as_of.0 - 31 {
                    last
                } else {
                    0.0
                });
                let prior: Vec<f64> = before.iter().rev().take(3).map(|p| p.1).collect();
                u.mau_baseline = (!prior.is_empty())
                    .then(|| prior.iter().sum::<f64>() / 3.0_f64.min(prior.len() as f64).max(1.0));
            }
        }
        u.wau = s
            .get(WEEKLY_ACTIVE_USERS)
            .map(|w| w.range(as_of.plus(-7), as_of).iter().map(|p| p.1).sum());
        u.utilisation = match (u.mau, seats) {
            (Some(m), Some(s)) if s > 0 => Some(m / s as f64),
            _ => None,
        };
        u.features_used_28d = Some(used);
        u.features_abandoned = Some(abandoned);
        u.days_since_active = last.map(|l| (as_of.0 - l.0) as i64);
        u.days_since_first = Some((as_of.0 - first.0) as i64);
        u
    }
}
